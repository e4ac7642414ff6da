"""Run an LLM judge over a generations file: single scores or pairwise in both orders.

Input (JSONL, one row per prompt, as the eval harness writes it)::

    {"id", "task", "messages": [prompt messages], "reference": str | null, "outputs": {"base": "...", "tuned": "..."}}

Each judgment is one task for a thread pool: cache lookup, request, strict parse, up to ``max_reasks``
follow-ups with a format reminder, then ``ok`` or ``failed`` (never a made-up verdict). ``skipped`` marks
judgments not asked because ``max_cost`` was reached. Everything lands in ``judgments.jsonl``; the summary
(``summary.py``) is computed from those rows alone.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm.auto import tqdm

from sft_recipes import SFTRecipesError
from sft_recipes.evaluation.judge import summary as summary_mod
from sft_recipes.evaluation.judge.backends import Backend, TransportError
from sft_recipes.evaluation.judge.cache import JudgmentCache, cache_key
from sft_recipes.evaluation.judge.parsing import Parsed, parse_pairwise, parse_score
from sft_recipes.evaluation.judge.prompts import (
    SCALES,
    JudgePrompt,
    default_prompt_id,
    load_prompt,
)

MODES = ("single", "pairwise")
JUDGMENTS_FILE = "judgments.jsonl"


class JudgeError(SFTRecipesError):
    pass


@dataclass(frozen=True)
class GenerationRow:
    id: str
    task: str
    question: str
    reference: str | None
    outputs: dict[str, str]
    source: str  # "file:line"


@dataclass
class Prices:
    """Dollars (or any currency) per one million tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_million + output_tokens * self.output_per_million) / 1e6


@dataclass
class Budget:
    """Running cost of this run's requests; once ``max_cost`` is reached no new request is issued.

    Requests already in flight finish, so the final cost can pass the limit by at most ``concurrency`` requests.
    """

    prices: Prices | None = None
    max_cost: float | None = None
    spent: float = 0.0
    reached: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def may_request(self) -> bool:
        with self._lock:
            if self.max_cost is not None and self.spent >= self.max_cost:
                self.reached = True
            return not self.reached

    def charge(self, input_tokens: int, output_tokens: int) -> float:
        cost = self.prices.cost(input_tokens, output_tokens) if self.prices else 0.0
        with self._lock:
            self.spent += cost
        return cost


@dataclass
class Job:
    """One judgment to make."""

    row: GenerationRow
    mode: str
    models: list[str]  # single: [model]; pairwise: [first, second] as asked
    order: str  # "single" | "AB" (first model shown as A) | "BA" (swapped)
    prompt: JudgePrompt
    messages: list[dict[str, str]]
    candidates: list[str]  # the answers shown, in display order
    parse: Callable[[str], Parsed]

    @property
    def shown(self) -> list[str]:
        """Model names in display order."""
        return list(reversed(self.models)) if self.order == "BA" else list(self.models)


def read_generations(path: str | Path, models: list[str] | None = None, limit: int | None = None) -> list[GenerationRow]:
    """Read and check the generations file; every problem names its file:line."""
    path = Path(path)
    if not path.is_file():
        raise JudgeError(f"generations file not found: {path}")
    rows: list[GenerationRow] = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as e:
                raise JudgeError(f"{where}: not valid JSON ({e.msg})") from None
            rows.append(_check_row(raw, where, models))
            if limit is not None and len(rows) >= limit:
                break
    if not rows:
        raise JudgeError(f"generations file {path} has no rows")
    return rows


def _check_row(raw: Any, where: str, models: list[str] | None) -> GenerationRow:
    if not isinstance(raw, dict):
        raise JudgeError(f"{where}: a row must be a JSON object")
    for key in ("id", "messages", "outputs"):
        if key not in raw:
            raise JudgeError(f"{where}: missing field {key!r}")
    messages, outputs = raw["messages"], raw["outputs"]
    if not isinstance(messages, list) or not messages or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in messages
    ):
        raise JudgeError(f"{where}: 'messages' must be a non-empty list of {{role, content}} strings")
    if not isinstance(outputs, dict) or not outputs:
        raise JudgeError(f"{where}: 'outputs' must map model names to answers")
    for name in models or list(outputs):
        if name not in outputs:
            raise JudgeError(f"{where}: no output for model {name!r} (outputs: {', '.join(outputs)})")
        if not isinstance(outputs[name], str):
            raise JudgeError(f"{where}: output of {name!r} must be a string, got {type(outputs[name]).__name__}")
    reference = raw.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise JudgeError(f"{where}: 'reference' must be a string or null")
    return GenerationRow(
        id=str(raw["id"]),
        task=str(raw.get("task") or ""),
        question=render_question(messages),
        reference=reference if reference and reference.strip() else None,
        outputs=dict(outputs),
        source=where,
    )


