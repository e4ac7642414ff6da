"""Case and statute citations, found with eyecite (the Free Law Project's extractor that CourtListener runs).

The citations answer lists every case an opinion cites in full, once, in order of first appearance, in the form the
opinion writes it, less pin cites and explanatory parentheticals:

    Anderson v. Liberty Lobby, Inc., 477 U.S. 242 (1986)
    Roe v. Wade, 410 U.S. 113, 93 S. Ct. 705, 35 L. Ed. 2d 147 (1973)      parallel citations stay together
    Smith v. Jones, 123 F.3d 456 (9th Cir. 1999)                           "123 F. 3d 456" is written "123 F.3d 456"

Reporters are normalised by eyecite (its corrected citation: "U. S." -> "U.S.", "F. 3d" -> "F.3d"). Short forms
("Anderson, 477 U.S. at 250", "Id. at 250", "supra") refer to a case already listed and are not listed again;
statutes ("42 U.S.C. § 1983") are their own list (the optional ``statutes`` task).

eyecite finds the citation, its pin cite and its year; the case name before it is read here, because eyecite's
guess stops inside Bluebook abbreviations ("Matsushita Elec. Indus. Co." becomes "Co.") and drops "In re",
"Ex parte" and "ex rel.". The name runs back from the comma before the citation over capitalised words, the
abbreviations of reporters-db, "v." and the small words of names ("of", "ex rel.", "d/b/a"), and stops at a
signal ("See", "In", "cf."), a lowercase word, or the end of the previous sentence.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sft_recipes.tasks.court_opinions.text import Span, abbreviations, squash

_NAME_WORDS = {"of", "the", "and", "&", "for", "on", "de", "del", "la", "ex", "rel.", "re", "parte", "d/b/a", "et",
               "al.", "ux.", "v.", "vs.", "v", "to", "in", "upon", "a", "an", "by", "y", "van", "von", "der", "da"}
_SIGNALS = {"see", "in", "cf.", "but", "accord", "compare", "contra", "e.g.,", "e.g.", "also", "under", "as", "after",
            "following", "like", "unlike", "applying", "citing", "quoting", "thus", "here", "similarly", "our",
            "this", "that", "and", "with", "following", "because", "since", "although", "when", "while", "both",
            "then", "per", "where", "whereas", "accordingly", "moreover", "further", "finally", "indeed", "cited",
            "relying", "overruling", "overruled", "abrogating", "abrogated", "discussing", "explaining", "holding",
            "id.", "ibid.", "supra", "infra", "guided", "governed", "controlled", "persuaded"}  # "Guided by X v. Y,"
_YEAR_PAREN = re.compile(r"\s*\(([^()]*?\b(?:1[6-9]|20)\d\d)\)")
_PIN = re.compile(r"\s*,\s*(?:at\s+)?[*¶§]*\s*[\dnN][\dnN.\-–—,&*\s]*?(?=\s*[(,.;]|\s*$)")
_PARALLEL_GAP = re.compile(r"(?:\s*,\s*(?:at\s+)?[*¶]?\s*[\dn][\dn.\-–—&*\s]*)?\s*,\s*")
_SUBSECTIONS = re.compile(r"(?:\([0-9A-Za-z]{1,4}\))*")
_DOCKET = re.compile(r",\s*No\.\s*[\w\-:.]+\s*$")


@dataclass(frozen=True)
class CaseCitation:
    name: str | None  # as written ("Matsushita Elec. Indus. Co. v. Zenith Radio Corp.")
    cites: tuple[str, ...]  # normalised ("475 U.S. 574"), parallel citations in order
    parenthetical: str | None  # court and year as written ("9th Cir. 1999"), or None
    span: Span  # from the name (or the first volume) to the closing parenthesis

    def render(self) -> str:
        out = ", ".join(([self.name] if self.name else []) + list(self.cites))
        return f"{out} ({self.parenthetical})" if self.parenthetical else out

    @property
    def key(self) -> str:
        return self.cites[0]


def eyecite_citations(text: str) -> list:
    """eyecite's citations of ``text`` (its log lines about overlapping matches are silenced)."""
    from eyecite import get_citations

    if not text.strip():
        return []  # eyecite refuses an empty document
    logger = logging.getLogger("eyecite")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return get_citations(text)
    finally:
        logger.setLevel(level)


def case_citations(text: str, start: int = 0) -> list[CaseCitation]:
    """Every case cited in full in ``text[start:]``, once, in order of first appearance."""
    from eyecite.models import FullCaseCitation

    found = [c for c in eyecite_citations(text) if isinstance(c, FullCaseCitation) and c.span()[0] >= start]
    out: dict[str, CaseCitation] = {}
    for group in _parallel_groups(text, found):
        citation = _case_citation(text, group)
        out.setdefault(citation.key, citation)
    return list(out.values())


