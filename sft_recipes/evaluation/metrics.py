"""Task metrics for generated answers: pure functions on strings, so every number can be checked by hand.

Normalisation follows SQuAD (lowercase, drop punctuation and the articles a/an/the, collapse whitespace):
a model that answers "Reversed." to the reference "REVERSED" has the right answer, and exact string
comparison would hide that. Raw exact match is still reported, because format drift matters too.

Each task of a task family gets the metric that fits its answer shape (the family registers it in
``tasks/registry.py``); ``score_rows`` averages per task and overall.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any, Iterable

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})
_LIST_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")

# Markers of a chat or instruction template. In an answer they mean the model is writing the template
# itself (a new turn, a role header) instead of stopping: the classic symptom of an end-of-turn never learned.
TEMPLATE_MARKERS = (
    "<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
    "<start_of_turn>", "<end_of_turn>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>",
    "[INST]", "[/INST]", "<<SYS>>", "###",
)
_ROLE_HEADER = re.compile(
    r"^\s*(?:user|assistant|system|human|gpt|instruction|response|input)\s*:",
    re.IGNORECASE | re.MULTILINE,
)

DEFAULT_HEADLINE = "token_f1"  # tasks of no task family: free text, so overlap says more than exact match


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, punctuation to spaces, no articles, single spaces."""
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(answer: str, reference: str) -> float:
    """1.0 when the answers are identical up to surrounding whitespace."""
    return float(answer.strip() == reference.strip())


def normalized_exact_match(answer: str, reference: str) -> float:
    return float(normalize_answer(answer) == normalize_answer(reference))


