"""SquareCB: inverse-gap weighting over any learner that predicts (Foster & Rakhlin 2020)."""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab._validation import check_real
from regretlab.base import Choice
from regretlab.policies._ties import argmax_random_ties, inverse_cdf
from regretlab.policies.availability import check_available, masked_scores

__all__ = ["SquareCB", "inverse_gap_weights"]


def inverse_gap_weights(
    scores: np.ndarray, best: np.ndarray, gamma: float, available: Any = None
) -> np.ndarray:
    """Action probabilities ``(..., K)`` of inverse-gap weighting (Foster & Rakhlin 2020, Alg. 1).

    Every action but ``best`` gets ``1 / (K + gamma (scores[best] - scores[a]))``; ``best`` gets
    the rest. ``scores`` are predicted rewards in [0, 1], ``best`` their argmax ``(...)``. With
    an ``available`` mask (:mod:`regretlab.policies.availability`) the weighting is over the
    available actions: ``K`` is their number and the others get 0 (``best`` must be available).

    >>> inverse_gap_weights(np.array([0.9, 0.5, 0.1]), np.array(0), 10.0).round(4)
    array([0.7662, 0.1429, 0.0909])
    """
    mask = None if available is None else check_available(available, scores.shape)
    k = scores.shape[-1] if mask is None else mask.sum(axis=-1, keepdims=True)
    top = np.take_along_axis(scores, np.asarray(best)[..., None], axis=-1)
    probs = 1.0 / (k + gamma * (top - scores))
    if mask is not None:
        probs *= mask
    np.put_along_axis(probs, np.asarray(best)[..., None], 0.0, axis=-1)
    rest = 1.0 - probs.sum(axis=-1, keepdims=True)
    np.put_along_axis(probs, np.asarray(best)[..., None], rest, axis=-1)
    return probs


class SquareCB:
    """Inverse-gap weighting of a regression oracle's predicted rewards (Vowpal Wabbit's
    ``--cb_explore_adf --squarecb``).

    At step ``t`` the learner's predictions are scaled to [0, 1] by ``reward_range`` (clipped),
    and action ``a`` is drawn with probability ``1 / (K + gamma_t (yhat_best - yhat_a))``, the
    best predicted action (ties broken at random) taking the remaining mass, with
    ``gamma_t = gamma_scale * t ** gamma_exponent`` (VW's defaults ``10`` and ``0.5``). The
    probability of the drawn action is returned, in closed form. Works over any learner with
    ``predict_one`` (Bayesian linear, :class:`~regretlab.learners.BayesianGLM`, SGD, river).

    Parameters
    ----------
    gamma_scale, gamma_exponent
        ``gamma_t = gamma_scale * t ** gamma_exponent``.
    reward_range
        ``(low, high)`` of the rewards, mapped to [0, 1] (the scale ``gamma`` assumes).

    References
    ----------
    Foster, D. J. and Rakhlin, A. (2020). Beyond UCB: optimal and efficient contextual bandits
    with regression oracles. ICML 2020.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> model = BayesianLinearRegression(groups=("main", "main")).learn_one([1.0, 0.0], 1.0)
    >>> choice = SquareCB().select(model, np.eye(2), np.random.default_rng(0), step=4)
    >>> choice.actions, round(float(choice.probability), 4)
    (np.int64(0), 0.9167)
    """

    def __init__(
        self,
        gamma_scale: float = 10.0,
        gamma_exponent: float = 0.5,
        *,
        reward_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        self.gamma_scale = gamma_scale
        self.gamma_exponent = gamma_exponent
        self.reward_range = reward_range
        check_real("gamma_scale", gamma_scale, minimum=0.0)
        check_real("gamma_exponent", gamma_exponent, minimum=0.0)
        try:
            low, high = (float(v) for v in reward_range)
        except (TypeError, ValueError):
            raise TypeError(
                f"reward_range must be a pair (low, high) of numbers, got {reward_range!r}"
            ) from None
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"reward_range must be finite with low < high, got {reward_range!r}")
        self._low, self._width = low, high - low

    def gamma_at(self, step: int) -> float:
        """``gamma_scale * step ** gamma_exponent``."""
        return self.gamma_scale * float(step) ** self.gamma_exponent

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> Choice:
        scores = np.asarray(model.predict_one(designs), dtype=float)
        scaled = np.clip((scores - self._low) / self._width, 0.0, 1.0)
        best = argmax_random_ties(masked_scores(scaled, available), rng)
        probs = inverse_gap_weights(scaled, best, self.gamma_at(step), available)
        actions = inverse_cdf(np.cumsum(probs, axis=-1), rng.random(scaled.shape[:-1]))
        # An action of probability 0 (only by rounding at the top of the CDF) is never chosen.
        chosen = np.take_along_axis(probs, actions[..., None], axis=-1)[..., 0]
        actions = np.where(chosen > 0, actions, best)
        chosen = np.take_along_axis(probs, actions[..., None], axis=-1)[..., 0]
        # One stream: a numpy scalar, as the other policies return.
        return Choice(actions[()], chosen[()])

    def __repr__(self) -> str:
        return (
            f"SquareCB(gamma_scale={self.gamma_scale}, gamma_exponent={self.gamma_exponent}, "
            f"reward_range={tuple(self.reward_range)})"
        )
