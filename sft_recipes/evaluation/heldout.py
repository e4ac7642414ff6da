"""Held-out loss and perplexity on a tokenized split (``input_ids`` + ``labels``, -100 = not trained).

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

IGNORE_INDEX = -100


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


def heldout_loss(
    model,
    split: Sequence[dict[str, Any]] | Any,
    *,
    batch_size: int = 4,
    pad_token_id: int = 0,
    progress: bool = True,
    desc: str = "held-out loss",
) -> HeldoutResult:
    """Token-weighted held-out NLL and perplexity of ``model`` on ``split``.

    Rows are batched by length with right padding (padding is masked in attention and labels, so it
    changes no number). Labels are the unshifted input labels, as the trainer sees them: the token at
    position t+1 is predicted from position t.
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    rows = _rows(split)
    if not rows:
        raise HeldoutError("the tokenized split is empty")
    vocab = model.get_input_embeddings().num_embeddings
    top = max(max(r["input_ids"], default=0) for r in rows)
    if top >= vocab:
        raise HeldoutError(f"the split holds token id {top} but the model's vocabulary has {vocab} tokens")

    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        for batch in tqdm(batches, desc=desc, unit="batch", disable=not progress):
            width = max(len(rows[i]["input_ids"]) for i in batch)
            input_ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                n = len(rows[i]["input_ids"])
                input_ids[row, :n] = torch.tensor(rows[i]["input_ids"], dtype=torch.long)
                labels[row, :n] = torch.tensor(rows[i]["labels"], dtype=torch.long)
                attention_mask[row, :n] = 1
            with torch.no_grad():
                logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits
            shifted_logits = logits[:, :-1, :].float()
            shifted_labels = labels[:, 1:].to(device)
            total_nll += F.cross_entropy(
                shifted_logits.reshape(-1, shifted_logits.size(-1)),
                shifted_labels.reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            ).item()
            total_tokens += int((shifted_labels != IGNORE_INDEX).sum())
    finally:
        model.train(was_training)
    if total_tokens == 0:
        raise HeldoutError("no trained tokens in the split (every label is -100): nothing to score")
    loss = total_nll / total_tokens
    return HeldoutResult(loss=loss, perplexity=math.exp(loss), tokens=total_tokens, examples=len(rows))
