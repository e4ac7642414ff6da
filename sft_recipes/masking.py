"""Render conversations with the tokenizer's own chat template and label exactly what the model should learn.

Works for any template, with or without ``{% generation %}`` markers, by letting the template show where each
turn is: the conversation is rendered once in full and once per trained turn as a prefix (``messages[:i+1]``,
and ``messages[:i]`` with the generation prompt for assistant turns). A turn's text ends where its prefix render
ends, so the message content is found in that window; the full text is tokenized once, with character offsets,
and the tokens of each trained content plus the end-of-turn token that closes it get labels. Everything else
(system and user turns, role headers, the newline after an end-of-turn token) is -100.

Each row is checked on the way: prefixes must really be prefixes (a template that rewrites earlier turns cannot
be masked this way), the generation prompt must be how the template starts the assistant turn (else training
would not match inference), no token may straddle the start of a trained content (a token merge across the
boundary: its label would teach header text), each trained turn must be closed by a special token, and at least
one token must be trained. A failing row becomes a ``Reject`` with the reason; nothing is dropped silently.
The ids are always the full rendering tokenized as a whole, as inference on the same conversation would see it.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from sft_recipes import SFTRecipesError
from sft_recipes.config import LENGTH_POLICIES, TRAIN_ON
from sft_recipes.conversation import chat_messages
from sft_recipes.templates import special_token_ids

IGNORE_INDEX = -100


class RowTooLong(SFTRecipesError):
    pass


class MaskingError(SFTRecipesError):
    pass


@dataclass
class TokenizedRow:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX where the model is not trained
    truncated: bool = False  # the last response was cut to fit max_length

    @property
    def num_trained(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class Reject:
    reason: str
    source: str = ""
    row: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "source": self.source, "row": self.row}


@dataclass
class _Turn:
    """One trained message located in the full text: content [start, end), its turn ends before ``turn_end``."""

    index: int
    role: str
    start: int
    end: int
    turn_end: int
    prompt: str | None  # the generation prompt before an assistant turn (what inference feeds the model)
    labelled: bool  # its span gets labels (or, under train_on "all", gets masked); else located for truncation


@dataclass
class _Plan:
    text: str
    turns: list[_Turn]
    all_tokens: bool  # train_on == "all": every token is trained except turns with train: false


def tokenize_conversation(
    tokenizer,
    messages: list[dict[str, Any]],
    train_on: str = "assistant",
    max_length: int | None = None,
    length_policy: str = "drop",
    source: str = "",
) -> TokenizedRow | Reject:
    """One conversation -> ``input_ids`` and ``labels`` as SFTTrainer consumes them, or a Reject saying why not."""
    out = tokenize_batch(
        {"messages": [messages], "source": [source]},
        tokenizer=tokenizer,
        train_on=train_on,
        max_length=max_length,
        length_policy=length_policy,
    )
    if out["reject"][0]:
        return Reject(out["reject"][0], source, {"messages": messages, "source": source})
    return TokenizedRow(out["input_ids"][0], out["labels"][0], out["truncated"][0])


def tokenize_batch(
    batch: dict[str, list],
    *,
    tokenizer,
    train_on: str = "assistant",
    max_length: int | None = None,
    length_policy: str = "drop",
) -> dict[str, list]:
    """For ``datasets.map(batched=True)``: same number of rows out, rejected ones with an empty ``input_ids``
    and their reason in ``reject`` (``""`` for kept rows). Tokenizes the whole batch in one call."""
    _check_options(train_on, length_policy)
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        kind = type(tokenizer).__name__
        raise MaskingError(f"masking needs a fast (Rust) tokenizer for character offsets; got {kind}")
    conversations = batch["messages"]
    sources = batch.get("source") or [""] * len(conversations)
    n = len(conversations)
    plans: list[_Plan | str] = [_plan(tokenizer, msgs, train_on) for msgs in conversations]

    ok = [i for i, p in enumerate(plans) if isinstance(p, _Plan)]
    # The Rust tokenizer directly: the same encoding as tokenizer(texts, add_special_tokens=False), without
    # converting every offset through Python dicts (a third of the time on 50k rows).
    encodings = tokenizer.backend_tokenizer.encode_batch([plans[i].text for i in ok], add_special_tokens=False)

    out: dict[str, list] = {"input_ids": [[] for _ in range(n)], "labels": [[] for _ in range(n)],
                            "truncated": [False] * n, "reject": [""] * n}
    for i, p in enumerate(plans):
        if isinstance(p, str):
            out["reject"][i] = p
    special = special_token_ids(tokenizer)
    for encoding, i in zip(encodings, ok):
        ids = encoding.ids
        result = _label(plans[i], ids, encoding.offsets, special)
        if isinstance(result, str):
            out["reject"][i] = result
            continue
        labels, last_content = result
        result = _fit(ids, labels, last_content, max_length, length_policy, sources[i])
        if isinstance(result, str):
            out["reject"][i] = result
            continue
        out["input_ids"][i], out["labels"][i], out["truncated"][i] = result
    return out


def _check_options(train_on: str, length_policy: str) -> None:
    if train_on not in TRAIN_ON:
        raise MaskingError(f"train_on must be one of {', '.join(TRAIN_ON)}, got {train_on!r}")
    if length_policy not in LENGTH_POLICIES:
        raise MaskingError(f"length_policy must be one of {', '.join(LENGTH_POLICIES)}, got {length_policy!r}")


def _trained(messages: list[dict[str, Any]], train_on: str) -> list[bool]:
    """Which messages are trained: an explicit per-message ``train`` wins over the policy."""
    last_assistant = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    flags = []
    for i, m in enumerate(messages):
        if m.get("train") is not None:
            flags.append(bool(m["train"]))
        elif train_on == "all":
            flags.append(True)
        elif train_on == "last_assistant":
            flags.append(i == last_assistant)
        else:
            flags.append(m["role"] == "assistant")
    return flags


def _plan(tokenizer, messages: list[dict[str, Any]], train_on: str) -> _Plan | str:
    """Render and locate every turn whose tokens get labels (or, under "all", that must not)."""
    if not messages:
        return "empty conversation"
    chat = chat_messages(messages)
    flags = _trained(messages, train_on)
    all_tokens = train_on == "all"
    labelled = {i for i, f in enumerate(flags) if (not f if all_tokens else f)}
    if not all_tokens and not labelled:
        return "nothing to train: no message is trained (all have train: false?)"
    last_assistant = max((i for i, m in enumerate(chat) if m["role"] == "assistant"), default=None)
    wanted = sorted(labelled | ({last_assistant} if last_assistant is not None else set()))
    try:
        # One call renders the full text and every shorter prefix; the last message's prefix is the full text.
        shorter = [i for i in wanted if i < len(chat) - 1]
        text, *rendered = tokenizer.apply_chat_template([chat] + [chat[: i + 1] for i in shorter], tokenize=False)
        by_index = dict(zip(shorter, rendered))
        prefixes = [by_index.get(i, text) for i in wanted]
        gen_at = [i for i in wanted if chat[i]["role"] == "assistant" and i > 0]
        gen_prompts = dict(zip(gen_at, tokenizer.apply_chat_template(
            [chat[:i] for i in gen_at], tokenize=False, add_generation_prompt=True))) if gen_at else {}
    except Exception as e:  # a template's own raise_exception(...) about this conversation
        return f"chat template failed: {' '.join(str(e).split())}"

    turns: list[_Turn] = []
    for i, prefix in zip(wanted, prefixes):
        role = chat[i]["role"]
        if not text.startswith(prefix):
            return (f"chat template renders message {i + 1} ({role}) differently once later messages follow; "
                    "its turns cannot be located")
        prompt = gen_prompts.get(i)
        low = turns[-1].end if turns else 0
        if prompt is not None:
            if not text.startswith(prompt):
                return (f"generation prompt before assistant message {i + 1} is not how the template renders that "
                        "turn: training would not match inference")
            low = max(low, len(prompt))
        span = _find_content(text, chat[i]["content"], low, len(prefix))
        if span is None:
            return f"content of message {i + 1} ({role}) not found in the template's rendering (the template alters it)"
        turns.append(_Turn(i, role, span[0], span[1], len(prefix), prompt, i in labelled))
    return _Plan(text, turns, all_tokens)


def _find_content(text: str, content: str, low: int, high: int) -> tuple[int, int] | None:
    """The last occurrence of the content inside its own turn's window (templates may trim it)."""
    for candidate in (content, content.strip()):
        if not candidate:
            return (low, low)
        pos = text.rfind(candidate, low, high)
        if pos >= 0:
            return (pos, pos + len(candidate))
    return None


