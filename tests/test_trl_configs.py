"""Configs written for ``trl sft`` and the alignment-handbook run as they are (tests/fixtures/configs/, each as
published, source and commit in its first line).

Each fixture loads unchanged and trains 2 steps with only these overridden: the model (the tiny model fixture), the
dataset (a local file in the config's data shape, given under the config's own dataset key), the precision
(``bf16: false``, ``torch_dtype: float32``), and, to keep it cheap: ``max_steps: 2``, ``max_length: 128`` (384 for SmolLM3, whose template's system header alone is ~270 tokens) and an
``output_dir`` under tmp_path (the configs write to ``data/...`` relative to the working directory).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from sft_recipes.recipe import RecipeError, load_recipe
from sft_recipes.train import train

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
ZEPHYR_TEMPLATE = yaml.safe_load((CONFIGS / "handbook_zephyr_7b_beta_sft_full.yaml").read_text())["chat_template"]

QUESTIONS = [("What colour is the sky?", "Blue."), ("How many legs has a spider?", "Eight."),
             ("What is the capital of France?", "Paris."), ("What do bees make?", "Honey."),
             ("What is frozen water called?", "Ice."), ("Which planet is red?", "Mars."),
             ("What is two plus two?", "Four."), ("Which animal barks?", "A dog.")]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _chat(q: str, a: str) -> list[dict]:
    return [{"role": "user", "content": q}, {"role": "assistant", "content": a}]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """One local file per data shape the configs read: imdb (text, label), ultrachat_200k (prompt, prompt_id,
    messages), smoltalk (messages, source), smoltalk2 (messages, chat_template_kwargs)."""
    d = tmp_path_factory.mktemp("trl-data")
    return {
        "imdb": _write(d / "imdb.jsonl", [{"text": f"A film review number {i}: {q} {a}", "label": i % 2}
                                          for i, (q, a) in enumerate(QUESTIONS)]),
        "ultrachat": _write(d / "ultrachat.jsonl", [{"prompt": q, "prompt_id": f"p{i}", "messages": _chat(q, a)}
                                                    for i, (q, a) in enumerate(QUESTIONS)]),
        "smoltalk": _write(d / "smoltalk.jsonl", [{"messages": _chat(q, a), "source": "everyday"}
                                                  for q, a in QUESTIONS]),
        "smoltalk2": _write(d / "smoltalk2.jsonl", [{"messages": _chat(q, a),
                                                     "chat_template_kwargs": {"enable_thinking": False}}
                                                    for q, a in QUESTIONS]),
    }


def _mixture_with(config: Path, file: Path) -> dict:
    """The config's own dataset_mixture, every ``id`` pointing at the local file."""
    mixture = yaml.safe_load(config.read_text())["dataset_mixture"]
    return {**mixture, "datasets": [{**entry, "id": str(file)} for entry in mixture["datasets"]]}


def _overrides(tiny_model_dir, out, max_length: int = 128) -> list[str]:
    return ["--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out), "--bf16", "false",
            "--torch_dtype", "float32", "--max_steps", "2", "--max_length", str(max_length), "--disable_tqdm", "true"]


