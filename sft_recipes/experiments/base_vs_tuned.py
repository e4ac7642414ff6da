"""Base vs instruction-tuned behaviour: the same requests, RAW to the base model and TEMPLATED to the tuned one.

    sft-recipes experiment base-vs-tuned --config RECIPE [--base MODEL] [--tuned RUN_DIR]
                                         [--prompts FILE | --num N] [--max_new_tokens T] [--out DIR]

A base model has only learned to continue text: given a request as plain text it writes more of the document
(another question, the request again, a new "### Instruction" block) until the token budget runs out. An
instruction-tuned model given the request in its chat template answers it and ends its turn. This experiment
shows both side by side with four measures per answer:

    length           words (and new tokens) generated
    stops            ended before the token budget (an end-of-turn / EOS token, or the template's stop string)
    repeats prompt   contains 8 consecutive words of the request (``question_of``: the instruction without
                     its document), or the whole question when it is shorter: the base-model habit of restating
                     what it was given
    new turn         writes a turn marker or role header itself ("### Instruction", "User:", "<|im_start|>")

Prompts: ``--prompts`` (a JSONL of conversation rows, or of {"prompt": text}; or a .txt file, one prompt per line),
else the recipe's prepared test split (prepared first when missing). Raw prompts are the message contents
separated by blank lines, nothing else. Defaults: base = the recipe's model; tuned = the recipe's ``output_dir``
when it holds a trained run, else the base model itself (then the experiment shows what the chat template alone
changes for one model). Writes ``report.md``, ``report.json``, ``generations.jsonl`` and ``behaviour.png``.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any, Sequence

from sft_recipes.data.jsonl import iter_jsonl, write_jsonl
from sft_recipes.evaluation.compare import plain_text_prompt, split_prompt
from sft_recipes.evaluation.metrics import format_violations, normalize_answer
from sft_recipes.experiments import ExperimentError

ECHO_WORDS = 8
MEASURES = ("stops", "repeats_prompt", "new_turn", "empty")


# --- measures: pure functions on strings -------------------------------------------------------------------------


def question_of(messages: Sequence[dict[str, str]], task: str = "") -> str:
    """The request itself, without the document it comes with.

    A court-opinion row's request is its question, the last paragraph of its user message (after the opinion); any
    other row's is the first paragraph of its last user message (Alpaca puts the instruction before the input).
    """
    from sft_recipes.tasks.court_opinions import PHRASINGS

    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    if task in PHRASINGS:
        return user.strip().rsplit("\n\n", 1)[-1].strip()
    return next((p.strip() for p in user.strip().split("\n\n") if p.strip()), "")


def repeats_prompt(answer: str, question: str, n: int = ECHO_WORDS) -> bool:
    """Does the answer restate the question: ``n`` consecutive (normalised) words of it, or all of a shorter one?"""
    q, a = normalize_answer(question).split(), f" {normalize_answer(answer)} "
    if not q:
        return False
    if len(q) <= n:
        return f" {' '.join(q)} " in a
    return any(f" {' '.join(q[i : i + n])} " in a for i in range(len(q) - n + 1))


def starts_new_turn(answer: str) -> bool:
    """A template marker or a role header in the answer: the model writes the next turn instead of stopping."""
    return bool(format_violations(answer))


def measure(answer: str, new_tokens: int, max_new_tokens: int, question: str) -> dict[str, Any]:
    return {
        "words": len(answer.split()),
        "new_tokens": new_tokens,
        "stops": new_tokens < max_new_tokens,
        "repeats_prompt": repeats_prompt(answer, question),
        "new_turn": starts_new_turn(answer),
        "empty": not answer.strip(),
    }


def summarize_measures(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    if n == 0:
        return {"n": 0}
    out: dict[str, Any] = {"n": n,
                           "mean_words": round(sum(r["words"] for r in rows) / n, 1),
                           "mean_new_tokens": round(sum(r["new_tokens"] for r in rows) / n, 1)}
    for key in MEASURES:
        out[f"{key}_rate"] = round(sum(bool(r[key]) for r in rows) / n, 4)
    return out


# --- prompts ------------------------------------------------------------------------------------------------------


def read_prompts(path: str | Path) -> list[dict[str, Any]]:
    """Prompt rows ``{"id", "task", "messages"}`` from a JSONL (conversation rows or {"prompt"}) or a .txt file."""
    p = Path(path)
    if not p.is_file():
        raise ExperimentError(f"prompts file not found: {p}")
    if p.suffix == ".txt":
        lines = p.read_text(encoding="utf-8").splitlines()
        return [{"id": f"{p.name}:{i}", "task": "", "messages": [{"role": "user", "content": line.strip()}]}
                for i, line in enumerate(lines, 1) if line.strip()]
    out = []
    for i, row in iter_jsonl(p, ExperimentError):
        if isinstance(row, dict) and isinstance(row.get("prompt"), str):
            messages = [{"role": "user", "content": row["prompt"]}]
        elif isinstance(row, dict) and isinstance(row.get("messages"), list):
            row.setdefault("source", f"{p}:{i}")
            try:
                messages = split_prompt(row)[0] if any(m.get("role") == "assistant" for m in row["messages"]) \
                    else [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
            except (KeyError, TypeError):
                raise ExperimentError(f"{p}:{i}: every message needs a role and a content") from None
        else:
            raise ExperimentError(f"{p}:{i}: expected {{\"prompt\": text}} or {{\"messages\": [...]}}")
        if not any(m["role"] == "user" for m in messages):
            raise ExperimentError(f"{p}:{i}: the prompt has no user message")
        out.append({"id": row.get("id") or f"{p.name}:{i}", "task": row.get("task", ""), "messages": messages})
    if not out:
        raise ExperimentError(f"{p}: no prompts")
    return out


def recipe_prompts(recipe) -> list[dict[str, Any]]:
    """The prompts of the recipe's prepared test split (validation when there is no test split)."""
    from sft_recipes.prepare import ensure_prepared, prepared_dir

    directory = prepared_dir(recipe)
    if not any((directory / f"{s}.jsonl").is_file() for s in ("test", "validation")):
        ensure_prepared(recipe)
    for split in ("test", "validation"):
        path = directory / f"{split}.jsonl"
        if path.is_file() and path.stat().st_size > 0:
            return read_prompts(path)
    raise ExperimentError(f"{directory} has no test or validation rows: set test_size > 0, or pass --prompts FILE")


