"""Bootstrapped Thompson sampling: act greedily on one bootstrap copy drawn at random."""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab.base import Choice
from regretlab.policies._ties import argmax_random_ties
from regretlab.policies.availability import masked_scores
from regretlab.policies.propensities import tie_probabilities

__all__ = ["BootstrappedThompsonSampling"]


class BootstrappedThompsonSampling:
    """Thompson sampling with the bootstrap as the posterior (Eckles & Kaptein 2014; VW's
    ``--bag``; contextualbandits' ``BootstrappedTS``).

    The learner is a :class:`~regretlab.learners.Bootstrap` (any learner trained on ``B``
    online bootstrap resamples): every step one copy is drawn uniformly per replicate and the
    action best under its predictions is taken (ties at random). The probability of the chosen
    action is exact: the share of copies (ties split evenly) that choose it.

    References
    ----------
    Eckles, D. and Kaptein, M. (2014). Thompson sampling with the online bootstrap.
    arXiv:1410.4009.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression, Bootstrap
    >>> model = Bootstrap(BayesianLinearRegression(groups=("main", "main")), n_copies=5)
    >>> model = model.learn_one(np.array([1.0, 0.0]), 1.0)
    >>> choice = BootstrappedThompsonSampling().select(model, np.eye(2), np.random.default_rng(0),
    ...                                                 step=2)
    >>> choice.actions, float(choice.probability)
    (np.int64(0), 0.8)
    """

    #: The learner must be a :class:`~regretlab.learners.Bootstrap` (read by the checks).
    needs_copies = True

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
        if not callable(getattr(model, "predict_copies", None)):
            raise TypeError(
                "BootstrappedThompsonSampling needs a learner with predict_copies(); wrap the "
                f"learner in regretlab.learners.Bootstrap, got {type(model).__name__}"
            )
        copies_mask = None if available is None else np.asarray(available)[..., None, :]
        scores = masked_scores(np.asarray(model.predict_copies(designs)), copies_mask)  # (.., B, K)
        n_copies = scores.shape[-2]
        copy = rng.integers(0, n_copies, size=scores.shape[:-2])
        drawn = np.take_along_axis(scores, copy[..., None, None], axis=-2)[..., 0, :]
        actions = argmax_random_ties(drawn, rng)
        share = tie_probabilities(scores).mean(axis=-2)
        probability = np.take_along_axis(share, actions[..., None], -1)[..., 0]
        return Choice(actions, probability)

    def __repr__(self) -> str:
        return "BootstrappedThompsonSampling()"
