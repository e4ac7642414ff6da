"""Assistant-only labels for any chat template: the trained tokens are exactly each reply plus its end-of-turn token."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from helpers import bpe_tokenizer

from sft_recipes import SFTRecipesError
from sft_recipes.masking import (
    IGNORE_INDEX,
    Reject,
    TokenizedRow,
    first_cause,
    tokenize_conversation,
    tokenize_dataset,
    trained_spans,
    verify_row,
)
from sft_recipes.templates import setup_chat_template

TEMPLATES = Path(__file__).parent / "fixtures" / "templates"

REPLIES = ["Paris is the capital of France.", "It has about 2.1 million residents.", "Yes: the Louvre, 1793."]
QUESTIONS = ["What is the capital of France?", "How many people live there?", "Any museum worth a visit?"]
SYSTEM = "You answer in one sentence."


def conversation(turns: int, system: bool) -> list[dict]:
    messages = [{"role": "system", "content": SYSTEM, "train": None}] if system else []
    for q, a in zip(QUESTIONS[:turns], REPLIES[:turns]):
        messages += [{"role": "user", "content": q, "train": None}, {"role": "assistant", "content": a, "train": None}]
    return messages


def add_special(tokenizer, tokens: list[str]) -> None:
    from tokenizers import AddedToken

    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in tokens], special_tokens=True)


def base_bpe_tokenizer():
    """A genuine base-model tokenizer: byte-level BPE trained here, with only <|endoftext|>: no ChatML tokens,
    no pad, no chat template. ChatML has to add its markers for real."""
    corpus = [" ".join(QUESTIONS + REPLIES + [SYSTEM]), "user assistant system Instruction Response Input",
              "### Response:\n\nA paragraph.\n\nAnother one.\n\n\n\nEnd.\n\n"] * 60
    return bpe_tokenizer(corpus, vocab_size=400, eos_token="<|endoftext|>", bos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def tokenizers(smol_tokenizer):
    """name -> (tokenizer with its template set up, the end-of-turn text the template closes replies with)."""
    out = {}
    native = copy.deepcopy(smol_tokenizer)
    setup_chat_template(native, "auto")
    out["native"] = (native, "<|im_end|>")

    base = base_bpe_tokenizer()
    setup_chat_template(base, "chatml")
    out["chatml-base"] = (base, "<|im_end|>")

    alpaca = base_bpe_tokenizer()
    setup_chat_template(alpaca, "alpaca")
    out["alpaca"] = (alpaca, "<|endoftext|>")

    llama = copy.deepcopy(smol_tokenizer)
    add_special(llama, ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"])
    llama.bos_token = "<|begin_of_text|>"  # EOS stays <|im_end|>: the end of turn differs from EOS (pitfall 2)
    setup_chat_template(llama, str(TEMPLATES / "llama3_style.jinja"))
    out["llama3-style"] = (llama, "<|eot_id|>")

    gemma = copy.deepcopy(smol_tokenizer)
    add_special(gemma, ["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"])
    gemma.bos_token, gemma.eos_token = "<bos>", "<eos>"
    setup_chat_template(gemma, str(TEMPLATES / "gemma_style.jinja"))
    out["gemma-style"] = (gemma, "<end_of_turn>")
    return out


def spans_text(tokenizer, row: TokenizedRow) -> list[str]:
    return [tokenizer.decode(row.input_ids[a:b]) for a, b in trained_spans(row.labels)]


@pytest.mark.parametrize("template", ["native", "chatml-base", "alpaca", "llama3-style", "gemma-style"])
@pytest.mark.parametrize("turns", [1, 2, 3])
@pytest.mark.parametrize("system", [False, True])
def test_trained_tokens_are_exactly_replies_and_end_of_turn(tokenizers, template, turns, system):
    tokenizer, eot = tokenizers[template]
    messages = conversation(turns, system)
    row = tokenize_conversation(tokenizer, messages)
    assert isinstance(row, TokenizedRow), row
    assert spans_text(tokenizer, row) == [reply + eot for reply in REPLIES[:turns]]
    eot_id = tokenizer.convert_tokens_to_ids(eot)
    expected_ids = [tokenizer(r, add_special_tokens=False)["input_ids"] + [eot_id] for r in REPLIES[:turns]]
    assert [row.input_ids[a:b] for a, b in trained_spans(row.labels)] == expected_ids
    # The ids are the template's own rendering tokenized as a whole.
    full = tokenizer.apply_chat_template([{"role": m["role"], "content": m["content"]} for m in messages],
                                         tokenize=False)
    assert row.input_ids == tokenizer(full, add_special_tokens=False)["input_ids"]
    assert verify_row(row.input_ids, row.labels, [eot_id]) is None


def test_system_and_user_text_never_trained(tokenizers):
    tokenizer, _ = tokenizers["native"]
    row = tokenize_conversation(tokenizer, conversation(2, system=True))
    trained_text = "".join(spans_text(tokenizer, row))
    for text in [SYSTEM, *QUESTIONS[:2], "user", "assistant", "<|im_start|>"]:
        assert text not in trained_text


def test_template_without_generation_markers(smol_tokenizer):
    """SmolLM2's template has no {% generation %} block (TRL's assistant_only_loss refuses it); labels still work."""
    assert not re.search(r"\{%-?\s*generation\s*-?%\}", smol_tokenizer.chat_template)
    row = tokenize_conversation(smol_tokenizer, conversation(1, system=False))
    assert row.num_trained == len(smol_tokenizer(REPLIES[0])["input_ids"]) + 1


def test_pad_equal_to_eos_still_trains_eos(smol_tokenizer):
    assert smol_tokenizer.pad_token_id == smol_tokenizer.eos_token_id
    eos = smol_tokenizer.eos_token_id
    row = tokenize_conversation(smol_tokenizer, conversation(2, system=False))
    for a, b in trained_spans(row.labels):
        assert row.input_ids[b - 1] == eos and row.labels[b - 1] == eos


def test_trl_collator_keeps_our_labels_with_pad_equal_to_eos(smol_tokenizer):
    """SFTTrainer's collator uses the labels as they are; padding does not mask the trained EOS."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    rows = [tokenize_conversation(smol_tokenizer, conversation(t, system=False)) for t in (1, 2)]
    collator = DataCollatorForLanguageModeling(pad_token_id=smol_tokenizer.pad_token_id)
    batch = collator([{"input_ids": r.input_ids, "labels": r.labels} for r in rows])
    short = rows[0]
    assert batch["labels"][0, : len(short.labels)].tolist() == short.labels
    assert (batch["labels"][0, len(short.labels):] == IGNORE_INDEX).all()
    assert (batch["labels"] == smol_tokenizer.eos_token_id).sum() == 1 + 2


