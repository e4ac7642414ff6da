"""The disposition of an opinion, in any tense and any multi-part form, as canonical capitals.

    "AFFIRMED."                                                        -> AFFIRMED
    "Reversed and remanded."                                           -> REVERSED AND REMANDED
    "The judgment of the Court of Appeals is reversed, and the case
     is remanded for further proceedings."                            -> REVERSED AND REMANDED
    "We therefore REVERSE the judgment ... and REMAND the case ..."    -> REVERSED AND REMANDED
    "We affirm in part, reverse in part, and remand."                  -> AFFIRMED IN PART AND REVERSED IN PART AND
                                                                          REMANDED
    "The order will be vacated and the matter remanded."               -> VACATED AND REMANDED
    "IT IS ORDERED that the petition be, and it hereby is, DENIED."    -> DENIED
    "For these reasons, the Court GRANTS in part and DENIES in part."  -> GRANTED IN PART AND DENIED IN PART
    "Judgment affirmed as modified."                                   -> AFFIRMED AS MODIFIED
    "By the Court.—Judgment reversed and cause remanded."              -> REVERSED AND REMANDED

What counts is what the court does now: a line of disposition words; "we" with the verb in the present ("We
affirm", "we therefore reverse ... and remand") or "the Court" with it ("the Court GRANTS the motion"); or "the" (this, its ...) judgment, order, case, petition ... that
"is", "are", "be", "will be", "must be", "shall be" or "hereby is" affirmed, reversed, ... History in the past tense ("the Court of
Appeals affirmed", "the motion was denied", "which had reversed") and what a dissent "would" do do not count.

The disposition is read from the court's own opinion (the text before a separate opinion's heading, "JONES, J.,
dissenting."): the last of its final paragraphs that states one gives every disposition it states, in order, each
once, joined by " AND ".
"""

from __future__ import annotations

import re

from sft_recipes.tasks.court_opinions.text import Span, paragraphs, sentences

VERBS = {  # base form -> the disposition word
    "affirm": "AFFIRMED", "reverse": "REVERSED", "remand": "REMANDED", "vacate": "VACATED", "dismiss": "DISMISSED",
    "grant": "GRANTED", "deny": "DENIED", "modify": "MODIFIED",
}
PARTICIPLES = {word.lower(): word for word in VERBS.values()}
_THIRD_TO_BASE = {"affirms": "affirm", "reverses": "reverse", "remands": "remand", "vacates": "vacate",
                  "dismisses": "dismiss", "grants": "grant", "denies": "deny", "modifies": "modify"}
FINAL_PARAGRAPHS = 5

_PART = r"(?:[\s-]+(?:in[\s-]+part|as\s+modified))?"  # "AFFIRMED-IN-PART" is the Federal Circuit's spelling
_PARTICIPLE = r"(?:affirmed|reversed|remanded|vacated|dismissed|granted|denied|modified)"
_BASE = r"(?:affirm|reverse|remand|vacate|dismiss|grant|deny|modify)"
_JOIN = r"(?:\s*[,;]\s*(?:and\s+)?|\s+and\s+)"
_SUBJECTS = (
    r"judgments?|orders?|decrees?|decisions?|convictions?|sentences?|appeals?|petitions?|motions?|writs?|case|cause|"
    r"matter|rulings?|applications?|complaint|claims?|awards?|verdict|action|proceedings?|suit|indictment|"
    r"requests?|it|same|determinations?|findings?|dismissal|denial|grant"
)
_STANDALONE = re.compile(
    rf"^(?:(?:the\s+)?(?:{_SUBJECTS})(?:\s+(?:for|of)\s+\w+(?:\s+\w+)?)?\s+(?:is\s+|are\s+)?)?"
    rf"(?P<chain>{_PARTICIPLE}{_PART}"
    rf"(?:{_JOIN}(?:(?:the\s+)?(?:{_SUBJECTS})\s+)?{_PARTICIPLE}{_PART})*)"
    r"(?:,?\s+(?:with|for|and\s+costs|costs)\s+[^.]*)?[.!]?$",
    re.IGNORECASE,
)
_ORDER_PREFIX = re.compile(r"^(?:by\s+the\s+court\.?\s*[—–:-]+\s*|per\s+curiam[.:]?\s*[—–-]*\s*)", re.IGNORECASE)
_WE = re.compile(
    rf"\bwe\s+(?:(?:therefore|accordingly|thus|hereby|now|also|must|will|shall|consequently|respectfully|"
    rf"summarily|instead|simply|,)\s*)*(?P<verb>{_BASE}){_PART}\b",
    re.IGNORECASE,
)
_WE_MORE = re.compile(rf"{_JOIN}(?:(?:then|also|further)\s+)?(?P<verb>{_BASE}){_PART}\b", re.IGNORECASE)
_PASSIVE = re.compile(
    rf"(?:\b(?:the|this|that|its|their|his|her|our|each|both|such|[\w.-]+(?:'s|s'|’s|s’))\s+(?:[\w'’.-]+\s+){{0,4}}|^)"
    rf"(?:{_SUBJECTS})\b"
    rf"[^;]{{0,200}}?\b(?:is|are|be|hereby|stands?)(?:\s*,\s*and\s+(?:it\s+|the\s+same\s+)?(?:hereby\s+)?"
    rf"(?:is|are)\s*,)?\s+(?:(?:hereby|therefore|accordingly|thus|also|summarily|otherwise|likewise|further|now|"
    rf"respectfully)\s+)*(?P<verb>{_PARTICIPLE}){_PART}\b",
    re.IGNORECASE,
)
_THIRD = r"(?:affirms|reverses|remands|vacates|dismisses|grants|denies|modifies)"
_COURT_ACTS = re.compile(
    rf"\b(?:the|this)\s+court\s+(?:(?:hereby|therefore|accordingly|thus|also|now)\s+)*(?P<verb>{_THIRD}){_PART}\b",
    re.IGNORECASE,
)
_COURT_MORE = re.compile(rf"{_JOIN}(?P<verb>{_THIRD}){_PART}\b", re.IGNORECASE)
_PASSIVE_MORE = re.compile(  # "..., and remanded", "and the matter remanded", "and the case is remanded"
    rf"{_JOIN}(?:(?:the\s+)?(?:{_SUBJECTS})\s+(?:is\s+|are\s+)?)?(?P<verb>{_PARTICIPLE}){_PART}\b", re.IGNORECASE
)
_SEPARATE_OPINION = re.compile(
    r"^(?:[A-Z][^\n]{0,120}?(?:,|\()\s*(?:concurring|dissenting)(?:\s+in\s+(?:part|the\s+judgment)[^.:\n]*)?\)?[.:]?"
    r"|(?:FOOTNOTES|Footnotes|NOTES|Notes)\s*:?|[-_*=]{5,})\s*$",
    re.MULTILINE,
)


