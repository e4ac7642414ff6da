"""The GPU benchmark: one command on a CUDA machine, nothing downloaded.

    python benchmarks/gpu.py            # on one H100/H200: ~8 min; writes results/<date>-gpu.{json,md}
    python benchmarks/gpu.py --plan     # anywhere: what it would run, every model built on the meta device
    python benchmarks/gpu.py --tiny --in-process --out DIR   # the same code on a CPU, tiny shapes (the tests)

Models are the published shapes of SmolLM2-135M, Qwen2.5-1.5B and Llama-3.1-8B (benchmarks/gpu_models/) with random
weights; rows are synthetic with the length mix of real SFT data (gpu_data.py). Per run: useful tokens/s, MFU under
the LoRA-aware convention of flops.GPU_CONVENTION (and the 4N figure), peak device memory; plus correctness checks
on the GPU (gpu_checks.py). Each job runs in its own process, so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks import gpu_data  # noqa: E402
from benchmarks.gpu_runs import GpuJob  # noqa: E402

CONTENDERS = ("trl_defaults", "trl_best", "sft_recipes")
# Dense bf16 peak FLOP/s by device name (NVIDIA data sheets, without sparsity); --peak-tflops for others.
PEAK_TFLOPS = {"H200": 989.4, "H100 SXM": 989.4, "H100 80GB HBM3": 989.4, "H100 NVL": 835.0, "H100 PCIe": 756.0,
               "H100": 756.0, "A100": 312.0, "L40S": 362.1, "L4": 121.0}
TARGETS = {"llama-3.1-8b/lora/sft_recipes": ("tokens_per_s", ">=", 8700.0),
           "llama-3.1-8b/qlora/sft_recipes": ("peak_allocated_gb", "<", 12.0)}


@dataclass(frozen=True)
class Planned:
    model: str
    method: str  # lora | qlora | full
    contender: str
    seq: int  # max_length
    tokens_per_step: int  # rows per step = this / mean row length (packing: this / seq packed rows)
    warmup: int = 3
    steps: int = 10

    @property
    def name(self) -> str:
        return f"{self.model}/{self.method}/{self.contender}"


PLAN = (
    *(Planned("qwen2.5-1.5b", "lora", c, 2048, 8192) for c in CONTENDERS),
    Planned("qwen2.5-1.5b", "full", "trl_best", 2048, 8192),
    Planned("qwen2.5-1.5b", "full", "sft_recipes", 2048, 8192),
    *(Planned("llama-3.1-8b", "lora", c, 4096, 4096) for c in CONTENDERS),
    Planned("llama-3.1-8b", "qlora", "sft_recipes", 4096, 4096, warmup=2, steps=6),
)
CHECK_MODEL = "smollm2-135m"
# What --plan's time estimate assumes (an estimate, not a measurement): MFU per contender, load/save rates.
ASSUMED_MFU = {"trl_defaults": 0.20, "trl_best": 0.30, "sft_recipes": 0.35, "qlora": 0.15}
PROCESS_START_S, DISK_GB_PER_S, CHECKS_S = 15.0, 1.5, 45.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/gpu.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--plan", action="store_true", help="print the plan; build each model on the meta device")
    p.add_argument("--only", help="run names containing this text (e.g. llama-3.1-8b, qlora, checks)")
    p.add_argument("--tiny", action="store_true", help="tiny shapes, 2 steps each (runs on a CPU: for tests)")
    p.add_argument("--in-process", action="store_true", help="run jobs in this process (tests; no peak memory)")
    p.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, when not in the table")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--work-dir", type=Path, help="where models and rows are written (default: a temporary dir)")
    return p.parse_args(argv)


def selected(args) -> tuple[list[Planned], bool]:
    plan = [p for p in PLAN if not args.only or args.only in p.name]
    if args.tiny:
        plan = [replace(p, seq=256, tokens_per_step=512, warmup=1, steps=2) for p in plan]
    return plan, not args.only or args.only in f"{CHECK_MODEL}/checks"


def mean_row_length(seq: int) -> float:
    lengths = gpu_data.row_lengths(4000, seq, seed=0)
    return sum(lengths) / len(lengths)


def job_for(p: Planned, work: Path) -> GpuJob:
    rows = max(1, round(p.tokens_per_step / mean_row_length(p.seq)))
    return GpuJob(kind="train", model=p.model, model_dir=str(work / "models" / p.model),
                  data_dir=str(work / "rows" / f"{p.model}-{p.seq}"), output_dir=str(work / "runs" / p.name),
                  method=p.method, contender=p.contender, seq=p.seq, rows_per_step=rows,
                  packed_rows_per_step=max(1, p.tokens_per_step // p.seq), warmup=p.warmup, steps=p.steps)


def write_rows(model: str, seq: int, steps: int, rows_per_step: int, out: Path, tiny: bool) -> None:
    from datasets import Dataset

    if out.is_dir():
        return
    vocab = gpu_data.model_config(model, tiny).vocab_size
    n = max(64, 3 * steps * rows_per_step)  # enough for every contender's steps, packed or not
    Dataset.from_list(gpu_data.synthetic_rows(n, vocab, seq, seed=0)).save_to_disk(str(out))


def run_job(job: GpuJob, work: Path, in_process: bool) -> dict[str, Any]:
    name = f"{job.model}/{job.method}/{job.contender}" if job.kind == "train" else f"{job.model}/{job.kind}"
    print(f"[gpu] {name} ...", flush=True)
    start = time.perf_counter()
    try:
        if in_process:
            from benchmarks.gpu_runs import run_kind

            result = {"job": asdict(job), **run_kind(job)}
        else:
            result = _child(job, work, name.replace("/", "-"))
    except Exception as e:  # e.g. out of memory: reported, the other runs go on
        result = {"job": asdict(job), "error": f"{type(e).__name__}: {str(e).strip().splitlines()[-1:]}"}
    result["wall_seconds"] = round(time.perf_counter() - start, 1)
    print(f"[gpu] {name}: {_one_line(result)}", flush=True)
    return result


def _child(job: GpuJob, work: Path, stem: str) -> dict[str, Any]:
    job_path, result_path, log = work / f"{stem}.job.json", work / f"{stem}.result.json", work / f"{stem}.log"
    job_path.write_text(json.dumps(asdict(job)))
    with log.open("w") as f:
        code = subprocess.run([sys.executable, "-m", "benchmarks.gpu_runs", str(job_path), str(result_path)],
                              cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}).returncode
    if code != 0 or not result_path.is_file():
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"exit {code}: {tail[0]} (log: {log})")
    return json.loads(result_path.read_text())


def _one_line(r: dict[str, Any]) -> str:
    if "error" in r:
        return "FAILED " + r["error"]
    if "tokens_per_s" in r:
        return f"{r['tokens_per_s']:,.0f} tokens/s, peak {r.get('peak_allocated_gb', '-')} GB"
    if "seconds" in r:
        return f"written in {r['seconds']:.0f} s"
    return "passed" if r.get("passed") else "FAILED"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.plan:
        from benchmarks.gpu_plan import print_plan

        print_plan(selected(args)[0], selected(args)[1])
        return 0
    import torch

    if not torch.cuda.is_available() and not args.tiny:
        print("benchmarks/gpu.py needs a CUDA GPU (try --plan, or --tiny on a CPU)", file=sys.stderr)
        return 2
    from benchmarks.gpu_report import summarize, write_results

    plan, with_checks = selected(args)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="sft-gpu-bench-"))
    started = time.perf_counter()
    results: dict[str, Any] = {"runs": {}, "setup_seconds": {}}
    try:
        for model in sorted({p.model for p in plan} | ({CHECK_MODEL} if with_checks else set())):
            job = GpuJob(kind="write", model=model, model_dir=str(work / "models" / model), data_dir="",
                         output_dir="", tiny=args.tiny)
            results["setup_seconds"][model] = run_job(job, work, args.in_process).get("seconds")
        if with_checks:
            job = GpuJob(kind="checks", model=CHECK_MODEL, model_dir=str(work / "models" / CHECK_MODEL),
                         data_dir="", output_dir=str(work / "runs" / "checks"))
            results["checks"] = run_job(job, work, args.in_process)
        for p in plan:
            job = job_for(p, work)
            write_rows(p.model, p.seq, p.warmup + p.steps, job.rows_per_step, Path(job.data_dir), args.tiny)
            results["runs"][p.name] = run_job(job, work, args.in_process)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    results["seconds_total"] = round(time.perf_counter() - started, 1)
    summary = summarize(results, plan, args.tiny, args.peak_tflops)
    paths = write_results(summary, args.out, dt.datetime.now().strftime("%Y-%m-%d") + ("-gpu-tiny" if args.tiny
                                                                                        else "-gpu"))
    print(paths["md"].read_text())
    return 0 if summary["all_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