def test_train_on_last_assistant(tokenizers):
    tokenizer, eot = tokenizers["native"]
    row = tokenize_conversation(tokenizer, conversation(3, system=True), train_on="last_assistant")
    assert spans_text(tokenizer, row) == [REPLIES[2] + eot]


def test_train_on_all(tokenizers):
    tokenizer, _ = tokenizers["llama3-style"]
    row = tokenize_conversation(tokenizer, conversation(2, system=True), train_on="all")
    assert row.labels == row.input_ids


def test_message_train_flags_override_policy(tokenizers):
    tokenizer, eot = tokenizers["gemma-style"]
    messages = conversation(3, system=False)
    messages[1]["train"] = False  # first reply: a bad example kept for context only
    messages[2]["train"] = True  # second question: train on it too
    row = tokenize_conversation(tokenizer, messages)
    assert spans_text(tokenizer, row) == [QUESTIONS[1] + eot, REPLIES[1] + eot, REPLIES[2] + eot]

    messages = conversation(2, system=False)
    messages[0]["train"] = False  # masked even under "all"
    row = tokenize_conversation(tokenizer, messages, train_on="all")
    masked = tokenizer.decode([t for t, lab in zip(row.input_ids, row.labels) if lab == IGNORE_INDEX])
    assert masked == QUESTIONS[0] + eot


def test_all_messages_untrained_is_rejected(tokenizers):
    tokenizer, _ = tokenizers["native"]
    messages = conversation(1, system=False)
    messages[1]["train"] = False
    reject = tokenize_conversation(tokenizer, messages, source="d.jsonl:4")
    assert isinstance(reject, Reject) and reject.source == "d.jsonl:4"
    assert reject.reason.startswith("nothing to train")


