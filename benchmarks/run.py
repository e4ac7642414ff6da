"""One command for every benchmark: training throughput (classic loop, vanilla TRL, TRL with each of its batching
options, sft-recipes), padding efficiency, FLOP efficiency of sft-recipes' training, and data preparation speed
against TRL.

    python benchmarks/run.py                   # the full run (~25 min on 2 cores): results/<date>.{json,md,png}
    python benchmarks/run.py --tiny --model DIR   # a seconds-long correctness run (CI), e.g. on a tiny model

The machine is shared and noisy, so the figures that count are ratios measured side by side: every contender trains
on the same rows in each round, rounds alternate the contenders' order, and the matmul reference rate is measured
in the same run. Each contender trains in its own process (peak RSS is its own); nothing is extrapolated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(ROOT))

from benchmarks import data as bench_data  # noqa: E402
from benchmarks.contenders import CONTENDERS, LABELS, Job, sft_recipe  # noqa: E402
from benchmarks.flops import FORMULA, Shapes, lora_step_flops, matmul_rate  # noqa: E402
from benchmarks.report import aggregate, ratios, write_all  # noqa: E402

# (c) at its best CPU settings per data shape (recipe keys; --sft-override adds to them). Short rows of similar
# length: batches sorted by length (no padding to speak of; one dense attention call per layer). A long tail:
# padding-free batches (rows concatenated, each attending to itself alone: sft_recipes/train/varlen_attention.py) in random
# order; padding a batch to its 900-token row would waste half of it, and sorting padding-free rows by length gains
# nothing but puts the longest rows in one batch.
SFT_SETTINGS: dict[str, dict[str, Any]] = {"short": {},
                                           "long_tail": {"padding_free": True, "train_sampling_strategy": "random"}}

CHILD_ENV = {"TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
             "WANDB_DISABLED": "true", "PYTHONWARNINGS": "ignore"}


class BenchmarkError(RuntimeError):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="a correctness run: a handful of rows, 1 round (use --model)")
    p.add_argument("--model", default="embedded", help="model for every contender (default: embedded SmolLM2-135M)")
    p.add_argument("--rows", type=int, help="short rows trained by (b) and (c) (default 512)")
    p.add_argument("--classic-rows", type=int, help="short rows trained by (a), a length-stratified subset (48)")
    p.add_argument("--long-rows", type=int, help="long-tail rows trained by (b) and (c) (default 64)")
    p.add_argument("--classic-long-rows", type=int, help="long-tail rows trained by (a) (default 16)")
    p.add_argument("--long-share", type=float, default=0.125, help="share of 400-1000-token rows in the long tail")
    p.add_argument("--rounds", type=int, help="rounds, alternating contender order (default 2)")
    p.add_argument("--prep-rows", type=int, help="rows of the data preparation benchmark (default 52000)")
    p.add_argument("--batch-size", type=int, help="per-step batch of every contender (default 8)")
    p.add_argument("--max-length", type=int, default=512, help="max_length (and the classic loop's padding), short")
    p.add_argument("--long-max-length", type=int, default=1024, help="the same for the long-tail variant")
    p.add_argument("--contenders", default=",".join(CONTENDERS), help="subset of " + ",".join(CONTENDERS))
    p.add_argument("--variants", default="short,long_tail", help="short,long_tail")
    p.add_argument("--skip-prep", action="store_true", help="leave out the data preparation benchmark")
    p.add_argument("--skip-training", action="store_true", help="leave out the training benchmarks")
    p.add_argument("--sft-override", action="append", default=[], metavar="KEY=VALUE",
                   help="recipe key for contender (c), e.g. packing=true (YAML value); repeatable")
    p.add_argument("--trl-override", action="append", default=[], metavar="KEY=VALUE",
                   help="SFTConfig key for the TRL runs with an option (not (b)), e.g. activation_checkpointing=false")
    p.add_argument("--parallel", type=int, help="contender processes at once (1 for timing; --tiny uses 2)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="results directory")
    p.add_argument("--work-dir", type=Path, help="scratch directory (default: a temporary one, removed)")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    defaults = (dict(rows=8, classic_rows=4, long_rows=4, classic_long_rows=2, rounds=1, prep_rows=200, parallel=2,
                     batch_size=2)
                if args.tiny else
                dict(rows=512, classic_rows=48, long_rows=64, classic_long_rows=16, rounds=2, prep_rows=52000,
                     parallel=1, batch_size=8))
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = set(args.contenders.split(",")) - set(CONTENDERS)
    if unknown:
        p.error(f"unknown contender(s) {', '.join(sorted(unknown))}")
    if args.rounds < 1 or args.rows < args.rounds:
        p.error("--rounds must be >= 1 and --rows at least one row per round")
    return args


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_child(module: str, job: dict[str, Any], work: Path, name: str) -> dict[str, Any]:
    """``python -m <module> job.json result.json`` in a fresh process; its log stays in the work dir."""
    job_path, result_path, log_path = work / f"{name}.job.json", work / f"{name}.result.json", work / f"{name}.log"
    job_path.write_text(json.dumps(job, indent=2))
    env = {**os.environ, **CHILD_ENV}
    with log_path.open("w") as log:
        code = subprocess.run([sys.executable, "-m", module, str(job_path), str(result_path)], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT).returncode
    if code != 0 or not result_path.is_file():
        tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise BenchmarkError(f"{name} failed (exit {code}): {tail[0]} (log: {log_path})")
    return json.loads(result_path.read_text())


def prepare_chunks(args: argparse.Namespace, work: Path, model: str, variant: str) -> tuple[list[Job], dict]:
    """Write each round's rows and prepare them once with sft-recipes; every contender reads that result."""
    from sft_recipes.prepare import run_prepare

    long = variant == "long_tail"
    total = args.long_rows if long else args.rows
    classic_total = args.classic_long_rows if long else args.classic_rows
    max_length = args.long_max_length if long else args.max_length
    jobs, lengths = [], []
    for r in range(args.rounds):
        n = total // args.rounds + (1 if r < total % args.rounds else 0)
        rows = bench_data.alpaca_rows(n, seed=1000 * (2 if long else 1) + r, long_share=args.long_share if long else 0)
        base = work / variant / f"round{r}"
        data_file = bench_data.write_jsonl(rows, base / "rows.jsonl")
        job = Job(contender="sft_recipes", model=model, data_file=str(data_file), prepared_dir=str(base / "prepared"),
                  output_dir=str(base / "run"), max_length=max_length, batch_size=args.batch_size, seed=args.seed,
                  overrides={**SFT_SETTINGS[variant], **_overrides(args.sft_override)},
                  trl_overrides=_overrides(args.trl_override))
        prepared = run_prepare(sft_recipe(job), verbose=False)
        train = prepared.dataset["train"]
        if len(train) != n:
            raise BenchmarkError(f"{variant} round {r}: prepare kept {len(train)} of {n} rows (see "
                                 f"{base / 'prepared' / 'rejects.jsonl'})")
        lengths += [len(ids) for ids in train["input_ids"]]
        classic_rows = classic_total // args.rounds + (1 if r < classic_total % args.rounds else 0)
        jobs.append((job, classic_rows))
    out = []
    for job, classic_rows in jobs:
        out.append({name: replace(job, contender=name, output_dir=str(Path(job.output_dir).parent / name),
                                  rows=classic_rows if name == "classic" else None)
                    for name in CONTENDERS})
    return out, {"max_length": max_length, "length_profile": bench_data.length_profile(lengths)}


