"""Feature groups: every design column belongs to one named group."""

from __future__ import annotations

import numpy as np

__all__ = ["group_indices", "upper_pairs"]


def group_indices(groups: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Column indices of each group, in order of first appearance.

    >>> group_indices(("intercept", "main", "main", "pairwise"))
    {'intercept': array([0]), 'main': array([1, 2]), 'pairwise': array([3])}
    """
    labels = np.asarray(groups)
    return {name: np.flatnonzero(labels == name) for name in dict.fromkeys(groups)}


def upper_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(i, j)`` with ``i < j < n`` in row order, as ``numpy.triu_indices(n, k=1)`` gives them,
    in memory proportional to the pairs (``triu_indices`` builds an ``n x n`` mask first: 1.6 GB
    and 13 GB of indices at ``n = 40,000``, before any size check could refuse).

    >>> upper_pairs(4)
    (array([0, 0, 0, 1, 1, 2]), array([1, 2, 3, 2, 3, 3]))
    """
    counts = np.arange(n - 1, -1, -1)
    left = np.repeat(np.arange(n), counts)
    starts = np.cumsum(counts) - counts
    right = np.arange(left.size) - np.repeat(starts, counts) + left + 1
    return left, right
