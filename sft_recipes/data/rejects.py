"""The one ``Reject``: a row that could not be used, with the reason, where it came from and the row itself.

Nothing is dropped silently: every stage that drops a row (reading, cleaning, splitting, tokenizing, a task's
builder) returns it as a ``Reject``; ``to_dict`` is its line in ``rejects.jsonl``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable


@dataclass
class Reject:
    reason: str
    source: str = ""  # "file:line" (or "<dataset>[split]:row")
    row: Any = None  # the original record or conversation row
    split: str | None = None  # the split it was dropped from, once rows are split
    stage: str | None = None  # the stage that dropped it, where a split does not say (e.g. "held-out loss")

    def to_dict(self) -> dict[str, Any]:
        out = {"reason": self.reason, "source": self.source, "row": self.row}
        out.update({k: v for k, v in (("split", self.split), ("stage", self.stage)) if v is not None})
        return out


def reason_counts(rejects: Iterable[Reject]) -> dict[str, int]:
    """Rejects counted by the kind of reason ("duplicate of a.jsonl:3" counts as "duplicate")."""
    return dict(Counter(reason_kind(r.reason) for r in rejects))


def reason_kind(reason: str) -> str:
    """Reasons that name another row are grouped so counts stay readable."""
    if reason.startswith("duplicate of "):
        return "duplicate"
    if reason.startswith("leaks across splits"):
        return "leaks across splits"
    if reason.startswith("too long:"):
        return "too long"
    return reason
