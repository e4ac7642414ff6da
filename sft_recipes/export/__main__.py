"""``python -m sft_recipes.export``: the export command on its own, run as ``sft-recipes export`` runs it (one-line
errors, quiet output unless --verbose)."""

import sys

from sft_recipes.cli import main

sys.exit(main(["export", *sys.argv[1:]]))
