"""Recipe values are checked when the recipe is loaded, before any data is read or any model is loaded: each bad
value is one line that names the key, the value and what is allowed."""

from __future__ import annotations

import pytest
import yaml

from sft_recipes.cli import main as cli_main
from sft_recipes.recipe import RecipeError, load_recipe


def write(tmp_path, data, name="r.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data) if isinstance(data, dict) else data)
    return p


@pytest.mark.parametrize(
    "data, message",
    [
        ({"use_peft": True, "lora_r": 0}, "lora_r must be >= 1, got 0"),
        ({"use_peft": True, "lora_alpha": -16}, "lora_alpha must be > 0, got -16"),
        ({"use_peft": True, "lora_dropout": 1.5}, "lora_dropout must be in [0, 1), got 1.5"),
        ({"max_steps": -5}, "max_steps must be a positive number of steps, or -1 to train num_train_epochs; got -5"),
        ({"max_steps": 0}, "max_steps must be a positive number of steps, or -1 to train num_train_epochs; got 0"),
        ({"num_train_epochs": 0}, "num_train_epochs must be > 0 (or set max_steps), got 0"),
        ({"learning_rate": -1e-4}, "learning_rate must be > 0, got -0.0001"),
        ({"per_device_train_batch_size": 0}, "per_device_train_batch_size must be >= 1, got 0"),
        ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps must be >= 1, got 0"),
        ({"max_length": 0}, "max_length must be >= 1 (or null for no limit), got 0"),
        ({"save_steps": 0}, "save_steps must be > 0, got 0"),
        ({"save_total_limit": 0}, "save_total_limit must be >= 1 (or null to keep every checkpoint), got 0"),
        ({"validation_size": 0.6, "test_size": 0.5}, "validation_size + test_size must leave rows for training"),
        ({"validation_size": 1.2}, "validation_size must be a fraction in [0, 1) or a whole number of rows, got 1.2"),
        ({"test_size": -0.1}, "test_size must be a fraction in [0, 1), got -0.1"),
        ({"min_response_tokens": -1}, "min_response_tokens must be >= 0, got -1"),
        ({"eval_do_sample": True, "eval_temperature": 0}, "eval_temperature must be > 0 when eval_do_sample is on"),
        ({"datasets": [{"path": "a.jsonl", "max_samples": 0}]}, "max_samples must be >= 1, got 0"),
        ({"train_on": "everything"}, "train_on: unknown value 'everything' (valid: assistant, all, last_assistant)"),
        ({"train_on": "assistants"}, "(did you mean 'assistant'? valid: assistant, all, last_assistant)"),
        ({"length_policy": "cut"}, "length_policy: unknown value 'cut' (valid: drop, truncate, error)"),
        ({"datasets": [{"path": "a.jsonl", "format": "csv"}]},
         "dataset 'a.jsonl': unknown format 'csv' "
         "(valid: auto, alpaca, sharegpt, messages, prompt_completion, text, court_opinions)"),
        ({"bnb_4bit_quant_type": "nf5"},
         "bnb_4bit_quant_type: unknown value 'nf5' (did you mean 'nf4'? valid: fp4, nf4)"),
        ({"lr_scheduler_type": "constnt"}, "did you mean 'constant'?"),
    ],
)
def test_bad_values_fail_at_load_with_one_line(tmp_path, data, message):
    with pytest.raises(RecipeError) as e:
        load_recipe(write(tmp_path, data))
    assert message in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_lora_r_zero_fails_before_any_data_or_model_work(tmp_path, capsys):
    """The CLI refuses at once: no prepared data, no output directory, one line, exit code 1."""
    recipe = write(tmp_path, {"use_peft": True, "lora_r": 0, "output_dir": str(tmp_path / "run"),
                              "datasets": [{"path": str(tmp_path / "missing.jsonl")}]})
    assert cli_main(["train", "--config", str(recipe)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: lora_r must be >= 1, got 0", err
    assert not (tmp_path / "run").exists()


def test_empty_recipe_is_refused(tmp_path):
    for text in ("", "# only a comment\n"):
        with pytest.raises(RecipeError) as e:
            load_recipe(write(tmp_path, text, "empty.yaml"))
        assert "empty.yaml is empty" in str(e.value) and "leave out --config" in str(e.value)


def test_directory_as_config_names_the_recipes_inside(tmp_path, capsys):
    (tmp_path / "recipes").mkdir()
    write(tmp_path / "recipes", {"lora_r": 8}, "a.yaml")
    write(tmp_path / "recipes", {"lora_r": 8}, "b.yml")
    assert cli_main(["train", "--config", str(tmp_path / "recipes")]) == 1
    err = capsys.readouterr().err.strip()
    assert "is a directory, not a recipe file" in err and "a.yaml" in err and "b.yml" in err, err
    assert "not found" not in err and len(err.splitlines()) == 1
