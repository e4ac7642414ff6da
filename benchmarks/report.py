"""Turn the measurements of one run into results/<date>.json, a markdown table (<date>.md) and a plot (<date>.png)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.contenders import CONTENDERS, LABELS, TRL_RUNS

VARIANT_TITLES = {"short": "Alpaca-style rows", "long_tail": "long-tailed rows"}


def aggregate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One contender over its rounds: times and token counts add up; rates are totals / totals."""
    seconds = sum(r["seconds"] for r in results)
    useful = sum(r["useful_tokens"] for r in results)
    padded = sum(r["padded_tokens"] for r in results)
    return {
        "label": results[0]["label"],
        "examples": sum(r["examples"] for r in results),
        "steps": sum(r["steps"] for r in results),
        "seconds_per_epoch": round(seconds, 4),  # tiny runs take a fraction of a second
        "useful_tokens": useful,
        "processed_tokens": padded,
        "trained_tokens": sum(r["trained_tokens"] for r in results),
        "causal_pairs": sum(r["causal_pairs"] for r in results),
        "non_pad_share": round(useful / padded, 4) if padded else 0.0,
        "useful_tokens_per_s": round(useful / seconds, 2) if seconds else 0.0,
        "processed_tokens_per_s": round(padded / seconds, 2) if seconds else 0.0,
        "useful_tokens_per_s_after_first_step": _after_first_step(results),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "per_round_useful_tokens_per_s": [r["useful_tokens_per_s"] for r in results],
        "settings": results[0].get("settings", {}),
    }


def _after_first_step(results: list[dict[str, Any]]) -> float | None:
    """The same rate without each round's first step (warm-up), when every round had at least two steps."""
    parts = [r.get("after_first_step") for r in results]
    if not parts or any(p is None for p in parts):
        return None
    seconds = sum(p[1] for p in parts)
    return round(sum(p[0] for p in parts) / seconds, 2) if seconds else None


def best_trl(contenders: dict[str, dict[str, Any]]) -> str | None:
    """(b'): the TRL run with the most useful tokens/s over the whole benchmark run."""
    runs = [n for n in TRL_RUNS if n in contenders and "error" not in contenders[n]]
    return max(runs, key=lambda n: contenders[n]["useful_tokens_per_s"]) if runs else None


