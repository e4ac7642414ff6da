"""Load a model for inference: a base model, a PEFT adapter run (merged in memory, or a QLoRA run on its own 4-bit
base), or a merged export; always with the tokenizer the run trained with."""

from __future__ import annotations

import json
from pathlib import Path

from sft_recipes.inference.generate import GenerationError


def _has_tokenizer(directory: Path) -> bool:
    return (directory / "tokenizer_config.json").is_file() or (directory / "tokenizer.json").is_file()


def load_inference_tokenizer(model_path_or_run_dir: str | None):
    """The tokenizer generation should use: a run's own (its chat template and added tokens), else the base's."""
    from sft_recipes.inference.models import load_tokenizer

    path = Path(model_path_or_run_dir) if model_path_or_run_dir else None
    if path is not None and (path / "adapter_config.json").is_file() and not _has_tokenizer(path):
        return load_tokenizer(adapter_base(path))
    return load_tokenizer(model_path_or_run_dir)


def adapter_base(run_dir: Path) -> str | None:
    """``base_model_name_or_path`` of a PEFT adapter directory (may be "embedded" or a Hub id)."""
    adapter_config = run_dir / "adapter_config.json"
    try:
        return json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except json.JSONDecodeError as e:
        raise GenerationError(f"{adapter_config} is not valid JSON: {e.msg} (line {e.lineno})") from None


def load_for_inference(model_path_or_run_dir: str | None, dtype=None, merge: bool = True):
    """(model, tokenizer) ready for ``generate``, from a base model, a PEFT adapter run dir, or a merged model.

    An adapter's base is read from ``adapter_config.json`` and resolved like any recipe model (so
    "embedded" or a ``.gguf`` base works, which peft's own auto-loading cannot resolve); the run's own
    tokenizer is preferred, since it carries the chat template and any tokens added in training (the base
    embeddings are grown to match before the adapter loads). A QLoRA run is reloaded on the same 4-bit base it
    trained on, so it reproduces the trained model; other adapters are merged in memory (``merge``), which makes
    generation as fast as the base model's.
    """
    import torch
    import yaml

    from sft_recipes.export.merge import load_adapter_model
    from sft_recipes.inference.models import load_model, resolve_model

    dtype = dtype or torch.float32
    tokenizer = load_inference_tokenizer(model_path_or_run_dir)
    path = Path(model_path_or_run_dir) if model_path_or_run_dir else None
    if path is None or not (path / "adapter_config.json").is_file():
        model = load_model(model_path_or_run_dir, dtype=dtype)
        model.eval()
        return model, tokenizer

    recipe = yaml.safe_load((path / "recipe.yaml").read_text()) if (path / "recipe.yaml").is_file() else {}
    base_name = recipe.get("model_name_or_path") or adapter_base(path)
    if recipe.get("load_in_4bit") or recipe.get("load_in_8bit"):
        from peft import PeftModel
        from trl import ModelConfig

        from sft_recipes.train.methods import quantization_config

        model_args = ModelConfig(**{k: v for k, v in recipe.items() if k in ModelConfig.__dataclass_fields__})
        if model_args.dtype not in (None, "auto"):
            dtype = getattr(torch, model_args.dtype)  # the compute dtype the adapters were trained in
        base = load_model(base_name, dtype=dtype, quantization_config=quantization_config(model_args, dtype))
        if len(tokenizer) > base.get_input_embeddings().num_embeddings:
            base.resize_token_embeddings(len(tokenizer))
        model = PeftModel.from_pretrained(base, str(path))
        for name, param in model.named_parameters():
            if "lora_" in name:  # adapters run in the compute dtype they were trained in (see train.build_trainer)
                param.data = param.data.to(dtype)
        model.eval()
        return model, tokenizer
    model = load_adapter_model(resolve_model(base_name).path, path, tokenizer, dtype=str(dtype).replace("torch.", ""))
    if merge:
        model = model.merge_and_unload()
    model.eval()
    return model, tokenizer
