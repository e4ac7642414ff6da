"""``sft-recipes eval``: the base model and the tuned run, side by side on the prepared test split.

    sft-recipes eval --config RECIPE [--model RUN_DIR] [--base MODEL] [--num_samples N] [--out DIR] [--key value ...]
    sft-recipes eval --config RECIPE --test_data FILE [--format F] ...

Without ``--test_data``: the prepared test split (into ``<run>/eval/``), then each of the recipe's
``eval_test_data`` sets (into ``<run>/eval-<name>/``). With it: that file only, in any supported format, read and
built like training data but never split (evaluation/test_data.py), into ``<run>/eval-<file stem>/``.
Other ``--key value`` flags override the recipe, as for every subcommand (e.g. ``--eval_max_new_tokens 64``).
``--out`` sets the output directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from sft_recipes.recipe import FORMATS, load_recipe
from sft_recipes.evaluation.compare import (
    EvalDataError,
    compare_models,
    read_conversation_rows,
)

FORMAT_CHECK_SAMPLES = 8  # plain-text re-asks for the format-overfitting check: cheap, and enough to spot a pattern


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sft-recipes eval", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="recipe YAML")
    parser.add_argument("--model", help="tuned run directory or model (default: the recipe's output_dir)")
    parser.add_argument("--base", help="base model (default: the recipe's model_name_or_path)")
    parser.add_argument("--num_samples", type=int, help="evaluate at most this many test rows")
    parser.add_argument("--out", help="output directory (default: <run>/eval)")
    parser.add_argument("--no_heldout", action="store_true", help="skip the held-out loss")
    parser.add_argument("--test_data", help="evaluate this data file instead of the prepared test split")
    parser.add_argument("--format", default="auto", choices=FORMATS, help="format of --test_data (default: auto)")
    return parser


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


def evaluate_run(recipe, run_dir: str | Path | None = None, *, base: str | None = None,
                 num_samples: int | None = None, out: str | Path | None = None, heldout: bool = True,
                 format_check_samples: int = FORMAT_CHECK_SAMPLES) -> dict:
    """Base vs the trained run on the recipe's prepared test split; writes ``<run>/eval/``."""
    from sft_recipes.prepare import prepared_dir

    run_dir = Path(run_dir or recipe.training.output_dir)
    if not run_dir.is_dir():
        raise EvalDataError(f"no trained run at {run_dir} (train first, or pass --model RUN_DIR)")
    data_dir = prepared_dir(recipe)
    test_file = data_dir / "test.jsonl"
    if not test_file.is_file():
        source = f" --config {recipe.source}" if recipe.source else ""
        raise EvalDataError(f"test split not found: {test_file} (run `sft-recipes prepare{source}`)")
    rows = read_conversation_rows(test_file)
    ev = recipe.eval
    return compare_models(
        {"base": base or recipe.model.model_name_or_path, "tuned": str(run_dir)},  # None: the embedded default
        rows,
        Path(out) if out else run_dir / "eval",
        tokenized=load_heldout_split(data_dir) if heldout else None,
        num_samples=num_samples if num_samples is not None else ev.eval_num_samples,
        heldout_samples=ev.eval_heldout_samples,
        max_new_tokens=ev.eval_max_new_tokens,
        batch_size=ev.eval_batch_size,
        do_sample=ev.eval_do_sample,
        temperature=ev.eval_temperature,
        seed=recipe.training.seed,
        format_check_samples=format_check_samples,
    )


def evaluate_test_data(recipe, spec, run_dir: str | Path | None = None, *, base: str | None = None,
                       num_samples: int | None = None, out: str | Path | None = None, heldout: bool = True,
                       format_check_samples: int = 0) -> dict:
    """Base vs the trained run on one data set outside the recipe's splits; writes ``<run>/eval-<name>/``."""
    from sft_recipes.evaluation.test_data import load_eval_set, tokenize_for_loss, write_rejects
    from sft_recipes.inference.loading import load_inference_tokenizer

    run_dir = Path(run_dir or recipe.training.output_dir)
    if not run_dir.is_dir():
        raise EvalDataError(f"no trained run at {run_dir} (train first, or pass --model RUN_DIR)")
    data = load_eval_set(recipe, spec)
    out_dir = Path(out) if out else run_dir / f"eval-{data.name}"
    rejects = list(data.rejects)
    tokenized = None
    if heldout:
        tokenized, more = tokenize_for_loss(data.rows, load_inference_tokenizer(str(run_dir)), recipe.data)
        rejects += [dataclasses.replace(r, stage="held-out loss") for r in more]
    write_rejects(out_dir / "rejects.jsonl", rejects)
    ev = recipe.eval
    metrics = compare_models(
        {"base": base or recipe.model.model_name_or_path, "tuned": str(run_dir)}, data.rows, out_dir,
        tokenized=tokenized, num_samples=num_samples if num_samples is not None else ev.eval_num_samples,
        heldout_samples=ev.eval_heldout_samples, max_new_tokens=ev.eval_max_new_tokens,
        batch_size=ev.eval_batch_size, do_sample=ev.eval_do_sample, temperature=ev.eval_temperature,
        seed=recipe.training.seed, format_check_samples=format_check_samples,
    )
    metrics["test_data"] = {"path": spec.path, "format": spec.format, "rows": len(data.rows),
                            "rejected": len(rejects), "counts": data.counts}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False, default=str) + "\n")
    return metrics


def evaluate_recipe_test_sets(recipe, run_dir: str | Path | None = None, **kwargs) -> dict[str, dict]:
    """Every ``eval_test_data`` set of the recipe: name -> metrics."""
    from sft_recipes.evaluation.test_data import eval_set_name

    return {eval_set_name(spec): evaluate_test_data(recipe, spec, run_dir, **kwargs)
            for spec in recipe.eval.test_data_specs}


def print_summary(metrics: dict, where: Path) -> None:
    for name, result in metrics["models"].items():
        overall = result["overall"]
        heldout = result.get("heldout") or {}
        loss = f", held-out loss {heldout['loss']:.3f}" if "loss" in heldout else ""
        print(f"[sft-recipes] {name}: headline {overall['headline']:.3f}{loss}")
    print(f"[sft-recipes] wrote {where}")


def main(argv: list[str] | None = None) -> int:
    from sft_recipes.evaluation.test_data import dataset_spec, eval_set_name

    args, overrides = build_parser().parse_known_args(argv)
    recipe = load_recipe(args.config, overrides)
    run_dir = Path(args.model or recipe.training.output_dir)
    common = {"base": args.base, "num_samples": args.num_samples, "heldout": not args.no_heldout}
    if args.test_data:
        spec = dataset_spec(args.test_data, args.format)
        metrics = evaluate_test_data(recipe, spec, run_dir, out=args.out, **common)
        print_summary(metrics, Path(args.out) if args.out else run_dir / f"eval-{eval_set_name(spec)}" / "report.md")
        return 0
    metrics = evaluate_run(recipe, args.model, out=args.out, **common)
    print_summary(metrics, Path(args.out) if args.out else run_dir / "eval" / "report.md")
    for name, extra in evaluate_recipe_test_sets(recipe, run_dir, **common).items():
        print(f"-- {name}")
        print_summary(extra, run_dir / f"eval-{name}" / "report.md")
    return 0
