"""Rows on their way into a Gaussian posterior: the buffer, the statistics and the lazy update.

A row is learned in O(p) by appending it to a buffer. The buffer is folded into the exact
sufficient statistics in blocks (one matrix product per block instead of one outer product per
row), and the cached posterior is brought up to date only when it is read: by Sherman-Morrison
updates (:func:`regretlab.learners.gaussian.rank_one_update`), whose covariance corrections may
themselves wait as columns, or by a fresh solve from the statistics whenever an update would lose
precision, after ``refresh_every`` updates and under forgetting.

Replicates that draw weights (Thompson sampling on a shared model) keep the Cholesky factor of
the covariance (:class:`regretlab.learners._factor.SamplingFactor`) once they first draw: each
learned row then updates the mean and the factor by a rank-one downdate, O(p^2), and the
covariance waits until it is read (built as ``L L'``); a draw costs no new factorisation. A
refresh or a prior change starts a new posterior, whose factor is made afresh at the next draw.

:class:`PendingUpdates` holds this machinery for
:class:`~regretlab.learners.BayesianLinearRegression` (and so for its subclasses). The model
supplies the statistics ``_stats``, the noise precision ``_beta``, the discount ``_gamma``, the
replicate shape ``_batch``, ``refresh_every`` and :meth:`PendingUpdates._solve`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab._validation import check_finite, float_array
from regretlab.learners import _lockstep, gaussian, stats
from regretlab.learners._factor import SamplingFactor
from regretlab.learners._pcg64_kernel import standard_normal

__all__ = ["PendingUpdates"]

# Sherman-Morrison loses about log10(q) digits when an update shrinks a variance by a factor
# 1 + q (see gaussian.rank_one_update); above this factor the posterior is recomputed from the
# exact statistics instead. This happens while wide priors meet their first data.
_MAX_SHRINK = 1e3

# With many replicates, rewriting every (p, p) covariance at every step costs several memory
# passes; instead up to this many rank-one corrections wait as columns and are absorbed with one
# batched product (see gaussian.rank_one_update). One stream updates in place.
_DEFERRED_COLUMNS = 16

# Where the time-blocked kernels cannot be used (see _predict_learn_blocked), this many rows go
# row by row before the next check.
_ROWS_BEFORE_RECHECK = 32
# Rows are added into the statistics this many bytes of (p, p) products at a time.
_STATS_CHUNK_BYTES = 4 * 2**20
_MIN_BATCH_TO_DEFER = 8


class PendingUpdates:
    """Buffered rows and the lazily updated posterior of a conjugate Gaussian model."""

    # Supplied by the model (see the module notes).
    _batch: tuple[int, ...]
    _labels: tuple[str, ...]
    _stats: stats.SufficientStats
    _beta: float
    _gamma: float
    refresh_every: int
    predict_one: Callable[..., Any]
    learn_one: Callable[..., Any]

    def _solve(self) -> gaussian.GaussianPosterior:
        """The posterior from the statistics alone."""
        raise NotImplementedError

    def _init_pending(self, n_features: int) -> None:
        """An empty buffer and no cached posterior, for ``n_features`` design columns."""
        p = n_features
        # Rows wait in a buffer and are folded into the statistics in blocks of about 1M
        # numbers: one matrix product per block instead of one outer product per row.
        self._block = int(np.clip(2**20 // (max(1, math.prod(self._batch)) * p), 8, 256))
        self._buf_x = np.empty((self._block, *self._batch, p))
        self._buf_y = np.empty((self._block, *self._batch))
        self._n_buf = 0
        self._n_applied = 0
        self._post: gaussian.GaussianPosterior | None = None
        self._n_updates = 0
        defer = math.prod(self._batch) >= _MIN_BATCH_TO_DEFER
        self._factors = np.empty((*self._batch, _DEFERRED_COLUMNS, p)) if defer else None
        self._n_factors = 0
        # Replicates that sample (Thompson sampling) keep the covariance's Cholesky factor
        # through the rank-one updates instead of factorising afresh at every draw.
        self._sampling = SamplingFactor() if defer else None
        # A bound on every replicate's largest posterior variance, and the posterior it holds
        # for (see _safe_rows).
        self._bound_of: gaussian.GaussianPosterior | None = None
        self._row_bound = np.empty(0)

    # -- rows in --------------------------------------------------------------------------------
    def _check_xy(self, x: Any, y: Any, *, rows: bool) -> tuple[np.ndarray, np.ndarray]:
        """``x`` ``(*batch, p)`` and ``y`` ``(*batch)``, or with a row axis before ``p``."""
        x, y = self._check_shapes(x, y, rows=rows)
        # Sums of squares are non-finite exactly when an entry is NaN or inf (or overflows, which
        # check_finite then lets through): two cheap reductions on the hot path, and the precise
        # message only on failure.
        if x.flags.c_contiguous:
            xs = x.reshape(-1)
            total = float(xs @ xs)
        else:  # a strided block: reduce in place instead of copying it
            axes = "abcdefgh"[: x.ndim]
            total = float(np.einsum(f"{axes},{axes}->", x, x))
        self._check_total(total, x, y)
        return x, y

    def _check_shapes(self, x: Any, y: Any, *, rows: bool) -> tuple[np.ndarray, np.ndarray]:
        x = float_array("x", x)
        y = float_array("y", y)
        n_batch = len(self._batch)
        lead = (
            (*self._batch, x.shape[n_batch] if x.ndim > n_batch + 1 else -1)
            if rows
            else self._batch
        )
        if x.shape != (*lead, len(self._labels)):
            raise ValueError(f"x must have shape {(*lead, len(self._labels))}, got {x.shape}")
        if y.shape != lead:
            raise ValueError(f"y must have shape {lead}, got {y.shape}")
        return x, y

    @staticmethod
    def _check_total(total: float, x: np.ndarray, y: np.ndarray) -> None:
        total += float(y) ** 2 if y.ndim == 0 else float(np.einsum("...,...", y, y).sum())
        if not math.isfinite(total):
            check_finite("x", x)
            check_finite("y", y)

    def _predict_learn_rows(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Row by row: ``predict_one`` then ``learn_one`` for every row of ``x`` ``(..., m, p)``."""
        out = np.empty(y.shape)
        for i in range(y.shape[-1]):
            out[..., i] = self.predict_one(x[..., i, :])
            self.learn_one(x[..., i, :], y[..., i])
        return out

    def _predict_learn_blocked(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """:meth:`_predict_learn_rows` by the time-blocked kernels, where they are exact.

        Rows go through the kernel in segments that end where ``refresh_every`` is reached (a
        fresh solve from the statistics follows); a segment where some update could shrink a
        variance by more than ``_MAX_SHRINK`` (Sherman-Morrison would lose digits; bounded by
        ``beta |x|^2 lambda_max(S)``, since ``S`` only shrinks) goes row by row instead, as do
        improper posteriors (flat priors still undetermined).
        """
        m, p = y.shape[-1], x.shape[-1]
        out = np.empty(y.shape)
        n_rep = math.prod(self._batch)
        # The kernels read whole C-ordered arrays and the rows of each segment by index: one
        # compiled layout (y, which the runner slices from its block, is copied: 1/p of x).
        flat_x, flat_y, flat_out = (
            x.reshape(n_rep, m, p),
            np.ascontiguousarray(y.reshape(n_rep, m)),
            out.reshape(n_rep, m),
        )
        run = _lockstep.kernel()
        norms = np.einsum("rmp,rmp->rm", flat_x, flat_x)
        self._check_total(float(norms.sum()), x, y)  # the squared norms show NaN and inf
        done = 0
        while done < m:
            post = self._sync(full=True)
            if self._n_updates >= self.refresh_every:
                del post  # the old covariance is freed before the new one is solved
                post = self._refresh()
            stop = min(m, done + self.refresh_every - self._n_updates)
            rows = slice(done, stop)
            if not post.proper or not self._safe_rows(post, norms[:, rows]):
                stop = min(stop, done + _ROWS_BEFORE_RECHECK)
                rows = slice(done, stop)
                out[..., rows] = self._predict_learn_rows(x[..., rows, :], y[..., rows])
                done = stop
                continue
            mean, cov = self._own_arrays(post)
            if self._sampling is not None:  # the kernels change the covariance in place
                self._sampling.clear()
            self._fold()
            # The kernels add the rows into the statistics in their own pass over the rows.
            totals = self._flat_stats()
            run(mean, cov, flat_x, flat_y, self._beta, flat_out, totals, rows)
            if totals is None:
                self._accumulate(x[..., rows, :], y[..., rows])
            del mean, cov, totals  # views of the posterior, which a refresh next may replace
            self._n_updates += stop - done
            done = stop
        return out

    def _safe_rows(self, post: gaussian.GaussianPosterior, norms: np.ndarray) -> bool:
        """Whether no row, of squared norms ``norms`` ``(R, m)``, can shrink a variance by more
        than ``_MAX_SHRINK``."""
        p = post.mean.shape[-1]
        cov = post.covariance.reshape(-1, p, p)
        limit = _MAX_SHRINK / (self._beta * norms.max(axis=-1))
        # lambda_max of a covariance is at most its trace (read from the diagonal alone) and
        # its largest absolute row sum (a pass over the matrices). Updates only shrink the
        # covariance, so a row-sum bound stays valid while the same posterior is updated.
        trace = np.einsum("rii->r", cov)
        if (trace <= limit).all():
            return True
        if self._bound_of is not post:
            self._row_bound = np.concatenate(
                [
                    np.abs(part).sum(axis=-1).max(axis=-1)
                    for part in np.array_split(cov, -(-len(cov) // 64))
                ]
            )
            self._bound_of = post
        return bool((np.minimum(trace, self._row_bound) <= limit).all())

    def _own_arrays(self, post: gaussian.GaussianPosterior) -> tuple[np.ndarray, np.ndarray]:
        """The cached posterior's mean and covariance as C-ordered ``(R, p)`` and ``(R, p, p)``
        arrays that the kernels update in place (copied into the cache first if needed)."""
        if not (post.mean.flags.c_contiguous and post.covariance.flags.c_contiguous):
            post = gaussian.GaussianPosterior(
                np.ascontiguousarray(post.mean), np.ascontiguousarray(post.covariance), True
            )
            self._post = post
        p = post.mean.shape[-1]
        return post.mean.reshape(-1, p), post.covariance.reshape(-1, p, p)

    # -- the statistics -----------------------------------------------------------------------
    def _flat_stats(self) -> tuple[np.ndarray, ...] | None:
        """The statistics as ``(R, p, p)``, ``(R, p)``, ``(R,)``, ``(R,)`` views that the
        kernels add rows into, or ``None`` where they are not C-ordered arrays."""
        if not all(a.flags.c_contiguous for a in self._stats):
            return None
        xtx, xty, yty, n = self._stats
        p = xty.shape[-1]
        return xtx.reshape(-1, p, p), xty.reshape(-1, p), yty.reshape(-1), n.reshape(-1)

    def _accumulate(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add rows to the statistics in place; with forgetting, older rows weigh less.

        The statistics become ``gamma^m * old`` plus row ``i`` weighted ``gamma^(m - 1 - i)``.
        """
        m = y.shape[-1]
        if self._gamma == 1.0 and len(self._batch) == 1:
            # A chunk of replicates at a time: the same sums, without a block (R, p, p) array
            # beside the statistics (39 MB at R = 10,000, p = 22).
            size = max(1, _STATS_CHUNK_BYTES // (8 * x.shape[-1] ** 2))
            for start in range(0, self._batch[0], size):
                chunk = slice(start, start + size)
                block = stats.from_rows(x[chunk], y[chunk])
                for total, piece in zip(self._stats, block, strict=True):
                    total[chunk] += piece
            return
        if self._gamma == 1.0:
            block = stats.from_rows(x, y)
        else:
            weight = np.sqrt(self._gamma ** np.arange(m - 1, -1, -1.0))
            block = stats.from_rows(x * weight[:, None], y * weight)
            block = block._replace(n=np.full_like(self._stats.n, weight @ weight))
            for total in self._stats:
                total *= self._gamma**m
        for total, part in zip(self._stats, block, strict=True):
            total += part

    def _fold(self) -> None:
        """Move buffered rows into the statistics."""
        m = self._n_buf
        if m == 0:
            return
        rows = np.moveaxis(self._buf_x[:m], 0, -2), np.moveaxis(self._buf_y[:m], 0, -1)
        self._accumulate(*rows)
        if self._n_applied < m:
            self._post = None
        self._n_buf = self._n_applied = 0

    # -- the posterior ------------------------------------------------------------------------
    def _update(self, post: gaussian.GaussianPosterior, x: np.ndarray, y: np.ndarray) -> float:
        """Apply one row to the cached posterior; return the largest variance shrink factor."""
        if self._sampling is not None and self._sampling.holds(post) and not self._n_factors:
            # Sampling replicates: the kept Cholesky factor is updated, the covariance waits
            # (built from the factor when it is read, by _sync).
            shrink, resid = self._sampling.learn(post, x, y, self._beta)
        else:
            shrink, resid = gaussian.rank_one_update(
                post, x, y, self._beta, self._factors, self._n_factors
            )
            if self._factors is not None:
                self._n_factors += 1
                if self._n_factors == _DEFERRED_COLUMNS:
                    self._absorb(post)
            if self._sampling is not None:  # a factor kept here follows (or is dropped)
                self._sampling.update(post, x, self._beta)
        self._observe_residual(shrink, resid)
        return shrink if isinstance(shrink, float) else float(shrink.max())

    def _observe_residual(self, shrink: np.ndarray, resid: np.ndarray) -> None:
        """Hook for models that learn from the one-step-ahead residuals (noise estimates)."""

    def _absorb(self, post: gaussian.GaussianPosterior) -> None:
        if self._factors is not None:
            gaussian.absorb(post.covariance, self._factors, self._n_factors)
        self._n_factors = 0

    def _pending_factors(self) -> np.ndarray | None:
        return None if self._factors is None else self._factors[..., : self._n_factors, :]

    def _refresh(self) -> gaussian.GaussianPosterior:
        self._fold()
        # The old posterior goes first: two (R, p, p) covariances would be alive at once.
        self._post = self._bound_of = None
        self._post = self._solve()
        self._n_updates = 0
        self._n_factors = 0
        return self._post

    def _sync(self, full: bool = False) -> gaussian.GaussianPosterior:
        """The posterior of everything learned; ``full`` also absorbs deferred corrections."""
        post = self._apply_pending()
        if self._sampling is not None:
            self._sampling.complete(post)
        if full and self._n_factors:
            self._absorb(post)
        return post

    def _draw_weights(self, rng: np.random.Generator, size: int | None) -> np.ndarray:
        """Weights drawn from the posterior: ``mean + L z`` with the kept Cholesky factor
        (updated by rank one per step) or a fresh one."""
        if self._sampling is None:
            return gaussian.sample(self._sync(full=True), rng, size)
        shape = self._stats.xty.shape if size is None else (size, *self._stats.xty.shape)
        # Drawn before the pending rows are learned (which draws nothing), so the last
        # update's pass over the factor also gathers L z.
        z = standard_normal(rng, shape)
        self._sampling.expect(z if size is None and len(shape) == 2 else None)
        post = self._sync_draws()
        if not self._sampling.holds(post):
            post = self._sync(full=True)
        return self._sampling.drawn(post, z)

    def _sync_draws(self) -> gaussian.GaussianPosterior:
        """:meth:`_sync` for a draw through the kept factor: the covariance may wait."""
        return self._apply_pending()

    def _apply_pending(self) -> gaussian.GaussianPosterior:
        post = self._post
        if self._n_applied == self._n_buf and post is not None:
            return post
        if (
            post is None
            or not post.proper
            or self._gamma < 1.0
            or self._n_updates >= self.refresh_every
        ):
            return self._refresh()
        for i in range(self._n_applied, self._n_buf):
            if self._update(post, self._buf_x[i], self._buf_y[i]) > _MAX_SHRINK:
                return self._refresh()
        self._n_updates += self._n_buf - self._n_applied
        self._n_applied = self._n_buf
        return post
