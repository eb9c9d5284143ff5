"""Action probabilities of Thompson sampling, by Monte Carlo (for off-policy evaluation)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["thompson_propensity"]


def thompson_propensity(
    model: Any,
    designs: np.ndarray,
    actions: np.ndarray,
    rng: np.random.Generator,
    n_draws: int,
    scale: float = 1.0,
) -> np.ndarray:
    """The probability that Thompson sampling picks ``actions`` ``(...)``, estimated from
    ``n_draws`` more posterior draws as ``(1 + hits) / (1 + n_draws)``.

    The choice itself was one draw from the same distribution, so counting it keeps the
    estimate above 0 (an action that was chosen has a positive probability), as inverse
    propensity weighting needs; ties within a draw are split evenly.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> model = BayesianLinearRegression(groups=("main", "main"))
    >>> p = thompson_propensity(model, np.eye(2), np.array(0), np.random.default_rng(0), 999)
    >>> 0.45 < float(p) < 0.55
    True
    """
    if getattr(model, "n_actions", None) is not None:
        loc, sd = model.predict_one(designs, return_sd=True, include_noise=False)
        loc, sd = np.asarray(loc), np.asarray(sd)
        scores = loc + scale * sd * rng.standard_normal((n_draws, *loc.shape))
    else:
        weights = model.sample(rng, size=n_draws)  # (M, ..., p)
        if scale != 1.0:
            center = np.asarray(model.mean)
            weights = center + scale * (weights - center)
        scores = np.einsum("...kp,m...p->m...k", designs, weights)
    ties = scores == scores.max(axis=-1, keepdims=True)
    share = ties / ties.sum(axis=-1, keepdims=True)
    chosen = np.broadcast_to(np.asarray(actions)[..., None], (*share.shape[:-1], 1))
    hits = np.take_along_axis(share, chosen, -1)
    return (1.0 + hits[..., 0].sum(axis=0)) / (1.0 + n_draws)
