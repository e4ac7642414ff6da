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
from pathlib import Path

from sft_recipes.recipe import FORMATS, load_recipe
from sft_recipes.evaluation.run import evaluate_recipe_test_sets, evaluate_run, evaluate_test_data


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
