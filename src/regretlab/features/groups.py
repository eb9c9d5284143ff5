"""Feature groups: every design column belongs to one named group."""

from __future__ import annotations

import numpy as np

__all__ = ["group_indices"]


def group_indices(groups: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Column indices of each group, in order of first appearance.

    >>> group_indices(("intercept", "main", "main", "pairwise"))
    {'intercept': array([0]), 'main': array([1, 2]), 'pairwise': array([3])}
    """
    labels = np.asarray(groups)
    return {name: np.flatnonzero(labels == name) for name in dict.fromkeys(groups)}
