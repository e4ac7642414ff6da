"""Assistant-only labels for any chat template: the trained tokens are exactly each reply plus its end-of-turn token,
and the tokens before each reply are exactly the generation prompt inference tokenizes at that turn."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from helpers import bpe_tokenizer

from sft_recipes import SFTRecipesError
from sft_recipes.chat.masking import (
    IGNORE_INDEX,
    TokenizedRow,
    first_cause,
    trained_spans,
    verify_row,
)
from sft_recipes.chat.template_info import TemplateError, describe_template
from sft_recipes.chat.templates import setup_chat_template
from sft_recipes.chat.tokenize import tokenize_conversation, tokenize_dataset
from sft_recipes.data.rejects import Reject

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
    """name -> (tokenizer with its template set up, its TemplateInfo, the end-of-turn text closing replies)."""
    out = {}
    native = copy.deepcopy(smol_tokenizer)
    out["native"] = (native, setup_chat_template(native, "auto"), "<|im_end|>")

    base = base_bpe_tokenizer()
    out["chatml-base"] = (base, setup_chat_template(base, "chatml"), "<|im_end|>")

    alpaca = base_bpe_tokenizer()
    out["alpaca"] = (alpaca, setup_chat_template(alpaca, "alpaca"), "<|endoftext|>")

    llama = copy.deepcopy(smol_tokenizer)
    add_special(llama, ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"])
    llama.bos_token = "<|begin_of_text|>"  # EOS stays <|im_end|>: the end of turn differs from EOS (pitfall 2)
    out["llama3-style"] = (llama, setup_chat_template(llama, str(TEMPLATES / "llama3_style.jinja")), "<|eot_id|>")

    gemma = copy.deepcopy(smol_tokenizer)
    add_special(gemma, ["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"])
    gemma.bos_token, gemma.eos_token = "<bos>", "<eos>"
    out["gemma-style"] = (gemma, setup_chat_template(gemma, str(TEMPLATES / "gemma_style.jinja")), "<end_of_turn>")
    return out


def rows_of(result) -> list[TokenizedRow]:
    assert not isinstance(result, Reject), result
    return result if isinstance(result, list) else [result]


def spans_text(tokenizer, rows: list[TokenizedRow]) -> list[str]:
    return [tokenizer.decode(r.input_ids[a:b]) for r in rows for a, b in trained_spans(r.labels)]


def generation_prompt_ids(tokenizer, messages: list[dict], i: int) -> list[int]:
    chat = [{"role": m["role"], "content": m["content"]} for m in messages[:i]]
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("template", ["native", "chatml-base", "alpaca", "llama3-style", "gemma-style"])
@pytest.mark.parametrize("turns", [1, 2, 3])
@pytest.mark.parametrize("system", [False, True])
def test_trained_tokens_are_exactly_replies_and_end_of_turn(tokenizers, template, turns, system):
    tokenizer, info, eot = tokenizers[template]
    messages = conversation(turns, system)
    rows = rows_of(tokenize_conversation(tokenizer, messages, info=info))
    assert spans_text(tokenizer, rows) == [reply + eot for reply in REPLIES[:turns]]
    eot_id = tokenizer.convert_tokens_to_ids(eot)
    expected_ids = [tokenizer(r, add_special_tokens=False)["input_ids"] + [eot_id] for r in REPLIES[:turns]]
    assert [r.input_ids[a:b] for r in rows for a, b in trained_spans(r.labels)] == expected_ids
    # Training matches inference: before each reply stand exactly the ids of the generation prompt at that turn.
    assistant_at = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    starts = [(r, a) for r in rows for a, _ in trained_spans(r.labels)]
    for i, (row, start) in zip(assistant_at, starts):
        assert row.input_ids[:start] == generation_prompt_ids(tokenizer, messages, i)
    for row in rows:
        assert verify_row(row.input_ids, row.labels, [eot_id]) is None
        assert row.input_ids[-1] == eot_id  # nothing after the last trained token is kept


def test_whole_conversation_row_equals_the_templates_rendering(tokenizers):
    """When a template keeps earlier turns unchanged, one row holds the conversation, ids as the text tokenizes."""
    tokenizer, info, _ = tokenizers["native"]
    messages = conversation(3, system=True)
    [row] = rows_of(tokenize_conversation(tokenizer, messages, info=info))
    assert row.layout == "whole"
    full = tokenizer.apply_chat_template([{"role": m["role"], "content": m["content"]} for m in messages],
                                         tokenize=False)
    assert row.input_ids == tokenizer(full.rstrip("\n"), add_special_tokens=False)["input_ids"]


def test_system_and_user_text_never_trained(tokenizers):
    tokenizer, info, _ = tokenizers["native"]
    rows = rows_of(tokenize_conversation(tokenizer, conversation(2, system=True), info=info))
    trained_text = "".join(spans_text(tokenizer, rows))
    for text in [SYSTEM, *QUESTIONS[:2], "user", "assistant", "<|im_start|>"]:
        assert text not in trained_text


def test_pad_equal_to_eos_still_trains_eos(smol_tokenizer):
    assert smol_tokenizer.pad_token_id == smol_tokenizer.eos_token_id
    eos = smol_tokenizer.eos_token_id
    [row] = rows_of(tokenize_conversation(smol_tokenizer, conversation(2, system=False)))
    for a, b in trained_spans(row.labels):
        assert row.input_ids[b - 1] == eos and row.labels[b - 1] == eos


def test_trl_collator_keeps_our_labels_with_pad_equal_to_eos(smol_tokenizer):
    """SFTTrainer's collator uses the labels as they are; padding does not mask the trained EOS."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    rows = [rows_of(tokenize_conversation(smol_tokenizer, conversation(t, system=False)))[0] for t in (1, 2)]
    collator = DataCollatorForLanguageModeling(pad_token_id=smol_tokenizer.pad_token_id)
    batch = collator([{"input_ids": r.input_ids, "labels": r.labels} for r in rows])
    short = rows[0]
    assert batch["labels"][0, : len(short.labels)].tolist() == short.labels
    assert (batch["labels"][0, len(short.labels):] == IGNORE_INDEX).all()
    assert (batch["labels"] == smol_tokenizer.eos_token_id).sum() == 1 + 2


