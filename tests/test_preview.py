"""Previews show exactly the trained spans: [[ ]] in plain text, green in colour, green in the PNG strip."""

from __future__ import annotations

import copy
import io

import pytest
from rich.console import Console

from sft_recipes.masking import IGNORE_INDEX, tokenize_conversation
from sft_recipes.preview import (
    TRAINED_STYLE,
    preview_rows,
    preview_text,
    save_mask_strip,
)
from sft_recipes.templates import setup_chat_template


@pytest.fixture(scope="module")
def rows(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    setup_chat_template(tokenizer, "auto")
    conversations = [
        [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Hi!"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Two plus two?"},
         {"role": "assistant", "content": "Four."}, {"role": "user", "content": "And three?"},
         {"role": "assistant", "content": "Five... no, six."}],
        [{"role": "user", "content": "Count."}, {"role": "assistant", "content": "One two three four five."}],
    ]
    out = []
    for i, messages in enumerate(conversations):
        row = tokenize_conversation(tokenizer, messages)
        out.append({"input_ids": row.input_ids, "labels": row.labels, "source": f"d.jsonl:{i + 1}"})
    return tokenizer, out


def test_plain_preview_marks_exactly_the_trained_spans(rows):
    tokenizer, data = rows
    text = preview_text(tokenizer, data, n=2)
    first, second = text.split("\n\n", 1)[0], text.split("\n\nrow 2", 1)[1]
    assert first.startswith("row 1 d.jsonl:1: ")
    assert "<|im_start|>assistant\n[[Hi!<|im_end|>]]\n" in text
    assert "[[Four.<|im_end|>]]" in second and "[[Five... no, six.<|im_end|>]]" in second
    assert text.count("[[") == 3 and text.count("]]") == 3  # n=2: the third row is not shown
    assert "[[" not in text.split("[[Hi!")[0]  # nothing before the reply is marked
    total, trained = len(data[0]["labels"]), sum(lab != IGNORE_INDEX for lab in data[0]["labels"])
    assert f"{total} tokens, {trained} trained ({trained / total:.1%})" in first


def test_rich_preview_colours_trained_tokens(rows):
    tokenizer, data = rows
    group = preview_rows(tokenizer, data, n=1)
    body = group.renderables[1]
    green = "".join(body.plain[s.start:s.end] for s in body.spans if s.style.startswith(TRAINED_STYLE))
    assert green == "Hi!<|im_end|>"
    console = Console(file=io.StringIO(), width=120, color_system="truecolor", force_terminal=True)
    console.print(group)
    shown = console.file.getvalue()
    assert "\x1b[" in shown and "row 1 d.jsonl:1" in shown  # coloured output for a terminal


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
