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
from pathlib import Path
from typing import Any, Sequence

from sft_recipes import SFTRecipesError
from sft_recipes.data.jsonl import write_jsonl
from sft_recipes.evaluation.heldout import HeldoutError, heldout_loss
from sft_recipes.evaluation.metrics import format_overfitting, score_rows
from sft_recipes.inference.generate import generate
from sft_recipes.inference.loading import load_for_inference, load_inference_tokenizer
from sft_recipes.data.jsonl import iter_jsonl

GENERATIONS_FILE = "generations.jsonl"
METRICS_FILE = "metrics.json"
TRAINING_CURVES = "training_curves.png"  # written by run_log.plot_training_curves into every run dir


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


def compare_models(
    models: dict[str, str | None],
    test_rows: Sequence[dict[str, Any]],
    out_dir: str | Path,
    *,
    tokenized: Any = None,
    num_samples: int | None = None,
    heldout_samples: int | None = None,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    do_sample: bool = False,
    temperature: float = 0.7,
    seed: int = 0,
    heldout_batch_size: int = 4,
    format_check_samples: int = 0,
    report_examples: int = 3,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate every model in ``models`` (name -> model path, run dir, or None for the embedded default).

    ``tokenized`` is a tokenized split (``input_ids`` + ``labels``) for the held-out loss; None skips it;
    ``num_samples`` limits it as it limits the test rows, unless ``heldout_samples`` sets its own limit.
    ``format_check_samples`` prompts are also asked as plain text to detect format overfitting (see
    ``metrics.format_overfitting``). A model whose tokenizer has no chat template gets the first other
    model's template, so both models see the same prompt; metrics.json records which template was used.
    Returns the metrics written to metrics.json.
    """
    from sft_recipes.evaluation.report import plot_scores, write_report

    if not models:
        raise EvalDataError("no models to evaluate")
    rows = list(test_rows)[: num_samples if num_samples is not None else None]
    if not rows:
        raise EvalDataError("no test rows to evaluate")
    prompts, references = zip(*(split_prompt(r) for r in rows))
    loss_rows = heldout_samples if heldout_samples is not None else num_samples
    if tokenized is not None and loss_rows is not None and len(tokenized) > loss_rows:
        # by default the same budget for the loss as for the answers
        tokenized = tokenized.select(range(loss_rows)) if hasattr(tokenized, "select") else tokenized[:loss_rows]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizers = {name: load_inference_tokenizer(path) for name, path in models.items()}
    template_owner, template = _shared_template(tokenizers)
    settings = {"max_new_tokens": max_new_tokens, "batch_size": batch_size, "do_sample": do_sample,
                "temperature": temperature if do_sample else None, "seed": seed}

    outputs: dict[str, list[str]] = {}
    results: dict[str, Any] = {}
    for name, path in models.items():
        model, tokenizer = load_for_inference(path)
        prompt_template = "own"
        if not tokenizer.chat_template and template is not None:
            tokenizer.chat_template = template
            prompt_template = f"borrowed from {template_owner}"
        answers = generate(
            model, tokenizer, list(prompts), batch_keys=[r.get("task", "") for r in rows],
            max_new_tokens=max_new_tokens, batch_size=batch_size, do_sample=do_sample, temperature=temperature,
            seed=seed, progress=progress, desc=f"generating ({name})",
        )
        outputs[name] = answers
        scores = score_rows(
            {"task": r.get("task", ""), "answer": a, "reference": ref} for r, a, ref in zip(rows, answers, references)
        )
        result: dict[str, Any] = {
            "path": str(path) if path is not None else "embedded",
            "prompt_template": prompt_template,
            "tasks": scores["per_task"],
            "overall": scores["overall"],
            "heldout": _heldout(model, tokenizer, tokenized, heldout_batch_size, progress, name),
        }
        if format_check_samples > 0:
            result["format_overfitting"] = _format_check(
                model, tokenizer, prompts, references, answers, format_check_samples, max_new_tokens,
                batch_size, seed, progress, name,
            )
        results[name] = result
        del model
        gc.collect()

    generations = [
        {
            "id": r.get("id", ""),
            "task": r.get("task", ""),
            "messages": list(p),
            "reference": ref,
            "outputs": {name: outputs[name][i] for name in models},
        }
        for i, (r, p, ref) in enumerate(zip(rows, prompts, references))
    ]
    write_jsonl(out / GENERATIONS_FILE, generations)

    metrics = {
        "num_prompts": len(rows),
        "tasks": sorted({r.get("task", "") for r in rows}),
        "generation": settings,
        "models": results,
    }
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
    return metrics


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


def _format_check(model, tokenizer, prompts, references, answers, k, max_new_tokens, batch_size, seed, progress, name):
    plain = [plain_text_prompt(p) for p in prompts[:k]]
    plain_answers = generate(
        model, tokenizer, plain, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed,
        progress=progress, desc=f"plain-text prompts ({name})",
    )
    checks = [format_overfitting(t, u, ref) for t, u, ref in zip(answers, plain_answers, references)]
    n = len(checks)
    return {
        "n": n,
        "overfit_rate": sum(c["overfit"] for c in checks) / n,
        "leak_rate": sum(c["leaks_template"] for c in checks) / n,
        "collapse_rate": sum(c["collapsed"] for c in checks) / n,
    }
