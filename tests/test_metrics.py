"""Task metrics against values computed by hand."""

import pytest

from sft_recipes.evaluation.metrics import (
    citation_f1,
    contains,
    exact_match,
    format_adherence,
    format_overfitting,
    headline_metric,
    format_violations,
    length_ratio,
    normalize_answer,
    normalized_exact_match,
    score_answer,
    score_rows,
    split_items,
    token_f1,
)


def test_normalize_is_squad_style():
    assert normalize_answer("  The Court  REVERSED, in part!  ") == "court reversed in part"
    assert normalize_answer("An apple a day") == "apple day"
    assert normalize_answer("theory") == "theory"  # articles only as whole words


def test_exact_and_normalized_match():
    assert exact_match(" REVERSED\n", "REVERSED") == 1.0
    assert exact_match("Reversed.", "REVERSED") == 0.0
    assert normalized_exact_match("Reversed.", "REVERSED") == 1.0
    assert normalized_exact_match("AFFIRMED", "REVERSED") == 0.0


def test_token_f1_by_hand():
    # answer: [court, reversed, judgment]; reference: [judgment, reversed]
    # common 2 -> precision 2/3, recall 2/2 -> F1 = 2*(2/3)*1/(2/3+1) = 0.8
    assert token_f1("The court reversed the judgment", "Judgment reversed.") == pytest.approx(0.8)
    # repeated tokens count once per match: answer [a1 a1 a1] vs [a1]: common 1, p 1/3, r 1 -> 0.5
    assert token_f1("appeal appeal appeal", "appeal") == pytest.approx(0.5)
    assert token_f1("", "") == 1.0
    assert token_f1("", "something") == 0.0
    assert token_f1("unrelated", "something") == 0.0


def test_contains_whole_words():
    assert contains("The judgment is REVERSED and remanded.", "reversed") == 1.0
    assert contains("The judgment is irreversed.", "reversed") == 0.0
    assert contains("AFFIRMED", "AFFIRMED IN PART AND REVERSED IN PART") == 0.0
    assert contains("", "") == 1.0 and contains("x", "") == 0.0


def test_split_items_and_citation_f1():
    answer = "- Smith v. Jones, 123 U.S. 456 (1990)\n2. Doe v. Roe, 5 F.3d 7; Brown v. Board, 347 U.S. 483"
    assert split_items(answer) == [
        "smith v jones 123 u s 456 1990",
        "doe v roe 5 f 3d 7",
        "brown v board 347 u s 483",
    ]
    reference = "Smith v. Jones, 123 U.S. 456 (1990)\nMiranda v. Arizona, 384 U.S. 436"
    # answer items 3, reference items 2, common 1 -> p 1/3, r 1/2 -> F1 = 2*(1/6)/(5/6) = 0.4
    assert citation_f1(answer, reference) == pytest.approx(0.4)
    assert citation_f1("X; X\nY", "y\nx") == 1.0  # sets: order and duplicates do not matter
    assert citation_f1("", "") == 1.0 and citation_f1("", "X") == 0.0


def test_length_ratio_and_empty():
    assert length_ratio("one two three", "one two three four five six") == pytest.approx(0.5)
    assert length_ratio("anything", "   ") is None
    scores = score_answer("summarize", "   ", "a reference")
    assert scores["empty"] == 1.0 and scores["length_ratio"] == 0.0


def test_format_violations():
    assert format_violations("Reversed.") == []
    leaked = "REVERSED<|im_end|>\n<|im_start|>user\nwhat else?"
    assert format_violations(leaked) == ["<|im_end|>", "<|im_start|>"]
    assert format_violations("The answer.\n\n### Instruction:\nNext") == ["###"]
    assert format_violations("Sure.\nUser: and then?") == ["User:"]
    assert format_violations("Issue: whether the statute applies") == []  # a label that is not a role header
    assert format_adherence("fine answer") == 1.0 and format_adherence("x\nAssistant: y") == 0.0


