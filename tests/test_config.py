import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sft_recipes.recipe import RecipeError, load_recipe

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, data, name="r.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data) if isinstance(data, dict) else data)
    return p


def test_yaml_maps_onto_trl_dataclasses(tmp_path):
    from trl import ModelConfig, SFTConfig

    p = write(tmp_path, {"model_name_or_path": "x/y", "lora_r": 8, "use_peft": True, "learning_rate": "1e-4",
                         "max_length": 256, "train_on": "last_assistant", "eval_max_new_tokens": 32})
    r = load_recipe(p)
    assert isinstance(r.model, ModelConfig) and isinstance(r.training, SFTConfig)
    assert (r.model.lora_r, r.model.use_peft, r.training.learning_rate) == (8, True, 1e-4)
    assert r.training.max_length == 256 and r.data.train_on == "last_assistant" and r.eval.eval_max_new_tokens == 32
    assert r.training.output_dir == "runs/r"


def test_cli_overrides_win(tmp_path):
    p = write(tmp_path, {"lora_r": 8, "learning_rate": 1e-4})
    r = load_recipe(p, ["--lora_r", "32", "--learning_rate=5e-5", "--use_peft"])
    assert r.model.lora_r == 32 and r.training.learning_rate == 5e-5 and r.model.use_peft is True


@pytest.mark.parametrize(
    "data, message",
    [
        ({"lora_rank": 8}, "unknown recipe key 'lora_rank' (did you mean 'lora_r'?)"),
        ({"learnig_rate": 1e-4}, "did you mean 'learning_rate'?"),
        ({"lora_r": "eight"}, "recipe key 'lora_r': invalid int value: 'eight'"),
        ({"use_peft": "maybe"}, "recipe key 'use_peft': Truthy value expected: got maybe"),
        ({"dedupe": "maybe"}, "recipe key 'dedupe' expects bool, got str 'maybe'"),
        ({"train_on": "assistants"}, "train_on: unknown value 'assistants' (did you mean 'assistant'? valid: assistant, all, last_assistant)"),
        ({"datasets": [{"path": "a.json", "fromat": "alpaca"}]}, "did you mean 'format'?"),
        ({"datasets": [{"path": "a.json", "format": "alpacca"}]}, "did you mean 'alpaca'?"),
        ({"validation_size": 0.6, "test_size": 0.5}, "must leave rows for training"),
    ],
)
def test_bad_recipes_fail_with_one_line(tmp_path, data, message):
    with pytest.raises(RecipeError) as e:
        load_recipe(write(tmp_path, data))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")
    with pytest.raises(RecipeError, match=r"not valid YAML at .*r.yaml:2"):
        load_recipe(write(tmp_path, "lora_r: 8\n  use_peft: true\n"))


def test_cpu_precision_default(tmp_path):
    import torch

    r = load_recipe(None)
    if not torch.cuda.is_available():
        # TRL's bf16=True default fails on a CPU machine: fp32 instead, and a CPU state that knows about ranks
        assert r.training.bf16 is False and r.training.fp16 is False and r.training.use_cpu is True
        assert load_recipe(None, ["--bf16", "true"]).training.bf16 is True  # asked for: bf16 autocast on CPU
    # activation checkpointing left unset is decided per batch when training (checkpointing_policy.py); set, it stays
    assert r.activation_checkpointing_auto is True
    for flag in ("--activation_checkpointing", "--gradient_checkpointing"):
        for value in ("true", "false"):
            forced = load_recipe(None, [flag, value])
            assert forced.activation_checkpointing_auto is False
            assert forced.training.activation_checkpointing is (value == "true")


def test_shipped_recipes_parse():
    paths = sorted((ROOT / "recipes").rglob("*.yaml"))
    assert len(paths) >= 6
    for p in paths:
        load_recipe(p)


