"""Paragraphs and sentences of an opinion, with their character offsets in the prompt.

Every answer points back to where it is found, so the splitters return ``Span``s (start, end, text) rather than
strings. A paragraph is a run of lines between blank lines (hard-wrapped lines, as CourtListener's ``plain_text``
has them, stay one paragraph); a sentence ends at ``.``, ``!`` or ``?`` before a capital letter, except after a legal
abbreviation ("v.", "Cir.", "Inc.", "Indus.", a state or reporter abbreviation) or an initial.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sft_recipes.data.clean import normalize_text

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"“(\[]?[A-Z])")
_WORDS = re.compile(r"\S+")
_COMMON_ABBREVIATIONS = (
    "v", "vs", "no", "nos", "inc", "co", "corp", "ltd", "llc", "cir", "ct", "app", "supp", "mr", "mrs", "ms", "dr",
    "jr", "sr", "st", "stat", "sec", "art", "e.g", "i.e", "id", "cf", "al", "dist", "div", "dept", "j", "jj", "c.j",
    "d.c", "ed", "fed", "civ", "crim", "ex", "rel", "assn", "bros", "ann", "rev", "gen", "u.s", "u.s.c", "r", "p",
    "proc", "evid", "pet", "op", "ch", "cl", "para", "pp", "n", "nn", "ibid", "seq", "et", "etc", "cert", "reh'g",
    "aff'd", "rev'd", "approx", "ord", "cty", "twp", "hon", "messrs", "pty", "plc", "gmbh", "cie",
)
_REPORTER_WORDS = (
    "so", "rptr", "dec", "super", "l", "f", "s", "a", "b", "n.e", "n.w", "s.e", "s.w", "n.y.s", "n.y", "b.r",
    "f.2d", "f.3d", "f.4th", "p.2d", "p.3d", "a.2d", "a.3d", "misc", "div", "cl", "vet", "m.j", "t.c", "wl",
)
_ENGLISH_WORDS = frozenset({"all", "coal", "broad", "equal", "found", "rest", "enter", "me", "ore", "law", "trial"})


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str  # the words of the span joined by single spaces

    def as_list(self) -> list[int]:
        return [self.start, self.end]


def squash(text: str) -> str:
    """Words joined by single spaces (line breaks of hard-wrapped text become spaces)."""
    return " ".join(text.split())


def clean_opinion_text(text: str) -> str:
    """The text as the prompt holds it: the data cleaner's normalisation, and no line indentation (captions in
    plain-text opinions are centred with runs of spaces that carry nothing)."""
    text = "\n".join(line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return normalize_text(text)


def paragraphs(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The paragraphs of ``text[start:end]`` as spans of ``text``."""
    end = len(text) if end is None else end
    out, pos = [], start
    for m in _PARAGRAPH_BREAK.finditer(text, start, end):
        out.append(_span(text, pos, m.start()))
        pos = m.end()
    out.append(_span(text, pos, end))
    return [p for p in out if p.text]


def sentences(text: str, paragraph: Span) -> list[Span]:
    """The sentences of one paragraph, as spans of ``text``."""
    out, pos = [], paragraph.start
    for m in _SENTENCE_END.finditer(text, paragraph.start, paragraph.end):
        words = text[pos : m.start()].rsplit(None, 1)
        word = words[-1].lstrip("(\"'“").lower() if words else ""
        if text[m.start()] == "." and (word in abbreviations() or (len(word) == 1 and word.isalpha())):
            continue
        out.append(_span(text, pos, m.start() + len(m.group(0).rstrip())))
        pos = m.end()
    if pos < paragraph.end:
        out.append(_span(text, pos, paragraph.end))
    return [s for s in out if s.text]


def all_sentences(text: str, start: int = 0) -> list[Span]:
    return [s for p in paragraphs(text, start) for s in sentences(text, p)]


def word_count(text: str) -> int:
    return len(_WORDS.findall(text))


@lru_cache(maxsize=1)
def abbreviations() -> frozenset[str]:
    """Words after which a period does not end a sentence: common legal ones, the words of common reporters, and
    the Bluebook case-name and state abbreviations of reporters-db (less the few that are also English words that
    end sentences, such as "All." or "Me.")."""
    import reporters_db

    words = set(_COMMON_ABBREVIATIONS) | set(_REPORTER_WORDS)
    for name in list(reporters_db.CASE_NAME_ABBREVIATIONS) + list(reporters_db.STATE_ABBREVIATIONS):
        for word in name.split():
            if word.endswith("."):
                words.add(word[:-1].lower())
    return frozenset(words - _ENGLISH_WORDS)


def _span(text: str, start: int, end: int) -> Span:
    """A span trimmed of surrounding whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end, squash(text[start:end]))
