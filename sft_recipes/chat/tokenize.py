"""Conversation rows -> token ids and labels in batches: ``tokenize_batch`` for ``datasets.map`` and
``tokenize_dataset`` over a list of rows (the per-row labelling and its checks are masking.py's)."""

from __future__ import annotations

import gc
import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sft_recipes.chat.masking import (
    MaskingOptions,
    PieceEncoder,
    TokenizedRow,
    conversation_json,
    label_conversation,
    reply_stop_ids,
)
from sft_recipes.chat.render import Renderer
from sft_recipes.chat.template_info import TemplateInfo, describe_template
from sft_recipes.chat.turns import ConversationPlan, PlanReject, plan_conversation
from sft_recipes.data.rejects import Reject


def tokenize_conversation(tokenizer, messages: list[dict[str, Any]], info: TemplateInfo | None = None,
                          source: str = "", tools: list[dict] | None = None, **options: Any
                          ) -> TokenizedRow | Reject | list[TokenizedRow]:
    """One conversation -> its row (or, per turn, its rows), or a Reject saying why not. For tests and tools."""
    info = info or describe_template(tokenizer)
    row = {"messages": messages, "source": source, **({"tools": tools} if tools else {})}
    out = tokenize_batch({"conversation": [json.dumps(row)], "source": [source]}, tokenizer=tokenizer, info=info,
                         **options)
    if out["reject"][0]:
        return Reject(out["reject"][0], source, row)
    rows = [TokenizedRow(i, lab, t, lay) for i, lab, t, lay in
            zip(out["input_ids"], out["labels"], out["truncated"], out["layout"])]
    return rows[0] if len(rows) == 1 else rows


def tokenize_batch(batch: dict[str, list], *, tokenizer, info: TemplateInfo, **options: Any) -> dict[str, list]:
    """For ``datasets.map(batched=True)`` over rows with a JSON ``conversation`` column: one output row per training
    row (several for a per-turn conversation); a rejected conversation gives one row with empty ids and its reason
    in ``reject``. ``row_index`` says which input row each output row came from; ``notes`` what was adapted."""
    with _without_cycle_collection():
        return _tokenize_batch(batch, tokenizer, info, options)


