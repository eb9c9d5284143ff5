"""Reward models that are not additive noise: a draw whose expectation is the row's mean.

:class:`~regretlab.environments.noise.Noise` models add a draw to the mean; a Bernoulli click or
a Poisson count is instead drawn *with* that mean. Both kinds share one method,
``observe(rng, mean, inputs)``, the realised values of rows whose expectation is ``mean``, so an
environment that calls ``observe`` takes either (:func:`resolve_observation`). The environment
keeps the mean (its truth) and computes regret against it, never against the draws.

Draws come from the generator the environment hands over, one draw per entry of ``mean`` in C
order, whatever the action an agent takes: every agent of a replicate sees the same rewards
(common random numbers). :class:`Bernoulli` draws one uniform per entry (``u < mean``), so the
same seed couples the arms as closely as possible (a better arm's click is a superset of a worse
arm's on the same step).

Every model is a frozen dataclass of plain values (picklable for process pools).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from regretlab._validation import check_int

__all__ = ["Bernoulli", "Binomial", "Poisson", "RewardModel", "resolve_observation"]


def _check_mean(model: str, mean: np.ndarray, low: float, high: float) -> np.ndarray:
    mean = np.asarray(mean, dtype=float)
    bad = ~((mean >= low) & (mean <= high))
    if np.any(bad):
        value = mean[bad].flat[0]
        raise ValueError(f"mean must lie in [{low:g}, {high:g}] for {model} rewards, got {value!r}")
    return mean


class RewardModel:
    """The base of the non-additive reward models: ``observe(rng, mean, inputs)``.

    A subclass implements :meth:`observe` and :meth:`variance`, and states the means it accepts
    in ``mean_bounds``.

    >>> isinstance(Poisson(), RewardModel), Bernoulli().mean_bounds
    (True, (0.0, 1.0))
    """

    #: The closed interval a mean must lie in.
    mean_bounds: tuple[float, float] = (-math.inf, math.inf)

    def observe(
        self, rng: np.random.Generator, mean: np.ndarray, inputs: np.ndarray | None = None
    ) -> np.ndarray:
        """Realised values of rows whose expectation is ``mean`` (any shape, drawn in C order)."""
        raise NotImplementedError

    def variance(self, mean: np.ndarray) -> np.ndarray:
        """Variance of a draw with expectation ``mean``."""
        raise NotImplementedError

    def sd(self, mean: np.ndarray) -> np.ndarray:
        """Standard deviation of a draw with expectation ``mean``."""
        return np.sqrt(self.variance(mean))


@dataclass(frozen=True)
class Bernoulli(RewardModel):
    """0/1 rewards: ``1.0`` with probability ``mean``, drawn as ``uniform < mean``.

    Examples
    --------
    >>> Bernoulli().observe(np.random.default_rng(0), np.array([0.0, 0.5, 1.0]))
    array([0., 0., 1.])
    >>> float(Bernoulli().variance(np.array(0.25)))
    0.1875
    """

    mean_bounds = (0.0, 1.0)

    def observe(
        self, rng: np.random.Generator, mean: np.ndarray, inputs: np.ndarray | None = None
    ) -> np.ndarray:
        mean = _check_mean("Bernoulli", mean, *self.mean_bounds)
        return (rng.random(mean.shape) < mean).astype(float)

    def variance(self, mean: np.ndarray) -> np.ndarray:
        mean = np.asarray(mean, dtype=float)
        return mean * (1.0 - mean)


@dataclass(frozen=True)
class Binomial(RewardModel):
    """Successes out of ``trials``, each with probability ``mean / trials``.

    ``mean`` is the expected count (in ``[0, trials]``); ``Binomial(1)`` draws what
    :class:`Bernoulli` draws in law (not draw for draw: numpy's binomial sampler reads the
    generator differently).

    Examples
    --------
    >>> Binomial(10).observe(np.random.default_rng(0), np.array([0.0, 5.0, 10.0]))
    array([ 0.,  5., 10.])
    """

    trials: int

    def __post_init__(self) -> None:
        check_int("trials", self.trials, minimum=1)

    @property
    def mean_bounds(self) -> tuple[float, float]:  # type: ignore[override]
        return (0.0, float(self.trials))

    def observe(
        self, rng: np.random.Generator, mean: np.ndarray, inputs: np.ndarray | None = None
    ) -> np.ndarray:
        mean = _check_mean("Binomial", mean, *self.mean_bounds)
        return rng.binomial(self.trials, mean / self.trials).astype(float)

    def variance(self, mean: np.ndarray) -> np.ndarray:
        mean = np.asarray(mean, dtype=float)
        return mean * (1.0 - mean / self.trials)


@dataclass(frozen=True)
class Poisson(RewardModel):
    """Counts with expectation (and variance) ``mean >= 0``.

    Examples
    --------
    >>> Poisson().observe(np.random.default_rng(0), np.array([0.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    mean_bounds = (0.0, math.inf)

    def observe(
        self, rng: np.random.Generator, mean: np.ndarray, inputs: np.ndarray | None = None
    ) -> np.ndarray:
        mean = _check_mean("Poisson", mean, 0.0, math.inf)
        return rng.poisson(mean).astype(float)

    def variance(self, mean: np.ndarray) -> np.ndarray:
        return np.asarray(mean, dtype=float)


def resolve_observation(model: Any) -> Any:
    """``model`` checked to be a noise model or a reward model (anything else: ``TypeError``).

    >>> resolve_observation(Poisson())
    Poisson()
    """
    from regretlab.environments.noise import Noise

    if isinstance(model, (Noise, RewardModel)):
        return model
    raise TypeError(
        "reward must be a noise model such as Gaussian(1.0) or a reward model such as "
        f"Bernoulli() or Poisson(), got {model!r}"
    )
