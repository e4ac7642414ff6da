"""Padding efficiency by data size: the non-pad share each batching order reaches, without training.

transformers' ``LengthGroupedSampler`` (``train_sampling_strategy: group_by_length``) sorts by length inside
randomly drawn windows of ``min(rows // (4 * batch), 50) * batch`` rows, so the share it reaches grows with the
data: a few dozen rows are barely grouped, a few thousand are. This runs the real samplers on the synthetic rows'
real token lengths and counts padded positions exactly as a pad-to-longest collator would.
"""

from __future__ import annotations

from typing import Any


def non_pad_share(lengths: list[int], order: list[int], batch_size: int, pad_to: int | None = None) -> float:
    useful = padded = 0
    for i in range(0, len(order), batch_size):
        batch = [lengths[j] for j in order[i: i + batch_size]]
        useful += sum(batch)
        padded += len(batch) * (pad_to or max(batch))
    return useful / padded if padded else 0.0


def padding_by_size(lengths: list[int], sizes: list[int], batch_size: int, pad_to: int, seed: int) -> list[dict]:
    """Non-pad share of group_by_length, random order and pad-to-``pad_to`` on the first ``n`` rows, per size."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    out: list[dict[str, Any]] = []
    for n in sizes:
        part = lengths[:n]
        grouped = list(LengthGroupedSampler(batch_size, lengths=part, generator=torch.Generator().manual_seed(seed)))
        shuffled = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
        out.append({
            "rows": n,
            "group_by_length": round(non_pad_share(part, grouped, batch_size), 4),
            "random": round(non_pad_share(part, shuffled, batch_size), 4),
            "pad_to_max_length": round(non_pad_share(part, shuffled, batch_size, pad_to=pad_to), 4),
        })
    return out
