"""What a training loop really processed, seen from the model's side, the same way for every contender.

A forward pre-hook on the model (a public torch API, nothing patched) records each batch as the model receives it:
positions processed (padding included), non-pad tokens (the attention mask, or every position when a padding-free
batch carries none), positions with a label (what the loss, and TRL's fused LM head, work on) and the causal
attention pairs per sequence (for FLOP counting). Counting at the model rather than in each loop keeps the
contenders honest: whatever collator or sampler they use, the numbers come from the same place.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from sft_recipes.chat.masking import IGNORE_INDEX


@dataclass
class BatchStats:
    steps: int = 0
    padded_tokens: int = 0  # positions processed, padding included
    useful_tokens: int = 0  # non-pad positions
    trained_tokens: int = 0  # positions whose next-token label is set (label != -100 after the shift)
    causal_pairs: int = 0  # sum over sequences of L*(L+1)/2: query-key pairs of causal attention on real tokens
    sequences: int = 0
    longest: int = 0
    batch_shapes: list[list[int]] = field(default_factory=list)
    useful_per_step: list[int] = field(default_factory=list)
    step_starts: list[float] = field(default_factory=list)  # perf_counter() as each forward pass begins

    @property
    def non_pad_share(self) -> float:
        return self.useful_tokens / self.padded_tokens if self.padded_tokens else 0.0

    def after_first_step(self, end: float) -> tuple[int, float] | None:
        """(useful tokens, seconds) without the first step (allocator and thread-pool warm-up), from 2 steps on."""
        if self.steps < 2:
            return None
        return sum(self.useful_per_step[1:]), end - self.step_starts[1]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["step_starts"]
        out["non_pad_share"] = round(self.non_pad_share, 5)
        return out


def sequence_lengths(input_ids, attention_mask=None, position_ids=None) -> list[int]:
    """Real lengths of the sequences in one batch: from the attention mask, or, for a padding-free row, from where
    position_ids restart at 0."""
    if attention_mask is not None:
        return [int(x) for x in attention_mask.sum(dim=-1).tolist()]
    if position_ids is not None and input_ids.shape[0] == 1:
        starts = (position_ids[0] == 0).nonzero().flatten().tolist() + [position_ids.shape[-1]]
        return [b - a for a, b in zip(starts, starts[1:]) if b > a]
    return [int(input_ids.shape[-1])] * int(input_ids.shape[0])


class BatchMeter:
    """Attach to a model; every training forward pass adds its batch to ``stats``."""

    def __init__(self) -> None:
        self.stats = BatchStats()
        self._handle = None
        self._collated: list = []  # (input_ids, attention_mask) of the last few collated batches (watch_batches)

    def attach(self, model) -> "BatchMeter":
        self._handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)
        return self

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def watch_batches(self, dataloader) -> None:
        """Keep each collated batch's padding mask: a trainer may run a right-padded batch without it (causal
        attention needs none), and the model's forward then cannot tell padding from tokens. accelerate's
        loaders collate through the torch DataLoader they wrap (``base_dataloader``)."""
        loader = getattr(dataloader, "base_dataloader", dataloader)
        collate = loader.collate_fn

        def collate_and_keep(rows):
            batch = collate(rows)
            if hasattr(batch, "get") and batch.get("attention_mask") is not None:
                # loaders fetch a batch ahead: keep the last few, matched to the model's input by its token ids
                self._collated = [*self._collated[-3:], (batch["input_ids"], batch["attention_mask"])]
            return batch

        loader.collate_fn = collate_and_keep

    def _hook(self, module, args, kwargs):
        if not module.training:
            return None
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        if input_ids is not None:
            mask = kwargs.get("attention_mask")
            if mask is None:
                mask = next((m for ids, m in self._collated
                             if ids.shape == input_ids.shape and torch.equal(ids, input_ids.to(ids.device))), None)
            self.record(input_ids, mask, kwargs.get("labels"), kwargs.get("position_ids"),
                        kwargs.get("logits_to_keep"))
        return None

    def record(self, input_ids, attention_mask=None, labels=None, position_ids=None, logits_to_keep=None) -> None:
        """``labels``, or for a trainer that asks the model for logits at labelled positions only, the boolean
        ``logits_to_keep`` mask of the positions that predict a trained token (the same count)."""
        s = self.stats
        lengths = sequence_lengths(input_ids, attention_mask, position_ids)
        s.steps += 1
        s.padded_tokens += int(input_ids.numel())
        s.useful_tokens += sum(lengths)
        s.sequences += len(lengths)
        s.longest = max([s.longest, *lengths])
        s.causal_pairs += sum(n * (n + 1) // 2 for n in lengths)
        if labels is not None:
            s.trained_tokens += int((labels[..., 1:] != IGNORE_INDEX).sum())
        elif logits_to_keep is not None and str(getattr(logits_to_keep, "dtype", "")) == "torch.bool":
            s.trained_tokens += int(logits_to_keep.sum())
        s.batch_shapes.append(list(input_ids.shape))
        s.useful_per_step.append(sum(lengths))
        s.step_starts.append(time.perf_counter())


class Stopwatch:
    """Wall time of the training loop alone (model loading and data preparation stay outside)."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.end: float | None = None

    def begin(self) -> None:
        self.start = time.perf_counter()

    def stop(self) -> None:
        self.end = time.perf_counter()

    @property
    def seconds(self) -> float:
        if self.start is None or self.end is None:
            raise RuntimeError("stopwatch was not started and stopped")
        return self.end - self.start


def trainer_callback(meter: BatchMeter, watch: Stopwatch):
    """A TrainerCallback that times ``trainer.train()``'s loop and attaches the meter to the trained model."""
    from transformers import TrainerCallback

    class _Measure(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
            meter.attach(model)
            if train_dataloader is not None:
                meter.watch_batches(train_dataloader)
            watch.begin()

        def on_train_end(self, args, state, control, **kwargs):
            watch.stop()
            meter.detach()

    return _Measure()


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
