"""Make one judgment: cache lookup, request, strict parse, re-asks, then one record (never a made-up verdict).

Re-asks: after an unusable reply the judge is reminded of the format in the same conversation; the last re-ask is
a fresh verdict-only prompt (``prompts.JudgePrompt.verdict_only``), which small judges handle far better than a
long conversation. The cache keeps finished verdicts and deterministic failures: a request the server refused
(HTTP 4xx other than 408/409/429) or a greedy judge's unusable replies would only repeat, so a rerun does not send
them again unless ``retry_failed``; transient failures (connection, timeout, 429, 5xx) are always asked again.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from sft_recipes.evaluation.judge.backends import Backend, TransportError
from sft_recipes.evaluation.judge.cache import JudgmentCache, cache_key
from sft_recipes.evaluation.judge.jobs import Job, reminder
from sft_recipes.evaluation.judge.parsing import Parsed

NOT_RESENT = "not re-sent: the same request failed the same way before; --retry-failed asks again"


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
class Outcome:
    """What asking produced (also what the cache stores)."""

    replies: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0})
    retries: int = 0
    latency: float = 0.0
    cost: float = 0.0
    finish_reason: str | None = None
    requests: int = 0  # HTTP requests sent (client retries included)
    prompts: list[str] = field(default_factory=list)  # per attempt: "judge", "reminder" or "verdict_only"
    status: str | None = None  # "skipped" when the budget stopped it
    error: str | None = None
    deterministic: bool = False  # asking again would get the same failure
    max_reasks: int = 0
    cached: bool = False


def is_greedy(backend: Backend) -> bool:
    params = backend.params
    return params.get("temperature") == 0 or params.get("do_sample") is False


def judge_one(job: Job, backend: Backend, cache: JudgmentCache | None, budget: Budget, max_reasks: int,
              retry_failed: bool = False) -> dict[str, Any]:
    """Make one judgment. Raises only for configuration problems (JudgeBackendError); all else is recorded."""
    key = cache_key(backend.name, backend.model, backend.params, job.messages)
    record = _base_record(job, backend, key)
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        reused = _reuse(hit, job, max_reasks, retry_failed)
        if reused is not None:
            return _finish(record, job, *reused)
    parsed, outcome = _ask(job, backend, budget, max_reasks)
    if cache is not None and outcome.status is None:
        if parsed.ok:
            cache.put(key, asdict(outcome) | {"status": "ok"})
        elif outcome.deterministic or (outcome.error is None and is_greedy(backend)):
            cache.put(key, asdict(outcome) | {"status": "failed", "parse_error": parsed.error, "deterministic": True})
    return _finish(record, job, parsed, outcome)


def _reuse(hit: dict[str, Any], job: Job, max_reasks: int, retry_failed: bool) -> tuple[Parsed, Outcome] | None:
    known = {k: v for k, v in hit.items() if k in Outcome.__dataclass_fields__}
    outcome = Outcome(**known | {"cached": True, "requests": 0})
    error = hit.get("parse_error") or hit.get("error")
    parsed = job.parse(hit["replies"][-1]) if hit.get("replies") else Parsed(None, error)
    if hit.get("status", "ok") == "ok":  # parsing rules may have changed since: a reply that no longer parses is asked again
        return (parsed, outcome) if parsed.ok else None
    if retry_failed or (outcome.error is None and hit.get("max_reasks", 0) < max_reasks):
        return None  # asked to retry, or more re-asks allowed now than then
    if parsed.ok:  # parsing rules improved: the stored reply holds a verdict after all
        return parsed, outcome
    return Parsed(None, f"{error} ({NOT_RESENT})"), outcome


def _ask(job: Job, backend: Backend, budget: Budget, max_reasks: int) -> tuple[Parsed, Outcome]:
    outcome = Outcome(max_reasks=max_reasks)
    conversation = list(job.messages)
    parsed = Parsed(None, "not asked")
    for attempt in range(max_reasks + 1):
        kind = "judge" if attempt == 0 else "reminder"
        if attempt and attempt == max_reasks and job.fallback is not None and job.fallback is not job.messages:
            conversation, kind = list(job.fallback), "verdict_only"  # (asked verdict-only already: remind instead)
        if not budget.may_request():
            outcome.status = "skipped"
            return Parsed(None, "max cost reached before this request"), outcome
        try:
            completion = backend.complete(conversation)
        except TransportError as e:
            outcome.requests += e.requests
            outcome.error, outcome.deterministic = f"transport: {e}", e.deterministic
            return Parsed(None, outcome.error), outcome
        outcome.replies.append(completion.text)
        outcome.prompts.append(kind)
        outcome.usage["input_tokens"] += completion.input_tokens
        outcome.usage["output_tokens"] += completion.output_tokens
        outcome.requests += completion.requests
        outcome.retries += completion.retries
        outcome.latency += completion.latency
        outcome.finish_reason = completion.finish_reason
        outcome.cost += budget.charge(completion.input_tokens, completion.output_tokens)
        parsed = job.parse(completion.text)
        if parsed.ok:
            break
        if completion.finish_reason == "length":
            parsed = Parsed(None, f"{parsed.error}; reply cut at the token limit")
        conversation = conversation + [
            {"role": "assistant", "content": completion.text},
            {"role": "user", "content": reminder(job, parsed.error)},
        ]
    return parsed, outcome


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


def _finish(record: dict[str, Any], job: Job, parsed: Parsed, outcome: Outcome) -> dict[str, Any]:
    record.update(
        status=outcome.status or ("ok" if parsed.ok else "failed"),
        verdict=parsed.verdict,
        error=parsed.error,
        raw_reply=outcome.replies[-1] if outcome.replies else None,
        replies=outcome.replies,
        attempts=len(outcome.replies),
        attempt_prompts=outcome.prompts,
        requests=outcome.requests,
        retries=outcome.retries,
        usage=outcome.usage,
        cost=round(outcome.cost, 8),
        latency=round(outcome.latency, 4),
        finish_reason=outcome.finish_reason,
        cached=outcome.cached,
        deterministic_failure=bool(outcome.deterministic or (not parsed.ok and outcome.cached)),
    )
    if job.mode == "single":
        record["score"] = parsed.verdict if parsed.ok else None
    else:
        winner = None
        if parsed.ok:
            winner = "tie" if parsed.verdict == "tie" else job.shown[0 if parsed.verdict == "A" else 1]
        record["winner"] = winner
    return record
