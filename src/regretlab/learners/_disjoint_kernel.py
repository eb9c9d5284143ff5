"""The per-action models' step compiled (numba, optional): gather, Sherman-Morrison, scatter.

:class:`~regretlab.learners.DisjointBayesianLinearRegression` updates the chosen action's model
of every replicate: in numpy it gathers the chosen means and covariances (copies), updates them
(:func:`regretlab.learners.gaussian.rank_one_update`) and scatters them back, about a dozen
calls and three passes over the chosen ``(R, p, p)`` covariances per step. The compiled loop
updates each chosen model in place in one pass: ``S x``, ``q = beta x'S x``, the residual, then
``m += g S x r`` and ``S -= g (S x)(S x)'`` with ``g = beta / (1 + q)`` (Bishop eq. 3.50-3.51).
The algebra is the same; the sums run in another order, so results differ from the numpy path
by rounding (about 1e-16 relative per step).

Scoring every replicate's ``K`` models (:func:`compiled_predictive`: ``x'm`` and ``x'S x``)
reads each model once, where numpy forms ``x x'`` and takes ``vec(S) . vec(x x')``: the same
quantities summed in another order (rounding differences only).
The scoring kernels are compiled with reassociation (``compile_kernel(reassociate=True)``):
LLVM sums the short dot products in SIMD vectors and fuses multiply-adds, about 1.7x faster at
``p = 6``; the scores change by rounding only (about 1e-15 relative). The step is not: it also
adds the step's row into the statistics (:func:`compiled_update`, no log to fold while the
compiled step runs), with the fold's products in the fold's order, numpy's statistics to the
last bit.

The log of rows is added into the packed statistics by :func:`compiled_fold`: the same
products added in the same order as the numpy loop (results identical to the last bit), without
the per-step gathers and scatters.

Without numba (or with ``REGRETLAB_NUMBA=0``) :func:`compiled_update` is ``None`` (and so is
:func:`compiled_fold` and :func:`compiled_predictive`) and the model takes its numpy path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.learners._numba import compile_kernel

__all__ = ["compiled_fold", "compiled_predictive", "compiled_predictive_shared", "compiled_update"]


def _update_source(mean, cov, at, x, y, beta, shrink, packed, counts, first, second):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Update models ``at`` ``(N,)`` of ``mean`` ``(M, p)`` and ``cov`` ``(M, p, p)`` in place
    by rows ``x`` ``(N, p)``, ``y`` ``(N,)``; ``shrink`` ``(N,)`` receives ``beta x'S x``.

    The rows are also added into the statistics, ``packed[at[n], l] += z[first[l]]
    z[second[l]]`` with ``z = [x, y]`` and ``counts[at[n]] += 1``: the products and the order of
    :func:`_fold_source` (numpy's statistics to the last bit), without a log to fold."""
    n_items, p = x.shape
    sx = np.empty(p)
    z = np.empty(p + 1)
    for n in range(n_items):
        for i in range(p):
            z[i] = x[n, i]
        z[p] = y[n]
        target = packed[at[n]]
        for entry in range(len(first)):
            target[entry] += z[first[entry]] * z[second[entry]]
        counts[at[n]] += 1.0
        m = mean[at[n]]
        s = cov[at[n]]
        q = 0.0
        pred = 0.0
        for i in range(p):
            total = 0.0
            for j in range(p):
                total += s[i, j] * x[n, j]
            sx[i] = total
            q += x[n, i] * total
            pred += x[n, i] * m[i]
        q *= beta
        gain = beta / (1.0 + q)
        step = gain * (y[n] - pred)
        for i in range(p):
            m[i] += sx[i] * step
            c = gain * sx[i]
            for j in range(p):
                s[i, j] -= c * sx[j]
        shrink[n] = q


@functools.cache
def compiled_update() -> Callable[..., Any] | None:
    """The compiled step, or ``None`` without numba (or with ``REGRETLAB_NUMBA=0``)."""
    return compile_kernel(_update_source)


def _fold_source(packed, rows, models, first, second):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``packed[models[s, n], l] += rows[s, first[l], n] * rows[s, second[l], n]`` for every
    logged step ``s`` in order, replicate ``n`` and packed entry ``l``."""
    steps, n_items = models.shape
    # Replicate by replicate (its models stay in L1); each entry still gets its steps' products
    # in step order, the sums of the numpy loop.
    for n in range(n_items):
        for s in range(steps):
            target = packed[models[s, n]]
            for entry in range(len(first)):
                target[entry] += rows[s, first[entry], n] * rows[s, second[entry], n]


@functools.cache
def compiled_fold() -> Callable[..., Any] | None:
    """The compiled fold of the log, or ``None`` without numba (or with ``REGRETLAB_NUMBA=0``)."""
    return compile_kernel(_fold_source)


def _predictive_source(mean, cov, designs, loc, var):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``loc[r, k] = x'm`` and ``var[r, k] = x'S x`` for ``x = designs[r, k]`` (any strides)."""
    n_rep, n_act, p = designs.shape
    for r in range(n_rep):
        for k in range(n_act):
            m = mean[r, k]
            s = cov[r, k]
            x = designs[r, k]
            first = 0.0
            second = 0.0
            for i in range(p):
                first += x[i] * m[i]
                row = 0.0
                for j in range(p):
                    row += s[i, j] * x[j]
                second += x[i] * row
            loc[r, k] = first
            var[r, k] = second


@functools.cache
def compiled_predictive() -> Callable[..., Any] | None:
    """The compiled ``x'm``, ``x'S x``, or ``None`` without numba (or ``REGRETLAB_NUMBA=0``)."""
    return compile_kernel(_predictive_source, reassociate=True)


def _predictive_shared_source(mean, cov, x, noise, loc, sd):  # type: ignore[no-untyped-def]  # pragma: no cover
    """For one row per replicate ``x`` ``(R, p)`` (contiguous) that every action shares:
    ``loc = x'm`` and ``sd = sqrt(max(x'S x, 0) + noise)``, the sums as
    :func:`_predictive_source`'s, then the numpy path's ``maximum``, ``+`` and ``sqrt`` (each
    correctly rounded). Contiguous arrays let numba compile plain strides (about 1.5x faster
    at ``p = 6``)."""
    n_rep, n_act, p = mean.shape
    for r in range(n_rep):
        row_x = x[r]
        for k in range(n_act):
            m = mean[r, k]
            s = cov[r, k]
            first = 0.0
            second = 0.0
            for i in range(p):
                first += row_x[i] * m[i]
                row = 0.0
                for j in range(p):
                    row += s[i, j] * row_x[j]
                second += row_x[i] * row
            loc[r, k] = first
            if second < 0.0:  # NaN stays NaN, as numpy's maximum leaves it
                second = 0.0
            sd[r, k] = np.sqrt(second + noise)


@functools.cache
def compiled_predictive_shared() -> Callable[..., Any] | None:
    """``x'm`` and the predictive sd for a row shared by every action, or ``None``."""
    return compile_kernel(_predictive_shared_source, reassociate=True)