def token_f1(answer: str, reference: str) -> float:
    """SQuAD token F1 over normalised words (a bag-of-words overlap, ROUGE-1-like).

    Two empty answers agree (1.0); an empty answer against a non-empty reference scores 0.
    """
    a, r = normalize_answer(answer).split(), normalize_answer(reference).split()
    if not a or not r:
        return float(a == r)
    common = sum((Counter(a) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(r)
    return 2 * precision * recall / (precision + recall)


def contains(answer: str, reference: str) -> float:
    """1.0 when the normalised reference appears in the normalised answer as whole words.

    Credits verbose answers that carry the right content ("The court REVERSED the judgment").
    An empty reference is contained only in an empty answer, so blank references cannot inflate scores.
    """
    a, r = normalize_answer(answer), normalize_answer(reference)
    if not r:
        return float(not a)
    return float(f" {r} " in f" {a} ")


def split_items(text: str) -> list[str]:
    """Items of a list answer: one per line or per semicolon, bullets and numbering removed, normalised."""
    items = []
    for line in text.splitlines():
        for part in line.split(";"):
            item = normalize_answer(_LIST_BULLET.sub("", part))
            if item:
                items.append(item)
    return items


def citation_f1(answer: str, reference: str) -> float:
    """Set F1 between the items of two list answers (order and duplicates do not matter)."""
    return set_f1(set(split_items(answer)), set(split_items(reference)))


def set_f1(a: set, r: set) -> float:
    """F1 of an answer set against a reference set; two empty sets agree."""
    if not a or not r:
        return float(a == r)
    common = len(a & r)
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(r)
    return 2 * precision * recall / (precision + recall)


def word_count(text: str) -> int:
    return len(text.split())


def length_ratio(answer: str, reference: str) -> float | None:
    """Answer words / reference words; None when the reference has no words (the ratio is undefined)."""
    ref_words = word_count(reference)
    if ref_words == 0:
        return None
    return word_count(answer) / ref_words


def is_empty(answer: str) -> bool:
    return not answer.strip()


def format_violations(answer: str) -> list[str]:
    """Template markers and role headers found in an answer, in order of first appearance."""
    found = [(answer.find(m), m) for m in TEMPLATE_MARKERS if m in answer]
    found += [(m.start(), m.group(0).strip()) for m in _ROLE_HEADER.finditer(answer)]
    seen: list[str] = []
    for _, marker in sorted(found):
        if marker not in seen:
            seen.append(marker)
    return seen


def format_adherence(answer: str) -> float:
    """1.0 when the answer contains no template markers or role headers, else 0.0."""
    return float(not format_violations(answer))


def format_overfitting(
    templated_answer: str,
    untemplated_answer: str,
    reference: str | None = None,
    collapse_ratio: float = 0.5,
) -> dict[str, Any]:
    """Does the model only work inside its chat template?

    Ask the same question twice: rendered with the chat template, and as plain text. A model that
    overfit to the format shows one of two signs on the plain-text answer:

    - ``leaks_template``: the plain-text answer contains template markers or role headers that the
      templated answer does not (the model rebuilds the template instead of answering);
    - ``collapsed``: with a reference, the plain-text token F1 falls below ``collapse_ratio`` times the
      templated token F1 (the templated answer must score above 0); without a reference, the plain-text
      answer is empty while the templated one is not.

    ``overfit`` is true when either sign is present.
    """
    templated_marks = set(format_violations(templated_answer))
    leaked = [m for m in format_violations(untemplated_answer) if m not in templated_marks]
    result: dict[str, Any] = {"leaks_template": bool(leaked), "leaked_markers": leaked}
    if reference is not None:
        t_f1, u_f1 = token_f1(templated_answer, reference), token_f1(untemplated_answer, reference)
        result["templated_f1"], result["untemplated_f1"] = t_f1, u_f1
        result["collapsed"] = t_f1 > 0 and u_f1 < collapse_ratio * t_f1
    else:
        result["collapsed"] = is_empty(untemplated_answer) and not is_empty(templated_answer)
    result["overfit"] = result["leaks_template"] or result["collapsed"]
    return result


def headline_metric(task: str) -> str:
    """The headline metric of a task: its task family's choice (tasks/), else token F1."""
    from sft_recipes.tasks.registry import family_of

    family = family_of(task)
    return family.headline_metrics[task] if family is not None else DEFAULT_HEADLINE


def score_answer(task: str, answer: str, reference: str) -> dict[str, float | None]:
    """Every metric that fits ``task`` (its task family adds its own), plus the answer-shape checks every task gets."""
    from sft_recipes.tasks.registry import family_of

    scores: dict[str, float | None] = {
        "exact_match": exact_match(answer, reference),
        "normalized_em": normalized_exact_match(answer, reference),
    }
    family = family_of(task)
    specific = family.scores(task, answer, reference) if family is not None else None
    scores.update(specific if specific is not None else {"token_f1": token_f1(answer, reference)})
    scores["length_ratio"] = length_ratio(answer, reference)
    scores["empty"] = float(is_empty(answer))
    scores["format_adherence"] = format_adherence(answer)
    return scores


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def score_rows(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Score rows of ``{"task", "answer", "reference"}``: per-task means and an overall summary.

    Per task: ``n``, ``headline_metric``, ``headline`` (its mean) and the mean of every metric.
    Overall: ``n``, ``headline`` (mean over rows of each row's own headline, so every answer counts
    once), ``macro_headline`` (mean over tasks, so small tasks count as much as large ones),
    ``empty_rate``, ``format_adherence`` and ``length_ratio``.
    """
    per_row: dict[str, list[dict[str, float | None]]] = {}
    headlines: list[float] = []
    for row in rows:
        task = row.get("task") or ""
        scores = score_answer(task, row["answer"], row["reference"])
        per_row.setdefault(task, []).append(scores)
        headlines.append(scores[headline_metric(task)])  # type: ignore[arg-type]

    per_task: dict[str, dict[str, Any]] = {}
    for task in sorted(per_row):
        scored = per_row[task]
        metric = headline_metric(task)
        means = {name: _mean(s.get(name) for s in scored) for name in scored[0]}
        per_task[task] = {"n": len(scored), "headline_metric": metric, "headline": means[metric], **means}

    all_scores = [s for scored in per_row.values() for s in scored]
    overall = {
        "n": len(all_scores),
        "headline": _mean(headlines),
        "macro_headline": _mean(t["headline"] for t in per_task.values()),
        "empty_rate": _mean(s["empty"] for s in all_scores),
        "format_adherence": _mean(s["format_adherence"] for s in all_scores),
        "length_ratio": _mean(s["length_ratio"] for s in all_scores),
    }
    return {"per_task": per_task, "overall": overall}
