"""Recipes: one flat YAML file -> four dataclasses, the TRL way.

    model:    trl.ModelConfig   (model_name_or_path, use_peft, lora_r, load_in_4bit, ... TRL's own names)
    data:     DataArguments     (datasets, formats, cleaning, splitting, template, what is trained)
    training: trl.SFTConfig     (TRL's own training arguments, passed straight through)
    eval:     EvalArguments     (generation and judging settings)

Command-line flags (``--key value``) override the YAML. Unknown keys are rejected with the closest valid key
suggested; values of the wrong type are rejected with the key named.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sft_recipes import SFTRecipesError

EMBEDDED_COURT_DATA = "embedded:court-opinions"
EMBEDDED_COURT_HELDOUT_STYLE = "embedded:court-opinions-heldout-style"
TRAIN_ON = ("assistant", "all", "last_assistant")
LENGTH_POLICIES = ("drop", "truncate", "error")
FORMATS = ("auto", "alpaca", "sharegpt", "messages", "prompt_completion", "text", "court_opinions")


class RecipeError(SFTRecipesError):
    pass


@dataclass
class DatasetSpec:
    """One entry of ``datasets:`` in a recipe."""

    path: str  # local file (.json/.jsonl/.csv/.parquet), saved dataset dir, Hub name, or "embedded:court-opinions"
    format: str = "auto"  # one of FORMATS; "auto" detects from the columns
    split: str = "train"  # split to read from a Hub / saved DatasetDict
    name: str | None = None  # Hub dataset config name
    weight: float = 1.0  # mixing weight: 2.0 repeats every row twice, 0.5 keeps a seeded half
    columns: dict[str, str] = field(default_factory=dict)  # our field -> the file's field, e.g. {output: answer}
    system_prompt: str | None = None  # system message for rows that have none (this dataset only)
    max_samples: int | None = None  # read at most this many rows (seeded sample)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise RecipeError(f"dataset {self.path!r}: unknown format {self.format!r}{_suggest(self.format, FORMATS)}")
        if self.weight <= 0:
            raise RecipeError(f"dataset {self.path!r}: weight must be > 0, got {self.weight}")


@dataclass
class DataArguments:
    datasets: list[dict] = field(
        default_factory=lambda: [{"path": EMBEDDED_COURT_DATA}],
        metadata={"help": "datasets to read and mix; each: path, format, split, name, weight, columns, system_prompt"},
    )
    system_prompt: str | None = field(default=None, metadata={"help": "system message for rows that have none"})
    legal_system_prompt: str | None = field(
        default=None, metadata={"help": "system prompt for court-opinion instructions (default: built in)"}
    )
    court_tasks: list[str] | None = field(
        default=None, metadata={"help": "court-opinion instruction types to build (default: the six; +statutes)"}
    )
    synthetic_opinions: int = field(default=400, metadata={"help": "size of the embedded synthetic court corpus"})
    synthetic_seed: int = field(default=1234, metadata={"help": "seed of the embedded synthetic court corpus"})
    synthetic_heldout_opinions: int = field(
        default=24, metadata={"help": f"size of {EMBEDDED_COURT_HELDOUT_STYLE} (writing styles never trained on)"}
    )
    synthetic_max_words: int | None = field(
        default=None, metadata={"help": "cap on the length of synthetic opinions, in words (default: up to ~2,400)"}
    )
    chat_template: str = field(
        default="auto",
        metadata={"help": "auto (the tokenizer's own) | chatml | alpaca | path to a .jinja file"},
    )
    train_on: str = field(
        default="assistant", metadata={"help": "assistant (every assistant turn) | all | last_assistant"}
    )
    length_policy: str = field(
        default="drop", metadata={"help": "rows longer than max_length: drop | truncate (the response) | error"}
    )
    min_response_tokens: int = field(default=1, metadata={"help": "drop rows whose responses have fewer tokens"})
    dedupe: bool = field(default=True, metadata={"help": "drop exact duplicates (normalised content)"})
    group_turns: bool = field(
        default=False,
        metadata={"help": "train/validation: join the single-turn rows of one group (one document's questions) "
                          "into one multi-turn conversation, so the shared document is read once"},
    )
    validation_size: float = field(default=0.1, metadata={"help": "fraction of rows held out for validation"})
    test_size: float = field(default=0.05, metadata={"help": "fraction of rows held out for test"})
    prepared_dir: str | None = field(
        default=None, metadata={"help": "where prepare writes (default: <output_dir>/data)"}
    )

    def __post_init__(self) -> None:
        if self.train_on not in TRAIN_ON:
            raise RecipeError(f"train_on: unknown value {self.train_on!r}{_suggest(self.train_on, TRAIN_ON)}")
        if self.length_policy not in LENGTH_POLICIES:
            raise RecipeError(
                f"length_policy: unknown value {self.length_policy!r}{_suggest(self.length_policy, LENGTH_POLICIES)}"
            )
        if not 0 <= self.validation_size < 1 or not 0 <= self.test_size < 1:
            raise RecipeError("validation_size and test_size are fractions in [0, 1)")
        if self.validation_size + self.test_size >= 1:
            raise RecipeError("validation_size + test_size must leave rows for training (< 1)")
        self.dataset_specs = [DatasetSpec(**_check_spec(d)) for d in self.datasets]


def _check_spec(entry: Any, key: str = "datasets") -> dict:
    if isinstance(entry, str):
        return {"path": entry}
    if not isinstance(entry, dict) or "path" not in entry:
        raise RecipeError(f"{key}: each entry needs a 'path', got {entry!r}")
    known = [f.name for f in dataclasses.fields(DatasetSpec)]
    for name in entry:
        if name not in known:
            raise RecipeError(f"{key}: unknown key {name!r}{_suggest(name, known)}")
    return entry


@dataclass
class EvalArguments:
    eval_max_new_tokens: int = field(default=256, metadata={"help": "generation budget per answer"})
    eval_batch_size: int = field(default=8, metadata={"help": "prompts per generation batch"})
    eval_num_samples: int | None = field(default=None, metadata={"help": "evaluate at most this many test rows"})
    eval_heldout_samples: int | None = field(
        default=None, metadata={"help": "test rows for the held-out loss (default: eval_num_samples)"}
    )
    eval_do_sample: bool = field(default=False, metadata={"help": "sample instead of greedy decoding"})
    eval_test_data: list[Any] = field(
        default_factory=list,
        metadata={"help": "more test sets evaluated after the test split, each a dataset entry (path, format, ...) "
                          "read through the same converters as training data"},
    )
    eval_temperature: float = field(default=0.7, metadata={"help": "sampling temperature (with eval_do_sample)"})
    judge_base_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible judge server URL"})
    judge_model: str | None = field(default=None, metadata={"help": "judge model name (server) or path (local)"})
    judge_api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "env variable holding the key"})

    def __post_init__(self) -> None:
        self.test_data_specs = [DatasetSpec(**_check_spec(d, "eval_test_data")) for d in self.eval_test_data]


SECTIONS = ("model", "data", "training", "eval")
CPU_TOKENS_WITHOUT_CHECKPOINTING = 4096  # batch size x max_length above which CPU runs recompute activations


@dataclass
class Recipe:
    model: Any  # trl.ModelConfig
    data: DataArguments
    training: Any  # trl.SFTConfig
    eval: EvalArguments
    source: str | None = None  # the YAML file it came from

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe as one flat mapping (what a run directory saves as recipe.yaml)."""
        out: dict[str, Any] = {}
        for section in SECTIONS:
            obj = getattr(self, section)
            for f in dataclasses.fields(obj):
                if section == "training" and not _training_field_worth_saving(obj, f):
                    continue
                out[f.name] = _plain(getattr(obj, f.name))
        return out


