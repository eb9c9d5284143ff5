"""Sequential Bayesian linear regression with one prior variance per feature group."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from regretlab._validation import (
    check_finite,
    check_int,
    check_real,
    check_state,
    float_array,
)
from regretlab.features import group_indices
from regretlab.learners import gaussian, stats
from regretlab.learners._grouping import check_groups, column_values, group_value
from regretlab.learners._pending import PendingUpdates
from regretlab.learners._solve_chunks import posterior_by_chunks
from regretlab.learners.rank import DEFAULT_RANK_TOL, check_rank_tol

__all__ = ["BayesianLinearRegression"]

_STATE_KEYS = ("xtx", "xty", "yty", "n", "prior_variance")


class BayesianLinearRegression(PendingUpdates):
    """Conjugate Gaussian linear regression; one zero-mean prior variance per feature group.

    The model keeps the sufficient statistics ``X'X, X'y, y'y, n`` exactly, so the posterior
    after :meth:`set_prior_variance` equals a fresh fit with that prior on the same data.
    Between prior changes the posterior moves by O(p^2) Sherman-Morrison updates, refreshed from
    the statistics by a Cholesky solve every ``refresh_every`` updates (and whenever an update
    would lose precision), so it stays within about 1e-12 of the batch solution however long
    the stream. Observations are buffered and folded into the statistics in blocks; the
    posterior is brought up to date only when it is read.

    Parameters
    ----------
    groups
        The feature group of every design column, or a feature map (its ``groups`` are used).
    prior_variance
        One variance for every group, or a mapping ``{group: variance}``; groups it does not name
        get 1.0. A variance may be a scalar or one value per replicate. ``0`` switches a group off
        exactly, ``inf`` is a flat prior.
    noise_precision
        Known noise precision ``beta = 1 / sigma^2``.
    forgetting
        Discount ``gamma`` in (0, 1] applied to the data statistics at every step, for drifting
        streams: the posterior is that of the data weighted ``gamma^age`` under the undiscounted
        prior, which keeps a floor under the precision of directions the data stop exciting.
        With ``gamma < 1`` the posterior is re-solved (O(p^3)) whenever it is read after new
        data, since discounting is not a rank-one change.
    n_replicates
        ``None`` for one stream (``x`` of shape ``(p,)``), or ``R`` independent models updated
        in lockstep (``x`` of shape ``(R, p)``).
    refresh_every
        Recompute the posterior from the statistics after this many rank-one updates.
    rank_tol
        With flat priors, the posterior is improper (:attr:`posterior` ``.proper`` is ``False``:
        minimum-norm mean, pseudo-inverse covariance) while the flat columns' equilibrated
        precision has an eigenvalue at or below this; ``X'X`` squares ``cond(X)``, so the
        default ``1e-12`` treats designs with ``cond(X)`` above about ``1e6`` as
        rank-deficient. See :mod:`regretlab.learners.rank`.

    Notes
    -----
    Symbols follow Bishop (2006), section 3.3; see :mod:`regretlab.learners.gaussian`. The
    seed notebook's ``BayesLinearRegressor`` is this model with ``noise_precision=1`` and the
    intercept's prior variance left at 1. Its ``inc_alpha`` (random-walk inflation of the
    covariance) has no sufficient-statistics form, which would make prior changes inexact, so
    drift is handled by ``forgetting`` instead.

    Examples
    --------
    >>> from regretlab.features import InteractionFeatures
    >>> fm = InteractionFeatures(x_dim=2)
    >>> model = BayesianLinearRegression(groups=fm, prior_variance={"pairwise": 0.0})
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(200):
    ...     x = fm.transform(rng.uniform(-1, 1, 2))
    ...     model = model.learn_one(x, 1.0 + 2.0 * x[1] - x[2] + 0.1 * rng.normal())
    >>> model.mean.round(1)
    array([ 1.,  2., -1.,  0.])
    >>> model.set_prior_variance("pairwise", 1.0).mean.round(1)
    array([ 1.,  2., -1.,  0.])
    >>> batched = BayesianLinearRegression(groups=fm, n_replicates=3)
    >>> batched.learn_one(np.ones((3, 4)), np.zeros(3)).predict_one(np.ones((3, 4))).shape
    (3,)
    """

    def __init__(
        self,
        *,
        groups: Any,
        prior_variance: float | Mapping[str, Any] = 1.0,
        noise_precision: float = 1.0,
        forgetting: float = 1.0,
        n_replicates: int | None = None,
        refresh_every: int = 1024,
        rank_tol: float = DEFAULT_RANK_TOL,
    ) -> None:
        self.groups = groups
        self.prior_variance = prior_variance
        self.noise_precision = noise_precision
        self.forgetting = forgetting
        self.n_replicates = n_replicates
        self.refresh_every = refresh_every
        self.rank_tol = rank_tol
        self._rank_tol = check_rank_tol(rank_tol)
        self._labels = check_groups(groups)
        self._columns = group_indices(self._labels)
        self._beta = check_real(
            "noise_precision", noise_precision, minimum=0.0, exclusive_minimum=True
        )
        self._gamma = check_real(
            "forgetting", forgetting, minimum=0.0, exclusive_minimum=True, maximum=1.0
        )
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
        check_int("refresh_every", refresh_every, minimum=1)
        self._batch: tuple[int, ...] = () if n_replicates is None else (n_replicates,)
        self._prior = self._prior_columns(
            column_values(
                "prior_variance",
                prior_variance,
                self._labels,
                default=1.0,
                batch_shape=self._batch,
            )
        )
        p = len(self._labels)
        self._stats = stats.empty(self._batch, p)
        self._init_pending(p)

    # -- configuration ------------------------------------------------------------------------
    def _prior_columns(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        out = np.empty((*self._batch, len(self._labels)))
        for group, value in values.items():
            out[..., self._columns[group]] = np.asarray(value)[..., None]
        return out

    @property
    def n_features(self) -> int:
        return len(self._labels)

    def get_prior_variance(self, group: str) -> np.ndarray:
        """The current prior variance of ``group``: a scalar, or ``(R,)`` for replicates."""
        self._check_group(group)
        return self._prior[..., self._columns[group][0]].copy()

    def set_prior_variance(self, group: str, value: Any) -> BayesianLinearRegression:
        """Set ``group``'s prior variance (scalar or one per replicate); exact refit, in place."""
        self._check_group(group)
        array = group_value("value", group, value, self._batch)
        if array.ndim == 1 and self._batch == ():
            raise ValueError(
                f"value for group {group!r} must be a scalar for a single-stream model, "
                f"got shape {array.shape}"
            )
        self._prior[..., self._columns[group]] = array[..., None]
        self._post = None
        return self

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """Column indices of every feature group."""
        return {g: idx.copy() for g, idx in self._columns.items()}

    def _candidate_prior(self, candidates: Mapping[str, Any] | None) -> np.ndarray:
        """The current per-column prior with some groups replaced by candidate values.

        Each candidate value is a scalar, a 1-D grid ``(G,)``, or ``(G, R)``; the result is
        ``(G, ..., p)`` (or the current prior when ``candidates`` is empty).
        """
        if not candidates:
            return self._prior
        grids = {}
        for group, value in candidates.items():
            self._check_group(group)
            array = np.asarray(value, dtype=float)
            if np.isnan(array).any() or (array < 0).any():
                raise ValueError(f"candidates[{group!r}] must be >= 0, got {array}")
            grids[group] = (
                array.reshape(array.shape[:1] + (1,) * len(self._batch))
                if (array.ndim == 1)
                else array
            )
        size = max(1 if a.ndim == 0 else a.shape[0] for a in grids.values())
        prior = np.broadcast_to(self._prior, (size, *self._prior.shape)).copy()
        for group, array in grids.items():
            prior[..., self._columns[group]] = np.asarray(array)[..., None]
        return prior

    def log_evidence(
        self, candidates: Mapping[str, Any] | None = None, *, fraction: float = 1.0
    ) -> np.ndarray:
        """Exact log marginal likelihood of everything learned, per replicate.

        With ``candidates`` (``{group: values}``, a grid ``(G,)`` or ``(G, R)`` per group) it is
        evaluated for each candidate prior instead, ``(G, ...)``: the sufficient statistics are
        shared, so a grid costs one factorisation per candidate and no refit. The current
        posterior is not changed. ``fraction`` ``b`` in (0, 1] gives the fractional marginal
        likelihood ``log int prior x likelihood^b`` (O'Hagan 1995): the statistics times ``b``.
        """
        b = check_real("fraction", fraction, minimum=0.0, exclusive_minimum=True, maximum=1.0)
        data = self.stats if b == 1.0 else stats.SufficientStats(*(b * a for a in self.stats))
        return self._log_evidence(self._candidate_prior(candidates), data)

    def _log_evidence(self, prior_variance: np.ndarray, data: stats.SufficientStats) -> np.ndarray:
        return gaussian.log_evidence(data, prior_variance, self._beta)

    def log_predictive(self, x: Any, y: Any) -> np.ndarray:
        """Log density of ``y`` under the posterior predictive at ``x`` (before learning it)."""
        x = self._check_x(x)
        y = float_array("y", y)
        loc, var = gaussian.predictive(self._sync(), x, self._pending_factors())
        return self._log_predictive(loc, var, y)

    def _log_predictive(self, loc: np.ndarray, var: np.ndarray, y: np.ndarray) -> np.ndarray:
        total = var + 1.0 / self._beta
        return -0.5 * (np.log(2 * np.pi * total) + (y - loc) ** 2 / total)

    def _check_group(self, group: str) -> None:
        if group not in self._columns:
            raise ValueError(f"group must be one of {list(self._columns)}, got {group!r}")

    # -- learning -----------------------------------------------------------------------------
    def learn_one(self, x: Any, y: Any) -> BayesianLinearRegression:
        """Update with one observation per replicate: ``x`` ``(..., p)``, ``y`` ``(...)``."""
        x, y = self._check_xy(x, y, rows=False)
        if self._n_buf == self._block:
            self._fold()
        self._buf_x[self._n_buf] = x
        self._buf_y[self._n_buf] = y
        self._n_buf += 1
        return self

    def learn_many(self, x: Any, y: Any) -> BayesianLinearRegression:
        """Update with a block of rows in order: ``x`` ``(..., m, p)``, ``y`` ``(..., m)``."""
        x, y = self._check_xy(x, y, rows=True)
        self._fold()
        self._accumulate(x, y)
        self._post = None
        return self

    def predict_learn_many(self, x: Any, y: Any) -> np.ndarray:
        """Predict every row, then learn it, in order: ``x`` ``(..., m, p)``, ``y`` ``(..., m)``.

        Returns the predictions ``(..., m)``, each made just before its row is learned: the
        same as :meth:`predict_one` then :meth:`learn_one` row by row (to about 1e-12), but
        blocked by time, a cache-sized chunk of replicates through all rows at a time (see
        :mod:`regretlab.learners._lockstep`). Subclasses and ``forgetting < 1`` go row by row.
        """
        if type(self) is BayesianLinearRegression and self._gamma == 1.0:
            return self._predict_learn_blocked(*self._check_shapes(x, y, rows=True))
        return self._predict_learn_rows(*self._check_xy(x, y, rows=True))

    # -- the posterior ------------------------------------------------------------------------
    def _solve(self) -> gaussian.GaussianPosterior:
        """The posterior from the statistics alone (before any data, the prior itself)."""
        if not self._stats.xtx.any() and np.isfinite(self._prior).all():
            cov = np.zeros((*self._prior.shape, self._prior.shape[-1]))
            np.einsum("...ii->...i", cov)[...] = self._prior
            return gaussian.GaussianPosterior(np.zeros(self._prior.shape), cov, True)
        return posterior_by_chunks(self._stats, self._prior, self._beta, rank_tol=self._rank_tol)

    _solve_beta = property(lambda self: self._beta)  # the noise precision _solve uses

    @property
    def posterior(self) -> gaussian.GaussianPosterior:
        """The current Gaussian posterior ``(mean, covariance, proper)``; arrays are copies."""
        mean, cov, proper = self._sync(full=True)
        return gaussian.GaussianPosterior(mean.copy(), cov.copy(), proper)

    @property
    def mean(self) -> np.ndarray:
        """Posterior mean of the weights, ``(..., p)``."""
        return self._sync().mean.copy()

    @property
    def covariance(self) -> np.ndarray:
        """Posterior covariance of the weights, ``(..., p, p)``."""
        return self._sync(full=True).covariance.copy()

    @property
    def sd(self) -> np.ndarray:
        """Posterior sd of every weight, ``(..., p)``; ``inf`` where flat priors leave it open."""
        sd = np.sqrt(np.maximum(np.einsum("...ii->...i", self.covariance), 0.0))
        base = self._sync(full=True).covariance  # solved with noise precision _solve_beta
        known = gaussian.determined(self.stats, self._prior, self._solve_beta, base)
        return sd if known is None else np.where(known, sd, np.inf)

    @property
    def proper(self) -> bool:
        """Whether the posterior is proper in every replicate (flat priors may leave it not)."""
        return self._sync().proper

    @property
    def n_seen(self) -> np.ndarray:
        """Observations learned so far (per replicate; discounted when ``forgetting < 1``)."""
        if self._gamma == 1.0:
            return self._stats.n + self._n_buf
        return self.stats.n

    @property
    def stats(self) -> stats.SufficientStats:
        """The exact sufficient statistics of everything learned."""
        self._fold()
        return stats.SufficientStats(*(a.copy() for a in self._stats))

    def _check_x(self, x: Any) -> np.ndarray:
        x = float_array("x", x)
        nb = len(self._batch)
        if x.ndim < nb + 1 or x.shape[:nb] != self._batch or x.shape[-1] != self.n_features:
            raise ValueError(
                f"x must have shape {(*self._batch, self.n_features)} (optionally with action "
                f"axes before the last), got {x.shape}"
            )
        return x

    def _noise_variance(self) -> np.ndarray | float:
        return 1.0 / self._beta

    def predict_one(self, x: Any, *, return_sd: bool = False, include_noise: bool = True) -> Any:
        """Predictive mean for ``x`` ``(..., [K,] p)``; with ``return_sd`` also its sd.

        The sd includes the noise unless ``include_noise=False``, which gives the posterior sd
        of the mean ``x'w`` alone (what UCB and Thompson sampling use).
        """
        x = self._check_x(x)
        post = self._sync()
        if not return_sd:
            loc = gaussian.predictive_mean(post, x)
            if loc.ndim == 0:
                if not math.isfinite(loc):
                    check_finite("x", x)
                return float(loc)
            if not math.isfinite(float(loc.sum())):
                check_finite("x", x)
            return loc
        loc, var = gaussian.predictive(post, x, self._pending_factors())
        if not math.isfinite(float(loc.sum())):
            check_finite("x", x)
        var = self._scale_variance(var, x.ndim - len(self._batch) - 1, include_noise)
        sd = np.sqrt(var)
        return (loc, sd) if loc.ndim else (float(loc), float(sd))

    def _scale_variance(self, var: np.ndarray, extra: int, include_noise: bool) -> np.ndarray:
        return var + 1.0 / self._beta if include_noise else var

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Weights drawn from the posterior with the caller's generator."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return self._draw_weights(rng, size)

    # -- persistence --------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Everything learned, as plain arrays (for ``numpy.savez``; no pickle needed)."""
        current = self.stats
        return {**current._asdict(), "prior_variance": self._prior.copy()}

    def set_state(self, state: Mapping[str, np.ndarray]) -> BayesianLinearRegression:
        """Restore what :meth:`get_state` returned (shapes must match this model)."""
        template = {**self._stats._asdict(), "prior_variance": self._prior}
        shapes = {k: template[k].shape for k in _STATE_KEYS}
        arrays = check_state(state, shapes, variances=("prior_variance",))
        self._prior = arrays.pop("prior_variance")
        self._stats = stats.SufficientStats(**arrays)
        self._n_buf = self._n_applied = 0
        self._post = None
        return self

    def clone(self) -> BayesianLinearRegression:
        """A new, untrained model with the same constructor arguments."""
        return type(self)(**self.get_params())

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "groups": self.groups,
            "prior_variance": self.prior_variance,
            "noise_precision": self.noise_precision,
            "forgetting": self.forgetting,
            "n_replicates": self.n_replicates,
            "refresh_every": self.refresh_every,
            "rank_tol": self.rank_tol,
        }

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.get_params().items() if k != "groups"}
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"{type(self).__name__}(n_features={self.n_features}, {args})"
