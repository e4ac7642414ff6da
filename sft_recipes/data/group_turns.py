"""Join the single-turn rows of one group into one multi-turn conversation (``group_turns: true``).

Instruction sets built from one document (the six questions about a court opinion) repeat the document in every
row; most of the compute of such a row goes into reading the document again. Joined, the document is read once
and every answer is still trained:

    system, user(document + q1), assistant(a1), user(q2), assistant(a2), ...

The document is found as the text all the group's user turns start (or end) with; later turns keep only their
question.
The question order is shuffled per group (seeded), so every question also appears first, next to the document,
as it does in single-turn use. Rows that are not single-turn, or groups of one, pass through unchanged.
``group_turns: branches`` (branches.py) reads the document once too, and asks every question as it is asked alone.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from typing import Any

MIN_SHARED_CHARS = 40  # a shorter common ending is a coincidence, not a shared document


def _single_turn(row: dict[str, Any]) -> bool:
    roles = [m["role"] for m in row["messages"]]
    return roles in (["user", "assistant"], ["system", "user", "assistant"])


def _shared_prefix(texts: list[str]) -> str:
    """The common beginning, ended at a line break (or a space) so no question loses its first characters."""
    prefix = os.path.commonprefix(texts)
    for boundary in ("\n", " "):
        cut = prefix.rfind(boundary)
        if cut >= 0:
            return prefix[: cut + 1]
    return ""


def _shared_suffix(texts: list[str]) -> str:
    """The common ending, started at a line break (or a space) so no question loses its last characters."""
    return _shared_prefix([t[::-1] for t in texts])[::-1]


def _question(content: str, prefix: str, suffix: str) -> str:
    return content[len(prefix): len(content) - len(suffix)].strip()


def merge_group(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    group = str(rows[0].get("group", ""))
    systems = {next((m["content"] for m in r["messages"] if m["role"] == "system"), None) for r in rows}
    if len(rows) < 2 or len(systems) != 1 or not all(_single_turn(r) for r in rows):
        return rows
    order = list(rows)
    random.Random(f"{seed}:{group}").shuffle(order)
    users = [next(m for m in r["messages"] if m["role"] == "user") for r in order]
    texts = [u["content"] for u in users]
    prefix, suffix = _shared_prefix(texts), _shared_suffix(texts)
    prefix, suffix = (prefix, "") if len(prefix.strip()) >= len(suffix.strip()) else ("", suffix)
    if len((prefix or suffix).strip()) < MIN_SHARED_CHARS:
        return rows
    system = systems.pop()
    messages = [{"role": "system", "content": system, "train": None}] if system is not None else []
    for i, (row, user) in enumerate(zip(order, users)):
        question = user["content"] if i == 0 else _question(user["content"], prefix, suffix)
        answer = next(m for m in row["messages"] if m["role"] == "assistant")
        messages += [{"role": "user", "content": question, "train": user.get("train")}, dict(answer)]
    return [{
        "messages": messages,
        "source": order[0].get("source", ""),
        "task": "grouped",
        "id": f"{group}:grouped",
        "group": group,
    }]


def merge_groups(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[str(row.get("group") or row.get("id") or id(row))].append(row)
    out: list[dict[str, Any]] = []
    for members in groups.values():
        out.extend(merge_group(members, seed))
    return out
