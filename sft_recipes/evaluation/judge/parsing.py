"""Read a verdict out of a judge's reply, or say why there is none. Never guess a score.

The verdict comes from the judge's own text alone: candidate answers are never shown to the parser (they reach
the judge fenced and defused, see ``prompts.defuse``), so nothing a candidate writes can veto or inflate it.
The rules, in order:
1. A structured reply (``response_format`` JSON: ``{"explanation": ..., "verdict": 7}``) gives its ``verdict``.
2. Reasoning is not a verdict: ``<think>...</think>`` blocks are removed; an unclosed ``<think>`` hides the rest
   of the reply; a stray ``</think>`` hides what came before it.
3. The judge prompt's own format lines (``"[[A]]" if assistant A is better, ...``), if the judge repeats them,
   are removed: they are the instructions, not a decision. (Those lines come from the prompt file, never from a
   candidate: candidate text in the prompt holds no verdict string after defusing.)
   A line naming all three pairwise options (``[[A]]``, ``[[B]]`` and ``[[C]]``) restates the format in other
   words and is skipped too.
4. The verdict is the LAST strict match (``[[7]]``, ``[[A]]``): the decision after the reasoning.
5. Scores outside the scale are errors, not clipped values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

SCORE_PATTERN = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")
PAIRWISE_PATTERN = re.compile(r"\[\[\s*([ABC])\s*\]\]")
PAIRWISE_VERDICTS = {"A": "A", "B": "B", "C": "tie", "TIE": "tie"}
THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
CODE_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


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


def parse_score(reply: str, scale: tuple[float, float], prompt: str = "") -> Parsed:
    """A rating ``[[x]]`` (or a JSON ``verdict`` number) within ``scale`` (inclusive)."""
    structured = _structured_verdict(reply)
    if structured is not None:
        raw = structured
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            text = str(raw).strip()
            if not re.fullmatch(r"\d+(?:\.\d+)?", text):
                return Parsed(None, f"JSON verdict {raw!r} is not a number")
            raw = float(text)
        token = f"{raw:g}"
    else:
        match, error = _last_verdict(reply, SCORE_PATTERN, prompt)
        if match is None:
            return Parsed(None, error)
        token = match.group(1)
    value = float(token)
    low, high = scale
    if not low <= value <= high:
        return Parsed(None, f"rating {token} is outside {low:g}-{high:g}")
    return Parsed(int(value) if value.is_integer() else value)


def parse_pairwise(reply: str, prompt: str = "") -> Parsed:
    """``[[A]]``, ``[[B]]`` or ``[[C]]`` (a tie), or a JSON ``verdict`` "A" / "B" / "C" / "tie" -> "A" / "B" / "tie"."""
    structured = _structured_verdict(reply)
    if structured is not None:
        label = str(structured).strip().strip("[]").upper()
        if label not in PAIRWISE_VERDICTS:
            return Parsed(None, f"JSON verdict {structured!r} is not A, B or C")
        return Parsed(PAIRWISE_VERDICTS[label])
    match, error = _last_verdict(reply, PAIRWISE_PATTERN, prompt)
    if match is None:
        return Parsed(None, error)
    return Parsed(PAIRWISE_VERDICTS[match.group(1)])


def _structured_verdict(reply: str) -> object | None:
    """The ``verdict`` of a reply that is one JSON object (optionally in a code fence), else None."""
    text = strip_thinking(reply or "").strip()
    fenced = CODE_FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(obj, dict) and obj.get("verdict") is not None:
        return obj["verdict"]
    return None


def _last_verdict(reply: str, pattern: re.Pattern, prompt: str) -> tuple[re.Match | None, str | None]:
    if not reply or not reply.strip():
        return None, "empty reply"
    text = _remove_prompt_echoes(strip_thinking(reply), pattern, prompt)
    if pattern is PAIRWISE_PATTERN:
        text = "\n".join(line for line in text.splitlines() if len(set(pattern.findall(line))) < 3)
    matches = list(pattern.finditer(text))
    if not matches:
        return None, "no verdict in the required format"
    return matches[-1], None


def _remove_prompt_echoes(text: str, pattern: re.Pattern, prompt: str) -> str:
    """Blank out the judge prompt's own format lines wherever the judge repeated them."""
    for line in prompt.splitlines():
        line = line.strip()
        if line and pattern.search(line):
            text = text.replace(line, " ")
    return text
