"""The model card (README.md) of an export, rendered with jinja2 from the run directory's own files.

Every number in the card comes from the run: ``summary.json`` / ``metrics.jsonl`` for training, the prepared data's
``report.json`` for sizes, ``eval/metrics.json`` for the evaluation table. A number the run did not record is said to
be missing; it is never invented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sft_recipes.export.run_dir import RunDir
from sft_recipes.train.methods import method_label

TEMPLATE = "model_card.md.jinja"
SPLITS = ("train", "validation", "test")
MAX_LOSS_ROWS = 20
# vLLM's --max-lora-rank accepts these values only; its default (16) refuses an adapter of a larger rank
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
LM_EVAL_TASKS = "arc_easy,hellaswag"


@dataclass
class CardInputs:
    """What the card needs beyond the run directory: where the export lives and what it is."""

    run: RunDir
    base_display: str  # what the base model is called in the text
    base_hub_id: str | None  # the base on the Hub, when it has one
    base_load_id: str  # what `from_pretrained` should load for the base in the snippets
    model_ref: str  # the export itself: Hub repo id when pushed, else its local path
    merged: bool
    repo_id: str | None = None  # set when the export is pushed to the Hub
    embedded_base: bool = False
    merge_check: float | None = None
    merge_dtype: str | None = None
    stop_tokens: list[str] | None = None
    gguf_file: str | None = None  # the GGUF written beside the export (with an Ollama Modelfile)


def render_model_card(inputs: CardInputs) -> str:
    """README.md text: YAML front matter, then the body from the jinja template."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("sft_recipes.export", "."),
        undefined=StrictUndefined,  # a misspelt field fails here instead of printing an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["num"] = format_number
    return env.get_template(TEMPLATE).render(**card_context(inputs))


def card_context(inputs: CardInputs) -> dict[str, Any]:
    run = inputs.run
    recipe = run.recipe
    method = method_label(run.is_adapter, bool(recipe.get("load_in_4bit")), bool(recipe.get("load_in_8bit")))
    return {
        "front_matter": yaml.safe_dump(front_matter(inputs, method), sort_keys=False).rstrip("\n"),
        "title": inputs.repo_id.split("/")[-1] if inputs.repo_id else run.path.resolve().name,
        "inputs": inputs,
        "method": method,
        "recipe_yaml": yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True).rstrip("\n"),
        "datasets": dataset_rows(recipe),
        "split_sizes": split_sizes(run.data_report),
        "rejects": rejects_count(run.data_report),
        "data_report_path": _shown_path(run.data_report_path, run.path) if run.data_report_path else None,
        "training": training_numbers(run),
        "loss_rows": loss_rows(run.metrics),
        "eval_table": eval_table(run.eval_metrics),
        "adapter": run.adapter_config or {},
        "target_modules": target_module_names(run.adapter_config),
        "vllm_lora_rank": vllm_lora_rank(run.adapter_config),
        "lm_eval_command": lm_eval_command(inputs),
    }


def vllm_lora_rank(adapter_config: dict[str, Any] | None) -> int | None:
    """The smallest ``--max-lora-rank`` vLLM accepts that holds the adapter's rank (None without a rank)."""
    r = (adapter_config or {}).get("r")
    if not isinstance(r, int):
        return None
    return next((v for v in VLLM_LORA_RANKS if v >= r), r)


def lm_eval_command(inputs: CardInputs, tasks: str = LM_EVAL_TASKS) -> str:
    """The lm-evaluation-harness command of the card (its ``hf`` model type; the adapter through ``peft=``)."""
    if inputs.merged or not inputs.run.is_adapter:
        model_args = f"pretrained={inputs.model_ref},dtype=float32"
    else:
        ref = inputs.model_ref
        model_args = f"pretrained={inputs.base_load_id},peft={ref},tokenizer={ref},dtype=float32"
    return (f"lm_eval --model hf --model_args {model_args} \\\n"
            f"  --tasks {tasks} --apply_chat_template --batch_size 8")


def _shown_path(path: Path, run: Path) -> str:
    """Paths inside the run are shown relative to it: a published card should not carry this machine's paths."""
    try:
        return str(path.resolve().relative_to(run.resolve()))
    except ValueError:
        return str(path)


def target_module_names(adapter_config: dict[str, Any] | None) -> str | None:
    """peft records "all-linear" as every full module path; the card lists the distinct layer names."""
    targets = (adapter_config or {}).get("target_modules")
    if not targets:
        return None
    if isinstance(targets, str):
        return targets
    return ", ".join(sorted({t.split(".")[-1] for t in targets}))


