"""What a training run leaves behind for people: metrics.jsonl, a loss / eval-loss / token-accuracy plot, a summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from sft_recipes.data.jsonl import append_jsonl, iter_jsonl, write_jsonl


# Built on trainer.state.log_history, which alone reaches disk only with a checkpoint: this file has every logged step.
class MetricsLogger(TrainerCallback):
    """Appends every logged step to metrics.jsonl (main process only).

    When training begins the file is rewritten from the trainer's log history: empty for a fresh run (an earlier
    run's rows in the same output_dir do not carry over), the resumed checkpoint's history for a resumed one, so the
    steps a killed run logged after its last checkpoint, which the resumed run trains and logs again, appear once.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        write_jsonl(self.path, (_row(entry.get("step", 0), entry.get("epoch"), entry) for entry in state.log_history))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.path, _row(state.global_step, state.epoch, logs))


def _row(step: int, epoch: float | None, logs: dict[str, Any]) -> dict[str, Any]:
    return {"step": step, "epoch": epoch, **{k: v for k, v in logs.items() if k not in ("step", "epoch")}}


def read_metrics(path: Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        return []
    return [row for _, row in iter_jsonl(path)]


def plot_training_curves(metrics_path: Path, out_png: Path) -> Path | None:
    rows = read_metrics(metrics_path)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("loss", "eval_loss", "loss"), ("mean_token_accuracy", "eval_mean_token_accuracy", "token accuracy")]
    judged = [r for r in rows if r.get("judge_win_rate") is not None]
    fig, axes = plt.subplots(1, 3 if judged else 2, figsize=(15 if judged else 10, 3.6))
    for ax, (train_key, eval_key, title) in zip(axes, panels):
        for key, style, label in ((train_key, "-", "train"), (eval_key, "o--", "eval")):
            pts = [(r["step"], r[key]) for r in rows if key in r]
            if pts:
                ax.plot(*zip(*pts), style, label=label)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    if judged:
        _plot_win_rate(axes[2], judged)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def _plot_win_rate(ax, rows: list[dict[str, Any]]) -> None:
    """Judge win rate against the base model per checkpoint, with its 95% interval and the length-controlled rate."""
    steps = [r["step"] for r in rows]
    rates = [r["judge_win_rate"] for r in rows]
    low = [r.get("judge_win_rate_ci_low", rate) for r, rate in zip(rows, rates)]
    high = [r.get("judge_win_rate_ci_high", rate) for r, rate in zip(rows, rates)]
    ax.errorbar(steps, rates, yerr=[[r - lo for r, lo in zip(rates, low)], [h - r for r, h in zip(rates, high)]],
                fmt="o-", capsize=4, label="win rate vs base (95% CI)")
    lc = [(r["step"], r["judge_lc_win_rate"]) for r in rows if r.get("judge_lc_win_rate") is not None]
    if lc:
        ax.plot(*zip(*lc), "s--", label="length-controlled")
    ax.axhline(0.5, color="grey", linewidth=1, linestyle=":")
    ax.set_ylim(0, 1)
    ax.set_title("judge win rate")
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend()


def write_summary(output_dir: Path, summary: dict[str, Any]) -> None:
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    lines = ["# Training summary", "", "| key | value |", "|---|---|"]
    for key, value in summary.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        lines.append(f"| {key} | {value} |")
    lines += ["", "![training curves](training_curves.png)", ""]
    (output_dir / "summary.md").write_text("\n".join(lines))
