"""``python -m sft_recipes.export``: the export command on its own, with the same one-line errors as the CLI."""

import sys

from sft_recipes import SFTRecipesError
from sft_recipes.export.cli import main

try:
    sys.exit(main())
except SFTRecipesError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