@pytest.mark.parametrize("template", ["native", "chatml-base", "alpaca"])
def test_boundary_merge_is_rejected_not_mislabelled(tokenizers, template):
    """A reply starting with a blank line merges with the header's final newline into one token: training on it
    would teach a prompt the model never sees at inference."""
    tokenizer, _ = tokenizers[template]
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "\n\nHello there."}]
    prompt = tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert full_ids[: len(prompt_ids)] != prompt_ids  # the merge really happens with this tokenizer
    reject = tokenize_conversation(tokenizer, messages)
    assert isinstance(reject, Reject)
    assert "token merge" in reject.reason


def test_trimming_template_locates_trimmed_reply(tokenizers):
    tokenizer, eot = tokenizers["llama3-style"]
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  Hello there.\n"}]
    row = tokenize_conversation(tokenizer, messages)
    assert spans_text(tokenizer, row) == ["Hello there." + eot]


def test_template_that_rewrites_earlier_turns_is_rejected(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.chat_template = (TEMPLATES / "rewrites_history.jinja").read_text()
    assert isinstance(tokenize_conversation(tokenizer, conversation(1, system=False)), TokenizedRow)
    reject = tokenize_conversation(tokenizer, conversation(2, system=False))
    assert isinstance(reject, Reject) and "differently once later messages follow" in reject.reason


def test_generation_prompt_unlike_training_turn_is_rejected(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.chat_template = tokenizer.chat_template.replace(
        "{{ '<|im_start|>assistant\n' }}", "{{ '<|im_start|>assistant\n<think>\n' }}")
    assert "<think>" in tokenizer.chat_template
    reject = tokenize_conversation(tokenizer, conversation(1, system=False))
    assert isinstance(reject, Reject) and "generation prompt" in reject.reason


def test_template_without_end_of_turn_is_rejected(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.chat_template = (TEMPLATES / "no_end_of_turn.jinja").read_text()
    reject = tokenize_conversation(tokenizer, conversation(1, system=False))
    assert isinstance(reject, Reject) and "no end-of-turn token" in reject.reason


# --- length policies -------------------------------------------------------------------------------------------

LONG_REPLY = "The answer is long. " * 30


def long_conversation():
    return [{"role": "user", "content": "Explain at length."}, {"role": "assistant", "content": LONG_REPLY}]


def test_length_drop(tokenizers):
    tokenizer, _ = tokenizers["native"]
    full = tokenize_conversation(tokenizer, long_conversation())
    reject = tokenize_conversation(tokenizer, long_conversation(), max_length=60, source="x.jsonl:9")
    assert isinstance(reject, Reject)
    assert reject.reason == f"too long: {len(full.input_ids)} > max_length 60"
    assert isinstance(tokenize_conversation(tokenizer, long_conversation(), max_length=len(full.input_ids)),
                      TokenizedRow)


@pytest.mark.parametrize("template", ["native", "alpaca", "gemma-style"])
def test_length_truncate_cuts_last_reply_keeps_end_of_turn(tokenizers, template):
    tokenizer, eot = tokenizers[template]
    full = tokenize_conversation(tokenizer, long_conversation())
    row = tokenize_conversation(tokenizer, long_conversation(), max_length=len(full.input_ids) - 25,
                                length_policy="truncate")
    assert isinstance(row, TokenizedRow) and row.truncated
    assert len(row.input_ids) == len(full.input_ids) - 25
    [span] = spans_text(tokenizer, row)
    assert span.endswith(eot)
    kept = span[: -len(eot)]
    assert 0 < len(kept) < len(LONG_REPLY.strip()) and LONG_REPLY.startswith(kept)
    assert row.labels[len(row.labels) - 1 - row.labels[::-1].index(tokenizer.convert_tokens_to_ids(eot))] != -100
    # Prompt tokens are unchanged.
    first = trained_spans(row.labels)[0][0]
    assert row.input_ids[:first] == full.input_ids[:first]


def test_length_truncate_rejects_when_prompt_does_not_fit(tokenizers):
    tokenizer, _ = tokenizers["native"]
    reject = tokenize_conversation(tokenizer, long_conversation(), max_length=20, length_policy="truncate")
    assert isinstance(reject, Reject) and reject.reason.startswith("too long even with the last response cut")


def test_length_error_raises_with_source(tokenizers):
    tokenizer, _ = tokenizers["native"]
    with pytest.raises(SFTRecipesError, match=r"data/a\.jsonl:3: too long: \d+ > max_length 40"):
        tokenize_conversation(tokenizer, long_conversation(), max_length=40, length_policy="error",
                              source="data/a.jsonl:3")


def test_unknown_policy_is_one_clear_error(tokenizers):
    tokenizer, _ = tokenizers["native"]
    with pytest.raises(SFTRecipesError, match="train_on must be one of"):
        tokenize_conversation(tokenizer, long_conversation(), train_on="assistants")


# --- verification and datasets ---------------------------------------------------------------------------------

def test_verify_row_catches_bad_masks(tokenizers):
    tokenizer, eot = tokenizers["native"]
    eot_id = tokenizer.convert_tokens_to_ids(eot)
    row = tokenize_conversation(tokenizer, conversation(1, system=False))
    assert verify_row(row.input_ids, row.labels, [eot_id]) is None
    no_eot = list(row.labels)
    no_eot[trained_spans(no_eot)[0][1] - 1] = IGNORE_INDEX
    assert "end-of-turn" in verify_row(row.input_ids, no_eot, [eot_id])
    assert "nothing to train" in verify_row(row.input_ids, [IGNORE_INDEX] * len(row.labels), [eot_id])
    shifted = [IGNORE_INDEX] + list(row.input_ids[:-1])
    assert verify_row(row.input_ids, shifted, [eot_id]) == "a label differs from its input id"


def rows_for_dataset():
    rows = []
    for i in range(12):
        rows.append({"messages": conversation(1 + i % 3, system=i % 2 == 0), "source": f"d.jsonl:{i + 1}",
                     "task": "", "id": str(i)})
    rows.append({"messages": [{"role": "user", "content": "Hi", "train": None},
                              {"role": "assistant", "content": "\n\nmerged", "train": None}],
                 "source": "d.jsonl:13", "task": "", "id": "13"})
    rows.append({"messages": [{"role": "user", "content": "Explain.", "train": None},
                              {"role": "assistant", "content": LONG_REPLY, "train": None}],
                 "source": "d.jsonl:14", "task": "", "id": "14"})
    return rows


@pytest.mark.parametrize("num_proc", [1, 2])
def test_tokenize_dataset_keeps_good_rows_and_reports_rejects(tokenizers, num_proc):
    from datasets import Dataset

    tokenizer, eot = tokenizers["native"]
    dataset = Dataset.from_list(rows_for_dataset())
    result = tokenize_dataset(dataset, tokenizer, max_length=120, length_policy="drop", num_proc=num_proc,
                              batch_size=4)
    assert len(result.dataset) == 12 and result.truncated == 0
    assert result.dataset.column_names == ["input_ids", "labels"]
    assert [r.source for r in result.rejects] == ["d.jsonl:13", "d.jsonl:14"]
    assert "token merge" in result.rejects[0].reason and result.rejects[1].reason.startswith("too long")
    assert result.rejects[0].row["messages"][1]["content"] == "\n\nmerged"
    for kept, original in zip(result.dataset, rows_for_dataset()[:12]):  # batched == one row at a time
        single = tokenize_conversation(tokenizer, original["messages"])
        assert (kept["input_ids"], kept["labels"]) == (single.input_ids, single.labels)


def test_tokenize_dataset_counts_truncations(tokenizers):
    from datasets import Dataset

    tokenizer, _ = tokenizers["native"]
    result = tokenize_dataset(Dataset.from_list(rows_for_dataset()), tokenizer, max_length=120,
                              length_policy="truncate")
    assert len(result.dataset) == 13 and result.truncated == 1
    assert max(len(ids) for ids in result.dataset["input_ids"]) == 120


def test_first_cause():
    assert first_cause([]) == ""
    rejects = [Reject("too long: 700 > max_length 512", "a.jsonl:2"),
               Reject("too long: 900 > max_length 512", "a.jsonl:5"),
               Reject("no end-of-turn token after message 2 (assistant): ...", "a.jsonl:7")]
    assert first_cause(rejects) == "a.jsonl:2: too long: 700 > max_length 512 (2 of 3 rejects like this)"
    assert first_cause([r.to_dict() for r in rejects[2:]]).startswith("a.jsonl:7: no end-of-turn token")
