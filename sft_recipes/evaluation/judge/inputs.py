"""What the judge reads: prompts, optional references and each model's answer, one ``JudgedRow`` per prompt.

Two sources:
- a generations file as the eval harness writes it (JSONL: ``id``, ``task``, ``messages``, ``reference``,
  ``outputs`` {model: answer});
- any table the data readers read (JSON, JSONL, CSV, Parquet, a saved dataset, a Hub dataset) with a column map::

      prompt=instruction+input,reference=output,models=model1:model 1 response,model2:model 2 response,id=uid

  ``prompt`` may join several columns (non-empty values, separated by a blank line); ``reference`` and ``id`` are
  optional; ``models`` lists ``NAME:COLUMN`` pairs (a bare ``COLUMN`` is its own name).

Every problem names its ``file:line``. An answer that is missing or not text is an error; an empty answer is judged
as it is (a model that said nothing) and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sft_recipes import SFTRecipesError
from sft_recipes.data.jsonl import iter_jsonl

COLUMN_KEYS = ("prompt", "reference", "models", "id", "task")


class JudgeError(SFTRecipesError):
    pass


@dataclass(frozen=True)
class JudgedRow:
    id: str
    task: str
    question: str
    reference: str | None
    outputs: dict[str, str]
    source: str  # "file:line"


@dataclass
class ColumnMap:
    prompt: list[str]
    models: dict[str, str]  # model name -> column
    reference: str | None = None
    id: str | None = None
    task: str | None = None

    @classmethod
    def parse(cls, spec: str) -> "ColumnMap":
        """``prompt=a+b,reference=c,models=x:col1,y:col2`` -> ColumnMap (commas after ``models=`` list models)."""
        values: dict[str, list[str]] = {}
        key = None
        for part in (p.strip() for p in spec.split(",")):
            name, eq, value = part.partition("=")
            if eq and name.strip() in COLUMN_KEYS:
                key = name.strip()
                if key in values:
                    raise JudgeError(f"--columns: {key} given twice")
                values[key] = [value.strip()]
            elif key == "models" and part:
                values[key].append(part)
            else:
                raise JudgeError(f"--columns: cannot read {part!r} (keys: {', '.join(COLUMN_KEYS)}; "
                                 "e.g. prompt=instruction+input,reference=output,models=a:col1,b:col2)")
        for needed in ("prompt", "models"):
            if not values.get(needed) or not values[needed][0]:
                raise JudgeError(f"--columns needs {needed}=... (e.g. prompt=question,models=a:answer_a,b:answer_b)")
        models: dict[str, str] = {}
        for entry in values["models"]:
            name, colon, column = entry.partition(":")
            name, column = (name.strip(), column.strip()) if colon else (entry.strip(), entry.strip())
            if not name or not column or name in models:
                raise JudgeError(f"--columns: models entry {entry!r} must be NAME:COLUMN with a unique NAME")
            models[name] = column
        single = {k: values[k][0] or None for k in ("reference", "id", "task") if k in values}
        return cls(prompt=[c.strip() for c in values["prompt"][0].split("+") if c.strip()], models=models, **single)

    def columns(self) -> list[str]:
        return [*self.prompt, *self.models.values(), *(c for c in (self.reference, self.id, self.task) if c)]


def read_table(path: str, columns: ColumnMap, limit: int | None = None) -> list[JudgedRow]:
    """Rows of any file the data readers read, mapped through ``columns``."""
    from sft_recipes.data.sources import read_records

    records = read_records(path)
    present = set().union(*(r.data.keys() for r in records[:50]))
    missing = [c for c in columns.columns() if c not in present]
    if missing:
        raise JudgeError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(sorted(present))})")
    rows: list[JudgedRow] = []
    seen: dict[str, str] = {}
    for number, record in enumerate(records[:limit] if limit else records, start=1):
        data, where = record.data, record.source
        question = "\n\n".join(t for t in (_text(data, c, where, allow_empty=True) for c in columns.prompt) if t.strip())
        if not question.strip():
            raise JudgeError(f"{where}: empty prompt ({'+'.join(columns.prompt)})")
        row_id = _text(data, columns.id, where) if columns.id else str(number)
        if row_id in seen:
            raise JudgeError(f"{where}: id {row_id!r} repeats the row at {seen[row_id]}")
        seen[row_id] = where
        reference = _text(data, columns.reference, where, allow_empty=True) if columns.reference else ""
        rows.append(JudgedRow(
            id=row_id, task=_text(data, columns.task, where, allow_empty=True) if columns.task else "",
            question=question, reference=reference if reference.strip() else None,
            outputs={name: _text(data, col, where, allow_empty=True) for name, col in columns.models.items()},
            source=where,
        ))
    return rows


def _text(data: dict[str, Any], column: str, where: str, allow_empty: bool = False) -> str:
    value = data.get(column)
    if value is None:
        if allow_empty:
            return ""
        raise JudgeError(f"{where}: column {column!r} is empty")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise JudgeError(f"{where}: column {column!r} must hold text, got {type(value).__name__}")
    return str(value)


def read_generations(path: str | Path, models: list[str] | None = None, limit: int | None = None) -> list[JudgedRow]:
    """Read and check the generations file; every problem names its file:line."""
    path = Path(path)
    if not path.is_file():
        raise JudgeError(f"generations file not found: {path}")
    rows: list[JudgedRow] = []
    for number, raw in iter_jsonl(path, JudgeError):
        rows.append(_check_row(raw, f"{path}:{number}", models))
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise JudgeError(f"generations file {path} has no rows")
    return rows


def _check_row(raw: Any, where: str, models: list[str] | None) -> JudgedRow:
    if not isinstance(raw, dict):
        raise JudgeError(f"{where}: a row must be a JSON object")
    for key in ("id", "messages", "outputs"):
        if key not in raw:
            raise JudgeError(f"{where}: missing field {key!r}")
    messages, outputs = raw["messages"], raw["outputs"]
    if not isinstance(messages, list) or not messages or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in messages
    ):
        raise JudgeError(f"{where}: 'messages' must be a non-empty list of {{role, content}} strings")
    if not isinstance(outputs, dict) or not outputs:
        raise JudgeError(f"{where}: 'outputs' must map model names to answers")
    for name in models or list(outputs):
        if name not in outputs:
            raise JudgeError(f"{where}: no output for model {name!r} (outputs: {', '.join(outputs)})")
        if not isinstance(outputs[name], str):
            raise JudgeError(f"{where}: output of {name!r} must be a string, got {type(outputs[name]).__name__}")
    reference = raw.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise JudgeError(f"{where}: 'reference' must be a string or null")
    return JudgedRow(
        id=str(raw["id"]),
        task=str(raw.get("task") or ""),
        question=render_question(messages),
        reference=reference if reference and reference.strip() else None,
        outputs=dict(outputs),
        source=where,
    )


def render_question(messages: list[dict[str, str]]) -> str:
    """The prompt as the judge sees it: the user's text alone, or a transcript when there is more than one turn."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n\n".join(f"[{m['role'].capitalize()}]\n{m['content']}" for m in messages)


def resolve_models(rows: list[JudgedRow], mode: str, models: list[str] | None) -> list[str]:
    if models:
        if mode == "pairwise" and (len(models) != 2 or models[0] == models[1]):
            raise JudgeError(f"pairwise mode compares two different models, got {','.join(models)}")
        return list(models)
    available = list(rows[0].outputs)
    if mode == "single":
        return available
    if len(available) == 2:
        return ["tuned", "base"] if set(available) == {"tuned", "base"} else available
    raise JudgeError(f"pairwise mode needs --models A,B (outputs hold {', '.join(available)})")