def _label(
    plan: _Plan, ids: list[int], offsets: list[tuple[int, int]], special: set[int]
) -> tuple[list[int], tuple[int, int] | None] | str:
    """Labels for one row, plus the token range of the last assistant content (for truncation)."""
    starts = [a for a, _ in offsets]
    ends = [b for _, b in offsets]
    turn_spans: list[tuple[_Turn, int, int, int]] = []  # turn, first content token, first token after, eot token
    for turn in plan.turns:
        first = bisect.bisect_right(ends, turn.start)  # first token ending after the content starts
        if turn.end > turn.start and first < len(ids) and starts[first] < turn.start:
            what = "assistant turn" if turn.role == "assistant" else f"{turn.role} turn"
            return (f"token merge across the boundary of {what} (message {turn.index + 1}): token "
                    f"{plan.text[starts[first]:ends[first]]!r} spans the header and the content "
                    "(strip leading whitespace from the content)")
        after = bisect.bisect_left(starts, turn.end, lo=first)
        eot = next((t for t in range(after, len(ids)) if ids[t] in special and starts[t] < turn.turn_end), None)
        if eot is None:
            return (f"no end-of-turn token after message {turn.index + 1} ({turn.role}): "
                    "the model would never learn to stop")
        turn_spans.append((turn, first, after, eot))

    if plan.all_tokens:
        labels = list(ids)
        for turn, first, _, eot in turn_spans:
            if turn.labelled:
                labels[first: eot + 1] = [IGNORE_INDEX] * (eot + 1 - first)
    else:
        labels = [IGNORE_INDEX] * len(ids)
        for turn, first, _, eot in turn_spans:
            if turn.labelled:
                labels[first: eot + 1] = ids[first: eot + 1]
    if all(label == IGNORE_INDEX for label in labels):
        return "nothing to train: no token is labelled"
    assistant_spans = [(first, after) for turn, first, after, _ in turn_spans if turn.role == "assistant"]
    return labels, (assistant_spans[-1] if assistant_spans else None)


