"""Base vs tuned on the same held-out prompts, in one call.

Every model answers the same prompts (the messages before each test row's last assistant turn; that
turn's content is the reference) with the same generation settings. Answers are scored per task, the
held-out loss is measured on the tokenized split, and everything lands in one directory:

    generations.jsonl   one row per prompt: id, task, messages, reference, outputs {model name: answer}
                        (the judge reads exactly this)
    metrics.json        per model: per-task scores, overall scores, held-out loss, format-overfitting check
    report.md           before/after tables and side-by-side example answers
    scores.png          per-task headline score, one bar per model
"""

from __future__ import annotations

import gc
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from sft_recipes import SFTRecipesError
from sft_recipes.data.jsonl import write_jsonl
from sft_recipes.evaluation.heldout import HeldoutError, heldout_loss
from sft_recipes.evaluation.metrics import format_overfitting, score_rows
from sft_recipes.inference.generate import generate
from sft_recipes.inference.loading import load_for_inference, load_inference_tokenizer
from sft_recipes.inference.settings import GenerationSettings
from sft_recipes.data.jsonl import iter_jsonl

GENERATIONS_FILE = "generations.jsonl"
METRICS_FILE = "metrics.json"
TRAINING_CURVES = "training_curves.png"  # written by run_log.plot_training_curves into every run dir
BUDGET_SLACK = 16  # tokens beyond twice a task's longest reference answer (answer_budgets)


class EvalDataError(SFTRecipesError):
    pass


def read_conversation_rows(path: str | Path) -> list[dict[str, Any]]:
    """Conversation rows from a JSONL file; a bad line fails with its file:line."""
    p = Path(path)
    if not p.is_file():
        raise EvalDataError(f"test split not found: {p}")
    rows = []
    for lineno, row in iter_jsonl(p, EvalDataError):
        if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
            raise EvalDataError(f"{p}:{lineno}: a conversation row needs a 'messages' list")
        row.setdefault("source", f"{p}:{lineno}")
        rows.append(row)
    return rows


def split_prompt(row: dict[str, Any]) -> tuple[list[dict[str, str]], str]:
    """(prompt messages, reference): everything before the last assistant turn, and that turn's content."""
    messages = row.get("messages") or []
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    where = row.get("source") or row.get("id") or "a test row"
    if last is None:
        raise EvalDataError(f"{where}: no assistant turn to use as the reference answer")
    if last == 0:
        raise EvalDataError(f"{where}: the assistant turn has no prompt before it")
    prompt = [{"role": m["role"], "content": m["content"]} for m in messages[:last]]
    return prompt, messages[last]["content"]


def plain_text_prompt(messages: Sequence[dict[str, str]]) -> str:
    """The same request without any template: the message contents separated by blank lines."""
    return "\n\n".join(m["content"] for m in messages) + "\n\n"


def _shared_template(tokenizers: dict[str, Any]) -> tuple[str | None, str | None]:
    for name, tok in tokenizers.items():
        if tok.chat_template:
            return name, tok.chat_template
    return None, None


@dataclass
class _Prompts:
    """The test rows to answer, their prompts (messages before the last reply) and references (that reply)."""

    rows: list[dict[str, Any]]
    prompts: list[list[dict[str, str]]]
    references: list[str]

    @classmethod
    def from_rows(cls, test_rows: Sequence[dict[str, Any]], num_samples: int | None) -> "_Prompts":
        rows = list(test_rows)[: num_samples if num_samples is not None else None]
        if not rows:
            raise EvalDataError("no test rows to evaluate")
        prompts, references = zip(*(split_prompt(r) for r in rows))
        return cls(rows, list(prompts), list(references))

    @property
    def tasks(self) -> list[str]:
        return [r.get("task", "") for r in self.rows]


def compare_models(
    models: dict[str, str | None],
    test_rows: Sequence[dict[str, Any]],
    out_dir: str | Path,
    settings: GenerationSettings | None = None,
    *,
    tokenized: Any = None,
    num_samples: int | None = None,
    heldout_samples: int | None = None,
    heldout_batch_size: int = 4,
    format_check_samples: int = 0,
    report_examples: int = 3,
    progress: bool = True,
    dtype: Any = None,
) -> dict[str, Any]:
    """Evaluate every model in ``models`` (name -> model path, run dir, or None for the embedded default).

    ``settings`` are the generation settings every model answers with (default ``GenerationSettings()``).
    ``tokenized`` is a tokenized split (``input_ids`` + ``labels``) for the held-out loss; None skips it;
    ``num_samples`` limits it as it limits the test rows, unless ``heldout_samples`` sets its own limit.
    ``format_check_samples`` prompts are also asked as plain text to detect format overfitting (see
    ``metrics.format_overfitting``). A model whose tokenizer has no chat template gets the first other
    model's template, so both models see the same prompt; metrics.json records which template was used.
    ``dtype`` is the weights dtype every model is loaded in (default float32). Returns the metrics written to
    metrics.json.
    """
    if not models:
        raise EvalDataError("no models to evaluate")
    settings = settings or GenerationSettings()
    data = _Prompts.from_rows(test_rows, num_samples)
    tokenized = _limit_rows(tokenized, heldout_samples if heldout_samples is not None else num_samples)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    template_owner, template = _shared_template({name: load_inference_tokenizer(p) for name, p in models.items()})

    outputs: dict[str, list[str]] = {}
    results: dict[str, Any] = {}
    for name, path in models.items():
        model, tokenizer = load_for_inference(path, dtype=dtype)
        prompt_template = "own"
        if not tokenizer.chat_template and template is not None:
            tokenizer.chat_template = template
            prompt_template = f"borrowed from {template_owner}"
        budgets = answer_budgets(data.tasks, data.references, tokenizer, settings)
        outputs[name] = generate(model, tokenizer, data.prompts, settings, batch_keys=data.tasks, budgets=budgets,
                                 progress=progress, desc=f"generating ({name})")
        results[name] = {
            "path": str(path) if path is not None else "embedded",
            "prompt_template": prompt_template,
            "answer_budgets": dict(sorted(zip(data.tasks, budgets))),
            **_scores(data, outputs[name]),
            "heldout": _heldout(model, tokenizer, tokenized, heldout_batch_size, progress, name),
        }
        if format_check_samples > 0:
            check = _FormatCheck(data, outputs[name], format_check_samples)
            results[name]["format_overfitting"] = check.run(model, tokenizer, settings, progress, name)
        del model
        gc.collect()

    weights = str(dtype or "torch.float32").replace("torch.", "")
    metrics = {"num_prompts": len(data.rows), "tasks": sorted(set(data.tasks)),
               "generation": {**settings.record(), "dtype": weights}, "models": results}
    _write_outputs(out, models, metrics, _generation_rows(data, outputs, models), report_examples)
    return metrics


