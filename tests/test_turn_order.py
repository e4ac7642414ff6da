"""Conversations whose turns cannot be trained as they stand are rejected with a reason and counted: one that ends
on a user turn nothing answers, and one with two assistant turns in a row. A tool message between two assistant
turns (a call and its result) keeps the conversation valid."""

from __future__ import annotations

import json

from sft_recipes.recipe import DataArguments
from sft_recipes.data.load import load_conversations

ENDS_ON_USER = "ends on a user turn that nothing answers"
TWO_ASSISTANTS = "two assistant turns in a row"


def test_sharegpt_rows_with_a_trailing_user_turn_or_two_replies_in_a_row_are_rejected_and_counted(tmp_path):
    path = tmp_path / "sg.json"
    records = [
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"},
                           {"from": "human", "value": "Bye?"}]},
        {"conversations": [{"from": "human", "value": "Q1"}, {"from": "gpt", "value": "A1"},
                           {"from": "gpt", "value": "A1 again"}]},
        {"conversations": [{"from": "human", "value": "Q2"}, {"from": "gpt", "value": "A2"}]},
        {"conversations": [{"from": "human", "value": "Q3"}, {"from": "gpt", "value": "A3"},
                           {"from": "human", "value": "Q4"}, {"from": "gpt", "value": "A4"},
                           {"from": "human", "value": "unanswered"}]},
    ]
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n", encoding="utf-8")  # lines 2-5
    result = load_conversations(DataArguments(datasets=[{"path": str(path), "format": "sharegpt"}]), seed=0, show=False)
    assert [[m["content"] for m in row["messages"]] for row in result.rows] == [["Q2", "A2"]]
    reasons = sorted((r.reason, r.source) for r in result.rejects)
    assert reasons == sorted([(ENDS_ON_USER, f"{path}:2"), (TWO_ASSISTANTS, f"{path}:3"),
                              (ENDS_ON_USER, f"{path}:5")])
    assert result.counts[str(path)]["rejected"] == {ENDS_ON_USER: 2, TWO_ASSISTANTS: 1}


def test_messages_rows_are_checked_the_same_way(tmp_path):
    path = tmp_path / "m.jsonl"
    rows = [
        [("user", "a"), ("assistant", "b"), ("user", "c")],
        [("system", "s"), ("user", "a"), ("assistant", "b"), ("assistant", "c")],
        [("system", "s"), ("user", "a"), ("assistant", "b")],
    ]
    path.write_text("".join(json.dumps({"messages": [{"role": r, "content": c} for r, c in row]}) + "\n"
                            for row in rows), encoding="utf-8")
    result = load_conversations(DataArguments(datasets=[str(path)]), seed=0, show=False)
    assert len(result.rows) == 1
    assert [r.reason for r in result.rejects] == [ENDS_ON_USER, TWO_ASSISTANTS]


def message(role, train=None):
    return {"role": role, "content": "x", "train": train}


def test_turn_order_rules():
    from sft_recipes.data.formats import turn_order_problem

    assert turn_order_problem([message("user"), message("assistant")]) is None
    assert turn_order_problem([message("system"), message("user"), message("assistant"), message("user"),
                               message("assistant")]) is None
    # a tool call, its result, then the answer: valid (the role the tool-use data model adds)
    assert turn_order_problem([message("user"), message("assistant"), message("tool"), message("assistant")]) is None
    assert turn_order_problem([message("user"), message("assistant"), message("user")]) == ENDS_ON_USER
    assert turn_order_problem([message("user"), message("assistant"), message("assistant")]) == TWO_ASSISTANTS
    # a last user turn the data asks to train on is trained, so it is not left unanswered for nothing
    assert turn_order_problem([message("user"), message("assistant"), message("user", train=True)]) is None
