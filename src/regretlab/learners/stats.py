"""Sufficient statistics of linear-Gaussian regression, with leading batch axes.

Every fit in regretlab (Bayesian, OLS, ridge) is a function of ``X'X``, ``X'y``, ``y'y`` and ``n``.
Keeping them, rather than a fitted posterior alone, is what makes a prior change exact: the
posterior under any prior is recomputed from the same four numbers.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from regretlab._validation import check_allocation

__all__ = ["SufficientStats", "combine", "empty", "from_rows", "prefix"]


class SufficientStats(NamedTuple):
    """``xtx`` ``(..., p, p)``, ``xty`` ``(..., p)``, ``yty`` ``(...)``, ``n`` ``(...)``.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> x, y = np.array([[1.0, 2.0], [1.0, -1.0]]), np.array([3.0, 0.0])
    >>> stats = BayesianLinearRegression(groups=("main", "main")).learn_many(x, y).stats
    >>> stats.xtx, stats.xty, float(stats.yty), float(stats.n)
    (array([[2., 1.], [1., 5.]]), array([3., 6.]), 9.0, 2.0)
    """

    xtx: np.ndarray
    xty: np.ndarray
    yty: np.ndarray
    n: np.ndarray


def empty(batch_shape: tuple[int, ...], n_features: int) -> SufficientStats:
    """Statistics of no data.

    >>> empty((2,), 3).xtx.shape
    (2, 3, 3)
    """
    # Refused before numpy tries: a MemoryError names no argument and may come only after
    # swapping.
    check_allocation(
        "X'X (n_replicates x features x features)", (*batch_shape, n_features, n_features)
    )
    return SufficientStats(
        np.zeros((*batch_shape, n_features, n_features)),
        np.zeros((*batch_shape, n_features)),
        np.zeros(batch_shape),
        np.zeros(batch_shape),
    )


def from_rows(x: np.ndarray, y: np.ndarray) -> SufficientStats:
    """Statistics of rows ``x`` ``(..., m, p)`` with targets ``y`` ``(..., m)``.

    >>> s = from_rows(np.array([[1.0, 2.0], [1.0, 3.0]]), np.array([1.0, 2.0]))
    >>> s.xtx, s.xty, float(s.yty), float(s.n)
    (array([[ 2.,  5.], [ 5., 13.]]), array([3., 8.]), 5.0, 2.0)
    """
    xt = np.swapaxes(x, -1, -2)
    return SufficientStats(
        xt @ x,
        (xt @ y[..., None])[..., 0],
        np.einsum("...m,...m->...", y, y),
        np.full(y.shape[:-1], float(y.shape[-1])),
    )


def combine(a: SufficientStats, b: SufficientStats) -> SufficientStats:
    """Statistics of the union of two disjoint sets of rows."""
    return SufficientStats(*(u + v for u, v in zip(a, b, strict=True)))


def prefix(x: np.ndarray, y: np.ndarray, stops: np.ndarray, start: int = 0) -> SufficientStats:
    """Statistics of rows ``start .. stop - 1`` for every ``stop`` in increasing ``stops``.

    Rows are on axis ``-2`` of ``x`` (``-1`` of ``y``); the result has a new axis of
    ``len(stops)`` just before the statistic's own axes, for example ``xtx`` of shape
    ``(..., len(stops), p, p)``. Each block between consecutive stops is read once.

    >>> x = np.arange(8.0).reshape(4, 2); y = np.arange(4.0)
    >>> prefix(x, y, np.array([2, 4])).n
    array([2., 4.])
    >>> np.allclose(prefix(x, y, np.array([4])).xtx[0], x.T @ x)
    True
    """
    edges = np.concatenate([[start], np.asarray(stops, dtype=int)])
    if np.any(np.diff(edges) < 0):
        raise ValueError(f"stops must be increasing and >= start={start}, got {list(stops)}")
    blocks = [from_rows(x[..., a:b, :], y[..., a:b]) for a, b in itertools.pairwise(edges)]
    stacked = [np.stack(parts, axis=y.ndim - 1) for parts in zip(*blocks, strict=True)]
    return SufficientStats(*(np.cumsum(s, axis=y.ndim - 1) for s in stacked))
