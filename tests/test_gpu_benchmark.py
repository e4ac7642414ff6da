"""benchmarks/gpu.py: ``--plan`` runs without a GPU and builds every published shape on the meta device; the whole
harness (models written, rows, the three contenders, LoRA / QLoRA / full, the correctness checks, MFU, the report)
runs end to end on tiny shapes on a CPU. Speed targets are the GPU run's business, never a test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_plan_builds_every_model_on_the_meta_device():
    proc = subprocess.run([sys.executable, "benchmarks/gpu.py", "--plan"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # parameter counts of the published shapes, from the module trees
    for model, params in (("smollm2-135m", "0.135B"), ("qwen2.5-1.5b", "1.544B"), ("llama-3.1-8b", "8.030B")):
        assert f"| {model} |" in out and params in out, model
    from benchmarks.gpu import PLAN

    for planned in PLAN:
        assert f"| {planned.name} |" in out
    assert "Estimated total:" in out and "FLOP convention:" in out
    assert "llama-3.1-8b/lora/sft_recipes tokens_per_s >= 8,700" in out


def test_published_shapes_are_kept_in_the_repo():
    from benchmarks.gpu_data import MODELS_DIR, MODEL_NAMES, model_config

    for name in MODEL_NAMES:
        raw = json.loads((MODELS_DIR / f"{name}.json").read_text())
        assert raw["_source"].split()[0] in {"HuggingFaceTB/SmolLM2-135M", "Qwen/Qwen2.5-1.5B",
                                              "meta-llama/Llama-3.1-8B"}
    llama = model_config("llama-3.1-8b")
    assert (llama.hidden_size, llama.intermediate_size, llama.num_hidden_layers, llama.num_key_value_heads,
            llama.vocab_size) == (4096, 14336, 32, 8, 128256)


def test_synthetic_rows_have_a_long_tailed_length_mix():
    from benchmarks.gpu_data import profile, row_lengths, synthetic_rows

    p = profile(row_lengths(4000, 4096, seed=0))
    assert 400 <= p["median"] <= 500 and p["p90"] > 1200 and p["max"] <= 4096
    rows = synthetic_rows(5, 1000, 512, seed=1)
    for r in rows:
        assert len(r["input_ids"]) == len(r["labels"]) and r["labels"][0] == -100 and r["labels"][-1] == 1


@pytest.fixture(scope="module")
def tiny_gpu_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-results")
    proc = subprocess.run([sys.executable, "benchmarks/gpu.py", "--tiny", "--in-process", "--peak-tflops", "1",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(next(out.glob("*-gpu-tiny.json")).read_text()), next(out.glob("*-gpu-tiny.md")).read_text()


def test_every_run_reports_speed_mfu_and_settings(tiny_gpu_run):
    from benchmarks.gpu import PLAN

    result, md = tiny_gpu_run
    assert set(result["runs"]) == {p.name for p in PLAN}
    for name, run in result["runs"].items():
        assert run["tokens_per_s"] > 0 and run["steps"] == 2, name
        assert 0 < run["mfu"] and run["mfu_4n"] > 0 and run["flops_per_token"] > 0, name
        assert f"| {name} |" in md
    runs = result["runs"]
    assert runs["llama-3.1-8b/lora/trl_best"]["settings"]["packing"] is True
    assert runs["llama-3.1-8b/lora/trl_defaults"]["settings"]["activation_checkpointing"] is True
    assert runs["llama-3.1-8b/qlora/sft_recipes"]["settings"]["activation_checkpointing"] == "every layer"
    assert runs["llama-3.1-8b/lora/sft_recipes"]["settings"]["activation_checkpointing"].startswith("per batch")


def test_checks_pass_on_the_cpu(tiny_gpu_run):
    result, md = tiny_gpu_run
    checks = result["checks"]
    assert checks["passed"], checks
    assert checks["packed_vs_padded"]["relative_difference"] < 1e-5  # fp32 on a CPU: per-row attention, exact
    assert checks["qlora_trains"]["linear4bit_layers"] > 0
    assert checks["qlora_trains"]["last_loss"] < checks["qlora_trains"]["first_loss"]
    assert checks["merge_bf16"]["lora_or_4bit_layers_left"] is False
    assert "## Checks" in md and "FAILED" not in md
