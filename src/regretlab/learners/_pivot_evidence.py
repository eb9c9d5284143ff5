"""Evidence of many candidate priors over shared statistics, one eigendecomposition per item.

:func:`regretlab.learners.gaussian.evidence_terms` factorises every candidate's ``p x p``
precision ``A = diag(1 / v) + beta X'X``: O(p^3) per candidate. When the candidates give one
*pivot* block of columns (the interaction group, say: 45 of the 56 columns at x_dim 10) a single
variance each, that block is diagonalised once per batch item, ``beta X'X_PP = Q diag(l) Q'``,
and every candidate follows from it by block elimination of the pivot (the Schur complement of
its block):

- ``log|A| = sum_i log(l_i + 1 / v) + log|S|``, with the Schur complement of the rest
  ``S = A_RR - C' diag(d) C``, ``C = Q' beta X'X_PR`` and ``d = 1 / (l + 1 / v)``;
- ``r'A^{-1} r = sum_i d_i u_i^2 + t' S^{-1} t``, with ``r = beta X'y``, ``u = Q' r_P`` and
  ``t = r_R - C' (d u)``.

Per candidate this costs O(k^2 f) for the ``k`` other columns and ``f`` pivot columns instead
of O(p^3). A pivot switched off (``v = 0``) leaves the rest alone, as in ``evidence_terms``.
``A`` is positive definite exactly when ``S`` is (the pivot block is, for a finite ``v``), so
definiteness is tested on the equilibrated ``S`` alone.
Where the shortcut does not apply (a flat or uneven pivot, an other column switched off, a
Schur complement not certainly definite, as when flat columns are not yet determined) the
function returns ``None`` and the caller uses ``evidence_terms``; the results agree to
rounding (``tests/test_pivot_evidence.py``).
"""

from __future__ import annotations

import numpy as np

from regretlab.learners._cholesky import cho_solve
from regretlab.learners.rank import certainly_definite, equilibration
from regretlab.learners.stats import SufficientStats

__all__ = ["pivot_evidence_terms"]


def pivot_evidence_terms(
    stats: SufficientStats,
    prior_variance: np.ndarray,
    noise_precision: float,
    pivot: np.ndarray,
    *,
    rank_tol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``evidence_terms`` for candidate priors ``(G, ..., p)`` over statistics ``(...)``.

    ``pivot`` holds the indices of the pivot columns. Returns ``log|A|``, ``sum log v`` over
    the active columns and ``y'y - m'X'y``, each ``(G, ...)``, or ``None`` where the shortcut
    does not apply (see the module notes).
    """
    prior_variance = np.asarray(prior_variance, dtype=float)
    p = prior_variance.shape[-1]
    rest = np.setdiff1d(np.arange(p), pivot)
    pivot_v = prior_variance[..., pivot]
    v = pivot_v[..., 0]
    rest_v = prior_variance[..., rest]
    if (
        prior_variance.ndim != stats.xty.ndim + 1
        or not (pivot_v == v[..., None]).all()
        or not np.isfinite(v).all()
        or (rest_v == 0.0).any()
    ):
        return None
    beta = float(noise_precision)
    xtx, xty = beta * stats.xtx, beta * stats.xty
    values, vectors = np.linalg.eigh(xtx[..., pivot[:, None], pivot])
    values = np.maximum(values, 0.0)  # X'X is semi-definite; rounding may leave -1e-16
    coupling = np.swapaxes(vectors, -1, -2) @ xtx[..., pivot[:, None], rest]  # C (..., f, k)
    u = np.einsum("...fi,...f->...i", vectors, xty[..., pivot])
    on = v > 0.0
    with np.errstate(divide="ignore"):
        alpha = np.where(on, 1.0 / np.where(on, v, 1.0), 0.0)
    shifted = np.where(on[..., None], values + alpha[..., None], 1.0)  # l + 1 / v
    d = np.where(on[..., None], 1.0 / shifted, 0.0)  # (G, ..., f)
    log_det = np.log(shifted).sum(axis=-1)
    weighted = np.swapaxes(coupling, -1, -2) * d[..., None, :]  # C' diag(d), (G, ..., k, f)
    schur = xtx[..., rest[:, None], rest] - weighted @ coupling
    flat = np.isinf(rest_v)
    k = rest.size
    schur[..., np.arange(k), np.arange(k)] += np.where(flat, 0.0, 1.0 / np.where(flat, 1.0, rest_v))
    t = xty[..., rest] - np.einsum("...if,...f->...i", weighted, u)
    scale = equilibration(schur)
    equilibrated = schur * scale[..., :, None] * scale[..., None, :]
    if not certainly_definite(equilibrated.reshape(-1, k, k), rank_tol):
        return None
    factor = np.linalg.cholesky(equilibrated)
    log_det = (
        log_det
        + 2.0 * np.log(np.einsum("...ii->...i", factor)).sum(axis=-1)
        - 2.0 * np.log(scale).sum(axis=-1)
    )
    solved = scale * cho_solve(factor, (scale * t)[..., None])[..., 0]
    quad = (d * u**2).sum(axis=-1) + np.einsum("...i,...i->...", t, solved)
    active = ~np.isinf(prior_variance) & (prior_variance != 0.0)
    log_prior = np.where(active, np.log(np.where(active, prior_variance, 1.0)), 0.0).sum(-1)
    fit = np.broadcast_to(stats.yty, v.shape) - quad / beta
    return log_det, log_prior, np.maximum(fit, 0.0)
