"""Template setup: the tokenizer's own, ChatML on a base tokenizer, Alpaca, a user's .jinja file."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from helpers import bpe_tokenizer

from sft_recipes import SFTRecipesError
from sft_recipes.chat.masking import trained_spans
from sft_recipes.chat.tokenize import tokenize_conversation
from sft_recipes.chat.templates import (
    ALPACA_INPUT_SEPARATOR,
    TemplateError,
    join_instruction_input,
    setup_chat_template,
    shipped_template,
)

TEMPLATES = Path(__file__).parent / "fixtures" / "templates"
EXCHANGE = [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "Seven."}]


def base_tokenizer():
    """A real base-model tokenizer shape: byte-level BPE with only <|endoftext|> (EOS = BOS), no pad, no template."""
    return bpe_tokenizer(["Name a prime. Seven. user assistant system"] * 20, vocab_size=300,
                         eos_token="<|endoftext|>", bos_token="<|endoftext|>")


def test_auto_uses_the_tokenizers_own_template(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    own = tokenizer.chat_template
    info = setup_chat_template(tokenizer, "auto")
    assert info.name == "native" and info.template == own == tokenizer.chat_template
    assert info.new_tokens == []
    assert info.end_of_turn == ["<|im_end|>"]
    assert info.end_of_turn_ids == [tokenizer.convert_tokens_to_ids("<|im_end|>")]
    assert info.stop_token_ids == info.end_of_turn_ids
    assert info.notes == []


def test_auto_without_template_is_one_clear_line(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.chat_template = None
    with pytest.raises(SFTRecipesError) as err:
        setup_chat_template(tokenizer, "auto")
    message = str(err.value)
    assert "\n" not in message and "chatml" in message and "alpaca" in message


def test_chatml_on_a_base_tokenizer_adds_trainable_tokens():
    tokenizer = base_tokenizer()
    size = len(tokenizer)
    assert "<|im_start|>" not in tokenizer.get_vocab() and tokenizer.pad_token is None
    info = setup_chat_template(tokenizer, "chatml")
    assert len(tokenizer) == size + 2
    assert sorted(info.new_tokens) == [size, size + 1]
    assert tokenizer.convert_ids_to_tokens(sorted(info.new_tokens)) == ["<|im_start|>", "<|im_end|>"]
    assert tokenizer.eos_token == "<|im_end|>" and info.end_of_turn == ["<|im_end|>"]
    # The pad is the base model's own end-of-text, not the EOS the model must learn to emit.
    assert tokenizer.pad_token == "<|endoftext|>" != tokenizer.eos_token
    # The new markers are single special tokens, never split into pieces.
    ids = tokenizer(tokenizer.apply_chat_template(EXCHANGE, tokenize=False), add_special_tokens=False)["input_ids"]
    assert ids.count(info.new_tokens[0]) == 2 and ids.count(info.new_tokens[1]) == 2


def test_chatml_on_a_tokenizer_that_has_the_markers_adds_nothing(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.chat_template = None
    size = len(tokenizer)
    info = setup_chat_template(tokenizer, "chatml")
    assert info.new_tokens == [] and len(tokenizer) == size
    assert tokenizer.apply_chat_template(EXCHANGE, tokenize=False) == (
        "<|im_start|>user\nName a prime.<|im_end|>\n<|im_start|>assistant\nSeven.<|im_end|>\n")
    assert tokenizer.apply_chat_template(EXCHANGE[:1], tokenize=False, add_generation_prompt=True).endswith(
        "<|im_start|>assistant\n")


def test_chatml_adds_bos_when_the_tokenizer_adds_one():
    from tokenizers import processors

    tokenizer = base_tokenizer()
    tokenizer._tokenizer.post_processor = processors.TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", tokenizer.convert_tokens_to_ids("<|endoftext|>"))])
    assert tokenizer("a")["input_ids"][0] == tokenizer.bos_token_id
    setup_chat_template(tokenizer, "chatml")
    assert tokenizer.apply_chat_template(EXCHANGE, tokenize=False).startswith("<|endoftext|><|im_start|>user\n")


def test_alpaca_template():
    tokenizer = base_tokenizer()
    size = len(tokenizer)
    info = setup_chat_template(tokenizer, "alpaca")
    assert info.name == "alpaca" and info.new_tokens == [] and len(tokenizer) == size
    assert info.end_of_turn == ["<|endoftext|>"] and "### Instruction:" in info.stop_strings
    # No spare token to pad with: pad == EOS, safe because labels come from spans (the EOS stays trained).
    assert tokenizer.pad_token == tokenizer.eos_token == "<|endoftext|>"
    text = tokenizer.apply_chat_template(EXCHANGE, tokenize=False)
    assert text == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the request."
        "\n\n### Instruction:\nName a prime.\n\n### Response:\nSeven.<|endoftext|>\n\n")
    prompt = tokenizer.apply_chat_template(EXCHANGE[:1], tokenize=False, add_generation_prompt=True)
    assert text.startswith(prompt) and prompt.endswith("### Response:\n")


def test_alpaca_input_section_and_system_prompt():
    tokenizer = base_tokenizer()
    setup_chat_template(tokenizer, "alpaca")
    user = join_instruction_input("Summarize the text.", "Cats sleep a lot.")
    assert user == "Summarize the text." + ALPACA_INPUT_SEPARATOR + "Cats sleep a lot."
    assert join_instruction_input("Summarize.", "  ") == "Summarize."
    text = tokenizer.apply_chat_template([{"role": "user", "content": user},
                                          {"role": "assistant", "content": "They nap."}], tokenize=False)
    assert "paired with an input" in text
    assert "### Instruction:\nSummarize the text.\n\n### Input:\nCats sleep a lot.\n\n### Response:\nThey nap." in text
    text = tokenizer.apply_chat_template([{"role": "system", "content": "Be terse."}, *EXCHANGE], tokenize=False)
    assert text.startswith("Be terse.\n\n### Instruction:\n") and "Below is" not in text


def test_alpaca_masks_response_and_eos(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    setup_chat_template(tokenizer, "alpaca")
    row = tokenize_conversation(tokenizer, EXCHANGE + [{"role": "user", "content": "Another?"},
                                                       {"role": "assistant", "content": "Eleven."}])
    spans = [tokenizer.decode(row.input_ids[a:b]) for a, b in trained_spans(row.labels)]
    assert spans == ["Seven." + tokenizer.eos_token, "Eleven." + tokenizer.eos_token]


def test_user_jinja_file(smol_tokenizer):
    from tokenizers import AddedToken

    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in
                          ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]],
                         special_tokens=True)
    tokenizer.bos_token = "<|begin_of_text|>"
    path = TEMPLATES / "llama3_style.jinja"
    info = setup_chat_template(tokenizer, str(path))
    assert info.name == "llama3_style" and info.template == path.read_text()
    # Generation must stop on <|eot_id|> although the tokenizer's EOS is still <|im_end|> (pitfall 2).
    assert info.end_of_turn == ["<|eot_id|>"] and tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.apply_chat_template(EXCHANGE, tokenize=False) == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nName a prime.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nSeven.<|eot_id|>")
    # GPT-2's pre-tokenizer splits the header's "\n\n" differently before a word than at the end of a prompt: the
    # training row keeps the prompt's own tokens (what inference feeds the model), and the reply's.
    prompt = tokenizer.apply_chat_template(EXCHANGE[:1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(EXCHANGE, tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert tokenizer(full, add_special_tokens=False)["input_ids"][: len(prompt_ids)] != prompt_ids
    row = tokenize_conversation(tokenizer, EXCHANGE, info=info)
    [(start, end)] = trained_spans(row.labels)
    assert row.input_ids[:start] == prompt_ids and tokenizer.decode(row.input_ids[start:end]) == "Seven.<|eot_id|>"


def test_missing_template_file_is_one_clear_line(smol_tokenizer, tmp_path):
    with pytest.raises(TemplateError, match=re.escape("neither auto | chatml | alpaca nor an existing .jinja file")):
        setup_chat_template(copy.deepcopy(smol_tokenizer), str(tmp_path / "nope.jinja"))


def test_alpaca_style_template_stops_at_the_next_header(smol_tokenizer):
    """A template whose turns are separated by text headers: generation also stops at the next header."""
    tokenizer = copy.deepcopy(smol_tokenizer)
    info = setup_chat_template(tokenizer, "alpaca")
    assert info.stop_strings == ["### Instruction:"]


def test_template_without_end_of_turn_fails_early(smol_tokenizer):
    with pytest.raises(TemplateError, match="never learns to stop"):
        setup_chat_template(copy.deepcopy(smol_tokenizer), str(TEMPLATES / "no_end_of_turn.jinja"))


def test_shipped_templates_are_package_data():
    assert "<|im_start|>" in shipped_template("chatml")
    assert "### Response:" in shipped_template("alpaca")
