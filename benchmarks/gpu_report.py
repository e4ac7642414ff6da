"""The GPU benchmark's results: MFU per run, targets, and results/<date>-gpu.{json,md}."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

CHECK_NAMES = ("packed_vs_padded", "qlora_trains", "merge_bf16")


def device_peak_tflops(override: float | None) -> tuple[str, float | None]:
    import torch

    from benchmarks.gpu import PEAK_TFLOPS

    if not torch.cuda.is_available():
        return "cpu", override
    name = torch.cuda.get_device_name(0)
    if override:
        return name, override
    for key, value in PEAK_TFLOPS.items():  # most specific names first
        if key in name:
            return name, value
    return name, None


def add_mfu(run: dict[str, Any], peak_tflops: float | None, tiny: bool) -> None:
    from benchmarks import gpu_data
    from benchmarks.flops import Shapes, parameter_count, training_flops

    if "tokens_per_s" not in run:
        return
    job = run["job"]
    config = gpu_data.model_config(job["model"], tiny)
    shapes = Shapes.from_config(config)
    per_token = training_flops(shapes, job["method"], 16, 1, run["causal_pairs_per_token"],
                               run["scored_per_token"])["total"]
    params = parameter_count(shapes, bool(config.tie_word_embeddings))
    achieved = per_token * run["tokens_per_s"]
    run["flops_per_token"] = round(per_token)
    run["achieved_tflops"] = round(achieved / 1e12, 2)
    four_n = (6 if job["method"] == "full" else 4) * params * run["tokens_per_s"]
    if peak_tflops:
        run["mfu"] = round(achieved / (peak_tflops * 1e12), 4)
        run["mfu_4n"] = round(four_n / (peak_tflops * 1e12), 4)


def check_targets(runs: dict[str, Any]) -> list[dict[str, Any]]:
    from benchmarks.gpu import TARGETS

    out = []
    for name, (key, op, bound) in TARGETS.items():
        run = runs.get(name)
        if run is None:
            continue
        value = run.get(key)
        met = value is not None and (value >= bound if op == ">=" else value < bound)
        out.append({"name": f"{name}: {key} {op} {bound:,}", "measured": value, "met": met})
    return out


def summarize(results: dict[str, Any], plan, tiny: bool, peak_override: float | None) -> dict[str, Any]:
    import torch

    from benchmarks.flops import GPU_CONVENTION

    device, peak = device_peak_tflops(peak_override)
    for run in results["runs"].values():
        add_mfu(run, peak, tiny)
    targets = [] if tiny else check_targets(results["runs"])  # tiny shapes on a CPU say nothing about the targets
    checks = results.get("checks", {})
    failed = [n for n, r in results["runs"].items() if "error" in r]
    return {**results, "device": device, "peak_tflops": peak, "tiny": tiny, "convention": GPU_CONVENTION,
            "versions": _versions(), "torch_cuda": torch.version.cuda, "platform": platform.platform(),
            "targets": targets, "failed_runs": failed,
            "all_passed": not failed and all(t["met"] for t in targets) and checks.get("passed", not checks)}


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "transformers", "trl", "peft", "bitsandbytes", "flash-attn", "liger-kernel"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def markdown(s: dict[str, Any]) -> str:
    peak = f"{s['peak_tflops']} TFLOP/s dense bf16" if s["peak_tflops"] else "unknown peak (no MFU)"
    lines = [f"# sft-recipes GPU benchmark{' (tiny, CPU)' if s['tiny'] else ''}", "",
             f"Device: {s['device']} ({peak}); versions: " + ", ".join(f"{k} {v}" for k, v in s["versions"].items()
                                                                       if v) + f"; {s['seconds_total']:.0f} s.", "",
             "| run | tokens/s | MFU | MFU (4N) | TFLOP/s | peak GB | non-pad | attention | checkpointing | settings |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for name, r in s["runs"].items():
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error']} | | | | | | | | |")
            continue
        st = r["settings"]
        pct = lambda k: f"{r[k]:.1%}" if k in r else "-"  # noqa: E731
        lines.append(f"| {name} | {r['tokens_per_s']:,.0f} | {pct('mfu')} | {pct('mfu_4n')} | {r['achieved_tflops']} "
                     f"| {r.get('peak_allocated_gb', '-')} | {r['non_pad_share']:.1%} | {st['attention']} | "
                     f"{st['activation_checkpointing']} | packing {st['packing']}, padding-free {st['padding_free']}, "
                     f"liger {st['liger']}, {st['rows_per_step']} rows/step, {st['weights']} |")
    checks = s.get("checks") or {}
    if checks:
        lines += ["", "## Checks", ""]
        if "error" in checks:
            lines.append(f"- FAILED to run: {checks['error']}")
        lines += [f"- {k}: {'passed' if checks[k].get('passed') else 'FAILED'} "
                  + ", ".join(f"{x} {y}" for x, y in checks[k].items() if x != "passed")
                  for k in CHECK_NAMES if isinstance(checks.get(k), dict)]
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---:|---|"]
    lines += [f"| {t['name']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |" for t in s["targets"]]
    lines += ["", f"FLOP convention: {s['convention']}.", ""]
    return "\n".join(lines)


def write_results(summary: dict[str, Any], out_dir: Path, stem: str) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{stem}.json", "md": out_dir / f"{stem}.md"}
    paths["json"].write_text(json.dumps(summary, indent=2, default=str))
    paths["md"].write_text(markdown(summary))
    return paths
