"""One Bayesian linear model per action (the "disjoint" model of LinUCB), in lockstep."""

from __future__ import annotations

import itertools
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
from regretlab.learners._disjoint_kernel import (
    compiled_fold,
    compiled_predictive,
    compiled_predictive_shared,
    compiled_update,
)
from regretlab.learners._grouping import check_groups, column_values, group_value
from regretlab.learners._pcg64_kernel import standard_normal
from regretlab.learners.rank import DEFAULT_RANK_TOL, check_rank_tol

__all__ = ["DisjointBayesianLinearRegression"]

# As in BayesianLinearRegression: an update that shrinks a variance by more than this factor
# would lose digits to cancellation, so those models are re-solved from their statistics.
_MAX_SHRINK = 1e3
# Size of the log of rows not yet added into the statistics (see ``_fold``).
_LOG_BYTES = 4 * 2**20
_STATE_KEYS = ("xtx", "xty", "yty", "n", "prior_variance")


class DisjointBayesianLinearRegression:
    """``K`` independent conjugate Gaussian models, one per action, for ``R`` replicates.

    Each action ``a`` has its own weights ``w_a`` with the grouped prior of
    :class:`~regretlab.learners.BayesianLinearRegression`; a step updates only the chosen
    action's model (Li et al. 2010, "disjoint linear models"). Sufficient statistics are kept
    per model, so a prior change is exact: ``X'X``, ``X'y`` and ``y'y`` as blocks of one
    augmented matrix ``[X y]'[X y]``, of which only the upper triangle is stored.

    A step gathers the chosen posteriors (one flat index per replicate), applies the
    Sherman-Morrison update of :func:`regretlab.learners.gaussian.rank_one_update` and scatters
    them back; every ``refresh_every`` steps all posteriors are re-solved from the statistics.
    The statistics are only read at a refresh, so a step just logs its row and the log is
    added in when it is full or the statistics are read: the same sums in the same order as
    at every step, with the statistics in cache instead of competing with the posteriors.
    Predictive variances ``x'S x`` are computed as ``vec(S) . vec(x x')``, one product per
    action instead of a matrix-vector product, so scoring all ``R x K`` models (LinUCB, and
    Thompson sampling, which draws each action's score from its marginal) stays cheap.

    Parameters
    ----------
    groups
        Feature group of every column of the per-action design (e.g. ``intercept``, ``main``),
        or a feature map.
    n_actions
        Number of actions ``K``.
    prior_variance, noise_precision, n_replicates, refresh_every, rank_tol
        As for :class:`~regretlab.learners.BayesianLinearRegression`; the prior is the same for
        every action (a per-replicate value applies to all of that replicate's actions).

    Examples
    --------
    >>> model = DisjointBayesianLinearRegression(groups=("intercept", "main"), n_actions=3)
    >>> for t in range(300):
    ...     x = np.array([1.0, np.sin(t)])
    ...     model = model.learn_one(x, [0.0, 1.0, 2.0][t % 3] * x[1], action=t % 3)
    >>> model.predict_one(np.array([1.0, 1.0])).round(2)
    array([0.  , 0.98, 1.96])
    >>> model.sample(np.random.default_rng(0)).shape
    (3, 2)
    """

    def __init__(
        self,
        *,
        groups: Any,
        n_actions: int,
        prior_variance: float | Mapping[str, Any] = 1.0,
        noise_precision: float = 1.0,
        n_replicates: int | None = None,
        refresh_every: int = 1024,
        rank_tol: float = DEFAULT_RANK_TOL,
    ) -> None:
        self.groups = groups
        self.n_actions = n_actions
        self.prior_variance = prior_variance
        self.noise_precision = noise_precision
        self.n_replicates = n_replicates
        self.refresh_every = refresh_every
        self.rank_tol = rank_tol
        self._rank_tol = check_rank_tol(rank_tol)
        self._labels = check_groups(groups)
        self._columns = group_indices(self._labels)
        check_int("n_actions", n_actions, minimum=1)
        self._beta = check_real(
            "noise_precision", noise_precision, minimum=0.0, exclusive_minimum=True
        )
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
        check_int("refresh_every", refresh_every, minimum=1)
        self._batch: tuple[int, ...] = () if n_replicates is None else (n_replicates,)
        r = 1 if n_replicates is None else n_replicates
        p = len(self._labels)
        values = column_values(
            "prior_variance", prior_variance, self._labels, default=1.0, batch_shape=self._batch
        )
        self._prior = np.empty((r, n_actions, p))
        for group, value in values.items():
            self._prior[..., self._columns[group]] = np.reshape(value, (-1, 1, 1))
        # The upper triangle of [X y]'[X y] per model, and where every entry of the full
        # (symmetric) matrix is found in it.
        self._pairs = np.triu_indices(p + 1)
        self._packed = np.zeros((r, n_actions, len(self._pairs[0])))
        self._unpack = np.empty((p + 1, p + 1), dtype=np.intp)
        self._unpack[self._pairs] = self._unpack[self._pairs[::-1]] = np.arange(len(self._pairs[0]))
        self._n = np.zeros((r, n_actions))
        self._offsets = np.arange(r) * n_actions
        # Rows z = [x y] (as columns: (p + 1, R)) and chosen models (flat indices) of the steps
        # not yet added into the statistics; made at the first step.
        self._log_rows: np.ndarray | None = None
        self._log_models: np.ndarray | None = None
        self._logged = 0
        self._solve_all()

    # -- internals: arrays always carry (R, K) axes; a single stream has R = 1 --------------------
    @property
    def _stats(self) -> stats.SufficientStats:
        """The statistics, blocks of the augmented matrix, with the log added in."""
        self._fold()
        p = self.n_features
        aug = self._packed[..., self._unpack]
        return stats.SufficientStats(aug[..., :p, :p], aug[..., :p, p], aug[..., p, p], self._n)

    def _fold(self) -> None:
        """Add the logged steps into the statistics, in step order.

        Each step adds ``z_i z_j`` to entry ``(i, j)`` of its chosen models exactly as an update
        at that step would, so the statistics do not depend on when the log is folded.
        """
        steps, self._logged = self._logged, 0
        if not steps or self._log_rows is None or self._log_models is None:
            return
        packed = self._flat(self._packed)
        rows, models = self._log_rows[:steps], self._log_models[:steps]
        compiled = compiled_fold()
        if compiled is not None:  # the same sums, without per-step gathers and scatters
            compiled(packed, rows, models, *self._pairs)
        else:
            products = np.empty((packed.shape[1], rows.shape[2]))
            # Row i of the upper triangle, z_i z_j for j >= i, is one contiguous run of entries.
            starts = np.searchsorted(self._pairs[0], np.arange(rows.shape[1] + 1))
            for z, at in zip(rows, models, strict=True):
                # The products run along the replicates (rows of z), then are added transposed.
                for i, (lo, hi) in enumerate(itertools.pairwise(starts)):
                    np.multiply(z[i], z[i:], out=products[lo:hi])
                # Gather, update, scatter: ``a[i] += b`` with an index array is much slower.
                block = packed[at]
                block += products.T
                packed[at] = block
        counts = np.bincount(models.reshape(-1), minlength=self._n.size)
        self._n += counts.reshape(self._n.shape)

    def _solve_all(self) -> None:
        post = gaussian.posterior(self._stats, self._prior, self._beta, rank_tol=self._rank_tol)
        self._mean = np.ascontiguousarray(post.mean)
        self._cov = np.ascontiguousarray(post.covariance)
        self._proper = post.proper
        self._n_updates = 0

    def _flat(self, array: np.ndarray) -> np.ndarray:
        """View with the (replicate, action) axes merged, for one-index gathers."""
        return array.reshape(self._n.size, -1)

    def _lift(self, array: np.ndarray) -> np.ndarray:
        return array if self._batch else array[None]

    def _drop(self, array: np.ndarray) -> np.ndarray:
        return array if self._batch else array[0]

    @property
    def n_features(self) -> int:
        return len(self._labels)

    # -- priors -------------------------------------------------------------------------------
    def get_prior_variance(self, group: str) -> np.ndarray:
        """The current prior variance of ``group``: a scalar, or ``(R,)`` for replicates."""
        self._check_group(group)
        return self._drop(self._prior[:, 0, self._columns[group][0]].copy())

    def set_prior_variance(self, group: str, value: Any) -> DisjointBayesianLinearRegression:
        """Set ``group``'s prior variance for every action; an exact refit, in place."""
        self._check_group(group)
        array = group_value("value", group, value, self._batch)
        self._prior[..., self._columns[group]] = np.reshape(array, (-1, 1, 1))
        self._solve_all()
        return self

    def _check_group(self, group: str) -> None:
        if group not in self._columns:
            raise ValueError(f"group must be one of {list(self._columns)}, got {group!r}")

    # -- learning -----------------------------------------------------------------------------
    def learn_one(self, x: Any, y: Any, *, action: Any) -> DisjointBayesianLinearRegression:
        """Update the chosen action's model: ``x`` ``(..., p)``, ``y`` and ``action`` ``(...)``."""
        x, y = float_array("x", x), float_array("y", y)
        p = self.n_features
        if x.shape != (*self._batch, p):
            raise ValueError(f"x must have shape {(*self._batch, p)}, got {x.shape}")
        if y.shape != self._batch:
            raise ValueError(f"y must have shape {self._batch}, got {y.shape}")
        act = np.asarray(action)
        if act.shape != self._batch or act.dtype.kind not in "iu":
            raise ValueError(
                f"action must be integers of shape {self._batch}, got {act.dtype} {act.shape}"
            )
        if act.min() < 0 or act.max() >= self.n_actions:
            raise ValueError(f"action must lie in [0, {self.n_actions}), got {act.ravel()}")
        x, y, at = self._lift(x), self._lift(y), self._offsets + self._lift(act)
        if not math.isfinite(float(x.reshape(-1) @ x.reshape(-1) + y @ y)):  # learned if finite
            check_finite("x", x)
            check_finite("y", y)
        compiled = compiled_update()
        if compiled is not None and self._proper and not self._logged:
            # The step and the statistics in one pass, no log (the same sums as the fold's).
            shrink, flat_cov = np.empty(len(at)), self._cov.reshape(self._n.size, p, p)
            compiled(self._flat(self._mean), flat_cov, at, x, y, self._beta, shrink,
                     self._flat(self._packed), self._n.reshape(-1), *self._pairs)  # fmt: skip
            self._n_updates += 1
            if self._n_updates >= self.refresh_every or shrink.max() > _MAX_SHRINK:
                self._solve_all()
            return self
        rows, models = self._log_rows, self._log_models
        if rows is None or models is None:
            steps = max(1, min(self.refresh_every, _LOG_BYTES // (8 * len(at) * (p + 2))))
            rows = self._log_rows = np.empty((steps, p + 1, len(at)))
            models = self._log_models = np.empty((steps, len(at)), dtype=np.intp)
        elif self._logged == len(rows):
            self._fold()
        z = rows[self._logged]
        z[:p] = x.T
        z[p] = y
        models[self._logged] = at
        self._logged += 1
        self._n_updates += 1
        if not self._proper or self._n_updates >= self.refresh_every:
            self._solve_all()
            return self
        # Gather the chosen posteriors, update them in place, scatter them back.
        mean, cov = self._flat(self._mean)[at], self._flat(self._cov)[at]
        chosen = gaussian.GaussianPosterior(mean, cov.reshape(len(at), p, p), True)
        shrink, _ = gaussian.rank_one_update(chosen, x, y, self._beta)
        if shrink.max() > _MAX_SHRINK:
            self._solve_all()
            return self
        self._flat(self._mean)[at] = mean
        self._flat(self._cov)[at] = cov
        return self

    # -- reading the posterior ----------------------------------------------------------------
    def _designs(self, x: Any) -> np.ndarray:
        """``x`` as per-action rows ``(R, K, p)``; one row ``(..., p)`` serves every action."""
        x = float_array("x", x)
        p, k = self.n_features, self.n_actions
        if x.shape == (*self._batch, p):
            return np.broadcast_to(self._lift(x)[:, None, :], (len(self._offsets), k, p))
        if x.shape == (*self._batch, k, p):
            return self._lift(x)
        raise ValueError(
            f"x must have shape {(*self._batch, p)} or {(*self._batch, k, p)}, got {x.shape}"
        )

    def predict_one(self, x: Any, *, return_sd: bool = False, include_noise: bool = True) -> Any:
        """Predicted reward of every action, ``(..., K)``; with ``return_sd`` also its sd."""
        designs = self._designs(x)
        compiled = compiled_predictive() if return_sd else None
        if compiled is not None and designs.strides[1] == 0:  # one row for every action
            loc, sd = np.empty(designs.shape[:2]), np.empty(designs.shape[:2])
            noise, shared = 1.0 / self._beta if include_noise else 0.0, designs[:, 0].copy()
            compiled_predictive_shared()(self._mean, self._cov, shared, noise, loc, sd)  # type: ignore[misc]
            if not np.isfinite(loc).all():  # (fast-math kernels cannot test it themselves)
                check_finite("x", designs)
            return self._drop(loc), self._drop(sd)
        if compiled is not None:  # x'm and x'S x in one pass over the models
            loc, var = np.empty(designs.shape[:2]), np.empty(designs.shape[:2])
            compiled(self._mean, self._cov, designs, loc, var)
        else:
            loc = np.einsum("rkp,rkp->rk", designs, self._mean)
        if not np.isfinite(loc).all():
            check_finite("x", designs)
        if not return_sd:
            return self._drop(loc)
        if compiled is None:
            var = self._variances(designs)
        np.maximum(var, 0.0, out=var)
        var += 1.0 / self._beta if include_noise else 0.0
        return self._drop(loc), self._drop(np.sqrt(var, out=var))

    def _variances(self, designs: np.ndarray) -> np.ndarray:
        """``x'S x`` of every model, as ``vec(S) . vec(x x')`` (numpy)."""
        r, k, p = designs.shape
        cov = self._cov.reshape(r, k, p * p)
        if designs.strides[1] == 0:  # one row for every action: build x x' once
            outer = np.einsum("ri,rj->rij", designs[:, 0], designs[:, 0]).reshape(r, p * p)
            return np.einsum("rkz,rz->rk", cov, outer)
        outer = np.einsum("rki,rkj->rkij", designs, designs).reshape(r, k, p * p)
        return np.einsum("rkz,rkz->rk", cov, outer)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Independent draws of every action's weights, ``(..., K, p)`` (or ``(size, ...)``)."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        factor = gaussian.sampling_factor(self._cov)
        shape = self._mean.shape if size is None else (size, *self._mean.shape)
        z = standard_normal(rng, shape)
        draws = self._mean + np.einsum("rkpq,...rkq->...rkp", factor, z)
        return draws if self._batch else draws[..., 0, :, :]

    @property
    def mean(self) -> np.ndarray:
        """Posterior means ``(..., K, p)``."""
        return self._drop(self._mean.copy())

    @property
    def covariance(self) -> np.ndarray:
        """Posterior covariances ``(..., K, p, p)``."""
        return self._drop(self._cov.copy())

    @property
    def sd(self) -> np.ndarray:
        """Posterior sd of every weight, ``(..., K, p)``."""
        return self._drop(np.sqrt(np.maximum(np.einsum("...ii->...i", self._cov), 0.0)))

    @property
    def n_seen(self) -> np.ndarray:
        """Observations per action, ``(..., K)``."""
        self._fold()
        return self._drop(self._n.copy())

    # -- persistence --------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Everything learned, as plain arrays (for ``numpy.savez``)."""
        return {
            **{k: v.copy() for k, v in self._stats._asdict().items()},
            "prior_variance": self._prior.copy(),
        }

    def set_state(self, state: Mapping[str, np.ndarray]) -> DisjointBayesianLinearRegression:
        """Restore what :meth:`get_state` returned."""
        template = self.get_state()
        shapes = {k: template[k].shape for k in _STATE_KEYS}
        arrays = check_state(state, shapes, variances=("prior_variance",))
        self._prior = arrays.pop("prior_variance")
        p = self.n_features
        aug = np.empty((*self._n.shape, p + 1, p + 1))
        aug[..., :p, :p] = arrays["xtx"]
        aug[..., :p, p] = aug[..., p, :p] = arrays["xty"]
        aug[..., p, p] = arrays["yty"]
        # Stored from the lower triangle of X'X, the one the Cholesky factorisation reads.
        self._packed[...] = aug[..., self._pairs[1], self._pairs[0]]
        self._n[...] = arrays["n"]
        self._solve_all()
        return self

    def __getstate__(self) -> dict[str, Any]:
        # Pickled with the log added in and without its buffers (made again at the next step).
        self._fold()
        return {**self.__dict__, "_log_rows": None, "_log_models": None}

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "groups": self.groups,
            "n_actions": self.n_actions,
            "prior_variance": self.prior_variance,
            "noise_precision": self.noise_precision,
            "n_replicates": self.n_replicates,
            "refresh_every": self.refresh_every,
            "rank_tol": self.rank_tol,
        }

    def clone(self) -> DisjointBayesianLinearRegression:
        """A new, untrained model with the same constructor arguments."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        return (
            f"DisjointBayesianLinearRegression(n_actions={self.n_actions}, "
            f"n_features={self.n_features}, prior_variance={self.prior_variance!r}, "
            f"noise_precision={self.noise_precision!r}, n_replicates={self.n_replicates!r})"
        )
