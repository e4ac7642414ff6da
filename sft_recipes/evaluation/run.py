"""Evaluate a trained run: base vs tuned on the recipe's prepared test split, or on a data set outside its splits.

These are the functions ``sft-recipes eval`` (evaluation/cli.py), the quickstart and the experiments call; the
decoding settings come from the recipe's eval section once (``GenerationSettings.from_recipe``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

from sft_recipes.evaluation.compare import EvalDataError, compare_models, read_conversation_rows
from sft_recipes.inference.settings import GenerationSettings

FORMAT_CHECK_SAMPLES = 8  # plain-text re-asks for the format-overfitting check: cheap, and enough to spot a pattern


def load_heldout_split(data_dir: Path):
    """The tokenized test split (validation when there is no test split), or None when prepare wrote none."""
    tokenized = data_dir / "tokenized"
    if not tokenized.is_dir():
        return None
    from datasets import load_from_disk

    splits = load_from_disk(str(tokenized))
    for name in ("test", "validation"):
        if name in splits and len(splits[name]) > 0:
            return splits[name]
    return None


def trained_run(recipe, run_dir: str | Path | None) -> Path:
    """The run directory to evaluate (default: the recipe's output_dir); it must exist."""
    run_dir = Path(run_dir or recipe.training.output_dir)
    if not run_dir.is_dir():
        raise EvalDataError(f"no trained run at {run_dir} (train first, or pass --model RUN_DIR)")
    return run_dir


def eval_dtype(recipe):
    """The dtype models are evaluated in: ``eval_dtype``, or with ``auto`` the precision the recipe trains in
    (bf16 autocast -> bfloat16, fp16 -> float16, else float32), so answers come from the numbers trained on."""
    import torch

    from sft_recipes.train.methods import training_precision

    name = recipe.eval.eval_dtype
    return getattr(torch, training_precision(recipe.training) if name == "auto" else name)


def base_vs_tuned(recipe, run_dir: Path, rows: Sequence[dict[str, Any]], out_dir: Path, *, tokenized: Any,
                  base: str | None, num_samples: int | None, format_check_samples: int) -> dict:
    """``compare_models`` for the recipe's base model and the run, with the recipe's eval settings."""
    ev = recipe.eval
    return compare_models(
        {"base": base or recipe.model.model_name_or_path, "tuned": str(run_dir)},  # None: the embedded default
        rows, out_dir, GenerationSettings.from_recipe(recipe), tokenized=tokenized,
        num_samples=num_samples if num_samples is not None else ev.eval_num_samples,
        heldout_samples=ev.eval_heldout_samples, format_check_samples=format_check_samples,
        dtype=eval_dtype(recipe),
    )


def evaluate_run(recipe, run_dir: str | Path | None = None, *, base: str | None = None,
                 num_samples: int | None = None, out: str | Path | None = None, heldout: bool = True,
                 format_check_samples: int = FORMAT_CHECK_SAMPLES) -> dict:
    """Base vs the trained run on the recipe's prepared test split; writes ``<run>/eval/``."""
    from sft_recipes.prepare import prepared_dir

    run_dir = trained_run(recipe, run_dir)
    data_dir = prepared_dir(recipe)
    test_file = data_dir / "test.jsonl"
    if not test_file.is_file():
        source = f" --config {recipe.source}" if recipe.source else ""
        raise EvalDataError(f"test split not found: {test_file} (run `sft-recipes prepare{source}`)")
    return base_vs_tuned(recipe, run_dir, read_conversation_rows(test_file), Path(out) if out else run_dir / "eval",
                         tokenized=load_heldout_split(data_dir) if heldout else None, base=base,
                         num_samples=num_samples, format_check_samples=format_check_samples)


def evaluate_test_data(recipe, spec, run_dir: str | Path | None = None, *, base: str | None = None,
                       num_samples: int | None = None, out: str | Path | None = None, heldout: bool = True,
                       format_check_samples: int = 0) -> dict:
    """Base vs the trained run on one data set outside the recipe's splits; writes ``<run>/eval-<name>/``."""
    from sft_recipes.evaluation.test_data import load_eval_set, tokenize_for_loss, write_rejects
    from sft_recipes.inference.loading import load_inference_tokenizer

    run_dir = trained_run(recipe, run_dir)
    data = load_eval_set(recipe, spec)
    out_dir = Path(out) if out else run_dir / f"eval-{data.name}"
    rejects = list(data.rejects)
    tokenized = None
    if heldout:
        tokenized, more = tokenize_for_loss(data.rows, load_inference_tokenizer(str(run_dir)), recipe.data)
        rejects += [dataclasses.replace(r, stage="held-out loss") for r in more]
    write_rejects(out_dir / "rejects.jsonl", rejects)
    metrics = base_vs_tuned(recipe, run_dir, data.rows, out_dir, tokenized=tokenized, base=base,
                            num_samples=num_samples, format_check_samples=format_check_samples)
    metrics["test_data"] = {"path": spec.path, "format": spec.format, "rows": len(data.rows),
                            "rejected": len(rejects), "counts": data.counts}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False, default=str) + "\n")
    return metrics


def evaluate_recipe_test_sets(recipe, run_dir: str | Path | None = None, **kwargs) -> dict[str, dict]:
    """Every ``eval_test_data`` set of the recipe: name -> metrics."""
    from sft_recipes.evaluation.test_data import eval_set_name

    return {eval_set_name(spec): evaluate_test_data(recipe, spec, run_dir, **kwargs)
            for spec in recipe.eval.test_data_specs}
