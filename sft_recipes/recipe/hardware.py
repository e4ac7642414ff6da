"""Defaults that follow the machine: precision, CPU-only processes, activation checkpointing on CPU."""

from __future__ import annotations

from typing import Any

CPU_TOKENS_WITHOUT_CHECKPOINTING = 4096  # batch size x max_length above which CPU runs recompute activations


def apply_hardware_defaults(training: dict[str, Any]) -> None:
    """TRL 1.16 turns bf16 on by default, which fails on a CPU: pick precision from the device unless set."""
    import torch

    has_accelerator = torch.cuda.is_available() or (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    )
    if not has_accelerator:
        # Without use_cpu, transformers sets up a non-distributed state on a CPU-only machine, so every rank of a
        # torchrun job would believe it is the main process.
        training.setdefault("use_cpu", True)
    if "bf16" not in training and "fp16" not in training:
        training["bf16"] = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    training.setdefault("report_to", "none")
    training.setdefault("logging_steps", 1)
    # On CPU, recomputing activations costs about a third more time; only batches of many tokens need the memory
    # (a batch of 8 x 900 tokens of a 135M model takes 18 GB without it). TRL's own default is on.
    if not torch.cuda.is_available() and "activation_checkpointing" not in training \
            and "gradient_checkpointing" not in training:
        max_length = training.get("max_length", 1024) or 1024
        tokens_per_batch = training.get("per_device_train_batch_size", 8) * max_length
        training["activation_checkpointing"] = tokens_per_batch > CPU_TOKENS_WITHOUT_CHECKPOINTING
