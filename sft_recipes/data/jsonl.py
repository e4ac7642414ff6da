"""JSON Lines: reading with errors that name the file and line, writing atomically, appending a line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

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


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> Path:
    """Write one JSON value per line, atomically: a temporary file beside ``path``, then renamed over it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def append_jsonl(path: str | Path, row: Any) -> None:
    """Add one line (a log written as it grows, e.g. metrics per step)."""
    with Path(path).open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
