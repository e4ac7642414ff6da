"""A recipe: the four sections one flat YAML file fills, and the resolved recipe a run directory saves."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sft_recipes.recipe.arguments import DataArguments, EvalArguments

SECTIONS = ("model", "data", "training", "eval")
# SFTConfig has ~170 fields: a saved recipe keeps those that differ from TRL's defaults plus these.
ESSENTIAL_TRAINING_KEYS = {"output_dir", "learning_rate", "num_train_epochs", "max_steps", "max_length", "seed",
                           "per_device_train_batch_size", "gradient_accumulation_steps", "packing", "bf16", "fp16"}


def section_classes() -> dict[str, type]:
    from trl import ModelConfig, SFTConfig

    return {"model": ModelConfig, "data": DataArguments, "training": SFTConfig, "eval": EvalArguments}


@dataclass
class Recipe:
    model: Any  # trl.ModelConfig
    data: DataArguments
    training: Any  # trl.SFTConfig
    eval: EvalArguments
    source: str | None = None  # the YAML file it came from
    # neither activation_checkpointing nor gradient_checkpointing set: decided per batch (train/checkpointing_policy.py)
    activation_checkpointing_auto: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe as one flat mapping (what a run directory saves as recipe.yaml)."""
        out: dict[str, Any] = {}
        for section in SECTIONS:
            obj = getattr(self, section)
            for f in dataclasses.fields(obj):
                if section == "training" and not _worth_saving(obj, f):
                    continue
                if self.activation_checkpointing_auto and f.name in AUTO_CHECKPOINTING_KEYS:
                    continue  # left unset: decided per batch again when the saved recipe is run

                out[f.name] = plain(getattr(obj, f.name))
        return out

    def to_yaml(self) -> str:
        """``to_dict`` as the YAML a run directory saves (recipe.yaml), in section order; ``load_recipe`` reads it
        back to the same recipe."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)


AUTO_CHECKPOINTING_KEYS = ("activation_checkpointing", "gradient_checkpointing")


def _worth_saving(obj: Any, f: dataclasses.Field) -> bool:
    if f.name in ESSENTIAL_TRAINING_KEYS:
        return True
    if f.name.startswith("_") or f.name in {"hub_token", "local_rank"}:
        return False
    default = f.default if f.default is not dataclasses.MISSING else None
    return plain(getattr(obj, f.name)) != plain(default)


def plain(value: Any) -> Any:
    """A value as YAML can hold it: dataclasses and enums unpacked."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "value") and type(value).__module__ != "builtins":  # enums
        return value.value
    return value
