"""Sums of products in a fixed order, so an environment's means do not depend on its blocks.

``@``, ``matmul`` and ``einsum`` pick their kernel by shape (BLAS ``gemm``/``gemv`` or numpy's
own loops, each with its own order of additions and use of FMA), so a step computed in a block of
one would differ in the last bits from the same step in a block of many, and from one CPU to the
next. These helpers add the terms left to right with elementwise ufuncs, whose rounding is fixed.
"""

from __future__ import annotations

import numpy as np


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_j a[..., j] * b[..., j]`` with broadcasting, summed left to right."""
    # The summed axis goes first so that every term reads contiguous memory.
    a, b = np.ascontiguousarray(np.moveaxis(a, -1, 0)), np.ascontiguousarray(np.moveaxis(b, -1, 0))
    return sum_products(a, b)


def sum_products(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum_j x[j] * w[j]`` (broadcast), summed left to right like :func:`dot`."""
    out = x[0] * w[0]
    term = np.empty_like(out)
    for j in range(1, len(w)):
        np.multiply(x[j], w[j], out=term)
        out += term
    return out


def add_upper_quadratic(out: np.ndarray, x: np.ndarray, pairs: np.ndarray) -> None:
    """``out += x' W x`` for strictly upper-triangular ``W``, one ``j`` at a time, in place.

    ``x`` is ``(d, ...)`` (the summed axis first, contiguous), ``pairs`` ``(d, d, ...)``
    broadcasting against ``x[0]``; for ``j = 2..d`` in turn, ``out += x_j (sum_{i<j} x_i W_ij)``
    with the inner sum left to right.
    """
    for j in range(1, len(x)):
        inner = sum_products(x[:j], pairs[:j, j])
        inner *= x[j]
        out += inner
