"""Length-controlled win rate, the method of AlpacaEval 2 (Dubois et al., 2024, "Length-Controlled AlpacaEval").

Judges prefer longer answers. AlpacaEval 2 fits a logistic regression of the judge's preference on a model term and
the length difference, then reports the win rate the fit predicts with the length difference set to zero:

    logit P(model beats baseline) = theta + phi * tanh(delta_len / std(delta_len)) [+ psi * position]

``delta_len`` is the answer length difference in characters (model - baseline); targets are 1 (win), 0 (loss),
0.5 (tie, half a win); ``position`` is +1 when the model was shown first and -1 when second (our pairs are
judged in both orders, so position bias gets its own term instead of noise). The LC win rate is the mean of
sigmoid(theta + psi * position) over the judgments, i.e. the prediction at delta_len = 0.

Why not the ``alpaca-eval`` package itself: its ``get_length_controlled_winrate`` downloads AlpacaEval's own
per-instruction difficulty and "gamed" reference annotations from the Hub at run time and is defined for its 805
instructions, so it cannot run offline or on another prompt set. The instruction-difficulty term needs many models
judged on the same prompts; with one pair it is not identifiable and is left out. Like AlpacaEval (which picks an
L1 strength by cross-validation) the fit is regularized, here with a small fixed L2 penalty on the slopes, so a
judge that always picks the longer answer (perfect separation) still gives finite weights.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

L2_PENALTY = 0.05  # on phi and psi only; theta (the model term) is not shrunk
N_RESAMPLES = 500


def fit_logistic(features: np.ndarray, targets: np.ndarray, penalty: np.ndarray | None = None) -> np.ndarray:
    """Weights of a logistic regression with fractional targets in [0, 1] (cross-entropy + L2 ``penalty`` per weight).

    scipy's L-BFGS on the exact gradient; the first column is usually the intercept.
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    x = np.asarray(features, dtype=float)
    y = np.asarray(targets, dtype=float)
    lam = np.zeros(x.shape[1]) if penalty is None else np.asarray(penalty, dtype=float)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        value = -np.sum(y * log_expit(z) + (1 - y) * log_expit(-z)) + 0.5 * np.sum(lam * w * w)
        grad = x.T @ (expit(z) - y) + lam * w
        return float(value), grad

    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    return result.x


def _design(delta_len: np.ndarray, position: np.ndarray) -> np.ndarray:
    std = float(np.std(delta_len))
    scaled = np.tanh(delta_len / std) if std > 0 else np.zeros_like(delta_len)
    return np.column_stack([np.ones_like(delta_len), scaled, position])


def lc_win_rate(targets: Sequence[float], delta_len: Sequence[float], position: Sequence[float]) -> dict[str, float]:
    """The length-controlled win rate and the fitted weights for one set of judgments (see the module doc)."""
    y = np.asarray(targets, dtype=float)
    d = np.asarray(delta_len, dtype=float)
    pos = np.asarray(position, dtype=float)
    x = _design(d, pos)
    w = fit_logistic(x, y, penalty=np.array([0.0, L2_PENALTY, L2_PENALTY]))
    from scipy.special import expit

    controlled = expit(w[0] + w[2] * pos)
    return {"lc_win_rate": float(np.mean(controlled)), "theta": float(w[0]), "phi_length": float(w[1]),
            "psi_position": float(w[2])}


def length_controlled(observations: list[dict[str, Any]], seed: int = 0,
                      resamples: int = N_RESAMPLES) -> dict[str, Any] | None:
    """LC win rate with a seeded bootstrap 95% interval over prompts (both orders of a prompt resampled together).

    ``observations``: one per decided judgment, ``{"id", "target", "delta_len", "position"}``.
    """
    if len(observations) < 4 or len({o["id"] for o in observations}) < 2:
        return None
    ids = sorted({o["id"] for o in observations})
    by_id = {i: [o for o in observations if o["id"] == i] for i in ids}

    def fit(chosen: Sequence[str]) -> float:
        rows = [o for i in chosen for o in by_id[i]]
        return lc_win_rate([o["target"] for o in rows], [o["delta_len"] for o in rows],
                           [o["position"] for o in rows])["lc_win_rate"]

    point = lc_win_rate([o["target"] for o in observations], [o["delta_len"] for o in observations],
                        [o["position"] for o in observations])
    rng = np.random.default_rng(seed)
    draws = [fit(rng.choice(ids, size=len(ids), replace=True)) for _ in range(resamples)]
    low, high = np.percentile(draws, [2.5, 97.5])
    return {**{k: round(v, 4) for k, v in point.items()}, "lc_win_rate_ci95": [round(float(low), 4),
                                                                              round(float(high), 4)],
            "judgments": len(observations), "resamples": resamples}