def test_train_on_last_assistant(tokenizers):
    tokenizer, info, eot = tokenizers["native"]
    rows = rows_of(tokenize_conversation(tokenizer, conversation(3, system=True), info=info, train_on="last_assistant"))
    assert spans_text(tokenizer, rows) == [REPLIES[2] + eot]


def test_train_on_all(tokenizers):
    tokenizer, info, _ = tokenizers["llama3-style"]
    [row] = rows_of(tokenize_conversation(tokenizer, conversation(2, system=True), info=info, train_on="all"))
    assert row.labels == row.input_ids and row.layout == "all"


def test_message_train_flags_override_policy(tokenizers):
    tokenizer, info, eot = tokenizers["gemma-style"]
    messages = conversation(3, system=False)
    messages[1]["train"] = False  # first reply: a bad example kept for context only
    messages[2]["train"] = True  # second question: train on it too
    rows = rows_of(tokenize_conversation(tokenizer, messages, info=info))
    assert spans_text(tokenizer, rows) == [QUESTIONS[1] + eot, REPLIES[1] + eot, REPLIES[2] + eot]

    messages = conversation(2, system=False)
    messages[0]["train"] = False  # masked even under "all"
    [row] = rows_of(tokenize_conversation(tokenizer, messages, info=info, train_on="all"))
    masked = tokenizer.decode([t for t, lab in zip(row.input_ids, row.labels) if lab == IGNORE_INDEX])
    assert masked == QUESTIONS[0] + eot


def test_all_messages_untrained_is_rejected(tokenizers):
    tokenizer, info, _ = tokenizers["native"]
    messages = conversation(1, system=False)
    messages[1]["train"] = False
    reject = tokenize_conversation(tokenizer, messages, info=info, source="d.jsonl:4")
    assert isinstance(reject, Reject) and reject.source == "d.jsonl:4"
    assert reject.reason.startswith("nothing to train")


