"""The caption at the top of the prompt: where the case name, the court and the date are read from.

A question is only asked when its answer is in the prompt. The case name and the court are looked for in the first
lines of the opinion before its first paragraph of prose (its own caption) as whole lines (or a line's opening, up to a comma or a period), ignoring
case and line breaks. When the record names a case or a court that the text's caption does not show (most
CourtListener and Caselaw Access Project texts start with the body, or with a caption in another form, such as
"ANDERSON ET AL. v. LIBERTY LOBBY, INC., ET AL." for "Anderson v. Liberty Lobby, Inc."), the record's own caption is
put at the top of the prompt, exactly as the record has the values:

    Anderson v. Liberty Lobby, Inc.
    Supreme Court of the United States
    Decided June 25, 1986

A record without a value (a folder of .txt opinions) has it read from the text's caption: a line naming a case
("X v. Y", "In re X", "Ex parte X") and a line that courts-db recognises as a court. When neither the record nor the
text has it, the question is not built. Answers are the prompt's own spelling of the value, at its first place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sft_recipes.tasks.court_opinions.readers import Opinion
from sft_recipes.tasks.court_opinions.text import Span, abbreviations, paragraphs, squash, word_count

HEAD_LINES = 16
HEAD_CHARS = 1600
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
_CASE_NAME_LINE = re.compile(
    r"^(?:(?:In\s+re|Ex\s+parte|In\s+the\s+Matter\s+of|Matter\s+of|Estate\s+of)\s+\S.*|\S.*?\S\s+v(?:s)?\.?\s+\S.*)$",
    re.IGNORECASE,
)
_CAPTION_WORDS = re.compile(
    r"^(?:appeal(?:s|ed)?\s+from|on\s+appeal|on\s+petition|on\s+writ|petition\s+for|certiorari|argued|submitted|"
    r"filed|decided|dated|before|counsel|attorneys?\s+for|opinion\s+filed|rehearing|no\.|nos\.|docket|"
    r"d\.c\.\s+no|bap\s+no)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b")
_V_LINE = re.compile(r"^(?:v|vs|versus)\.?(?:\s+(?:MEMORANDUM|OPINION|ORDER)\*?)?$", re.IGNORECASE)
_ROLES = r"(?:plaintiffs?|defendants?|petitioners?|respondents?|appellants?|appellees?|movants?|intervenors?|" \
         r"claimants?|real\s+parties\s+in\s+interest|cross-\w+)"
_ROLE_LINE = re.compile(rf"^{_ROLES}(?:\s*(?:[-/,]|and)\s*{_ROLES})*[,.;]?(?:\s|$)", re.IGNORECASE)
_COLUMN_JUNK = re.compile(r",?\s+(?:No\.|Nos\.|Case No\.|Docket|D\.C\. No\.)")


@dataclass
class Document:
    """The prompt's document: the opinion, with the record's caption on top when the text lacks one."""

    text: str
    caption_added: bool = False
    case_name: Span | None = None
    court: Span | None = None
    year: str | None = None
    body_start: int = 0  # where the opinion's body begins, after every caption
    missing: dict[str, str] = field(default_factory=dict)  # task -> why its answer is not in the prompt


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    text: str


def make_document(opinion: Opinion) -> Document:
    text = opinion.text
    lines = head_lines(text[: body_start(text, 0)])  # the caption is before the first paragraph of prose
    case = _find(lines, opinion.case_name) if opinion.case_name else _parse_case_name(lines)
    court = _find(lines, opinion.court) if opinion.court else _parse_court(lines)
    needs_caption = (opinion.case_name and case is None) or (opinion.court and court is None)
    if needs_caption:
        return _with_caption(opinion, case if not opinion.case_name else None,
                             court if not opinion.court else None)
    caption_end = max((span.end for span in (case, court) if span), default=0)
    doc = Document(text, case_name=case, court=court, body_start=body_start(text, caption_end))
    doc.year = _year_in(text[: doc.body_start] or text[:HEAD_CHARS], opinion.date_filed)
    _note_missing(doc, opinion)
    return doc


def caption_lines(case_name: str | None, court: str | None, date_filed: str | None) -> list[str]:
    """The caption of a record, one value a line, as the record has them (the date spelled out)."""
    lines = [v for v in (case_name, court) if v]
    if date_filed:
        lines.append(f"Decided {spell_date(date_filed)}")
    return lines


def spell_date(value: str) -> str:
    """"1986-06-25" -> "June 25, 1986"; anything else as it is."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?", value.strip())
    if not m:
        return value.strip()
    try:
        d = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return value.strip()
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


def head_lines(text: str, offset: int = 0) -> list[_Line]:
    """The first non-empty lines of ``text`` (at most HEAD_LINES, within HEAD_CHARS), with offsets."""
    out, pos = [], 0
    for raw in text[:HEAD_CHARS].split("\n"):
        stripped = raw.strip()
        if stripped:
            start = pos + raw.index(stripped[0])
            out.append(_Line(offset + start, offset + start + len(stripped), squash(stripped)))
        pos += len(raw) + 1
        if len(out) >= HEAD_LINES:
            break
    return out


