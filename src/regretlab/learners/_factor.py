"""A Cholesky factor of a posterior covariance kept through rank-one updates, for sampling.

Thompson sampling on a shared model draws ``w = m + L z`` with ``L L' = S`` at every step, and
``S`` changes at every step: a fresh factorisation costs O(p^3) per replicate per step. A
Sherman-Morrison step ``S' = S - c (S x)(S x)'`` with ``c = beta / (1 + beta x'S x)`` changes the
Cholesky factor by a rank-one downdate instead, O(p^2):

with ``v = L'x``, ``S' = L (I - c v v') L'``, and the Cholesky factor of ``I - c v v'`` is lower
triangular with diagonal ``a_k = sqrt((1 + beta t_{k+1}) / (1 + beta t_k))`` and entries
``-v_i b_k`` below it (``i > k``), ``b_k = beta v_k / sqrt((1 + beta t_{k+1})(1 + beta t_k))``,
where ``t_k = sum_{j >= k} v_j^2`` (``t_p = 0``). So column ``k`` of the new factor is
``a_k L[:, k] - b_k sum_{i > k} v_i L[:, i]``: the exact Cholesky factor of ``S'`` in exact
arithmetic, lower triangular (its zeros stay exact zeros), built from sums of positive terms only
(no cancellation: the downdate loses no digits however much it shrinks ``S``).

The factor is stored transposed with the replicate axis last, ``U[k, j, r] = L_r[j, k]``, so
the loop over the ``p`` columns moves contiguous ``(p - k, R)`` slabs, each step vectorised over
the replicates: measured 3-4x faster than the replicate-first layout at ``R = 1000, p = 36``.
The loop and its compiled twin (numba, where installed and ``REGRETLAB_NUMBA`` is not 0: the
same operations in the same order, so the same results to the last bit) are in
``_factor_kernel``; compiled, one call also updates the mean and gathers the next draw.
"""

from __future__ import annotations

import numpy as np

from regretlab.learners import gaussian
from regretlab.learners._factor_kernel import learn_step, pattern_mask, pattern_of

__all__ = ["SamplingFactor", "downdate"]

# A fresh factor is that of the covariance scaled to unit diagonal plus 1e-12 (see
# gaussian.sampling_factor), so where the exact factor is zero it holds entries of that order;
# this many times the scale of their row still counts as zero when a pattern is carried over.
_CARRY_TOLERANCE = 1e-9


def downdate(upper: np.ndarray, x: np.ndarray, beta: float | np.ndarray) -> None:
    """Replace the factor ``upper`` of ``S`` by that of ``S - c (Sx)(Sx)'`` in place.

    ``upper`` ``(p, p, N)`` holds ``L'`` per item (replicate axis last), ``x`` ``(p, N)``,
    ``beta`` a scalar or ``(N,)`` (the precision of the observation, as in
    :func:`regretlab.learners.gaussian.rank_one_update`), ``c = beta / (1 + beta x'Sx)``.

    >>> s = np.array([[2.0, 0.5], [0.5, 1.0]]); x = np.array([1.0, -1.0])
    >>> upper = np.linalg.cholesky(s).T[..., None].copy()
    >>> downdate(upper, x[:, None], 1.0)
    >>> sx = s @ x; new = s - np.outer(sx, sx) / (1.0 + x @ sx)
    >>> bool(np.allclose(upper[..., 0], np.linalg.cholesky(new).T))
    True
    """
    learn_step(upper, np.asarray(x).T, beta, with_sx=False)


def _carry(upper: np.ndarray, pattern: np.ndarray) -> bool:
    """Keep the pattern of the factor this one replaces, if it fits: where the new factor
    ``upper`` ``(p, p, N)`` lies outside ``pattern``, all its entries are within
    ``_CARRY_TOLERANCE`` of their row's scale (``sqrt(S_ii)``, the norm of column ``i`` of
    ``upper``); they are then set to zero and ``True`` returned, else ``upper`` is left as it is.

    A refresh recomputes the same posterior from its statistics: the exact factor keeps the
    zeros the rank-one steps kept (between two actions' columns of ``ActionFeatures`` rows),
    but the fresh one holds entries of the order of its 1e-12 diagonal shift there, and the
    compiled step would visit the whole triangle from then on. Dropping them changes the
    factor by less than that shift does; a pattern that does not fit (a prior loosened on a
    group that was off, a model fed other rows) leaves large entries outside it and is not
    carried."""
    outside = ~pattern_mask(pattern, upper.shape[0])[..., None]
    scale = np.sqrt(np.einsum("kin,kin->in", upper, upper))
    if not (np.abs(upper) <= _CARRY_TOLERANCE * scale[None]).all(where=outside):
        return False
    np.copyto(upper, 0.0, where=outside)
    return True


