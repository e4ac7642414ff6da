"""The synthetic corpus teaches the task, not a layout: varied, deterministic, every answer derivable, and a held-out
split whose writing styles never occur in training."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from sft_recipes.recipe import EMBEDDED_COURT_DATA, EMBEDDED_COURT_HELDOUT_STYLE, DataArguments
from sft_recipes.data.load import load_conversations
from sft_recipes.tasks.court_opinions import build_instruction_rows
from sft_recipes.tasks.court_opinions.synthetic import generate_opinion, generate_opinions, write_corpus
from sft_recipes.tasks.court_opinions.synthetic import dispositions
from sft_recipes.tasks.court_opinions.synthetic import styles as st


@pytest.fixture(scope="module")
def corpus():
    return {name: generate_opinions(150, seed=3, styles=name) for name in st.SPLITS}


def derived(opinion) -> dict[str, str]:
    rows, rejects = build_instruction_rows(opinion.record, opinion.record["id"])
    assert not rejects, [r.reason for r in rejects]
    return {r["task"]: r["messages"][-1]["content"] for r in rows}


@pytest.mark.parametrize("split", st.SPLITS)
def test_every_answer_of_generated_opinions_derives_exactly(corpus, split):
    for opinion in corpus[split]:
        got = derived(opinion)
        for task, expected in opinion.truth.items():
            assert got[task] == expected, (opinion.record["id"], task)
        assert got["summarize"].endswith(f"Disposition: {opinion.truth['holding']}.")


def test_corpus_is_deterministic_per_seed(tmp_path):
    a = write_corpus(tmp_path / "a.jsonl", 12, seed=7)
    b = write_corpus(tmp_path / "b.jsonl", 12, seed=7)
    c = write_corpus(tmp_path / "c.jsonl", 12, seed=8)
    assert a.read_bytes() == b.read_bytes() and a.read_bytes() != c.read_bytes()
    first = write_corpus(tmp_path / "d.jsonl", 6, seed=7).read_bytes().splitlines()
    assert first == a.read_bytes().splitlines()[:6]  # a larger corpus starts with the smaller one
    records = [json.loads(line) for line in a.read_text(encoding="utf-8").splitlines()]
    assert set(records[0]) == {"id", "case_name", "court", "date_filed", "text"}


def test_corpus_varies_where_real_opinions_vary(corpus):
    opinions = corpus["train"] + corpus["heldout"]
    courts = {o.record["court"] for o in opinions}
    holdings = Counter(o.truth["holding"] for o in opinions)
    words = [len(o.record["text"].split()) for o in opinions]
    assert len(courts) >= 60 and any("Supreme Court of the United States" == c for c in courts)
    assert any("District Court" in c for c in courts) and any("Bankruptcy" in c for c in courts)
    assert len(holdings) >= 10 and sum(" AND " in h for h in holdings) >= 5  # multi-part dispositions
    assert min(words) < 250 and max(words) > 1800  # a few hundred words to several thousand tokens
    assert 0.3 < sum(o.caption_shown for o in corpus["train"]) / len(corpus["train"]) < 0.8  # captions and none
    texts = " ".join(o.record["text"] for o in opinions)
    for form in ("Id. at", "supra", "U.S.C. §", " at ", "dissenting", "(holding that"):
        assert form in texts, form
    assert re.search(r"\d+ U\.S\. \d+, \d+ S\. Ct\. \d+", texts)  # parallel citations


def test_held_out_styles_never_occur_in_training():
    for pools in (st.CAPTIONS, st.OPENERS, st.HEADINGS, st.QUESTIONS, st.TRIAL_QUESTIONS, st.HOLDINGS,
                  st.CITATION_SENTENCES, st.SHORT_FORMS, dispositions.APPELLATE, dispositions.TRIAL):
        shared = set(pools["train"]) & set(pools["heldout"])
        assert shared <= {("", "", "")}, shared
    train = [o.record["text"] for o in generate_opinions(80, seed=1, styles="train")]
    for marker in ("At issue is whether", "teaches that", "IT IS HEREBY ORDERED", "must be (affirmed|reversed|"
                   "vacated|dismissed|granted|denied)", "See id. at", "with costs", "WITH INSTRUCTIONS"):
        assert not any(re.search(marker, text, re.IGNORECASE) for text in train), marker
    heldout = [o.record["text"] for o in generate_opinions(80, seed=1, styles="heldout")]
    for marker in ("The question presented is whether", "delivered the opinion", r"\(holding that",
                   "will be (affirmed|reversed|vacated|dismissed|granted|denied)"):
        assert not any(re.search(marker, text, re.IGNORECASE) for text in heldout), marker


def test_every_disposition_family_occurs_in_training():
    import random

    texts = [dispositions.disposition_text(plan, "train", trial, random.Random(i), subject, lower, "defendant")
             for i in range(300) for plan, trial, subject, lower in
             ((("REVERSED", "REMANDED"), False, "judgment", "District Court"), (("GRANTED",), True, "motion", ""))]
    joined = "\n".join(texts)
    for form in ("REVERSED AND REMANDED.", " is ", "We ", "the Court grants", "will be", "IT IS ORDERED",
                 "Judgment ", "Accordingly, we"):
        assert form.lower() in joined.lower(), form


def test_max_words_caps_the_length():
    assert max(len(o.record["text"].split()) for o in generate_opinions(40, 2, max_words=300)) < 450
    with pytest.raises(ValueError, match="styles"):
        generate_opinion(1, 0, styles="unknown")


def test_embedded_paths_resolve_to_the_two_splits():
    args = DataArguments(datasets=[{"path": EMBEDDED_COURT_DATA}, {"path": EMBEDDED_COURT_HELDOUT_STYLE}],
                         synthetic_opinions=4, synthetic_heldout_opinions=3, synthetic_seed=11,
                         court_tasks=["court", "holding"])
    result = load_conversations(args, seed=0, show=False)
    assert len(result.rows) == 14
    assert result.rows[0]["source"] == f"{EMBEDDED_COURT_DATA}:1"
    held = [r for r in result.rows if r["source"].startswith(EMBEDDED_COURT_HELDOUT_STYLE)]
    truth = generate_opinions(3, seed=12, styles="heldout")
    assert [r["messages"][-1]["content"] for r in held if r["task"] == "holding"] == [o.truth["holding"]
                                                                                     for o in truth]
    assert result.counts[EMBEDDED_COURT_DATA]["format"] == "court_opinions"
