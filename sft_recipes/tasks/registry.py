"""Where task families register what generic stages ask of them: a data format (records -> instruction rows) and
each task's headline metric and scores.

A family calls ``register(TaskFamily(...))`` when its package is imported; the built-in families are imported on
first use (``BUILTIN``), so generic modules (``data/formats.py``, ``evaluation/metrics.py``) never import a family.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

Scores = Callable[[str, str, str], "dict[str, float] | None"]  # (task, answer, reference) -> scores or None
# (record, source, the recipe's data section or None) -> (rows, rejects)
Build = Callable[[dict[str, Any], str, Any], "tuple[list[dict[str, Any]], list[Any]]"]

BUILTIN = ("sft_recipes.tasks.court_opinions",)


@dataclass(frozen=True)
class TaskFormat:
    name: str  # the recipe's ``format:`` value
    looks_like: Callable[[set[str]], bool]  # do records with these fields belong to it (``format: auto``)?
    build: Build
    description: str = ""  # what a record is, for the error when no format fits ("a court opinion")


@dataclass(frozen=True)
class TaskFamily:
    name: str
    headline_metrics: Mapping[str, str]  # task -> the metric its report leads with
    scores: Scores  # the task-specific scores of one answer; None for a task of another family
    format: TaskFormat | None = None


_FAMILIES: dict[str, TaskFamily] = {}


def register(family: TaskFamily) -> TaskFamily:
    """Add (or replace) a task family; a task name may belong to one family only."""
    for other in _FAMILIES.values():
        shared = set(other.headline_metrics) & set(family.headline_metrics)
        if other.name != family.name and shared:
            raise ValueError(f"task {sorted(shared)[0]!r} already belongs to the {other.name} family")
    _FAMILIES[family.name] = family
    return family


def families() -> list[TaskFamily]:
    for module in BUILTIN:
        importlib.import_module(module)
    return list(_FAMILIES.values())


def family_of(task: str) -> TaskFamily | None:
    return next((f for f in families() if task in f.headline_metrics), None)


def task_formats() -> dict[str, TaskFormat]:
    """Format name -> the family's format, for every registered family that has one."""
    return {f.format.name: f.format for f in families() if f.format is not None}


def unregister(name: str) -> None:
    _FAMILIES.pop(name, None)