def _fit(ids: list[int], labels: list[int], last_content: tuple[int, int] | None, max_length: int | None,
         policy: str, source: str) -> tuple[list[int], list[int], bool] | str:
    """Apply the length policy; truncation only ever shortens the last response's content, never its ending."""
    n = len(ids)
    if max_length is None or n <= max_length:
        return ids, labels, False
    if policy == "error":
        raise RowTooLong(f"{source or 'a row'}: too long: {n} > max_length {max_length} (length_policy: error)")
    if policy == "drop":
        return f"too long: {n} > max_length {max_length}"
    if last_content is None:
        return f"too long: {n} > max_length {max_length}, and no located assistant response to truncate"
    first, after = last_content
    keep = (after - first) - (n - max_length)
    if keep < 1:
        return f"too long even with the last response cut: {n - (after - first) + 1} > max_length {max_length}"
    cut = first + keep
    return ids[:cut] + ids[after:], labels[:cut] + labels[after:], True


def verify_row(input_ids: list[int], labels: list[int], end_of_turn_ids: Iterable[int],
               train_on: str = "assistant") -> str | None:
    """An independent check of a tokenized row (also for data tokenized elsewhere): the reason it is wrong, or None.

    Labels must copy the ids where set; something must be trained; and, unless everything is trained, every
    trained span must end on an end-of-turn token, or the model never learns to stop (pitfall 2).
    """
    if len(input_ids) != len(labels):
        return f"labels ({len(labels)}) and input_ids ({len(input_ids)}) differ in length"
    if any(label != IGNORE_INDEX and label != tok for tok, label in zip(input_ids, labels)):
        return "a label differs from its input id"
    spans = trained_spans(labels)
    if not spans:
        return "nothing to train: every label is -100"
    if train_on != "all":
        eot = set(end_of_turn_ids)
        for a, b in spans:
            if input_ids[b - 1] not in eot:
                return f"trained span {a}..{b} does not end on an end-of-turn token"
    return None


