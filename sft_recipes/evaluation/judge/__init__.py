"""LLM-as-a-judge: single scores (0-100 or 1-10) and pairwise comparisons judged in both orders.

    inputs.py          generations files, or any table through a column map (--data / --columns)
    prompts.py         versioned judge prompts (+ a verdict-only variant); candidate text fenced and defused
    parsing.py         strict verdict parsing from the judge's own text (last match, range check, JSON verdicts)
    jobs.py            one job per judgment (both orders in pairwise mode)
    judgment.py        cache -> request -> parse -> re-ask -> record; deterministic failures remembered
    backends.py        OpenAI-compatible server (openai client), a local transformers model; BackendSpec
    gguf_backend.py    a local GGUF judge through llama-cpp-python; local_models.py: judges packaged on PyPI
    cache.py           persistent cache of verdicts and deterministic failures
    runner.py          JudgeSettings and the thread pool over all jobs
    summary.py         means with bootstrap CIs, win rates, consistency, warnings; JSON / CSV / Markdown
    length_control.py  AlpacaEval 2's length-controlled win rate with a bootstrap interval
    plots.py           summary.png
    callback.py        win rate against the base model per checkpoint while training
    cli.py             ``sft-recipes judge`` (exit 0 / 1 partial / 2 no verdict)
"""

from sft_recipes.evaluation.judge.runner import (
    JudgeError,
    Prices,
    read_generations,
    run_judging,
)

__all__ = ["JudgeError", "Prices", "read_generations", "run_judging"]
