"""``sft-recipes eval --test_data FILE [--format F]``: any file, built like training data, evaluated against base and
tuned without touching the recipe's splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sft_recipes.evaluation import cli
from sft_recipes.evaluation.run import evaluate_recipe_test_sets
from sft_recipes.evaluation.test_data import dataset_spec, eval_set_name, load_eval_set
from sft_recipes.recipe import load_recipe

COURT = Path(__file__).parent / "fixtures" / "court"


@pytest.fixture(scope="module")
def adapter_run(tiny_model_dir, smol_tokenizer, tmp_path_factory):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False))
    run = tmp_path_factory.mktemp("run")
    model.save_pretrained(run)
    smol_tokenizer.save_pretrained(run)
    return run


def recipe_file(tmp_path: Path, tiny_model_dir: Path, run: Path, **extra) -> Path:
    lines = [f"model_name_or_path: {tiny_model_dir}", f"output_dir: {run}", f"prepared_dir: {tmp_path / 'prepared'}",
             "eval_max_new_tokens: 3", "eval_batch_size: 6", *(f"{k}: {json.dumps(v)}" for k, v in extra.items())]
    path = tmp_path / "recipe.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_test_data_is_built_like_training_data(tmp_path, tiny_model_dir):
    recipe = load_recipe(recipe_file(tmp_path, tiny_model_dir, tmp_path / "run", court_tasks=["holding", "court"]))
    data = load_eval_set(recipe, dataset_spec(str(COURT / "txt"), "court_opinions"), show=False)
    assert data.name == "txt"
    assert sorted(r["task"] for r in data.rows) == ["court", "holding", "holding"]  # the recipe's court_tasks
    assert [r.reason for r in data.rejects] == [
        "cannot derive 'court': no court: the record has none and courts-db finds none in the text's caption"]
    assert eval_set_name(dataset_spec("embedded:court-opinions-heldout-style")) == "court-opinions-heldout-style"


def test_eval_cli_with_test_data(adapter_run, tiny_model_dir, tmp_path, capsys):
    recipe = recipe_file(tmp_path, tiny_model_dir, adapter_run)
    before = sorted(p.name for p in adapter_run.iterdir())
    assert cli.main(["--config", str(recipe), "--test_data", str(COURT / "txt"), "--format", "court_opinions"]) == 0
    out = adapter_run / "eval-txt"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_data"]["rows"] == 10 and metrics["test_data"]["rejected"] == 2
    assert metrics["num_prompts"] == 10 and set(metrics["models"]) == {"base", "tuned"}
    for name in ("base", "tuned"):
        assert metrics["models"][name]["heldout"]["examples"] == 10 and metrics["models"][name]["heldout"]["loss"] > 0
        assert set(metrics["models"][name]["tasks"]) == {"summarize", "holding", "citations", "court", "issue",
                                                         "case_name"}
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert {r["reason"].split(":")[0] for r in rejects} == {"cannot derive 'court'", "cannot derive 'case_name'"}
    assert (out / "report.md").is_file() and (out / "generations.jsonl").is_file()
    assert "tuned: headline" in capsys.readouterr().out
    assert not (tmp_path / "prepared").exists()  # the recipe's splits are not touched (nor created)
    assert sorted(p.name for p in adapter_run.iterdir()) == sorted(before + ["eval-txt"])

    # auto-detected formats: a CourtListener file, named by its stem
    assert cli.main(["--config", str(recipe), "--test_data", str(COURT / "courtlistener_v4.json"), "--out",
                     str(tmp_path / "cl"), "--no_heldout"]) == 0
    cl = json.loads((tmp_path / "cl" / "metrics.json").read_text())
    assert cl["num_prompts"] == 6 and cl["models"]["tuned"]["heldout"] is None


def test_recipe_test_sets_are_evaluated_after_the_test_split(adapter_run, tiny_model_dir, tmp_path):
    recipe = load_recipe(recipe_file(tmp_path, tiny_model_dir, adapter_run,
                                     eval_test_data=[{"path": str(COURT / "flat.jsonl")},
                                                     "embedded:court-opinions-heldout-style"],
                                     synthetic_heldout_opinions=1, court_tasks=["holding"]))
    results = evaluate_recipe_test_sets(recipe, adapter_run, heldout=False)
    assert list(results) == ["flat", "court-opinions-heldout-style"]
    assert results["flat"]["num_prompts"] == 2 and results["court-opinions-heldout-style"]["num_prompts"] == 1
    assert (adapter_run / "eval-court-opinions-heldout-style" / "report.md").is_file()


def test_unknown_embedded_corpus_fails_with_one_line(adapter_run, tiny_model_dir, tmp_path):
    from sft_recipes.data.sources import DataSourceError

    recipe = recipe_file(tmp_path, tiny_model_dir, adapter_run)
    with pytest.raises(DataSourceError, match="unknown embedded dataset 'embedded:nope'"):
        cli.main(["--config", str(recipe), "--test_data", "embedded:nope"])


def test_test_sets_in_a_recipe_are_checked_when_it_loads(tmp_path, tiny_model_dir):
    from sft_recipes.recipe import RecipeError

    with pytest.raises(RecipeError, match="eval_test_data: unknown key 'fromat' \\(did you mean 'format'\\?\\)"):
        load_recipe(recipe_file(tmp_path, tiny_model_dir, tmp_path, eval_test_data=[{"path": "x.jsonl",
                                                                                      "fromat": "alpaca"}]))
    with pytest.raises(RecipeError, match="unknown format 'court'"):
        load_recipe(recipe_file(tmp_path, tiny_model_dir, tmp_path, eval_test_data=[{"path": "x", "format": "court"}]))
