"""``sft-recipes experiment NAME``: run one experiment with a recipe and write its report.

    sft-recipes experiment base-vs-tuned  --config R [--base MODEL] [--tuned RUN_DIR] [--prompts FILE] [--num N]
    sft-recipes experiment noisy-vs-clean --config R [--rate 0.5] [--kinds shuffle,truncate,junk] [--no_base]
    sft-recipes experiment data-quality   --config R | --data FILE [--format F] [--threshold 0.7]

Every experiment also takes ``--out DIR``; any other ``--key value`` overrides the recipe, as for every subcommand.
"""

from __future__ import annotations

import argparse
import json

from sft_recipes.recipe import load_recipe
from sft_recipes.experiments import ExperimentError

EXPERIMENTS = {
    "base-vs-tuned": "the same prompts RAW to the base model and TEMPLATED to the tuned one, side by side",
    "noisy-vs-clean": "train on clean and on partly corrupted responses alike; compare on the same held-out rows",
    "data-quality": "lengths, repeated openings, diversity and near-duplicates of a data set",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sft-recipes experiment", description=__doc__.splitlines()[0],
                                     allow_abbrev=False)
    sub = parser.add_subparsers(dest="name", metavar="NAME", required=True)
    for name, help_text in EXPERIMENTS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        p.add_argument("--config", help="recipe YAML" + (" (required)" if name != "data-quality" else ""),
                       required=name != "data-quality")
        p.add_argument("--out", help="output directory (default: under the recipe's output_dir)")
    bvt = sub.choices["base-vs-tuned"]
    bvt.add_argument("--base", help="base model (default: the recipe's model_name_or_path)")
    bvt.add_argument("--tuned", help="tuned run dir or model (default: the recipe's output_dir if trained)")
    bvt.add_argument("--prompts", help="JSONL of conversation rows or {\"prompt\"}, or .txt (one per line)")
    bvt.add_argument("--num", type=int, help="use at most N prompts")
    bvt.add_argument("--max_new_tokens", type=int, help="generation budget (default: eval_max_new_tokens)")
    nvc = sub.choices["noisy-vs-clean"]
    nvc.add_argument("--rate", type=float, default=0.5, help="share of assistant responses corrupted (0-1)")
    nvc.add_argument("--kinds", default="shuffle,truncate,junk", help="corruptions to deal out, comma-separated")
    nvc.add_argument("--corruption_seed", type=int, help="seed of the corruption (default: the recipe's seed)")
    nvc.add_argument("--no_base", action="store_true", help="evaluate only the clean and noisy runs")
    nvc.add_argument("--num_samples", type=int, help="held-out rows to evaluate (default: eval_num_samples)")
    nvc.add_argument("--retrain", action="store_true", help="train again even when a run with the same settings exists")
    dq = sub.choices["data-quality"]
    dq.add_argument("--data", help="a data file to analyse instead of the recipe's datasets")
    dq.add_argument("--format", default="auto", help="format of --data (default: detected from the fields)")
    dq.add_argument("--threshold", type=float, default=0.7, help="near-duplicate Jaccard threshold")
    return parser


def main(argv: list[str] | None = None) -> int:
    args, overrides = build_parser().parse_known_args(argv)
    if args.name == "data-quality":
        from sft_recipes.experiments.data_quality import run_data_quality

        values = {"datasets": [{"path": args.data, "format": args.format}]} if args.data else {}
        if not args.config and not args.data:
            raise ExperimentError("data-quality needs --config RECIPE or --data FILE")
        recipe = load_recipe(args.config, overrides, **values)
        report = run_data_quality(recipe, args.out, threshold=args.threshold)
        print(json.dumps({"rows": report["rows"], "diversity": report["diversity"],
                          "near_duplicate_pairs": report["near_duplicates"]["pairs"]}))
        return 0
    recipe = load_recipe(args.config, overrides)
    if args.name == "base-vs-tuned":
        from sft_recipes.experiments.base_vs_tuned import run_base_vs_tuned

        report = run_base_vs_tuned(recipe, args.out, base=args.base, tuned=args.tuned, prompts_file=args.prompts,
                                   num=args.num, max_new_tokens=args.max_new_tokens)
        print(json.dumps(report["summary"], indent=2))
        return 0
    from sft_recipes.experiments.noisy_vs_clean import run_noisy_vs_clean

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    report = run_noisy_vs_clean(recipe, args.out, rate=args.rate, kinds=kinds, corruption_seed=args.corruption_seed,
                                with_base=not args.no_base, num_samples=args.num_samples, retrain=args.retrain)
    print(json.dumps(report["eval"], indent=2))
    return 0
