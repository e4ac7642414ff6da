"""Citation practice: every passage's answer is what the task builder derives and names exactly the cases cited; the
passages use no phrase of the held-out style split; practice rows only ever train."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from sft_recipes.data.load import load_conversations, split_conversations
from sft_recipes.recipe import EMBEDDED_COURT_DATA, DataArguments
from sft_recipes.tasks.court_opinions.prompts import PHRASINGS
from sft_recipes.tasks.court_opinions.synthetic import EMBEDDED_CITATION_PRACTICE
from sft_recipes.tasks.court_opinions.synthetic import styles as st
from sft_recipes.tasks.court_opinions.synthetic.passages import (
    CASES_PER_CONVERSATION, PER_CONVERSATION, citation_practice, generate_passage, passage_answer)


@pytest.fixture(scope="module")
def passages():
    return [generate_passage(5, i) for i in range(400)]


def test_every_passage_answer_is_derived_and_names_exactly_the_cases_cited(passages):
    for p in passages:
        assert passage_answer(p.text) == p.truth, p.text


def test_passages_place_citations_in_many_shapes(passages):
    def place(text: str, name: str) -> str:
        i = text.find(name + ",")
        before = text[max(0, i - 12):i]
        if i == 0 or before.endswith("\n\n"):
            return "passage start"
        if before.endswith(". "):
            return "sentence start"
        if before.endswith("("):
            return "parenthesis"
        return before.split()[-1] if before.split() else "?"

    places = Counter(place(p.text, a.name) for p in passages for a in p.cited)
    assert {"passage start", "sentence start", "parenthesis", "in", "See", "of"} <= set(places), places
    assert len(places) >= 25, places
    sizes = Counter(len(p.cited) for p in passages)
    assert set(sizes) == {1, 2, 3, 4, 5}, sizes


def _heldout_pieces() -> set[str]:
    """The literal text of the held-out citation templates: pieces of two words or more, string joins, parentheticals."""
    pieces = set()
    for template in [t for t, _ in st.CITATION_SENTENCES["heldout"]] + list(st.SHORT_FORMS["heldout"]):
        for piece in re.split(r"\{\w+\}", template):
            piece = piece.strip(" .,")
            if len(piece.split()) >= 2 or piece.startswith(";") or "(" in piece:
                pieces.add(piece)
    return pieces


def test_passages_use_no_phrase_of_the_held_out_styles(passages):
    pieces = _heldout_pieces()
    assert {"teaches that", "as the court observed in", "See generally", "; accord", "(same)"} <= pieces, pieces
    for p in passages:
        for piece in pieces:
            assert piece.lower() not in p.text.lower(), (piece, p.text)


def test_practice_conversations_hold_the_passages_in_order_within_their_bounds():
    records = citation_practice(40, seed=3, system_prompt="Be exact.")
    assert all(r["messages"][0] == {"role": "system", "content": "Be exact."} for r in records)
    turns = [m for r in records for m in r["messages"][1:]]
    assert [m["role"] for m in turns] == ["user", "assistant"] * 40
    answers = [m["content"] for m in turns if m["role"] == "assistant"]
    assert answers == [generate_passage(3, i).truth for i in range(40)]
    questions = [m["content"].rsplit("\n\n", 1)[1] for m in turns if m["role"] == "user"]
    assert set(questions) <= set(PHRASINGS["citations"]) and len(set(questions)) >= 2
    for r in records:
        replies = [m["content"] for m in r["messages"] if m["role"] == "assistant"]
        assert 1 <= len(replies) <= PER_CONVERSATION
        assert len(replies) == 1 or sum(len(a.split("\n")) for a in replies) <= CASES_PER_CONVERSATION
    assert any(len(r["messages"]) == 1 + 2 * PER_CONVERSATION for r in records)
    assert citation_practice(40, seed=3, system_prompt="Be exact.") == records  # deterministic


def test_practice_rows_only_train_and_leave_the_opinion_split_as_it_was():
    def split(datasets):
        args = DataArguments(datasets=datasets, synthetic_opinions=30, synthetic_citation_passages=40,
                             synthetic_seed=4, court_tasks=["court", "citations"], test_size=0.2,
                             validation_size=0.1, system_prompt=None)
        result = load_conversations(args, seed=1, show=False)
        splits, _ = split_conversations(result.rows, args, seed=1, show=False)
        return result, splits

    result, splits = split([{"path": EMBEDDED_COURT_DATA}, {"path": EMBEDDED_CITATION_PRACTICE}])
    assert result.counts[EMBEDDED_CITATION_PRACTICE]["format"] == "messages"
    practice = [r for r in result.rows if r["source"].startswith(EMBEDDED_CITATION_PRACTICE)]
    assert len(practice) == len(citation_practice(40, seed=4)) and all(r.get("train_only") for r in practice)
    assert all(not r["source"].startswith(EMBEDDED_CITATION_PRACTICE) for name in ("validation", "test")
               for r in splits[name])
    assert splits["test"] and splits["validation"]
    _, alone = split([{"path": EMBEDDED_COURT_DATA}])
    for name in ("validation", "test"):
        assert [r["id"] for r in splits[name]] == [r["id"] for r in alone[name]]


def test_any_dataset_can_be_train_only(tmp_path):
    import json

    f = tmp_path / "extra.jsonl"
    f.write_text("".join(json.dumps({"instruction": f"Say {i}.", "output": f"{i}"}) + "\n" for i in range(12)))
    args = DataArguments(datasets=[{"path": str(f), "train_only": True}], test_size=0.25, validation_size=0.0)
    result = load_conversations(args, seed=0, show=False)
    splits, _ = split_conversations(result.rows, args, seed=0, show=False)
    assert len(splits["train"]) == 12 and not splits["test"]