def _training_field_worth_saving(obj: Any, f: dataclasses.Field) -> bool:
    """SFTConfig has ~170 fields; keep the ones that differ from TRL's defaults plus the essentials."""
    essentials = {"output_dir", "learning_rate", "num_train_epochs", "max_steps", "max_length", "seed",
                  "per_device_train_batch_size", "gradient_accumulation_steps", "packing", "bf16", "fp16"}
    if f.name in essentials:
        return True
    if f.name.startswith("_") or f.name in {"hub_token", "local_rank"}:
        return False
    default = f.default if f.default is not dataclasses.MISSING else None
    return _plain(getattr(obj, f.name)) != _plain(default)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and type(value).__module__ != "builtins":  # enums
        return value.value
    return value


def section_classes() -> dict[str, type]:
    from trl import ModelConfig, SFTConfig

    return {"model": ModelConfig, "data": DataArguments, "training": SFTConfig, "eval": EvalArguments}


def _field_index() -> dict[str, tuple[str, dataclasses.Field]]:
    index: dict[str, tuple[str, dataclasses.Field]] = {}
    for section, cls in section_classes().items():
        for f in dataclasses.fields(cls):
            if f.init and not f.name.startswith("_"):
                index.setdefault(f.name, (section, f))
    return index


# Set by launchers, never written in a recipe: not worth suggesting.
_NOT_SUGGESTED = {"local_rank", "hub_token", "deepspeed", "debug", "fsdp"}


