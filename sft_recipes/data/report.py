"""The prepare report: what the data looks like after cleaning, splitting and labelling, as JSON, markdown and plots.

Measures people check before spending compute: token lengths (total and response), response length per instruction
type, instruction-type counts, repeated openings, diversity (unique-instruction ratio), the split-overlap check (must
be 0), and decoded sample rows with trained spans marked.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sft_recipes.chat.masking import IGNORE_INDEX
from sft_recipes.data.quality import percentiles
from sft_recipes.data.quality_report import save_figure

PREFIX_WORDS = 4


def _user_text(row: dict) -> str:
    return next((m["content"] for m in row["messages"] if m["role"] == "user"), "")


@dataclass
class TokenCounts:
    """Per row of one tokenized split: its length, its trained (labelled) tokens and its task; read off the Arrow
    columns, so the report never turns every row's token lists into Python lists."""

    total: list[int]
    trained: list[int]
    tasks: list[str]
    head: list[dict]  # the first rows, as the trainer sees them (the report's samples)

    @classmethod
    def of(cls, dataset, head: int = 3) -> "TokenCounts":
        import numpy as np
        import pyarrow.compute as pc

        table = dataset.with_format("arrow")[:]  # the rows the dataset holds (a selection too), as one Arrow table
        ids, labels = table.column("input_ids").combine_chunks(), table.column("labels").combine_chunks()
        total = pc.list_value_length(ids).to_numpy(zero_copy_only=False).astype(np.int64)
        values = labels.flatten().to_numpy(zero_copy_only=False) != IGNORE_INDEX
        ends = np.cumsum(pc.list_value_length(labels).to_numpy(zero_copy_only=False).astype(np.int64))
        marked = np.concatenate([[0], np.cumsum(values, dtype=np.int64)])
        trained = marked[ends] - marked[np.concatenate([[0], ends[:-1]])] if len(ends) else ends
        tasks = (table.column("task").to_pylist() if "task" in table.column_names else [None] * len(total))
        return cls(total.tolist(), trained.tolist(), [t or "(none)" for t in tasks],
                   dataset.select(range(min(head, len(dataset)))).to_list())

    def trained_by_task(self) -> dict[str, list[int]]:
        by_task: dict[str, list[int]] = defaultdict(list)
        for task, n in zip(self.tasks, self.trained):
            by_task[task].append(n)
        return dict(sorted(by_task.items()))


def token_stats(counts: TokenCounts) -> dict[str, Any]:
    total, trained = counts.total, counts.trained
    return {
        "rows": len(total),
        "total_tokens": sum(total),
        "trained_tokens": sum(trained),
        "trained_share": round(sum(trained) / max(sum(total), 1), 4),
        "length": percentiles(total),
        "response_length": percentiles(trained),
        "response_length_by_task": {k: percentiles(v) for k, v in counts.trained_by_task().items()},
    }


def text_stats(rows: list[dict]) -> dict[str, Any]:
    instructions = [_user_text(r) for r in rows]
    responses = [m["content"] for r in rows for m in r["messages"] if m["role"] == "assistant"]
    tasks = Counter(r.get("task") or "(none)" for r in rows)

    def openings(texts: list[str]) -> list[tuple[str, int]]:
        c = Counter(" ".join(t.split()[:PREFIX_WORDS]).lower() for t in texts if t.strip())
        return [(k, v) for k, v in c.most_common(10) if v > 1]

    unique = len(set(instructions))
    return {
        "task_counts": dict(sorted(tasks.items())),
        "unique_instruction_ratio": round(unique / max(len(instructions), 1), 4),
        "repeated_instruction_openings": openings(instructions),
        "repeated_response_openings": openings(responses),
    }


