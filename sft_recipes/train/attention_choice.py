"""Which attention a run trains with, when the recipe leaves ``attn_implementation`` unset.

    padding-free batches on a CPU   varlen_sdpa (varlen_attention.py): each example attends alone, sum L^2
    branch rows on a CPU            varlen_sdpa: each branch sees its shared prefix and itself
    padding-free batches on CUDA    flash_attention_2 when the flash-attn package is installed (its varlen kernels)
    anything else                   transformers' default (sdpa)

Padding-free batches are TRL's ``padding_free: true`` and ``packing: true`` with the ``bfd`` / ``bfd_split``
strategies: one row of concatenated examples whose ``position_ids`` restart at each example.
"""

from __future__ import annotations

from typing import Any

PADDING_FREE_PACKING = ("bfd", "bfd_split")


def padding_free_batches(args: Any) -> bool:
    return bool(args.padding_free or (args.packing and args.packing_strategy in PADDING_FREE_PACKING))


def trains_on_cpu(args: Any) -> bool:
    import torch

    return bool(getattr(args, "use_cpu", False)) or not (
        torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())
        or (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())
    )


def flash_attention_installed() -> bool:
    from transformers.utils import is_flash_attn_2_available

    return bool(is_flash_attn_2_available())


def attention_at_load(model_args: Any, args: Any) -> str | None:
    """``attn_implementation`` for ``from_pretrained``: the recipe's, else flash attention 2 for padding-free
    batches on CUDA when installed, else None (transformers' default)."""
    import torch

    if model_args.attn_implementation:
        return model_args.attn_implementation
    if padding_free_batches(args) and not trains_on_cpu(args) and torch.cuda.is_available() \
            and flash_attention_installed():
        return "flash_attention_2"
    return None


def use_varlen_on_cpu(model, model_args: Any, args: Any, branches: bool = False) -> bool:
    """Switch a loaded model to per-example attention when it trains padding-free batches or branch rows
    (``group_turns: branches``) on a CPU with the default attention; returns whether it did. Models that do not
    take flash attention's varlen arguments keep sdpa (correct, at (sum L)^2 cost: branch rows then carry a mask)."""
    from sft_recipes.train.varlen_attention import register, supports_varlen

    if model_args.attn_implementation or not (padding_free_batches(args) or branches) or not trains_on_cpu(args):
        return False
    if model.config._attn_implementation != "sdpa" or not supports_varlen(model):
        return False
    model.set_attn_implementation(register())
    return True
