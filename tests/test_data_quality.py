"""Data quality analysis: measures checked by hand on small inputs, near-duplicates found (and only real ones),
and the data-quality experiment end to end on a file with planted problems."""

from __future__ import annotations

import json
import random

import pytest

from sft_recipes.data.quality import (
    QualityError,
    analyze_rows,
    distinct_n,
    diversity,
    length_report,
    near_duplicates,
    shingles,
    token_lengths,
    top_openings,
)
from sft_recipes.experiments.cli import main as experiment_main

VOCAB = ("court appeal judgment statute contract damages plaintiff defendant evidence motion trial jury verdict "
         "review standard error finding remand order claim breach notice party witness record brief").split()


def row(user: str, answer: str, group: str, source: str = "") -> dict:
    return {"messages": [{"role": "user", "content": user, "train": None},
                         {"role": "assistant", "content": answer, "train": None}],
            "source": source or group, "task": "", "id": group, "group": group}


def random_text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def test_distinct_n_by_hand():
    # "a b a b": unigrams a,b,a,b -> 2 unique of 4; bigrams ab,ba,ab -> 2 unique of 3
    assert distinct_n(["a b a b"], 1) == pytest.approx(0.5)
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n(["a b", "c d"], 2) == pytest.approx(1.0)
    assert distinct_n(["one"], 2) == 0.0  # no bigram at all


def test_diversity_counts_repeated_instructions_and_answers():
    rows = [row("Define tort.", "A civil wrong.", "1"), row("define  TORT", "A civil wrong.", "2"),
            row("Define crime.", "A public wrong.", "3"), row("Define contract.", "An agreement.", "4")]
    d = diversity(rows)
    assert d["unique_instructions"] == 3  # case and punctuation do not make an instruction new
    assert d["unique_instruction_ratio"] == pytest.approx(0.75)
    assert d["unique_response_ratio"] == pytest.approx(0.75)


def test_top_openings_counts_shares_and_skips_singletons():
    texts = ["Sure, here is a poem", "Sure here is the list", "Sure, here is code", "No.", "The answer is 4"]
    top = top_openings(texts, 3)
    # four texts have 3+ words; "sure here is" opens three of them; the singletons are not listed
    assert top == [{"opening": "sure here is", "count": 3, "share": 0.75}]
    assert top_openings(texts, 1)[0] == {"opening": "sure", "count": 3, "share": 0.6}


def test_near_duplicates_finds_planted_pairs_across_groups_only():
    rng = random.Random(0)
    rows = [row(random_text(rng, 30), random_text(rng, 40), f"g{i}", f"data.jsonl:{i + 1}") for i in range(40)]
    # row 40: row 3 with one word changed (Jaccard of 5-gram shingles ~0.9); row 41: an exact copy of row 7
    words = rows[3]["messages"][1]["content"].split()
    words[20] = "xylophone"
    rows.append(row(rows[3]["messages"][0]["content"], " ".join(words), "g40", "data.jsonl:41"))
    rows.append(row(rows[7]["messages"][0]["content"], rows[7]["messages"][1]["content"], "g41", "data.jsonl:42"))
    # a near-copy of row 0 in the same group (a shared document): counted apart, never reported as a duplicate
    rows.append(row(rows[0]["messages"][0]["content"], rows[0]["messages"][1]["content"] + " indeed", "g0",
                    "data.jsonl:43"))

    result = near_duplicates(rows, threshold=0.7, seed=1)
    found = {(p["a"], p["b"]): p["jaccard"] for p in result["top_pairs"]}
    assert set(found) == {(3, 40), (7, 41)}
    assert found[(7, 41)] == 1.0 and 0.7 <= found[(3, 40)] < 1.0
    assert result["exact_pairs"] == 1
    assert result["within_group_pairs"] == 1
    assert result["clusters"] == 2 and result["removable_rows"] == 2
    top = result["top_pairs"][0]
    assert (top["source_a"], top["source_b"]) == ("data.jsonl:8", "data.jsonl:42")
    # the reported similarity is the exact Jaccard of the shingle sets, not the MinHash estimate
    a, b = (shingles("\n".join(m["content"] for m in rows[i]["messages"])) for i in (3, 40))
    assert found[(3, 40)] == pytest.approx(len(a & b) / len(a | b), abs=1e-4)
    assert near_duplicates(rows, threshold=0.7, seed=1)["top_pairs"] == result["top_pairs"]  # deterministic


