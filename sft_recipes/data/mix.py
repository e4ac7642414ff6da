"""Mix several datasets by weight.

A weight is how many times each row is seen: 2.0 repeats every row twice, 0.5 keeps a seeded half, 1.5 keeps every
row plus a seeded half again. The sample is drawn without replacement and kept in file order; a repeated row keeps
its ``group``, so all its copies land in the same split.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any


@dataclass
class MixPart:
    name: str
    rows: list[dict[str, Any]]
    weight: float = 1.0


def mix_datasets(parts: list[MixPart], seed: int) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The mixed rows (datasets in the given order) and, per dataset, rows in / weight / rows out."""
    mixed: list[dict[str, Any]] = []
    counts: dict[str, dict[str, Any]] = {}
    for index, part in enumerate(parts):
        if part.weight <= 0:
            raise ValueError(f"{part.name}: weight must be > 0, got {part.weight}")
        chosen = weighted_rows(part.rows, part.weight, random.Random(f"{seed}:{index}:{part.name}"))
        mixed.extend(chosen)
        counts[part.name] = {"rows": len(part.rows), "weight": part.weight, "mixed": len(chosen)}
    return mixed, counts


def weighted_rows(rows: list[dict[str, Any]], weight: float, rng: random.Random) -> list[dict[str, Any]]:
    """Every row ``int(weight)`` times, plus a seeded sample for the fractional part (rows keep file order)."""
    whole = int(weight)
    extra = round((weight - whole) * len(rows))
    picked = sorted(rng.sample(range(len(rows)), extra)) if extra else []
    # repeated rows are separate dicts, so editing one copy never changes another
    copies = (list(rows) if whole else []) + [dict(r) for _ in range(whole - 1) for r in rows]
    return copies + [dict(rows[i]) if whole else rows[i] for i in picked]
