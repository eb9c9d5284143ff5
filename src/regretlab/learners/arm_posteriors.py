"""Conjugate per-arm posteriors: Beta-Bernoulli and Gamma-Poisson arms, ``R`` replicates in
lockstep, on top of the counts of :class:`~regretlab.learners.ArmMeans`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_module
from regretlab._validation import check_real, float_array
from regretlab.learners import _arm_kernels
from regretlab.learners.arms import ArmMeans

if TYPE_CHECKING:
    from scipy import special
else:
    special = lazy_module("scipy.special")

__all__ = ["BetaBernoulli", "GammaPoisson"]


class _Conjugate(ArmMeans):
    """An :class:`ArmMeans` with a conjugate posterior ``(shape_a, shape_b)`` per arm."""

    def _prior(self) -> tuple[float, float]:
        raise NotImplementedError

    def _init(self) -> None:
        super()._init()
        self._restored()

    def _restored(self) -> None:
        a, b = self._prior()
        self._a, self._b = self._posterior(a, b)

    def _posterior(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        del params["initial"]
        return params


class BetaBernoulli(_Conjugate):
    """Beta-Bernoulli arms: the conjugate posterior ``Beta(alpha + s, beta + n - s)`` per arm.

    ``s`` is an arm's number of 1 rewards out of its ``n`` pulls; rewards must be 0 or 1.
    ``predict_one`` is the posterior mean (with ``return_sd`` also the posterior sd of the
    mean, or with ``include_noise`` the sd of a new reward).

    Parameters
    ----------
    n_actions, n_replicates
        As for :class:`ArmMeans`.
    prior_alpha, prior_beta
        The ``Beta(alpha, beta)`` prior of every arm's mean (``> 0``; 1 and 1 is uniform).

    Examples
    --------
    >>> model = BetaBernoulli(n_actions=2)
    >>> for y in (1.0, 1.0, 0.0):
    ...     model = model.learn_one(np.zeros(2), y, action=0)
    >>> model.alpha, model.beta
    (array([3., 1.]), array([2., 1.]))
    >>> model.predict_one(np.zeros(2))
    array([0.6, 0.5])
    """

    target_kind = "binary"

    def __init__(
        self,
        *,
        n_actions: int,
        n_replicates: int | None = None,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
    ) -> None:
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        super().__init__(n_actions=n_actions, n_replicates=n_replicates)

    def _prior(self) -> tuple[float, float]:
        return (
            check_real("prior_alpha", self.prior_alpha, minimum=0.0, exclusive_minimum=True),
            check_real("prior_beta", self.prior_beta, minimum=0.0, exclusive_minimum=True),
        )

    def _posterior(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        return a + self._sums, b + (self._n - self._sums)

    def _check_targets(self, y: np.ndarray) -> None:
        bad = (y != 0.0) & (y != 1.0)
        if bad.any():
            raise ValueError(
                f"y must be 0 or 1 for {type(self).__name__} (Bernoulli rewards), "
                f"got {y[bad].flat[0]!r}"
            )

    def _learned(self, at: np.ndarray, y: np.ndarray) -> None:
        self._a.reshape(-1)[at] += y
        self._b.reshape(-1)[at] += 1.0 - y

    def _fused_posterior(self) -> int | None:
        own = type(self)._learned is BetaBernoulli._learned
        return _arm_kernels.BETA if own and self._own_checks(BetaBernoulli) else None

    def predict_one(self, x: Any, *, return_sd: bool = False, include_noise: bool = True) -> Any:
        """Posterior mean of every arm ``(..., K)``; with ``return_sd`` also its sd."""
        self._check_x(x)
        total = self._a + self._b
        mean = self._a / total
        if not return_sd:
            return self._drop(mean)
        var = mean * (1.0 - mean)
        if not include_noise:
            var = var / (total + 1.0)
        return self._drop(mean), self._drop(np.sqrt(var))

    @property
    def alpha(self) -> np.ndarray:
        """Posterior ``alpha`` of every arm, ``(..., K)``."""
        return self._drop(self._a.copy())

    @property
    def beta(self) -> np.ndarray:
        """Posterior ``beta`` of every arm, ``(..., K)``."""
        return self._drop(self._b.copy())

    def sample_means(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Exact posterior draws of every arm's mean, ``(..., K)`` (or ``(size, ..., K)``)."""
        shape = self._a.shape if size is None else (size, *self._a.shape)
        draws = rng.beta(self._a, self._b, size=shape)
        return draws if self._batch else draws[..., 0, :]

    def quantile(self, q: Any) -> np.ndarray:
        """The posterior ``q``-quantile of every arm's mean (``q`` a number or ``(...)``)."""
        q = np.reshape(_check_level(q), (-1, 1)) if np.ndim(q) else _check_level(q)
        return self._drop(special.betaincinv(self._a, self._b, q))

    def get_params(self) -> dict[str, Any]:
        return {
            **super().get_params(),
            "prior_alpha": self.prior_alpha,
            "prior_beta": self.prior_beta,
        }