# config -> (the config's dataset key, the data shape it reads)
CASES = {
    "trl_example_config.yaml": ("dataset_name", "imdb"),
    "handbook_smollm2_sft.yaml": ("dataset_name", "smoltalk"),
    "handbook_zephyr_7b_beta_sft_full.yaml": ("dataset_mixture", "ultrachat"),
    "handbook_zephyr_7b_beta_sft_qlora.yaml": ("dataset_mixture", "ultrachat"),
    "handbook_smollm3_sft.yaml": ("dataset_mixture", "smoltalk2"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_config_trains_two_steps(name, data, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    config = CONFIGS / name
    key, shape = CASES[name]
    dataset = str(data[shape]) if key == "dataset_name" else _mixture_with(config, data[shape])
    # SmolLM3's template writes a ~270-token system header into every row
    max_length = 384 if "smollm3" in name else 128
    recipe = load_recipe(config, _overrides(tiny_model_dir, tmp_path / "run", max_length), **{key: dataset})
    published = yaml.safe_load(config.read_text())
    if "chat_template" in published:
        assert recipe.data.chat_template == published["chat_template"]
    result = train(recipe)
    assert result.global_step == 2
    assert math.isfinite(result.train_loss)
    assert recipe.training.push_to_hub is False  # pushed by `sft-recipes export`, not by the trainer


def test_handbook_mixture_becomes_dataset_entries(data, tiny_model_dir, tmp_path, capsys):
    config = CONFIGS / "handbook_smollm3_sft.yaml"
    recipe = load_recipe(config, _overrides(tiny_model_dir, tmp_path),
                         dataset_mixture=_mixture_with(config, data["smoltalk2"]))
    assert capsys.readouterr().err.count("per-row template variables are not applied") == 1
    specs = recipe.data.dataset_specs
    assert len(specs) == 25
    assert specs[0].name == "SFT" and specs[0].split == "smoltalk_smollm3_everyday_conversations_no_think"
    assert specs[0].keep_columns == ["messages", "chat_template_kwargs"]
    assert [s.weight for s in specs[4:9]] == [0.5, 1.0, 1.0, 0.5, 0.4]
    assert recipe.data.train_on == "assistant" and recipe.training.assistant_only_loss is False
    assert recipe.model.dtype == "float32" and recipe.training.packing_strategy == "bfd"


def test_zephyr_test_split_size_holds_out_rows(data, tiny_model_dir, tmp_path):
    from sft_recipes.data.load import load_conversations, split_conversations

    config = CONFIGS / "handbook_zephyr_7b_beta_sft_full.yaml"
    mixture = {**_mixture_with(config, data["ultrachat"]), "test_split_size": 3}
    recipe = load_recipe(config, _overrides(tiny_model_dir, tmp_path), dataset_mixture=mixture)
    assert recipe.data.validation_size == 3
    loaded = load_conversations(recipe.data, 0, show=False)
    splits, _ = split_conversations(loaded.rows, recipe.data, 0, show=False)
    assert len(splits["validation"]) == 3


def test_dataset_test_split_becomes_evaluated_test_data(tiny_model_dir, tmp_path, capsys):
    recipe = load_recipe(None, ["--model_name_or_path", str(tiny_model_dir)], dataset_name="org/chat",
                         dataset_config="all", dataset_train_split="train_sft", dataset_test_split="test_sft")
    assert recipe.data.datasets == [{"path": "org/chat", "name": "all", "split": "train_sft"}]
    assert recipe.eval.eval_test_data == [{"path": "org/chat", "name": "all", "split": "test_sft"}]
    assert "dataset_test_split: 'test_sft' is evaluated after training" in capsys.readouterr().err


def test_columns_list_keeps_those_columns(data, tmp_path):
    from sft_recipes.data.load import load_conversations

    recipe = load_recipe(None, datasets=[{"path": str(data["ultrachat"]), "columns": ["messages"]}])
    rows = load_conversations(recipe.data, 0, show=False).rows
    assert len(rows) == len(QUESTIONS) and rows[0]["messages"][0]["content"] == QUESTIONS[0][0]
    missing = load_recipe(None, datasets=[{"path": str(data["ultrachat"]), "columns": ["conversation"]}])
    with pytest.raises(Exception, match="columns lists 'conversation', but the data has no such column"):
        load_conversations(missing.data, 0, show=False)


def test_dataset_text_field_names_the_text_column(tmp_path):
    from sft_recipes.data.load import load_conversations

    file = _write(tmp_path / "docs.jsonl", [{"body": f"Document {i} says {a}"} for i, (_, a) in enumerate(QUESTIONS)])
    recipe = load_recipe(None, datasets=[{"path": str(file)}], dataset_text_field="body")
    rows = load_conversations(recipe.data, 0, show=False).rows
    assert rows[0]["messages"] == [{"role": "assistant", "content": "Document 0 says Blue.", "train": True}]


@pytest.mark.parametrize("given,train_on", [({"assistant_only_loss": True}, "assistant"),
                                            ({"assistant_only_loss": False}, "all"),
                                            ({"completion_only_loss": None}, "assistant"),
                                            ({"completion_only_loss": False}, "all")])
def test_loss_keys_mean_train_on(given, train_on):
    recipe = load_recipe(None, **given)
    assert recipe.data.train_on == train_on
    assert recipe.training.assistant_only_loss is False and recipe.training.completion_only_loss is None


def test_aliases_refuse_with_the_key_to_use_all_at_once():
    with pytest.raises(RecipeError) as e:
        load_recipe(None, data_files="train.json", fraction=0.5, model_init_kwargs={"dtype": "bfloat16"},
                    assistant_only_loss=True, train_on="all", dataset_name="a", datasets=["b"])
    lines = str(e.value).splitlines()
    assert len(lines) == 5
    assert any("'data_files': list each file as a dataset entry: datasets:" in line for line in lines)
    assert any("'fraction': set max_samples" in line for line in lines)
    assert any("'model_init_kwargs': set dtype, attn_implementation" in line for line in lines)
    assert any("assistant_only_loss: True means train_on: assistant" in line for line in lines)
    assert any("dataset_name and datasets both list the data" in line for line in lines)


def test_overwrite_output_dir_is_one_note(capsys):
    load_recipe(None, overwrite_output_dir=True)
    err = capsys.readouterr().err
    assert err.count("overwrite_output_dir: ignored (transformers 5 removed it)") == 1


def test_chat_template_path_is_the_template_trained_saved_and_exported(data, tiny_model_dir, tmp_path):
    """TRL's chat_template_path: prepare trains on it, and the run and its export carry that same template."""
    from transformers import AutoTokenizer

    from sft_recipes.export.exporter import export_run

    template_file = tmp_path / "zephyr.jinja"
    template_file.write_text(ZEPHYR_TEMPLATE, encoding="utf-8")
    recipe = load_recipe(None, _overrides(tiny_model_dir, tmp_path / "run") + ["--use_peft", "true"],
                         dataset_name=str(data["smoltalk"]), chat_template_path=str(template_file),
                         assistant_only_loss=True)
    assert recipe.data.chat_template == str(template_file)
    result = train(recipe)
    prepared = AutoTokenizer.from_pretrained(Path(recipe.training.output_dir) / "data" / "tokenizer")
    assert prepared.chat_template == ZEPHYR_TEMPLATE
    saved = AutoTokenizer.from_pretrained(result.output_dir)
    assert saved.chat_template == ZEPHYR_TEMPLATE
    exported = export_run(result.output_dir, out=tmp_path / "export")
    assert AutoTokenizer.from_pretrained(exported.path).chat_template == ZEPHYR_TEMPLATE
    card = (exported.path / "README.md").read_text()
    assert f"Chat template: `{template_file}`" in card


def test_missing_tracker_is_one_line_at_load(monkeypatch):
    from sft_recipes.recipe import trackers

    monkeypatch.setitem(trackers.TRACKERS, "mlflow", ("sft_recipes_absent_tracker", "mlflow"))
    with pytest.raises(RecipeError) as e:
        load_recipe(None, report_to=["tensorboard", "mlflow"])
    assert str(e.value) == ("report_to: mlflow is not installed: pip install mlflow (or report_to: trackio, "
                            "local-first: pip install trackio; or report_to: none)")
    assert load_recipe(None, report_to="tensorboard").training.report_to == ["tensorboard"]


def test_every_key_of_trls_dataclasses_has_a_decision():
    """Each field of the installed trl's ScriptArguments, ModelConfig and SFTConfig's own fields is in the table."""
    import dataclasses

    from transformers import TrainingArguments
    from trl import ModelConfig, ScriptArguments, SFTConfig

    from sft_recipes.recipe.aliases import ALIASES, PASSED_THROUGH

    training_keys = {f.name for f in dataclasses.fields(TrainingArguments)}
    keys = [f.name for cls in (ScriptArguments, ModelConfig) for f in dataclasses.fields(cls)]
    keys += [f.name for f in dataclasses.fields(SFTConfig) if f.name not in training_keys]
    assert [k for k in keys if k not in ALIASES and k not in PASSED_THROUGH] == []


def test_readme_lists_the_alias_table():
    from sft_recipes.recipe.aliases import alias_table

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert alias_table() in readme


@pytest.mark.parametrize("entry,message", [
    ({"id": "org/chat", "config": "default"}, "each entry needs a 'path', got {'id': 'org/chat', 'config': 'default'} "
                                              "(here 'path' holds what 'id' does)"),
    ({"path": "a.jsonl", "fraction": 0.5}, "unknown key 'fraction' (here: weight (0.5 keeps a seeded half) or "
                                           "max_samples)"),
    ({"path": "a.jsonl", "subset": "all"}, "unknown key 'subset' (here: name)"),
])
def test_dataset_entry_keys_of_other_tools_are_named_by_meaning(entry, message):
    with pytest.raises(RecipeError) as e:
        load_recipe(None, datasets=[entry])
    assert str(e.value) == f"datasets: {message}"
