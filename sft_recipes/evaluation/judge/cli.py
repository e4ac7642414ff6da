"""``sft-recipes judge``: judge a generations file with an OpenAI-compatible server or a local model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sft_recipes.evaluation.judge.backends import LocalBackend, OpenAIBackend
from sft_recipes.evaluation.judge.runner import JudgeError, Prices, run_judging


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sft-recipes judge", description=__doc__)
    p.add_argument("--generations", required=True, help="JSONL written by the eval harness (id, messages, outputs)")
    p.add_argument("--mode", choices=("single", "pairwise"), required=True)
    p.add_argument("--scale", choices=("0-100", "1-10"), default="1-10", help="single mode rating scale")
    p.add_argument("--models", help="comma-separated model names from 'outputs' (pairwise: FIRST,SECOND)")
    p.add_argument("--prompt", help="judge prompt id or file (default: chosen by mode, scale and reference)")
    p.add_argument("--backend", choices=("openai", "local"), default="openai")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", required=True, help="judge model name (server) or local model directory")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    p.add_argument("--no-api-key", action="store_true", help="the server needs no API key")
    p.add_argument("--out", required=True, help="output directory (judgments.jsonl, summary.*, cache)")
    p.add_argument("--cache", help="cache file (default: <out>/judge_cache.sqlite)")
    p.add_argument("--no-cache", action="store_true", help="ask the judge again for everything")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--max-retries", type=int, default=3, help="transport retries per request (429/5xx/timeouts)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--max-reasks", type=int, default=2, help="follow-ups with a format reminder before 'failed'")
    p.add_argument("--max-tokens", type=int, default=1024, help="judge reply budget")
    p.add_argument("--seed", type=int, default=0, help="judge seed and bootstrap seed")
    p.add_argument("--max-cost", type=float, help="stop issuing requests once this cost is reached")
    p.add_argument("--price-in", type=float, help="price per 1M input tokens")
    p.add_argument("--price-out", type=float, help="price per 1M output tokens")
    p.add_argument("--limit", type=int, help="judge only the first N rows")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (args.price_in is None) != (args.price_out is None):
        raise JudgeError("give both --price-in and --price-out (per 1M tokens)")
    prices = Prices(args.price_in, args.price_out) if args.price_in is not None else None
    if args.backend == "openai":
        if not args.base_url:
            raise JudgeError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        backend = OpenAIBackend(
            base_url=args.base_url, model=args.model, api_key_env=None if args.no_api_key else args.api_key_env,
            seed=args.seed, max_tokens=args.max_tokens, timeout=args.timeout, max_retries=args.max_retries,
        )
    else:
        backend = LocalBackend(args.model, max_new_tokens=args.max_tokens)
    summary = run_judging(
        args.generations, args.out, args.mode, backend,
        models=args.models.split(",") if args.models else None, scale=args.scale, prompt=args.prompt,
        concurrency=args.concurrency, max_reasks=args.max_reasks, cache_path=args.cache, use_cache=not args.no_cache,
        prices=prices, max_cost=args.max_cost, limit=args.limit, seed=args.seed, progress=not args.no_progress,
    )
    print((Path(args.out) / "summary.md").read_text(encoding="utf-8"))
    totals = summary["totals"]
    print(json.dumps({k: totals[k] for k in ("judgments", "ok", "failed", "skipped", "cached", "requests")}))
    return 0
