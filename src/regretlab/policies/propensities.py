"""Action probabilities of the exploration policies: exact where closed-form, else Monte Carlo.

What off-policy evaluation needs from a policy: the probability of every action given what the
policy has seen (the target's ``pi(a | x)``) and the propensity of the action it logged. Ties
among the best scores are broken uniformly, so a deterministic policy spreads its mass evenly
over its tied best actions.

Thompson sampling has no closed form: its probabilities are the shares of ``draws`` fresh
posterior draws that pick each action, each share with standard error
``sqrt(p (1 - p) / draws)`` (at most ``0.5 / sqrt(draws)``). The propensity it logs for the
action it took counts that choice as one more draw, ``(1 + hits) / (1 + draws)``: never 0, and,
with ``hits ~ Binomial(draws, p)``, ``E[1 / propensity] = (1 - (1 - p) ** (draws + 1)) / p``,
so inverse-propensity weights are unbiased up to a relative ``(1 - p) ** (draws + 1)``
(``e ** -10`` for ``p = 0.01`` and 1000 draws). The draws come from a child generator spawned
from the policy's generator (:meth:`numpy.random.Generator.spawn`), so a run's actions are the
same with or without them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab._validation import check_int
from regretlab.learners._pcg64_kernel import standard_normal

__all__ = ["monte_carlo_shares", "posterior_scores", "sampled_propensity", "tie_probabilities"]


def tie_probabilities(scores: np.ndarray) -> np.ndarray:
    """``1 / n`` on each of the ``n`` largest tied scores along the last axis, else 0.

    >>> tie_probabilities(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]))
    array([[0. , 0.5, 0.5],
           [1. , 0. , 0. ]])
    """
    scores = np.asarray(scores, dtype=float)
    ties = scores == scores.max(axis=-1, keepdims=True)
    return ties / ties.sum(axis=-1, keepdims=True)


def _draw_rng(rng: np.random.Generator) -> np.random.Generator:
    """A child of ``rng`` for Monte Carlo draws, leaving ``rng``'s own stream untouched."""
    try:
        return rng.spawn(1)[0]
    except (TypeError, AttributeError):
        # A bit generator made without a SeedSequence cannot spawn: jump far ahead instead.
        return np.random.Generator(rng.bit_generator.jumped())  # type: ignore[attr-defined]


def monte_carlo_shares(sample_scores: Any, rng: np.random.Generator, draws: int) -> np.ndarray:
    """The share of ``draws`` score draws in which each action is the best, ``(..., K)``.

    ``sample_scores(generator, size)`` returns ``(size, ..., K)`` scores drawn with
    ``generator``; ties within a draw share its unit of mass. The draws use a child of ``rng``.

    >>> shares = monte_carlo_shares(
    ...     lambda g, n: g.normal([0.0, 1.0], 1.0, size=(n, 2)), np.random.default_rng(0), 4000)
    >>> shares.round(1)
    array([0.2, 0.8])
    """
    check_int("draws", draws, minimum=1)
    scores = np.asarray(sample_scores(_draw_rng(rng), draws))
    return tie_probabilities(scores).mean(axis=0)


def sampled_propensity(shares: np.ndarray, actions: np.ndarray, draws: int) -> np.ndarray:
    """The logged propensity of ``actions`` from Monte Carlo ``shares`` of ``draws`` draws:
    ``(1 + hits) / (1 + draws)`` (see the module notes).

    >>> sampled_propensity(np.array([0.0, 0.25, 0.75]), np.array(0), draws=3)
    array(0.25)
    """
    chosen = np.take_along_axis(shares, np.asarray(actions)[..., None], axis=-1)[..., 0]
    return np.asarray((1.0 + chosen * draws) / (1.0 + draws))


def posterior_scores(
    model: Any,
    designs: np.ndarray,
    rng: np.random.Generator,
    scale: float = 1.0,
    size: int | None = None,
) -> np.ndarray:
    """Every action's score under one posterior draw per replicate, ``(..., K)``, or ``size``
    draws, ``(size, ..., K)``: what :class:`~regretlab.policies.ThompsonSampling` ranks.

    A per-action model (one with ``n_actions``) draws each score from its marginal; a shared
    model draws the weights. ``scale`` multiplies the spread around the posterior mean.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> model = BayesianLinearRegression(groups=("main",))
    >>> posterior_scores(model, np.ones((3, 1)), np.random.default_rng(0), size=5).shape
    (5, 3)
    """
    if getattr(model, "n_actions", None) is not None:
        loc, sd = model.predict_one(designs, return_sd=True, include_noise=False)
        shape = np.shape(loc) if size is None else (size, *np.shape(loc))
        scores = standard_normal(rng, shape)
        scores *= sd if scale == 1.0 else scale * sd
        scores += loc
        return scores
    weights = model.sample(rng) if size is None else model.sample(rng, size)
    if scale != 1.0:
        center = np.asarray(model.mean)
        weights = center + scale * (weights - center)
    if size is None:
        return np.einsum("...kp,...p->...k", designs, weights)
    # (size, R, p) weights against (R, K, p) rows (or (size, p) against (K, p)).
    return np.einsum("...kp,n...p->n...k", designs, weights)
