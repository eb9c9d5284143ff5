"""Actions that cannot be chosen at a step: the availability mask every policy honours.

An environment whose steps carry an ``available`` field (booleans ``(..., K)``, such as
:class:`~regretlab.environments.ArmAppears`) makes :func:`~regretlab.simulate.run_bandit` pass
``available=`` (that step's mask) to every policy's ``select``; without one the runner passes
nothing and every policy acts on all ``K`` actions as before. A policy honours the mask with one
of these helpers before it picks:

- a rule that takes the best score (greedy, UCB, LinUCB, Thompson sampling, the oracle) sets the
  scores of unavailable actions to ``-inf`` (:func:`masked_scores`): they are never the argmax,
  never tie, and the propensity ``1 / ties`` counts available actions only;
- a rule that draws from probabilities (softmax, EXP3, SquareCB) or uniformly (epsilon-greedy's
  exploration, :class:`~regretlab.policies.Random`) puts zero mass on them and spreads its mass
  over the available ones (:func:`masked_probabilities`, :func:`uniform_available`).

So propensities are over the available actions (they sum to 1 there), which is what
inverse-propensity estimators need from a logger. Every step must leave at least one action
available in every replicate.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from regretlab.policies._ties import inverse_cdf

__all__ = [
    "accepts_available",
    "check_available",
    "draw_available",
    "masked_probabilities",
    "masked_scores",
    "takes_keyword",
    "uniform_available",
]


def check_available(available: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``available`` as booleans of ``shape`` ``(..., K)`` (broadcast), with at least one
    action available in every row; a clear ``ValueError``/``TypeError`` otherwise.

    >>> check_available([True, False, True], (2, 3)).shape
    (2, 3)
    >>> check_available([False, False], (2,))
    Traceback (most recent call last):
    ValueError: available must leave at least one action available in every replicate; \
row(s) [0] have none
    """
    mask = np.asarray(available)
    if mask.dtype != bool:
        raise TypeError(f"available must be booleans (True = may be chosen), got {mask.dtype}")
    try:
        mask = np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(
            f"available must have the shape of the step's actions {shape}, got {mask.shape}"
        ) from None
    some = mask.any(axis=-1)
    if not some.all():
        rows = np.flatnonzero(~np.atleast_1d(some)).tolist()
        raise ValueError(
            "available must leave at least one action available in every replicate; "
            f"row(s) {rows[:10]} have none"
        )
    return mask


def masked_scores(scores: Any, available: Any = None) -> np.ndarray:
    """``scores`` ``(..., K)`` with ``-inf`` on the unavailable actions (a copy); ``scores``
    itself when ``available`` is ``None``.

    >>> masked_scores(np.array([3.0, 1.0, 2.0]), np.array([False, True, True]))
    array([-inf,   1.,   2.])
    """
    if available is None:
        return scores
    scores = np.asarray(scores, dtype=float)
    return np.where(check_available(available, scores.shape), scores, -np.inf)


def masked_probabilities(probabilities: Any, available: Any = None) -> np.ndarray:
    """``probabilities`` ``(..., K)`` with zero mass on the unavailable actions, renormalised
    over the available ones; unchanged when ``available`` is ``None``.

    >>> masked_probabilities(np.array([0.5, 0.25, 0.25]), np.array([False, True, True]))
    array([0. , 0.5, 0.5])
    """
    if available is None:
        return probabilities
    prob = np.asarray(probabilities, dtype=float)
    out = np.where(check_available(available, prob.shape), prob, 0.0)
    total = out.sum(axis=-1, keepdims=True)
    if not (total > 0).all():
        raise ValueError("the policy puts no probability on any available action")
    return out / total


def uniform_available(shape: tuple[int, ...], available: Any = None) -> np.ndarray:
    """Uniform probabilities ``(..., K)`` over the available actions (all ``K`` without a mask).

    >>> uniform_available((3,), np.array([True, False, True]))
    array([0.5, 0. , 0.5])
    """
    if available is None:
        return np.full(shape, 1.0 / shape[-1])
    mask = check_available(available, shape)
    return mask / mask.sum(axis=-1, keepdims=True)


def draw_available(
    rng: np.random.Generator, shape: tuple[int, ...], available: Any = None
) -> np.ndarray:
    """A uniform action per row of ``shape`` ``(..., K)`` among the available ones: exactly
    ``rng.integers(0, K, size=shape[:-1])`` without a mask (the draws of a run without one).

    >>> draw_available(np.random.default_rng(0), (4, 3), np.array([False, False, True]))
    array([2, 2, 2, 2])
    """
    if available is None:
        return rng.integers(0, shape[-1], size=shape[:-1])
    cdf = np.cumsum(uniform_available(shape, available), axis=-1)
    return inverse_cdf(cdf, rng.random(shape[:-1]) * cdf[..., -1])


def accepts_available(policy: Any) -> bool:
    """Whether ``policy.select`` takes the ``available`` keyword (or ``**kwargs``).

    >>> from regretlab.policies import Greedy
    >>> accepts_available(Greedy())
    True
    """
    return takes_keyword(getattr(policy, "select", None), "available")


def takes_keyword(function: Any, name: str) -> bool:
    """Whether ``function`` takes the keyword ``name`` (or ``**kwargs``).

    >>> takes_keyword(lambda x, *, available=None: x, "available")
    True
    """
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
