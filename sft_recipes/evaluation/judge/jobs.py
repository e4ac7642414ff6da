"""One ``Job`` per judgment to make: the rendered messages, the verdict-only fallback and the parser to apply.

Single mode asks once per model; pairwise mode asks twice per prompt, once in each order (AB: the first model is
shown as A; BA: swapped), so position bias shows and cancels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sft_recipes.evaluation.judge.inputs import JudgedRow, JudgeError
from sft_recipes.evaluation.judge.parsing import Parsed, parse_pairwise, parse_score
from sft_recipes.evaluation.judge.prompts import SCALES, JudgePrompt, default_prompt_id, load_prompt


@dataclass
class Job:
    """One judgment to make."""

    row: JudgedRow
    mode: str
    models: list[str]  # single: [model]; pairwise: [first, second] as asked
    order: str  # "single" | "AB" (first model shown as A) | "BA" (swapped)
    prompt: JudgePrompt
    messages: list[dict[str, str]]
    fallback: list[dict[str, str]] | None  # the verdict-only prompt for the last re-ask (None: the prompt has none)
    candidates: list[str]  # the answers shown, in display order
    parse: Callable[[str], Parsed]

    @property
    def shown(self) -> list[str]:
        """Model names in display order."""
        return list(reversed(self.models)) if self.order == "BA" else list(self.models)


def build_jobs(rows: list[JudgedRow], mode: str, models: list[str], scale: str, prompt: str | None,
               verdict_only: bool = False) -> list[Job]:
    """``verdict_only`` asks every judgment with the prompt's short verdict-only instruction (small or slow judges:
    a few output tokens instead of an explanation)."""
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
                jobs.append(_job(row, mode, [model], "single", p, [row.outputs[model]], reference, scale,
                                 verdict_only))
        else:
            for order in ("AB", "BA"):
                shown = models if order == "AB" else list(reversed(models))
                jobs.append(_job(row, mode, list(models), order, p, [row.outputs[m] for m in shown], reference, scale,
                                 verdict_only))
    return jobs


def _job(row: JudgedRow, mode: str, models: list[str], order: str, p: JudgePrompt, answers: list[str],
         reference: str | None, scale: str, verdict_only: bool = False) -> Job:
    fallback = p.render(row.question, answers, reference, verdict_only=True) if p.verdict_only or verdict_only else None
    messages = fallback if verdict_only else p.render(row.question, answers, reference)
    prompt_text = "\n".join(m["content"] for m in messages + (fallback or []))
    if mode == "single":
        def parse(reply: str) -> Parsed:
            return parse_score(reply, SCALES[scale], prompt_text)
    else:
        def parse(reply: str) -> Parsed:
            return parse_pairwise(reply, prompt_text)
    return Job(row, mode, models, order, p, messages, fallback, answers, parse)


def reminder(job: Job, error: str) -> str:
    """The follow-up that asks for the verdict again, in the same conversation."""
    if job.mode == "single":
        low, high = SCALES[job.prompt.scale]
        fmt = f'"Rating: [[rating]]" with a rating from {low:g} to {high:g}'
    else:
        fmt = '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, or "[[C]]" for a tie'
    return f"Your reply has no usable verdict ({error}). Reply with only your final verdict on one line, exactly as {fmt}."
