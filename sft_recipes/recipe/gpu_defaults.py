"""sft-recipes' defaults on a CUDA GPU, for the recipe keys a recipe leaves unset.

    padding_free: true        when the flash-attn package is installed: rows are concatenated without padding and
                              flash attention's varlen kernels keep them apart (attention_choice.py loads
                              ``flash_attention_2``); without flash-attn, batches stay padded (sdpa would need a
                              (sum L)^2 mask per batch)
    use_liger_kernel: true    when liger-kernel is installed: Liger's RMSNorm, RoPE and SwiGLU kernels (TRL keeps its
                              own fused, chunked cross-entropy, which is always on: the logits of a whole batch are
                              never materialised)
    dtype: bfloat16           for LoRA / QLoRA when training in bf16: the frozen base needs no fp32 copy (adapters
                              stay fp32, as peft keeps them); full fine-tuning keeps fp32 master weights

Activation checkpointing left unset is decided per batch on any device (checkpointing_policy.py). The CPU-only loss
path (trainer.py) is never used on a GPU. On a CPU, nothing here applies.
"""

from __future__ import annotations

from typing import Any


def liger_installed() -> bool:
    from transformers.utils import is_liger_kernel_available

    return bool(is_liger_kernel_available())


def apply_gpu_defaults(model: dict[str, Any], training: dict[str, Any]) -> dict[str, Any]:
    """Fill unset keys for a CUDA run in place; returns what was set."""
    import torch

    from sft_recipes.train.attention_choice import flash_attention_installed

    if not torch.cuda.is_available() or training.get("use_cpu"):
        return {}
    chosen: dict[str, Any] = {}
    if "padding_free" not in training and not training.get("packing") and flash_attention_installed():
        chosen["padding_free"] = True
    if "use_liger_kernel" not in training and liger_installed():
        chosen["use_liger_kernel"] = True
    if model.get("use_peft") and model.get("dtype") is None and training.get("bf16"):
        model["dtype"] = "bfloat16"
        chosen["dtype"] = "bfloat16"
    training.update({k: v for k, v in chosen.items() if k != "dtype"})
    return chosen
