"""The judge summary as a picture: scores with 95% intervals, or pairwise outcomes beside raw and length-controlled
win rates with their intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_summary(summary: dict[str, Any], path: Path) -> None:
    from matplotlib.figure import (
        Figure,  # no pyplot: safe off the main thread and without a display
    )

    pairwise = summary["mode"] == "pairwise"
    fig = Figure(figsize=(10 if pairwise else 6, 3.5), dpi=100)
    ax = fig.add_subplot(1, 2, 1) if pairwise else fig.add_subplot()
    if not pairwise:
        names = list(summary["per_model"])
        stats = [summary["per_model"][m] for m in names]
        means = [s["mean_score"] if s["mean_score"] is not None else 0.0 for s in stats]
        low = [m - s["ci95_low"] if s["ci95_low"] is not None else 0.0 for m, s in zip(means, stats)]
        high = [s["ci95_high"] - m if s["ci95_high"] is not None else 0.0 for m, s in zip(means, stats)]
        ax.bar(names, means, yerr=[low, high], capsize=6, color="#4c72b0")
        ax.set_ylabel("mean judge score (95% CI)")
        ax.set_title("Judge scores per model")
    else:
        p = summary["pairwise"]
        first, second = summary["models"]
        parts = [(f"{first} wins", p[f"{first}_wins"], "#55a868"), ("tie", p["ties"], "#bbbbbb"),
                 (f"{second} wins", p[f"{second}_wins"], "#c44e52")]
        left = 0
        for label, value, color in parts:
            ax.barh([f"{first} vs {second}"], [value], left=left, label=label, color=color)
            left += value
        ax.set_xlabel("pairs (both orders judged)")
        ax.set_title("Pairwise judge outcomes")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
        _plot_rates(fig.add_subplot(1, 2, 2), p, first)
    fig.tight_layout()
    fig.savefig(path)


def _plot_rates(ax: Any, p: dict[str, Any], first: str) -> None:
    lc = p.get("length_controlled") or {}
    bars = [("win rate", p["win_rate"], p["win_rate_ci95"]), ("length-controlled", lc.get("lc_win_rate"),
                                                              lc.get("lc_win_rate_ci95"))]
    bars = [(label, v, ci) for label, v, ci in bars if v is not None]
    if not bars:
        ax.text(0.5, 0.5, "no complete pairs", ha="center", va="center", transform=ax.transAxes)
        return
    labels, values = [b[0] for b in bars], [b[1] for b in bars]
    errors = [[v - ci[0] if ci else 0 for _, v, ci in bars], [ci[1] - v if ci else 0 for _, v, ci in bars]]
    ax.bar(labels, values, yerr=errors, capsize=6, color=["#4c72b0", "#dd8452"][: len(bars)])
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"{first} win rate (95% CI)")
    ax.set_title("Raw vs length-controlled")
