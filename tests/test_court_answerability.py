"""Every answer is supported by its prompt, for all six tasks, on every reader fixture, the synthetic corpus (both
style splits) and the hand-written real-style opinions: the evidence spans a row records hold the answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sft_recipes.data.clean import normalize_text
from sft_recipes.data.formats import convert_records
from sft_recipes.data.sources import SourceRecord, read_records
from sft_recipes.tasks.court_opinions import TASKS
from sft_recipes.tasks.court_opinions.citations import eyecite_citations
from sft_recipes.tasks.court_opinions.synthetic import generate_records
from sft_recipes.tasks.court_opinions.text import squash

ROOT = Path(__file__).parent
COURT = ROOT / "fixtures" / "court"
SOURCES = {
    "flat": (COURT / "flat.jsonl", "auto"),
    "courtlistener_v4": (COURT / "courtlistener_v4.json", "auto"),
    "courtlistener_bulk": (COURT / "courtlistener_bulk", "auto"),
    "courtlistener_page": (COURT / "courtlistener_page.json", "auto"),
    "caselaw_access_api": (COURT / "caselaw_access_api.json", "auto"),
    "caselaw_access_static": (COURT / "cap_static", "auto"),
    "caselaw_access_xml": (COURT / "caselaw_access_xml.json", "auto"),
    "txt": (COURT / "txt", "court_opinions"),
    "with_captions": (ROOT / "fixtures" / "data" / "court.jsonl", "auto"),
    "real_style": (ROOT.parent / "benchmarks" / "court_real_style" / "opinions.jsonl", "auto"),
}
STEMS = {"AFFIRMED": "affirm", "REVERSED": "revers", "REMANDED": "remand", "VACATED": "vacat",
         "DISMISSED": "dismiss", "GRANTED": "grant", "DENIED": "den", "MODIFIED": "modif"}


def rows_from(name: str):
    if name in ("synthetic", "synthetic_heldout_style"):
        styles = "train" if name == "synthetic" else "heldout"
        records = [SourceRecord(f"{name}:{i}", r) for i, r in enumerate(generate_records(40, 5, styles), 1)]
        return convert_records(records, "court_opinions").rows
    path, fmt = SOURCES[name]
    return convert_records(read_records(str(path)), fmt).rows


def in_order(words: list[str], text: str) -> bool:
    pos = 0
    for word in words:
        pos = text.find(word, pos)
        if pos < 0:
            return False
        pos += len(word)
    return True


def check_row(row: dict) -> None:
    user, answer, task = row["messages"][1]["content"], row["messages"][2]["content"], row["task"]
    document = user.rsplit("\n\n", 1)[0]
    assert normalize_text(user) == user  # cleaning leaves the prompt as built, so the spans stay true
    spans = [squash(user[s:e]) for s, e in row["evidence"]]
    assert spans and all(e <= len(document) for _, e in row["evidence"]), "evidence must be in the document"
    if task in ("case_name", "court", "issue"):
        assert len(spans) == 1 and in_order(answer.split(), spans[0]), (answer, spans)
    elif task == "holding":
        for part in answer.split(" AND "):
            word, _, qualifier = part.partition(" ")
            assert STEMS[word] in spans[0].lower(), (answer, spans[0])
            assert qualifier.lower() in spans[0].lower().replace("-", " ")
    elif task == "citations":
        items = answer.split("\n")
        assert len(items) == len(spans)
        for item, span in zip(items, spans):
            found = {c.corrected_citation() for c in eyecite_citations(span)}
            name, cites, paren = _citation_parts(item, found)
            assert cites and cites <= found, (item, span)
            assert (name is None or span.startswith(name)) and (paren is None or f"({paren})" in span), (item, span)
    elif task == "summarize":
        _check_summary(answer, spans, row["messages"])


def _citation_parts(item: str, found: set[str]) -> tuple[str | None, set[str], str | None]:
    paren = re.search(r"\(([^()]*)\)$", item)
    body = item[: paren.start()].strip() if paren else item
    cites = {c for c in found if c in body}
    first = min((body.index(c) for c in cites), default=0)
    name = body[:first].rstrip(", ") or None
    return name, cites, paren.group(1) if paren else None


def _check_summary(answer: str, spans: list[str], messages: list[dict]) -> None:
    """Sentences of the prompt, a caption head whose words are in a caption span, and the disposition."""
    leftover = re.sub(r" ?Disposition: [A-Z ]+\.$", "", answer)
    for span in spans:
        leftover = leftover.replace(span, "", 1)
    year = re.search(r"\b\d{4}\b", leftover)
    assert year is None or year.group(0) in messages[1]["content"]
    words = [w for w in re.sub(r"\(|\)\.?|\b\d{4}\b", " ", leftover).split() if w.strip(",.")]
    assert not words or any(in_order(words, span) for span in spans), (answer, leftover)


@pytest.mark.parametrize("name", [*SOURCES, "synthetic", "synthetic_heldout_style"])
def test_every_answer_is_supported_by_its_prompt(name):
    rows = rows_from(name)
    assert rows
    for row in rows:
        check_row(row)


def test_all_six_tasks_are_checked():
    tasks = {row["task"] for name in ("flat", "synthetic", "real_style") for row in rows_from(name)}
    assert tasks == set(TASKS)


def test_a_wrong_answer_is_caught():
    row = next(r for r in rows_from("flat") if r["task"] == "citations")
    bad = {**row, "messages": [*row["messages"][:2], {**row["messages"][2],
           "content": row["messages"][2]["content"].replace("477 U.S. 242", "477 U.S. 243")}]}
    with pytest.raises(AssertionError):
        check_row(bad)
    row = next(r for r in rows_from("flat") if r["task"] == "holding")
    bad = {**row, "messages": [*row["messages"][:2], {**row["messages"][2], "content": "AFFIRMED"}]}
    with pytest.raises(AssertionError):
        check_row(bad)
