"""``sft-recipes meta-eval``: how far to trust a judge, against reference (e.g. human) scores or labels.

    sft-recipes meta-eval --judgments runs/x/judge/judgments.jsonl --reference human.jsonl [--out DIR]

Reference: JSONL rows (``id`` + ``score`` [+ ``model``] for single mode, ``id`` + ``winner`` for pairwise) or a
plain JSON list aligned by position. Prints Pearson / Spearman / Kendall (scores) or agreement and Cohen's kappa
(labels) with seeded bootstrap 95% intervals; writes meta_eval.json, meta_eval.md and meta_eval.png into --out.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from sft_recipes.evaluation.meta_eval import meta_eval


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sft-recipes meta-eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--judgments", required=True, help="judgments.jsonl written by sft-recipes judge")
    p.add_argument("--reference", required=True, help="reference scores / winners (JSONL rows or a JSON list)")
    p.add_argument("--out", help="output directory (default: beside the judgments file)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    return p


def render_markdown(report: dict[str, Any]) -> str:
    names = ("pearson", "spearman", "kendall") if report["mode"] == "single" else (
        "agreement_with_ties", "agreement_without_ties", "cohen_kappa")
    lines = [f"# Judge meta-evaluation ({report['mode']})", "",
             f"- items matched: {report['matched']} (judged with a verdict {report['judged']}, references "
             f"{report['references']}); bootstrap: {report['bootstrap']['resamples']} resamples, seed "
             f"{report['bootstrap']['seed']}", "", "| statistic | value | 95% CI |", "|---|---:|---|"]
    for name in names:
        value, ci = report.get(name), report["ci95"].get(name)
        shown = "-" if value is None else f"{value:.4f}"
        lines.append(f"| {name} | {shown} | {'-' if ci is None else f'{ci[0]:.3f} to {ci[1]:.3f}'} |")
    return "\n".join(lines + ["", "![judge vs reference](meta_eval.png)", ""])


def plot(report: dict[str, Any], path: Path) -> None:
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4.2), dpi=100)
    ax = fig.add_subplot()
    judge, ref = report["judge_values"], report["reference_values"]
    if report["mode"] == "single":
        counts = Counter(zip(ref, judge))
        xs, ys = zip(*counts) if counts else ((), ())
        ax.scatter(xs, ys, s=[30 * counts[p] for p in counts], alpha=0.6, color="#4c72b0")
        ax.set_xlabel("reference score")
        ax.set_ylabel("judge score")
        r = report.get("spearman")
        ax.set_title(f"Judge vs reference (n={len(judge)}, Spearman {r:.2f})" if r is not None else "Judge vs reference")
    else:
        labels = sorted(set(judge) | set(ref))
        grid = np.array([[sum(1 for j, r in zip(judge, ref) if r == a and j == b) for b in labels] for a in labels])
        ax.imshow(grid, cmap="Blues")
        for (i, k), v in np.ndenumerate(grid):
            ax.text(k, i, str(v), ha="center", va="center")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("judge")
        ax.set_ylabel("reference")
        kappa = report.get("cohen_kappa")
        ax.set_title(f"Winner labels (kappa {kappa:.2f})" if kappa is not None else "Winner labels")
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report = meta_eval(args.judgments, args.reference, seed=args.seed, resamples=args.resamples)
    out = Path(args.out) if args.out else Path(args.judgments).parent
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta_eval.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(report)
    (out / "meta_eval.md").write_text(markdown, encoding="utf-8")
    plot(report, out / "meta_eval.png")
    print(markdown)
    if report["matched"] < 2:
        print(f"meta-eval: only {report['matched']} item(s) matched between judgments and reference", flush=True)
        return 1
    return 0
