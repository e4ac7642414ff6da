"""Normalise text, drop unusable rows, drop exact duplicates; every dropped row becomes a reject.

Normalisation (``normalize_text``): Unicode NFC; Windows / old-Mac line ends become "\\n"; runs of spaces, tabs and
no-break spaces inside a line collapse to one space, but a line's leading indentation is kept (code in answers
must still run); trailing spaces are stripped from each line; three or more newlines become one blank line; control
characters other than tab and newline are removed; the whole text is stripped.

A row is dropped when a user message is empty ("empty user instruction") or an assistant message says nothing
("empty assistant output": no text, no reasoning, no tool call). Rows without a user turn (raw ``text`` documents)
are fine.

Duplicates are exact matches of all messages (role and normalised content), so two rows that differ only in
spacing are duplicates; the first one read is kept and the later one's reason names it ("duplicate of a.jsonl:3").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sft_recipes.data.rejects import Reject, reason_counts

_LINE_ENDS = re.compile(r"\r\n?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INNER_SPACE = re.compile(r"(?<=\S)[ \t\u00a0]+")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")
_PLAIN = re.compile(r"[^\r\t\x00-\x1f\x7f\u00a0]*")


@dataclass
class CleanResult:
    rows: list[dict[str, Any]]
    rejects: list[Reject] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)  # read, kept, rejected: {reason kind: n}


def normalize_text(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if not _PLAIN.fullmatch(text):
        text = _CONTROL.sub("", _LINE_ENDS.sub("\n", text))
    if "  " in text or "\t" in text or "\u00a0" in text or " \n" in text:
        text = _TRAILING_SPACE.sub("", _INNER_SPACE.sub(" ", text))
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def content_key(messages: list[dict[str, Any]]) -> str:
    """What two rows must share to be duplicates: every message's role, (normalised) content, reasoning and calls."""
    import json

    def key(m: dict[str, Any]) -> str:
        extra = ""
        if m.get("reasoning") or m.get("tool_calls"):
            extra = "\x1f" + json.dumps([m.get("reasoning"), m.get("tool_calls")], sort_keys=True)
        return f"{m['role']}\x1f{m['content']}{extra}"

    return "\x1e".join(key(m) for m in messages)


def prompt_key(messages: list[dict[str, Any]]) -> str | None:
    """The messages before the last assistant turn, or None when they hold no user turn (nothing to leak)."""
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=len(messages))
    before = messages[:last]
    if not any(m["role"] == "user" for m in before):
        return None
    return content_key(before)


def clean_rows(
    rows: list[dict[str, Any]], dedupe: bool = True, seen: dict[str, str] | None = None
) -> CleanResult:
    """Normalise and filter rows (in place: the message dicts are rewritten).

    ``seen`` (content key -> source) may be shared between calls so duplicates across datasets are found too.
    """
    seen = {} if seen is None else seen
    result = CleanResult(rows=[])
    for row in rows:
        for m in row["messages"]:
            m["content"] = normalize_text(m["content"])
            if m.get("reasoning"):
                m["reasoning"] = normalize_text(m["reasoning"])
        reason = _unusable(row["messages"])
        if reason is None and dedupe:
            key = content_key(row["messages"])
            if key in seen:
                reason = f"duplicate of {seen[key]}"
            else:
                seen[key] = row["source"]
        if reason is not None:
            result.rejects.append(Reject(reason, row["source"], row))
        else:
            result.rows.append(row)
    result.counts = {"read": len(rows), "kept": len(result.rows), "rejected": reason_counts(result.rejects)}
    return result


def _unusable(messages: list[dict[str, Any]]) -> str | None:
    for m in messages:
        if not m["content"]:
            if m["role"] == "user":
                return "empty user instruction"
            if m["role"] == "assistant" and not m.get("tool_calls") and not m.get("reasoning"):
                return "empty assistant output"
    return None
