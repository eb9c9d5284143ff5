"""Row maxima and argmax with uniformly random ties: what every index policy picks by."""

from __future__ import annotations

import numpy as np

__all__ = ["argmax_random_ties", "row_max"]


def row_max(values: np.ndarray) -> np.ndarray:
    """``values.max(axis=-1)``, reduced over a contiguous copy with the last axis first.

    numpy reduces a short contiguous last axis row by row, several times slower than a copy
    and elementwise maxima of whole rows (the same values: NaN propagates either way).

    >>> row_max(np.array([[1.0, 3.0, 2.0], [0.0, -1.0, np.nan]]))
    array([ 3., nan])
    """
    return np.maximum.reduce(values.transpose(-1, *range(values.ndim - 1)).copy(), axis=0)


def _ties(scores: np.ndarray) -> np.ndarray:
    return scores == row_max(scores)[..., None]


def argmax_random_ties(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Index of the largest score along the last axis, ties broken uniformly at random.

    >>> argmax_random_ties(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]), np.random.default_rng(0))
    array([1, 0])
    """
    # A uniform key per tied entry (0 elsewhere): the largest key is a uniform pick among ties.
    keys = rng.random(np.shape(scores))
    keys *= _ties(scores)
    return keys.argmax(axis=-1)
