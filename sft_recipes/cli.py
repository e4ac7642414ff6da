"""The ``sft-recipes`` command. Each subcommand lives in the module that does the work;
this file only routes to it and turns user errors into one clear line."""

from __future__ import annotations

import argparse
import importlib
import sys

from sft_recipes import SFTRecipesError, __version__
from sft_recipes.runtime import quiet

# subcommand -> (module with a ``main(argv) -> int``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("sft_recipes.prepare", "clean, split, render and label a recipe's data; write reports"),
    "preview": ("sft_recipes.chat.preview", "show rows token by token, trained vs masked"),
    "train": ("sft_recipes.train", "fine-tune with TRL's SFTTrainer (LoRA, QLoRA or full)"),
    "launch": ("sft_recipes.train.launch", "train under accelerate launch (= train --accelerate_config NAME)"),
    "eval": ("sft_recipes.evaluation.cli", "held-out loss, task metrics, base vs tuned"),
    "judge": ("sft_recipes.evaluation.judge.cli", "LLM-as-a-judge: single scores or pairwise with position swap"),
    "meta-eval": ("sft_recipes.evaluation.meta_eval_cli", "how far to trust a judge: correlation / kappa with reference scores"),
    "export": ("sft_recipes.export.cli", "save an adapter or merged model with a model card; push to the Hub"),
    "experiment": ("sft_recipes.experiments.cli", "experiments with reports: base-vs-tuned, noisy-vs-clean, data-quality"),
    "quickstart": ("sft_recipes.quickstart", "the whole flow on the embedded model and data, with a report"),
    "env": ("sft_recipes.runtime.env_info", "versions, device and the embedded model's state"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sft-recipes",
        description="Supervised fine-tuning recipes: prepare -> train -> eval -> export, from one YAML recipe.",
    )
    parser.add_argument("--version", action="version", version=f"sft-recipes {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show every upstream warning and log line (hidden ones: sft_recipes/runtime/quiet.py)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv  # before or after the subcommand; launched processes inherit it (quiet.py)
    argv = [a for a in argv if a != "--verbose"]
    quiet.install(verbose)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv or ["--help"])  # prints help / the unknown-command error and exits
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.main(rest) or 0)
    except SFTRecipesError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a full disk, a missing permission, a read-only file system: one line too
        from sft_recipes.runtime.os_errors import explain

        line = explain(e)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
