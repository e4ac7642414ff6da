"""sft-recipes: supervised fine-tuning recipes on the Hugging Face stack.

The flow of data, one package each (ARCHITECTURE.md tells more):
    recipe/ -> data/ -> chat/ (templates, labels) -> prepare/ -> train/ -> inference/ -> evaluation/ -> export/
"""

__version__ = "0.1.0"


class SFTRecipesError(Exception):
    """An error meant for the user: its message is one clear line, printed without a traceback."""


def one_line(error: BaseException | str, limit: int | None = None) -> str:
    """An error (or any text) on one line: whitespace runs, newlines included, become one space."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:limit] if limit else text


def first_line(error: BaseException | str) -> str:
    """The first line of an error's text (libraries put the cause first and long advice after it)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
