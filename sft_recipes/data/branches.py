"""One document's single-turn rows as one training row of branches (``group_turns: branches``).

Instruction sets built from one document (six questions about a court opinion) repeat the document in every row.
``group_turns: true`` reads it once by joining the questions into one multi-turn conversation; the later questions
are then trained after other questions and answers, not as they are asked (the document, then the question). Here
the tokenized rows of a group share the tokens they all start with (system prompt, document) and every row's own
tokens follow as a branch that sees the shared tokens and itself, never another branch:

    input_ids     [ shared prefix (P) | branch 1 | branch 2 | ... ]
    position_ids  [ 0 .. P-1          | P .. P+n1-1 | P .. P+n2-1 | ... ]

A branch restarts its positions at P, which is how the attention (varlen_attention.py on a CPU, a boolean mask
otherwise: branch_batches.py) knows what it shares. Every branch, read after the prefix, is token for token the row
it came from with the same labels, so each question is trained exactly as it is asked alone, and the document's
tokens are processed once. Trained tokens are never shared: the prefix stops before any row's first label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sft_recipes.chat.masking import IGNORE_INDEX

MIN_SHARED_TOKENS = 32  # a shorter common start (a system prompt alone) is not worth a branch row


def shared_length(rows: Sequence[Sequence[int]], labels: Sequence[Sequence[int]]) -> int:
    """Tokens all rows start with, ended before any row's first trained token and before any row's last token."""
    if not rows:
        return 0
    first = rows[0]
    limit = min(min(len(r) for r in rows) - 1,
                *(next((i for i, x in enumerate(lab) if x != IGNORE_INDEX), len(lab)) for lab in labels))
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n


def branch_rows(rows: Sequence[dict[str, Any]], max_length: int | None) -> list[dict[str, Any]]:
    """The rows of one group (``input_ids``, ``labels``, other columns from the first) -> branch rows of at most
    ``max_length`` tokens, each with ``position_ids``. Rows that share too little stay as they are."""
    ids = [list(r["input_ids"]) for r in rows]
    labels = [list(r["labels"]) for r in rows]
    shared = shared_length(ids, labels) if len(rows) > 1 else 0
    if shared < MIN_SHARED_TOKENS:
        return [_single(r) for r in rows]
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for row, row_ids, row_labels in zip(rows, ids, labels):
        branch = len(row_ids) - shared
        if current is None or (max_length and len(current["input_ids"]) + branch > max_length):
            current = {**{k: v for k, v in row.items() if k not in ("input_ids", "labels")},
                       "input_ids": row_ids[:shared], "labels": row_labels[:shared],
                       "position_ids": list(range(shared))}
            if "task" in current:
                current["task"] = "grouped"  # as group_turns: true names a joined conversation
            out.append(current)
        current["input_ids"] += row_ids[shared:]
        current["labels"] += row_labels[shared:]
        current["position_ids"] += list(range(shared, len(row_ids)))
    return out


def _single(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "position_ids": list(range(len(row["input_ids"])))}


def merge_branches(dataset, max_length: int | None, group_column: str = "group"):
    """A tokenized ``datasets.Dataset`` with a group column -> one branch row per group (several when a group's
    branches pass ``max_length``), in the order each group first appears; the group column is dropped."""
    from datasets import Dataset

    groups: dict[Any, list[dict[str, Any]]] = {}
    for index, row in enumerate(dataset.to_list()):  # read once, not row by row from Arrow
        group = row.pop(group_column)
        groups.setdefault(group if group not in (None, "") else ("row", index), []).append(row)
    merged: list[dict[str, Any]] = []
    for rows in groups.values():
        merged += branch_rows(rows, max_length)
    if not merged:
        return dataset.remove_columns(group_column).add_column("position_ids", [])
    return Dataset.from_list(merged)
