"""Put an adapter back on its base model, and fold it into the weights.

The base is always loaded in full precision: merging into a 4-bit base rounds the LoRA update away (pitfall 8),
so a QLoRA run is merged into the unquantized base in fp32 or the recipe's dtype. When training added tokens
(ChatML on a base model), the base embeddings are first resized to the size the adapter was trained with, so the
adapter's trained rows land on the right token ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sft_recipes.export.errors import ExportError

FLOAT_DTYPES = ("float32", "bfloat16", "float16")
# Largest |logit| difference accepted between adapter-on-base and the merged model in fp32; lower precisions
# only report the difference, since bf16/fp16 rounding alone can exceed it.
MERGE_TOLERANCE_FP32 = 1e-3


@dataclass
class MergeResult:
    model: Any  # the merged transformers model
    max_abs_logit_diff: float  # merged vs adapter-on-base on a probe conversation
    dtype: str


def merge_dtype(recipe: dict[str, Any], override: str | None = None) -> str:
    """fp32 unless the recipe (or the caller) names a float dtype; never a quantized one."""
    choice = override or recipe.get("dtype")
    if choice in (None, "auto"):
        return "float32"
    if choice not in FLOAT_DTYPES:
        raise ExportError(f"cannot merge in dtype {choice!r} (expected one of {', '.join(FLOAT_DTYPES)})")
    return choice


def check_full_precision(base_path: str | Path) -> None:
    """Refuse a base stored quantized (e.g. a bnb-4bit repo): merging into it loses the adapter (pitfall 8)."""
    config_file = Path(base_path) / "config.json"
    if config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        method = (config.get("quantization_config") or {}).get("quant_method")
        if method:
            raise ExportError(
                f"base model {base_path} is stored quantized ({method}): merging needs the full-precision base; "
                "pass --base with the unquantized model"
            )


def saved_embedding_rows(adapter_dir: str | Path) -> int | None:
    """Rows of the full embedding matrix saved with the adapter (peft saves it when training resized the
    vocabulary or trained the embeddings in full); None when the adapter carries no embedding matrix."""
    from safetensors import safe_open

    with safe_open(str(Path(adapter_dir) / "adapter_model.safetensors"), framework="pt") as f:
        for key in f.keys():
            if "embed_tokens" in key and key.endswith("weight") and "lora_" not in key and "delta" not in key:
                return int(f.get_slice(key).get_shape()[0])
    return None


def adapter_vocab_size(adapter_dir: str | Path, tokenizer: Any) -> int:
    """The embedding size the adapter expects: its saved embedding matrix if it has one, else the tokenizer length."""
    return saved_embedding_rows(adapter_dir) or len(tokenizer)


def load_base_for_adapter(base_path: str | Path, tokenizer: Any, adapter_dir: str | Path, dtype: str = "float32") -> Any:
    """The base model in full precision, its embeddings resized when the run added tokens."""
    import torch
    from transformers import AutoModelForCausalLM

    check_full_precision(base_path)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(base_path), dtype=getattr(torch, dtype))
    except OSError as e:
        raise ExportError(f"cannot load base model {base_path}: {str(e).strip().splitlines()[0]}") from None
    needed = adapter_vocab_size(adapter_dir, tokenizer)
    if model.get_input_embeddings().weight.shape[0] < needed:
        # Rows the adapter does not carry would stay at their random initialisation: seed it so that two loads of
        # the same export agree.
        torch.manual_seed(0)
        model.resize_token_embeddings(needed, mean_resizing=False)
    return model


def load_adapter_model(base_path: str | Path, adapter_dir: str | Path, tokenizer: Any, dtype: str = "float32") -> Any:
    """Adapter on base, ready for inference: the reload path that eval and the export checks share."""
    from peft import PeftModel

    base = load_base_for_adapter(base_path, tokenizer, adapter_dir, dtype)
    model = PeftModel.from_pretrained(base, str(adapter_dir))
    model.eval()
    return model


def check_new_tokens_trained(tokenizer: Any, base_vocab: int, trained_ids: list[int], adapter_dir: str | Path) -> None:
    """Tokens the run added must be trained by the adapter, or the export carries random embeddings (pitfall 3)."""
    new_ids = list(range(base_vocab, len(tokenizer)))
    if not new_ids or (saved_embedding_rows(adapter_dir) or 0) >= len(tokenizer):
        return
    missing = [i for i in new_ids if i not in set(trained_ids)]
    if missing:
        names = ", ".join(tokenizer.convert_ids_to_tokens(missing[:5]))
        raise ExportError(
            f"the tokenizer has {len(missing)} token(s) the base model lacks ({names}) that the adapter does not "
            "train (no trainable_token_indices / modules_to_save for them): their embeddings would be random"
        )


def probe_ids(tokenizer: Any) -> list[int]:
    """A short conversation rendered with the run's template, so template tokens (new ones too) are exercised."""
    messages = [
        {"role": "user", "content": "Which of the two answers is right?"},
        {"role": "assistant", "content": "The second one, in part."},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def merge_adapter(
    base_path: str | Path, adapter_dir: str | Path, tokenizer: Any, dtype: str = "float32"
) -> MergeResult:
    """Fold the adapter into the full-precision base; check the merged logits against adapter-on-base."""
    import torch

    model = load_adapter_model(base_path, adapter_dir, tokenizer, dtype)
    ids = torch.tensor([probe_ids(tokenizer)])
    with torch.no_grad():
        before = model(input_ids=ids).logits.float()
        merged = model.merge_and_unload()
        after = merged(input_ids=ids).logits.float()
    diff = float((before - after).abs().max())
    if dtype == "float32" and diff > MERGE_TOLERANCE_FP32:
        raise ExportError(
            f"merge check failed: merged logits differ from adapter-on-base by {diff:.2e} "
            f"(tolerance {MERGE_TOLERANCE_FP32:.0e} in fp32)"
        )
    return MergeResult(merged, diff, dtype)
