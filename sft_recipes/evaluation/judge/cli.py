"""``sft-recipes judge``: judge a generations file, or any table of prompts and answers, with an OpenAI-compatible
server, a local transformers model or a local GGUF model (llama-cpp-python).

Exit status: 0 when every judgment has a verdict, 1 when some failed or were skipped, 2 when none has a verdict;
the last line printed gives the counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sft_recipes.evaluation.judge.backends import make_backend
from sft_recipes.evaluation.judge.inputs import ColumnMap, read_table
from sft_recipes.evaluation.judge.judgment import Prices
from sft_recipes.evaluation.judge.runner import JudgeError, JudgeSettings, run_judging

EXIT_OK, EXIT_PARTIAL, EXIT_NONE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sft-recipes judge", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--generations", help="JSONL written by the eval harness (id, messages, outputs)")
    source.add_argument("--data", help="any JSON / JSONL / CSV / Parquet file (or saved / Hub dataset) with --columns")
    p.add_argument("--columns", help="with --data: prompt=COL[+COL],reference=COL,models=NAME:COL,NAME:COL[,id=COL]")
    p.add_argument("--mode", choices=("single", "pairwise"), required=True)
    p.add_argument("--scale", choices=("0-100", "1-10"), default="1-10", help="single mode rating scale")
    p.add_argument("--models", help="comma-separated model names (pairwise: FIRST,SECOND; the win rate is FIRST's)")
    p.add_argument("--prompt", help="judge prompt id or file (default: chosen by mode, scale and reference)")
    p.add_argument("--backend", choices=("openai", "local", "llama-cpp"), default="openai")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", required=True,
                   help="judge model: the server's model name, a local model directory, or a .gguf file (llama-cpp)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    p.add_argument("--no-api-key", action="store_true", help="the server needs no API key")
    p.add_argument("--json-verdict", action="store_true",
                   help="ask for a JSON verdict through response_format (servers with structured output)")
    p.add_argument("--verdict-only", action="store_true",
                   help="ask for the verdict alone, no explanation (small or slow local judges)")
    p.add_argument("--out", required=True, help="output directory (judgments.jsonl, summary.*, cache)")
    p.add_argument("--cache", help="cache file (default: <out>/judge_cache.sqlite)")
    p.add_argument("--no-cache", action="store_true", help="ask the judge again for everything")
    p.add_argument("--retry-failed", action="store_true",
                   help="send again the requests whose failure the cache remembers as deterministic")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--max-retries", type=int, default=3, help="transport retries per request (429/5xx/timeouts)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--max-reasks", type=int, default=2,
                   help="follow-ups after an unusable reply before 'failed' (the last is a verdict-only prompt)")
    p.add_argument("--max-tokens", type=int, default=1024, help="judge reply budget")
    p.add_argument("--context", type=int, default=4096, help="llama-cpp: context window in tokens")
    p.add_argument("--seed", type=int, default=0, help="judge seed and bootstrap seed")
    p.add_argument("--max-cost", type=float, help="stop issuing requests once this cost is reached")
    p.add_argument("--price-in", type=float, help="price per 1M input tokens")
    p.add_argument("--price-out", type=float, help="price per 1M output tokens")
    p.add_argument("--limit", type=int, help="judge only the first N rows")
    p.add_argument("--no-progress", action="store_true")
    return p


def exit_status(totals: dict) -> int:
    if totals["ok"] == 0:
        return EXIT_NONE
    return EXIT_OK if totals["ok"] == totals["judgments"] else EXIT_PARTIAL


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (args.price_in is None) != (args.price_out is None):
        raise JudgeError("give both --price-in and --price-out (per 1M tokens)")
    if args.data and not args.columns:
        raise JudgeError("--data needs --columns, e.g. prompt=instruction+input,reference=output,models=a:col1,b:col2")
    if args.columns and not args.data:
        raise JudgeError("--columns goes with --data (a generations file names its own fields)")
    source = read_table(args.data, ColumnMap.parse(args.columns), args.limit) if args.data else args.generations
    settings = JudgeSettings(
        models=args.models.split(",") if args.models else None, scale=args.scale, prompt=args.prompt,
        concurrency=args.concurrency, max_reasks=args.max_reasks, cache_path=args.cache, use_cache=not args.no_cache,
        retry_failed=args.retry_failed, verdict_only=args.verdict_only, max_cost=args.max_cost, limit=args.limit, seed=args.seed,
        prices=Prices(args.price_in, args.price_out) if args.price_in is not None else None,
        progress=not args.no_progress,
    )
    summary = run_judging(source, args.out, args.mode, make_backend(args), settings)
    print((Path(args.out) / "summary.md").read_text(encoding="utf-8"))
    totals = summary["totals"]
    print(json.dumps({k: totals[k] for k in ("judgments", "ok", "failed", "skipped", "cached", "not_resent",
                                             "requests")}))
    status = exit_status(totals)
    if status != EXIT_OK:
        reason = summary["failures"][0]["reason"] if summary["failures"] else "unknown"
        what = "no verdict obtained" if status == EXIT_NONE else "some judgments have no verdict"
        print(f"judge: {what}: {totals['ok']} of {totals['judgments']} judged, {totals['failed']} failed, "
              f"{totals['skipped']} skipped ({totals['not_resent']} not re-sent); most common reason: {reason}",
              file=sys.stderr)
    return status