def _overrides(pairs: list[str]) -> dict[str, Any]:
    import yaml

    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq:
            raise BenchmarkError(f"--sft-override expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def run_training(args, work: Path, model: str) -> dict[str, Any]:
    names = [n for n in CONTENDERS if n in args.contenders.split(",")]
    variants = [v for v in ("short", "long_tail") if v in args.variants.split(",")]
    plans = {v: prepare_chunks(args, work, model, v) for v in variants}
    # Rounds alternate the order (a b ... c, then c ... b a) so a load change mid-run hits every contender alike.
    schedule = []
    for r in range(args.rounds):
        order = names if r % 2 == 0 else list(reversed(names))
        for v in variants:
            schedule += [(v, r, name) for name in order]

    def one(item):
        v, r, name = item
        job = plans[v][0][r][name]
        print(f"[bench] {v} round {r + 1}/{args.rounds}: {name} ...", flush=True)
        try:
            result = run_child("benchmarks.contenders", asdict(job), work, f"{v}-r{r}-{name}")
        except BenchmarkError as e:  # e.g. killed for memory: reported as such, the other contenders still run
            print(f"[bench] {v} round {r + 1}: {name}: FAILED: {e}", flush=True)
            return item, {"error": str(e)}
        print(f"[bench] {v} round {r + 1}: {name}: {result['useful_tokens_per_s']:.1f} useful tok/s, "
              f"{result['non_pad_share']:.1%} non-pad, {result['seconds']:.1f}s", flush=True)
        return item, result

    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        measured = dict(pool.map(one, schedule))
    training = {}
    for v in variants:
        per_round = [{name: measured[(v, r, name)] for name in names} for r in range(args.rounds)]
        contenders = {}
        for name in names:
            runs = [per_round[r][name] for r in range(args.rounds)]
            failed = [x["error"] for x in runs if "error" in x]
            contenders[name] = {"label": LABELS[name], "error": failed[0]} if failed else aggregate(runs)
        per_round = [{k: x for k, x in rd.items() if "error" not in x} for rd in per_round]
        training[v] = {**plans[v][1], "contenders": contenders, "ratios": ratios(contenders, per_round),
                       "rounds": per_round}
    return training


def flop_efficiency(training: dict[str, Any], model_path: str, lora_r: int, gemm: list[dict]) -> dict[str, Any]:
    from transformers import AutoConfig

    shapes = Shapes.from_config(AutoConfig.from_pretrained(model_path))
    best = max(g["best"] for g in gemm)
    out = {"formula": FORMULA, "shapes": asdict(shapes), "lora_r": lora_r, "gemm_shape": gemm[0]["shape"],
           "gemm_gflops": round(best / 1e9, 3), "gemm_before_gflops": round(gemm[0]["best"] / 1e9, 3),
           "gemm_after_gflops": round(gemm[-1]["best"] / 1e9, 3), "variants": {}}
    for variant, block in training.items():
        c = block["contenders"].get("sft_recipes")
        if not c or "error" in c:
            continue
        # sft-recipes' trainer projects only the labelled positions through the LM head
        flops = lora_step_flops(shapes, lora_r, c["useful_tokens"], c["causal_pairs"], c["trained_tokens"])
        achieved = flops["total"] / c["seconds_per_epoch"]
        out["variants"][variant] = {
            "flops": {k: float(f"{v:.4g}") for k, v in flops.items()},
            "flops_per_useful_token": round(flops["total"] / c["useful_tokens"]),
            "achieved_gflops": round(achieved / 1e9, 3),
            "efficiency": round(achieved / best, 4),
        }
    return out


def run_padding(args, model_path: str) -> dict[str, Any]:
    """Non-pad share of each batching order by data size, on the synthetic rows' real token lengths (no training)."""
    from transformers import AutoTokenizer

    from benchmarks.padding import padding_by_size

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    sizes = [16, 64] if args.tiny else [64, 256, 1024, 4096, 16384]
    out = {"batch_size": args.batch_size, "variants": {}}
    for variant, share, pad_to in (("short", 0.0, args.max_length), ("long_tail", args.long_share,
                                                                      args.long_max_length)):
        rows = bench_data.alpaca_rows(max(sizes), seed=5, long_share=share)
        lengths = bench_data.templated_lengths(rows, tokenizer)
        out["variants"][variant] = {"pad_to": pad_to,
                                    "by_rows": padding_by_size(lengths, sizes, args.batch_size, pad_to, args.seed)}
    return out


def run_prep(args, work: Path, model: str) -> dict[str, Any]:
    rows = bench_data.alpaca_rows(args.prep_rows, seed=7)
    data_file = bench_data.write_jsonl(rows, work / "prep" / "alpaca.jsonl")

    def one(name: str) -> tuple[str, dict[str, Any]]:
        print(f"[bench] data preparation, {args.prep_rows:,} rows: {name} ...", flush=True)
        job = {"contender": name, "model": model, "data_file": str(data_file), "rows": args.prep_rows,
               "out_dir": str(work / "prep" / name), "max_length": 1024}
        result = run_child("benchmarks.prep", job, work, f"prep-{name}")
        print(f"[bench] data preparation: {name}: {result['seconds']:.1f}s", flush=True)
        return name, result

    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        contenders = dict(pool.map(one, ("trl", "sft_recipes")))
    return {"rows": args.prep_rows, "max_length": 1024, "contenders": contenders,
            "ratio_trl_over_sft_recipes_seconds": round(contenders["trl"]["seconds"]
                                                        / contenders["sft_recipes"]["seconds"], 3)}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    short = result["training"].get("short")
    if short:
        r = short["ratios"]
        if "c_over_a" in r:
            out.append({"name": "(c)/(a) useful tokens/s >= 4x", "measured": f"{r['c_over_a']:.2f}x",
                        "met": r["c_over_a"] >= 4})
        if "c_over_b" in r:
            out.append({"name": "(c)/(b) useful tokens/s >= 1.2x", "measured": f"{r['c_over_b']:.2f}x",
                        "met": r["c_over_b"] >= 1.2})
    for variant, block in result["training"].items():
        r = block["ratios"]
        if "c_over_b_best" in r:
            out.append({"name": f"(c)/(b') useful tokens/s >= 1.3x vs TRL best ({variant}: {r['b_best']})",
                        "measured": f"{r['c_over_b_best']:.2f}x", "met": r["c_over_b_best"] >= 1.3})
    for variant, block in result["training"].items():
        c = block["contenders"].get("sft_recipes")
        if c and "error" not in c:
            out.append({"name": f"(c) non-pad share >= 98% ({variant})", "measured": f"{c['non_pad_share']:.1%}",
                        "met": c["non_pad_share"] >= 0.98})
    for variant, v in (result.get("flops") or {}).get("variants", {}).items():
        out.append({"name": f"(c) FLOP efficiency >= 50% of fp32 GEMM ({variant})",
                    "measured": f"{v['efficiency']:.1%}", "met": v["efficiency"] >= 0.5})
    prep = result.get("prep")
    if prep:
        ours, trl = prep["contenders"]["sft_recipes"], prep["contenders"]["trl"]
        out.append({"name": f"prepare {prep['rows']:,} rows <= 60 s", "measured": f"{ours['seconds']:.1f} s",
                    "met": ours["seconds"] <= 60})
        out.append({"name": "prepare not slower than TRL", "measured": f"{ours['seconds']:.1f} s vs "
                    f"{trl['seconds']:.1f} s", "met": ours["seconds"] <= trl["seconds"]})
    return out


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {pkg: version(pkg) for pkg in ("torch", "transformers", "trl", "peft", "datasets", "accelerate")}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.update(CHILD_ENV)
    import torch

    from sft_recipes.inference.models import resolve_model

    started = time.perf_counter()
    model_path = resolve_model(args.model).path
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="sft-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "tiny": args.tiny,
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
                    "python": platform.python_version(), "load_before": load_average(), "versions": versions()},
        "settings": {"model": args.model, "model_path": model_path, "lora_r": 16, "lora_alpha": 32,
                     "lora_target_modules": "all-linear", "dtype": "float32", "batch_size": args.batch_size,
                     "seed": args.seed, "rounds": args.rounds, "rows": args.rows, "classic_rows": args.classic_rows,
                     "long_rows": args.long_rows, "classic_long_rows": args.classic_long_rows,
                     "long_share": args.long_share, "sft_overrides": _overrides(args.sft_override),
                     "trl_overrides": _overrides(args.trl_override), "sft_settings": SFT_SETTINGS},
    }
    try:
        # The reference rate: [tokens of a step x d_model] @ [d_model x d_ff], before and after the training runs.
        shape = (args.batch_size * 64, *_gemm_kn(model_path))
        result["training"] = {}
        if not args.skip_training:
            gemm = [matmul_rate(*shape, seconds=1.0 if args.tiny else 3.0)]
            result["training"] = run_training(args, work, args.model)
            gemm.append(matmul_rate(*shape, seconds=1.0 if args.tiny else 3.0))
            result["flops"] = flop_efficiency(result["training"], model_path, 16, gemm)
        result["padding"] = run_padding(args, model_path)
        if not args.skip_prep:
            result["prep"] = run_prep(args, work, args.model)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"]["load_after"] = load_average()
    result["seconds_total"] = round(time.perf_counter() - started, 1)
    result["targets"] = targets(result)
    stem = dt.datetime.now().strftime("%Y-%m-%d") + ("-tiny" if args.tiny else "")
    paths = write_all(result, args.out, stem)
    print(paths["md"].read_text())
    print(f"[bench] {result['seconds_total']:.0f}s; results: {paths['json']}, {paths['md']}, {paths['png']}")
    return 0


def _gemm_kn(model_path: str) -> tuple[int, int]:
    """The model's dominant matmul: d_model x d_ff (576 x 1536 for SmolLM2-135M)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_path)
    return config.hidden_size, config.intermediate_size


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print(f"benchmark error: {e}", file=sys.stderr)
        sys.exit(1)
