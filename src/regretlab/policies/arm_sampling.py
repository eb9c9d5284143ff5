"""Thompson sampling from the conjugate posterior of a per-arm learner (classic bandits).

The index and exponential-weights rules of the classic multi-armed bandit are in
:mod:`regretlab.policies.arms`; this one draws every arm's mean from the posterior the learner
keeps (:mod:`regretlab.learners.arms`) and acts greedily on the draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab._validation import check_int
from regretlab.base import Choice
from regretlab.learners import _arm_kernels
from regretlab.policies.arms import _needs
from regretlab.policies.availability import masked_scores

__all__ = ["ConjugateThompsonSampling"]


class ConjugateThompsonSampling:
    """Thompson sampling from a conjugate per-arm posterior: Beta draws for
    :class:`~regretlab.learners.BetaBernoulli`, Gamma draws for
    :class:`~regretlab.learners.GammaPoisson`; act greedily on the draw.

    One exact draw of every arm's mean per replicate per step (``model.sample_means(rng)``).
    With ``propensity_draws = n > 0`` the probability of the chosen arm is estimated from
    ``n`` further draws: ``(hits + 1) / (n + 1)``, positive by construction and biased by at
    most ``1 / (n + 1)``; with 0 (the default, the fastest) the probability is ``None``.

    Examples
    --------
    >>> from regretlab.learners import BetaBernoulli
    >>> model = BetaBernoulli(n_actions=3, n_replicates=2)
    >>> choice = ConjugateThompsonSampling(propensity_draws=99).select(
    ...     model, np.zeros((2, 3, 3)), np.random.default_rng(0), step=1)
    >>> choice.actions.shape, choice.probability.shape
    ((2,), (2,))
    """

    #: Reads a per-arm learner (what :func:`regretlab.checks.check_policy` trains for it).
    learner_kind = "arms"

    def __init__(self, propensity_draws: int = 0) -> None:
        self.propensity_draws = check_int("propensity_draws", propensity_draws, minimum=0)

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
        _needs(self, model, "sample_means")
        # Continuous draws tie with probability 0: a plain argmax (the first of equals).
        draws = masked_scores(np.asarray(model.sample_means(rng)), available)
        kernel = _arm_kernels.compiled("first_max")
        if kernel is not None and draws.ndim == 2 and draws.dtype == np.float64:
            actions, r = np.empty(len(draws), dtype=np.intp), len(draws)
            kernel(draws, actions, np.empty(r), np.empty(r, dtype=np.intp))
        else:
            actions = draws.argmax(axis=-1)
        if not self.propensity_draws:
            return Choice(actions, None)
        return Choice(actions, self.propensity(model, actions, rng, available))

    def propensity(self, model: Any, actions: Any, rng: Any, available: Any = None) -> np.ndarray:
        """The Monte Carlo probability that a draw picks ``actions`` (among ``available`` arms)."""
        n = self.propensity_draws
        hits = np.zeros(np.shape(actions))
        chunk = max(1, 2**20 // max(1, int(np.size(actions)) * 8))
        for lo in range(0, n, chunk):
            draws = np.asarray(model.sample_means(rng, size=min(chunk, n - lo)))
            hits += (masked_scores(draws, available).argmax(axis=-1) == actions).sum(axis=0)
        return (hits + 1.0) / (n + 1.0)

    def __repr__(self) -> str:
        return f"ConjugateThompsonSampling(propensity_draws={self.propensity_draws})"
