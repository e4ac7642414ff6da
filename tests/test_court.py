"""Court opinions -> one instruction row per task with exact answers, read from the opinion's own caption."""

from __future__ import annotations

from pathlib import Path

import pytest

from sft_recipes.data.formats import convert_records
from sft_recipes.data.sources import read_records
from sft_recipes.tasks.court_opinions import (
    LEGAL_SYSTEM_PROMPT,
    PHRASINGS,
    TASKS,
    CourtDataError,
    build_instruction_rows,
)
from sft_recipes.tasks.court_opinions.answers import derive_answers
from sft_recipes.tasks.court_opinions.caption import make_document
from sft_recipes.tasks.court_opinions.readers import read_opinion
from sft_recipes.tasks.court_opinions.text import paragraphs, sentences

DATA = Path(__file__).parent / "fixtures" / "data"


def court_rows(name: str, **kwargs):
    return convert_records(read_records(str(DATA / name)), **kwargs)


def answers(rows) -> dict[str, str]:
    return {r["task"]: r["messages"][-1]["content"] for r in rows}


def test_six_rows_with_exact_answers_for_an_opinion_with_its_own_caption():
    result = court_rows("court.jsonl")
    assert result.format == "court_opinions" and not result.rejects
    first = [r for r in result.rows if r["group"] == "op-001"]
    assert [r["task"] for r in first] == list(TASKS)
    assert answers(first) == {
        "court": "Supreme Court of Oregon",
        "case_name": "HARLAN v. RIVERBEND WATER DISTRICT",
        "citations": "Cleveland Board of Education v. Loudermill, 470 U.S. 532 (1985)\n"
                     "Marsh v. Clackamas County, 512 P.3d 88 (Or. 2016)",
        "holding": "AFFIRMED IN PART AND REVERSED IN PART AND REMANDED",
        "issue": "The question presented is whether a public employee who may be fired only for cause is entitled "
                 "to a hearing before she is dismissed.",
        "summarize": "HARLAN v. RIVERBEND WATER DISTRICT (Supreme Court of Oregon, 2018). The question presented is "
                     "whether a public employee who may be fired only for cause is entitled to a hearing before she is "
                     "dismissed. We conclude that the district's rules gave Harlan a property interest in her job, so "
                     "she was owed a hearing before she was fired. Disposition: AFFIRMED IN PART AND REVERSED IN PART "
                     "AND REMANDED.",
    }
    text = read_records(str(DATA / "court.jsonl"))[0].data["text"]
    court_row = next(r for r in first if r["task"] == "court")
    assert [m["role"] for m in court_row["messages"]] == ["system", "user", "assistant"]
    assert court_row["messages"][0]["content"] == LEGAL_SYSTEM_PROMPT
    document, question = court_row["messages"][1]["content"].rsplit("\n\n", 1)
    assert document == text and question in PHRASINGS["court"]  # the text's own caption: nothing added
    assert court_row["caption"] == "text" and court_row["id"] == "op-001:court"


def test_lowercase_disposition_and_citations_found_in_the_text():
    """A Supreme Court style opinion: "is reversed, and the case is remanded", a string cite."""
    second = [r for r in court_rows("court.jsonl").rows if r["group"] == "op-002"]
    got = answers(second)
    assert got["holding"] == "REVERSED AND REMANDED"
    assert got["citations"] == "Ward v. Hollis, 502 U.S. 301 (1991)\nPruitt v. Lang, 88 F.3d 1021 (4th Cir. 1996)"
    assert got["issue"] == "We must decide whether a passenger who does not own a car can be said to possess a gun " \
        "locked inside it."


def test_underivable_answers_become_rejects_and_the_rest_is_kept():
    result = court_rows("court_incomplete.jsonl")
    assert sorted(r["task"] for r in result.rows) == ["case_name", "court", "summarize"]
    source = str(DATA / "court_incomplete.jsonl")
    assert [(r.reason, r.source) for r in result.rejects] == [
        ("cannot derive 'holding': no disposition (AFFIRMED, we reverse, is vacated, ...) in the final paragraphs",
         f"{source}:1"),
        # the record's "citations" field names a case the text does not cite: the answer would not be in the prompt
        ("cannot derive 'citations': no case is cited in full", f"{source}:1"),
        ("cannot derive 'issue': no sentence states the question decided", f"{source}:1"),
        ("missing field 'text' (a court opinion needs 'text', CourtListener's 'plain_text' / 'html...', or a Caselaw "
         "Access Project 'casebody')", f"{source}:2"),
    ]


