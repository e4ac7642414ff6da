"""One court opinion -> six instruction rows with checkable answers.

Input record: ``{"id", "case_name", "court", "date_filed", "text", "citations": [...]}``. Each row's user turn is the
full opinion text, a blank line, then a fixed instruction (the question last, next to where the answer starts); the system turn is a legal-research-assistant prompt.
Every answer is derived from the record by a fixed rule, so the same opinion always gives the same answers and an
evaluation can compare them exactly:

    court      the ``court`` field.
    case_name  the ``case_name`` field.
    citations  the ``citations`` field, one per line; when the field is missing or empty, the reporter citations
               found in the text ("550 U.S. 544 (2007)", "123 F.3d 456 (9th Cir. 1999)"), in order of appearance.
    holding    the disposition, read from the last paragraphs of the text (after the caption): the disposition words
               written in capitals (AFFIRMED, REVERSED, REMANDED, VACATED, DISMISSED, GRANTED, DENIED, each optionally
               "IN PART") in the last paragraph that has any, in order, joined by " AND ", e.g.
               "AFFIRMED IN PART AND REVERSED IN PART". Without capitals, the last sentence of the final paragraphs
               that says what happens to the judgment / order / appeal / petition ("The judgment ... is reversed, and
               the case is remanded") gives the same words.
    issue      the first sentence that states the question decided ("The question presented is whether ...",
               "We must decide whether ...", "The issue on appeal is ..."); failing that, the first sentence that
               contains "whether".
    summarize  an EXTRACTIVE summary, not a written one: "<case name> (<court>, <year>)." followed by the first
               sentence of each body paragraph (paragraphs of 12+ words after the caption that do not state the
               disposition; at most five: the first three and the last two), the first sentence announcing the
               holding ("we hold", "we conclude") if not already taken, and "Disposition: <holding>." when the
               holding is known.

When one answer cannot be derived, that row is not built and becomes a reject naming the task and why; the other
rows of the opinion are kept. All rows of one opinion share ``group`` = the opinion id so a split keeps them together.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from sft_recipes import SFTRecipesError
from sft_recipes.data import Reject, make_reject

TASKS = ("summarize", "holding", "citations", "court", "issue", "case_name")

INSTRUCTIONS = {
    "summarize": "Summarize this court opinion in a few sentences taken from it: the caption, the opening "
    "sentence of each main paragraph, the holding, and the disposition.",
    "holding": "What is the disposition of this opinion? Answer with the disposition words only, in capitals "
    "(for example: AFFIRMED, or REVERSED AND REMANDED).",
    "citations": "List the case citations in this opinion, one per line.",
    "court": "Which court issued this opinion? Answer with the court's name only.",
    "issue": "State the key legal issue this opinion decides, in one sentence.",
    "case_name": "What is the name of this case? Answer with the case name only.",
}

LEGAL_SYSTEM_PROMPT = (
    "You are a legal research assistant. Answer questions about the court opinion you are given using only "
    "that opinion. Be exact and brief; follow the requested answer format."
)

DISPOSITION_WORDS = ("AFFIRMED", "REVERSED", "REMANDED", "VACATED", "DISMISSED", "GRANTED", "DENIED")
_DISPOSITION = "|".join(DISPOSITION_WORDS)
_UPPER_DISPOSITION = re.compile(rf"\b({_DISPOSITION})\b(\s+IN\s+PART\b)?")
_ANY_DISPOSITION = re.compile(rf"\b({_DISPOSITION})\b(\s+IN\s+PART\b)?", re.IGNORECASE)
_DISPOSITION_SUBJECT = re.compile(
    r"\b(judgments?|orders?|decrees?|decisions?|convictions?|sentences?|appeals?|petitions?|motions?|writs?|"
    r"case|cause|rulings?|applications?)\b.*\b(is|are|be|was|hereby|stands?)\b",
    re.IGNORECASE,
)
_ISSUE_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(question|issue)s?\s+(presented|before\s+(us|the\s+court|this\s+court)|on\s+appeal|for\s+decision|"
        r"in\s+this\s+(case|appeal))\b",
        r"\bthe\s+(sole|only|central|narrow|principal|dispositive|threshold)\s+(question|issue)\b",
        r"\bwe\s+(must\s+|now\s+)?(decide|consider|address|determine|resolve)\s+whether\b",
        r"\b(this|the)\s+(case|appeal|petition)\s+(asks|presents|raises|requires\s+us\s+to\s+decide)\b",
        r"\bthe\s+(question|issue)\s+(is|was)\s+whether\b",
    )
]
# volume, reporter abbreviation (tokens ending in a period, or series like 2d/3d/4th), page, optional (court year)
CITATION = re.compile(
    r"\b\d{1,4} [A-Z][A-Za-z']*\.(?: ?(?:[A-Z][A-Za-z']*\.|[234]d\b|[4-9]th\b))* \d{1,5}(?: \([^()]*\d{4}\))?"
)
_ABBREVIATIONS = {
    "v", "vs", "u.s", "no", "nos", "inc", "co", "corp", "ltd", "llc", "cir", "ct", "app", "supp", "mr", "mrs", "ms",
    "dr", "jr", "sr", "st", "stat", "sec", "art", "e.g", "i.e", "id", "cf", "al", "dist", "div", "dept", "j", "jj",
    "c.j", "d.c", "ill", "ed", "fed", "civ", "crim", "ex", "rel", "assn", "bros", "ann", "rev", "gen", "cal",
    "tex", "fla", "pa",
}
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"“(\[]?[A-Z])")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_HOLDING_SENTENCE = re.compile(r"\bwe\s+(hold|conclude)\b", re.IGNORECASE)
SUMMARY_MIN_WORDS = 12


class CourtDataError(SFTRecipesError):
    pass


def check_tasks(tasks: list[str] | None) -> tuple[str, ...]:
    """The tasks to build, in the fixed order of TASKS; an unknown name is an error with a suggestion."""
    if tasks is None:
        return TASKS
    for task in tasks:
        if task not in TASKS:
            close = difflib.get_close_matches(task, TASKS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (expected some of {', '.join(TASKS)})"
            raise CourtDataError(f"court_tasks: unknown task {task!r}{hint}")
    if not tasks:
        raise CourtDataError("court_tasks: empty list (leave it unset to build all six tasks)")
    return tuple(t for t in TASKS if t in tasks)


def build_instruction_rows(
    record: dict[str, Any], source: str, tasks: list[str] | None = None, system_prompt: str | None = None
) -> tuple[list[dict[str, Any]], list[Reject]]:
    """The instruction rows of one opinion, and a reject for each task whose answer cannot be derived."""
    selected = check_tasks(tasks)
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        reason = "missing field 'text'" if text is None else (
            "empty text" if isinstance(text, str) else f"field 'text' is not a string ({type(text).__name__})"
        )
        return [], [make_reject(reason, source, record)]
    opinion_id = _opinion_id(record, source)
    answers = derive_answers(record)
    system = system_prompt or LEGAL_SYSTEM_PROMPT
    rows, rejects = [], []
    for task in selected:
        answer = answers[task]
        if isinstance(answer, Unavailable):
            rejects.append(make_reject(f"cannot derive {task!r}: {answer.reason}", source, record))
            continue
        rows.append(
            {
                "messages": [
                    {"role": "system", "content": system, "train": None},
                    {"role": "user", "content": f"{text.strip()}\n\n{INSTRUCTIONS[task]}", "train": None},
                    {"role": "assistant", "content": answer, "train": None},
                ],
                "source": source,
                "task": task,
                "id": f"{opinion_id}:{task}",
                "group": opinion_id,
            }
        )
    return rows, rejects


class Unavailable:
    """An answer that cannot be derived, with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def derive_answers(record: dict[str, Any]) -> dict[str, str | Unavailable]:
    text = record.get("text") or ""
    holding = extract_holding(text)
    return {
        "court": _field(record, "court"),
        "case_name": _field(record, "case_name"),
        "citations": _citations(record, text),
        "holding": holding or Unavailable("no disposition (AFFIRMED, REVERSED, ...) in the final paragraphs"),
        "issue": extract_issue(text) or Unavailable("no sentence states the question decided"),
        "summarize": extractive_summary(record, text, holding),
    }


