"""Is a Gaussian posterior proper? One rank-revealing rule for every precision with flat columns.

A posterior precision ``P = diag(1 / v) + beta X'X`` (Bishop 2006, eq. 3.51) is positive
definite whenever every prior variance ``v`` is finite: only columns with a flat prior
(``v = inf``, no prior precision) can make it singular. Write ``F`` for those columns and ``N``
for the rest. The null space of ``P`` is ``{(a, 0) : X_F a = 0}``: it lies in the flat
coordinates, and it is the null space of the Schur complement
``S = P_FF - P_FN P_NN^{-1} P_NF = beta X_F' (I + beta X_N V_N X_N')^{-1} X_F``.
So the rule tests ``S`` only:

1. Equilibrate by the diagonal, ``E = D^{-1/2} P D^{-1/2}`` (unit diagonal), so that column
   scales (data from 1e-6 to 1e6, prior variances from 1e-30 to 1e10) do not enter the verdict.
2. Factor ``E_NN = L L'`` by Cholesky (positive definite: every ``N`` column has a prior) and
   form ``S_E = E_FF - W'W`` with ``W = L^{-1} E_NF``.
3. The posterior is proper when every eigenvalue of ``S_E`` exceeds ``rank_tol``. A Cholesky
   factorisation of ``S_E`` shifted down by ``rank_tol`` plus Cholesky's own error bound settles
   the common, clearly definite case (:func:`certainly_definite`); otherwise the eigenvalues
   decide (rank-revealing, unlike an unpivoted Cholesky of ``P``, which often "succeeds" on
   rounding noise).

``rank_tol`` is in units where every column's precision is 1. ``X'X`` squares the condition
number of ``X``, so the default ``1e-12`` counts data whose column-equilibrated design has
``cond(X)`` above about ``1e6`` as rank-deficient. Measured (``benchmarks/rank.py``, 3,000
cases each, ``p <= 30, n <= 90``): the eigenvalues that rounding leaves in an exactly
rank-deficient ``S_E`` stay below ``3.3e-15``, and designs with ``cond(X)`` up to ``1e5`` keep
their smallest eigenvalue above ``2.9e-10``: both about 300x away from the default.

Where the posterior is improper, the mean is the minimum-norm (Euclidean, original coordinates)
maximiser of the posterior density and the covariance is the Moore-Penrose pseudo-inverse of
``P``, as scikit-learn's ``LinearRegression`` and ``numpy.linalg.pinv`` give. Both come from the
block factorisation of the equilibrated system with one generalised inverse of ``S_E`` (see
:func:`_schur_ginv`): the one whose image in original coordinates is ``S^+``. With it the block
solve is the minimum-norm mean and the block inverse is ``P^+``, with no projection afterwards
(because the null space lies in the flat block, ``S^+`` in that block makes the whole ``P^+``).
The Euclidean choice depends on the column scales: with columns 1e12 apart it is fixed by
weights 1e12 apart and is ill-posed in double precision (see ``tests/test_rank.py``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.linalg

from regretlab._validation import check_real
from regretlab.learners._cholesky import backward, cho_solve, forward

__all__ = [
    "DEFAULT_RANK_TOL",
    "FlatSolve",
    "certainly_definite",
    "check_rank_tol",
    "equilibration",
    "solve_flat",
]

#: Eigenvalues of the equilibrated flat-block Schur complement at or below this are zero.
DEFAULT_RANK_TOL = 1e-12


class FlatSolve(NamedTuple):
    """``mean`` ``(..., p)``, ``covariance`` ``(..., p, p)`` (empty if not asked), ``proper``
    ``(...)`` booleans, one per batch item."""

    mean: np.ndarray
    covariance: np.ndarray
    proper: np.ndarray


def equilibration(precision: np.ndarray) -> np.ndarray:
    """``D^{-1/2}`` of the scaling ``E = D^{-1/2} P D^{-1/2}`` to unit diagonal, ``(..., p)``.

    A flat column no row has touched has a zero diagonal: it is all null space, scale 1.

    >>> equilibration(np.array([[4.0, 0.0], [0.0, 0.0]]))
    array([0.5, 1. ])
    """
    diag = np.einsum("...ii->...i", precision)
    return 1.0 / np.sqrt(np.where(diag > 0.0, diag, 1.0))


def check_rank_tol(rank_tol: object) -> float:
    """``rank_tol`` as a float in ``(0, 1]``, or a ``ValueError``/``TypeError`` naming it."""
    return check_real("rank_tol", rank_tol, minimum=0.0, exclusive_minimum=True, maximum=1.0)


def solve_flat(
    precision: np.ndarray,
    rhs: np.ndarray,
    flat: np.ndarray,
    *,
    rank_tol: float = DEFAULT_RANK_TOL,
    with_covariance: bool = True,
) -> FlatSolve:
    """Solve ``P m = rhs`` for symmetric positive semi-definite ``P`` with flat columns.

    ``precision`` ``(..., p, p)``, ``rhs`` ``(..., p)`` (in the range of ``P``, as ``beta X'y``
    is) and ``flat`` ``(..., p)`` booleans marking the columns without a prior precision: every
    other column's diagonal must hold a positive prior precision. Batch items may flag
    different columns. Returns the mean, the covariance (``P^{-1}``, or ``P^+`` where improper)
    and the verdict per item.

    >>> p = np.array([[1.0, 1.0], [1.0, 1.0]])  # two identical flat columns, one observation
    >>> out = solve_flat(p, np.array([2.0, 2.0]), np.array([True, True]))
    >>> out.mean, bool(out.proper)
    (array([1., 1.]), False)
    >>> solve_flat(p + np.eye(2), np.array([2.0, 2.0]), np.array([True, False])).proper
    array(True)
    """
    precision = np.asarray(precision, dtype=float)
    batch = precision.shape[:-2]
    p = precision.shape[-1]
    rhs = np.broadcast_to(np.asarray(rhs, dtype=float), (*batch, p))
    flat = np.broadcast_to(np.asarray(flat, dtype=bool), (*batch, p))
    mean = np.empty((*batch, p))
    cov = np.empty((*batch, p, p)) if with_covariance else np.empty(0)
    proper = np.empty(batch, dtype=bool)
    flat_p, flat_r = precision.reshape(-1, p, p), rhs.reshape(-1, p)
    # A flat column no row has touched (zero diagonal) is pure null space: weight 0, variance
    # 0 in the pseudo-inverse. It is set aside so the rest solves as a smaller problem.
    empty = flat.reshape(-1, p) & (np.einsum("...ii->...i", flat_p) == 0.0)
    keys = np.concatenate([flat.reshape(-1, p), empty], axis=1)
    if (keys == keys[:1]).all():  # the usual case: one prior and one pattern for every item
        masks, which = keys[:1], np.zeros(len(keys), dtype=np.intp)
    else:
        masks, which = np.unique(keys, axis=0, return_inverse=True)
    flat_m, flat_ok = mean.reshape(-1, p), proper.reshape(-1)
    flat_c = cov.reshape(-1, p, p) if with_covariance else None
    for g, key in enumerate(masks):
        items = np.flatnonzero(which.reshape(-1) == g)
        live = ~key[p:]
        sub = np.flatnonzero(live)
        m, c, ok = _solve_group(
            flat_p[items][:, sub[:, None], sub],
            flat_r[items][:, sub],
            key[:p][sub],
            rank_tol,
            with_covariance=with_covariance,
        )
        flat_m[items] = 0.0
        flat_m[items[:, None], sub] = m
        flat_ok[items] = ok & live.all()
        if flat_c is not None:
            flat_c[items] = 0.0
            flat_c[items[:, None, None], sub[:, None], sub] = c
    return FlatSolve(mean, cov, proper)


def _solve_group(
    precision: np.ndarray,
    rhs: np.ndarray,
    flat: np.ndarray,
    rank_tol: float,
    *,
    with_covariance: bool,
) -> tuple[np.ndarray, np.ndarray | None, Any]:
    """:func:`solve_flat` for a stack ``(B, p, p)`` sharing one flat mask ``(p,)``.

    Columns are ordered finite-prior first (``k`` of them), then flat (``f``). The verdict
    needs only the eigenvalues of ``S_E``; proper items are then solved by Cholesky of ``S_E``
    (its smallest eigenvalue is 1e-12 or more, far above Cholesky's breakdown), and only
    improper ones pay for eigenvectors.
    """
    b, p = rhs.shape
    scale = equilibration(precision)
    order = np.concatenate([np.flatnonzero(~flat), np.flatnonzero(flat)])
    k, f = int((~flat).sum()), int(flat.sum())
    permuted = not np.array_equal(order, np.arange(p))
    s = scale[:, order] if permuted else scale
    e = precision[:, order[:, None], order] if permuted else precision
    e = e * s[:, :, None]
    e *= s[:, None, :]
    r = (rhs[:, order] if permuted else rhs) * s
    # Block factorisation E = [[L, 0], [W', I]] [[I, 0], [0, S_E]] [[L', W], [0, I]].
    lower = np.linalg.cholesky(e[:, :k, :k])
    w = forward(lower, e[:, :k, k:])
    z_n = forward(lower, r[:, :k, None])[..., 0]
    schur = e[:, k:, k:] - np.swapaxes(w, -1, -2) @ w if k else e
    # eigvalsh, eigh and cholesky read the lower triangle only: no symmetrising copy needed.
    proper: np.ndarray = (
        np.ones(b, dtype=bool)
        if certainly_definite(schur, rank_tol)
        else np.asarray((np.linalg.eigvalsh(schur) > rank_tol).all(axis=-1))
    )
    c = r[:, k:] - np.einsum("...ji,...j->...i", w, z_n)
    a = np.empty((b, f))
    ginv = np.empty((b, f, f)) if with_covariance else None
    good, bad = np.flatnonzero(proper), np.flatnonzero(~proper)
    if good.size:
        chol = np.linalg.cholesky(schur if good.size == b else schur[good])
        a[good] = cho_solve(chol, c[good, :, None])[..., 0]
        if ginv is not None:
            ginv[good] = cho_solve(chol, np.broadcast_to(np.eye(f), chol.shape))
    if bad.size:
        values, vectors = np.linalg.eigh(schur[bad])
        pseudo = _schur_ginv(values, vectors, values > rank_tol, s[bad, k:])
        a[bad] = np.einsum("...ij,...j->...i", pseudo, c[bad])
        if ginv is not None:
            ginv[bad] = pseudo
    bn = backward(lower, (z_n - np.einsum("...ij,...j->...i", w, a))[..., None])[..., 0]
    u = np.concatenate([bn, a], axis=-1) * s
    mean = np.empty_like(u)
    mean[:, order] = u
    if ginv is None:
        return mean, None, proper
    # E^- = [[E_NN^-1 + B G B', -B G], [-G B', G]] with B = L^-T W and G the g-inverse of S_E.
    bmat = backward(lower, w)
    bg = bmat @ ginv
    g = np.empty((b, p, p))
    g[:, :k, :k] = cho_solve(lower, np.broadcast_to(np.eye(k), lower.shape))
    g[:, :k, :k] += bg @ np.swapaxes(bmat, -1, -2)
    g[:, :k, k:] = -bg
    g[:, k:, :k] = -np.swapaxes(bg, -1, -2)
    g[:, k:, k:] = ginv
    g *= s[:, :, None] * s[:, None, :]
    cov = np.empty_like(g)
    cov[:, order[:, None], order] = g
    return mean, 0.5 * (cov + np.swapaxes(cov, -1, -2)), proper


def certainly_definite(schur: np.ndarray, rank_tol: float) -> bool:
    """Whether every matrix ``(B, f, f)`` of unit-scale diagonal has all eigenvalues above
    ``rank_tol``, by Cholesky.

    The cheap test that settles the common case: Cholesky in floating point succeeds only on a
    matrix within ``(f + 1)^2 eps max_i a_ii`` (2-norm) of a positive definite one (Demmel
    1989; Higham 2002, thm. 10.7), so success on ``S_E - tau I`` with ``tau`` above
    ``rank_tol`` by that margin proves ``lambda_min(S_E) > rank_tol``. numpy's batched
    Cholesky fails for the whole stack if one item fails; then the eigenvalues decide.
    """
    f = schur.shape[-1]
    if f == 0:
        return True
    top = np.einsum("...ii->...i", schur).max(axis=-1)
    tau = rank_tol + (f + 1) ** 2 * np.finfo(float).eps * np.maximum(top, 0.0)
    shifted = schur.copy()
    shifted[:, np.arange(f), np.arange(f)] -= tau[:, None]
    try:
        np.linalg.cholesky(shifted)
    except np.linalg.LinAlgError:
        return False
    return True


def _schur_ginv(
    values: np.ndarray, vectors: np.ndarray, live: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """A generalised inverse ``G`` of singular equilibrated Schur complements ``S_E`` ``(B, f, f)``.

    ``values``, ``vectors`` are its eigendecomposition, ``live`` the eigenvalues above the
    tolerance, ``scale`` the equilibration ``D^{-1/2}``. ``G`` is the equilibrated image of the
    Moore-Penrose inverse in original coordinates, ``G = D^{1/2} S^+ D^{1/2}`` with
    ``S = D^{1/2} S_E D^{1/2}``, so that the block solve and the block inverse give the
    minimum-norm mean and ``P^+`` directly. Subtracting the null-space component afterwards
    would cancel: columns scaled 1e-6 .. 1e6 make the equilibrated solution's null component
    1e12 times the answer. Instead ``S = B'B`` with ``B' = D^{1/2} Q_r Lambda_r^{1/2}`` (the
    range of ``S_E``), and ``B' = Y R`` by Householder QR with the rows sorted by decreasing
    scale (row-wise stable for row-scaled matrices: Cox and Higham 1998); then
    ``S^+ = H H'`` with ``H = Y R^{-T}``.
    """
    ginv = np.empty_like(vectors)
    n_dead = (~live).sum(axis=-1)
    for count in np.unique(n_dead):
        items = np.flatnonzero(n_dead == count)
        if count == vectors.shape[-1]:  # no data on the flat block at all
            ginv[items] = 0.0
            continue
        # eigh sorts eigenvalues ascending, so each item's range comes last.
        up = 1.0 / scale[items]  # D^{1/2}
        root = vectors[items, :, count:] * np.sqrt(values[items, None, count:]) * up[:, :, None]
        order = np.argsort(-up, axis=-1, kind="stable")
        sorted_root = np.take_along_axis(root, order[:, :, None], axis=1)
        h_sorted = np.empty_like(sorted_root)
        for i, mat in enumerate(sorted_root):
            y_i, r_i, _ = scipy.linalg.qr(mat, mode="economic", pivoting=True)
            h_sorted[i] = scipy.linalg.solve_triangular(r_i, y_i.T, lower=False).T  # Y R^{-T}
        h = np.empty_like(h_sorted)
        np.put_along_axis(h, order[:, :, None], h_sorted, axis=1)
        k_mat = h * up[:, :, None]  # D^{1/2} H
        ginv[items] = k_mat @ np.swapaxes(k_mat, -1, -2)
    return ginv
