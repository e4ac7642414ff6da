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
from sft_recipes.data.jsonl import iter_jsonl

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
    return [(f"{path}:{number}", row) for number, row in iter_jsonl(path, MetaEvalError)]


def read_references(path: str | Path, mode: str) -> dict[Any, Any] | list[Any]:
    """Reference rows keyed like the judgments (JSONL: ``id`` + ``score`` [+ ``model``] or ``id`` + ``winner``),
    or a plain JSON list aligned by position (scores for single mode, winner labels for pairwise)."""
    path = Path(path)
    if not path.is_file():
        raise MetaEvalError(f"file not found: {path}")
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as e:
            raise MetaEvalError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        for i, v in enumerate(values):
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) if mode == "single" else isinstance(v, str)
            if not ok and v is not None:
                need = "a number" if mode == "single" else "a winner label (model name or tie)"
                raise MetaEvalError(f"{path}: item {i} is {v!r}, expected {need} or null")
        return [float(v) if mode == "single" and v is not None else v for v in values]
    field = "score" if mode == "single" else "winner"
    references: dict[Any, Any] = {}
    for where, row in _read_jsonl(path):
        if not isinstance(row, dict) or "id" not in row or field not in row:
            raise MetaEvalError(f"{where}: a reference row for {mode} mode needs id and {field}")
        key = (str(row["id"]), row.get("model")) if mode == "single" else str(row["id"])
        references[key] = float(row["score"]) if mode == "single" else row["winner"]
    return references


def paired_items(judgments: list[dict[str, Any]], references: dict[Any, Any] | list[Any]) -> tuple[list, list, int]:
    """(judge values, reference values, items judged) on the items both sides have."""
    mode = judgments[0]["mode"]
    if mode == "single":
        keys = [(str(r["id"]), r["model"]) for r in judgments]
        judged = {k: float(r["score"]) for k, r in zip(keys, judgments) if r["status"] == "ok"}
    else:
        judged = _judge_winners(judgments)
        keys = list(dict.fromkeys(str(r["id"]) for r in judgments))
    if isinstance(references, list):
        if len(references) != len(keys):
            what = "judgments" if mode == "single" else "prompts"
            raise MetaEvalError(f"the reference list has {len(references)} items, the judgments file {len(keys)} {what}")
        references = dict(zip(keys, references))
    elif mode == "single" and len({m for _, m in keys}) == 1:  # one model judged: the model field may be left out
        references = {(i, keys[0][1] if m is None else m): v for (i, m), v in references.items()}
    elif mode == "single" and any(m is None for _, m in references):
        raise MetaEvalError("several models were judged: each reference row needs a 'model'")
    matched = [k for k in keys if k in judged and references.get(k) is not None]
    return [judged[k] for k in matched], [references[k] for k in matched], len(judged)


def meta_eval(judgments_path: str | Path, references_path: str | Path, seed: int = 0,
              resamples: int = 2000) -> dict[str, Any]:
    """Agreement of a judging run with reference scores/labels on the items both sides have, with seeded
    bootstrap 95% intervals (items resampled with their pairs)."""
    judgments = [r for _, r in _read_jsonl(judgments_path)]
    if not judgments:
        raise MetaEvalError(f"no judgments in {judgments_path}")
    mode = judgments[0]["mode"]
    references = read_references(references_path, mode)
    judge, reference, judged = paired_items(judgments, references)
    report: dict[str, Any] = {"mode": mode, "matched": len(judge), "judged": judged, "references": len(references),
                              "judge_values": judge, "reference_values": reference}
    if mode == "single":
        report |= score_correlations(judge, reference)
        from scipy import stats as st

        def defined(fn):
            return lambda a, b: float(fn(a, b).statistic) if len(set(a)) > 1 and len(set(b)) > 1 else None

        stats = {"pearson": defined(st.pearsonr), "spearman": defined(st.spearmanr), "kendall": defined(st.kendalltau)}
    else:
        report |= label_agreement(judge, reference)
        stats = {"agreement_with_ties": lambda a, b: label_agreement(a, b)["agreement_with_ties"],
                 "cohen_kappa": cohen_kappa}
    report["ci95"] = {name: paired_bootstrap(judge, reference, fn, seed, resamples) for name, fn in stats.items()}
    report["bootstrap"] = {"resamples": resamples, "seed": seed}
    return report


def paired_bootstrap(a: Sequence[Any], b: Sequence[Any], statistic, seed: int = 0,
                     resamples: int = 2000) -> list[float] | None:
    """Percentile 95% interval of ``statistic(a, b)`` over items resampled in pairs (seeded); resamples where the
    statistic is undefined (e.g. one side constant) are left out; None with fewer than 3 items."""
    import numpy as np

    if len(a) < 3:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, len(a), len(a))
        v = statistic([a[i] for i in idx], [b[i] for i in idx])
        if v is not None and v == v:
            values.append(v)
    if len(values) < resamples // 2:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


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
