"""The answer of every task, derived from the prompt's document by a fixed rule, with where it is found.

    case_name, court   the caption's value (caption.py): the prompt's own spelling, at its first place
    holding            the disposition (dispositions.py), e.g. "REVERSED AND REMANDED"
    citations          the cases cited in full, one per line (citations.py)
    issue              the first sentence of the court's opinion that states the question decided ("The question
                       presented is whether ...", "We must decide whether ...", "This appeal asks whether ...",
                       "At issue is whether ..."); failing that, its first sentence with "whether"
    summarize          an EXTRACTIVE summary, a sentence of the opinion for each part: "<case name> (<court>,
                       <year>)." (the parts the caption shows), the issue sentence (when there is none, the first
                       sentence of the first body paragraph of 12+ words: what the case is about, an author line run
                       into it such as "KAFKER, J." left out), the first sentence announcing the holding ("we hold",
                       "we conclude", "the Court concludes"), each once, then "Disposition: <holding>." when the
                       holding is known
    statutes           (optional task) the statutes and codes cited, one per line, as written

Each answer carries its evidence: the spans of the document that hold it. Everything is looked for in the court's
own opinion, after the caption and before any concurrence, dissent or footnotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sft_recipes.tasks.court_opinions.caption import Document
from sft_recipes.tasks.court_opinions.citations import case_citations, statute_citations
from sft_recipes.tasks.court_opinions.dispositions import court_opinion_end, find_disposition, paragraph_dispositions
from sft_recipes.tasks.court_opinions.text import Span, paragraphs, sentences, squash, word_count

SUMMARY_MIN_WORDS = 12
_ISSUE_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(question|issue)s?\s+(presented|before\s+(us|the\s+court|this\s+court)|on\s+appeal|for\s+decision|"
        r"in\s+this\s+(case|appeal)|we\s+(must\s+)?(decide|address|resolve))\b",
        r"\bthe\s+(sole|only|central|narrow|principal|dispositive|threshold|single|dispositive)\s+(question|issue)\b",
        r"\b(we|the\s+court)\s+(must\s+|now\s+|are\s+asked\s+to\s+)?(decide|consider|address|determine|resolve)\s+"
        r"(whether|if)\b",
        r"\b(this|the)\s+(case|appeal|petition|motion)\s+(asks|presents|raises|requires\s+us\s+to\s+(decide|determine))\b",
        r"\bthe\s+(question|issue)\s+(is|was)\s+whether\b",
        r"\bat\s+issue\s+(here\s+|in\s+this\s+(case|appeal)\s+)?is\s+whether\b",
        r"\bwe\s+(granted|agreed\s+to\s+hear)\b.{0,80}\bto\s+(decide|resolve|consider|determine)\s+whether\b",
    )
]
_HOLDING_SENTENCE = re.compile(r"\b(we|the\s+court)\s+(therefore\s+)?(hold|holds|conclude|concludes)\b", re.IGNORECASE)
_AUTHOR = re.compile(
    r"^(?:(?:Chief\s+)?(?:Justice|Judge|JUSTICE|JUDGE)\s+)?[A-Z][A-Za-z'’-]+(?:\s+[A-Z][A-Za-z'’-]+)?,\s+"
    r"(?:(?:Chief|Senior|Circuit|District|Presiding)\s+)*(?:Judge|Justice|J\.|C\.\s?J\.|P\.\s?J\.)[.:,]?\s*"
)


@dataclass
class Answer:
    text: str
    evidence: list[Span] = field(default_factory=list)


@dataclass
class Unavailable:
    """An answer the prompt cannot support, with the reason (the row becomes a reject)."""

    reason: str


def derive_answers(doc: Document, tasks: tuple[str, ...]) -> dict[str, Answer | Unavailable]:
    end = court_opinion_end(doc.text, doc.body_start)
    out: dict[str, Answer | Unavailable] = {}
    holding = _holding(doc, end)
    issue = find_issue(doc.text, doc.body_start, end)
    for task in tasks:
        if task in ("case_name", "court"):
            span = doc.case_name if task == "case_name" else doc.court
            out[task] = Answer(span.text, [span]) if span else Unavailable(doc.missing[task])
        elif task == "holding":
            out[task] = holding
        elif task == "citations":
            found = case_citations(doc.text[:end], doc.body_start)
            out[task] = (Answer("\n".join(c.render() for c in found), [c.span for c in found]) if found
                         else Unavailable("no case is cited in full"))
        elif task == "statutes":
            laws = statute_citations(doc.text[:end], doc.body_start)
            out[task] = (Answer("\n".join(t for t, _ in laws), [s for _, s in laws]) if laws
                         else Unavailable("no statute is cited"))
        elif task == "issue":
            out[task] = Answer(issue.text, [issue]) if issue else Unavailable("no sentence states the question decided")
        elif task == "summarize":
            out[task] = extractive_summary(doc, end, holding, issue)
    return out


def _holding(doc: Document, end: int) -> Answer | Unavailable:
    found = find_disposition(doc.text[:end], doc.body_start)
    if found is None:
        return Unavailable("no disposition (AFFIRMED, we reverse, is vacated, ...) in the final paragraphs")
    return Answer(found[0], [found[1]])


def find_issue(text: str, start: int, end: int) -> Span | None:
    candidates = [s for p in paragraphs(text, start, end) for s in sentences(text, p)]
    for pattern in _ISSUE_PATTERNS:
        for sentence in candidates:
            if pattern.search(sentence.text):
                return sentence
    return next((s for s in candidates if re.search(r"\bwhether\b", s.text, re.IGNORECASE)), None)


def extractive_summary(doc: Document, end: int, holding: Answer | Unavailable,
                       issue: Span | None = None) -> Answer | Unavailable:
    """Caption, the question (or, when no sentence states it, what the case is about), the answer, the outcome:
    each a sentence of the opinion."""
    head, evidence = _summary_head(doc)
    paras = paragraphs(doc.text, doc.body_start, end)
    body = [p for p in paras if word_count(p.text) >= SUMMARY_MIN_WORDS and not paragraph_dispositions(doc.text, p)]
    if not body:
        return Unavailable("no body paragraph to summarize")
    announced = next((s for p in paras if not paragraph_dispositions(doc.text, p) for s in sentences(doc.text, p)
                      if _HOLDING_SENTENCE.search(s.text)), None)
    picked: list[Span] = []
    for sentence in (issue or _opening_sentence(doc.text, body[0]), announced):
        if sentence is not None and sentence.text not in {s.text for s in picked}:
            picked.append(sentence)
    parts = ([head] if head else []) + [s.text for s in picked]
    evidence += picked
    if isinstance(holding, Answer):
        parts.append(f"Disposition: {holding.text}.")
        evidence += holding.evidence
    return Answer(" ".join(parts), evidence)


def _opening_sentence(text: str, paragraph: Span) -> Span | None:
    """The first sentence of a paragraph, without an author line run into it ("KAFKER, J. After stopping ...",
    "EASTERBROOK, Circuit Judge. Castle sent ...")."""
    for sentence in sentences(text, paragraph):
        raw = text[sentence.start : sentence.end]
        m = _AUTHOR.match(raw)
        if not m:
            return sentence
        if raw[m.end():].strip():
            return Span(sentence.start + m.end(), sentence.end, squash(raw[m.end():]))
    return None


def _summary_head(doc: Document) -> tuple[str, list[Span]]:
    """"<case name> (<court>, <year>).", from the parts the caption shows."""
    inside = ", ".join(x for x in (doc.court.text if doc.court else None, doc.year) if x)
    evidence = [s for s in (doc.case_name, doc.court) if s]
    if doc.case_name:
        return (f"{doc.case_name.text} ({inside})." if inside else f"{doc.case_name.text}."), evidence
    return (f"({inside})." if inside else ""), evidence
