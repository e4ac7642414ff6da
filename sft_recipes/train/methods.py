"""The training method a recipe asks for: LoRA, QLoRA (4-bit base + LoRA) or full fine-tuning.

Everything here is plain config building and checking, so a wrong combination fails before a model is loaded.
"""

from __future__ import annotations

from typing import Any

from sft_recipes import SFTRecipesError


class IncompatibleSettings(SFTRecipesError):
    pass


def method_name(model_args: Any) -> str:
    if model_args.load_in_4bit or model_args.load_in_8bit:
        return "qlora"
    return "lora" if model_args.use_peft else "full"


def method_label(use_peft: bool, load_in_4bit: bool = False, load_in_8bit: bool = False) -> str:
    """The method as people name it, for progress lines and model cards: QLoRA is LoRA on a 4-bit base."""
    if not use_peft:
        return "full fine-tuning"
    if load_in_4bit:
        return "QLoRA (4-bit base)"
    return "LoRA (8-bit base)" if load_in_8bit else "LoRA"


def check_method(model_args: Any, training_args: Any) -> None:
    """One clear line for settings that cannot work together."""
    if (model_args.load_in_4bit or model_args.load_in_8bit) and not model_args.use_peft:
        raise IncompatibleSettings(
            "load_in_4bit/load_in_8bit (QLoRA) needs use_peft: true: a quantized base cannot be fully fine-tuned"
        )
    if model_args.load_in_4bit and model_args.load_in_8bit:
        raise IncompatibleSettings("choose one of load_in_4bit and load_in_8bit")
    targets = model_args.lora_target_modules or []
    if model_args.use_peft and any(t == "lm_head" or t.endswith(".lm_head") for t in targets):
        raise IncompatibleSettings(
            "LoRA on lm_head is not supported: the loss runs through a fused LM head; "
            "list lm_head in lora_modules_to_save to train it fully instead"
        )
    if training_args.packing and training_args.packing_strategy == "wrapped":
        raise IncompatibleSettings(
            "packing_strategy: wrapped lets packed examples attend to each other and cuts responses; use bfd"
        )
    if training_args.bf16 and training_args.fp16:
        raise IncompatibleSettings("choose one of bf16 and fp16")


def torch_dtype(model_args: Any, training_args: Any):
    """Weights dtype: the recipe's ``dtype``, but never half precision on a CPU run that asked for fp32 training."""
    import torch

    name = model_args.dtype or "float32"
    return getattr(torch, training_precision(training_args) if name == "auto" else name)


def training_precision(training_args: Any) -> str:
    """The dtype name the training computes in: bfloat16 (bf16 autocast), float16 (fp16) or float32."""
    return "bfloat16" if training_args.bf16 else "float16" if training_args.fp16 else "float32"


def quantization_config(model_args: Any, compute_dtype):
    """QLoRA: 4-bit NF4 (double quant optional). ``bnb_4bit_quant_storage`` must match the dtype the other
    weights are sharded in for DeepSpeed ZeRO-3 / FSDP (e.g. bfloat16), or sharding fails."""
    if not (model_args.load_in_4bit or model_args.load_in_8bit):
        return None
    import torch
    from transformers import BitsAndBytesConfig

    if model_args.load_in_8bit:
        return BitsAndBytesConfig(load_in_8bit=True)
    storage = model_args.bnb_4bit_quant_storage
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=model_args.bnb_4bit_quant_type,
        bnb_4bit_use_double_quant=model_args.use_bnb_nested_quant,
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_quant_storage=getattr(torch, storage) if storage else torch.uint8,
    )


def lora_config(model_args: Any, new_token_ids: list[int] | None = None, model=None):
    """LoRA from TRL's ModelConfig names.

    Tokens the template added (ChatML on a base model) need trained embedding rows in the input embeddings and the
    output head, or the model never learns to emit them. The embedding modules are trained in full and saved with
    the adapter (``modules_to_save``); a tied head stays tied to the trained copy (``ensure_weight_tying``).
    peft's row-wise trainable tokens would be smaller, but TRL 1.16's fused loss reads ``lm_head.weight``/``.bias``
    directly and does not see them.
    """
    if not model_args.use_peft:
        return None
    from peft import LoraConfig

    targets = model_args.lora_target_modules or "all-linear"
    if isinstance(targets, list) and targets == ["all-linear"]:
        targets = "all-linear"
    modules_to_save = list(model_args.lora_modules_to_save or [])
    tie = False
    if new_token_ids:
        if model is None:
            raise ValueError("lora_config needs the model to train the embeddings of new tokens")
        names = {module: name.rsplit(".", 1)[-1] for name, module in model.named_modules()}
        tie = bool(getattr(model.config.get_text_config(), "tie_word_embeddings", False))
        wanted = [names[model.get_input_embeddings()]] + ([] if tie else [names[model.get_output_embeddings()]])
        modules_to_save += [n for n in wanted if n not in modules_to_save]
    return LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=targets,
        target_parameters=model_args.lora_target_parameters,
        modules_to_save=modules_to_save or None,
        ensure_weight_tying=tie,
        task_type=model_args.lora_task_type,
        use_rslora=model_args.use_rslora,
        use_dora=model_args.use_dora,
    )
