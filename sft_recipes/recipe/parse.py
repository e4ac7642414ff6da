"""One flat YAML recipe (and ``--key value`` overrides) -> the four sections, the TRL way.

    model:    trl.ModelConfig   (model_name_or_path, use_peft, lora_r, load_in_4bit, ... TRL's own names)
    data:     DataArguments     (datasets, formats, cleaning, splitting, template, what is trained)
    training: trl.SFTConfig     (TRL's own training arguments, passed straight through)
    eval:     EvalArguments     (generation and judging settings)

Values of TRL's sections are typed by the stack's own parser, ``transformers.HfArgumentParser`` (what ``trl sft``
uses): the same conversions, choices and booleans whether a value comes from the YAML file or the command line.
Our two sections are plain typed dataclasses, checked against their resolved type hints. On top of that: every
problem of a recipe at once, one line each, an unknown key with the closest valid one suggested.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from sft_recipes import SFTRecipesError, one_line
from sft_recipes.recipe.aliases import translate_keys
from sft_recipes.recipe.arguments import RecipeError, _suggest, unknown_value
from sft_recipes.recipe.recipe import SECTIONS, Recipe, section_classes


def read_yaml_mapping(path: str | Path, error: type[SFTRecipesError] = RecipeError) -> dict[str, Any]:
    """A YAML file holding one mapping (empty file: {}); errors name the file and line."""
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise error(f"not valid YAML at {where}: {getattr(e, 'problem', e)}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise error(f"{path} must be a mapping of keys to values")
    return loaded


def load_recipe(path: str | Path | None = None, overrides: list[str] | None = None, **values: Any) -> Recipe:
    """Read a recipe YAML (or none: all defaults), apply ``--key value`` overrides and keyword values."""
    from sft_recipes.recipe.checks import validate_recipe
    from sft_recipes.recipe.gpu_defaults import apply_gpu_defaults
    from sft_recipes.recipe.hardware import apply_cpu_lora_bf16_weights, apply_hardware_defaults, unavailable_features

    raw = _read_recipe_file(Path(path)) if path is not None else {}
    given, notes, alias_errors, from_cli = {}, [], [], set()
    for source in (raw, split_overrides(overrides or []), values):  # later sources win, each read on its own
        translated, source_notes, source_errors = translate_keys(source)
        if source is not raw and source is not values:
            from_cli = set(translated)
        given.update(translated)
        notes += source_notes
        alias_errors += source_errors
    per_section, errors = _sort_into_sections(given, from_cli=from_cli - set(values))
    errors = alias_errors + errors
    if errors:
        raise RecipeError("\n".join(errors) if len(errors) > 1 else errors[0])
    training = per_section["training"]
    training.setdefault("output_dir", "runs/" + (Path(path).stem if path else "recipe"))
    checkpointing_auto = "activation_checkpointing" not in training and "gradient_checkpointing" not in training
    _use_current_checkpointing_names(training)
    notes += apply_hardware_defaults(training)
    apply_gpu_defaults(per_section["model"], training)
    apply_cpu_lora_bf16_weights(per_section["model"], training)
    notes += unavailable_features(per_section["model"], training)
    classes = section_classes()
    built = {}
    for section in SECTIONS:
        try:
            built[section] = classes[section](**per_section[section])
        except (ValueError, TypeError) as e:
            if isinstance(e, SFTRecipesError):
                raise
            raise RecipeError(f"invalid {section} settings: {one_line(e)}") from None
    recipe = Recipe(**built, source=str(path) if path else None, activation_checkpointing_auto=checkpointing_auto)
    validate_recipe(recipe)
    show_notes(notes)
    return recipe


def _use_current_checkpointing_names(training: dict[str, Any]) -> None:
    """transformers 5 renamed ``gradient_checkpointing[_kwargs]`` to ``activation_checkpointing[_kwargs]`` and warns
    when only the old name is set, which TRL's default (``gradient_checkpointing=True``) always is: pass the new names
    (a recipe may still use either)."""
    for old, new, default in (("gradient_checkpointing", "activation_checkpointing", True),
                              ("gradient_checkpointing_kwargs", "activation_checkpointing_kwargs", None)):
        value = training.pop(old, default)
        if value is not None:
            training.setdefault(new, value)


def show_notes(notes: list[str]) -> None:
    """What a recipe key from TRL or the handbook does here, when that is not what the key alone says."""
    import sys

    for note in dict.fromkeys(notes):
        print(f"[sft-recipes] note: {note}", file=sys.stderr)


def _read_recipe_file(path: Path) -> dict[str, Any]:
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        inside = f"recipes in it: {', '.join(found)}" if found else "it holds no .yaml recipes"
        raise RecipeError(f"--config {path} is a directory, not a recipe file ({inside})")
    if not path.is_file():
        raise RecipeError(f"recipe file not found: {path}")
    raw = read_yaml_mapping(path, RecipeError)
    if not raw:
        raise RecipeError(f"{path} is empty: a recipe sets at least one key "
                          "(to run every default, leave out --config)")
    return raw


def _sort_into_sections(given: dict[str, Any], from_cli: set[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every key into its section with a typed value; the problems, all of them, one line each."""
    index = field_index()
    per_section: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    errors = []
    for key, value in given.items():
        if key not in index:
            errors.append(f"unknown recipe key {key!r}{_suggest(key, index)}")
            continue
        section, hint = index[key]
        if key == "bf16" and value == "auto":
            per_section[section][key] = value  # resolved from the machine (hardware.py)
            continue
        try:
            if section in ("model", "training"):
                per_section[section][key] = _typed_by_stack(key, value, from_text=key in from_cli)
            else:
                per_section[section][key] = _typed(key, value, hint, from_text=key in from_cli)
                choices = choices_of(key)
                if choices and per_section[section][key] not in choices:
                    raise RecipeError(unknown_value(key, per_section[section][key], choices))
        except RecipeError as e:
            errors.append(str(e))
    return per_section, errors


