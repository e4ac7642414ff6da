"""Corrupt responses on purpose, to measure what noisy supervision costs (the noisy-vs-clean experiment).

Three kinds of damage that real instruction sets do contain, each a pure function of (text, random generator):

    shuffle   the response's words in a random order (fluent tokens, broken language)
    truncate  the response cut to 20-60% of its words (an answer that stops mid-sentence)
    junk      random junk tokens ("qv7#", "]]>", "@@") inserted between words (scraping debris)

``corrupt_rows`` picks EXACTLY ``round(rate * number of assistant messages)`` assistant messages with a seeded
generator, so the rate asked for is the rate applied, and the same seed always damages the same messages the same
way. The unit is the assistant message (not the row), so multi-turn rows are corrupted turn by turn. Kinds are
dealt round-robin over the picked messages in the seeded order, so every kind gets its share. A kind that cannot
change a message (shuffling a one-word answer) hands over to the next kind in ``kinds``, and the log records the
kind actually applied: every picked message really differs from its original.
"""

from __future__ import annotations

import copy
import random
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from sft_recipes import SFTRecipesError

KINDS = ("shuffle", "truncate", "junk")
TRUNCATE_KEEP = (0.2, 0.6)  # fraction of the words a truncated response keeps
JUNK_SHARE = 0.3  # junk tokens inserted per word of the response (at least one)
_JUNK_CHARS = string.ascii_lowercase + string.digits + "#@$%^&*~|<>[]{}"
_JUNK_FIXED = ("@@", "]]>", "&nbsp;", "\\x00", "<br/>", "###", "�", "{{}}")


class CorruptionError(SFTRecipesError):
    pass


def shuffle_words(text: str, rng: random.Random) -> str:
    """The same words in a random order (line breaks become spaces)."""
    words = text.split()
    rng.shuffle(words)
    return " ".join(words)


def truncate(text: str, rng: random.Random) -> str:
    """The first 20-60% of the words; a one-word text keeps 20-60% of its characters (at least one)."""
    keep = rng.uniform(*TRUNCATE_KEEP)
    words = text.split()
    if len(words) > 1:
        return " ".join(words[: max(1, int(len(words) * keep))])
    return text[: max(1, int(len(text) * keep))]


def junk_token(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(_JUNK_FIXED)
    return "".join(rng.choice(_JUNK_CHARS) for _ in range(rng.randint(2, 6)))


def inject_junk(text: str, rng: random.Random) -> str:
    """Junk tokens inserted at random word boundaries: ``max(1, round(0.3 * words))`` of them."""
    words = text.split()
    for _ in range(max(1, round(JUNK_SHARE * len(words)))):
        words.insert(rng.randint(0, len(words)), junk_token(rng))
    return " ".join(words)


CORRUPTIONS: dict[str, Callable[[str, random.Random], str]] = {
    "shuffle": shuffle_words,
    "truncate": truncate,
    "junk": inject_junk,
}


def corrupt_text(text: str, kind: str, rng: random.Random) -> str:
    if kind not in CORRUPTIONS:
        raise CorruptionError(f"unknown corruption {kind!r} (expected one of {', '.join(CORRUPTIONS)})")
    return CORRUPTIONS[kind](text, rng)


@dataclass
class CorruptionResult:
    rows: list[dict[str, Any]]  # deep copies; the input rows are left untouched
    log: list[dict[str, Any]] = field(default_factory=list)  # one entry per corrupted message
    assistant_messages: int = 0

    @property
    def corrupted(self) -> int:
        return len(self.log)

    @property
    def kind_counts(self) -> dict[str, int]:
        return dict(Counter(entry["kind"] for entry in self.log))

    def summary(self) -> dict[str, Any]:
        return {
            "assistant_messages": self.assistant_messages,
            "corrupted": self.corrupted,
            "applied_rate": round(self.corrupted / self.assistant_messages, 4) if self.assistant_messages else 0.0,
            "kinds": self.kind_counts,
        }


def check_settings(rate: float, kinds: Sequence[str]) -> None:
    if not 0.0 <= rate <= 1.0:
        raise CorruptionError(f"corruption rate must be in [0, 1], got {rate}")
    if not kinds:
        raise CorruptionError("no corruption kinds given")
    unknown = [k for k in kinds if k not in CORRUPTIONS]
    if unknown:
        raise CorruptionError(f"unknown corruption {unknown[0]!r} (expected one of {', '.join(CORRUPTIONS)})")


def corrupt_rows(
    rows: Sequence[dict[str, Any]], rate: float, seed: int, kinds: Sequence[str] = KINDS
) -> CorruptionResult:
    """Copies of ``rows`` with ``round(rate * assistant messages)`` assistant messages corrupted (see module doc)."""
    check_settings(rate, kinds)
    out = copy.deepcopy(list(rows))
    positions = [(r, m) for r, row in enumerate(out) for m, msg in enumerate(row["messages"])
                 if msg["role"] == "assistant"]
    result = CorruptionResult(rows=out, assistant_messages=len(positions))
    rng = random.Random(seed)
    picked = rng.sample(positions, round(rate * len(positions)))
    for i, (r, m) in enumerate(picked):
        message = out[r]["messages"][m]
        original = message["content"]
        first = i % len(kinds)
        for kind in [*kinds[first:], *kinds[:first]]:
            damaged = corrupt_text(original, kind, rng)
            if damaged != original:
                break
        else:
            raise CorruptionError(
                f"{out[r].get('source', 'a row')}: no corruption in {list(kinds)} changes the response {original!r}"
            )
        message["content"] = damaged
        result.log.append({"source": out[r].get("source", ""), "id": out[r].get("id", ""), "message": m,
                           "kind": kind, "original": original, "corrupted": damaged})
    return result