def answer_budgets(tasks: Sequence[str], references: Sequence[str], tokenizer,
                   settings: GenerationSettings) -> list[int]:
    """New-token budget per row. With ``settings.task_budgets``, a row whose task a task family scores against its
    reference (a case name, a disposition, a citation list) gets twice the task's longest reference plus
    ``BUDGET_SLACK`` tokens, at most ``max_new_tokens``: a longer answer cannot match, and a batch of one-line
    answers then stops long before a batch of summaries. Other rows (free-form answers a judge may read) keep
    ``max_new_tokens``."""
    from sft_recipes.tasks.registry import family_of

    cap = settings.max_new_tokens
    if not settings.task_budgets:
        return [cap] * len(tasks)
    longest: dict[str, int] = {}
    for task, reference in zip(tasks, references):
        if task and family_of(task) is not None:
            n = len(tokenizer(reference, add_special_tokens=False)["input_ids"])
            longest[task] = max(longest.get(task, 0), n)
    return [min(cap, 2 * longest[t] + BUDGET_SLACK) if t in longest else cap for t in tasks]


def _limit_rows(tokenized: Any, limit: int | None) -> Any:
    """The tokenized split cut to ``limit`` rows: by default the same budget for the loss as for the answers."""
    if tokenized is None or limit is None or len(tokenized) <= limit:
        return tokenized
    return tokenized.select(range(limit)) if hasattr(tokenized, "select") else tokenized[:limit]


def _scores(data: _Prompts, answers: list[str]) -> dict[str, Any]:
    scores = score_rows({"task": task, "answer": a, "reference": ref}
                        for task, a, ref in zip(data.tasks, answers, data.references))
    return {"tasks": scores["per_task"], "overall": scores["overall"]}


def _generation_rows(data: _Prompts, outputs: dict[str, list[str]], models) -> list[dict[str, Any]]:
    return [{"id": r.get("id", ""), "task": r.get("task", ""), "messages": list(p), "reference": ref,
             "outputs": {name: outputs[name][i] for name in models}}
            for i, (r, p, ref) in enumerate(zip(data.rows, data.prompts, data.references))]


def _write_outputs(out: Path, models, metrics: dict[str, Any], generations: list[dict[str, Any]],
                   report_examples: int) -> None:
    """generations.jsonl, metrics.json, scores.png, the runs' training curves and report.md."""
    from sft_recipes.evaluation.report import plot_scores, write_report

    write_jsonl(out / GENERATIONS_FILE, generations)
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plot_scores(metrics, out / "scores.png")
    training_plots = {}
    for name, path in models.items():  # a trained run's loss curve, copied so the report stands alone
        curve = Path(path) / TRAINING_CURVES if path else None
        if curve is not None and curve.is_file():
            training_plots[name] = f"training_curves_{name}.png"
            shutil.copyfile(curve, out / training_plots[name])
    write_report(metrics, generations, out / "report.md", examples=report_examples, plot_name="scores.png",
                 training_plots=training_plots)


def _heldout(model, tokenizer, tokenized, batch_size: int, progress: bool, name: str) -> dict[str, Any] | None:
    """Held-out loss, or the one-line reason it cannot be measured for this model (shown in the report)."""
    if tokenized is None:
        return None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    try:
        return heldout_loss(
            model, tokenized, batch_size=batch_size, pad_token_id=pad, progress=progress, desc=f"held-out loss ({name})"
        ).to_dict()
    except HeldoutError as e:
        return {"error": str(e)}


@dataclass
class _FormatCheck:
    """The first ``k`` prompts asked again as plain text, compared with the templated answers."""

    data: _Prompts
    answers: list[str]
    k: int

    def run(self, model, tokenizer, settings: GenerationSettings, progress: bool, name: str) -> dict[str, Any]:
        plain = [plain_text_prompt(p) for p in self.data.prompts[: self.k]]
        # plain text has no sampling: greedy, so the check does not depend on the draw
        plain_answers = generate(model, tokenizer, plain, settings.replace(do_sample=False), progress=progress,
                                 desc=f"plain-text prompts ({name})")
        checks = [format_overfitting(t, u, ref)
                  for t, u, ref in zip(self.answers, plain_answers, self.data.references)]
        n = len(checks)
        return {
            "n": n,
            "overfit_rate": sum(c["overfit"] for c in checks) / n,
            "leak_rate": sum(c["leaks_template"] for c in checks) / n,
            "collapse_rate": sum(c["collapsed"] for c in checks) / n,
        }