@pytest.mark.parametrize("template", ["native", "chatml-base", "alpaca"])
def test_reply_that_merges_with_the_header_is_trained_as_generated(tokenizers, template):
    """A reply starting with a blank line would merge with the header's final newline into one token if the row
    were tokenized as a whole: the label would teach header text. The prompt and the reply are tokenized apart, so
    the prompt ids are exactly inference's and the trained tokens are the reply's own."""
    tokenizer, info, eot = tokenizers[template]
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "\n\nHello there."}]
    prompt = tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert full_ids[: len(prompt_ids)] != prompt_ids  # the merge really happens with this tokenizer
    [row] = rows_of(tokenize_conversation(tokenizer, messages, info=info))
    [(start, end)] = trained_spans(row.labels)
    assert row.input_ids[:start] == prompt_ids
    assert tokenizer.decode(row.input_ids[start:end]) == "\n\nHello there." + eot


def test_trimming_template_locates_trimmed_reply(tokenizers):
    tokenizer, info, eot = tokenizers["llama3-style"]
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  Hello there.\n"}]
    rows = rows_of(tokenize_conversation(tokenizer, messages, info=info))
    assert spans_text(tokenizer, rows) == ["Hello there." + eot]


def test_template_that_rewrites_earlier_turns_trains_one_row_per_turn(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.chat_template = (TEMPLATES / "rewrites_history.jinja").read_text()
    info = describe_template(tokenizer)
    messages = conversation(3, system=False)
    rows = rows_of(tokenize_conversation(tokenizer, messages, info=info))
    assert [r.layout for r in rows] == ["per_turn"] * 3
    assert spans_text(tokenizer, rows) == [reply + "<|im_end|>" for reply in REPLIES]
    for i, row in zip((1, 3, 5), rows):  # each turn in the context inference gives it: earlier turns "(earlier)"
        [(start, _)] = trained_spans(row.labels)
        assert row.input_ids[:start] == generation_prompt_ids(tokenizer, messages, i)
        assert tokenizer.decode(row.input_ids[:start]).count("(earlier)") == (i - 1) // 2
    whole = tokenize_conversation(tokenizer, messages, info=info, multi_turn="whole")
    assert isinstance(whole, Reject) and "differently once later messages follow" in whole.reason
    single = rows_of(tokenize_conversation(tokenizer, conversation(1, system=False), info=info))
    assert [r.layout for r in single] == ["whole"]


def test_per_turn_can_be_forced(tokenizers):
    tokenizer, info, eot = tokenizers["native"]
    rows = rows_of(tokenize_conversation(tokenizer, conversation(3, system=True), info=info, multi_turn="per_turn"))
    assert len(rows) == 3 and spans_text(tokenizer, rows) == [r + eot for r in REPLIES]


def test_generation_prompt_unlike_stored_turn_trains_what_inference_sees(smol_tokenizer):
    """A template whose generation prompt opens the turn with <think> (DeepSeek-R1 style) but stores the reply
    without it: the row is the generation prompt, then the stored reply."""
    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.chat_template = tokenizer.chat_template.replace(
        "{{ '<|im_start|>assistant\n' }}", "{{ '<|im_start|>assistant\n<think>\n' }}")
    assert "<think>" in tokenizer.chat_template
    info = describe_template(tokenizer)
    messages = conversation(2, system=False)
    rows = rows_of(tokenize_conversation(tokenizer, messages, info=info))
    assert spans_text(tokenizer, rows) == [REPLIES[0] + "<|im_end|>", REPLIES[1] + "<|im_end|>"]
    for i, row in zip((1, 3), rows):
        [(start, _)] = trained_spans(row.labels)
        assert row.input_ids[:start] == generation_prompt_ids(tokenizer, messages, i)
        assert tokenizer.decode(row.input_ids[:start]).endswith("<|im_start|>assistant\n<think>\n")


def test_template_without_end_of_turn_is_one_clear_error(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.chat_template = (TEMPLATES / "no_end_of_turn.jinja").read_text()
    with pytest.raises(TemplateError, match="never learns to stop"):
        describe_template(tokenizer)


# --- length policies -------------------------------------------------------------------------------------------

LONG_REPLY = "The answer is long. " * 30


def long_conversation():
    return [{"role": "user", "content": "Explain at length."}, {"role": "assistant", "content": LONG_REPLY}]


def test_length_drop(tokenizers):
    tokenizer, info, _ = tokenizers["native"]
    [full] = rows_of(tokenize_conversation(tokenizer, long_conversation(), info=info))
    reject = tokenize_conversation(tokenizer, long_conversation(), info=info, max_length=60, source="x.jsonl:9")
    assert isinstance(reject, Reject)
    assert reject.reason == f"too long: {len(full.input_ids)} > max_length 60"
    kept = tokenize_conversation(tokenizer, long_conversation(), info=info, max_length=len(full.input_ids))
    assert isinstance(kept, TokenizedRow)


@pytest.mark.parametrize("template", ["native", "alpaca", "gemma-style"])
def test_length_truncate_cuts_last_reply_keeps_end_of_turn(tokenizers, template):
    tokenizer, info, eot = tokenizers[template]
    [full] = rows_of(tokenize_conversation(tokenizer, long_conversation(), info=info))
    [row] = rows_of(tokenize_conversation(tokenizer, long_conversation(), info=info,
                                          max_length=len(full.input_ids) - 25, length_policy="truncate"))
    assert row.truncated and len(row.input_ids) == len(full.input_ids) - 25
    [span] = spans_text(tokenizer, [row])
    assert span.endswith(eot)
    kept = span[: -len(eot)]
    assert 0 < len(kept) < len(LONG_REPLY.strip()) and LONG_REPLY.startswith(kept)
    first = trained_spans(row.labels)[0][0]
    assert row.input_ids[:first] == full.input_ids[:first]  # prompt tokens are unchanged


def test_length_truncate_rejects_when_prompt_does_not_fit(tokenizers):
    tokenizer, info, _ = tokenizers["native"]
    reject = tokenize_conversation(tokenizer, long_conversation(), info=info, max_length=20, length_policy="truncate")
    assert isinstance(reject, Reject) and reject.reason.startswith("too long even with the last response cut")


def test_length_error_raises_with_source(tokenizers):
    tokenizer, info, _ = tokenizers["native"]
    with pytest.raises(SFTRecipesError, match=r"data/a\.jsonl:3: too long: \d+ > max_length 40"):
        tokenize_conversation(tokenizer, long_conversation(), info=info, max_length=40, length_policy="error",
                              source="data/a.jsonl:3")


def test_unknown_policy_is_one_clear_error(tokenizers):
    tokenizer, info, _ = tokenizers["native"]
    with pytest.raises(SFTRecipesError, match="train_on must be one of"):
        tokenize_conversation(tokenizer, long_conversation(), info=info, train_on="assistants")


# --- verification and datasets ---------------------------------------------------------------------------------

def test_verify_row_catches_bad_masks(tokenizers):
    tokenizer, info, eot = tokenizers["native"]
    eot_id = tokenizer.convert_tokens_to_ids(eot)
    [row] = rows_of(tokenize_conversation(tokenizer, conversation(1, system=False), info=info))
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
                              {"role": "assistant", "content": "Hi", "train": False}],
                 "source": "d.jsonl:13", "task": "", "id": "13"})
    rows.append({"messages": [{"role": "user", "content": "Explain.", "train": None},
                              {"role": "assistant", "content": LONG_REPLY, "train": None}],
                 "source": "d.jsonl:14", "task": "", "id": "14"})
    return rows


