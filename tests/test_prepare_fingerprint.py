"""A prepared directory is reused only while everything that shapes its data is unchanged."""

import copy
import dataclasses

import pytest
from helpers import sums_file

from sft_recipes.prepare.run import ensure_prepared, fingerprint, is_fresh, prepared_dir, run_prepare
from sft_recipes.recipe import load_recipe
from sft_recipes.recipe.arguments import DataArguments

NOT_DATA = {"learning_rate": 1e-3, "logging_steps": 7, "num_train_epochs": 5, "save_steps": 11, "lora_r": 4}


def recipe_for(tmp_path, data, model="model-dir", **values):
    return load_recipe(model_name_or_path=str(model), output_dir=str(tmp_path / "run"), disable_tqdm=True,
                       datasets=[{"path": str(data), "format": "alpaca"}], validation_size=0.0, test_size=0.0,
                       **values)


def other_value(value):
    """A value different from ``value`` of the same kind (the fingerprint does not check ranges)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1 if isinstance(value, int) else value + 0.25
    if isinstance(value, str):
        return value + "-changed"
    if isinstance(value, list):
        return [*value, {"path": "another.jsonl"}]
    if isinstance(value, dict):
        return {**value, "changed": 1}
    return "changed"  # None


def changed(recipe, section, name, value):
    out = copy.deepcopy(recipe)
    setattr(getattr(out, section), name, value)
    return out


def section_of(recipe, name):
    return next(s for s in ("data", "model", "training") if hasattr(getattr(recipe, s), name))


DATA_FIELDS = [f.name for f in dataclasses.fields(DataArguments) if f.name != "prepared_dir"]


@pytest.mark.parametrize("name", DATA_FIELDS + ["model_name_or_path", "max_length", "seed"])
def test_every_data_setting_changes_the_fingerprint(tmp_path, name):
    recipe = recipe_for(tmp_path, sums_file(tmp_path / "sums.jsonl"))
    section = section_of(recipe, name)
    value = getattr(getattr(recipe, section), name)
    assert fingerprint(changed(recipe, section, name, other_value(value))) != fingerprint(recipe)


@pytest.mark.parametrize("name", sorted(NOT_DATA))
def test_settings_outside_the_data_keep_the_fingerprint(tmp_path, name):
    recipe = recipe_for(tmp_path, sums_file(tmp_path / "sums.jsonl"))
    section = section_of(recipe, name)
    assert getattr(getattr(recipe, section), name) != NOT_DATA[name]
    assert fingerprint(changed(recipe, section, name, NOT_DATA[name])) == fingerprint(recipe)


def test_file_contents_change_the_fingerprint(tmp_path):
    data = sums_file(tmp_path / "sums.jsonl", rows=8)
    template = tmp_path / "chat.jinja"
    template.write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}", encoding="utf-8")
    recipe = recipe_for(tmp_path, data)
    recipe.data.chat_template = str(template)
    before = fingerprint(recipe)
    sums_file(data, rows=9)
    after_data = fingerprint(recipe)
    template.write_text("{% for m in messages %}[{{ m['content'] }}]{% endfor %}", encoding="utf-8")
    assert len({before, after_data, fingerprint(recipe)}) == 3


def test_a_stale_prepared_dir_is_prepared_again(tmp_path, tiny_model_dir):
    data = sums_file(tmp_path / "sums.jsonl", rows=12)
    recipe = recipe_for(tmp_path, data, tiny_model_dir)
    first = run_prepare(recipe, verbose=False)
    assert len(first.dataset["train"]) == 12
    directory = prepared_dir(recipe)
    assert is_fresh(directory, recipe)

    other = copy.deepcopy(recipe)
    for name, value in NOT_DATA.items():
        setattr(getattr(other, section_of(other, name)), name, value)
    assert is_fresh(directory, other)  # training settings reuse the prepared data

    sums_file(data, rows=10)  # same path, new content
    assert not is_fresh(directory, recipe)
    assert len(ensure_prepared(recipe).dataset["train"]) == 10
    assert is_fresh(directory, recipe)

    lengths = [len(ids) for ids in ensure_prepared(recipe).dataset["train"]["input_ids"]]
    with_system = changed(recipe, "data", "system_prompt", "Answer with the number only.")
    assert not is_fresh(directory, with_system)
    again = [len(ids) for ids in ensure_prepared(with_system).dataset["train"]["input_ids"]]
    assert again != lengths and is_fresh(directory, with_system)  # the new system message is in every row