class GammaPoisson(_Conjugate):
    """Gamma-Poisson arms: the posterior ``Gamma(shape + s, rate + n)`` of every arm's rate.

    ``s`` is the sum of an arm's counts over its ``n`` pulls; counts must be integers
    ``>= 0``. ``predict_one`` is the posterior mean ``(shape + s) / (rate + n)`` (with
    ``return_sd`` the posterior sd, or with ``include_noise`` the sd of a new count under the
    negative-binomial predictive).

    Parameters
    ----------
    n_actions, n_replicates
        As for :class:`ArmMeans`.
    prior_shape, prior_rate
        The ``Gamma(shape, rate)`` prior of every arm's mean (``> 0``).

    Examples
    --------
    >>> model = GammaPoisson(n_actions=2, prior_shape=2.0, prior_rate=1.0)
    >>> for y in (3.0, 5.0):
    ...     model = model.learn_one(np.zeros(2), y, action=1)
    >>> model.posterior_shape, model.posterior_rate
    (array([ 2., 10.]), array([1., 3.]))
    """

    target_kind = "count"

    def __init__(
        self,
        *,
        n_actions: int,
        n_replicates: int | None = None,
        prior_shape: float = 1.0,
        prior_rate: float = 1.0,
    ) -> None:
        self.prior_shape = prior_shape
        self.prior_rate = prior_rate
        super().__init__(n_actions=n_actions, n_replicates=n_replicates)

    def _prior(self) -> tuple[float, float]:
        return (
            check_real("prior_shape", self.prior_shape, minimum=0.0, exclusive_minimum=True),
            check_real("prior_rate", self.prior_rate, minimum=0.0, exclusive_minimum=True),
        )

    def _posterior(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        return a + self._sums, b + self._n

    def _check_targets(self, y: np.ndarray) -> None:
        bad = (y < 0.0) | (y != np.floor(y))
        if bad.any():
            raise ValueError(
                f"y must be a count (an integer >= 0) for {type(self).__name__} (Poisson "
                f"rewards), got {y[bad].flat[0]!r}"
            )

    def _learned(self, at: np.ndarray, y: np.ndarray) -> None:
        self._a.reshape(-1)[at] += y
        self._b.reshape(-1)[at] += 1.0

    def _fused_posterior(self) -> int | None:
        own = type(self)._learned is GammaPoisson._learned
        return _arm_kernels.GAMMA if own and self._own_checks(GammaPoisson) else None

    def predict_one(self, x: Any, *, return_sd: bool = False, include_noise: bool = True) -> Any:
        """Posterior mean of every arm ``(..., K)``; with ``return_sd`` also its sd."""
        self._check_x(x)
        mean = self._a / self._b
        if not return_sd:
            return self._drop(mean)
        var = mean / self._b
        if include_noise:
            var = var + mean
        return self._drop(mean), self._drop(np.sqrt(var))

    @property
    def posterior_shape(self) -> np.ndarray:
        """Posterior shape of every arm, ``(..., K)``."""
        return self._drop(self._a.copy())

    @property
    def posterior_rate(self) -> np.ndarray:
        """Posterior rate of every arm, ``(..., K)``."""
        return self._drop(self._b.copy())

    def sample_means(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Exact posterior draws of every arm's mean, ``(..., K)`` (or ``(size, ..., K)``)."""
        shape = self._a.shape if size is None else (size, *self._a.shape)
        draws = rng.standard_gamma(self._a, size=shape) / self._b
        return draws if self._batch else draws[..., 0, :]

    def quantile(self, q: Any) -> np.ndarray:
        """The posterior ``q``-quantile of every arm's mean (``q`` a number or ``(...)``)."""
        q = np.reshape(_check_level(q), (-1, 1)) if np.ndim(q) else _check_level(q)
        return self._drop(special.gammaincinv(self._a, q) / self._b)

    def get_params(self) -> dict[str, Any]:
        return {
            **super().get_params(),
            "prior_shape": self.prior_shape,
            "prior_rate": self.prior_rate,
        }


def _check_level(q: Any) -> Any:
    array = float_array("q", q)
    if not np.all((array > 0) & (array < 1)):
        raise ValueError(f"q must lie in (0, 1), got {q!r}")
    return array
