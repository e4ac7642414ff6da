"""The before/after report: a markdown page and a bar chart from compare.py's metrics and generations.

The report reads like a review: headline numbers first (overall, then per task with the change from
the first model to the last), then a few answers side by side, because numbers alone hide how an
answer changed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _delta(first: Any, last: Any) -> str:
    if not isinstance(first, (int, float)) or not isinstance(last, (int, float)):
        return "–"
    return f"{last - first:+.3f}"


def _fence(text: str) -> str:
    """A fenced block that survives backticks inside the answer."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def pick_examples(generations: Sequence[dict[str, Any]], names: Sequence[str], k: int) -> list[dict[str, Any]]:
    """Up to ``k`` examples, one task at a time in turn, preferring prompts where the models' answers differ."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for g in generations:
        by_task.setdefault(g.get("task", ""), []).append(g)
    for rows in by_task.values():
        rows.sort(key=lambda g: len({g["outputs"].get(n, "") for n in names}) == 1)  # differing answers first
    picked: list[dict[str, Any]] = []
    while len(picked) < k and any(by_task.values()):
        for task in sorted(by_task):
            if by_task[task] and len(picked) < k:
                picked.append(by_task[task].pop(0))
    return picked


def render_report(metrics: dict[str, Any], generations: Sequence[dict[str, Any]], examples: int = 3,
                  plot_name: str | None = None, training_plots: dict[str, str] | None = None) -> str:
    names = list(metrics["models"])
    lines = _header(metrics, names) + _overall_section(metrics["models"], names) + _task_section(metrics, names)
    if plot_name:
        lines += ["", f"![per-task scores]({plot_name})"]
    lines.append("")
    for name, plot in (training_plots or {}).items():
        lines += [f"## Training curves ({name})", "", f"![training loss and token accuracy ({name})]({plot})", ""]
    lines += _examples_section(pick_examples(generations, names, examples), names)
    return "\n".join(lines).rstrip() + "\n"


def _change(names: list[str], values: list) -> list[str]:
    """The first-to-last change column, when there are two models or more."""
    return [_delta(values[0], values[-1])] if len(names) >= 2 else []


def _header(metrics: dict[str, Any], names: list[str]) -> list[str]:
    models = metrics["models"]
    lines = [f"# Evaluation: {' vs '.join(names)}", ""]
    lines.append(f"{metrics['num_prompts']} held-out prompts; generation: "
                 + ", ".join(f"{k}={v}" for k, v in metrics["generation"].items() if v is not None) + ".")
    lines.append("")
    for name in names:
        lines.append(f"- **{name}**: `{models[name]['path']}` (chat template: {models[name]['prompt_template']})")
    return lines + [""]


def _overall_section(models: dict[str, Any], names: list[str]) -> list[str]:
    rows = []
    for key, label in [("headline", "headline score (per answer)"), ("macro_headline", "headline score (mean of tasks)"),
                       ("empty_rate", "empty answers"), ("format_adherence", "format adherence"),
                       ("length_ratio", "length ratio to reference")]:
        values = [models[n]["overall"].get(key) for n in names]
        rows.append([label, *map(_fmt, values), *_change(names, values)])
    for key, label in [("loss", "held-out loss"), ("perplexity", "held-out perplexity")]:
        values = [(models[n].get("heldout") or {}).get(key) for n in names]
        if any(v is not None for v in values):
            rows.append([label, *map(_fmt, values), *_change(names, values)])
    if any("format_overfitting" in models[n] for n in names):
        values = [(models[n].get("format_overfitting") or {}).get("overfit_rate") for n in names]
        rows.append(["format overfitting (plain-text prompts)", *map(_fmt, values), *_change(names, values)])
    change = [f"change ({names[0]} → {names[-1]})"] if len(names) >= 2 else []
    lines = ["## Overall", ""] + _table(["metric", *names, *change], rows)
    for name in names:
        error = (models[name].get("heldout") or {}).get("error")
        if error:
            lines.append(f"\nHeld-out loss not measured for {name}: {error}")
    return lines + [""]


def _task_section(metrics: dict[str, Any], names: list[str]) -> list[str]:
    models = metrics["models"]
    rows = []
    for task in metrics["tasks"]:
        entries = [models[n]["tasks"].get(task, {}) for n in names]
        metric = next((e["headline_metric"] for e in entries if e), "")
        values = [e.get("headline") for e in entries]
        n_rows = next((e["n"] for e in entries if e), 0)
        rows.append([task or "(none)", metric, str(n_rows), *map(_fmt, values), *_change(names, values)])
    change = [f"change ({names[0]} → {names[-1]})"] if len(names) >= 2 else []
    return ["## Per task", ""] + _table(["task", "metric", "n", *names, *change], rows)


def _examples_section(picked: list[dict[str, Any]], names: list[str]) -> list[str]:
    lines = ["## Examples", ""] if picked else []
    for i, g in enumerate(picked, 1):
        question = g["messages"][-1]["content"] if g["messages"] else ""
        lines += [f"### {i}. {g.get('task') or 'prompt'} ({g.get('id', '')})", "", "**Prompt**", "",
                  _fence(question), "", "**Reference**", "", _fence(g["reference"]), ""]
        for name in names:
            lines += [f"**{name}**", "", _fence(g["outputs"].get(name, "")), ""]
    return lines


def write_report(metrics: dict[str, Any], generations: Sequence[dict[str, Any]], path: str | Path,
                 examples: int = 3, plot_name: str | None = None,
                 training_plots: dict[str, str] | None = None) -> Path:
    p = Path(path)
    p.write_text(render_report(metrics, generations, examples, plot_name, training_plots), encoding="utf-8")
    return p


def plot_scores(metrics: dict[str, Any], path: str | Path) -> Path:
    """Grouped bars: per task, each model's headline score (0-1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(metrics["models"])
    tasks = metrics["tasks"]
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(tasks) + 2), 4))
    try:
        for j, name in enumerate(names):
            values = [metrics["models"][name]["tasks"].get(t, {}).get("headline") or 0.0 for t in tasks]
            xs = [i + (j - (len(names) - 1) / 2) * width for i in range(len(tasks))]
            ax.bar(xs, values, width=width, label=name)
        ax.set_xticks(range(len(tasks)))
        ax.set_xticklabels(
            [f"{t or '(none)'}\n{metrics['models'][names[0]]['tasks'].get(t, {}).get('headline_metric', '')}"
             for t in tasks], fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("headline score")
        ax.set_title("Per-task score: " + " vs ".join(names))
        ax.legend()
        fig.tight_layout()
        p = Path(path)
        fig.savefig(p, dpi=100)
    finally:
        plt.close(fig)
    return p
