"""Train / validation / test splits that cannot leak.

Rows are split by ``group`` (all instructions built from one court opinion share one), never by row: the groups are
shuffled with the seed and handed to test, then validation, until each holds its fraction of the rows; the rest is
train (the last group always goes to train so it is never empty). Rows marked ``train_only`` (a dataset's
``train_only: true``, or citation practice) go to train and take no part in the draw, so the other rows split the
same with or without them. When a fraction is > 0 and there are at least
three groups, that split gets at least one group, so small data sets still have something to evaluate on.

Rows are compared on normalised content afterwards: a validation or test row whose whole conversation, or whose
prompt (the messages before the last assistant turn), already occurs in an earlier split (train, then validation)
is removed and reported as a reject ("leaks across splits: ..."). ``overlap_report`` then counts what the splits
still share (groups, conversations, prompts); every count must be 0, and the numbers are computed, not assumed.
"""

from __future__ import annotations

import random
from itertools import combinations
from typing import Any

from sft_recipes.data.rejects import Reject
from sft_recipes.data.clean import content_key, normalize_text, prompt_key

SPLITS = ("train", "validation", "test")
Row = dict[str, Any]


def split_rows(
    rows: list[Row], validation_size: float, test_size: float, seed: int
) -> tuple[dict[str, list[Row]], dict[str, Any]]:
    """Group-aware split; returns the splits and the overlap report (its "rejects" are the rows removed as leaks)."""
    members: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if not row.get("train_only"):
            members.setdefault(group_of(row), []).append(i)
    order = list(members)
    random.Random(seed).shuffle(order)
    drawn = sum(len(m) for m in members.values())
    targets = {
        "test": _target(test_size, drawn, len(order)),
        "validation": _target(validation_size, drawn, len(order)),
    }
    split_of_row = ["train"] * len(rows)
    filled = {"test": 0, "validation": 0}
    for group in order[:-1]:
        name = next((s for s in ("test", "validation") if filled[s] < targets[s]), None)
        if name is None:
            break
        for i in members[group]:
            split_of_row[i] = name
        filled[name] += len(members[group])
    splits: dict[str, list[Row]] = {s: [] for s in SPLITS}
    for i, row in enumerate(rows):
        splits[split_of_row[i]].append(row)
    keys = {id(row): _keys(row) for row in rows}  # computed once: the costly part on large sets
    splits, rejects = remove_leaks(splits, keys)
    report = overlap_report(splits, keys)
    report["removed_across_splits"] = len(rejects)
    report["rejects"] = rejects
    return splits, report


def group_of(row: Row) -> str:
    return str(row.get("group") or row.get("id") or row.get("source") or "")


def remove_leaks(
    splits: dict[str, list[Row]], keys: dict[int, tuple[str, str | None]] | None = None
) -> tuple[dict[str, list[Row]], list[Reject]]:
    """Drop later-split rows whose conversation or prompt already appears in an earlier split."""
    keys = keys or {}
    seen_content: dict[str, tuple[str, str]] = {}
    seen_prompt: dict[str, tuple[str, str]] = {}
    out: dict[str, list[Row]] = {}
    rejects: list[Reject] = []
    for name in SPLITS:
        kept = []
        for row in splits.get(name, []):
            content, prompt = keys.get(id(row)) or _keys(row)
            reason = _leak(seen_content.get(content), name, "same conversation as")
            if reason is None and prompt is not None:
                reason = _leak(seen_prompt.get(prompt), name, "same prompt as")
            if reason is not None:
                rejects.append(Reject(reason, row.get("source", ""), row))
                continue
            seen_content.setdefault(content, (name, row.get("source", "")))
            if prompt is not None:
                seen_prompt.setdefault(prompt, (name, row.get("source", "")))
            kept.append(row)
        out[name] = kept
    return out, rejects


def _leak(earlier: tuple[str, str] | None, split: str, what: str) -> str | None:
    if earlier is None or earlier[0] == split:
        return None
    return f"leaks across splits: {what} {earlier[0]} row {earlier[1]}"


def overlap_report(
    splits: dict[str, list[Row]], keys: dict[int, tuple[str, str | None]] | None = None
) -> dict[str, Any]:
    """What each pair of splits shares: groups, whole conversations and prompts (all normalised)."""
    keys = keys or {}
    index = {}
    for name, rows in splits.items():
        row_keys = [keys.get(id(r)) or _keys(r) for r in rows]
        index[name] = (
            {group_of(r) for r in rows},
            {c for c, _ in row_keys},
            {p for _, p in row_keys if p is not None},
        )
    pairs = {}
    for a, b in combinations(list(splits), 2):
        pairs[f"{a}/{b}"] = {
            "shared_groups": len(index[a][0] & index[b][0]),
            "shared_content": len(index[a][1] & index[b][1]),
            "shared_prompts": len(index[a][2] & index[b][2]),
        }
    return {
        "sizes": {name: len(rows) for name, rows in splits.items()},
        "groups": {name: len(index[name][0]) for name in splits},
        "pairs": pairs,
        "shared_groups": sum(p["shared_groups"] for p in pairs.values()),
        "shared_content": sum(p["shared_content"] for p in pairs.values()),
        "shared_prompts": sum(p["shared_prompts"] for p in pairs.values()),
    }


def _keys(row: Row) -> tuple[str, str | None]:
    messages = [{"role": m["role"], "content": normalize_text(m["content"])} for m in row["messages"]]
    return content_key(messages), prompt_key(messages)


def _target(fraction: float, n_rows: int, n_groups: int) -> int:
    """Rows to hold out: a fraction of the rows, or (1 and more) a number of rows, at most half of them."""
    if fraction <= 0:
        return 0
    target = min(int(fraction), n_rows // 2) if fraction >= 1 else round(fraction * n_rows)
    return max(target, 1) if n_groups >= 3 else target
