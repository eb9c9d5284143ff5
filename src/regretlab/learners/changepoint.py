"""Bayesian online changepoint detection over a Gaussian linear model (Adams & MacKay 2007).

The weights are piecewise constant: at every step a change (a fresh draw from the prior) happens
with constant probability ``hazard``. The posterior over the current *run length* ``r_t`` (steps
since the last change) is kept exactly by the recursion of Adams & MacKay, each run length with
the conjugate Gaussian posterior of the data of its run; predictions and Thompson draws mix the
run lengths by their posterior. See :mod:`regretlab.learners.drift_rules` for a hazard set from
the horizon and the expected number of changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from regretlab._validation import check_finite, check_int, check_real, check_state, float_array
from regretlab.features import group_indices
from regretlab.learners._grouping import check_groups, column_values
from regretlab.learners.gaussian import sampling_factor

__all__ = ["ChangepointBayesianLinearRegression"]


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(a - top), axis=axis)) + np.squeeze(top, axis=axis)


class ChangepointBayesianLinearRegression:
    """A Gaussian linear model that restarts at changepoints it infers (BOCPD).

    The generative model (Adams & MacKay 2007, section 2): the run length is ``r_0 = 0`` and then
    ``r_t = r_{t-1} + 1`` with probability ``1 - hazard``, else ``0``; the observation of step
    ``t`` is ``y_t = x_t' w + noise`` with the weights of the run ``r_{t-1}`` it belongs to,
    drawn from the grouped Gaussian prior when a run starts (noise precision known). After each
    observation the joint ``P(r_t, y_{1:t})`` is updated from every run's one-step predictive,
    and each run's posterior by a rank-one (Sherman-Morrison) update; run length 0 carries the
    prior. Run lengths above ``max_run`` are dropped and the rest renormalised, which is exact
    for the model in which no run outlasts ``max_run`` steps: on a stream that never changes
    the learner then works like a window of at most ``max_run`` observations. Cost per step:
    O(m p^2) per replicate for the ``m <= max_run + 1`` run lengths alive.

    Predictions are the mixture over ``r_t``: the mean ``sum_r P(r) x'm_r`` and, with
    ``return_sd``, the mixture's sd (law of total variance). :meth:`sample` draws a run length
    from its posterior, then weights from that run's posterior, which is Thompson sampling
    from the mixture.

    Parameters
    ----------
    groups
        The feature group of every design column, or a feature map.
    hazard
        Probability of a change at every step, in ``(0, 1)``.
    max_run
        Largest run length kept, ``>= 1``. At least the horizon keeps the posterior exact and
        costs nothing on a stream that never changes; a smaller budget makes a long stationary
        run a window of at most ``max_run`` steps.
    prior_variance
        As for :class:`~regretlab.learners.BayesianLinearRegression`, finite (a run starts from
        the prior, which must be proper); ``0`` switches a group off.
    noise_precision
        Known noise precision ``beta``.
    n_replicates
        ``None`` for one stream, or ``R`` replicates in lockstep.

    References
    ----------
    Adams, R. P. and MacKay, D. J. C. (2007). Bayesian online changepoint detection.
    arXiv:0710.3742.

    Examples
    --------
    >>> model = ChangepointBayesianLinearRegression(groups=("main",), hazard=0.01, max_run=50)
    >>> for y in [1.0] * 20 + [-3.0] * 5:
    ...     model = model.learn_one(np.array([1.0]), y)
    >>> int(model.run_length_posterior.argmax()), model.mean.round(1)
    (5, array([-2.5]))
    """

    def __init__(
        self,
        *,
        groups: Any,
        hazard: float,
        max_run: int = 1000,
        prior_variance: float | Mapping[str, Any] = 1.0,
        noise_precision: float = 1.0,
        n_replicates: int | None = None,
    ) -> None:
        self.groups = groups
        self.hazard = hazard
        self.max_run = max_run
        self.prior_variance = prior_variance
        self.noise_precision = noise_precision
        self.n_replicates = n_replicates
        self._labels = check_groups(groups)
        self._h = check_real("hazard", hazard, minimum=0.0, exclusive_minimum=True, maximum=1.0)
        if self._h == 1.0:
            raise ValueError(f"hazard must be < 1, got {hazard}")
        check_int("max_run", max_run, minimum=1)
        self._beta = check_real(
            "noise_precision", noise_precision, minimum=0.0, exclusive_minimum=True
        )
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
        self._batch: tuple[int, ...] = () if n_replicates is None else (n_replicates,)
        width = 1 if n_replicates is None else n_replicates
        p = len(self._labels)
        values = column_values(
            "prior_variance", prior_variance, self._labels, default=1.0, batch_shape=self._batch
        )
        prior = np.empty((width, p))
        for group, idx in group_indices(self._labels).items():
            prior[:, idx] = np.reshape(values[group], (-1, 1))
        if not np.isfinite(prior).all():
            raise ValueError(
                f"prior_variance must be finite for {type(self).__name__} (every run starts "
                f"from the prior), got {prior_variance!r}"
            )
        self._prior_cov = np.zeros((width, p, p))
        self._prior_cov[:, np.arange(p), np.arange(p)] = prior
        slots = max_run + 1
        self._means = np.zeros((width, slots, p))
        self._covs = np.broadcast_to(self._prior_cov[:, None], (width, slots, p, p)).copy()
        self._log_prob = np.full((width, slots), -np.inf)
        self._log_prob[:, 0] = 0.0
        self._n = np.zeros(width)

    # -- shapes -------------------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        return len(self._labels)

    def _live(self) -> int:
        """Run-length slots that can hold mass: ``min(steps, max_run) + 1``."""
        return int(min(self._n.max(), self.max_run)) + 1

    def _drop(self, a: np.ndarray) -> np.ndarray:
        return a[0] if self.n_replicates is None else a

    def _check_x(self, x: Any) -> np.ndarray:
        x = float_array("x", x)
        nb = len(self._batch)
        if x.ndim < nb + 1 or x.shape[:nb] != self._batch or x.shape[-1] != self.n_features:
            raise ValueError(
                f"x must have shape {(*self._batch, self.n_features)} (optionally with action "
                f"axes before the last), got {x.shape}"
            )
        check_finite("x", x)
        return x

    # -- learning -----------------------------------------------------------------------------
    def learn_one(self, x: Any, y: Any) -> ChangepointBayesianLinearRegression:
        """Update with one observation per replicate: ``x`` ``(..., p)``, ``y`` ``(...)``."""
        x = float_array("x", x)
        y = float_array("y", y)
        if x.shape != (*self._batch, self.n_features):
            raise ValueError(f"x must have shape {(*self._batch, self.n_features)}, got {x.shape}")
        if y.shape != self._batch:
            raise ValueError(f"y must have shape {self._batch}, got {y.shape}")
        check_finite("x", x)
        check_finite("y", y)
        width = len(self._n)
        x, y = x.reshape(width, -1), y.reshape(width)
        m = self._live()
        means, covs = self._means[:, :m], self._covs[:, :m]
        sx = np.einsum("rmij,rj->rmi", covs, x)
        var = np.einsum("rmi,ri->rm", sx, x) + 1.0 / self._beta
        resid = y[:, None] - np.einsum("rmi,ri->rm", means, x)
        log_pred = -0.5 * (np.log(2 * np.pi * var) + resid**2 / var)
        joint = self._log_prob[:, :m] + log_pred
        log_prob = np.full_like(self._log_prob, -np.inf)
        log_prob[:, 0] = _logsumexp(joint, axis=1) + math.log(self._h)
        keep = min(m, self.max_run)  # a run at max_run cannot grow: it is dropped
        log_prob[:, 1 : keep + 1] = joint[:, :keep] + math.log1p(-self._h)
        self._log_prob = log_prob - _logsumexp(log_prob, axis=1)[:, None]
        gain = sx[:, :keep] / var[:, :keep, None]
        new_means = means[:, :keep] + gain * resid[:, :keep, None]
        new_covs = covs[:, :keep] - np.einsum("rmi,rmj->rmij", gain, sx[:, :keep])
        self._means[:, 1 : keep + 1] = new_means
        self._covs[:, 1 : keep + 1] = new_covs
        self._means[:, 0] = 0.0
        self._covs[:, 0] = self._prior_cov
        self._n += 1
        return self

    # -- the posterior ------------------------------------------------------------------------
    @property
    def run_length_posterior(self) -> np.ndarray:
        """``P(r_t = r | data)`` for ``r = 0 .. max_run``, ``(..., max_run + 1)``."""
        return self._drop(np.exp(self._log_prob))

    @property
    def n_seen(self) -> np.ndarray:
        """Observations learned so far (per replicate)."""
        return self._drop(self._n.copy())

    def _mixture(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        m = self._live()
        return np.exp(self._log_prob[:, :m]), self._means[:, :m], self._covs[:, :m], self._n

    @property
    def mean(self) -> np.ndarray:
        """Posterior mean of the current weights (mixed over run lengths), ``(..., p)``."""
        prob, means, _, _ = self._mixture()
        return self._drop(np.einsum("rm,rmi->ri", prob, means))

    @property
    def covariance(self) -> np.ndarray:
        """Posterior covariance of the current weights (the mixture's), ``(..., p, p)``."""
        prob, means, covs, _ = self._mixture()
        centre = np.einsum("rm,rmi->ri", prob, means)
        second = np.einsum("rm,rmij->rij", prob, covs + means[..., :, None] * means[..., None, :])
        return self._drop(second - centre[:, :, None] * centre[:, None, :])

    @property
    def sd(self) -> np.ndarray:
        """Posterior sd of every current weight, ``(..., p)``."""
        return np.sqrt(np.maximum(np.einsum("...ii->...i", self.covariance), 0.0))

    def predict_one(self, x: Any, *, return_sd: bool = False, include_noise: bool = True) -> Any:
        """Predictive mean for ``x`` ``(..., [K,] p)`` mixed over run lengths; with ``return_sd``
        also the mixture's sd (of the mean ``x'w`` alone with ``include_noise=False``)."""
        x = self._check_x(x)
        width = len(self._n)
        rows = x.reshape(width, -1, self.n_features)
        prob, means, covs, _ = self._mixture()
        loc_r = np.einsum("rmi,rni->rmn", means, rows)
        loc = np.einsum("rm,rmn->rn", prob, loc_r)
        shape = x.shape[len(self._batch) : -1]
        out_loc = self._drop(loc.reshape(width, *shape))
        if not return_sd:
            return float(out_loc) if np.ndim(out_loc) == 0 else out_loc
        var_r = np.einsum("rni,rmij,rnj->rmn", rows, covs, rows)
        second = np.einsum("rm,rmn->rn", prob, var_r + loc_r**2)
        var = np.maximum(second - loc**2, 0.0) + (1.0 / self._beta if include_noise else 0.0)
        out_sd = self._drop(np.sqrt(var).reshape(width, *shape))
        if np.ndim(out_loc) == 0:
            return float(out_loc), float(out_sd)
        return out_loc, out_sd

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Weights drawn from the posterior mixture: a run length, then that run's weights."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        prob, means, covs, _ = self._mixture()
        width, p = len(self._n), self.n_features
        draws = 1 if size is None else check_int("size", size, minimum=1)
        cumulative = np.cumsum(prob, axis=1)
        u = rng.random((draws, width)) * cumulative[:, -1]
        run = np.minimum((cumulative[None] < u[..., None]).sum(axis=-1), prob.shape[1] - 1)
        reps = np.arange(width)
        factor = sampling_factor(covs[reps, run])  # (draws, width, p, p)
        z = rng.standard_normal((draws, width, p))
        weights = means[reps, run] + (factor @ z[..., None])[..., 0]
        weights = weights if self.n_replicates is not None else weights[:, 0]
        return weights[0] if size is None else weights

    # -- persistence --------------------------------------------------------------------------
    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "run_probability": np.exp(self._log_prob),
            "run_means": self._means,
            "run_covariances": self._covs,
            "n_seen": self._n,
        }

    def get_state(self) -> dict[str, np.ndarray]:
        """Run-length posterior, every run's mean and covariance, and the count (copies)."""
        return {k: self._drop(v).copy() for k, v in self._state_arrays().items()}

    def set_state(self, state: Mapping[str, np.ndarray]) -> ChangepointBayesianLinearRegression:
        """Restore what :meth:`get_state` returned (shapes must match this model)."""
        shapes = {k: self._drop(v).shape for k, v in self._state_arrays().items()}
        arrays = check_state(state, shapes)
        prob = arrays["run_probability"].reshape(self._log_prob.shape)
        if (prob < 0).any() or not np.allclose(prob.sum(axis=1), 1.0):
            raise ValueError("state['run_probability'] must be probabilities summing to 1")
        with np.errstate(divide="ignore"):
            self._log_prob = np.log(prob)
        self._means = arrays["run_means"].reshape(self._means.shape)
        self._covs = arrays["run_covariances"].reshape(self._covs.shape)
        self._n = arrays["n_seen"].reshape(self._n.shape)
        return self

    def clone(self) -> ChangepointBayesianLinearRegression:
        """A new, untrained model with the same constructor arguments."""
        return type(self)(**self.get_params())

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "groups": self.groups,
            "hazard": self.hazard,
            "max_run": self.max_run,
            "prior_variance": self.prior_variance,
            "noise_precision": self.noise_precision,
            "n_replicates": self.n_replicates,
        }

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.get_params().items() if k != "groups"}
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"{type(self).__name__}(n_features={self.n_features}, {args})"
