"""Read a training run directory: what was trained, on which base, with which recipe, and how it went.

Export, the model card and the reload checks all start from here, so a run directory that lacks what they need
fails now, with the missing file named, instead of halfway through a merge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sft_recipes.recipe import read_yaml_mapping
from sft_recipes.export.errors import ExportError
from sft_recipes.data.jsonl import iter_jsonl

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
RECIPE_FILE = "recipe.yaml"
SUMMARY_FILE = "summary.json"
METRICS_FILE = "metrics.jsonl"
EVAL_METRICS_FILE = Path("eval") / "metrics.json"
DATA_REPORT_FILE = "report.json"


@dataclass
class RunDir:
    """Everything export needs from a run directory, parsed once."""

    path: Path
    recipe: dict[str, Any]
    adapter_config: dict[str, Any] | None  # None: the run saved a full model
    summary: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    data_report: dict[str, Any] | None = None
    data_report_path: Path | None = None
    eval_metrics: dict[str, Any] | None = None

    @property
    def is_adapter(self) -> bool:
        return self.adapter_config is not None

    @property
    def base_name(self) -> str | None:
        """The base model as the recipe named it (None means the embedded default).

        The recipe is preferred over ``adapter_config.json``: training loads the embedded model from a local cache
        directory, so peft records that cache path, while the recipe keeps the name the user chose.
        """
        if "model_name_or_path" in self.recipe:
            return self.recipe["model_name_or_path"]
        if self.adapter_config is not None:
            return self.adapter_config.get("base_model_name_or_path")
        return None

    @property
    def trained_token_ids(self) -> list[int]:
        """Token rows the adapter trains directly (new special tokens such as ChatML's on a base model)."""
        if self.adapter_config is None:
            return []
        indices = self.adapter_config.get("trainable_token_indices") or []
        if isinstance(indices, dict):  # {layer name: ids}
            return sorted({i for ids in indices.values() for i in ids})
        return sorted(set(indices))


def read_run_dir(path: str | Path) -> RunDir:
    """Parse a run directory; raise ExportError naming the first missing or malformed file."""
    run = Path(path).expanduser()
    if not run.is_dir():
        raise ExportError(f"run directory not found: {run}")
    adapter_config = None
    if (run / ADAPTER_CONFIG).is_file():
        if not (run / ADAPTER_WEIGHTS).is_file():
            raise ExportError(f"{run / ADAPTER_CONFIG} has no adapter weights next to it ({ADAPTER_WEIGHTS})")
        adapter_config = _read_json(run / ADAPTER_CONFIG)
    elif not (run / "config.json").is_file():
        raise ExportError(f"not a run directory (no {ADAPTER_CONFIG} and no config.json): {run}")
    if not (run / "tokenizer_config.json").is_file():
        raise ExportError(f"the run directory has no tokenizer (tokenizer_config.json): {run}")
    recipe_path = run / RECIPE_FILE
    if not recipe_path.is_file():
        raise ExportError(f"the run directory has no {RECIPE_FILE}: {run}")
    recipe = _read_yaml(recipe_path)

    data_report_path = _data_report_path(run, recipe)
    return RunDir(
        path=run,
        recipe=recipe,
        adapter_config=adapter_config,
        summary=_read_json(run / SUMMARY_FILE) if (run / SUMMARY_FILE).is_file() else {},
        metrics=_read_jsonl(run / METRICS_FILE) if (run / METRICS_FILE).is_file() else [],
        data_report=_read_json(data_report_path) if data_report_path else None,
        data_report_path=data_report_path,
        eval_metrics=_read_json(run / EVAL_METRICS_FILE) if (run / EVAL_METRICS_FILE).is_file() else None,
    )


def _data_report_path(run: Path, recipe: dict[str, Any]) -> Path | None:
    candidates = [run / "data" / DATA_REPORT_FILE]
    if recipe.get("prepared_dir"):
        candidates.insert(0, Path(recipe["prepared_dir"]).expanduser() / DATA_REPORT_FILE)
    return next((p for p in candidates if p.is_file()), None)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ExportError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(value, dict):
        raise ExportError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, row in iter_jsonl(path, ExportError):
        if not isinstance(row, dict):
            raise ExportError(f"{path}:{number}: expected a JSON object per line")
        rows.append(row)
    return rows


def _read_yaml(path: Path) -> dict[str, Any]:
    return read_yaml_mapping(path, ExportError)