def extract_holding(text: str) -> str | None:
    """The disposition words of the final paragraphs, canonical ("REVERSED AND REMANDED"), or None."""
    paragraphs = split_paragraphs(text)
    tail = (paragraphs[1:] if len(paragraphs) > 1 else paragraphs)[-3:]
    for paragraph in reversed(tail):
        found = _UPPER_DISPOSITION.findall(paragraph)
        if found:
            return _join_dispositions(found)
    for paragraph in reversed(tail[-2:]):
        for sentence in reversed(split_sentences(paragraph)):
            found = _ANY_DISPOSITION.findall(sentence)
            if found and _DISPOSITION_SUBJECT.search(sentence):
                return _join_dispositions(found)
    return None


def extract_issue(text: str) -> str | None:
    sentences = [s for p in split_paragraphs(text) for s in split_sentences(p)]
    for pattern in _ISSUE_PATTERNS:
        for sentence in sentences:
            if pattern.search(sentence):
                return sentence
    for sentence in sentences:
        if re.search(r"\bwhether\b", sentence, re.IGNORECASE):
            return sentence
    return None


def extract_citations(text: str) -> list[str]:
    """Reporter citations in order of first appearance, each once."""
    return list(dict.fromkeys(" ".join(m.group(0).split()) for m in CITATION.finditer(text)))