def test_format_overfitting_definition():
    reference = "the court reversed the judgment"
    healthy = format_overfitting("The court reversed the judgment.", "The court reversed.", reference)
    # templated F1 1.0; untemplated [court, reversed] vs [court reversed judgment]: p 1, r 2/3 -> F1 0.8
    assert healthy["untemplated_f1"] == pytest.approx(0.8)
    assert not healthy["overfit"]

    leaking = format_overfitting("The court reversed.", "<|im_start|>assistant\nThe court reversed.", reference)
    assert leaking["leaks_template"] and leaking["leaked_markers"] == ["<|im_start|>"] and leaking["overfit"]

    collapsed = format_overfitting("The court reversed the judgment.", "banana banana", reference)
    assert collapsed["collapsed"] and not collapsed["leaks_template"] and collapsed["overfit"]

    # without a reference only an empty plain-text answer counts as a collapse
    assert format_overfitting("Reversed.", "  ")["collapsed"]
    assert not format_overfitting("Reversed.", "Something else")["overfit"]


def test_score_rows_per_task_and_overall():
    rows = [
        {"task": "holding", "answer": "Reversed.", "reference": "REVERSED"},  # nEM 1
        {"task": "holding", "answer": "AFFIRMED", "reference": "REVERSED"},  # nEM 0
        {"task": "citations", "answer": "X v. Y\nW v. Z", "reference": "X v. Y"},  # set F1: p 1/2 r 1 -> 2/3
        {"task": "summarize", "answer": "court reversed judgment", "reference": "judgment reversed"},  # F1 0.8
        {"task": "other", "answer": "", "reference": "x y"},  # token F1 0, empty
    ]
    scored = score_rows(rows)
    per_task, overall = scored["per_task"], scored["overall"]
    assert per_task["holding"]["headline_metric"] == "normalized_em"
    assert per_task["holding"]["headline"] == pytest.approx(0.5)
    assert per_task["holding"]["exact_match"] == 0.0
    assert per_task["holding"]["contains"] == pytest.approx(0.5)
    assert per_task["citations"]["headline_metric"] == "citation_f1"
    assert per_task["citations"]["headline"] == pytest.approx(2 / 3)
    assert per_task["summarize"]["headline"] == pytest.approx(0.8)
    assert per_task["other"]["headline_metric"] == "token_f1" and per_task["other"]["headline"] == 0.0
    assert overall["n"] == 5
    assert overall["headline"] == pytest.approx((1 + 0 + 2 / 3 + 0.8 + 0) / 5)
    assert overall["macro_headline"] == pytest.approx((0.5 + 2 / 3 + 0.8 + 0) / 4)
    assert overall["empty_rate"] == pytest.approx(0.2)
    assert overall["format_adherence"] == 1.0
    # length ratios: 1/1, 1/1, 6/3 words ("X v. Y W v. Z" vs "X v. Y"), 3/2, 0/2
    assert overall["length_ratio"] == pytest.approx((1 + 1 + 2 + 1.5 + 0) / 5)


def test_a_registered_task_family_sets_headline_and_scores():
    from sft_recipes.tasks.registry import TaskFamily, register, unregister

    def scores(task, answer, reference):
        return {"yes_no": float(answer.strip().lower()[:3] == reference.strip().lower()[:3])}

    assert headline_metric("verdict") == "token_f1"  # no family owns it yet
    register(TaskFamily("yes_no_questions", {"verdict": "yes_no"}, scores))
    try:
        result = score_rows([{"task": "verdict", "answer": "Yes, it is.", "reference": "yes"},
                             {"task": "verdict", "answer": "No.", "reference": "yes"},
                             {"task": "holding", "answer": "REVERSED", "reference": "REVERSED"}])
        verdict = result["per_task"]["verdict"]
        assert verdict["headline_metric"] == "yes_no" and verdict["headline"] == 0.5 and "token_f1" not in verdict
        assert result["per_task"]["holding"]["headline_metric"] == "normalized_em"  # the built-in family still counts
        with pytest.raises(ValueError, match="'holding' already belongs to the court_opinions family"):
            register(TaskFamily("other", {"holding": "token_f1"}, scores))
    finally:
        unregister("yes_no_questions")
    assert headline_metric("verdict") == "token_f1"
