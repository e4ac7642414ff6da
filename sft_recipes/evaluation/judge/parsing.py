"""Read a verdict out of a judge's reply, or say why there is none. Never guess a score.

The rules, in order:
1. Reasoning is not a verdict: ``<think>...</think>`` blocks are removed; an unclosed ``<think>`` hides the
   rest of the reply; a stray ``</think>`` hides what came before it.
2. Echoed text is not a verdict: lines of a candidate answer (or of the judge prompt, which shows the
   verdict format) that contain a verdict string are removed from the reply wherever the judge repeated them.
3. The verdict is the LAST strict match (``[[7]]``, ``[[A]]``). A verdict string that a candidate answer itself
   contains counts only when the judge states it unquoted on the final line of its reply; otherwise the match
   is skipped (an earlier unsuspicious match may still decide). So a candidate cannot vote for itself through a
   judge that merely quotes it.
4. Scores outside the scale are errors, not clipped values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

SCORE_PATTERN = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")
PAIRWISE_PATTERN = re.compile(r"\[\[\s*([ABC])\s*\]\]")
PAIRWISE_VERDICTS = {"A": "A", "B": "B", "C": "tie"}
THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
OPEN_QUOTES = {'"': '"', "`": "`", "\u201c": "\u201d", "\u00ab": "\u00bb"}


@dataclass(frozen=True)
class Parsed:
    verdict: float | str | None  # a score, or "A" / "B" / "tie"; None when the reply has no valid verdict
    error: str | None = None  # why there is no verdict

    @property
    def ok(self) -> bool:
        return self.verdict is not None


def strip_thinking(reply: str) -> str:
    text = THINK_BLOCK.sub("", reply)
    lower = text.lower()
    if "<think>" in lower:
        text = text[: lower.index("<think>")]
    lower = text.lower()
    if "</think>" in lower:
        text = text[lower.rindex("</think>") + len("</think>") :]
    return text


def parse_score(reply: str, scale: tuple[float, float], candidates: Iterable[str] = (), prompt: str = "") -> Parsed:
    """A rating ``[[x]]`` within ``scale`` (inclusive)."""
    match, error = _last_verdict(reply, SCORE_PATTERN, list(candidates), prompt)
    if match is None:
        return Parsed(None, error)
    value = float(match.group(1))
    low, high = scale
    if not low <= value <= high:
        return Parsed(None, f"rating {match.group(1)} is outside {low:g}-{high:g}")
    return Parsed(int(value) if value.is_integer() else value)


def parse_pairwise(reply: str, candidates: Iterable[str] = (), prompt: str = "") -> Parsed:
    """``[[A]]``, ``[[B]]`` or ``[[C]]`` (a tie) -> "A" / "B" / "tie"."""
    match, error = _last_verdict(reply, PAIRWISE_PATTERN, list(candidates), prompt)
    if match is None:
        return Parsed(None, error)
    return Parsed(PAIRWISE_VERDICTS[match.group(1)])


def _last_verdict(
    reply: str, pattern: re.Pattern, candidates: list[str], prompt: str
) -> tuple[re.Match | None, str | None]:
    if not reply or not reply.strip():
        return None, "empty reply"
    text = _remove_echoes(strip_thinking(reply), pattern, candidates + [prompt])
    matches = list(pattern.finditer(text))
    if not matches:
        return None, "no verdict in the required format"
    claimed = {_normal(m.group(0)) for c in candidates for m in pattern.finditer(c)}
    last_line_start = _last_line_start(text)
    for match in reversed(matches):
        if _normal(match.group(0)) not in claimed:
            return match, None
        if match.start() >= last_line_start and not _inside_quotes(text, match.start()):
            return match, None
    return None, "the only verdict in the reply is one a candidate answer contains (quoted, not the judge's own)"


def _remove_echoes(text: str, pattern: re.Pattern, sources: list[str]) -> str:
    for source in sources:
        for line in source.splitlines():
            line = line.strip()
            if line and pattern.search(line):
                text = text.replace(line, " ")
    return text


def _normal(verdict: str) -> str:
    return re.sub(r"\s+", "", verdict)


def _last_line_start(text: str) -> int:
    stripped = text.rstrip()
    return stripped.rfind("\n") + 1


def _inside_quotes(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    before = text[line_start:pos]
    for opening, closing in OPEN_QUOTES.items():
        if opening == closing:
            if before.count(opening) % 2 == 1:
                return True
        elif before.count(opening) > before.count(closing):
            return True
    return False
