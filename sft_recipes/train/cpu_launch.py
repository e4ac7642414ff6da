"""What a multi-process launch means on a machine without a GPU, decided before TrainingArguments are built.

    torchrun / multi_cpu.yaml   data parallel over gloo: ``use_cpu: true`` (without it transformers sets up a
                                non-distributed state, and every rank would believe it is the main process)
    deepspeed_zero{2,3}.yaml    DeepSpeed's CPU accelerator over gloo: ``use_cpu`` stays false (accelerate turns
                                DeepSpeed off for a CPU state) and ``ddp_backend: gloo`` (accelerate names no backend
                                for a CPU, and DeepSpeed would start each rank alone). Needs ``pip install deepspeed``
    fsdp2.yaml                  refused in one line: accelerate (1.15) switches FSDP on only for GPU-like devices
                                (MULTI_GPU, XPU, NPU, ...), so on CPU processes the ranks would train unsynchronised
                                copies. ``accelerate launch --cpu`` with an FSDP config starts a single plain process.
"""

from __future__ import annotations

import os
from typing import Any

from sft_recipes import SFTRecipesError


class LaunchError(SFTRecipesError):
    pass


def _flag(name: str) -> bool:
    return os.environ.get(name, "false").lower() in ("1", "true")


def apply_cpu_launch_defaults(training: dict[str, Any]) -> None:
    """For a machine without a GPU: fill ``use_cpu`` / ``ddp_backend`` for the launcher in use, or refuse FSDP."""
    if _flag("ACCELERATE_USE_FSDP"):
        raise LaunchError(
            "FSDP needs GPUs: accelerate runs FSDP only on GPU processes, and this machine has none; on CPU "
            "processes use torchrun (data parallel) or a DeepSpeed config (accelerate_configs/deepspeed_zero*.yaml)"
        )
    if _flag("ACCELERATE_USE_DEEPSPEED"):
        training.setdefault("ddp_backend", "gloo")
        training.setdefault("dataloader_pin_memory", False)  # nothing to pin for; torch warns on every loader
        return
    training.setdefault("use_cpu", True)
