"""Batches of branch rows (``group_turns: branches``, data/branches.py): padded on the right, with their
``position_ids``.

With the per-example attention of varlen_attention.py (a CPU), the positions are all the attention needs: a branch
restarts them at the length of the prefix it shares. Any other attention gets the same structure as a boolean
``[batch, 1, length, length]`` mask (a token sees the earlier tokens of its example that are in the shared prefix or
in its own branch), which sdpa and eager attention take as it is. Flash attention cannot express a shared prefix.
"""

from __future__ import annotations

from typing import Any

import torch

from sft_recipes.chat.masking import IGNORE_INDEX
from sft_recipes.train.varlen_attention import example_bounds, example_branches


class BranchCollator:
    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None, attention_mask: bool = True):
        self.pad_token_id, self.multiple, self.with_mask = pad_token_id, pad_to_multiple_of, attention_mask

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        length = max(len(f["input_ids"]) for f in features)
        if self.multiple:
            length = -(-length // self.multiple) * self.multiple
        batch = len(features)
        input_ids = torch.full((batch, length), self.pad_token_id, dtype=torch.long)
        labels = torch.full((batch, length), IGNORE_INDEX, dtype=torch.long)
        position_ids = torch.zeros((batch, length), dtype=torch.long)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            input_ids[row, :n] = torch.as_tensor(f["input_ids"])
            labels[row, :n] = torch.as_tensor(f["labels"])
            positions = torch.as_tensor(f.get("position_ids") or range(n))
            position_ids[row, :n] = positions
            # padding continues the last branch: after every real token, so no real token sees it
            start = int(positions[-1]) + 1 if n else 0
            position_ids[row, n:] = torch.arange(start, start + length - n)
        out = {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}
        if self.with_mask:
            out["attention_mask"] = branch_mask(position_ids)[:, None]
        return out


def branch_mask(position_ids: torch.Tensor) -> torch.Tensor:
    """``[batch, length, length]`` booleans from positions: query i sees key j <= i of its own example when j is in
    i's branch or in the prefix i's branch shares."""
    batch, length = position_ids.shape
    mask = torch.zeros((batch, length, length), dtype=torch.bool)
    causal = torch.ones((length, length), dtype=torch.bool).tril()
    for row, spans in enumerate(example_bounds(batch, length, position_ids=position_ids)):
        for start, trunk_end, branches in example_branches(spans, position_ids, row):
            mask[row, start:trunk_end, start:trunk_end] = causal[: trunk_end - start, : trunk_end - start]
            for s, e, shared in branches:
                mask[row, s:e, start:start + shared] = True
                mask[row, s:e, s:e] = causal[: e - s, : e - s]
    return mask