def statute_citations(text: str, start: int = 0) -> list[tuple[str, Span]]:
    """Statutes and codes cited in ``text[start:]`` ("42 U.S.C. § 1983(a)"), once each, in order, as written."""
    from eyecite.models import FullLawCitation

    out: dict[str, Span] = {}
    for c in eyecite_citations(text):
        if isinstance(c, FullLawCitation) and c.span()[0] >= start:
            s, e = c.span()
            e = _SUBSECTIONS.match(text, e).end()  # "§ 922" + "(g)(1)"
            out.setdefault(squash(text[s:e]), Span(s, e, squash(text[s:e])))
    return list(out.items())


def citation_keys(answer: str) -> set[str]:
    """The normalised citations ("477 U.S. 242") named in an answer, by eyecite: what a citation list cites,
    whatever the case names or parentheticals around them look like."""
    from eyecite.models import FullCaseCitation

    return {c.corrected_citation() for c in eyecite_citations(answer) if isinstance(c, FullCaseCitation)}


def _parallel_groups(text: str, found: list) -> list[list]:
    """A citation that follows the previous one with only a comma (and its pin cite) between is a parallel
    citation of the same case ("410 U.S. 113, 93 S. Ct. 705")."""
    groups: list[list] = []
    for c in found:
        if groups and _PARALLEL_GAP.fullmatch(text[groups[-1][-1].span()[1] : c.span()[0]]):
            groups[-1].append(c)
        else:
            groups.append([c])
    return groups


def _case_citation(text: str, group: list) -> CaseCitation:
    first, last = group[0], group[-1]
    name, name_start = case_name_before(text, first.span()[0])
    paren, end = _year_parenthetical(text, last)
    cites = tuple(dict.fromkeys(c.corrected_citation() for c in group))
    start = name_start if name else first.span()[0]
    return CaseCitation(name, cites, paren, Span(start, end, squash(text[start:end])))


def _year_parenthetical(text: str, citation) -> tuple[str | None, int]:
    """The "(court year)" parenthetical after a citation and its pin cite, and where it ends."""
    pos = citation.span()[1]
    pin = _PIN.match(text, pos)
    if pin:
        pos = pin.end()
    m = _YEAR_PAREN.match(text, pos)
    if m:
        return squash(m.group(1)), m.end()
    return None, citation.span()[1]


def case_name_before(text: str, cite_start: int) -> tuple[str | None, int]:
    """The case name that ends with the comma before a citation, and where it starts."""
    before = text[max(0, cite_start - 300) : cite_start]
    before = re.split(r"\n[ \t]*\n", before)[-1]  # a name does not run back into the previous paragraph
    stripped = before.rstrip()
    if not stripped.endswith(","):
        return None, cite_start
    stripped = _DOCKET.sub("", stripped[:-1].rstrip()).rstrip(",").rstrip()
    offset = cite_start - len(before)
    words = [(m.start() + offset, m.group(0)) for m in re.finditer(r"\S+", stripped)]
    taken: list[tuple[int, str]] = []
    for i in range(len(words) - 1, -1, -1):
        pos, word = words[i]
        following = taken[-1][1] if taken else ""
        if not _continues_name(word, following, words[i - 1][1] if i else "", len(taken)):
            break
        taken.append((pos, word))
        if word.startswith("(") and not any(")" in w for _, w in taken):
            break  # "... (Smith v. Jones, 1 F.3d 2 (1st Cir. 1999))": the parenthesis opens the name
        if len(taken) >= 24:
            break
    taken.reverse()
    if taken and taken[0][1].startswith("(") and not any(")" in w for _, w in taken):
        taken[0] = (taken[0][0] + 1, taken[0][1][1:])
    while taken and taken[0][1].lower() in _NAME_WORDS - {"in", "ex"}:
        taken.pop(0)
    if not taken or not (taken[0][1][0].isupper() or taken[0][1][0].isdigit()):
        return None, cite_start
    start = taken[0][0]
    end = taken[-1][0] + len(taken[-1][1])
    return squash(text[start:end]), start


def _continues_name(word: str, following: str, previous: str, taken: int) -> bool:
    """Is ``word`` part of the case name that ``following`` continues (reading backwards)?"""
    low = word.lower()
    if word.endswith((";", ":", ")", "]", "”", '"')) or word in ("—", "–", "-"):
        return False
    if low == "in" and following.lower() == "re":
        return True
    if low == "ex" and following.lower() in ("parte", "rel."):
        return True
    if low.rstrip(",") in _SIGNALS:
        return False
    if word.endswith(".") and word not in ("v.", "vs.", "rel.", "al.", "ux."):
        return _is_abbreviation(word)
    if word[0].isupper() or word[0].isdigit() or word[0] in "'’(":
        return True
    return low in _NAME_WORDS


def _is_abbreviation(word: str) -> bool:
    """A word ending in a period that does not end a sentence: an abbreviation or an initial."""
    core = word.rstrip(".").lstrip("(\"'“")
    if not core or not (core[0].isupper() or core[0].isdigit()) or core.replace(".", "").isdigit():
        return False  # a number ("§ 16.003.") ends its sentence
    if len(core) == 1 or "." in core:
        return True  # an initial, or "U.S.", "N.Y."
    return core.lower() in abbreviations() or ("'" in core or "’" in core)
