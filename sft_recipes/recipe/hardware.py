"""Defaults that follow the machine: precision, CPU-only processes (torchrun, DeepSpeed over gloo), GPU defaults."""

from __future__ import annotations

from typing import Any


def native_bf16() -> bool:
    """Whether this machine multiplies bf16 matrices in hardware: a CUDA GPU with bf16, or a CPU with AVX512-BF16 or
    AMX (Intel Sapphire Rapids and later, AMD Zen 4 and later), where a bf16 GEMM runs several times faster than
    fp32. Other CPUs emulate bf16, which is slower than fp32."""
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    cpu = torch.cpu
    return any(bool(getattr(cpu, probe, lambda: False)()) for probe in ("_is_avx512_bf16_supported",
                                                                          "_is_amx_tile_supported"))


FP32_CPU_NOTE = ("bf16: auto: this CPU has no bf16 matrix units (AVX512-BF16 or AMX), so training and evaluation run "
                 "in fp32, several times slower than on a CPU that has them")


def apply_hardware_defaults(training: dict[str, Any]) -> list[str]:
    """TRL 1.16 turns bf16 on by default, which fails on a CPU: pick precision from the device unless set.
    ``bf16: auto`` trains in bf16 autocast wherever the hardware computes bf16 natively, else in fp32; on a CPU
    the fp32 fallback is said (the returned notes): a recipe sized on a CPU with bf16 units takes several times
    longer (the quickstart's steps: 3.1-4.5 s on a 2-core Xeon with AMX, 9.6-12.1 s in fp32 on a 2-core AVX2 EPYC)."""
    import torch

    has_accelerator = torch.cuda.is_available() or (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    )
    if not has_accelerator:
        from sft_recipes.train.cpu_launch import apply_cpu_launch_defaults

        apply_cpu_launch_defaults(training)  # use_cpu for torchrun, gloo for DeepSpeed, FSDP refused
    notes = []
    if training.get("bf16") == "auto":
        training["bf16"] = native_bf16()
        if not training["bf16"] and not has_accelerator:
            notes.append(FP32_CPU_NOTE)
    if "bf16" not in training and "fp16" not in training:
        training["bf16"] = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    training.setdefault("report_to", "none")
    training.setdefault("logging_steps", 1)
    # Activation checkpointing left unset is decided per batch from its tokens (train/checkpointing_policy.py).
    return notes


def apply_cpu_lora_bf16_weights(model: dict[str, Any], training: dict[str, Any]) -> bool:
    """LoRA trained in bf16 autocast on a CPU keeps its frozen base in bf16 (``dtype: bfloat16``) unless the recipe
    sets ``dtype``: autocast would otherwise cast every fp32 base weight to bf16 again in every forward pass (~10% of
    a quickstart step, measured). The adapters stay fp32, as peft keeps them; a quantized base keeps its own storage.
    The GPU equivalent is in gpu_defaults.py. Returns whether it applied."""
    import torch

    if torch.cuda.is_available() or model.get("dtype") is not None or training.get("bf16") is not True:
        return False
    if not model.get("use_peft") or model.get("load_in_4bit") or model.get("load_in_8bit"):
        return False
    model["dtype"] = "bfloat16"
    return True


def unavailable_features(model: dict[str, Any], training: dict[str, Any]) -> list[str]:
    """GPU-only settings of a recipe written for GPUs (flash attention 2, Liger kernels) on a machine that cannot run
    them: the portable equivalent is used, and a note says so."""
    import importlib.util

    import torch

    notes = []
    if model.get("attn_implementation") == "flash_attention_2" and not (
        torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None
    ):
        model["attn_implementation"] = "sdpa"
        notes.append("attn_implementation: flash_attention_2 needs a GPU and flash-attn: sdpa is used")
    if training.get("use_liger_kernel") in (True, "true", "True") and not (
        torch.cuda.is_available() and importlib.util.find_spec("liger_kernel") is not None
    ):
        training["use_liger_kernel"] = False
        notes.append("use_liger_kernel: Liger's kernels need a GPU and liger-kernel: the stack's own layers are used")
    return notes
