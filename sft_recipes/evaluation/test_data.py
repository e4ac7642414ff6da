"""Any data file as a test set: read, converted and built like training data, never mixed into the recipe's splits.

    sft-recipes eval --config RECIPE --test_data FILE [--format F]

The file (any path ``datasets:`` accepts: a .json/.jsonl/.csv/.parquet file, a folder of .txt/.json documents, a
saved dataset, a Hub name, or an ``embedded:`` corpus) goes through the same reading, format conversion, task
builders and cleaning as prepare's data (the recipe's ``court_tasks``, system prompts, ``dedupe``), and nothing is
split off: every row is a test row. Rows that cannot be built are written to ``rejects.jsonl`` beside the report,
with their counts printed. For the held-out loss the rows are tokenized with the tuned run's tokenizer and chat
template, at any length (the model, not ``max_length``, is the limit at evaluation).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sft_recipes.data.jsonl import write_jsonl
from sft_recipes.data.rejects import Reject
from sft_recipes.recipe import DataArguments, DatasetSpec, Recipe


@dataclasses.dataclass
class EvalSet:
    name: str  # a short name for the output directory: the file's stem, or the embedded corpus's name
    rows: list[dict[str, Any]]
    rejects: list[Reject]
    counts: dict[str, Any]


def dataset_spec(entry: str | dict[str, Any], fmt: str | None = None) -> DatasetSpec:
    """A test set named by a path (and a format), or by a ``datasets:`` entry."""
    values = {"path": entry} if isinstance(entry, str) else dict(entry)
    if fmt:
        values["format"] = fmt
    return DatasetSpec(**values)


def eval_set_name(spec: DatasetSpec) -> str:
    path = spec.path.rstrip("/")
    if path.startswith("embedded:"):
        return path.split(":", 1)[1]
    return Path(path).stem or Path(path).name


def load_eval_set(recipe: Recipe, spec: DatasetSpec, show: bool = True) -> EvalSet:
    """The test rows of one data set, built exactly as prepare builds training rows (single-turn: every task is
    evaluated on its own)."""
    from sft_recipes.data.load import load_conversations

    data_args = dataclasses.replace(recipe.data, datasets=[dataclasses.asdict(spec)])
    loaded = load_conversations(data_args, recipe.training.seed, show=show)
    rejects = list(loaded.rejects)
    if show and rejects:
        print(f"[sft-recipes] test data {spec.path}: {len(loaded.rows)} rows, {len(rejects)} rejected")
    return EvalSet(eval_set_name(spec), loaded.rows, rejects, loaded.counts)


def tokenize_for_loss(rows: list[dict[str, Any]], tokenizer: Any, data: DataArguments) -> tuple[Any, list[Reject]]:
    """``input_ids`` + ``labels`` of the rows for the held-out loss (no length limit), labelled as prepare labels
    training rows (the run's template, the recipe's turn and reasoning options), and the rows' rejects."""
    from sft_recipes.chat.tokenize import tokenize_dataset
    from sft_recipes.chat.template_info import template_info_for

    result = tokenize_dataset(
        rows, tokenizer, template_info_for(tokenizer), keep_columns=("task",), max_length=None, length_policy="drop",
        **data.labelling_options())
    return result.dataset, result.rejects


def write_rejects(path: Path, rejects: list[Reject]) -> None:
    write_jsonl(path, (r.to_dict() for r in rejects))
