"""The recipe sections that are sft-recipes' own: data (``DataArguments``, with one ``DatasetSpec`` per dataset) and
evaluation (``EvalArguments``); the model and training sections are TRL's ``ModelConfig`` and ``SFTConfig``."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any

from sft_recipes import SFTRecipesError
from sft_recipes.tasks.court_opinions.arguments import EMBEDDED_COURT_DATA, EMBEDDED_COURT_HELDOUT_STYLE  # noqa: F401
from sft_recipes.tasks.court_opinions.arguments import CourtOpinionArguments

TRAIN_ON = ("assistant", "all", "last_assistant")
LENGTH_POLICIES = ("drop", "truncate", "error")
MULTI_TURN = ("auto", "whole", "per_turn")
GROUP_TURNS = (False, True, "branches")
SYSTEM_MESSAGE = ("auto", "merge", "reject")
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
    # our field -> the file's field, e.g. {output: answer}; or a list of the file's columns to keep (as TRL and the
    # alignment-handbook write it: [messages]), the others dropped before the format is detected
    columns: dict[str, str] | list[str] = field(default_factory=dict)
    system_prompt: str | None = None  # system message for rows that have none (this dataset only)
    max_samples: int | None = None  # read at most this many rows (seeded sample)
    tools: list | str | None = None  # tool JSON schemas (or a .json file of them) for rows that have none
    # rows only ever train (practice or augmentation data): never in the validation or test split, and the split of
    # the other datasets is the same with or without them
    train_only: bool = False

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise RecipeError(
                f"dataset {self.path!r}: unknown format {self.format!r} {valid_values(self.format, FORMATS)}"
            )
        if self.weight <= 0:
            raise RecipeError(f"dataset {self.path!r}: weight must be > 0, got {self.weight}")
        if isinstance(self.columns, list):
            if not all(isinstance(c, str) for c in self.columns):
                raise RecipeError(f"dataset {self.path!r}: columns as a list names the columns to keep, got "
                                  f"{self.columns!r}")
        elif not isinstance(self.columns, dict):
            raise RecipeError(f"dataset {self.path!r}: columns is a mapping {{ours: theirs}} or a list of columns "
                              f"to keep, got {self.columns!r}")

    @property
    def column_map(self) -> dict[str, str]:
        return self.columns if isinstance(self.columns, dict) else {}

    @property
    def keep_columns(self) -> list[str] | None:
        return self.columns if isinstance(self.columns, list) else None


@dataclass
class DataArguments(CourtOpinionArguments):
    """The data section; a task family's keys (court opinions: ``tasks/court_opinions/arguments.py``) come with it,
    flat in the recipe like every other data key."""

    datasets: list[dict] = field(
        default_factory=lambda: [{"path": EMBEDDED_COURT_DATA}],
        metadata={"help": "datasets to read and mix; each: path, format, split, name, weight, columns, system_prompt"},
    )
    system_prompt: str | None = field(default=None, metadata={"help": "system message for rows that have none"})
    chat_template: str = field(
        default="auto",
        metadata={"help": "auto (the tokenizer's own) | chatml | alpaca | trl:<family> | a .jinja file or a "
                          "tokenizer directory | the template text"},
    )
    chat_template_kwargs: dict = field(
        default_factory=dict,
        metadata={"help": "variables every rendering passes to the template, e.g. {enable_thinking: false}"},
    )
    dataset_text_field: str | None = field(
        default=None,
        metadata={"help": "the column of raw text for format: text (TRL's key; default: text)"},
    )
    train_on: str = field(
        default="assistant",
        metadata={"help": "assistant (every assistant turn) | all | last_assistant", "choices": TRAIN_ON},
    )
    train_on_reasoning: bool = field(
        default=True, metadata={"help": "train an assistant turn's reasoning when the template renders it"}
    )
    multi_turn: str = field(
        default="auto",
        metadata={"help": "auto | whole (one row per conversation) | per_turn (one row per trained assistant turn, "
                          "rendered as inference renders that turn)", "choices": MULTI_TURN},
    )
    system_message: str = field(
        default="auto",
        metadata={"help": "templates without a system role: auto (fold it into the first user turn) | merge "
                          "(always fold) | reject (drop such rows)", "choices": SYSTEM_MESSAGE},
    )
    allow_control_tokens: bool = field(
        default=False,
        metadata={"help": "special-token text inside messages stays a control token (default: encoded as text)"},
    )
    length_policy: str = field(
        default="drop",
        metadata={"help": "rows longer than max_length: drop | truncate (the response) | error",
                  "choices": LENGTH_POLICIES},
    )
    min_response_tokens: int = field(default=1, metadata={"help": "drop rows whose responses have fewer tokens"})
    dedupe: bool = field(default=True, metadata={"help": "drop exact duplicates (normalised content)"})
    group_turns: bool | str = field(
        default=False,
        metadata={"help": "train/validation: read the shared document of one group's single-turn rows (one "
                          "document's questions) once: true joins them into one multi-turn conversation; branches "
                          "keeps each row as it is asked alone, its own tokens a branch after the shared ones "
                          "(false | true | branches)"},
    )
    validation_size: float = field(
        default=0.1, metadata={"help": "fraction of rows held out for validation (1 and more: a number of rows)"})
    test_size: float = field(default=0.05, metadata={"help": "fraction of rows held out for test"})
    prepared_dir: str | None = field(
        default=None, metadata={"help": "where prepare writes (default: <output_dir>/data)"}
    )

    def __post_init__(self) -> None:
        # value ranges (fractions, counts) are checked with the rest of the recipe in recipe_checks.py
        if self.train_on not in TRAIN_ON:
            raise RecipeError(unknown_value("train_on", self.train_on, TRAIN_ON))
        if self.length_policy not in LENGTH_POLICIES:
            raise RecipeError(unknown_value("length_policy", self.length_policy, LENGTH_POLICIES))
        if self.group_turns not in GROUP_TURNS:
            raise RecipeError(unknown_value("group_turns", self.group_turns, ["false", "true", "branches"]))
        for key, allowed in (("multi_turn", MULTI_TURN), ("system_message", SYSTEM_MESSAGE)):
            value = getattr(self, key)
            if value not in allowed:
                raise RecipeError(unknown_value(key, value, allowed))
        self.dataset_specs = [DatasetSpec(**_check_spec(d)) for d in self.datasets]

    def labelling_options(self) -> dict[str, Any]:
        """How rows are rendered and labelled: the same for training rows (prepare) and for test sets (eval)."""
        return {"train_on": self.train_on, "multi_turn": self.multi_turn, "train_on_reasoning": self.train_on_reasoning,
                "system_message": self.system_message, "allow_control_tokens": self.allow_control_tokens}


# keys of other tools' dataset entries (TRL, the alignment-handbook, datasets.load_dataset) -> ours, by meaning
ENTRY_HINTS = {"id": "path", "dataset_name": "path", "data_files": "path", "config": "name", "subset": "name",
               "fraction": "weight (0.5 keeps a seeded half) or max_samples", "num_samples": "max_samples"}


def _check_spec(entry: Any, key: str = "datasets") -> dict:
    if isinstance(entry, str):
        return {"path": entry}
    if not isinstance(entry, dict) or "path" not in entry:
        hint = next((f" (here {ours!r} holds what {name!r} does)" for name, ours in ENTRY_HINTS.items()
                     if isinstance(entry, dict) and name in entry), "")
        raise RecipeError(f"{key}: each entry needs a 'path', got {entry!r}{hint}")
    known = [f.name for f in dataclasses.fields(DatasetSpec)]
    for name in entry:
        if name in ENTRY_HINTS:
            raise RecipeError(f"{key}: unknown key {name!r} (here: {ENTRY_HINTS[name]})")
        if name not in known:
            raise RecipeError(f"{key}: unknown key {name!r}{_suggest(name, known)}")
    return entry


@dataclass
class EvalArguments:
    eval_max_new_tokens: int = field(default=256, metadata={"help": "generation budget per answer"})
    eval_batch_size: int = field(default=8, metadata={"help": "prompts per generation batch"})
    eval_task_budgets: bool = field(
        default=True, metadata={"help": "answers of scored tasks (case name, disposition, citations, ...) get at most "
                                        "twice the task's longest reference + 16 tokens (never more than "
                                        "eval_max_new_tokens); false: every answer gets eval_max_new_tokens"},
    )
    eval_num_samples: int | None = field(default=None, metadata={"help": "evaluate at most this many test rows"})
    eval_heldout_samples: int | None = field(
        default=None, metadata={"help": "test rows for the held-out loss (default: eval_num_samples)"}
    )
    eval_do_sample: bool = field(default=False, metadata={"help": "sample instead of greedy decoding"})
    eval_dtype: str = field(
        default="auto", metadata={"help": "weights dtype for evaluation (auto: the precision the recipe trains in)",
                                  "choices": ("auto", "float32", "bfloat16", "float16")})
    eval_test_data: list[Any] = field(
        default_factory=list,
        metadata={"help": "more test sets evaluated after the test split, each a dataset entry (path, format, ...) "
                          "read through the same converters as training data"},
    )
    eval_temperature: float = field(default=0.7, metadata={"help": "sampling temperature (with eval_do_sample)"})
    judge_base_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible judge server URL"})
    judge_model: str | None = field(default=None, metadata={"help": "judge model name (server) or path (local)"})
    judge_api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "env variable holding the key"})
    judge_backend: str = field(default="openai", metadata={"help": "judge backend: openai | local | llama-cpp"})
    judge_prompts: str | None = field(
        default=None, metadata={"help": "win rate while training: 'validation' or a prompts file (unset: off)"})
    judge_num_prompts: int = field(default=16, metadata={"help": "prompts judged at each checkpoint"})
    judge_every_steps: int | None = field(
        default=None, metadata={"help": "judge every N steps (unset: after every evaluation)"})
    judge_max_new_tokens: int = field(default=128, metadata={"help": "answer budget for the judged prompts"})
    judge_max_tokens: int = field(default=512, metadata={"help": "judge reply budget"})
    judge_verdict_only: bool = field(default=False, metadata={"help": "ask the judge for the verdict alone"})

    def __post_init__(self) -> None:
        self.test_data_specs = [DatasetSpec(**_check_spec(d, "eval_test_data")) for d in self.eval_test_data]


# Set by launchers, never written in a recipe: not worth suggesting.
NOT_SUGGESTED = {"local_rank", "hub_token", "deepspeed", "debug", "fsdp"}


def _suggest(key: str, candidates) -> str:
    close = difflib.get_close_matches(key, [c for c in candidates if c not in NOT_SUGGESTED], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_value(key: str, value: Any, choices) -> str:
    """``key: unknown value 'x' (did you mean 'y'? valid: a, b, c)``."""
    return f"{key}: unknown value {value!r} {valid_values(value, choices)}"


def valid_values(value: Any, choices) -> str:
    """``(did you mean 'y'? valid: a, b, c)``: the closest choice, then all of them."""
    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"({hint}valid: {', '.join(choices)})"
