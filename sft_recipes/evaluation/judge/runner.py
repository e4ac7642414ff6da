"""Run an LLM judge over prompts and answers: single scores or pairwise in both orders.

Input: a generations file (JSONL, as the eval harness writes it) or rows read from any table (``inputs.py``).
Each judgment is one task for a thread pool (``judgment.judge_one``): cache lookup, request, strict parse,
re-asks, then ``ok`` or ``failed`` (never a made-up verdict); ``skipped`` marks judgments not asked because
``max_cost`` was reached. Everything lands in ``judgments.jsonl``; the summary (``summary.py``) is computed from
those rows alone.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tqdm.auto import tqdm

from sft_recipes.data.jsonl import write_jsonl
from sft_recipes.evaluation.judge import summary as summary_mod
from sft_recipes.evaluation.judge.backends import Backend
from sft_recipes.evaluation.judge.cache import JudgmentCache
from sft_recipes.evaluation.judge.inputs import (  # noqa: F401 (re-exported)
    JudgedRow,
    JudgeError,
    read_generations,
    resolve_models,
)
from sft_recipes.evaluation.judge.jobs import Job, build_jobs  # noqa: F401 (build_jobs re-exported)
from sft_recipes.evaluation.judge.judgment import Budget, Prices, judge_one
from sft_recipes.evaluation.judge.prompts import SCALES

MODES = ("single", "pairwise")
JUDGMENTS_FILE = "judgments.jsonl"
GenerationRow = JudgedRow  # the older name


@dataclass
class JudgeSettings:
    """How to judge; every field has a sensible default."""

    models: list[str] | None = None  # single: the models to score (default all); pairwise: [first, second]
    scale: str = "1-10"
    prompt: str | None = None  # prompt id or file (default: chosen by mode, scale and reference)
    concurrency: int = 4
    max_reasks: int = 2  # follow-ups after an unusable reply (the last one a verdict-only prompt)
    cache_path: str | Path | None = None  # default <out>/judge_cache.sqlite
    use_cache: bool = True
    retry_failed: bool = False  # ask again for deterministic failures the cache remembers
    verdict_only: bool = False  # ask with the short verdict-only instruction from the start (small, slow judges)
    prices: Prices | None = None
    max_cost: float | None = None
    limit: int | None = None
    seed: int = 0  # bootstrap seed
    progress: bool = True

    def check(self) -> None:
        if self.scale not in SCALES:
            raise JudgeError(f"unknown scale {self.scale!r} (expected {' or '.join(SCALES)})")
        if self.concurrency < 1 or self.max_reasks < 0:
            raise JudgeError("concurrency must be >= 1 and max_reasks >= 0")
        if self.max_cost is not None and self.prices is None:
            raise JudgeError("max_cost needs a price table (--price-in and --price-out per 1M tokens)")


def run_judging(source: str | Path | Sequence[JudgedRow], out_dir: str | Path, mode: str, backend: Backend,
                settings: JudgeSettings | None = None, **overrides: Any) -> dict[str, Any]:
    """Judge every row, write ``judgments.jsonl`` and the summary files into ``out_dir``; return the summary.

    ``source`` is a generations JSONL path or rows from ``inputs.read_table``. Keyword ``overrides`` set
    ``JudgeSettings`` fields. The cache defaults to ``<out_dir>/judge_cache.sqlite``: rerunning into the same
    directory asks the judge only for judgments that did not finish (and were not deterministic failures).
    """
    settings = dataclasses.replace(settings or JudgeSettings(), **overrides)
    if mode not in MODES:
        raise JudgeError(f"unknown judge mode {mode!r} (expected single or pairwise)")
    settings.check()
    if isinstance(source, (str, Path)):
        rows, source_name = read_generations(source, settings.models, settings.limit), str(source)
    else:
        rows, source_name = list(source)[: settings.limit], "rows"
    if not rows:
        raise JudgeError("nothing to judge: no rows")
    models = resolve_models(rows, mode, settings.models)
    for row in rows:
        missing = [m for m in models if m not in row.outputs]
        if missing:
            raise JudgeError(f"{row.source}: no output for model {missing[0]!r}")
    jobs = build_jobs(rows, mode, models, settings.scale, settings.prompt, settings.verdict_only)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    budget = Budget(prices=settings.prices, max_cost=settings.max_cost)
    started = time.perf_counter()
    records = _judge_all(jobs, backend, out, budget, settings)
    write_jsonl(out / JUDGMENTS_FILE, records)
    run_info = {
        "source": source_name,
        "mode": mode,
        "models": models,
        "scale": settings.scale if mode == "single" else None,
        "judge_backend": backend.name,
        "judge_model": backend.model,
        "judge_params": backend.params,
        "prompts": sorted({(j.prompt.id, j.prompt.hash) for j in jobs}),
        "max_reasks": settings.max_reasks,
        "retry_failed": settings.retry_failed,
        "verdict_only": settings.verdict_only,
        "concurrency": settings.concurrency,
        "max_cost": settings.max_cost,
        "max_cost_reached": budget.reached,
        "cost_this_run": round(budget.spent, 6),
        "prices_per_million": None if settings.prices is None else {
            "input": settings.prices.input_per_million, "output": settings.prices.output_per_million},
        "seconds": round(time.perf_counter() - started, 2),
    }
    result = summary_mod.summarize(records, mode, models, seed=settings.seed, run=run_info)
    summary_mod.write_summary(result, out)
    return result


def _judge_all(jobs: list[Job], backend: Backend, out: Path, budget: Budget,
               settings: JudgeSettings) -> list[dict[str, Any]]:
    cache = JudgmentCache(settings.cache_path or out / "judge_cache.sqlite") if settings.use_cache else None
    records: list[dict[str, Any] | None] = [None] * len(jobs)
    try:
        with ThreadPoolExecutor(max_workers=settings.concurrency) as pool, tqdm(
            total=len(jobs), desc=f"judging ({jobs[0].mode})", unit="judgment", disable=not settings.progress
        ) as bar:
            futures = {pool.submit(judge_one, job, backend, cache, budget, settings.max_reasks,
                                   settings.retry_failed): i for i, job in enumerate(jobs)}
            try:
                for future in as_completed(futures):
                    records[futures[future]] = future.result()
                    bar.update(1)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    finally:
        if cache is not None:
            cache.close()
    return [r for r in records if r is not None]