def front_matter(inputs: CardInputs, method: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if inputs.base_hub_id:
        meta["base_model"] = inputs.base_hub_id
    meta["library_name"] = "transformers" if inputs.merged or not inputs.run.is_adapter else "peft"
    tags = ["sft-recipes", "trl", "sft", "text-generation"]
    if inputs.run.is_adapter:
        tags += ["peft", "qlora" if method.startswith("QLoRA") else "lora"]
    if inputs.merged:
        tags.append("merged")
    meta["tags"] = tags
    hub_datasets = [d["path"] for d in dataset_rows(inputs.run.recipe) if d["hub"]]
    if hub_datasets:
        meta["datasets"] = hub_datasets
    meta["license"] = "other"  # placeholder: the licence depends on the base model and the data
    meta["pipeline_tag"] = "text-generation"
    return meta


def dataset_rows(recipe: dict[str, Any]) -> list[dict[str, Any]]:
    """The recipe's datasets with their format and weight; ``hub`` marks names that are Hub datasets."""
    rows = []
    for entry in recipe.get("datasets") or []:
        spec = {"path": entry} if isinstance(entry, str) else dict(entry)
        path = str(spec.get("path", ""))
        rows.append(
            {
                "path": path,
                "format": spec.get("format", "auto"),
                "split": spec.get("split", "train"),
                "weight": spec.get("weight", 1.0),
                "max_samples": spec.get("max_samples"),
                "hub": _is_hub_dataset(path),
            }
        )
    return rows


def _is_hub_dataset(path: str) -> bool:
    if not path or path.startswith(("embedded:", ".", "/", "~")) or Path(path).expanduser().exists():
        return False
    return path.count("/") == 1 and not Path(path).suffix


def split_sizes(report: dict[str, Any] | None) -> dict[str, int]:
    """Rows per split from the prepared data's report.json, whatever nesting it uses."""
    if not report:
        return {}
    for container in (report.get("splits"), report.get("sizes"), report.get("counts"), report):
        if not isinstance(container, dict):
            continue
        sizes = {s: _count(container[s]) for s in SPLITS if s in container}
        sizes = {s: n for s, n in sizes.items() if n is not None}
        if sizes:
            return sizes
    return {}


def rejects_count(report: dict[str, Any] | None) -> int | None:
    if not report or "rejects" not in report:
        return None
    return _count(report["rejects"])


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        for key in ("rows", "count", "n", "size", "total", "num_rows"):
            if isinstance(value.get(key), int) and not isinstance(value.get(key), bool):
                return value[key]
    return None


def training_numbers(run: RunDir) -> dict[str, float | int]:
    """Final train loss, eval loss, steps, runtime: summary.json first, metrics.jsonl for what it lacks."""
    summary, metrics = run.summary, run.metrics
    out: dict[str, float | int] = {}

    def first(*candidates: Any) -> Any:
        return next((c for c in candidates if _is_number(c)), None)

    train_losses = [m["loss"] for m in metrics if _is_number(m.get("loss"))]
    eval_losses = [m["eval_loss"] for m in metrics if _is_number(m.get("eval_loss"))]
    steps = [m["step"] for m in metrics if _is_number(m.get("step"))]
    runtimes = [m["train_runtime"] for m in metrics if _is_number(m.get("train_runtime"))]
    values = {
        "final_train_loss": first(summary.get("final_train_loss"), summary.get("final_loss"),
                                  train_losses[-1] if train_losses else None),
        "mean_train_loss": first(summary.get("train_loss")),
        "eval_loss": first(summary.get("eval_loss"), eval_losses[-1] if eval_losses else None),
        "steps": first(summary.get("global_step"), summary.get("steps"), summary.get("max_steps"),
                       max(steps) if steps else None),
        "epochs": first(summary.get("epoch"), summary.get("epochs")),
        "runtime_s": first(summary.get("train_runtime"), summary.get("runtime"), runtimes[-1] if runtimes else None),
        "train_tokens": first(summary.get("num_input_tokens_seen"), summary.get("train_tokens")),
    }
    out.update({k: v for k, v in values.items() if v is not None})
    return out


def loss_rows(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Logged losses by step, at most MAX_LOSS_ROWS rows (evenly spaced, always keeping the last)."""
    rows: dict[int, dict[str, Any]] = {}
    for m in metrics:
        if not _is_number(m.get("step")):
            continue
        row = rows.setdefault(int(m["step"]), {"step": int(m["step"])})
        for key in ("loss", "eval_loss", "learning_rate"):
            if _is_number(m.get(key)):
                row[key] = m[key]
    ordered = [rows[s] for s in sorted(rows) if len(rows[s]) > 1]
    if len(ordered) <= MAX_LOSS_ROWS:
        return ordered
    stride = math.ceil(len(ordered) / MAX_LOSS_ROWS)
    kept = ordered[::stride]
    if kept[-1] is not ordered[-1]:
        kept.append(ordered[-1])
    return kept


def eval_table(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{model: {task: {metric: number}}}`` as rows of (task, metric) with one column per model.

    Tolerant of the exact shape: numbers directly under a model go to task "all"; deeper nesting joins its keys
    with "/"; values that are not numbers are left out of the table.
    """
    if not metrics:
        return None
    models = [m for m, v in metrics.items() if isinstance(v, dict)]
    cells: dict[tuple[str, str], dict[str, float]] = {}
    for model in models:
        for path, value in _leaves(metrics[model]):
            task, metric = ("all", path[0]) if len(path) == 1 else (path[0], "/".join(path[1:]))
            cells.setdefault((task, metric), {})[model] = value
    if not cells:
        return None
    rows = [{"task": t, "metric": m, "values": [cells[(t, m)].get(model) for model in models]} for t, m in cells]
    return {"models": models, "rows": rows}


def _leaves(tree: dict[str, Any], prefix: tuple[str, ...] = ()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, prefix + (str(key),))
        elif _is_number(value):
            yield prefix + (str(key),), value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_number(value: Any) -> str:
    """Four significant digits for floats, thousands separators for ints, "–" for a missing cell."""
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