class SamplingFactor:
    """The lower Cholesky factor of a posterior's covariance, kept for one posterior object.

    :meth:`get` returns the factor ``(..., p, p)`` of ``post`` (computed afresh by
    :func:`regretlab.learners.gaussian.sampling_factor` when it belongs to another posterior),
    :meth:`update` follows a rank-one update of that same posterior (O(p^2) instead of a new
    O(p^3) factorisation at the next draw), :meth:`draw` gives ``mean + L z``. A model that
    changes its posterior in place in any other way calls :meth:`clear`.
    """

    def __init__(self) -> None:
        self._post: gaussian.GaussianPosterior | None = None
        self._upper: np.ndarray | None = None
        # The factor's entries that may be nonzero (``_factor_kernel``'s pattern: the compiled
        # step visits only those); None without numba.
        self._pattern: np.ndarray | None = None
        self._stale = False  # whether the posterior's covariance lags behind the factor
        self._next: np.ndarray | None = None
        self._drawn: tuple[np.ndarray, np.ndarray] | None = None

    def clear(self) -> None:
        self._post = self._upper = self._pattern = None
        self._stale = False
        self._drawn = None

    def holds(self, post: gaussian.GaussianPosterior) -> bool:
        """Whether the factor kept is ``post``'s (else :meth:`draw` factorises afresh)."""
        return self._upper is not None and self._post is post

    def _current(self, post: gaussian.GaussianPosterior) -> np.ndarray:
        if self._post is not post or self._upper is None:
            self._drawn = None
            self._stale = False  # a new posterior's covariance is its own
            factor = gaussian.sampling_factor(post.covariance)
            p = factor.shape[-1]
            lower = factor.reshape(-1, p, p)
            self._upper = np.ascontiguousarray(lower.transpose(2, 1, 0))
            kept = self._pattern
            if kept is None or len(kept) != p or not _carry(self._upper, kept):
                self._pattern = pattern_of(self._upper)
            self._post = post
        return self._upper

    def get(self, post: gaussian.GaussianPosterior) -> np.ndarray:
        """The lower factor ``L`` of ``post``'s covariance, ``(..., p, p)`` (a copy)."""
        upper = self._current(post)
        return upper.transpose(2, 1, 0).reshape(post.covariance.shape).copy()

    def draw(self, post: gaussian.GaussianPosterior, z: np.ndarray) -> np.ndarray:
        """``mean + L z`` for standard normals ``z`` ``(..., p)`` or ``(size, ..., p)``.

        ``post.covariance`` must be complete (no deferred corrections) if the factor is made
        afresh here.
        """
        upper = self._current(post)
        mean = post.mean
        p = mean.shape[-1]
        # (L z)_i = sum_j U[j, i] z_j per item, with the items last and contiguous (several
        # times faster than the mixed layouts).
        items = np.ascontiguousarray(np.swapaxes(z.reshape(-1, upper.shape[-1], p), -1, -2))
        lz = np.einsum("jin,mjn->min", upper, items)
        return mean + np.swapaxes(lz, -1, -2).reshape(z.shape)

    def learn(
        self, post: gaussian.GaussianPosterior, x: np.ndarray, y: np.ndarray, beta: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sherman-Morrison update of ``post`` by rows ``x`` ``(N, p)`` and ``y`` ``(N,)``
        through the factor alone (it must hold ``post``): the mean in place, the factor by
        :func:`downdate`; the covariance is left behind until :meth:`complete`.

        Returns ``q = beta x'S x`` and the residual ``y - x'm``, as
        :func:`regretlab.learners.gaussian.rank_one_update` does; ``S x = L (L'x)`` and the
        next draw ``m + L z`` (see :meth:`expect`) come out of the downdate's one pass.
        """
        upper = self._current(post)
        mean = post.mean
        resid = y - np.einsum("np,np->n", x, mean)
        # S x = L L'x comes out of the downdate's pass, and so does the next draw m + L z; the
        # mean is updated in place (m += (beta r / (1 + q)) S x).
        z = self._next
        _, q, drawn = learn_step(
            upper, x, beta, z, resid, mean, with_sx=False, pattern=self._pattern
        )
        self._drawn = None if z is None or drawn is None else (z, drawn)
        self._stale = True
        return q, resid

    def expect(self, z: np.ndarray | None) -> None:
        """Standard normals ``(N, p)`` of the next draw, gathered during :meth:`learn` (the
        learning applied before a draw then costs no separate pass); ``None`` to stop."""
        self._next = z
        self._drawn = None

    def drawn(self, post: gaussian.GaussianPosterior, z: np.ndarray) -> np.ndarray:
        """``mean + L z`` for the ``z`` of :meth:`expect`: as gathered by the last
        :meth:`learn` if it was ``post``'s last update, else by :meth:`draw`."""
        done, self._drawn, self._next = self._drawn, None, None
        if done is not None and done[0] is z and self.holds(post):
            return done[1].reshape(z.shape)  # m + L z, the mean added by learn_step
        return self.draw(post, z)

    def complete(self, post: gaussian.GaussianPosterior) -> None:
        """Bring ``post``'s covariance up to the factor (``L L'``) if :meth:`learn` left it."""
        if self._stale and self._post is post and self._upper is not None:
            lower = np.ascontiguousarray(self._upper.transpose(2, 1, 0))
            full = lower @ lower.swapaxes(-1, -2)
            post.covariance[...] = full.reshape(post.covariance.shape)
            self._stale = False

    def update(
        self, post: gaussian.GaussianPosterior, x: np.ndarray, beta: float | np.ndarray
    ) -> None:
        """Follow ``post``'s Sherman-Morrison update by ``x`` ``(..., p)`` with precision
        ``beta`` (scalar or per item); a factor of another posterior is dropped."""
        self._drawn = None
        if self._upper is None:
            return
        if self._post is not post:
            self.clear()
            return
        p = x.shape[-1]
        weight = np.asarray(beta, dtype=float)
        rows, weight = x.reshape(-1, p), weight.reshape(-1) if weight.ndim else weight
        learn_step(self._upper, rows, weight, with_sx=False, pattern=self._pattern)
