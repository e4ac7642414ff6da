"""sft-recipes: supervised fine-tuning recipes on the Hugging Face stack.

The flow of data, one module each:
    recipe (config.py) -> prepare (data/, templates.py, masking.py) -> train (train.py)
    -> eval (evaluation/) -> export (export.py)
"""

__version__ = "0.1.0"


class SFTRecipesError(Exception):
    """An error meant for the user: its message is one clear line, printed without a traceback."""
