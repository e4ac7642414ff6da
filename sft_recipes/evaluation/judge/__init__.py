"""LLM-as-a-judge: single scores (0-100 or 1-10) and pairwise comparisons judged in both orders.

    prompts.py   versioned judge prompts; candidate text fenced and defused
    parsing.py   strict verdict parsing from the judge's own text (last match, range check, JSON verdicts)
    backends.py  OpenAI-compatible server (openai client) or a local transformers model
    cache.py     persistent cache of finished judgments (failures are never cached)
    runner.py    the thread pool: cache -> request -> parse -> re-ask -> record
    summary.py   means with bootstrap CIs, win rates, consistency; JSON / CSV / Markdown / PNG
    cli.py       ``sft-recipes judge``
"""

from sft_recipes.evaluation.judge.runner import (
    JudgeError,
    Prices,
    read_generations,
    run_judging,
)

__all__ = ["JudgeError", "Prices", "read_generations", "run_judging"]