@pytest.mark.parametrize("num_proc", [1, 2])
def test_tokenize_dataset_keeps_good_rows_and_reports_rejects(tokenizers, num_proc):
    tokenizer, info, _ = tokenizers["native"]
    result = tokenize_dataset(rows_for_dataset(), tokenizer, info, max_length=120, length_policy="drop",
                              num_proc=num_proc, batch_size=4, keep_columns=("task",))
    assert len(result.dataset) == 12 and result.truncated == 0
    assert sorted(result.dataset.column_names) == ["input_ids", "labels", "row_index", "task"]
    assert [r.source for r in result.rejects] == ["d.jsonl:13", "d.jsonl:14"]
    assert result.rejects[0].reason.startswith("nothing to train") and result.rejects[1].reason.startswith("too long")
    assert result.rejects[0].row["messages"][1]["content"] == "Hi"
    assert result.layouts == {"whole": 12} and result.conversations == {"whole": 12}
    for kept, original in zip(result.dataset, rows_for_dataset()[:12]):  # batched == one row at a time
        [single] = rows_of(tokenize_conversation(tokenizer, original["messages"], info=info))
        assert (kept["input_ids"], kept["labels"]) == (single.input_ids, single.labels)


def test_tokenize_dataset_expands_per_turn_conversations(smol_tokenizer):
    tokenizer = copy.deepcopy(smol_tokenizer)
    tokenizer.chat_template = (TEMPLATES / "rewrites_history.jinja").read_text()
    info = describe_template(tokenizer)
    rows = [{"messages": conversation(3, False), "source": "a:1", "task": "t3"},
            {"messages": conversation(1, False), "source": "a:2", "task": "t1"}]
    result = tokenize_dataset(rows, tokenizer, info, keep_columns=("task",))
    assert result.dataset["row_index"] == [0, 0, 0, 1] and result.dataset["task"] == ["t3", "t3", "t3", "t1"]
    assert result.layouts == {"per_turn": 3, "whole": 1} and result.conversations == {"per_turn": 1, "whole": 1}


