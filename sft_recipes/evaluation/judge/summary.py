"""Turn judgment rows into numbers a person can trust, and write them as JSON, CSV, Markdown and a PNG.

Single mode, per model: mean score with a seeded bootstrap 95% CI, parse-failure rate, mean answer length.
Pairwise mode: each prompt is judged in both orders; when the orders disagree the pair counts as a tie and is
reported as inconsistent. Win rate counts ties as half a win. First-position win rate is the share of decisive
single-order verdicts that picked the answer shown first (0.5 for a judge without position bias).
Failed and skipped judgments never enter a mean or a win rate: they are counted beside them.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from sft_recipes.evaluation.judge.length_control import length_controlled
from sft_recipes.evaluation.judge.plots import plot_summary

N_RESAMPLES = 2000


def bootstrap_ci(values: list[float], seed: int = 0, confidence: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap CI of the mean (scipy), or None with fewer than two values."""
    if len(values) < 2:
        return None
    from scipy.stats import bootstrap

    result = bootstrap(
        (np.asarray(values, dtype=float),), np.mean, confidence_level=confidence, n_resamples=N_RESAMPLES,
        method="percentile", rng=np.random.default_rng(seed), vectorized=True,
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _is_parse_failure(r: dict[str, Any]) -> bool:
    return r["status"] == "failed" and not str(r.get("error") or "").startswith("transport")


def _counts(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    parse_failures = sum(_is_parse_failure(r) for r in records)
    transport = sum(r["status"] == "failed" and not _is_parse_failure(r) for r in records)
    return {
        "judgments": n,
        "ok": sum(r["status"] == "ok" for r in records),
        "failed": sum(r["status"] == "failed" for r in records),
        "skipped": sum(r["status"] == "skipped" for r in records),
        "parse_failures": parse_failures,
        "parse_failure_rate": round(parse_failures / n, 4) if n else None,
        "transport_failures": transport,
        "cached": sum(bool(r.get("cached")) for r in records),
        "not_resent": sum(bool(r.get("cached")) and r["status"] == "failed" for r in records),
        "requests": sum(r.get("requests", 0) for r in records if not r.get("cached")),
        "input_tokens": sum(r["usage"]["input_tokens"] for r in records if not r.get("cached")),
        "output_tokens": sum(r["usage"]["output_tokens"] for r in records if not r.get("cached")),
    }


def _mean_length(records: list[dict[str, Any]], model: str) -> dict[str, float | None]:
    chars = [r["answer_chars"][model] for r in records if model in r.get("answer_chars", {})]
    words = [r["answer_words"][model] for r in records if model in r.get("answer_words", {})]
    return {
        "mean_answer_chars": round(float(np.mean(chars)), 2) if chars else None,
        "mean_answer_words": round(float(np.mean(words)), 2) if words else None,
    }


def failure_reasons(failures: list[dict[str, Any]], top: int = 5) -> list[tuple[str, int]]:
    return [(f["reason"], f["count"]) for f in failures[:top]]


def _failures(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct reasons of failed and skipped judgments, most frequent first, each with an example id."""
    found: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["status"] != "ok":
            reason = str(r.get("error") or "unknown")
            entry = found.setdefault(reason, {"reason": reason, "count": 0, "example_id": r["id"]})
            entry["count"] += 1
    return sorted(found.values(), key=lambda f: -f["count"])


def summarize(records: list[dict[str, Any]], mode: str, models: list[str], seed: int = 0,
              run: dict[str, Any] | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {"mode": mode, "models": models, "run": run or {}, "totals": _counts(records),
                               "failures": _failures(records)}
    if mode == "single":
        summary["per_model"] = {m: _single_model(records, m, seed) for m in models}
    else:
        summary["pairwise"] = _pairwise(records, models, seed)
        summary["per_model"] = {m: _mean_length(records, m) for m in models}
    return summary


def _single_model(records: list[dict[str, Any]], model: str, seed: int) -> dict[str, Any]:
    mine = [r for r in records if r.get("model") == model]
    scores = [float(r["score"]) for r in mine if r["status"] == "ok"]
    ci = bootstrap_ci(scores, seed)
    return {
        "n": len(mine),
        "scored": len(scores),
        "mean_score": round(float(np.mean(scores)), 4) if scores else None,
        "ci95_low": round(ci[0], 4) if ci else None,
        "ci95_high": round(ci[1], 4) if ci else None,
        **{k: v for k, v in _counts(mine).items() if k in ("failed", "skipped", "parse_failures",
                                                            "parse_failure_rate", "transport_failures")},
        **_mean_length(mine, model),
    }


def _pairwise(records: list[dict[str, Any]], models: list[str], seed: int) -> dict[str, Any]:
    first, second = models
    by_id: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        by_id[r["id"]][r["order"]] = r
    outcomes: list[float] = []  # first model's result per complete pair: 1 win, 0.5 tie, 0 loss
    wins = ties = losses = consistent = 0
    inconsistent_ids: list[str] = []
    incomplete_ids: list[str] = []
    for pid, orders in by_id.items():
        pair = [orders.get("AB"), orders.get("BA")]
        if any(r is None or r["status"] != "ok" for r in pair):
            incomplete_ids.append(pid)
            continue
        winners = {pair[0]["winner"], pair[1]["winner"]}
        if len(winners) == 1:
            consistent += 1
            winner = winners.pop()
        else:
            inconsistent_ids.append(pid)
            winner = "tie"
        if winner == first:
            wins += 1
            outcomes.append(1.0)
        elif winner == second:
            losses += 1
            outcomes.append(0.0)
        else:
            ties += 1
            outcomes.append(0.5)
    decisive = [r for r in records if r["status"] == "ok" and r["verdict"] in ("A", "B")]
    complete = len(outcomes)
    lengths = _length_effect(records, first, second)
    ci = bootstrap_ci(outcomes, seed)
    return {
        "pairs": len(by_id),
        "complete_pairs": complete,
        "incomplete_pairs": len(incomplete_ids),
        "incomplete_ids": incomplete_ids,
        f"{first}_wins": wins,
        "ties": ties,
        f"{second}_wins": losses,
        "win_rate": round(float(np.mean(outcomes)), 4) if outcomes else None,  # of the first model, ties = 0.5
        "win_rate_ci95": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
        "consistency_rate": round(consistent / complete, 4) if complete else None,
        "inconsistent_pairs": len(inconsistent_ids),
        "inconsistent_ids": inconsistent_ids,
        "first_position_win_rate": round(sum(r["verdict"] == "A" for r in decisive) / len(decisive), 4)
        if decisive else None,
        "decisive_judgments": len(decisive),
        "length_controlled": length_controlled(_observations(records, first), seed=seed),
        "length": lengths,
    } | {"warnings": _trust_warnings(consistent, complete, decisive)}


def _trust_warnings(consistent: int, complete: int, decisive: list[dict[str, Any]]) -> list[str]:
    """Signs that the verdicts follow the position of the answers rather than the answers."""
    warnings = []
    if len(decisive) >= 8:
        share = sum(r["verdict"] == "A" for r in decisive) / len(decisive)
        if share >= 0.85 or share <= 0.15:
            warnings.append(f"the judge picked the {'first' if share >= 0.5 else 'second'} answer in {max(share, 1 - share):.0%} "
                            "of decisive verdicts: its verdicts follow the position, not the answers")
    if complete >= 8 and consistent / complete < 0.5:
        warnings.append(f"only {consistent} of {complete} pairs got the same verdict in both orders: "
                        "the win rate mostly counts ties of disagreement")
    return warnings


def _observations(records: list[dict[str, Any]], first: str) -> list[dict[str, Any]]:
    """One per judgment with a verdict, for the length-controlled fit (first model's view)."""
    out = []
    for r in records:
        if r["status"] != "ok":
            continue
        second = next(m for m in r["models"] if m != first)
        target = 0.5 if r["winner"] == "tie" else float(r["winner"] == first)
        out.append({"id": r["id"], "target": target, "position": 1.0 if r["position_a"] == first else -1.0,
                    "delta_len": r["answer_chars"][first] - r["answer_chars"][second]})
    return out


def _length_effect(records: list[dict[str, Any]], first: str, second: str) -> dict[str, Any]:
    """How long each model's answers are, and how the first model fares when its answer is the longer one."""
    per_prompt = {r["id"]: r for r in records}
    chars = {m: [r["answer_chars"][m] for r in per_prompt.values()] for m in (first, second)}
    words = {m: [r["answer_words"][m] for r in per_prompt.values()] for m in (first, second)}
    delta = [a - b for a, b in zip(chars[first], chars[second])]
    ok = [r for r in records if r["status"] == "ok"]

    def rate(rows: list[dict[str, Any]]) -> float | None:
        scores = [1.0 if r["winner"] == first else 0.5 if r["winner"] == "tie" else 0.0 for r in rows]
        return round(float(np.mean(scores)), 4) if scores else None

    return {
        "mean_chars": {m: round(float(np.mean(v)), 1) for m, v in chars.items()},
        "mean_words": {m: round(float(np.mean(v)), 1) for m, v in words.items()},
        "mean_char_difference": round(float(np.mean(delta)), 1),
        "first_longer_share": round(float(np.mean([d > 0 for d in delta])), 4),
        "win_rate_when_longer": rate([r for r in ok if r["answer_chars"][first] > r["answer_chars"][second]]),
        "win_rate_when_shorter": rate([r for r in ok if r["answer_chars"][first] < r["answer_chars"][second]]),
    }


def write_summary(summary: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    paths = {"json": out / "summary.json", "csv": out / "summary.csv", "md": out / "summary.md",
             "png": out / "summary.png"}
    paths["json"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    rows = _table(summary)
    with paths["csv"].open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    paths["md"].write_text(_markdown(summary, rows), encoding="utf-8")
    plot_summary(summary, paths["png"])
    return paths


def _table(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per model (the CSV and the Markdown table)."""
    rows = []
    if summary["mode"] == "single":
        for model, s in summary["per_model"].items():
            rows.append({"model": model, **{k: s[k] for k in (
                "n", "scored", "mean_score", "ci95_low", "ci95_high", "parse_failures", "parse_failure_rate",
                "transport_failures", "skipped", "mean_answer_chars", "mean_answer_words")}})
        return rows
    p = summary["pairwise"]
    first, second = summary["models"]
    for model, other in ((first, second), (second, first)):
        lc = p.get("length_controlled") or {}
        rows.append({
            "model": model, "opponent": other, "wins": p[f"{model}_wins"], "ties": p["ties"],
            "losses": p[f"{other}_wins"], "win_rate": _side(p["win_rate"], model == first),
            "win_rate_ci95": _side_ci(p["win_rate_ci95"], model == first),
            "lc_win_rate": _side(lc.get("lc_win_rate"), model == first),
            "lc_win_rate_ci95": _side_ci(lc.get("lc_win_rate_ci95"), model == first),
            "complete_pairs": p["complete_pairs"],
            "consistency_rate": p["consistency_rate"], "first_position_win_rate": p["first_position_win_rate"],
            "parse_failure_rate": summary["totals"]["parse_failure_rate"],
            **summary["per_model"][model],
        })
    return rows


def _side(rate: float | None, first: bool) -> float | None:
    return rate if first or rate is None else round(1 - rate, 4)


def _side_ci(ci: list[float] | None, first: bool) -> str | None:
    if ci is None:
        return None
    low, high = ci if first else (round(1 - ci[1], 4), round(1 - ci[0], 4))
    return f"{low:.3f}-{high:.3f}"


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def _markdown(summary: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    run, totals = summary["run"], summary["totals"]
    lines = [f"# Judge summary ({summary['mode']})", ""]
    if run:
        prompts = ", ".join(f"{pid} ({h})" for pid, h in run.get("prompts", []))
        lines += [f"- judge: {run.get('judge_backend')} / {run.get('judge_model')}", f"- prompts: {prompts}"]
    lines += [
        f"- judgments: {totals['judgments']} (ok {totals['ok']}, failed {totals['failed']}, "
        f"skipped {totals['skipped']}, from cache {totals['cached']})",
        f"- parse failures: {totals['parse_failures']} ({_fmt(totals['parse_failure_rate'])}); "
        f"transport failures: {totals['transport_failures']}",
        f"- requests sent this run: {totals['requests']} (HTTP, retries included); tokens in/out: "
        f"{totals['input_tokens']}/{totals['output_tokens']}",
    ]
    if totals["not_resent"]:
        lines.append(f"- failures not re-sent: {totals['not_resent']} (the same request failed the same way before; "
                     "--retry-failed asks again)")
    for reason, count in failure_reasons(summary.get("failures", [])):
        lines.append(f"- failed x{count}: {reason}")
    if run.get("max_cost") is not None:
        state = "REACHED: remaining judgments skipped" if run.get("max_cost_reached") else "not reached"
        lines.append(f"- cost this run: {run.get('cost_this_run')} (max {run['max_cost']}, {state})")
    if summary["mode"] == "pairwise":
        p = summary["pairwise"]
        lines += [
            f"- complete pairs: {p['complete_pairs']} of {p['pairs']}; consistency across orders: "
            f"{_fmt(p['consistency_rate'])} ({p['inconsistent_pairs']} inconsistent pairs counted as ties)",
            f"- first-position win rate: {_fmt(p['first_position_win_rate'])} (0.5 = no position bias)",
            f"- win rate of {summary['models'][0]} (ties = 0.5): {_fmt(p['win_rate'])}, 95% CI {p['win_rate_ci95']}",
        ]
        lines += [f"- **WARNING**: {w}; do not trust this win rate" for w in p.get("warnings", [])]
        lc, length = p.get("length_controlled"), p.get("length") or {}
        if lc:
            lines.append(f"- length-controlled win rate (AlpacaEval 2 method): {_fmt(lc['lc_win_rate'])}, 95% CI "
                         f"{lc['lc_win_rate_ci95']} (length weight {lc['phi_length']:+.3g}, position weight "
                         f"{lc['psi_position']:+.3g})")
        if length:
            first, second = summary["models"]
            lines.append(f"- mean answer length (chars): {first} {length['mean_chars'][first]}, {second} "
                         f"{length['mean_chars'][second]} (difference {length['mean_char_difference']:+}); "
                         f"{first} longer in {_fmt(length['first_longer_share'])} of prompts; its win rate when "
                         f"longer {_fmt(length['win_rate_when_longer'])}, when shorter "
                         f"{_fmt(length['win_rate_when_shorter'])}")
    lines += ["", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(_fmt(v) for v in row.values()) + " |" for row in rows]
    return "\n".join(lines) + "\n"
