"""Value checks on a loaded recipe, run before any data is read or any model is loaded.

Types and enum values are checked while the YAML is read (parse.py), and transformers checks a few ranges itself
(warmup_steps, logging_steps); this module checks the other ranges: counts that must be positive, fractions, rates.
TRL and transformers accept many nonsensical values silently (``max_steps: -5`` trains the default epochs,
``lora_r: 0`` fails only inside peft after the data is prepared and the model loaded); here each one is one line
naming the key, the value and what is allowed.
"""

from __future__ import annotations

from typing import Any, Callable

from sft_recipes.recipe.arguments import RecipeError
from sft_recipes.recipe.recipe import Recipe
from sft_recipes.recipe.trackers import missing_trackers

Rule = tuple[str, Callable[[Any], bool], str]  # key, accepts(value), what is allowed

MODEL_RULES: list[Rule] = [
    ("lora_r", lambda v: v >= 1, "must be >= 1"),
    ("lora_alpha", lambda v: v > 0, "must be > 0"),
    ("lora_dropout", lambda v: 0 <= v < 1, "must be in [0, 1)"),
]
TRAINING_RULES: list[Rule] = [
    ("max_steps", lambda v: v == -1 or v >= 1,
     "must be a positive number of steps, or -1 to train num_train_epochs;"),
    ("learning_rate", lambda v: v > 0, "must be > 0"),
    ("per_device_train_batch_size", lambda v: v >= 1, "must be >= 1"),
    ("per_device_eval_batch_size", lambda v: v >= 1, "must be >= 1"),
    ("gradient_accumulation_steps", lambda v: v >= 1, "must be >= 1"),
    ("max_length", lambda v: v is None or v >= 1, "must be >= 1 (or null for no limit)"),
    ("weight_decay", lambda v: v >= 0, "must be >= 0"),
    ("max_grad_norm", lambda v: v >= 0, "must be >= 0"),
    ("save_steps", lambda v: v > 0, "must be > 0"),
    ("eval_steps", lambda v: v is None or v > 0, "must be > 0"),
    ("save_total_limit", lambda v: v is None or v >= 1, "must be >= 1 (or null to keep every checkpoint)"),
    ("seed", lambda v: v >= 0, "must be >= 0"),
]
DATA_RULES: list[Rule] = [
    ("validation_size", lambda v: 0 <= v < 1 or (v >= 1 and float(v).is_integer()),
     "must be a fraction in [0, 1) or a whole number of rows"),
    ("test_size", lambda v: 0 <= v < 1, "must be a fraction in [0, 1)"),
    ("min_response_tokens", lambda v: v >= 0, "must be >= 0"),
    ("synthetic_opinions", lambda v: v >= 1, "must be >= 1"),
]
EVAL_RULES: list[Rule] = [
    ("eval_max_new_tokens", lambda v: v >= 1, "must be >= 1"),
    ("eval_batch_size", lambda v: v >= 1, "must be >= 1"),
    ("eval_num_samples", lambda v: v is None or v >= 1, "must be >= 1 (or null for all)"),
    ("eval_heldout_samples", lambda v: v is None or v >= 1, "must be >= 1 (or null for all)"),
]


def validate_recipe(recipe: Recipe) -> None:
    """Raise RecipeError for the values out of range: one line each, all of them at once."""
    errors: list[str] = []
    for section, rules in (("model", MODEL_RULES), ("training", TRAINING_RULES), ("data", DATA_RULES),
                           ("eval", EVAL_RULES)):
        errors += _apply(getattr(recipe, section), rules)
    training, data, evaluation = recipe.training, recipe.data, recipe.eval
    if evaluation.eval_do_sample and not evaluation.eval_temperature > 0:
        errors.append(f"eval_temperature must be > 0 when eval_do_sample is on, got "
                      f"{_show(evaluation.eval_temperature)}")
    if training.max_steps == -1 and not training.num_train_epochs > 0:
        errors.append(f"num_train_epochs must be > 0 (or set max_steps), got {_show(training.num_train_epochs)}")
    fractions_ok = 0 <= data.validation_size < 1 and 0 <= data.test_size < 1  # a number of rows: checked on the data
    if fractions_ok and data.validation_size + data.test_size >= 1:
        errors.append(f"validation_size + test_size must leave rows for training (< 1), got "
                      f"{_show(data.validation_size)} + {_show(data.test_size)}")
    errors += missing_trackers(training.report_to)
    for spec in data.dataset_specs:
        if spec.max_samples is not None and spec.max_samples < 1:
            errors.append(f"dataset {spec.path!r}: max_samples must be >= 1, got {spec.max_samples}")
    if errors:
        raise RecipeError("\n".join(errors))


def _apply(section: Any, rules: list[Rule]) -> list[str]:
    errors = []
    for key, accepts, allowed in rules:
        if not hasattr(section, key):
            continue
        value = getattr(section, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # null (where allowed) or a type parse.py already checked
        if not accepts(value):
            separator = " " if allowed.endswith(";") else ", "
            errors.append(f"{key} {allowed}{separator}got {_show(value)}")
    return errors


def _show(value: Any) -> str:
    """1e-4 as 0.0001 and 2.0 as 2: the number as a person would write it."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
