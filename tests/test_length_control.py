"""Length-controlled win rate: the fit against closed-form maximum likelihood, and constructed judges where length
is (or is not) the whole story."""

from __future__ import annotations

import hashlib
import math
import random

import numpy as np
import pytest
from judge_server import ScriptedBackend, generation, write_generations

from sft_recipes.evaluation.judge import run_judging
from sft_recipes.evaluation.judge.length_control import fit_logistic, lc_win_rate, length_controlled


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_fit_matches_closed_form_maximum_likelihood():
    # one binary covariate: the MLE is the log-odds of each group (intercept) and their difference (slope)
    x = np.array([0] * 10 + [1] * 10, dtype=float)
    y = np.array([1] * 3 + [0] * 7 + [1] * 8 + [0] * 2, dtype=float)
    w = fit_logistic(np.column_stack([np.ones_like(x), x]), y)
    assert w[0] == pytest.approx(logit(0.3), abs=1e-4)
    assert w[1] == pytest.approx(logit(0.8) - logit(0.3), abs=1e-4)
    # fractional targets (ties as 0.5) are the same likelihood as split rows
    w_tie = fit_logistic(np.ones((4, 1)), np.array([1.0, 0.5, 0.5, 0.0]))
    assert w_tie[0] == pytest.approx(0.0, abs=1e-6)
    w_frac = fit_logistic(np.ones((2, 1)), np.array([1.0, 0.5]))
    assert w_frac[0] == pytest.approx(logit(0.75), abs=1e-4)


def test_no_length_effect_leaves_the_win_rate_alone():
    rng = np.random.default_rng(0)
    delta = rng.normal(0, 100, 400)
    y = (rng.random(400) < 0.8).astype(float)  # wins 80% whatever the lengths
    result = lc_win_rate(y, delta, np.tile([1.0, -1.0], 200))
    assert result["lc_win_rate"] == pytest.approx(0.8, abs=0.03)
    assert abs(result["phi_length"]) < 0.5


def stable_random(*parts: str) -> float:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def answers_of(messages) -> tuple[str, str]:
    user = messages[-1]["content"]
    a = user.split("[The Start of Assistant A's Answer]\n")[1].split("\n[The End")[0]
    b = user.split("[The Start of Assistant B's Answer]\n")[1].split("\n[The End")[0]
    return a, b


def length_loving_judge(messages):
    """Picks the longer answer, except on one prompt in ten of each kind (so 90% / 10% whatever the model)."""
    a, b = answers_of(messages)
    index = int(next(t for t in (a, b) if t.startswith("v")).split()[0][1:])
    follow = (index // 4) % 10 != 0
    return "[[A]]" if (len(a) > len(b)) == follow else "[[B]]"


def test_longer_model_winning_only_by_length_falls_to_about_half(tmp_path):
    rng = random.Random(7)
    rows = []
    for i in range(200):
        padding = rng.randint(20, 80)
        long_len, short_len = (40 + padding, 40) if i % 4 else (40, 40 + padding)  # 75% of prompts: longer
        rows.append(generation(i, f"v{i} " + "x" * long_len, f"w{i} " + "y" * short_len))
    path = write_generations(tmp_path / "g.jsonl", rows)
    summary = run_judging(path, tmp_path / "out", "pairwise", ScriptedBackend(length_loving_judge),
                          models=["tuned", "base"], progress=False, seed=1)
    p = summary["pairwise"]
    assert p["length"]["win_rate_when_longer"] == pytest.approx(0.9) and p["length"]["win_rate_when_shorter"] == 0.1
    assert p["win_rate"] == pytest.approx(0.75 * 0.9 + 0.25 * 0.1)  # raw: the longer model looks clearly better
    lc = p["length_controlled"]
    assert lc["lc_win_rate"] == pytest.approx(0.5, abs=0.05)
    assert lc["lc_win_rate_ci95"][0] < 0.5 < lc["lc_win_rate_ci95"][1]
    assert lc["phi_length"] > 1.0
    assert p["length"]["first_longer_share"] == 0.75 and p["length"]["mean_char_difference"] > 20
    markdown = (tmp_path / "out" / "summary.md").read_text()
    assert "length-controlled win rate" in markdown and "mean answer length (chars)" in markdown


def test_better_model_keeps_its_lead_under_length_control(tmp_path):
    rng = random.Random(3)
    rows = [generation(i, f"good {i} " + "g" * rng.randint(10, 80), f"bad {i} " + "b" * rng.randint(10, 80))
            for i in range(60)]
    path = write_generations(tmp_path / "g.jsonl", rows)

    def prefers_good(messages):
        a, b = answers_of(messages)
        good_is_a = a.startswith("good")
        follow = stable_random(a, b) < 0.9
        return "[[A]]" if good_is_a == follow else "[[B]]"

    summary = run_judging(path, tmp_path / "out", "pairwise", ScriptedBackend(prefers_good), progress=False)
    lc = summary["pairwise"]["length_controlled"]
    assert lc["lc_win_rate"] > 0.75 and lc["lc_win_rate_ci95"][0] > 0.6


def test_bootstrap_interval_is_seeded():
    rng = np.random.default_rng(5)
    observations = [{"id": f"q{i // 2}", "target": float(rng.random() < 0.6), "delta_len": float(rng.normal(0, 50)),
                     "position": 1.0 if i % 2 == 0 else -1.0} for i in range(60)]
    first = length_controlled(observations, seed=3, resamples=100)
    assert first == length_controlled(observations, seed=3, resamples=100)
    assert first["lc_win_rate_ci95"] != length_controlled(observations, seed=4, resamples=100)["lc_win_rate_ci95"]
    assert length_controlled(observations[:2]) is None