def ratios(contenders: dict[str, dict[str, Any]], rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """(c)/(a), (c)/(b) and (c)/(b') in useful tokens/s, over the whole run and per round (measured side by side)."""
    out: dict[str, Any] = {}
    c = contenders.get("sft_recipes")
    best = best_trl(contenders)
    if best:
        out["b_best"] = best
    for other, key in (("classic", "c_over_a"), ("trl", "c_over_b"), (best, "c_over_b_best")):
        o = contenders.get(other) if other else None
        if c and o and "error" not in c and "error" not in o and o["useful_tokens_per_s"]:
            out[key] = round(c["useful_tokens_per_s"] / o["useful_tokens_per_s"], 3)
            out[key + "_per_round"] = [
                round(r["sft_recipes"]["useful_tokens_per_s"] / r[other]["useful_tokens_per_s"], 3)
                for r in rounds if "sft_recipes" in r and other in r and r[other]["useful_tokens_per_s"]
            ]
    return out


def write_all(result: dict[str, Any], out_dir: Path, stem: str) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{stem}.json", "md": out_dir / f"{stem}.md", "png": out_dir / f"{stem}.png"}
    paths["json"].write_text(json.dumps(result, indent=2))
    paths["md"].write_text(markdown(result, paths["png"].name))
    plot(result, paths["png"])
    return paths


def _settings(c: dict[str, Any]) -> str:
    keys = ("padding", "order", "packing", "attention", "activation_checkpointing", "max_length")
    return ", ".join(f"{k} {c['settings'][k]}" for k in keys if k in c.get("settings", {}))


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def training_section(variant: str, block: dict[str, Any]) -> list[str]:
    """One data shape: the contenders' table, the ratios and which TRL run was (b')."""
    prof = block["length_profile"]
    lines = [
        f"## Training throughput: {VARIANT_TITLES.get(variant, variant)} (max_length {block['max_length']})",
        "",
        f"Rows: mean {prof['mean']} tokens, median {prof['median']}, p95 {prof['p95']}, max {prof['max']}, "
        f"{prof['over_400']} rows >= 400 tokens (SmolLM2 tokenizer, chat template applied).",
        "",
        "| contender | examples | steps | s / epoch | useful tok/s | non-pad share | peak RSS MB | per-round tok/s "
        "| tok/s after 1st step |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name in CONTENDERS:
        c = block["contenders"].get(name)
        if not c:
            continue
        if "error" in c:
            lines.append(f"| {c['label']} | failed: {c['error']} | | | | | | | |")
            continue
        per_round = ", ".join(_fmt(x) for x in c["per_round_useful_tokens_per_s"])
        lines.append(
            f"| {c['label']} | {c['examples']} | {c['steps']} | {_fmt(c['seconds_per_epoch'])} | "
            f"{_fmt(c['useful_tokens_per_s'])} | {c['non_pad_share']:.1%} | {_fmt(c['peak_rss_mb'], 0)} | "
            f"{per_round} | {_fmt(c['useful_tokens_per_s_after_first_step'])} |"
        )
    r = block["ratios"]
    parts = [f"{name} = {r[key]:.2f}x (per round: {', '.join(f'{x:.2f}' for x in r[key + '_per_round'])})"
             for key, name in (("c_over_a", "(c)/(a)"), ("c_over_b", "(c)/(b)"), ("c_over_b_best", "(c)/(b')"))
             if key in r]
    lines += ["", "Useful tokens/s ratios: " + "; ".join(parts), ""]
    if r.get("b_best"):
        lines += [f"(b') TRL best on these rows: {LABELS[r['b_best']]}, the fastest of the TRL runs above "
                  "(each is TRL's defaults plus that one option). Settings per run:", ""]
        lines += [f"- {LABELS[n]}: {_settings(block['contenders'][n])}" for n in (*TRL_RUNS, "sft_recipes")
                  if n in block["contenders"] and "error" not in block["contenders"][n]]
        lines.append("")
    return lines


def markdown(result: dict[str, Any], png_name: str) -> str:
    m = result["machine"]
    lines = [
        f"# sft-recipes benchmark, {result['date']}",
        "",
        f"Model: {result['settings']['model']} ({result['settings']['model_path']}), LoRA r={result['settings']['lora_r']} "
        f"all-linear, fp32, batch {result['settings']['batch_size']}, 1 epoch, seed {result['settings']['seed']}. "
        f"Machine: {m['cpus']} CPUs, torch threads {m['torch_threads']}; load average before "
        f"{m['load_before']}, after {m['load_after']}. Rounds: {result['settings']['rounds']} "
        "(contenders alternate order each round; times and tokens are summed over rounds).",
        "",
    ]
    for variant, block in result["training"].items():
        lines += training_section(variant, block)
    if result.get("padding"):
        pad = result["padding"]
        lines += ["## Padding efficiency by data size (batch " + str(pad["batch_size"]) + ", no training)", "",
                  "Non-pad share of the positions a pad-to-longest collator produces, with transformers' own "
                  "samplers on the synthetic rows' token lengths.", "",
                  "| rows | variant | group_by_length | random order | pad to max_length |", "|---:|---|---:|---:|---:|"]
        for variant, v in pad["variants"].items():
            for row in v["by_rows"]:
                lines.append(f"| {row['rows']:,} | {variant} | {row['group_by_length']:.1%} | {row['random']:.1%} | "
                             f"{row['pad_to_max_length']:.1%} (to {v['pad_to']}) |")
        lines.append("")
    if result.get("flops"):
        f = result["flops"]
        lines += [
            "## FLOP efficiency of (c)",
            "",
            f"Formula: {f['formula']}.",
            "",
            "| variant | achieved GFLOP/s | fp32 GEMM GFLOP/s (best, same run) | efficiency |",
            "|---|---:|---:|---:|",
        ]
        for variant, v in f["variants"].items():
            lines.append(f"| {variant} | {_fmt(v['achieved_gflops'], 2)} | {_fmt(f['gemm_gflops'], 2)} | "
                         f"{v['efficiency']:.1%} |")
        lines += ["", f"GEMM {f['gemm_shape']} measured before training {_fmt(f['gemm_before_gflops'], 2)} and after "
                      f"{_fmt(f['gemm_after_gflops'], 2)} GFLOP/s (best of 5 windows each); the higher is used.", ""]
    if result.get("prep"):
        p = result["prep"]
        lines += [
            f"## Data preparation: {p['rows']:,} Alpaca-style rows",
            "",
            "| contender | seconds | rows/s | rows out | rejected | trained tokens | processes | peak RSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in ("sft_recipes", "trl"):
            c = p["contenders"].get(name)
            if c:
                lines.append(f"| {name} | {_fmt(c['seconds'])} | {_fmt(c['rows_per_s'])} | {c['rows_out']:,} | "
                             f"{c['rejected']} | {c['trained_tokens']:,} | {c['num_proc'] or 1} | "
                             f"{_fmt(c['peak_rss_mb'], 0)} |")
        lines += ["", "sft_recipes: " + p["contenders"].get("sft_recipes", {}).get("does", "-") + ".",
                  "trl: " + p["contenders"].get("trl", {}).get("does", "-") + ".", ""]
    lines += ["## Targets", "", "| target | measured | met |", "|---|---:|---|"]
    for t in result["targets"]:
        lines.append(f"| {t['name']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |")
    lines += ["", f"![benchmark]({png_name})", ""]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(result["training"])
    panels = len(variants) + (1 if result.get("prep") else 0)
    fig, axes = plt.subplots(1, max(panels, 1), figsize=(6.2 * max(panels, 1), 4.2))
    axes = [axes] if max(panels, 1) == 1 else list(axes)
    colors = {"classic": "#b0b0b0", "trl": "#6a9fd4", "trl_group_by_length": "#8fb5de", "trl_padding_free": "#a9c6e6",
              "trl_packing": "#c3d7ee", "sft_recipes": "#2e8b57"}
    short = {"classic": "(a)", "trl": "(b)", "trl_group_by_length": "TRL+gbl", "trl_padding_free": "TRL+pf",
             "trl_packing": "TRL+pack", "sft_recipes": "(c)"}
    for ax, variant in zip(axes, variants):
        block = result["training"][variant]["contenders"]
        names = [n for n in CONTENDERS if n in block and "error" not in block[n]]
        values = [block[n]["useful_tokens_per_s"] for n in names]
        bars = ax.bar([short[n] for n in names], values, color=[colors[n] for n in names])
        for bar, n in zip(bars, names):
            ax.annotate(f"{block[n]['useful_tokens_per_s']:.0f}\n{block[n]['non_pad_share']:.0%} non-pad",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)
        ax.set_title(f"useful tokens/s: {VARIANT_TITLES.get(variant, variant)}")
        ax.tick_params(axis="x", labelsize=8)
        ax.set_ylim(0, max(values + [1]) * 1.3)
        ax.grid(axis="y", alpha=0.3)
    if result.get("prep"):
        ax = axes[-1]
        prep = result["prep"]["contenders"]
        names = [n for n in ("sft_recipes", "trl") if n in prep]
        ax.bar(names, [prep[n]["seconds"] for n in names], color=[colors[n] for n in names])
        ax.set_title(f"prepare {result['prep']['rows']:,} rows: seconds")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("(a) classic loop  (b) vanilla TRL  TRL+gbl/pf/pack: TRL with group_by_length / padding_free / "
                 "packing  (c) sft-recipes", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
