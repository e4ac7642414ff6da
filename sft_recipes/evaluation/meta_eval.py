"""How far to trust a judge: compare its verdicts with reference (e.g. human) scores or labels.

Scores: Pearson, Spearman and Kendall (tau-b) correlations from scipy.
Labels (pairwise winners, "tie" included): agreement with ties (all items) and without ties (items where
neither side said tie, as in the MT-Bench paper), and Cohen's kappa (chance-corrected agreement).
``meta_eval(judgments.jsonl, references.jsonl)`` joins a judging run with reference rows:
single mode ``{"id", "model", "score"}``, pairwise mode ``{"id", "winner"}`` (a model name or "tie").
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Hashable, Sequence

from sft_recipes import SFTRecipesError

TIE = "tie"


class MetaEvalError(SFTRecipesError):
    pass


def score_correlations(judge: Sequence[float], reference: Sequence[float]) -> dict[str, float | int | None]:
    """Pearson, Spearman and Kendall between paired scores (None where undefined, e.g. a constant side)."""
    from scipy import stats

    if len(judge) != len(reference):
        raise MetaEvalError(f"need paired scores, got {len(judge)} judge and {len(reference)} reference")
    n = len(judge)
    out: dict[str, float | int | None] = {"n": n, "pearson": None, "spearman": None, "kendall": None}
    if n < 2 or len(set(judge)) < 2 or len(set(reference)) < 2:
        return out
    out["pearson"] = float(stats.pearsonr(judge, reference).statistic)
    out["spearman"] = float(stats.spearmanr(judge, reference).statistic)
    out["kendall"] = float(stats.kendalltau(judge, reference).statistic)
    return out


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """(p_observed - p_chance) / (1 - p_chance); None when chance agreement is already perfect (one label only)."""
    if len(a) != len(b):
        raise MetaEvalError(f"need paired labels, got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    count_a, count_b = Counter(a), Counter(b)
    chance = sum(count_a[label] * count_b[label] for label in set(a) | set(b)) / (n * n)
    if chance == 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def label_agreement(judge: Sequence[Hashable], reference: Sequence[Hashable]) -> dict[str, float | int | None]:
    if len(judge) != len(reference):
        raise MetaEvalError(f"need paired labels, got {len(judge)} judge and {len(reference)} reference")
    n = len(judge)
    without = [(x, y) for x, y in zip(judge, reference) if x != TIE and y != TIE]
    return {
        "n": n,
        "agreement_with_ties": sum(x == y for x, y in zip(judge, reference)) / n if n else None,
        "n_without_ties": len(without),
        "agreement_without_ties": sum(x == y for x, y in without) / len(without) if without else None,
        "cohen_kappa": cohen_kappa(judge, reference),
    }


def _read_jsonl(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    path = Path(path)
    if not path.is_file():
        raise MetaEvalError(f"file not found: {path}")
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                try:
                    rows.append((f"{path}:{number}", json.loads(line)))
                except json.JSONDecodeError as e:
                    raise MetaEvalError(f"{path}:{number}: not valid JSON ({e.msg})") from None
    return rows


def meta_eval(judgments_path: str | Path, references_path: str | Path) -> dict[str, Any]:
    """Agreement of a judging run with reference scores/labels, on the items both sides have."""
    judgments = [r for _, r in _read_jsonl(judgments_path)]
    if not judgments:
        raise MetaEvalError(f"no judgments in {judgments_path}")
    mode = judgments[0]["mode"]
    references: dict[Any, Any] = {}
    for where, row in _read_jsonl(references_path):
        field = "score" if mode == "single" else "winner"
        if "id" not in row or field not in row or (mode == "single" and "model" not in row):
            need = "id, model, score" if mode == "single" else "id, winner"
            raise MetaEvalError(f"{where}: a reference row for {mode} mode needs {need}")
        key = (str(row["id"]), row["model"]) if mode == "single" else str(row["id"])
        references[key] = float(row["score"]) if mode == "single" else row["winner"]

    judged = _judge_scores(judgments) if mode == "single" else _judge_winners(judgments)
    keys = [k for k in judged if k in references]
    report: dict[str, Any] = {"mode": mode, "matched": len(keys), "judged": len(judged),
                              "references": len(references)}
    if mode == "single":
        report |= score_correlations([judged[k] for k in keys], [references[k] for k in keys])
    else:
        report |= label_agreement([judged[k] for k in keys], [references[k] for k in keys])
    return report


def _judge_scores(judgments: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    return {(r["id"], r["model"]): float(r["score"]) for r in judgments if r["status"] == "ok"}


def _judge_winners(judgments: list[dict[str, Any]]) -> dict[str, str]:
    """One label per pair: the agreed winner of both orders, else a tie (as the summary counts it)."""
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in judgments:
        by_id[r["id"]].append(r)
    winners = {}
    for pid, rows in by_id.items():
        if len(rows) == 2 and all(r["status"] == "ok" for r in rows):
            labels = {r["winner"] for r in rows}
            winners[pid] = labels.pop() if len(labels) == 1 else TIE
    return winners
