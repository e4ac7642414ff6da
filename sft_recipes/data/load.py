"""The data entry points: a recipe's ``data`` section -> clean, mixed conversation rows -> leak-free splits.

    result = load_conversations(recipe.data, seed)                 # read, convert, system prompts, clean, mix
    splits, overlap = split_conversations(result.rows, recipe.data, seed)

Rows rejected along the way are in ``result.rejects`` and ``overlap["rejects"]`` (write both to rejects.jsonl).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sft_recipes.recipe import DataArguments, DatasetSpec
from sft_recipes.data.rejects import Reject, reason_counts
from sft_recipes.data.clean import clean_rows
from sft_recipes.data.formats import add_system_prompt, convert_records
from sft_recipes.data.mix import MixPart, mix_datasets
from sft_recipes.data.sources import DataSourceError, SourceRecord, read_records
from sft_recipes.data.split import split_rows

EMBEDDED_PREFIX = "embedded:"


@dataclass
class LoadResult:
    rows: list[dict[str, Any]]
    rejects: list[Reject] = field(default_factory=list)
    # per dataset: format, records read, rows converted, rows kept after cleaning, weight, rows after mixing,
    # and rejected rows counted by reason
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_conversations(data_args: DataArguments, seed: int, show: bool = True) -> LoadResult:
    """Every dataset of the recipe, converted once, cleaned (duplicates found across datasets too) and mixed."""
    seen: dict[str, str] = {}
    result = LoadResult(rows=[])
    parts: list[MixPart] = []
    labels = _labels(data_args.dataset_specs)
    for label, spec in zip(labels, data_args.dataset_specs):
        records, fmt = _read(spec, data_args, seed)
        converted = convert_records(
            records,
            fmt,
            _column_map(spec, records, data_args.dataset_text_field),
            name=spec.path,
            task_options=data_args,
        )
        tools = _dataset_tools(spec)
        train_only = spec.train_only or _embedded_train_only(spec.path)
        for row in converted.rows:
            add_system_prompt(row, spec.system_prompt)
            add_system_prompt(row, data_args.system_prompt)
            if tools and not row.get("tools"):
                row["tools"] = tools
            if train_only:
                row["train_only"] = True
        cleaned = clean_rows(converted.rows, dedupe=data_args.dedupe, seen=seen)
        rejects = converted.rejects + cleaned.rejects
        result.rejects.extend(rejects)
        result.counts[label] = {
            "format": converted.format,
            "read": len(records),
            "converted": len(converted.rows),
            "kept": len(cleaned.rows),
            "rejected": reason_counts(rejects),
        }
        parts.append(MixPart(label, cleaned.rows, spec.weight))
    result.rows, mixed = mix_datasets(parts, seed)
    for label, mix_counts in mixed.items():
        result.counts[label].update(weight=mix_counts["weight"], mixed=mix_counts["mixed"])
    if show:
        print_counts(result)
    if not result.rows:
        reasons = reason_counts(result.rejects)
        summary = ", ".join(f"{reason}: {n}" for reason, n in reasons.items()) or "no records"
        raise DataSourceError(f"no usable rows in any dataset ({summary})")
    return result


def split_conversations(
    rows: list[dict[str, Any]], data_args: DataArguments, seed: int, show: bool = True
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Group-aware train / validation / test splits and the overlap report (see split.py)."""
    splits, report = split_rows(rows, data_args.validation_size, data_args.test_size, seed)
    if show:
        sizes = ", ".join(f"{name} {n}" for name, n in report["sizes"].items())
        print(
            f"[sft-recipes] splits: {sizes}; removed as leaks: {report['removed_across_splits']}; shared across splits: "
            f"groups {report['shared_groups']}, conversations {report['shared_content']}, "
            f"prompts {report['shared_prompts']}"
        )
    return splits, report


def print_counts(result: LoadResult) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="datasets", title_justify="left")
    for column in ("dataset", "format", "read", "rows", "kept", "weight", "mixed", "rejected (reason: rows)"):
        table.add_column(column, justify="left" if column in ("dataset", "format") else "right", overflow="fold")
    for label, c in result.counts.items():
        rejected = "; ".join(f"{reason}: {n}" for reason, n in sorted(c["rejected"].items())) or "-"
        table.add_row(label, c["format"], str(c["read"]), str(c["converted"]), str(c["kept"]),
                      f"{c.get('weight', 1.0):g}", str(c.get("mixed", c["kept"])), rejected)
    Console().print(table)


