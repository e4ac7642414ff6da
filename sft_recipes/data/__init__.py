"""Instruction data, from files on disk to conversation rows ready for splitting.

    sources.py         read records from .json / .jsonl / .csv / .parquet, a folder of .txt / .json documents,
                       a saved dataset dir, or the Hub
    formats.py         turn each record into a conversation row (alpaca, sharegpt, messages, ...), once; court
                       opinions go to their task family (``sft_recipes/tasks/court_opinions/``)
    clean.py           whitespace normalisation, empty turns, exact duplicates
    mix.py             several datasets mixed by weight
    split.py           group-aware train / validation / test with a leakage check
    load.py            the entry points: ``load_conversations`` and ``split_conversations``

A row is a plain dict (see ``sft_recipes/conversation.py``) plus ``group``: rows sharing a group
(the instructions built from one opinion) always land in the same split.

Nothing is dropped silently: a row that cannot be used becomes a *reject*
``{"reason": ..., "source": "file:line", "row": <the original record or row>}``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

Reject = dict[str, Any]


def make_reject(reason: str, source: str, row: Any) -> Reject:
    return {"reason": reason, "source": source, "row": row}


def reason_counts(rejects: list[Reject]) -> dict[str, int]:
    """Rejects counted by the kind of reason ("duplicate of a.jsonl:3" counts as "duplicate")."""
    return dict(Counter(reason_kind(r["reason"]) for r in rejects))


def reason_kind(reason: str) -> str:
    """Reasons that name another row are grouped so counts stay readable."""
    if reason.startswith("duplicate of "):
        return "duplicate"
    if reason.startswith("leaks across splits"):
        return "leaks across splits"
    if reason.startswith("too long:"):
        return "too long"
    return reason