@contextmanager
def _without_cycle_collection():
    """A batch allocates many small objects and no reference cycles: the cyclic collector, which walks every live
    object each time it runs, took a third of the time. Memory is freed as usual (reference counting)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _tokenize_batch(batch: dict[str, list], tokenizer, info: TemplateInfo, options: dict[str, Any]
                    ) -> dict[str, list]:
    opts = MaskingOptions(**options)
    renderer = Renderer(tokenizer, info, opts.system_message, opts.allow_control_tokens)
    encoder = PieceEncoder(tokenizer)
    stop_ids = reply_stop_ids(tokenizer, info)
    out: dict[str, list] = {k: [] for k in ("input_ids", "labels", "truncated", "reject", "layout", "notes",
                                            "row_index")}
    sources = batch.get("source") or [""] * len(batch["conversation"])
    plans: list[ConversationPlan | str] = []
    for text in batch["conversation"]:
        try:
            plans.append(plan_conversation(renderer, json.loads(text), opts.train_on, opts.multi_turn,
                                           opts.train_on_reasoning))
        except PlanReject as e:
            plans.append(str(e))
    encoder.prefetch(_pieces_to_encode(p for p in plans if not isinstance(p, str)))
    for index, (plan, source) in enumerate(zip(plans, sources)):
        try:
            rows = plan if isinstance(plan, str) else label_conversation(encoder, plan, stop_ids, opts, source)
        except PlanReject as e:
            rows = str(e)
        if isinstance(rows, str):
            _emit(out, index, [], [], False, rows, "", "")
            continue
        notes = ";".join(sorted(set(plan.notes)))
        for r in rows:
            _emit(out, index, r.input_ids, r.labels, r.truncated, "", r.layout, notes)
    keep = [k for k in batch if k not in ("conversation", "source", "row_index")]
    origin = batch.get("row_index") or list(range(len(batch["conversation"])))
    for k in keep:
        column = batch[k]  # once: a datasets batch converts the column on every access
        out[k] = [column[i] for i in out["row_index"]]
    out["row_index"] = [origin[i] for i in out["row_index"]]
    return out


def _pieces_to_encode(plans) -> list[tuple[str, bool]]:
    """(text, first) of every piece and checked prompt of the planned rows that has no data control-token text."""
    out = []
    for plan in plans:
        for row in (*plan.rows, *plan.fallback):
            out += [(p.text, n == 0) for n, p in enumerate(row.pieces) if not p.injected]
            out += [(prompt.text, True) for _, prompt in row.prompts if not prompt.injected]
    return out


def _emit(out: dict[str, list], index: int, ids, labels, truncated, reject, layout, notes) -> None:
    for key, value in (("input_ids", ids), ("labels", labels), ("truncated", truncated), ("reject", reject),
                       ("layout", layout), ("notes", notes), ("row_index", index)):
        out[key].append(value)


@dataclass
class TokenizedDataset:
    dataset: Any  # datasets.Dataset with input_ids, labels (+ kept columns)
    rejects: list[Reject]
    truncated: int  # responses cut to fit max_length: the caller reports "truncated N responses"
    layouts: dict[str, int] = field(default_factory=dict)  # rows per layout ("whole", "per_turn", "all")
    conversations: dict[str, int] = field(default_factory=dict)  # conversations per layout
    notes: dict[str, int] = field(default_factory=dict)  # conversations per adaptation note


def tokenize_dataset(rows: list[dict[str, Any]], tokenizer, info: TemplateInfo, *, num_proc: int | None = None,
                     batch_size: int = 1000, keep_columns: tuple[str, ...] = (), split_of: list[str] | None = None,
                     **options: Any) -> TokenizedDataset:
    """Tokenize conversation rows in batches (datasets shows progress); rejects keep their rows (and their split,
    from ``split_of``). Output rows keep the input order; ``row_index`` says which input row each came from.

    Conversations travel as JSON text: Arrow would give every message and tool call the union of all fields."""
    from datasets import Dataset

    MaskingOptions(**options)  # fail on a bad option before any work
    table = Dataset.from_dict({
        "conversation": [json.dumps(conversation_json(r), ensure_ascii=False) for r in rows],
        "source": [r.get("source", "") for r in rows],
        "row_index": list(range(len(rows))),
        **{k: [r.get(k) for r in rows] for k in keep_columns},
    })
    mapped = table.map(
        tokenize_batch, batched=True, batch_size=batch_size, num_proc=num_proc if num_proc and num_proc > 1 else None,
        fn_kwargs={"tokenizer": tokenizer, "info": info, **options}, remove_columns=table.column_names,
        desc="tokenizing")
    info_columns = mapped.select_columns(["reject", "row_index", "layout", "notes", "truncated"]).to_dict()
    reasons, origin = info_columns["reject"], info_columns["row_index"]
    rejects = [Reject(reasons[i], rows[origin[i]].get("source", ""), rows[origin[i]],
                      split=split_of[origin[i]] if split_of else None)
               for i, r in enumerate(reasons) if r]
    keep = [i for i, r in enumerate(reasons) if not r]
    kept = mapped.select(keep)
    layouts = Counter(info_columns["layout"][i] for i in keep)
    per_conversation = {origin[i]: (info_columns["layout"][i], info_columns["notes"][i]) for i in keep}
    conversations = Counter(layout for layout, _ in per_conversation.values())
    notes = Counter(n for _, joined in per_conversation.values() for n in joined.split(";") if n)
    truncated = sum(info_columns["truncated"][i] for i in keep)
    kept = kept.remove_columns(["reject", "truncated", "layout", "notes"])
    return TokenizedDataset(kept, rejects, truncated, dict(layouts), dict(conversations), dict(notes))