def test_task_subset_statutes_and_custom_system_prompt():
    record = read_records(str(DATA / "court.jsonl"))[0]
    rows, rejects = build_instruction_rows(record.data, record.source, tasks=["holding", "court", "statutes"],
                                           system_prompt="Custom legal prompt.")
    assert [r["task"] for r in rows] == ["holding", "court"]  # always in the fixed task order
    assert [r.reason for r in rejects] == ["cannot derive 'statutes': no statute is cited"]
    assert {r["messages"][0]["content"] for r in rows} == {"Custom legal prompt."}
    with pytest.raises(CourtDataError, match=r"unknown task 'holdings' \(did you mean 'holding'\?\)"):
        build_instruction_rows(record.data, record.source, tasks=["holdings"])


def test_phrasings_are_fixed_per_opinion_and_task_and_all_used():
    records = [{"id": f"op-{i}", "case_name": "A v. B", "court": "Some Court", "text": "We AFFIRM."} for i in
               range(40)]
    first = [build_instruction_rows(r, "x", tasks=["holding"])[0][0] for r in records]
    again = [build_instruction_rows(r, "x", tasks=["holding"])[0][0] for r in records]
    questions = [r["messages"][1]["content"].rsplit("\n\n", 1)[1] for r in first]
    assert questions == [r["messages"][1]["content"].rsplit("\n\n", 1)[1] for r in again]
    assert set(questions) == set(PHRASINGS["holding"])
    canonical = build_instruction_rows(records[0], "x", tasks=["holding"], phrasings="canonical")[0][0]
    assert canonical["messages"][1]["content"].endswith(PHRASINGS["holding"][0])


def test_history_in_the_past_tense_is_not_the_disposition():
    record = {
        "case_name": "A v. B", "court": "Some Court",
        "text": "A v. B\n\nThe trial court DENIED the motion in 2001, and the panel AFFIRMED.\n\n"
                "Long discussion of the record follows here.\n\nMore discussion of the law.\n\n"
                "Still more discussion.\n\nThe judgment is VACATED.",
    }
    doc = make_document(read_opinion(record, "x"))
    assert derive_answers(doc, ("holding",))["holding"].text == "VACATED"


def test_sentences_do_not_break_after_legal_abbreviations():
    text = ("In Smith v. Jones, 123 F.3d 456 (D.C. Cir. 1999), the court agreed. Acme Co. Ltd. appealed. "
            "Matsushita Elec. Indus. Co. v. Zenith Radio Corp. was cited. The end.")
    assert [s.text for p in paragraphs(text) for s in sentences(text, p)] == [
        "In Smith v. Jones, 123 F.3d 456 (D.C. Cir. 1999), the court agreed.",
        "Acme Co. Ltd. appealed.",
        "Matsushita Elec. Indus. Co. v. Zenith Radio Corp. was cited.",
        "The end.",
    ]


def test_hand_written_real_style_opinions_cite_what_their_lists_say():
    """The citations answer of each hand-written opinion is its hand-written list (compared as the metric does)."""
    from sft_recipes.evaluation.metrics import split_items

    path = Path(__file__).parents[1] / "benchmarks" / "court_real_style" / "opinions.jsonl"
    records = read_records(str(path))
    assert len(records) == 10
    for record in records:
        rows, rejects = build_instruction_rows(record.data, record.source)
        assert not rejects and [r["task"] for r in rows] == list(TASKS)
        assert rows[0]["caption"] == "added"  # no caption in the text: the record's is put on top
        got = next(r for r in rows if r["task"] == "citations")["messages"][-1]["content"]
        assert split_items(got) == split_items("\n".join(record.data["citations"])), record.data["id"]
