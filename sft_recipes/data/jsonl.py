"""Reading JSON Lines with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from sft_recipes import SFTRecipesError


def iter_jsonl(path: str | Path, error: type[SFTRecipesError] = SFTRecipesError) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for every non-blank line; a malformed line raises ``error`` with file:line."""
    p = Path(path)
    with p.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise error(f"{p}:{lineno}: not valid JSON ({e.msg})") from None