def trained_spans(labels: list[int]) -> list[tuple[int, int]]:
    """Contiguous [start, end) ranges of trained positions."""
    spans = []
    start = None
    for i, label in enumerate(labels):
        if label != IGNORE_INDEX and start is None:
            start = i
        elif label == IGNORE_INDEX and start is not None:
            spans.append((start, i))
            start = None
    if start is not None:
        spans.append((start, len(labels)))
    return spans


@dataclass
class TokenizedDataset:
    dataset: Any  # datasets.Dataset with input_ids, labels (+ kept columns)
    rejects: list[Reject]
    truncated: int  # responses cut to fit max_length: the caller reports "truncated N responses"


def tokenize_dataset(
    dataset,
    tokenizer,
    *,
    train_on: str = "assistant",
    max_length: int | None = None,
    length_policy: str = "drop",
    num_proc: int | None = None,
    batch_size: int = 1000,
    keep_columns: tuple[str, ...] = (),
) -> TokenizedDataset:
    """Tokenize a dataset of conversation rows in batches (datasets shows progress); rejects keep their rows."""
    _check_options(train_on, length_policy)
    mapped = dataset.map(
        tokenize_batch,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc if num_proc and num_proc > 1 else None,
        fn_kwargs={"tokenizer": tokenizer, "train_on": train_on, "max_length": max_length,
                   "length_policy": length_policy},
        remove_columns=[c for c in dataset.column_names if c not in keep_columns],
        desc="tokenizing",
    )
    reasons = mapped["reject"]
    rejected = [i for i, r in enumerate(reasons) if r]
    rows = dataset.select(rejected).to_list() if rejected else []
    rejects = [Reject(reasons[i], row.get("source", ""), row) for i, row in zip(rejected, rows)]
    kept = mapped.select([i for i, r in enumerate(reasons) if not r])
    truncated = sum(kept["truncated"])
    kept = kept.remove_columns(["reject", "truncated"])
    return TokenizedDataset(kept, rejects, truncated)


def first_cause(rejects: list[Reject | dict[str, Any]]) -> str:
    """One line for "no row survived: <cause>": the first reject and how common its reason is."""
    if not rejects:
        return ""

    def parts(r):
        return (r["reason"], r.get("source", "")) if isinstance(r, dict) else (r.reason, r.source)

    reason, source = parts(rejects[0])
    where = f"{source}: " if source else ""
    kinds = Counter(parts(r)[0].split(":")[0] for r in rejects)
    same = kinds[reason.split(":")[0]]
    tail = f" ({same} of {len(rejects)} rejects like this)" if len(rejects) > 1 else ""
    return f"{where}{reason}{tail}"


def next_token_targets(labels):
    """``(keep, targets)`` for a ``[batch, length]`` label tensor: ``keep`` marks the positions whose next token is
    trained (the boolean ``logits_to_keep`` a causal LM takes), ``targets`` those next tokens in the same row-major
    order the model returns the kept logits in."""
    import torch

    next_labels = labels[:, 1:]
    scored = next_labels != IGNORE_INDEX
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = scored
    return keep, next_labels[scored]

