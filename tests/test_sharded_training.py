"""Sharded training on CPU processes, as far as a CPU allows (sft_recipes/train/cpu_launch.py).

DeepSpeed ZeRO-2 and ZeRO-3 (accelerate_configs/deepspeed_zero*.yaml) run on 2 CPU processes over gloo with
DeepSpeed's CPU accelerator: a LoRA and a full fine-tune train a few steps, save an adapter / a model that loads,
and log the losses of the single-process run on the same global batch. FSDP cannot run on CPU processes through
accelerate (it enables FSDP for GPU-like devices only): a run launched with accelerate_configs/fsdp2.yaml on a
machine without a GPU stops with one line instead of training unsynchronised copies."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from test_multiprocess import free_port, numbers_file

ROOT = Path(__file__).resolve().parents[1]
STEPS, GLOBAL_BATCH = 3, 4
needs_deepspeed = pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                                     reason="deepspeed is not installed (pip install 'sft-recipes[deepspeed]')")


def _recipe_args(model_dir: Path, data: Path, run: Path, method: str, per_device: int) -> list[str]:
    args = ["--model_name_or_path", str(model_dir), "--output_dir", str(run), "--validation_size", "0",
            "--test_size", "0", "--per_device_train_batch_size", str(per_device), "--max_steps", str(STEPS),
            "--learning_rate", "1e-2", "--logging_steps", "1", "--disable_tqdm", "true", "--save_strategy", "no",
            "--train_sampling_strategy", "sequential", "--seed", "7",
            "--datasets", json.dumps([{"path": str(data), "format": "alpaca"}])]
    return args + (["--use_peft", "--lora_r", "4", "--lora_dropout", "0"] if method == "lora" else [])


def _run(cmd: list[str], probe: Path) -> subprocess.CompletedProcess:
    probe.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-4000:]
    return proc


def _losses(run: Path) -> list[float]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


@pytest.fixture(scope="module")
def single_process_runs(tiny_model_dir, tmp_path_factory):
    """The reference: one process, the whole global batch per step."""
    base = tmp_path_factory.mktemp("single")
    data = numbers_file(base, 16)
    out = {}
    for method in ("lora", "full"):
        run = base / method
        _run([sys.executable, str(ROOT / "tests" / "mp_probe.py"), str(base / f"probe-{method}"),
              *_recipe_args(tiny_model_dir, data, run, method, GLOBAL_BATCH)], base / f"probe-{method}")
        out[method] = run
    return data, out


def _load(run: Path, method: str, base_dir: Path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    if method == "full":
        return AutoModelForCausalLM.from_pretrained(run, dtype=torch.float32).eval()
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    return PeftModel.from_pretrained(base, run).eval()


@needs_deepspeed
@pytest.mark.multiprocess
@pytest.mark.parametrize("config, method", [("deepspeed_zero2", "lora"), ("deepspeed_zero3", "lora"),
                                            ("deepspeed_zero3", "full")])
def test_deepspeed_on_two_cpu_processes_matches_one(tiny_model_dir, single_process_runs, tmp_path, config, method):
    data, reference = single_process_runs
    run, probe = tmp_path / "run", tmp_path / "probe"
    cmd = [str(Path(sys.executable).with_name("accelerate")), "launch", "--config_file",
           str(ROOT / "accelerate_configs" / f"{config}.yaml"), "--num_processes", "2", "--mixed_precision", "no",
           "--main_process_port", str(free_port()), str(ROOT / "tests" / "mp_probe.py"), str(probe),
           *_recipe_args(tiny_model_dir, data, run, method, GLOBAL_BATCH // 2)]
    _run(cmd, probe)
    ranks = [json.loads((probe / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2] and [r["global_step"] for r in ranks] == [STEPS, STEPS]
    # the same global batch: the same losses step by step as one process
    assert _losses(run) == pytest.approx(_losses(reference[method]), rel=1e-4)
    # what the sharded run saved loads, and is the model the single process trained
    probe_ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        ours = _load(run, method, tiny_model_dir)(input_ids=probe_ids).logits
        theirs = _load(reference[method], method, tiny_model_dir)(input_ids=probe_ids).logits
    torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=1e-4)


@pytest.mark.multiprocess
def test_fsdp_on_cpu_processes_stops_with_one_line(tiny_model_dir, tmp_path):
    data = numbers_file(tmp_path, 8)
    cmd = [str(Path(sys.executable).with_name("accelerate")), "launch", "--config_file",
           str(ROOT / "accelerate_configs" / "fsdp2.yaml"), "--num_processes", "2", "--mixed_precision", "no",
           "--main_process_port", str(free_port()), str(ROOT / "scripts" / "sft.py"),
           *_recipe_args(tiny_model_dir, data, tmp_path / "run", "lora", 2)]
    if torch.cuda.is_available():
        pytest.skip("a GPU machine runs FSDP")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert proc.returncode != 0
    assert "error: FSDP needs GPUs" in proc.stderr and "LaunchError" not in proc.stderr  # one line, no traceback
    assert not (tmp_path / "run" / "adapter_model.safetensors").exists()