def body_start(text: str, start: int) -> int:
    """Where the body begins: the first paragraph after ``start`` (the end of the caption lines found) that reads
    as prose (12+ words, mostly lowercase letters, lines of 45+ characters on average, ending a sentence) and does
    not open with caption words ("Appeal from", "Argued", "Before", "No.")."""
    if start > 0 and not text[:start].endswith("\n\n"):  # inside the caption's paragraph: begin after it
        start = text.find("\n\n", start) + 2 if "\n\n" in text[start:] else start
    for p in paragraphs(text, start):
        letters = [c for c in p.text if c.isalpha()]
        lower = sum(c.islower() for c in letters) / max(len(letters), 1)
        lines = text[p.start : p.end].split("\n")
        if word_count(p.text) >= 12 and lower >= 0.6 and p.text[-1] in ".?!:\"”)" \
                and len(p.text) / len(lines) >= 45 and not _CAPTION_WORDS.match(p.text):
            return p.start
    return start


def _with_caption(opinion: Opinion, parsed_case: Span | None, parsed_court: Span | None) -> Document:
    lines = caption_lines(opinion.case_name, opinion.court, opinion.date_filed)
    caption = "\n".join(lines)
    shift = len(caption) + 2
    text = f"{caption}\n\n{opinion.text}"
    spans, pos = {}, 0
    for line in lines:
        spans[line] = Span(pos, pos + len(line), line)
        pos += len(line) + 1
    doc = Document(text, caption_added=True)
    doc.case_name = spans.get(opinion.case_name or "") or _shift(parsed_case, shift)
    doc.court = spans.get(opinion.court or "") or _shift(parsed_court, shift)
    own = [span.end for span in (doc.case_name, doc.court) if span and span.start >= shift]
    doc.body_start = body_start(text, max(own, default=shift))
    doc.year = _year_in(caption, opinion.date_filed)
    _note_missing(doc, opinion)
    return doc


def _note_missing(doc: Document, opinion: Opinion) -> None:
    if doc.case_name is None:
        doc.missing["case_name"] = "no case name: the record has none and the text's caption shows none"
    if doc.court is None:
        doc.missing["court"] = "no court: the record has none and courts-db finds none in the text's caption"


def _find(lines: list[_Line], value: str) -> Span | None:
    """``value`` as a whole line, a run of lines, or a line's opening up to a comma, period or semicolon."""
    want = _key(value)
    if not want:
        return None
    for i, line in enumerate(lines):
        joined = ""
        for j in range(i, min(i + 4, len(lines))):
            joined = f"{joined} {lines[j].text}".strip()
            if _key(joined) == want:
                end = lines[j].end
                while joined[-1] in ",.;: " and not value.endswith(joined[-1]):
                    joined, end = joined[:-1], end - 1
                return Span(line.start, end, squash(joined))
        low = line.text.lower()
        if low.startswith(value.lower()) and len(line.text) > len(value) and line.text[len(value)] in ",.;( ":
            return Span(line.start, line.start + len(value), line.text[: len(value)])
    return None


def _key(value: str) -> str:
    return squash(value).lower().rstrip(",.;: ")


def _parse_case_name(lines: list[_Line]) -> Span | None:
    """A case name in the caption: a line "X v. Y" ("In re X", "Ex parte X"), or parties on the lines around a
    "v." line (their role lines, such as "Plaintiff-Appellant,", and docket columns skipped): "X v. Y"."""
    for i, line in enumerate(lines[:12]):
        if _V_LINE.match(line.text):
            first = _party(lines, range(i - 1, -1, -1))
            second = _party(lines, range(i + 1, len(lines)))
            if first and second:
                name = f"{first[1]} v. {second[1]}"
                return Span(first[0].start, second[0].start + len(second[1]), name)
        if _CASE_NAME_LINE.match(line.text) and len(line.text) <= 200:
            name = _COLUMN_JUNK.split(line.text)[0].rstrip(",.;")
            return Span(line.start, line.start + len(name), name)
    return None


def _party(lines: list[_Line], order: range) -> tuple[_Line, str] | None:
    """The nearest line in ``order`` that names a party (not a role, a docket number or a heading)."""
    for k in order:
        text = lines[k].text
        if _ROLE_LINE.match(text) or _CAPTION_WORDS.match(text) or re.fullmatch(r"[A-Z]+\*?", text):
            continue
        name = _strip_party(_COLUMN_JUNK.split(text)[0])
        return (lines[k], name) if name else None
    return None


def _strip_party(text: str) -> str:
    """A party line without its closing comma, semicolon or period ("ACME, INC.," -> "ACME, INC.")."""
    text = text.strip().rstrip(",;").strip()
    if text.endswith(".") and text[:-1].rsplit(None, 1)[-1].lower() not in abbreviations():
        text = text[:-1]
    return text


def _parse_court(lines: list[_Line]) -> Span | None:
    from courts_db import find_court

    for i, line in enumerate(lines):
        for j in (i, i + 1):
            if j >= len(lines):
                continue
            joined = squash(" ".join(x.text for x in lines[i : j + 1]))
            if not re.search(r"\bcourt\b|\bcircuit\b", joined, re.IGNORECASE) or len(joined) > 160:
                continue
            if find_court(joined):
                return Span(line.start, lines[j].end, joined)
    return None


def _year_in(head: str, date_filed: str | None) -> str | None:
    """The decision year, when the caption shows it: the record's year, else a year on a "Decided" line."""
    if date_filed:
        m = _YEAR.search(date_filed)
        if m and m.group(0) in head:
            return m.group(0)
    for line in head.split("\n"):
        if re.search(r"\b(decided|filed|dated)\b", line, re.IGNORECASE):
            m = _YEAR.search(line)
            if m:
                return m.group(0)
    return None


def _shift(span: Span | None, by: int) -> Span | None:
    return None if span is None else Span(span.start + by, span.end + by, span.text)
