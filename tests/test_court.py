"""Court opinions -> six instruction rows with exact answers; the synthetic corpus is seeded and answerable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sft_recipes.recipe import EMBEDDED_COURT_DATA, DataArguments
from sft_recipes.data.court_opinions import (
    INSTRUCTIONS,
    LEGAL_SYSTEM_PROMPT,
    TASKS,
    CourtDataError,
    build_instruction_rows,
    derive_answers,
    extract_citations,
    split_sentences,
)
from sft_recipes.data.formats import convert_records
from sft_recipes.data.load import load_conversations
from sft_recipes.data.sources import read_records
from sft_recipes.data.synthetic_court import generate_opinions, write_corpus

DATA = Path(__file__).parent / "fixtures" / "data"


def court_rows(name: str, **kwargs):
    return convert_records(read_records(str(DATA / name)), **kwargs)


def answers(rows) -> dict[str, str]:
    return {r["task"]: r["messages"][-1]["content"] for r in rows}


def test_six_instruction_rows_with_exact_answers_for_a_hand_written_opinion():
    result = court_rows("court.jsonl")
    assert result.format == "court_opinions" and not result.rejects
    first = [r for r in result.rows if r["group"] == "op-001"]
    assert [r["task"] for r in first] == list(TASKS)
    assert answers(first) == {
        "court": "Supreme Court of Oregon",
        "case_name": "HARLAN v. RIVERBEND WATER DISTRICT",
        "citations": "512 P.3d 88 (Or. 2016)\n470 U.S. 532 (1985)",
        "holding": "AFFIRMED IN PART AND REVERSED IN PART AND REMANDED",
        "issue": "The question presented is whether a public employee who may be fired only for cause is entitled "
        "to a hearing before she is dismissed.",
        "summarize": "HARLAN v. RIVERBEND WATER DISTRICT (Supreme Court of Oregon, 2018). Ellen Harlan worked as a "
        "meter reader for the Riverbend Water District for nine years. The question presented is whether a public "
        "employee who may be fired only for cause is entitled to a hearing before she is dismissed. In Cleveland "
        "Board of Education v. Loudermill, 470 U.S. 532 (1985), the Supreme Court held that a tenured public "
        "employee is entitled to notice and an opportunity to respond before termination. Harlan's claim for back "
        "pay, however, was filed after the limitations period ran. We conclude that the district's rules gave "
        "Harlan a property interest in her job, so she was owed a hearing before she was fired. Disposition: "
        "AFFIRMED IN PART AND REVERSED IN PART AND REMANDED.",
    }
    text = read_records(str(DATA / "court.jsonl"))[0].data["text"]
    court_row = next(r for r in first if r["task"] == "court")
    assert [m["role"] for m in court_row["messages"]] == ["system", "user", "assistant"]
    assert court_row["messages"][0]["content"] == LEGAL_SYSTEM_PROMPT
    assert court_row["messages"][1]["content"] == f"{text}\n\n{INSTRUCTIONS['court']}"
    assert court_row["id"] == "op-001:court"


def test_lowercase_disposition_and_citations_found_in_the_text():
    """A Supreme Court style opinion: "is reversed, and the case is remanded", no citations field."""
    second = [r for r in court_rows("court.jsonl").rows if r["group"] == "op-002"]
    got = answers(second)
    assert got["holding"] == "REVERSED AND REMANDED"
    assert got["citations"] == "502 U.S. 301 (1991)\n88 F.3d 1021 (4th Cir. 1996)"
    assert got["issue"] == "We must decide whether a passenger who does not own a car can be said to possess a gun " \
        "locked inside it."


def test_underivable_answers_become_rejects_and_the_rest_is_kept():
    result = court_rows("court_incomplete.jsonl")
    assert sorted(r["task"] for r in result.rows) == ["case_name", "citations", "court", "summarize"]
    source = str(DATA / "court_incomplete.jsonl")
    assert [(r["reason"], r["source"]) for r in result.rejects] == [
        ("cannot derive 'holding': no disposition (AFFIRMED, REVERSED, ...) in the final paragraphs", f"{source}:1"),
        ("cannot derive 'issue': no sentence states the question decided", f"{source}:1"),
        ("missing field 'text'", f"{source}:2"),
    ]


def test_task_subset_and_custom_system_prompt():
    record = read_records(str(DATA / "court.jsonl"))[0]
    rows, rejects = build_instruction_rows(record.data, record.source, tasks=["holding", "court"],
                                           system_prompt="Custom legal prompt.")
    assert not rejects
    assert [r["task"] for r in rows] == ["holding", "court"]  # always in the fixed task order
    assert {r["messages"][0]["content"] for r in rows} == {"Custom legal prompt."}
    with pytest.raises(CourtDataError, match=r"unknown task 'holdings' \(did you mean 'holding'\?\)"):
        build_instruction_rows(record.data, record.source, tasks=["holdings"])


def test_disposition_words_outside_the_last_paragraphs_are_ignored():
    record = {
        "case_name": "A v. B", "court": "Some Court", "citations": ["1 U.S. 1 (1999)"],
        "text": "A v. B\n\nThe trial court DENIED the motion in 2001, and the panel AFFIRMED.\n\n"
                "Long discussion of the record follows here.\n\nMore discussion of the law.\n\n"
                "Still more discussion.\n\nThe judgment is VACATED.",
    }
    assert derive_answers(record)["holding"] == "VACATED"


def test_sentences_do_not_break_after_legal_abbreviations():
    paragraph = ("In Smith v. Jones, 123 F.3d 456 (D.C. Cir. 1999), the court agreed. Acme Co. Ltd. appealed. "
                 "The end.")
    assert split_sentences(paragraph) == [
        "In Smith v. Jones, 123 F.3d 456 (D.C. Cir. 1999), the court agreed.",
        "Acme Co. Ltd. appealed.",
        "The end.",
    ]


def test_synthetic_corpus_is_deterministic_per_seed(tmp_path):
    a = write_corpus(tmp_path / "a.jsonl", 20, seed=7)
    b = write_corpus(tmp_path / "b.jsonl", 20, seed=7)
    c = write_corpus(tmp_path / "c.jsonl", 20, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    first_ten = write_corpus(tmp_path / "d.jsonl", 10, seed=7).read_bytes().splitlines()
    assert first_ten == a.read_bytes().splitlines()[:10]  # a larger corpus starts with the smaller one
    records = [json.loads(line) for line in a.read_text(encoding="utf-8").splitlines()]
    assert set(records[0]) == {"id", "case_name", "court", "date_filed", "text", "citations"}
    assert len({r["id"] for r in records}) == 20


def test_every_answer_of_generated_opinions_derives_exactly():
    opinions = generate_opinions(150, seed=3)
    holdings, courts = set(), set()
    for o in opinions:
        got = derive_answers(o.record)
        assert got["holding"] == o.holding, o.record["id"]
        assert got["issue"] == o.issue, o.record["id"]
        assert got["court"] == o.record["court"] and o.record["court"] in o.record["text"]
        assert got["case_name"] == o.record["case_name"] and o.record["case_name"] in o.record["text"]
        assert got["citations"].split("\n") == o.citations
        assert extract_citations(o.record["text"]) == o.citations  # also derivable from the text alone
        assert 2 <= len(o.citations) <= 4
        assert 150 <= len(o.record["text"].split()) <= 350
        assert got["summarize"].endswith(f"Disposition: {o.holding}.")
        holdings.add(o.holding)
        courts.add(o.record["court"])
    assert len(holdings) >= 6 and len(courts) >= 10  # the corpus is varied, not one template


def test_embedded_court_data_resolves_to_the_synthetic_corpus():
    args = DataArguments(datasets=[{"path": EMBEDDED_COURT_DATA}], synthetic_opinions=5, synthetic_seed=11,
                         court_tasks=["court", "holding"])
    result = load_conversations(args, seed=0, show=False)
    assert len(result.rows) == 10
    truth = generate_opinions(5, seed=11)
    holdings = [r["messages"][-1]["content"] for r in result.rows if r["task"] == "holding"]
    assert holdings == [o.holding for o in truth]
    assert result.rows[0]["source"] == f"{EMBEDDED_COURT_DATA}:1"
    assert result.counts[EMBEDDED_COURT_DATA]["format"] == "court_opinions"
