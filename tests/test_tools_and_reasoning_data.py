"""Tool-calling and reasoning data in the shapes people have: LLaMA-Factory's ShareGPT tool-call format (a record of
its published glaive_toolcall_en_demo.json: ``function_call`` / ``observation`` turns, ``tools`` as a JSON string),
OpenAI chat-completions messages (``content: null``, arguments as a JSON string, ``tool`` results) and DeepSeek's
``reasoning_content``; converted once into the data model, then trained: calls trained, results not."""

from __future__ import annotations

from pathlib import Path

import pytest
from template_families import family_tokenizer

from sft_recipes.chat.masking import trained_spans
from sft_recipes.chat.tokenize import tokenize_dataset
from sft_recipes.chat.template_info import describe_template
from sft_recipes.recipe import DataArguments
from sft_recipes.conversation import Conversation
from sft_recipes.data.formats import convert_records
from sft_recipes.data.load import load_conversations
from sft_recipes.data.sources import read_records

DATA = Path(__file__).parent / "fixtures" / "data"


def convert(name: str):
    return convert_records(read_records(str(DATA / name)), name=name)


def test_sharegpt_function_calls_become_tool_calls_and_results():
    result = convert("glaive_toolcall_sharegpt.json")
    assert result.format == "sharegpt" and not result.rejects
    plain, tools_row = result.rows
    assert "tools" not in plain  # "tools": "[]"
    assert [t["function"]["name"] for t in tools_row["tools"]] == ["calculate_area", "calculate_discount"]
    roles = [m["role"] for m in tools_row["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "user", "assistant", "tool", "assistant"]
    call = tools_row["messages"][1]
    assert call["content"] == "" and call["tool_calls"] == [
        {"type": "function", "function": {"name": "calculate_area",
                                          "arguments": {"shape": "rectangle", "dimensions": [5, 3]}}}]
    assert tools_row["messages"][2]["content"] == '{"area": 15}'
    Conversation.from_row(tools_row)  # the typed model accepts the row as it is


def test_sharegpt_reply_then_function_call_is_one_assistant_turn(tmp_path):
    path = tmp_path / "calls.json"
    path.write_text('[{"conversations": [{"from": "human", "value": "Weather?"}, {"from": "gpt", "value": "Let me '
                    'check."}, {"from": "function_call", "value": "{\\"name\\": \\"w\\", \\"arguments\\": {}}"}, '
                    '{"from": "observation", "value": "sunny"}, {"from": "gpt", "value": "Sunny."}]}]')
    [row] = convert_records(read_records(str(path))).rows
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert row["messages"][1]["content"] == "Let me check." and row["messages"][1]["tool_calls"][0]["function"][
        "name"] == "w"


def test_openai_messages_with_tool_calls_and_reasoning():
    result = convert("openai_tools_reasoning.jsonl")
    assert result.format == "messages" and not result.rejects
    tools_row, reasoning_row, inline_row = result.rows
    call = tools_row["messages"][2]
    assert call["content"] == "" and call["tool_calls"][0]["id"] == "call_9f2"
    assert call["tool_calls"][0]["function"]["arguments"] == {"city": "Oslo", "unit": "celsius"}
    assert tools_row["messages"][3] == {"role": "tool", "content": '{"condition": "rain", "temperature": 6}',
                                        "train": None, "tool_call_id": "call_9f2"}
    assert reasoning_row["messages"][1]["reasoning"].startswith("Compare decimals")
    assert inline_row["messages"][1]["content"].startswith("<think>")  # inline reasoning is kept as written


def test_bad_tool_calls_are_rejected_with_reasons(tmp_path):
    sharegpt = tmp_path / "bad.json"
    sharegpt.write_text('[{"conversations": [{"from": "human", "value": "x"}, '
                        '{"from": "function_call", "value": "not json"}]}]', encoding="utf-8")
    [reject] = convert_records(read_records(str(sharegpt))).rejects
    assert reject.reason.startswith("function_call in turn 2 is not valid JSON") and reject.source.endswith(":1")
    messages = tmp_path / "bad.jsonl"
    messages.write_text(
        '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, '
        '"tool_calls": [{"type": "function", "function": {"arguments": "{}"}}]}]}\n'
        '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], "tools": "{oops"}\n',
        encoding="utf-8")
    reasons = [r.reason for r in convert_records(read_records(str(messages))).rejects]
    assert reasons[0] == "a tool call has no function name in message 2"
    assert reasons[1].startswith("field 'tools' is not valid JSON")


def test_dataset_tools_apply_to_rows_without_their_own(tmp_path):
    import json

    (tmp_path / "tools.json").write_text(json.dumps([{"name": "lookup", "parameters": {"type": "object"}}]))
    data = tmp_path / "d.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n')
    args = DataArguments(datasets=[{"path": str(data), "tools": str(tmp_path / "tools.json")}])
    [row] = load_conversations(args, seed=0, show=False).rows
    assert row["tools"] == [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


@pytest.mark.parametrize("name", ["qwen2_5", "llama3_1", "glm4moe"])
def test_tool_calls_are_trained_and_results_are_not(smol_tokenizer, name):
    tokenizer = family_tokenizer(smol_tokenizer, name)
    info = describe_template(tokenizer)
    rows = convert("glaive_toolcall_sharegpt.json").rows
    result = tokenize_dataset(rows, tokenizer, info)
    assert not result.rejects
    texts = [tokenizer.decode(r["input_ids"][a:b]) for r in result.dataset if r["row_index"] == 1
             for a, b in trained_spans(r["labels"])]
    assert len(texts) == 4  # two calls and two answers
    assert "calculate_area" in texts[0] and "rectangle" in texts[0] and "circle" in texts[2]
    assert texts[1].startswith("The area of the rectangle") or "The area of the rectangle" in texts[1]
    for text in texts:
        assert '{"area"' not in text  # tool results are read, never trained
