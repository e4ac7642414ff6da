"""Cleaning, exact dedupe, weighted mixing and leak-free group-aware splitting."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sft_recipes.recipe import DataArguments
from sft_recipes.data.clean import clean_rows, normalize_text
from sft_recipes.data.load import load_conversations, split_conversations
from sft_recipes.data.mix import MixPart, mix_datasets
from sft_recipes.data.split import overlap_report, split_rows

DATA = Path(__file__).parent / "fixtures" / "data"


def row(user: str, answer: str, source: str, group: str | None = None) -> dict:
    return {
        "messages": [{"role": "user", "content": user, "train": None},
                     {"role": "assistant", "content": answer, "train": None}],
        "source": source, "task": "", "id": source, "group": group or source,
    }


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("  padded \t text  ", "padded text"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("para one\n\n\n\n para two", "para one\n\n para two"),
        ("def f():\n    return  1   \n", "def f():\n    return 1"),  # indentation kept, inner runs collapsed
        ("cafe\u0301", "caf\u00e9"),  # NFC
        ("no\u00a0\u00a0break\x00", "no break"),
    ],
)
def test_normalize_text(raw, clean):
    assert normalize_text(raw) == clean


def test_dedupe_on_normalised_content_names_the_first_source():
    args = DataArguments(datasets=[{"path": str(DATA / "duplicates.jsonl")}])
    result = load_conversations(args, seed=0, show=False)
    path = DATA / "duplicates.jsonl"
    assert [r["source"] for r in result.rows] == [f"{path}:1", f"{path}:3"]
    assert [(r.reason, r.source) for r in result.rejects] == [
        ("empty instruction", f"{path}:4"),
        (f"duplicate of {path}:1", f"{path}:2"),
    ]
    assert result.counts[str(path)]["rejected"] == {"empty instruction": 1, "duplicate": 1}
    assert result.rows[0]["messages"][0]["content"] == "Define tort."


def test_duplicates_across_datasets_and_dedupe_off():
    paths = [{"path": str(DATA / "alpaca.jsonl")}, {"path": str(DATA / "alpaca.csv")}]
    deduped = load_conversations(DataArguments(datasets=paths), seed=0, show=False)
    assert len(deduped.rows) == 3 and len(deduped.rejects) == 3
    assert deduped.rejects[0].reason == f"duplicate of {DATA / 'alpaca.jsonl'}:1"
    kept_all = load_conversations(DataArguments(datasets=paths, dedupe=False), seed=0, show=False)
    assert len(kept_all.rows) == 6 and not kept_all.rejects


def test_empty_turns_are_rejected_but_documents_without_a_user_turn_are_kept():
    rows = [row("  ", "answer", "a:1"), row("question", "\n\t", "a:2"), row("fine", "fine", "a:3"),
            {"messages": [{"role": "assistant", "content": "a document", "train": True}], "source": "a:4",
             "task": "", "id": "a:4", "group": "a:4"}]
    result = clean_rows(rows)
    assert [r["source"] for r in result.rows] == ["a:3", "a:4"]
    assert [r.reason for r in result.rejects] == ["empty user instruction", "empty assistant output"]
    assert result.counts == {"read": 4, "kept": 2,
                             "rejected": {"empty user instruction": 1, "empty assistant output": 1}}


def test_mixing_weights_give_the_expected_counts():
    a = [row(f"a{i}", "x", f"a:{i}") for i in range(10)]
    b = [row(f"b{i}", "x", f"b:{i}") for i in range(10)]
    c = [row(f"c{i}", "x", f"c:{i}") for i in range(10)]
    mixed, counts = mix_datasets([MixPart("a", a, 2.0), MixPart("b", b, 0.5), MixPart("c", c, 1.5)], seed=1)
    assert {k: v["mixed"] for k, v in counts.items()} == {"a": 20, "b": 5, "c": 15}
    per_source = Counter(r["source"] for r in mixed)
    assert all(per_source[f"a:{i}"] == 2 for i in range(10))
    assert sum(per_source[f"b:{i}"] for i in range(10)) == 5 and max(per_source[f"b:{i}"] for i in range(10)) == 1
    assert all(per_source[f"c:{i}"] >= 1 for i in range(10))  # 1.5 = every row plus a half again
    again, _ = mix_datasets([MixPart("a", a, 2.0), MixPart("b", b, 0.5), MixPart("c", c, 1.5)], seed=1)
    other, _ = mix_datasets([MixPart("a", a, 2.0), MixPart("b", b, 0.5), MixPart("c", c, 1.5)], seed=2)
    sources = lambda rows: [r["source"] for r in rows]  # noqa: E731
    assert sources(again) == sources(mixed)
    assert sources(other) != sources(mixed)


def court_like_rows(n_groups: int, per_group: int = 6) -> list[dict]:
    return [row(f"task {t} of opinion {g}", f"answer {t}.{g}", f"c.jsonl:{g}", group=f"op-{g}")
            for g in range(n_groups) for t in range(per_group)]


def test_split_keeps_groups_together_with_zero_overlap():
    rows = court_like_rows(60)
    splits, report = split_rows(rows, validation_size=0.1, test_size=0.1, seed=5)
    assert sum(len(s) for s in splits.values()) == len(rows)
    groups = {name: {r["group"] for r in s} for name, s in splits.items()}
    assert not (groups["train"] & groups["validation"] or groups["train"] & groups["test"]
                or groups["validation"] & groups["test"])
    assert all(len(s) % 6 == 0 for s in splits.values())  # no group was cut
    assert len(splits["validation"]) == 36 and len(splits["test"]) == 36
    assert report["shared_groups"] == report["shared_content"] == report["shared_prompts"] == 0
    again, _ = split_rows(rows, 0.1, 0.1, seed=5)
    other, _ = split_rows(rows, 0.1, 0.1, seed=6)
    assert again == splits and other != splits


def test_overlap_report_counts_what_leaky_splits_share():
    leaky = {"train": [row("q1", "a1", "s:1", "g1"), row("q2", "a2", "s:2", "g2")],
             "validation": [row("q1", "a1", "s:3", "g3"), row("q2", "other answer", "s:4", "g2")],
             "test": []}
    report = overlap_report(leaky)
    assert report["pairs"]["train/validation"] == {"shared_groups": 1, "shared_content": 1, "shared_prompts": 2}


def test_rows_that_leak_across_groups_are_removed_and_reported():
    rows = [row(f"question {i}", f"answer {i}", f"s:{i}") for i in range(30)]
    rows += [row(f"question {i}", f"a different answer {i}", f"t:{i}") for i in range(30)]  # same prompts
    splits, report = split_rows(rows, 0.2, 0.2, seed=0)
    assert report["shared_prompts"] == report["shared_content"] == 0
    assert report["removed_across_splits"] == len(report["rejects"]) > 0
    assert sum(len(s) for s in splits.values()) + report["removed_across_splits"] == len(rows)
    assert all(r.reason.startswith("leaks across splits: same prompt as") for r in report["rejects"])


@pytest.mark.parametrize("n_groups", [3, 4, 7])
def test_small_sets_still_get_validation_and_test_rows(n_groups):
    splits, _ = split_rows(court_like_rows(n_groups, per_group=1), 0.05, 0.05, seed=0)
    assert all(len(splits[name]) >= 1 for name in ("train", "validation", "test"))


def test_zero_fractions_keep_everything_in_train():
    rows = court_like_rows(5, per_group=2)
    splits, _ = split_rows(rows, 0.0, 0.0, seed=0)
    assert len(splits["train"]) == 10 and not splits["validation"] and not splits["test"]


def test_split_conversations_uses_the_recipe_fractions():
    args = DataArguments(datasets=["embedded:court-opinions"], synthetic_opinions=40, validation_size=0.1,
                         test_size=0.2)
    rows = load_conversations(args, seed=0, show=False).rows
    splits, report = split_conversations(rows, args, seed=0, show=False)
    assert report["sizes"] == {name: len(s) for name, s in splits.items()}
    assert len(splits["test"]) == 48 and len(splits["validation"]) == 24  # whole opinions of six rows
    assert report["shared_groups"] == 0