def build_report(
    splits: dict[str, list[dict]],
    tokenized: dict[str, TokenCounts],
    load_counts: dict[str, Any],
    rejects: list,
    overlap: dict[str, Any],
    samples: list[str],
    text: dict[str, dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from sft_recipes.data.rejects import reason_counts

    reasons = Counter(reason_counts(rejects))
    return {
        "counts": {name: len(counts.total) for name, counts in tokenized.items()},
        "sources": load_counts,
        "rejected": sum(reasons.values()),
        "reject_reasons": dict(reasons.most_common()),
        "overlap": overlap,
        "text": {name: text[name] for name in splits},
        "tokens": {name: token_stats(counts) for name, counts in tokenized.items()},
        "samples": samples,
        **(extra or {}),
    }


def plot_report(tokenized: dict[str, TokenCounts], splits: dict[str, list[dict]], out_dir: Path,
                train_text: dict[str, Any]) -> list[Path]:
    """Token lengths, response lengths by instruction type and repeated openings (train split), as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    train_tok = tokenized.get("train") or TokenCounts([], [], [], [])
    train_rows = splits.get("train", [])
    paths = []

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (title, values) in zip(
        axes,
        (
            ("tokens per row (train)", train_tok.total),
            ("trained (response) tokens per row", train_tok.trained),
        ),
    ):
        ax.hist(values, bins=40, color="#4c72b0")
        ax.set_title(title)
        ax.set_xlabel("tokens")
        ax.set_ylabel("rows")
    paths.append(save_figure(fig, out_dir / "token_lengths.png", plt))

    by_task = train_tok.trained_by_task()
    counts = Counter(r.get("task") or "(none)" for r in train_rows)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    names = sorted(by_task)
    if names:
        axes[0].boxplot([by_task[n] for n in names], tick_labels=names, vert=True)
        axes[0].tick_params(axis="x", rotation=30)
    axes[0].set_title("response tokens by instruction type")
    axes[1].bar(list(counts), list(counts.values()), color="#55a868")
    axes[1].tick_params(axis="x", rotation=30)
    axes[1].set_title("rows per instruction type (train)")
    paths.append(save_figure(fig, out_dir / "instruction_types.png", plt))

    stats = train_text
    openings = stats["repeated_instruction_openings"][:8]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    if openings:
        ax.barh([o for o, _ in openings][::-1], [n for _, n in openings][::-1], color="#c44e52")
    ax.set_title(f"most repeated instruction openings (unique-instruction ratio {stats['unique_instruction_ratio']:.2f})")
    ax.set_xlabel("rows")
    paths.append(save_figure(fig, out_dir / "repeated_openings.png", plt))
    return paths


def write_report(report: dict[str, Any], out_dir: Path, plots: list[Path]) -> None:
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str))
    lines = ["# Data preparation report", ""]
    lines += ["| split | rows | tokens | trained tokens | trained share | mean length | max length |", "|---|---|---|---|---|---|---|"]
    for name, t in report["tokens"].items():
        lines.append(
            f"| {name} | {t['rows']} | {t['total_tokens']} | {t['trained_tokens']} | {t['trained_share']:.1%} "
            f"| {t['length'].get('mean', 0)} | {t['length'].get('max', 0)} |"
        )
    lines += ["", f"Rejected rows: **{report['rejected']}** (see rejects.jsonl)", ""]
    for reason, n in report["reject_reasons"].items():
        lines.append(f"- {reason}: {n}")
    ov = report["overlap"]
    lines += ["", f"Split overlap (must be 0): **{ov.get('total', ov)}**", ""]
    train_text = report["text"].get("train", {})
    if train_text:
        lines += [
            f"Unique-instruction ratio (train): {train_text['unique_instruction_ratio']:.3f}",
            "",
            "Instruction types (train): "
            + ", ".join(f"{k} {v}" for k, v in train_text["task_counts"].items()),
            "",
        ]
        if train_text["repeated_instruction_openings"]:
            lines.append("Most repeated instruction openings: " + "; ".join(
                f"\"{o}\" x{n}" for o, n in train_text["repeated_instruction_openings"][:5]))
            lines.append("")
    for p in plots:
        lines += [f"![{p.stem}](plots/{p.name})", ""]
    if report["samples"]:
        lines += ["## Sample rows (trained tokens between [[ ]])", ""]
        for s in report["samples"]:
            lines += ["```", s, "```", ""]
    (out_dir / "report.md").write_text("\n".join(lines))