def test_cli_prints_one_line_for_unknown_key(tmp_path):
    p = write(tmp_path, {"lora_rank": 8})
    proc = subprocess.run([sys.executable, "-m", "sft_recipes.cli", "train", "--config", str(p)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "error: unknown recipe key 'lora_rank' (did you mean 'lora_r'?)"


def test_every_problem_of_a_recipe_at_once(tmp_path):
    """One run shows every mistake of the file, one line each, instead of one error per 10-40 s attempt."""
    data = {"lora_rank": 8, "lora_r": "eight", "train_on": "everything", "save_strategy": "sometimes", "lr": 1}
    with pytest.raises(RecipeError) as e:
        load_recipe(write(tmp_path, data))
    lines = str(e.value).splitlines()
    assert len(lines) == 5
    assert any("'lora_rank'" in x for x in lines) and any("train_on: unknown value" in x for x in lines)


def test_yaml_no_means_the_string_for_string_fields(tmp_path):
    r = load_recipe(write(tmp_path, "eval_strategy: no\nsave_strategy: no\n"), ["--logging_strategy", "no"])
    assert (str(r.training.eval_strategy.value), str(r.training.save_strategy.value)) == ("no", "no")
    assert str(r.training.logging_strategy.value) == "no"


def test_bf16_auto_follows_the_hardware(monkeypatch, capsys):
    import torch

    from sft_recipes.recipe import hardware

    for native in (True, False):
        monkeypatch.setattr(hardware, "native_bf16", lambda native=native: native)
        capsys.readouterr()
        assert load_recipe(None, ["--bf16", "auto"]).training.bf16 is native
        assert load_recipe(None, bf16="auto").training.bf16 is native
        said = capsys.readouterr().err
        if torch.cuda.is_available():
            continue
        # the fp32 fallback on a CPU is said once per load, in one line; bf16 hardware needs no word
        assert said.count("no bf16 matrix units") == (0 if native else 2)
        assert load_recipe(None, ["--bf16", "false"]).training.bf16 is False
        assert "bf16 matrix units" not in capsys.readouterr().err  # asked for fp32: nothing to explain
    monkeypatch.undo()
    cpuinfo = Path("/proc/cpuinfo")
    if not torch.cuda.is_available() and cpuinfo.is_file():
        flags = set(cpuinfo.read_text().split())
        assert hardware.native_bf16() is bool({"avx512_bf16", "amx_bf16"} & flags)


def test_cpu_lora_in_bf16_keeps_its_frozen_base_in_bf16():
    """LoRA in bf16 autocast on a CPU loads the base in bf16 (autocast would cast every fp32 weight in every
    forward); full fine-tuning, fp32 training, a quantized base and an explicit dtype are left alone."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CPU default (gpu_defaults.py covers CUDA)")
    lora = ["--use_peft", "true", "--bf16", "true"]
    assert load_recipe(None, lora).model.dtype == "bfloat16"
    assert load_recipe(None, lora + ["--dtype", "float32"]).model.dtype == "float32"
    assert load_recipe(None, ["--use_peft", "true", "--bf16", "false"]).model.dtype != "bfloat16"
    assert load_recipe(None, ["--bf16", "true"]).model.dtype != "bfloat16"
    assert load_recipe(None, lora + ["--load_in_4bit", "true"]).model.dtype != "bfloat16"


@pytest.mark.parametrize("overrides", [[], ["--use_peft", "false", "--per_device_train_batch_size", "1"]])
def test_a_runs_saved_recipe_loads_back_to_the_same_recipe(tmp_path, overrides):
    """recipe.yaml in a run directory is the resolved recipe; `--config <run>/recipe.yaml` must run it again (it
    holds TRL's list fields as `[]`, which the command line cannot spell)."""
    recipe = load_recipe(ROOT / "recipes" / "quickstart.yaml", overrides)
    saved = tmp_path / "recipe.yaml"
    saved.write_text(recipe.to_yaml())  # as train/run.py saves it
    assert "include_for_metrics: []" in saved.read_text()
    assert load_recipe(saved).to_dict() == recipe.to_dict()
