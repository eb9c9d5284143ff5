"""Per-arm learners for bandits without context: ``K`` arms x ``R`` replicates in lockstep.

Every learner here keeps, per replicate and arm, the pulls ``n_seen``, the reward sum and the
importance-weighted reward sum ``sum y / p`` (EXP3's estimate; accrued only when the runner
passes the chosen action's ``probability``, which it does for learners with
``learns_propensity = True``). The design rows are read only for their shape: the arm is the
``action``. :class:`BetaBernoulli` and :class:`GammaPoisson` add the conjugate posterior of
each arm's mean (exact draws ``sample_means`` and quantiles ``quantile``). For Gaussian arms,
use :class:`~regretlab.learners.BayesianLinearRegression` on the one-hot
:class:`~regretlab.features.ArmFeatures` design (``K`` independent Gaussian posteriors) or
:class:`ArmMeans`.
"""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any

import numpy as np
from scipy import special

from regretlab._validation import check_finite, check_int, check_real, check_state, float_array

__all__ = ["ArmMeans", "BetaBernoulli", "GammaPoisson"]

_STATE_KEYS = ("n", "sums", "weighted")


class ArmMeans:
    """Empirical mean reward of every arm (no prior): what UCB1, KL-UCB and EXP3 read.

    ``predict_one`` gives each arm's empirical mean, ``initial`` for an arm never pulled.

    Parameters
    ----------
    n_actions
        Number of arms ``K >= 2``.
    n_replicates
        ``None`` for one stream, else ``R``.
    initial
        The prediction of an arm never pulled.

    Examples
    --------
    >>> model = ArmMeans(n_actions=3)
    >>> for a, y in [(0, 1.0), (0, 0.0), (2, 4.0)]:
    ...     model = model.learn_one(np.zeros(3), y, action=a)
    >>> model.predict_one(np.zeros(3)), model.n_seen
    (array([0.5, 0. , 4. ]), array([2., 0., 1.]))
    """

    #: Accepts ``probability=`` in :meth:`learn_one` (the runner passes the policy's).
    learns_propensity = True
    #: The rewards the learner accepts (read by :func:`regretlab.checks.check_learner`).
    target_kind = "real"

    def __init__(
        self, *, n_actions: int, n_replicates: int | None = None, initial: float = 0.0
    ) -> None:
        self.n_actions = n_actions
        self.n_replicates = n_replicates
        self.initial = initial
        self._init()

    def _init(self) -> None:
        check_int("n_actions", self.n_actions, minimum=2)
        if self.n_replicates is not None:
            check_int("n_replicates", self.n_replicates, minimum=1)
        check_real("initial", self.initial)
        self._batch: tuple[int, ...] = () if self.n_replicates is None else (self.n_replicates,)
        r = 1 if self.n_replicates is None else self.n_replicates
        self._n = np.zeros((r, self.n_actions))
        self._sums = np.zeros((r, self.n_actions))
        self._weighted = np.zeros((r, self.n_actions))
        self._means = np.full((r, self.n_actions), float(self.initial))
        self._total = np.zeros(r)
        self._offsets = np.arange(r) * self.n_actions

    @property
    def n_features(self) -> int:
        """The width of a design row: one column per arm (the one-hot design)."""
        return self.n_actions

    def _drop(self, array: np.ndarray) -> np.ndarray:
        return array if self._batch else array[0]

    def _check_targets(self, y: np.ndarray) -> None:
        """Raise if a reward is not one this learner's likelihood allows."""

    def learn_one(self, x: Any, y: Any, *, action: Any, probability: Any = None) -> ArmMeans:
        """Learn each replicate's reward ``y`` of arm ``action`` (``x`` is its design row).

        ``probability`` (optional, ``(...)`` in ``(0, 1]``) is the chance the policy had of
        choosing ``action``; with it, ``y / probability`` is added to the arm's
        importance-weighted sum.
        """
        x, y = float_array("x", x), float_array("y", y)
        if x.shape != (*self._batch, self.n_features):
            raise ValueError(f"x must have shape {(*self._batch, self.n_features)}, got {x.shape}")
        if y.shape != self._batch:
            raise ValueError(f"y must have shape {self._batch}, got {y.shape}")
        if not math.isfinite(float(x.sum()) + float(y.sum())):  # one pass when all is finite
            check_finite("x", x)
            check_finite("y", y)
        self._check_targets(y)
        act = np.asarray(action)
        if act.shape != self._batch or act.dtype.kind not in "iu":
            raise ValueError(
                f"action must be integers of shape {self._batch}, got {act.dtype} {act.shape}"
            )
        if act.min() < 0 or act.max() >= self.n_actions:
            raise ValueError(f"action must lie in [0, {self.n_actions}), got {act.ravel()}")
        weight = None
        if probability is not None:
            prob = float_array("probability", probability)
            if prob.shape != self._batch or not np.all((prob > 0) & (prob <= 1)):
                raise ValueError(
                    f"probability must be numbers in (0, 1] of shape {self._batch}, got {prob!r}"
                )
            weight = y / prob
        at = self._offsets + act.reshape(-1)
        flat_y = y.reshape(-1)
        n = self._n.reshape(-1)[at] + 1.0
        self._n.reshape(-1)[at] = n
        self._sums.reshape(-1)[at] += flat_y
        self._total += 1.0
        # The running mean of the chosen arms only (what the index rules read every step).
        mean = self._means.reshape(-1)[at]
        mean += (flat_y - mean) / n
        self._means.reshape(-1)[at] = mean
        if weight is not None:
            self._weighted.reshape(-1)[at] += weight.reshape(-1)
        self._learned(at, y.reshape(-1))
        return self

    def _learned(self, at: np.ndarray, y: np.ndarray) -> None:
        """Hook: the flat (replicate, arm) cells ``at`` just learned ``y``."""

    def _check_x(self, x: Any) -> None:
        x = float_array("x", x)
        p, k = self.n_features, self.n_actions
        if x.shape not in ((*self._batch, p), (*self._batch, k, p)):
            raise ValueError(
                f"x must have shape {(*self._batch, p)} or {(*self._batch, k, p)}, got {x.shape}"
            )

    def _mean(self) -> np.ndarray:
        return self._means.copy()

    def _recount(self) -> None:
        seen = self._n > 0
        self._means = np.where(seen, self._sums / np.where(seen, self._n, 1.0), self.initial)

    def predict_one(self, x: Any) -> np.ndarray:
        """Every arm's empirical mean reward, ``(..., K)`` (``x``: design rows, shape only)."""
        self._check_x(x)
        return self._drop(self._mean())

    @property
    def n_seen(self) -> np.ndarray:
        """Pulls of every arm, ``(..., K)``."""
        return self._drop(self._n.copy())

    @property
    def n_total(self) -> np.ndarray:
        """Pulls of all arms together, ``(...)``."""
        return self._drop(self._total.copy())

    @property
    def reward_mean(self) -> np.ndarray:
        """Empirical mean reward of every arm, ``(..., K)`` (``initial`` if never pulled)."""
        return self._drop(self._mean())

    @property
    def importance_weighted_sum(self) -> np.ndarray:
        """``sum y / p`` of every arm over the steps learned with a ``probability``."""
        return self._drop(self._weighted.copy())

    def get_state(self) -> dict[str, np.ndarray]:
        """Everything learned, as plain arrays (for ``numpy.savez``)."""
        return {"n": self._n.copy(), "sums": self._sums.copy(), "weighted": self._weighted.copy()}

    def set_state(self, state: Mapping[str, np.ndarray]) -> ArmMeans:
        """Restore what :meth:`get_state` returned."""
        arrays = check_state(state, {k: self._n.shape for k in _STATE_KEYS})
        if np.any(arrays["n"] < 0):
            raise ValueError("state['n'] must hold counts >= 0")
        self._n, self._sums, self._weighted = arrays["n"], arrays["sums"], arrays["weighted"]
        self._recount()
        self._total = self._n.sum(axis=-1)
        self._restored()
        return self

    def _restored(self) -> None:
        """Hook: the statistics were replaced."""

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "n_actions": self.n_actions,
            "n_replicates": self.n_replicates,
            "initial": self.initial,
        }

    def clone(self) -> ArmMeans:
        """A new, untrained learner with the same constructor arguments."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


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
