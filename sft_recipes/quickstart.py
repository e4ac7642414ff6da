"""Quickstart: the whole flow on the embedded model and data, ending in a base-vs-tuned report.

    prepare -> training (the recipe's method) -> base and tuned answer the same held-out opinions (the test split,
    then the recipe's ``eval_test_data`` sets: opinions in writing styles never trained on) -> reports -> export

Every stage is the same function the single commands use; this module only chains them and times them. The
evaluation runs in a fresh process (runtime/fresh_process.py): after training it runs about 1.35x slower here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from sft_recipes import SFTRecipesError
from sft_recipes.recipe import load_recipe

DEFAULT_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "quickstart.yaml"


def run_quickstart(config: str | Path | None = None, overrides: list[str] | None = None,
                   eval_samples: int | None = None) -> dict:
    from sft_recipes.runtime.run_lock import run_lock

    path = Path(config) if config else DEFAULT_RECIPE
    if not path.is_file():
        raise SFTRecipesError(f"quickstart recipe not found: {path} (pass --config)")
    recipe = load_recipe(path, overrides)
    run_dir = Path(recipe.training.output_dir)
    with run_lock(run_dir):  # the whole flow, not only training, owns the run directory
        return _run_stages(recipe, run_dir, eval_samples)


def _evaluate(recipe, run_dir: Path, eval_samples: int | None) -> tuple[dict, dict]:
    """Base vs tuned on the test split, then on each of the recipe's ``eval_test_data`` sets."""
    from sft_recipes.evaluation.run import evaluate_recipe_test_sets, evaluate_run

    metrics = evaluate_run(recipe, run_dir, num_samples=eval_samples, format_check_samples=0)
    return metrics, evaluate_recipe_test_sets(recipe, run_dir, num_samples=eval_samples)


def _run_stages(recipe, run_dir: Path, eval_samples: int | None) -> dict:
    from sft_recipes.export.exporter import export_run
    from sft_recipes.prepare import ensure_prepared
    from sft_recipes.runtime.fresh_process import in_fresh_process
    from sft_recipes.train import train
    from sft_recipes.train.methods import method_label

    timings: dict[str, float] = {}

    def stage(name: str):
        print(f"\n[sft-recipes] quickstart: {name}", flush=True)
        return time.perf_counter()

    t = stage("prepare")
    ensure_prepared(recipe)
    timings["prepare"] = time.perf_counter() - t

    model_args = recipe.model
    t = stage(f"train ({method_label(model_args.use_peft, model_args.load_in_4bit, model_args.load_in_8bit)})")
    result = train(recipe)
    timings["train"] = time.perf_counter() - t

    t = stage("evaluate base and tuned on held-out opinions")
    metrics, extra = in_fresh_process(_evaluate, recipe, run_dir, eval_samples)
    timings["evaluate"] = time.perf_counter() - t

    t = stage("export the " + ("adapter" if model_args.use_peft else "model"))
    exported = export_run(run_dir, overwrite=True)
    timings["export"] = time.perf_counter() - t
    timings["total"] = sum(timings.values())

    summary = {
        "run_dir": str(run_dir),
        "report": str(run_dir / "eval" / "report.md"),
        "export": str(exported.path),
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "train": {k: result.summary.get(k) for k in ("global_step", "train_loss", "train_seconds",
                                                     "seconds_per_step", "tokens_per_second")},
        "scores": _scores(metrics),
        "test_sets": {name: {"report": str(run_dir / f"eval-{name}" / "report.md"), "scores": _scores(m)}
                      for name, m in extra.items()},
    }
    (run_dir / "quickstart.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"\n[sft-recipes] quickstart done in {timings['total']:.0f}s. Report: {summary['report']}")
    return summary


def _scores(metrics: dict) -> dict:
    """Per model: each task's headline score and the held-out loss."""
    out = {}
    for name, data in metrics.get("models", {}).items():
        out[name] = {task: m.get("headline") for task, m in data.get("tasks", {}).items()}
        out[name]["heldout_loss"] = (data.get("heldout") or {}).get("loss")
    return out


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="sft-recipes quickstart",
                                     description="prepare -> train -> base vs tuned eval -> report -> export")
    parser.add_argument("--config", help=f"recipe (default: {DEFAULT_RECIPE.name})")
    parser.add_argument("--eval_samples", type=int, help="held-out prompts to evaluate")
    args, overrides = parser.parse_known_args(argv)
    run_quickstart(args.config, overrides, args.eval_samples)
    return 0
