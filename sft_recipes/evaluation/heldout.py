"""Held-out loss and perplexity on a tokenized split (``input_ids`` + ``labels``, IGNORE_INDEX = not trained).

The loss is the mean negative log-likelihood over every trained token of the split: summed over all
batches, then divided once by the number of trained tokens. Averaging per-batch means instead would
weight a batch of short answers as much as a batch of long ones, and the number would change with
the batch size (the gradient-accumulation normalisation bug, applied to evaluation).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from sft_recipes import SFTRecipesError
from sft_recipes.chat.masking import IGNORE_INDEX


class HeldoutError(SFTRecipesError):
    pass


@dataclass
class HeldoutResult:
    loss: float  # mean NLL per trained token (nats)
    perplexity: float  # exp(loss)
    tokens: int  # trained tokens scored
    examples: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows(split) -> list[dict[str, list[int]]]:
    """Plain lists of ids from a ``datasets.Dataset`` or a list of dicts, checked once up front."""
    if hasattr(split, "column_names"):
        missing = {"input_ids", "labels"} - set(split.column_names)
        if missing:
            raise HeldoutError(f"tokenized split lacks column(s) {', '.join(sorted(missing))}")
        return [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in split]
    rows = list(split)
    for i, r in enumerate(rows):
        if "input_ids" not in r or "labels" not in r:
            raise HeldoutError(f"tokenized row {i} lacks input_ids or labels")
        if len(r["input_ids"]) != len(r["labels"]):
            raise HeldoutError(f"tokenized row {i}: input_ids and labels differ in length")
    return rows


def _groups(rows, share_prefixes: bool) -> tuple[list[tuple[int, list[int]]], list[int]]:
    """Rows sharing a long opening (one document, several questions), with the shared part cut before the first
    position that predicts a trained token, so every scored position runs outside the cache."""
    from sft_recipes.inference.prefix_cache import shared_prefix_groups

    if not share_prefixes:
        return [], list(range(len(rows)))
    groups, lone = shared_prefix_groups([r["input_ids"] for r in rows])
    first_scored = [next((t - 1 for t, label in enumerate(r["labels"]) if label != IGNORE_INDEX and t > 0), 0)
                    for r in rows]
    kept = []
    for shared, members in groups:
        shared = min(shared, *(first_scored[i] for i in members))
        if shared > 0:
            kept.append((shared, members))
        else:
            lone += members
    return kept, lone


def heldout_loss(
    model,
    split: Sequence[dict[str, Any]] | Any,
    *,
    batch_size: int = 4,
    pad_token_id: int = 0,
    progress: bool = True,
    desc: str = "held-out loss",
    share_prefixes: bool = True,
) -> HeldoutResult:
    """Token-weighted held-out NLL and perplexity of ``model`` on ``split``.

    Rows are batched by length with right padding (padding is masked in attention and labels, so it
    changes no number). Labels are the unshifted input labels, as the trainer sees them: the token at
    position t+1 is predicted from position t. Rows that open with the same long run of tokens (several
    questions about one document) are scored from one KV cache of that opening (``share_prefixes``), with
    positions taken from the attention mask, so the numbers are those of the rows alone.
    """
    from tqdm.auto import tqdm

    from sft_recipes.inference.prefix_cache import PrefixCaches

    rows = _rows(split)
    if not rows:
        raise HeldoutError("the tokenized split is empty")
    _check_vocabulary(model, rows)
    batches = _plan_batches(rows, batch_size, share_prefixes)
    caches = PrefixCaches(model, [[tuple(rows[i]["input_ids"][:shared]) for shared, i in b] for b in batches])
    total_nll, total_tokens = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        for n, batch in enumerate(tqdm(batches, desc=desc, unit="batch", disable=not progress)):
            prefixes = caches.prefixes(n)
            inputs, labels = _batch_inputs(rows, batch, prefixes, pad_token_id)
            if any(prefixes):
                inputs["past_key_values"] = caches.stacked(prefixes)
            nll, tokens = _batch_nll(model, inputs, labels)
            total_nll, total_tokens = total_nll + nll, total_tokens + tokens
            caches.release(n)
    finally:
        model.train(was_training)
    if total_tokens == 0:
        raise HeldoutError("no trained tokens in the split (every label is masked): nothing to score")
    loss = total_nll / total_tokens
    return HeldoutResult(loss=loss, perplexity=math.exp(loss), tokens=total_tokens, examples=len(rows))


def _check_vocabulary(model, rows) -> None:
    vocab = model.get_input_embeddings().num_embeddings
    top = max(max(r["input_ids"], default=0) for r in rows)
    if top >= vocab:
        raise HeldoutError(f"the split holds token id {top} but the model's vocabulary has {vocab} tokens")


def _plan_batches(rows, batch_size: int, share_prefixes: bool) -> list[list[tuple[int, int]]]:
    """Batches of (shared prefix length, row index): cached-prefix groups, then the other rows by length."""
    from sft_recipes.inference.prefix_cache import prefix_batches

    groups, lone = _groups(rows, share_prefixes)
    order = sorted(lone, key=lambda i: len(rows[i]["input_ids"]))
    batches = prefix_batches(groups, batch_size)
    return batches + [[(0, i) for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)]


def _batch_inputs(rows, batch, prefixes, pad_token_id: int):
    """(model inputs without the cache, labels): [padding | shared prefix] in the cache, then [own tokens |
    padding] in the batch, positions from the attention mask when a prefix is cached."""
    import torch

    cached = max(len(p) for p in prefixes)
    width = max(len(rows[i]["input_ids"]) - len(p) for (_, i), p in zip(batch, prefixes))
    input_ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), cached + width), dtype=torch.long)
    for row, ((_, i), prefix) in enumerate(zip(batch, prefixes)):
        start = len(prefix)
        own = rows[i]["input_ids"][start:]
        input_ids[row, : len(own)] = torch.tensor(own, dtype=torch.long)
        labels[row, : len(own)] = torch.tensor(rows[i]["labels"][start:], dtype=torch.long)
        attention_mask[row, cached - start : cached + len(own)] = 1
    inputs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
    if cached:
        inputs["position_ids"] = (attention_mask.cumsum(-1) - 1).clamp(min=0)[:, cached:]
    return inputs, labels


def _batch_nll(model, inputs: dict[str, Any], labels) -> tuple[float, int]:
    """Summed NLL and the number of trained tokens of one batch."""
    import torch
    import torch.nn.functional as F

    from sft_recipes.chat.masking import next_token_targets

    device = next(model.parameters()).device
    keep, targets = next_token_targets(labels)
    targets = targets.to(device)
    inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
    with torch.no_grad():
        # logits only where a trained token is predicted: most of a prompt-heavy row needs none
        logits = model(**inputs, logits_to_keep=keep.to(device)).logits
    if logits.shape[:-1] != targets.shape:
        raise HeldoutError(f"{type(model).__name__} does not take logits_to_keep as a boolean mask")
    return F.cross_entropy(logits.float(), targets, reduction="sum").item(), targets.numel()
