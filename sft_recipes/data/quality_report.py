"""The data quality report on disk: report.json, report.md and plots/*.png of ``quality.analyze_rows``' result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from sft_recipes.data.quality import OPENING_WORDS


def plot_quality(report: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    lengths = report.get("_length_values")
    if lengths:
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        for ax, name in zip(axes, ("instruction", "response", "total")):
            ax.hist(lengths[name], bins=40, color="#4c72b0")
            ax.set_title(f"{name} tokens per row")
            ax.set_xlabel("tokens")
            ax.set_ylabel("rows")
            limit = report["lengths"].get("max_length")
            if name == "total" and limit:
                ax.axvline(limit, color="#c44e52", linestyle="--", label=f"max_length {limit}")
                ax.legend()
        paths.append(save_figure(fig, out_dir / "token_lengths.png", plt))

    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    for ax, side in zip(axes, ("instruction", "response")):
        top = report["openings"][side][str(OPENING_WORDS[-1])][:8]
        if top:
            ax.barh([t["opening"][:40] for t in top][::-1], [t["share"] for t in top][::-1], color="#c44e52")
        ax.set_title(f"top {OPENING_WORDS[-1]}-word {side} openings (share of rows)")
        ax.set_xlim(0, 1)
    fig.tight_layout()
    paths.append(save_figure(fig, out_dir / "openings.png", plt))

    d = report["diversity"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    names = ["unique_instruction_ratio", "unique_response_ratio", "distinct_1", "distinct_2"]
    ax.bar([n.replace("_", "\n") for n in names], [d[n] for n in names], color="#55a868")
    ax.set_ylim(0, 1)
    ax.set_title("diversity (higher = more varied)")
    paths.append(save_figure(fig, out_dir / "diversity.png", plt))

    nd = report["near_duplicates"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if nd["similarities"]:
        ax.hist(nd["similarities"], bins=20, range=(nd["threshold"], 1.0), color="#8172b2")
    ax.set_title(f"near-duplicate pairs: {nd['pairs']} (Jaccard >= {nd['threshold']})")
    ax.set_xlabel("Jaccard similarity of word 5-gram shingles")
    ax.set_ylabel("pairs")
    paths.append(save_figure(fig, out_dir / "near_duplicates.png", plt))
    return paths


def save_figure(fig, path: Path, plt) -> Path:
    """Write a figure as a PNG and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render_markdown(report: dict[str, Any], plots: Sequence[Path], title: str = "Data quality") -> str:
    lines = [f"# {title}", ""]
    if report.get("source"):
        lines += [f"Data: `{report['source']}`", ""]
    lines += [f"{report['rows']} rows; instruction types: "
              + ", ".join(f"{k} {v}" for k, v in sorted(report["tasks"].items())), ""]
    if report.get("rejected"):
        lines += [f"Rejected while reading and cleaning: {sum(report['rejected'].values())} ("
                  + ", ".join(f"{k}: {v}" for k, v in report["rejected"].items()) + ")", ""]
    if "lengths" in report:
        lengths = report["lengths"]
        lines += ["## Token lengths", "", "| tokens per row | min | mean | p50 | p90 | p99 | max |",
                  "|---|---|---|---|---|---|---|"]
        for name in ("instruction", "response", "total"):
            p = lengths[name]
            lines.append(f"| {name} | " + " | ".join(str(p.get(k, "")) for k in ("min", "mean", "p50", "p90",
                                                                                    "p99", "max")) + " |")
        if "max_length" in lengths:
            lines += ["", f"Rows over max_length ({lengths['max_length']}): **{lengths['over_max_length']}** "
                          f"({lengths['over_max_length_share']:.1%})"]
        lines.append("")
    d = report["diversity"]
    lines += ["## Diversity", "",
              f"- unique-instruction ratio: **{d['unique_instruction_ratio']:.3f}** "
              f"({d['unique_instructions']} of {d['rows']})",
              f"- unique-response ratio: {d['unique_response_ratio']:.3f}",
              f"- distinct-1 / distinct-2 of responses: {d['distinct_1']:.3f} / {d['distinct_2']:.3f}", ""]
    lines += ["## Repeated openings", ""]
    for side in ("instruction", "response"):
        top = report["openings"][side][str(OPENING_WORDS[-1])][:5]
        lines.append(f"Top {OPENING_WORDS[-1]}-word {side} openings: "
                     + ("; ".join(f"\"{t['opening']}\" {t['share']:.1%}" for t in top) or "none"))
        lines.append("")
    nd = report["near_duplicates"]
    lines += ["## Near-duplicates", "",
              f"MinHash LSH ({nd['num_perm']} permutations) over word {nd['shingle_words']}-gram shingles, "
              f"candidates verified with exact Jaccard >= {nd['threshold']}.", "",
              f"- pairs across groups: **{nd['pairs']}** ({nd['exact_pairs']} identical after normalisation)",
              f"- clusters: {nd['clusters']} holding {nd['rows_in_clusters']} rows; keeping one per cluster would "
              f"remove {nd['removable_rows']} rows ({nd['removable_share']:.1%})",
              f"- pairs within one group (a shared document, expected): {nd['within_group_pairs']}", ""]
    if nd["top_pairs"]:
        lines += ["| Jaccard | row | near-duplicate of |", "|---|---|---|"]
        lines += [f"| {p['jaccard']:.3f} | {p['source_b']} | {p['source_a']} |" for p in nd["top_pairs"][:10]]
        lines.append("")
    for p in plots:
        lines += [f"![{p.stem}](plots/{p.name})", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_quality_report(report: dict[str, Any], out_dir: str | Path, title: str = "Data quality") -> dict[str, Path]:
    """report.json (without the per-row length lists), report.md and plots/*.png in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = plot_quality(report, out / "plots")
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    (out / "report.json").write_text(json.dumps(public, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render_markdown(public, plots, title), encoding="utf-8")
    return {"json": out / "report.json", "markdown": out / "report.md", **{p.stem: p for p in plots}}
