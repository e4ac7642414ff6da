"""Win rate per checkpoint while training: the model answers a fixed prompt set, a judge compares each answer with
the base model's answer (generated once, before the first update, and cached), and the win rate is logged.

Recipe keys (``EvalArguments``)::

    judge_prompts: validation        # or a file (JSON/JSONL/CSV/Parquet: messages | prompt | instruction [+ input])
    judge_num_prompts: 16            # how many prompts (the first N)
    judge_every_steps: 50            # judge every N steps; unset: after every evaluation
    judge_base_url: http://127.0.0.1:8000/v1   # with judge_backend openai (default)
    judge_model: JUDGE               # server model name, local model dir, or .gguf (llama-cpp)
    judge_backend: openai            # openai | local | llama-cpp; the API key is read from judge_api_key_env if set

Logged (trackers and metrics.jsonl, through ``Trainer.log``): ``judge_win_rate``, ``judge_win_rate_ci_low`` /
``_high``, ``judge_lc_win_rate``, ``judge_pairs`` and ``judge_failed``; every step's judgments land under
``<output_dir>/judge/step-N/``. Only the main process generates and judges.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from sft_recipes.data.jsonl import iter_jsonl, write_jsonl
from sft_recipes.evaluation.judge.backends import BackendSpec
from sft_recipes.evaluation.judge.inputs import JudgedRow, JudgeError, render_question

BASE_ANSWERS = "base_answers.jsonl"


def load_judge_prompts(spec: str, prepared_dir: Path, n: int) -> list[dict[str, Any]]:
    """``[{"id", "messages", "reference"}]``: the first ``n`` prompts of the validation split or of a file."""
    from sft_recipes.data.sources import read_records
    from sft_recipes.evaluation.compare import split_prompt

    path = prepared_dir / "validation.jsonl" if spec == "validation" else Path(spec)
    if not path.is_file():
        raise JudgeError(f"judge_prompts: {path} not found" + (" (no validation split)" if spec == "validation" else ""))
    prompts = []
    for record in read_records(str(path))[:n]:
        data = record.data
        if isinstance(data.get("messages"), list):
            has_answer = any(m.get("role") == "assistant" for m in data["messages"][1:])
            messages, reference = split_prompt(data | {"source": record.source}) if has_answer else (data["messages"], None)
        else:
            text = data.get("prompt") or data.get("instruction") or data.get("question")
            if not isinstance(text, str) or not text.strip():
                raise JudgeError(f"{record.source}: a judge prompt needs messages, prompt, instruction or question")
            if isinstance(data.get("input"), str) and data["input"].strip():
                text = f"{text}\n\n{data['input']}"
            messages, reference = [{"role": "user", "content": text}], data.get("output") or data.get("reference")
        prompts.append({"id": str(data.get("id") or len(prompts) + 1), "messages": messages, "reference": reference})
    if not prompts:
        raise JudgeError(f"judge_prompts: {path} holds no prompts")
    return prompts


class WinRateCallback(TrainerCallback):
    """See the module doc. ``trainer`` is the one whose ``log`` carries the results to every tracker."""

    def __init__(self, trainer: Any, prompts: list[dict[str, Any]], backend: BackendSpec, out_dir: Path,
                 every_steps: int | None = None, max_new_tokens: int = 128, verdict_only: bool = False) -> None:
        self.trainer = trainer
        self.prompts = prompts
        self.backend_spec = backend
        self.out_dir = Path(out_dir)
        self.every_steps = every_steps
        self.max_new_tokens = max_new_tokens
        self.verdict_only = verdict_only
        self.base_answers: list[str] | None = None
        self._backend = None
        self._judged_steps: set[int] = set()

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if state.is_world_process_zero:
            self.base_answers = self._cached_base_answers(model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every_steps and state.global_step % self.every_steps == 0:
            self._judge(state, model)

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        if not self.every_steps:
            self._judge(state, model)

    def _cached_base_answers(self, model) -> list[str]:
        path = self.out_dir / BASE_ANSWERS
        key = [p["messages"] for p in self.prompts]
        if path.is_file():
            rows = [row for _, row in iter_jsonl(path)]
            if [r["messages"] for r in rows] == key:
                return [r["answer"] for r in rows]
        # the base model's own answers: adapters switched off (so a resumed run still gets the base), else the
        # weights before the first update
        with model.disable_adapter() if hasattr(model, "disable_adapter") else nullcontext():
            answers = self._generate(model)
        write_jsonl(path, ({"messages": m, "answer": a} for m, a in zip(key, answers)))
        return answers

    def _generate(self, model) -> list[str]:
        from sft_recipes.inference.generate import generate
        from sft_recipes.inference.settings import GenerationSettings

        tokenizer = self.trainer.processing_class
        was_training = model.training
        model.eval()
        try:
            return generate(model, tokenizer, [p["messages"] for p in self.prompts],
                            GenerationSettings(max_new_tokens=self.max_new_tokens, batch_size=8), progress=False,
                            use_cache=True)
        finally:
            model.train(was_training)

    def _judge(self, state, model) -> None:
        if not state.is_world_process_zero or state.global_step in self._judged_steps or self.base_answers is None:
            return
        from sft_recipes.evaluation.judge.runner import run_judging

        self._judged_steps.add(state.global_step)
        answers = self._generate(model)
        rows = [JudgedRow(id=p["id"], task="", question=render_question(p["messages"]), reference=p["reference"],
                          outputs={"tuned": a, "base": b}, source=f"judge_prompts:{i + 1}")
                for i, (p, a, b) in enumerate(zip(self.prompts, answers, self.base_answers))]
        if self._backend is None:
            self._backend = self.backend_spec.build()
        summary = run_judging(rows, self.out_dir / f"step-{state.global_step}", "pairwise", self._backend,
                              models=["tuned", "base"], progress=False, verdict_only=self.verdict_only,
                              seed=state.global_step)
        p, totals = summary["pairwise"], summary["totals"]
        logs = {"judge_win_rate": p["win_rate"], "judge_pairs": p["complete_pairs"], "judge_failed": totals["failed"]}
        if p["win_rate_ci95"]:
            logs["judge_win_rate_ci_low"], logs["judge_win_rate_ci_high"] = p["win_rate_ci95"]
        if p["length_controlled"]:
            logs["judge_lc_win_rate"] = p["length_controlled"]["lc_win_rate"]
        self.trainer.log({k: v for k, v in logs.items() if v is not None})


def add_win_rate_callback(trainer: Any, recipe: Any, prepared_dir: Path) -> WinRateCallback | None:
    """Attach the callback when the recipe sets ``judge_prompts`` (and a judge to ask)."""
    e = recipe.eval
    if not e.judge_prompts:
        return None
    if not e.judge_model or (e.judge_backend == "openai" and not e.judge_base_url):
        raise JudgeError("judge_prompts needs judge_model (and judge_base_url for the openai backend)")
    if (e.judge_every_steps is not None and e.judge_every_steps < 1) or e.judge_num_prompts < 1:
        raise JudgeError("judge_every_steps and judge_num_prompts must be >= 1")
    spec = BackendSpec(kind=e.judge_backend, model=e.judge_model, base_url=e.judge_base_url,
                       api_key_env=e.judge_api_key_env if os.environ.get(e.judge_api_key_env or "") else None,
                       max_tokens=e.judge_max_tokens)
    callback = WinRateCallback(trainer, load_judge_prompts(e.judge_prompts, prepared_dir, e.judge_num_prompts), spec,
                               Path(recipe.training.output_dir) / "judge", every_steps=e.judge_every_steps,
                               max_new_tokens=e.judge_max_new_tokens, verdict_only=e.judge_verdict_only)
    trainer.add_callback(callback)
    return callback
