"""Recipes: one flat YAML file (plus ``--key value`` overrides) -> model, data, training and eval settings.

    arguments.py  our own sections: DataArguments (+ DatasetSpec), EvalArguments, their allowed values
    recipe.py     the Recipe (TRL's ModelConfig and SFTConfig beside ours) and what a run saves of it
    parse.py      YAML and the command line -> typed sections (TRL's through transformers' HfArgumentParser)
    aliases.py    keys of `trl sft` and alignment-handbook configs -> ours, or refused naming ours (data_aliases.py:
                  dataset_name / dataset_mixture / dataset_mixer -> datasets entries)
    trackers.py   report_to: each tracker's package importable, checked at load
    hardware.py   defaults that follow the machine (precision, CPU processes)
    gpu_defaults.py  CUDA defaults for unset keys: padding-free + flash attention, Liger, bf16 base weights for LoRA
    checks.py     value ranges, checked before any data or model work
"""

from sft_recipes.recipe.arguments import (
    EMBEDDED_COURT_DATA,
    EMBEDDED_COURT_HELDOUT_STYLE,
    FORMATS,
    LENGTH_POLICIES,
    MULTI_TURN,
    SYSTEM_MESSAGE,
    TRAIN_ON,
    DataArguments,
    DatasetSpec,
    EvalArguments,
    RecipeError,
    unknown_value,
    valid_values,
)
from sft_recipes.recipe.parse import load_recipe, read_yaml_mapping
from sft_recipes.recipe.recipe import SECTIONS, Recipe, section_classes

__all__ = [
    "EMBEDDED_COURT_DATA", "EMBEDDED_COURT_HELDOUT_STYLE", "FORMATS", "LENGTH_POLICIES", "MULTI_TURN", "SYSTEM_MESSAGE", "TRAIN_ON", "SECTIONS",
    "DataArguments", "DatasetSpec", "EvalArguments", "Recipe", "RecipeError", "load_recipe", "read_yaml_mapping",
    "section_classes", "unknown_value", "valid_values",
]