def test_near_duplicates_rejects_bad_threshold():
    with pytest.raises(QualityError, match="threshold"):
        near_duplicates([row("a", "b", "1")], threshold=0)
    with pytest.raises(QualityError, match="no rows"):
        analyze_rows([])


def test_token_lengths_use_the_tokenizer_and_its_template(smol_tokenizer):
    rows = [row("What is the capital of France?", "Paris is the capital of France.", "1"),
            row("Name a prime number.", "Seven.", "2")]
    lengths = token_lengths(rows, smol_tokenizer)
    for r, n_user, n_answer in zip(rows, lengths["instruction"], lengths["response"]):
        assert n_user == len(smol_tokenizer(r["messages"][0]["content"], add_special_tokens=False)["input_ids"])
        assert n_answer == len(smol_tokenizer(r["messages"][1]["content"], add_special_tokens=False)["input_ids"])
    rendered = smol_tokenizer.apply_chat_template(
        [{"role": m["role"], "content": m["content"]} for m in rows[0]["messages"]], tokenize=False)
    assert lengths["total"][0] == len(smol_tokenizer(rendered, add_special_tokens=False)["input_ids"])
    assert lengths["total"][0] > lengths["instruction"][0] + lengths["response"][0]  # template tokens count too
    limit = lengths["total"][1]  # the shorter row fits, the longer does not
    report = length_report(lengths, limit)
    assert report["over_max_length"] == 1 and report["over_max_length_share"] == 0.5


def test_data_quality_experiment_on_a_file(tiny_model_dir, tmp_path):
    rng = random.Random(1)
    records = [{"instruction": f"Explain point {i}: " + random_text(rng, 12), "input": "",
                "output": "Certainly! Here is the answer: " + random_text(rng, 30)} for i in range(30)]
    records.append(dict(records[4]))  # an exact duplicate: rejected while cleaning
    near = dict(records[9])
    near["output"] = near["output"].replace("answer", "reply", 1)
    records.append(near)  # a near-duplicate: kept, and reported
    records.append({"instruction": "Say nothing.", "input": "", "output": ""})  # empty output: rejected
    data = tmp_path / "alpaca.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "quality"

    code = experiment_main(["data-quality", "--data", str(data), "--model_name_or_path", str(tiny_model_dir),
                            "--max_length", "64", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["rows"] == 31
    assert report["rejected"] == {"duplicate": 1, "empty output": 1}
    nd = report["near_duplicates"]
    assert nd["pairs"] == 1
    assert {nd["top_pairs"][0]["source_a"], nd["top_pairs"][0]["source_b"]} == {f"{data}:10", f"{data}:32"}
    openings = report["openings"]["response"]["3"]
    assert openings[0]["opening"] == "certainly here is" and openings[0]["share"] == 1.0
    assert report["lengths"]["max_length"] == 64 and report["lengths"]["over_max_length"] > 0
    assert "_length_values" not in report
    markdown = (out / "report.md").read_text()
    assert "near-duplicate" in markdown.lower() and "certainly here is" in markdown
    for name in ("token_lengths", "openings", "diversity", "near_duplicates"):
        png = out / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"plots/{name}.png" in markdown


def test_data_quality_needs_data():
    from sft_recipes.experiments import ExperimentError

    with pytest.raises(ExperimentError, match="--config RECIPE or --data FILE"):
        experiment_main(["data-quality"])
