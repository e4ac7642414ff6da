"""runtime/fresh_process.py: the quickstart's evaluation runs in a new process; its result and errors come back."""

import os

import pytest

from sft_recipes.recipe import load_recipe
from sft_recipes.recipe.arguments import RecipeError
from sft_recipes.runtime.fresh_process import in_fresh_process


def test_the_function_runs_in_another_process_and_its_result_comes_back():
    assert in_fresh_process(os.getpid) != os.getpid()
    assert in_fresh_process(divmod, 17, 5) == (3, 2)


def test_an_error_in_the_new_process_is_raised_here_with_its_type_and_message(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(RecipeError) as here:
        load_recipe(missing)
    with pytest.raises(RecipeError) as there:
        in_fresh_process(load_recipe, missing)
    assert str(there.value) == str(here.value)


def _hidden_loggers() -> int:
    from sft_recipes.runtime import quiet

    return len(quiet._installed)


def test_the_new_process_hides_the_same_upstream_messages(monkeypatch):
    from sft_recipes.runtime import quiet

    monkeypatch.delenv(quiet.VERBOSE_ENV, raising=False)
    assert in_fresh_process(_hidden_loggers) > 0
    monkeypatch.setenv(quiet.VERBOSE_ENV, "1")  # --verbose: everything shows, there too
    assert in_fresh_process(_hidden_loggers) == 0