def _read(spec: DatasetSpec, data_args: DataArguments, seed: int) -> tuple[list[SourceRecord], str]:
    if spec.path.startswith(EMBEDDED_PREFIX):
        from sft_recipes.tasks.court_opinions.synthetic import EMBEDDED_PATHS, embedded_format, embedded_records

        generated = embedded_records(spec.path, data_args)
        if generated is None:
            raise DataSourceError(f"unknown embedded dataset {spec.path!r} (expected one of "
                                  f"{', '.join(EMBEDDED_PATHS)})")
        records = [SourceRecord(f"{spec.path}:{i}", rec) for i, rec in enumerate(generated, start=1)]
        fmt = embedded_format(spec.path) if spec.format == "auto" else spec.format
    else:
        records = read_records(spec.path, split=spec.split, name=spec.name)
        fmt = spec.format
    if spec.keep_columns is not None:
        records = _keep_columns(records, spec)
    if spec.max_samples is not None and len(records) > spec.max_samples:
        keep = sorted(random.Random(f"{seed}:{spec.path}").sample(range(len(records)), spec.max_samples))
        records = [records[i] for i in keep]
    return records, fmt


def _embedded_train_only(path: str) -> bool:
    if not path.startswith(EMBEDDED_PREFIX):
        return False
    from sft_recipes.tasks.court_opinions.synthetic import embedded_train_only

    return embedded_train_only(path)


def _keep_columns(records: list[SourceRecord], spec: DatasetSpec) -> list[SourceRecord]:
    """``columns: [messages, ...]`` (a list, as TRL and the alignment-handbook write it): only those are kept."""
    keep = spec.keep_columns or []
    present = {k for r in records[:100] for k in r.data}
    missing = [c for c in keep if c not in present]
    if missing:
        raise DataSourceError(f"dataset {spec.path!r}: columns lists {missing[0]!r}, but the data has no such column "
                              f"(columns: {', '.join(sorted(present))})")
    return [SourceRecord(r.source, {k: r.data[k] for k in keep if k in r.data}) for r in records]


def _column_map(spec: DatasetSpec, records: list[SourceRecord], text_field: str | None) -> dict[str, str]:
    """The dataset's field mapping; ``dataset_text_field`` names the raw-text column when the data has it."""
    columns = dict(spec.column_map)
    if text_field and text_field != "text" and "text" not in columns:
        if any(text_field in r.data for r in records[:100]):
            columns["text"] = text_field
        elif spec.format == "text":
            raise DataSourceError(f"dataset {spec.path!r}: dataset_text_field {text_field!r} is not a column of "
                                  f"the data (columns: {', '.join(sorted({k for r in records[:100] for k in r.data}))})")
    return columns


def _dataset_tools(spec: DatasetSpec) -> list[dict[str, Any]]:
    """A dataset's ``tools``: inline JSON schemas, or a .json file holding the list."""
    import json
    from pathlib import Path

    if not spec.tools:
        return []
    tools = spec.tools
    if isinstance(tools, str):
        path = Path(tools).expanduser()
        if not path.is_file():
            raise DataSourceError(f"dataset {spec.path!r}: tools file not found: {tools}")
        try:
            tools = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataSourceError(f"{tools}:{e.lineno}: not valid JSON: {e.msg}") from None
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise DataSourceError(f"dataset {spec.path!r}: tools must be a list of JSON schemas")
    return [t if "function" in t else {"type": "function", "function": t} for t in tools]


def _labels(specs: list[DatasetSpec]) -> list[str]:
    """Dataset names for counts: the path, made unique when a recipe lists one path twice."""
    labels = []
    for i, spec in enumerate(specs):
        label = spec.path if spec.split == "train" else f"{spec.path}[{spec.split}]"
        labels.append(label if label not in labels else f"{label} #{i + 1}")
    return labels