@lru_cache(maxsize=1)
def field_index() -> dict[str, tuple[str, Any]]:
    """Recipe key -> (section, resolved type hint); TRL's ModelConfig and SFTConfig share no key with ours."""
    index: dict[str, tuple[str, Any]] = {}
    for section, cls in section_classes().items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.init and not f.name.startswith("_"):
                index.setdefault(f.name, (section, hints.get(f.name, Any)))
    return index


def split_overrides(argv: list[str]) -> dict[str, Any]:
    """``--key value`` / ``--key=value`` / a bare ``--flag`` -> {key: text} (typed later, per section)."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise RecipeError(f"unexpected argument {arg!r} (overrides look like --key value)")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        if not eq:
            values = []
            while i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                values.append(argv[i + 1])
                i += 1
            value = values[0] if len(values) == 1 else values if values else True  # a bare --flag means true
        out[key] = value
        i += 1
    return out


# --- TRL's sections: typed by HfArgumentParser ------------------------------------------------------------------


@lru_cache(maxsize=1)
def _stack_parser() -> argparse.ArgumentParser:
    from transformers import HfArgumentParser

    class RecipeArgumentParser(HfArgumentParser):
        """argparse reports a bad value by exiting; here it becomes the recipe error for that key."""

        def error(self, message: str):  # argparse's documented hook for parse errors
            raise RecipeError(message)

    sections = section_classes()
    return RecipeArgumentParser([sections["model"], sections["training"]])


def _typed_by_stack(key: str, value: Any, from_text: bool) -> Any:
    """A value for a TRL field, converted exactly as ``trl sft --key value`` would convert it."""
    if value is None or isinstance(value, dict):
        return value  # unset, or a mapping (model_init_kwargs, ...): TRL's own __post_init__ reads it
    if value == []:
        return []  # an empty list (a run's saved recipe.yaml holds `include_for_metrics: []`): argparse wants words
    if key == "report_to" and isinstance(value, list):
        return [str(v) for v in value]  # a list of trackers (TrainingArguments takes str or list[str])
    if from_text and isinstance(value, str) and len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]  # --save_strategy '"no"': quoted so that YAML would not read a boolean
    if value is False and not from_text and _is_text_choice(key):
        value = "no"  # YAML 1.1 reads an unquoted `eval_strategy: no` as false
    words = value if isinstance(value, list) else [value]
    argv = [f"--{key}", *(_as_text(w) for w in words)]
    if value is True and not from_text and _is_flag(key):
        argv = [f"--{key}"]
    try:
        parsed, rest = _stack_parser().parse_known_args(argv)
    except RecipeError as e:
        choices = choices_of(key)
        if choices and "invalid choice" in str(e):
            raise RecipeError(unknown_value(key, value, choices)) from None
        raise RecipeError(f"recipe key {key!r}: {str(e).split(': ', 1)[-1]}") from None
    if rest:
        raise RecipeError(f"recipe key {key!r} takes one value, got {value!r}")
    return getattr(parsed, key)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _action(key: str):
    return next((a for a in _stack_parser()._actions if a.dest == key), None)


def _is_flag(key: str) -> bool:
    action = _action(key)
    return action is not None and action.nargs == "?" and action.const is True


def _is_text_choice(key: str) -> bool:
    action = _action(key)
    return action is not None and action.choices is not None and "no" in [str(c) for c in action.choices]


# --- our own sections: checked against their type hints ---------------------------------------------------------


def _typed(key: str, value: Any, hint: Any, from_text: bool) -> Any:
    """Check a value against a field's type; convert the lossless cases (int -> float, text from the command line
    -> its YAML meaning)."""
    if value is None:
        return None
    allowed = _allowed_types(hint)
    if from_text and isinstance(value, str) and allowed != {str}:
        value = yaml.safe_load(value) if value != "" else ""
    if not allowed:
        return value
    if bool in allowed and isinstance(value, bool):
        return value
    if isinstance(value, str) and (float in allowed or int in allowed) and str not in allowed:
        value = _number(value)  # YAML 1.1 reads `1e-4` as a string
    if float in allowed and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if int not in allowed or isinstance(value, float) else value
    if int in allowed and isinstance(value, int) and not isinstance(value, bool):
        return value
    if str in allowed and isinstance(value, str):
        return value
    if list in allowed and isinstance(value, (list, str, dict)):
        return value if isinstance(value, list) else [value]
    if dict in allowed and isinstance(value, dict):
        return value
    return _wrong(key, value, allowed)


def _wrong(key: str, value: Any, allowed: set[type]):
    names = " or ".join(sorted(t.__name__ for t in allowed))
    raise RecipeError(f"recipe key {key!r} expects {names}, got {type(value).__name__} {value!r}")


def _number(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _allowed_types(tp: Any) -> set[type]:
    import types

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        out: set[type] = set()
        for a in typing.get_args(tp):
            if a is type(None):
                continue
            sub = _allowed_types(a)
            if not sub:
                return set()
            out |= sub
        return out
    if origin in (list, tuple):
        return {list}
    if origin is dict:
        return {dict}
    if tp in (bool, int, float, str, list, dict):
        return {tp}
    return set()  # Any and the like: not checked here


def choices_of(key: str) -> list[str]:
    """The values a recipe key accepts, when it has a fixed set (for messages)."""
    action = _action(key)
    if action is not None and action.choices:
        return [str(c) for c in action.choices]
    section, _ = field_index().get(key, (None, None))
    if section in ("data", "eval"):
        f = {f.name: f for f in dataclasses.fields(section_classes()[section])}[key]
        return [str(c) for c in f.metadata.get("choices", ())]
    return []


__all__ = ["load_recipe", "read_yaml_mapping", "split_overrides", "field_index", "choices_of", "unknown_value"]