def test_tokenize_dataset_counts_truncations(tokenizers):
    tokenizer, info, _ = tokenizers["native"]
    result = tokenize_dataset(rows_for_dataset(), tokenizer, info, max_length=120, length_policy="truncate")
    assert len(result.dataset) == 13 and result.truncated == 1
    assert max(len(ids) for ids in result.dataset["input_ids"]) == 120


def test_first_cause():
    assert first_cause([]) == ""
    rejects = [Reject("too long: 700 > max_length 512", "a.jsonl:2"),
               Reject("too long: 900 > max_length 512", "a.jsonl:5"),
               Reject("no end-of-turn token after message 2 (assistant): ...", "a.jsonl:7")]
    assert first_cause(rejects) == "a.jsonl:2: too long: 700 > max_length 512 (2 of 3 rejects like this)"
    assert first_cause(rejects[2:]).startswith("a.jsonl:7: no end-of-turn token")


def test_report_counts_read_from_arrow_equal_the_rows(tokenizers):
    """The prepare report counts lengths and trained tokens from the Arrow columns of the kept rows (a selection
    after rejects), never from Python lists: the counts must be those of the rows themselves."""
    from sft_recipes.data.report import TokenCounts, token_stats

    tokenizer, info, _ = tokenizers["native"]
    rows = rows_for_dataset()
    for i, row in enumerate(rows):
        row["task"] = ["short", "", "long"][i % 3]
    kept = tokenize_dataset(rows, tokenizer, info, max_length=120, length_policy="drop",
                            keep_columns=("task",)).dataset.select([11, 0, 5, 3])
    counts = TokenCounts.of(kept, head=2)
    listed = kept.to_list()
    assert counts.total == [len(r["input_ids"]) for r in listed]
    assert counts.trained == [sum(x != IGNORE_INDEX for x in r["labels"]) for r in listed]
    assert counts.tasks == [r["task"] or "(none)" for r in listed] and counts.head == listed[:2]
    stats = token_stats(counts)
    assert stats["trained_tokens"] == sum(counts.trained) > 0 and stats["rows"] == 4