def extractive_summary(record: dict[str, Any], text: str, holding: str | None) -> str:
    head = _caption(record)
    paragraphs = split_paragraphs(text)[1:]
    body = [p for p in paragraphs if len(p.split()) >= SUMMARY_MIN_WORDS and not _UPPER_DISPOSITION.search(p)]
    if len(body) > 5:
        body = body[:3] + body[-2:]
    parts = [head] if head else []
    parts += [split_sentences(p)[0] for p in body]
    announced = next(
        (s for p in paragraphs for s in split_sentences(p) if _HOLDING_SENTENCE.search(s)), None
    )
    if announced and announced not in parts:
        parts.append(announced)
    if holding:
        parts.append(f"Disposition: {holding}.")
    return " ".join(parts) if parts else text.strip().split("\n")[0]


def split_paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph; a period after a legal abbreviation ("v.", "Cir.", "Inc.") or an initial
    does not end a sentence."""
    sentences, start = [], 0
    for m in _SENTENCE_END.finditer(paragraph):
        before = paragraph[start : m.start()].rsplit(None, 1)
        word = before[-1].lstrip("(\"'“").lower() if before else ""
        if paragraph[m.start()] == "." and (word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())):
            continue
        sentences.append(paragraph[start : m.end()].strip())
        start = m.end()
    rest = paragraph[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _join_dispositions(found: list[tuple[str, str]]) -> str:
    parts = [word.upper() + (" IN PART" if in_part else "") for word, in_part in found]
    return " AND ".join(dict.fromkeys(parts))


def _field(record: dict[str, Any], key: str) -> str | Unavailable:
    value = record.get(key)
    if value is None:
        return Unavailable(f"missing field {key!r}")
    if not isinstance(value, str):
        return Unavailable(f"field {key!r} is not a string ({type(value).__name__})")
    if not value.strip():
        return Unavailable(f"empty field {key!r}")
    return " ".join(value.split())


def _citations(record: dict[str, Any], text: str) -> str | Unavailable:
    value = record.get("citations")
    if value:
        if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value):
            return Unavailable("field 'citations' is not a list of non-empty strings")
        return "\n".join(" ".join(c.split()) for c in value)
    found = extract_citations(text)
    if not found:
        return Unavailable("no citations in the 'citations' field or the text")
    return "\n".join(found)


def _caption(record: dict[str, Any]) -> str:
    name, court = record.get("case_name"), record.get("court")
    date = record.get("date_filed")
    year = re.match(r"\d{4}", str(date)).group(0) if date and re.match(r"\d{4}", str(date)) else ""
    inside = ", ".join(str(x).strip() for x in (court, year) if x and str(x).strip())
    if not name:
        return f"({inside})." if inside else ""
    return f"{' '.join(str(name).split())} ({inside})." if inside else f"{name}."


def _opinion_id(record: dict[str, Any], source: str) -> str:
    value = record.get("id")
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) else source