def court_opinion_end(text: str, start: int = 0) -> int:
    """Where the court's own opinion ends: at the heading of the first separate opinion (a concurrence or a
    dissent) or of the footnotes after ``start``, else the end of the text."""
    m = _SEPARATE_OPINION.search(text, start)
    return m.start() if m else len(text)


def find_disposition(text: str, start: int = 0) -> tuple[str, Span] | None:
    """(canonical disposition, the paragraph that states it), or None."""
    end = court_opinion_end(text, start)
    for paragraph in reversed(paragraphs(text, start, end)[-FINAL_PARAGRAPHS:]):
        words = paragraph_dispositions(text, paragraph)
        if words:
            return " AND ".join(dict.fromkeys(words)), paragraph
    return None


def paragraph_dispositions(text: str, paragraph: Span) -> list[str]:
    """The dispositions a paragraph states, in order."""
    m = _STANDALONE.match(_ORDER_PREFIX.sub("", paragraph.text))
    if m:
        return _chain(m.group("chain"))
    found: list[tuple[int, str]] = []
    for sentence in sentences(text, paragraph):
        found += [(sentence.start + pos, word) for pos, word in sentence_dispositions(sentence.text)]
    return [word for _, word in sorted(found)]


def sentence_dispositions(sentence: str) -> list[tuple[int, str]]:
    """(position, disposition) for each disposition a sentence states in the court's present voice."""
    sentence = re.sub(r"\bwould\b.*", "", sentence)  # what a dissent (or a hypothetical) would do is not done
    found: list[tuple[int, str]] = []
    for m in _WE.finditer(sentence):
        found.append((m.start("verb"), _word(sentence[m.start("verb") : m.end()])))
        for more in _WE_MORE.finditer(sentence, m.end()):
            found.append((more.start("verb"), _word(sentence[more.start("verb") : more.end()])))
    for m in _COURT_ACTS.finditer(sentence):
        found.append((m.start("verb"), _word(sentence[m.start("verb") : m.end()])))
        for more in _COURT_MORE.finditer(sentence, m.end()):
            found.append((more.start("verb"), _word(sentence[more.start("verb") : more.end()])))
    for m in _PASSIVE.finditer(sentence):
        found.append((m.start("verb"), _word(sentence[m.start("verb") : m.end()])))
        pos = m.end()
        while (more := _PASSIVE_MORE.match(sentence, pos)) is not None:
            found.append((more.start("verb"), _word(sentence[more.start("verb") : more.end()])))
            pos = more.end()
    return sorted(dict(found).items())


def _chain(text: str) -> list[str]:
    return [_word(m.group(0)) for m in re.finditer(rf"{_PARTICIPLE}{_PART}", text, re.IGNORECASE)]


def _word(match: str) -> str:
    """"reverse in part" / "REVERSED" -> "REVERSED IN PART" / "REVERSED"."""
    parts = re.split(r"[\s-]+", match.strip())
    verb = parts[0].lower()
    word = VERBS.get(verb) or PARTICIPLES.get(verb) or VERBS[_THIRD_TO_BASE[verb]]
    qualifier = " ".join(parts[1:]).upper()
    return f"{word} {qualifier}" if qualifier else word