def render_question(messages: list[dict[str, str]]) -> str:
    """The prompt as the judge sees it: the user's text alone, or a transcript when there is more than one turn."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n\n".join(f"[{m['role'].capitalize()}]\n{m['content']}" for m in messages)


def resolve_models(rows: list[GenerationRow], mode: str, models: list[str] | None) -> list[str]:
    if models:
        if mode == "pairwise" and (len(models) != 2 or models[0] == models[1]):
            raise JudgeError(f"pairwise mode compares two different models, got {','.join(models)}")
        return list(models)
    available = list(rows[0].outputs)
    if mode == "single":
        return available
    if len(available) == 2:
        return ["tuned", "base"] if set(available) == {"tuned", "base"} else available
    raise JudgeError(f"pairwise mode needs --models A,B (outputs hold {', '.join(available)})")


def build_jobs(rows: list[GenerationRow], mode: str, models: list[str], scale: str, prompt: str | None) -> list[Job]:
    loaded: dict[str, JudgePrompt] = {}

    def get_prompt(has_reference: bool) -> JudgePrompt:
        name = prompt or default_prompt_id(mode, scale, with_reference=has_reference)
        if name not in loaded:
            loaded[name] = load_prompt(name)
            p = loaded[name]
            if p.mode != mode:
                raise JudgeError(f"judge prompt {p.id} is for {p.mode} mode, not {mode}")
            if mode == "single" and p.scale != scale:
                raise JudgeError(f"judge prompt {p.id} uses the {p.scale} scale, not {scale}")
        return loaded[name]

    jobs: list[Job] = []
    for row in rows:
        p = get_prompt(row.reference is not None)
        if p.uses_reference and row.reference is None:
            raise JudgeError(f"{row.source}: judge prompt {p.id} needs a reference answer and the row has none")
        reference = row.reference if p.uses_reference else None
        if mode == "single":
            for model in models:
                answer = row.outputs[model]
                messages = p.render(row.question, [answer], reference)
                jobs.append(Job(row, mode, [model], "single", p, messages, [answer],
                                lambda reply, m=messages: parse_score(reply, SCALES[scale], _text(m))))
        else:
            for order in ("AB", "BA"):
                shown = models if order == "AB" else list(reversed(models))
                answers = [row.outputs[m] for m in shown]
                messages = p.render(row.question, answers, reference)
                jobs.append(Job(row, mode, list(models), order, p, messages, answers,
                                lambda reply, m=messages: parse_pairwise(reply, _text(m))))
    return jobs


def _text(messages: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in messages)


def reminder(job: Job, error: str) -> str:
    if job.mode == "single":
        low, high = SCALES[job.prompt.scale]
        fmt = f'"Rating: [[rating]]" with a rating from {low:g} to {high:g}'
    else:
        fmt = '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, or "[[C]]" for a tie'
    return f"Your reply has no usable verdict ({error}). Reply with only your final verdict on one line, exactly as {fmt}."


def judge_one(job: Job, backend: Backend, cache: JudgmentCache | None, budget: Budget, max_reasks: int) -> dict[str, Any]:
    """Make one judgment. Raises only for configuration problems (JudgeBackendError); all else is recorded."""
    key = cache_key(backend.name, backend.model, backend.params, job.messages)
    record = _base_record(job, backend, key)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            parsed = job.parse(hit["replies"][-1])
            if parsed.ok:  # parsing rules may have changed since: a reply that no longer parses is asked again
                return _finish(record, job, parsed, hit | {"cached": True})

    conversation = list(job.messages)
    replies: list[str] = []
    usage = {"input_tokens": 0, "output_tokens": 0}
    state: dict[str, Any] = {"retries": 0, "latency": 0.0, "cost": 0.0, "finish_reason": None}
    parsed = Parsed(None, "not asked")
    for attempt in range(max_reasks + 1):
        if not budget.may_request():
            return _finish(record, job, Parsed(None, "max cost reached before this request"),
                           {"replies": replies, "usage": usage, **state}, status="skipped")
        try:
            completion = backend.complete(conversation)
        except TransportError as e:
            return _finish(record, job, Parsed(None, f"transport: {e}"), {"replies": replies, "usage": usage, **state})
        replies.append(completion.text)
        usage["input_tokens"] += completion.input_tokens
        usage["output_tokens"] += completion.output_tokens
        state["retries"] += completion.retries
        state["latency"] += completion.latency
        state["finish_reason"] = completion.finish_reason
        state["cost"] += budget.charge(completion.input_tokens, completion.output_tokens)
        parsed = job.parse(completion.text)
        if parsed.ok:
            break
        if completion.finish_reason == "length":
            parsed = Parsed(None, f"{parsed.error}; reply cut at the token limit")
        conversation = conversation + [
            {"role": "assistant", "content": completion.text},
            {"role": "user", "content": reminder(job, parsed.error)},
        ]
    outcome = {"replies": replies, "usage": usage, **state}
    if parsed.ok and cache is not None:
        cache.put(key, outcome)
    return _finish(record, job, parsed, outcome)


def _base_record(job: Job, backend: Backend, key: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": job.row.id,
        "task": job.row.task,
        "source": job.row.source,
        "mode": job.mode,
        "models": job.models,
        "order": job.order,
    }
    if job.mode == "single":
        record["model"] = job.models[0]
        record["scale"] = job.prompt.scale
    else:
        record["position_a"], record["position_b"] = job.shown
    record["answer_chars"] = {m: len(a) for m, a in zip(job.shown, job.candidates)}
    record["answer_words"] = {m: len(a.split()) for m, a in zip(job.shown, job.candidates)}
    record.update(prompt_id=job.prompt.id, prompt_hash=job.prompt.hash, judge_backend=backend.name,
                  judge_model=backend.model, cache_key=key)
    return record


def _finish(record: dict[str, Any], job: Job, parsed: Parsed, outcome: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    replies = outcome.get("replies", [])
    record.update(
        status=status or ("ok" if parsed.ok else "failed"),
        verdict=parsed.verdict,
        error=parsed.error,
        raw_reply=replies[-1] if replies else None,
        replies=replies,
        attempts=len(replies),
        retries=outcome.get("retries", 0),
        usage=outcome.get("usage", {"input_tokens": 0, "output_tokens": 0}),
        cost=round(outcome.get("cost", 0.0), 8),
        latency=round(outcome.get("latency", 0.0), 4),
        finish_reason=outcome.get("finish_reason"),
        cached=bool(outcome.get("cached", False)),
    )
    if job.mode == "single":
        record["score"] = parsed.verdict if parsed.ok else None
    else:
        winner = None
        if parsed.ok:
            winner = "tie" if parsed.verdict == "tie" else job.shown[0 if parsed.verdict == "A" else 1]
        record["winner"] = winner
    return record


def run_judging(
    generations_path: str | Path,
    out_dir: str | Path,
    mode: str,
    backend: Backend,
    *,
    models: list[str] | None = None,
    scale: str = "1-10",
    prompt: str | None = None,
    concurrency: int = 4,
    max_reasks: int = 2,
    cache_path: str | Path | None = None,
    use_cache: bool = True,
    prices: Prices | None = None,
    max_cost: float | None = None,
    limit: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Judge every row, write ``judgments.jsonl`` and the summary files into ``out_dir``; return the summary.

    The cache defaults to ``<out_dir>/judge_cache.sqlite``: rerunning into the same directory asks the judge
    only for judgments that did not finish with a verdict.
    """
    if mode not in MODES:
        raise JudgeError(f"unknown judge mode {mode!r} (expected single or pairwise)")
    if scale not in SCALES:
        raise JudgeError(f"unknown scale {scale!r} (expected {' or '.join(SCALES)})")
    if concurrency < 1 or max_reasks < 0:
        raise JudgeError("concurrency must be >= 1 and max_reasks >= 0")
    if max_cost is not None and prices is None:
        raise JudgeError("max_cost needs a price table (--price-in and --price-out per 1M tokens)")
    rows = read_generations(generations_path, models, limit)
    models = resolve_models(rows, mode, models)
    for row in rows:
        missing = [m for m in models if m not in row.outputs]
        if missing:
            raise JudgeError(f"{row.source}: no output for model {missing[0]!r}")
    jobs = build_jobs(rows, mode, models, scale, prompt)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = JudgmentCache(cache_path or out / "judge_cache.sqlite") if use_cache else None
    budget = Budget(prices=prices, max_cost=max_cost)
    records: list[dict[str, Any] | None] = [None] * len(jobs)
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool, tqdm(
            total=len(jobs), desc=f"judging ({mode})", unit="judgment", disable=not progress
        ) as bar:
            futures = {pool.submit(judge_one, job, backend, cache, budget, max_reasks): i for i, job in enumerate(jobs)}
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
    done = [r for r in records if r is not None]
    with (out / JUDGMENTS_FILE).open("w", encoding="utf-8") as f:
        for record in done:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    run_info = {
        "generations": str(generations_path),
        "mode": mode,
        "models": models,
        "scale": scale if mode == "single" else None,
        "judge_backend": backend.name,
        "judge_model": backend.model,
        "judge_params": backend.params,
        "prompts": sorted({(j.prompt.id, j.prompt.hash) for j in jobs}),
        "max_reasks": max_reasks,
        "concurrency": concurrency,
        "max_cost": max_cost,
        "max_cost_reached": budget.reached,
        "cost_this_run": round(budget.spent, 6),
        "prices_per_million": None if prices is None else {"input": prices.input_per_million,
                                                            "output": prices.output_per_million},
        "seconds": round(time.perf_counter() - started, 2),
    }
    result = summary_mod.summarize(done, mode, models, seed=seed, run=run_info)
    summary_mod.write_summary(result, out)
    return result