# --- the experiment -----------------------------------------------------------------------------------------------


def _answers(model_path: str | None, prompts: list, max_new_tokens: int, batch_size: int, raw: bool,
             desc: str) -> tuple[list[str], list[int], Any]:
    from sft_recipes.inference.generate import cut_at_stop_strings, generate_token_ids, template_stop_strings
    from sft_recipes.inference.loading import load_for_inference
    from sft_recipes.inference.settings import GenerationSettings

    model, tokenizer = load_for_inference(model_path)
    if not raw and not tokenizer.chat_template:
        raise ExperimentError(f"the tuned model {model_path} has no chat template: it cannot be prompted TEMPLATED")
    # raw text has no template, so nothing to stop at but EOS: the continuation shows what the model does alone
    stops = [] if raw else template_stop_strings(tokenizer)
    settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=batch_size, stop_strings=stops)
    ids = generate_token_ids(model, tokenizer, prompts, settings, desc=desc)
    answers = [cut_at_stop_strings(tokenizer.decode(t, skip_special_tokens=False), stops).strip() for t in ids]
    del model
    gc.collect()
    return answers, [len(t) for t in ids], tokenizer


def run_base_vs_tuned(
    recipe,
    out_dir: str | Path | None = None,
    *,
    base: str | None = None,
    tuned: str | None = None,
    prompts_file: str | Path | None = None,
    num: int | None = None,
    max_new_tokens: int | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    base = base or recipe.model.model_name_or_path
    run_dir = Path(recipe.training.output_dir)
    if tuned is None:
        trained = (run_dir / "adapter_config.json").is_file() or (run_dir / "config.json").is_file()
        tuned = str(run_dir) if trained else base
    prompts = read_prompts(prompts_file) if prompts_file else recipe_prompts(recipe)
    prompts = prompts[:num] if num else prompts
    max_new_tokens = max_new_tokens or recipe.eval.eval_max_new_tokens
    batch_size = batch_size or recipe.eval.eval_batch_size
    out = Path(out_dir) if out_dir else run_dir / "base_vs_tuned"
    out.mkdir(parents=True, exist_ok=True)

    raw = [plain_text_prompt(p["messages"]) for p in prompts]
    templated = [p["messages"] for p in prompts]
    base_answers, base_tokens, _ = _answers(base, raw, max_new_tokens, batch_size, True, "base, raw text")
    tuned_answers, tuned_tokens, tuned_tok = _answers(tuned, templated, max_new_tokens, batch_size, False,
                                                      "tuned, chat template")

    rows = []
    for p, r, ba, bt, ta, tt in zip(prompts, raw, base_answers, base_tokens, tuned_answers, tuned_tokens):
        question = question_of(p["messages"], p.get("task", ""))
        rows.append({
            "id": p["id"], "task": p.get("task", ""), "question": question,
            "raw_prompt": r,
            "templated_prompt": tuned_tok.apply_chat_template(p["messages"], tokenize=False,
                                                              add_generation_prompt=True),
            "base": {"answer": ba, **measure(ba, bt, max_new_tokens, question)},
            "tuned": {"answer": ta, **measure(ta, tt, max_new_tokens, question)},
        })
    report = {
        "experiment": "base-vs-tuned",
        "base": str(base) if base else "embedded",
        "tuned": str(tuned) if tuned else "embedded",
        "tuned_is_base": tuned == base,
        "prompts": len(rows),
        "prompt_source": str(prompts_file) if prompts_file else "recipe test split",
        "max_new_tokens": max_new_tokens,
        "summary": {"base (raw)": summarize_measures([r["base"] for r in rows]),
                    "tuned (templated)": summarize_measures([r["tuned"] for r in rows])},
    }
    write_jsonl(out / "generations.jsonl", rows)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plot_behaviour(report, out / "behaviour.png")
    (out / "report.md").write_text(render_report(report, rows), encoding="utf-8")
    print(f"[sft-recipes] base vs tuned on {len(rows)} prompts -> {out / 'report.md'}")
    return report


def plot_behaviour(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["summary"])
    labels = ["stops by itself", "repeats the prompt", "writes a new turn", "empty"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 1]})
    try:
        width = 0.8 / len(names)
        for j, name in enumerate(names):
            values = [report["summary"][name].get(f"{m}_rate", 0.0) for m in MEASURES]
            ax.bar([i + (j - (len(names) - 1) / 2) * width for i in range(len(MEASURES))], values, width, label=name)
        ax.set_xticks(range(len(MEASURES)))
        ax.set_xticklabels(labels)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of answers")
        ax.legend()
        ax2.bar(names, [report["summary"][n].get("mean_words", 0) for n in names], color=["#4c72b0", "#dd8452"])
        ax2.set_title("mean answer length (words)")
        fig.suptitle(f"Base (raw text) vs tuned (chat template), {report['prompts']} prompts")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def _cell(text: str, limit: int = 220) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[:limit] + " …"
    return text.replace("|", "\\|") or "*(empty)*"