def _suggest(key: str, candidates) -> str:
    close = difflib.get_close_matches(key, [c for c in candidates if c not in _NOT_SUGGESTED], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
    raw: dict[str, Any] = {}
    if path is not None:
        if not Path(path).is_file():
            raise RecipeError(f"recipe file not found: {path}")
        raw.update(read_yaml_mapping(path, RecipeError))
    index = _field_index()
    raw.update(_parse_overrides(overrides or [], index))
    raw.update(values)

    per_section: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for key, value in raw.items():
        if key not in index:
            raise RecipeError(f"unknown recipe key {key!r}{_suggest(key, index)}")
        section, f = index[key]
        per_section[section][key] = _coerce(key, value, f)

    classes = section_classes()
    training = per_section["training"]
    training.setdefault("output_dir", "runs/" + (Path(path).stem if path else "recipe"))
    _apply_hardware_defaults(training)
    built = {}
    for section in SECTIONS:
        try:
            built[section] = classes[section](**per_section[section])
        except (ValueError, TypeError) as e:
            if isinstance(e, SFTRecipesError):
                raise
            raise RecipeError(f"invalid {section} settings: {_one_line(e)}") from None
    return Recipe(**built, source=str(path) if path else None)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def _apply_hardware_defaults(training: dict[str, Any]) -> None:
    """TRL 1.16 turns bf16 on by default, which fails on a CPU: pick precision from the device unless set."""
    import torch

    has_accelerator = torch.cuda.is_available() or (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    )
    if not has_accelerator:
        # Without use_cpu, transformers sets up a non-distributed state on a CPU-only machine, so every rank of a
        # torchrun job would believe it is the main process.
        training.setdefault("use_cpu", True)
    if "bf16" not in training and "fp16" not in training:
        training["bf16"] = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    training.setdefault("report_to", "none")
    training.setdefault("logging_steps", 1)
    # On CPU, recomputing activations costs about a third more time; only batches of many tokens need the memory
    # (a batch of 8 x 900 tokens of a 135M model takes 18 GB without it). TRL's own default is on.
    if not torch.cuda.is_available() and "activation_checkpointing" not in training \
            and "gradient_checkpointing" not in training:
        max_length = training.get("max_length", 1024) or 1024
        tokens_per_batch = training.get("per_device_train_batch_size", 8) * max_length
        training["activation_checkpointing"] = tokens_per_batch > CPU_TOKENS_WITHOUT_CHECKPOINTING


def _parse_overrides(argv: list[str], index: dict[str, tuple[str, dataclasses.Field]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise RecipeError(f"unexpected argument {arg!r} (overrides look like --key value)")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        if not eq:
            f = index.get(key, (None, None))[1]
            is_flag = f is not None and _base_type(f.type) is bool
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value, i = argv[i + 1], i + 1
            elif is_flag:
                value = "true"
            else:
                raise RecipeError(f"--{key} needs a value")
        parsed = yaml.safe_load(value) if value != "" else ""
        f = index.get(key, (None, None))[1]
        if f is not None and isinstance(parsed, bool) and _allowed_types(_resolve_type(f.type)) == {str}:
            parsed = value  # YAML 1.1 reads `no` as false; --save_strategy no means the string
        out[key] = parsed
        i += 1
    return out


def _resolve_type(tp: Any) -> Any:
    if isinstance(tp, str):
        try:
            return eval(tp, vars(typing) | {"Any": Any})  # postponed annotations in our own dataclasses
        except Exception:
            return Any
    return tp


def _base_type(tp: Any) -> Any:
    tp = _resolve_type(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else tp
    return tp


def _coerce(key: str, value: Any, f: dataclasses.Field) -> Any:
    """Check a YAML value against the field's type; convert the lossless cases (int -> float, str -> enum)."""
    tp = _resolve_type(f.type)
    if value is None:
        return None
    allowed = _allowed_types(tp)
    if not allowed:
        return value
    if bool in allowed and isinstance(value, bool):
        return value
    if value is False and allowed == {str}:
        return "no"  # YAML 1.1 reads an unquoted `eval_strategy: no` as false
    if isinstance(value, str) and (float in allowed or int in allowed) and str not in allowed:
        value = _number(value)  # YAML 1.1 reads `1e-4` as a string
    if float in allowed and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if int not in allowed or isinstance(value, float) else value
    if int in allowed and isinstance(value, int) and not isinstance(value, bool):
        return value
    if str in allowed and isinstance(value, str):
        return value
    if list in allowed and isinstance(value, list):
        return value
    if list in allowed and isinstance(value, str):
        return [value]
    if dict in allowed and isinstance(value, dict):
        return value
    if str in allowed and isinstance(value, (int, float)) and not isinstance(value, bool) and dict in allowed:
        return value
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
    if origin in (list, tuple, typing.List):
        return {list}
    if origin in (dict, typing.Dict):
        return {dict}
    if tp in (bool, int, float, str, list, dict):
        return {tp}
    if isinstance(tp, type) and issubclass(tp, str):  # str enums
        return {str}
    return set()  # anything else (Any, callables, literals): not checked here
