"""Row maxima, argmax with uniformly random ties and inverse-CDF draws: how policies pick."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.learners._numba import compile_kernel

__all__ = ["argmax_random_ties", "inverse_cdf", "row_max"]


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
    kernel = _compiled_pick() if keys.ndim == 2 and keys.shape[1] else None
    if kernel is not None and scores.dtype == np.float64 and scores.flags.c_contiguous:
        actions = np.empty(len(keys), dtype=np.intp)
        kernel(scores, keys, actions)
        return actions
    keys *= _ties(scores)
    return keys.argmax(axis=-1)


def row_top(scores, r):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Row ``r``'s maximum as numpy's ``maximum`` finds it (a NaN propagates). Compiled inline
    into the pick kernels (this module's and :mod:`regretlab.policies._thompson_pick`'s)."""
    top = scores[r, 0]
    for a in range(1, scores.shape[1]):
        value = scores[r, a]
        if value > top or value != value:
            top = value
            if value != value:
                break
    return top


def _pick_source(scores, keys, actions):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Row by row what numpy does: ``(keys * (scores == max)).argmax()`` (the first of equal
    keys; a row with a NaN score ties nowhere, so it picks 0, as numpy's)."""
    n, k = scores.shape
    for r in range(n):
        top = row_top(scores, r)
        best, pick = -1.0, 0
        for a in range(k):
            key = keys[r, a] if scores[r, a] == top else 0.0
            if key > best:
                best, pick = key, a
        actions[r] = pick


def inline_row_top() -> bool:
    """Compile :func:`row_top` for inlining (once; the kernels call it through this module's
    globals, so it must be compiled before them); ``False`` without numba."""
    global row_top
    if not hasattr(row_top, "py_func"):
        inlined = compile_kernel(row_top, inline=True)
        if inlined is None:
            return False
        row_top = inlined
    return True


@functools.cache
def _compiled_pick() -> Callable[..., Any] | None:
    """The compiled pick of :func:`argmax_random_ties` (2-D scores), or ``None`` without
    numba (or with ``REGRETLAB_NUMBA=0``)."""
    return compile_kernel(_pick_source) if inline_row_top() else None


def inverse_cdf(cdf: np.ndarray, u: np.ndarray, axis: int = -1) -> np.ndarray:
    """The index each uniform ``u`` falls at in the cumulative probabilities ``cdf`` (along
    ``axis``): the number of entries ``<= u``, capped at the last index (rounding may leave the
    top of ``cdf`` a little below ``u``).

    >>> cdf = np.cumsum([[0.2, 0.5, 0.3]] * 3, axis=-1)
    >>> inverse_cdf(cdf, np.array([0.1, 0.2, 0.95]))
    array([0, 1, 2])
    """
    return np.minimum((cdf <= np.expand_dims(u, axis)).sum(axis=axis), cdf.shape[axis] - 1)