def _flags(m: dict[str, Any]) -> str:
    flags = ["stops" if m["stops"] else "runs to budget"]
    flags += [name for name, key in (("repeats prompt", "repeats_prompt"), ("new turn", "new_turn")) if m[key]]
    return f"{m['words']} words; " + ", ".join(flags)


def render_report(report: dict[str, Any], rows: Sequence[dict[str, Any]], examples: int = 12) -> str:
    lines = ["# Base vs tuned: raw text vs chat template", "",
             f"- base model, prompted with RAW text: `{report['base']}`",
             f"- tuned model, prompted with its CHAT TEMPLATE: `{report['tuned']}`"
             + (" (the same model: only the prompt format differs)" if report["tuned_is_base"] else ""),
             f"- {report['prompts']} prompts from {report['prompt_source']}; greedy, at most "
             f"{report['max_new_tokens']} new tokens", "",
             "## Measures", "",
             "| measure | " + " | ".join(report["summary"]) + " |", "|---|" + "---|" * len(report["summary"])]
    for key, label in [("mean_words", "mean answer length (words)"), ("mean_new_tokens", "mean new tokens"),
                       ("stops_rate", "stops by itself"), ("repeats_prompt_rate", "repeats the prompt"),
                       ("new_turn_rate", "starts a new turn / role header"), ("empty_rate", "empty answer")]:
        lines.append(f"| {label} | " + " | ".join(str(s.get(key, "–")) for s in report["summary"].values()) + " |")
    lines += ["", "![behaviour](behaviour.png)", "", "## Side by side", "",
              "| # | request | base (raw text) | tuned (chat template) |", "|---|---|---|---|"]
    for i, row in enumerate(rows[:examples], 1):
        lines.append(f"| {i} | {_cell(row['question'], 120)} | {_cell(row['base']['answer'])}<br>*"
                     f"{_flags(row['base'])}* | {_cell(row['tuned']['answer'])}<br>*{_flags(row['tuned'])}* |")
    lines += ["", f"All prompts and full answers: generations.jsonl ({len(rows)} rows)."]
    return "\n".join(lines) + "\n"
