"""Previews show exactly the trained spans: [[ ]] in plain text; in colour, answers, reasoning, tool calls and the
end of turn apart; per-turn rows named; green in the PNG strip."""

from __future__ import annotations

import copy
import io

import pytest
from rich.console import Console
from template_families import family_tokenizer

from sft_recipes.chat.masking import IGNORE_INDEX
from sft_recipes.chat.tokenize import tokenize_conversation
from sft_recipes.chat.preview import STYLES, explained_rows, preview_rows, preview_text, save_mask_strip
from sft_recipes.chat.template_info import describe_template
from sft_recipes.chat.templates import setup_chat_template

OPTIONS = {"train_on": "assistant", "multi_turn": "auto", "train_on_reasoning": True}


@pytest.fixture(scope="module")
def rows(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    info = setup_chat_template(tokenizer, "auto")
    conversations = [
        [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Hi!"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Two plus two?"},
         {"role": "assistant", "content": "Four."}, {"role": "user", "content": "And three?"},
         {"role": "assistant", "content": "Five... no, six."}],
        [{"role": "user", "content": "Count."}, {"role": "assistant", "content": "One two three four five."}],
    ]
    out = []
    for i, messages in enumerate(conversations):
        row = tokenize_conversation(tokenizer, messages, info=info)
        out.append({"input_ids": row.input_ids, "labels": row.labels, "source": f"d.jsonl:{i + 1}"})
    return tokenizer, out


def test_plain_preview_marks_exactly_the_trained_spans(rows):
    tokenizer, data = rows
    text = preview_text(tokenizer, data, n=2)
    first, second = text.split("\n\n", 1)[0], text.split("\n\nrow 2", 1)[1]
    assert first.startswith("row 1 d.jsonl:1: ")
    assert "<|im_start|>assistant\n[[Hi!<|im_end|>]]" in text
    assert "[[Four.<|im_end|>]]" in second and "[[Five... no, six.<|im_end|>]]" in second
    assert text.count("[[") == 3 and text.count("]]") == 3  # n=2: the third row is not shown
    assert "[[" not in text.split("[[Hi!")[0]  # nothing before the reply is marked
    total, trained = len(data[0]["labels"]), sum(lab != IGNORE_INDEX for lab in data[0]["labels"])
    assert f"{total} tokens, {trained} trained ({trained / total:.1%})" in first


def styled(group, index: int, style: str) -> str:
    body = group.renderables[2 + 3 * index + 1]
    return "".join(body.plain[s.start:s.end] for s in body.spans if str(s.style).replace(" underline", "") == style)


def test_rich_preview_colours_trained_tokens(rows):
    tokenizer, data = rows
    group = preview_rows(tokenizer, data, n=1)
    assert styled(group, 0, STYLES["answer"]) == "Hi!" and styled(group, 0, STYLES["end_of_turn"]) == "<|im_end|>"
    console = Console(file=io.StringIO(), width=120, color_system="truecolor", force_terminal=True)
    console.print(group)
    shown = console.file.getvalue()
    assert "\x1b[" in shown and "row 1 d.jsonl:1" in shown  # coloured output for a terminal


@pytest.mark.parametrize("train_on_reasoning", [True, False])
def test_reasoning_tool_calls_and_per_turn_rows_are_told_apart(smol_tokenizer, train_on_reasoning):
    """Qwen3 drops earlier reasoning once a later user turn follows: each turn is its own row, and the preview shows
    the reasoning (trained or struck through), the tool call and the end of turn in their own colours."""
    tokenizer = family_tokenizer(smol_tokenizer, "qwen3")
    info = describe_template(tokenizer)
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    conversation = {"source": "t.jsonl:1", "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "reasoning": "I should look it up.", "tool_calls": [call]},
        {"role": "tool", "content": "18 C", "name": "get_weather"},
        {"role": "assistant", "content": "It is 18 C.", "reasoning": "The tool said 18 C."},
        {"role": "user", "content": "Thanks!"},
        {"role": "assistant", "content": "You are welcome.", "reasoning": "Be polite."}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather now.",
                                                    "parameters": {"type": "object", "properties": {}}}}]}
    options = dict(OPTIONS, train_on_reasoning=train_on_reasoning)
    data, titles = explained_rows(tokenizer, info, [conversation], options, limit=5)
    assert titles == [f"conversation 1 t.jsonl:1, turn {k} of 3 (one row per turn)" for k in (1, 2, 3)]
    group = preview_rows(tokenizer, data, n=3, titles=titles)
    reasoning_style = STYLES["reasoning" if train_on_reasoning else "masked"]
    assert styled(group, 0, reasoning_style).strip() == "I should look it up."
    assert styled(group, 1, reasoning_style).strip() == "The tool said 18 C."
    assert '"name": "get_weather"' in styled(group, 0, STYLES["tool_call"])
    assert styled(group, 1, STYLES["answer"]) == "It is 18 C."
    assert styled(group, 0, STYLES["end_of_turn"]) == styled(group, 1, STYLES["end_of_turn"]) == "<|im_end|>"
    third = tokenizer.decode(data[2]["input_ids"])  # the context inference gives the third turn: earlier
    assert "Be polite." in third and "I should look" not in third and "The tool said" not in third  # reasoning gone
    trained = [tokenizer.decode([t]) for t, label in zip(data[1]["input_ids"], data[1]["labels"]) if label != -100]
    assert ("The tool said" in "".join(trained)) is train_on_reasoning


def test_mask_strip_png(rows, tmp_path):
    import matplotlib.image

    tokenizer, data = rows
    path = save_mask_strip(tokenizer, data, tmp_path / "plots" / "mask.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 50 and image.shape[1] > 100
    greens = ((image[..., 1] > 0.6) & (image[..., 0] < 0.5)).sum()  # trained cells are drawn green
    assert greens > 0
    with pytest.raises(ValueError):
        save_mask_strip(tokenizer, [], tmp_path / "empty.png")


def test_collated_batch_shapes_are_the_trainers_padded_and_padding_free_batches(rows):
    from sft_recipes.chat.preview import collated_batch_shapes

    tokenizer, data = rows
    lengths = [len(r["input_ids"]) for r in data]
    shapes = collated_batch_shapes(data, tokenizer.pad_token_id)
    assert shapes["padded"]["input_ids"] == shapes["padded"]["labels"] == [len(data), max(lengths)]
    assert shapes["padding_free"]["input_ids"] == shapes["padding_free"]["position_ids"] == [1, sum(lengths)]
    assert collated_batch_shapes([], tokenizer.pad_token_id) == {}
