"""The kept sampling factor's rank-one step: the numpy loop and its compiled twin (issue 19).

:class:`regretlab.learners._factor.SamplingFactor` keeps, per replicate, the transposed
Cholesky factor ``U = L'`` of the covariance, stored ``(p, p, N)`` with the replicate axis last,
and downdates it by one row per step (the algebra is in ``_factor``'s notes).

:func:`learn_step` does one whole step for rows ``x`` ``(N, p)``: the downdate, the mean's
Sherman-Morrison update ``m += (beta r / (1 + q)) S x`` (``r = y - x'm``, ``q = beta x'S x``,
``S x = L v`` from the same pass) and the next draw's ``L z`` with the new factor. Without numba
(or with ``REGRETLAB_NUMBA=0``) it runs :func:`downdate_numpy`, a few whole-slab numpy
operations per row of ``U``. Compiled (numba, optional), one call does the whole step: it reads
the rows, normals and means as they are (no transposed copies, no temporaries allocated by
numpy), and does, replicate by replicate, the numpy loop's operations on the same numbers in the
same order, so **the same results to the last bit** (its loops vectorise across the replicates,
never across a sum). It is compiled with numba's numpy error model (no branch for a division by
zero, which cannot happen here: the divisors are at least 1) so that the per-replicate
coefficients vectorise too.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.learners._numba import compile_kernel

__all__ = ["compiled_step", "downdate_numpy", "learn_step"]


@functools.cache
def compiled_step() -> Callable[..., Any] | None:
    """The compiled step, or ``None`` without numba (or with ``REGRETLAB_NUMBA=0``)."""
    global _pair, _single
    if not hasattr(_pair, "py_func"):  # the helpers compiled first, so numba inlines them
        pair = compile_kernel(_pair, checked_division=False, inline=True)
        single = compile_kernel(_single, checked_division=False, inline=True)
        if pair is None or single is None:
            return None
        _pair, _single = pair, single
    return compile_kernel(_step_source, checked_division=False)


def learn_step(
    upper: np.ndarray,
    x: np.ndarray,
    beta: float | np.ndarray,
    z: np.ndarray | None = None,
    resid: np.ndarray | None = None,
    mean: np.ndarray | None = None,
    *,
    with_sx: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Downdate ``upper`` ``(p, p, N)`` (``L'`` per item, items last) in place by rows ``x``
    ``(N, p)`` with precision ``beta`` (scalar or ``(N,)``); with residuals ``resid`` ``(N,)``
    also update ``mean`` ``(N, p)`` in place (``m += (beta r / (1 + q)) S x``).

    Returns ``S x`` ``(N, p)`` (with the old factor; ``None`` if not ``with_sx``),
    ``q = beta x'S x`` ``(N,)`` and, for standard normals ``z`` ``(N, p)``, ``L z`` ``(N, p)``
    with the new factor (else ``None``).
    """
    compiled = compiled_step()
    if compiled is None:
        zt = None if z is None else np.ascontiguousarray(z.T)
        suffix, q, drawn = downdate_numpy(upper, np.ascontiguousarray(x.T), beta, zt)
        if resid is not None and mean is not None:
            mean += (suffix * (beta * resid / (1.0 + q))).T
        return suffix.T if with_sx else None, q, None if drawn is None else drawn.T
    n_items, p = x.shape
    no_rows = np.empty((0, p))
    sx, q = np.empty((n_items, p)) if with_sx else no_rows, np.empty(n_items)
    drawn = np.empty((n_items, p)) if z is not None else no_rows
    weight = np.full(n_items, beta) if np.ndim(beta) == 0 else np.ascontiguousarray(beta)
    compiled(
        upper,
        np.ascontiguousarray(x),
        weight.astype(float, copy=False),
        no_rows if z is None else np.ascontiguousarray(z),
        np.empty(0) if resid is None else np.ascontiguousarray(resid),
        no_rows if mean is None else mean,
        sx,
        q,
        drawn,
    )
    return sx if with_sx else None, q, drawn if z is not None else None


def downdate_numpy(
    upper: np.ndarray, x: np.ndarray, beta: float | np.ndarray, z: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The downdate for ``x`` ``(p, N)`` in numpy, in one pass over the rows of ``U = L'`` from
    the last up (each row read from memory once): row ``k`` gives ``v_k = U[k] . x`` and, with
    ``t_k = t_{k+1} + v_k^2``, its own coefficients.

    Returns ``S x = L v`` ``(p, N)`` (with the old factor), ``beta x'S x`` and, for standard
    normals ``z`` ``(p, N)``, ``L z`` with the new factor (``None`` without ``z``).
    """
    p = upper.shape[0]
    suffix = np.zeros(x.shape)  # sum_{i > k} v_i U[i], the old rows; at the end L v = S x
    drawn = None if z is None else np.zeros(x.shape)
    old, scratch = np.empty(x.shape), np.empty(x.shape)
    tail = np.zeros(x.shape[1:])  # beta t_{k+1}
    for k in range(p - 1, -1, -1):
        row = upper[k, k:]
        v = np.einsum("in,in->n", row, x[k:])
        after = 1.0 + tail
        tail = tail + beta * v * v
        before = 1.0 + tail
        b = beta * v / np.sqrt(after * before)
        np.multiply(row, v, out=old[k:])
        row *= np.sqrt(after / before)
        row -= np.multiply(suffix[k:], b, out=scratch[k:])
        suffix[k:] += old[k:]
        if drawn is not None and z is not None:
            drawn[k:] += np.multiply(row, z[k], out=scratch[k:])
    return suffix, tail, drawn


def _step_source(upper, x, beta, z, resid, mean, sx, q, drawn):  # type: ignore[no-untyped-def]  # pragma: no cover
    """:func:`learn_step` compiled: :func:`downdate_numpy`'s operations on the same numbers in
    the same order, then the mean's update as numpy does it. ``x`` and ``z`` are copied into
    ``(p, N)`` arrays first (the layout of the factor's rows); ``z`` empty: no draw gathered
    (zeros are gathered instead); ``resid`` empty: the mean is not updated; ``sx`` empty: not
    written.

    Rows of ``U`` go two at a time, ``k`` and ``k - 1`` (:func:`_pair`): one pass gives both
    ``v``'s (row ``k - 1`` is still the old one), and one pass updates both rows, each entry of
    the sums ``S x`` and ``L z`` read and written once for the two (row ``k``'s update of an
    entry still comes before row ``k - 1``'s, as in the numpy loop)."""
    p, _, n_items = upper.shape
    xs, zs = np.empty((p, n_items)), np.zeros((p, n_items))
    for n in range(n_items):
        for i in range(p):
            xs[i, n] = x[n, i]
    if drawn.shape[0] > 0:
        for n in range(n_items):
            for i in range(p):
                zs[i, n] = z[n, i]
    suffix, acc = np.zeros((p, n_items)), np.zeros((p, n_items))
    tail = np.zeros(n_items)
    work = np.empty((6, n_items))  # v, a, b of the upper and the lower row
    k = p - 1
    while k >= 1:
        _pair(upper, k, xs, zs, beta, suffix, acc, tail, work)
        k -= 2
    if k == 0:
        _single(upper, xs, zs, beta, suffix, acc, tail, work)
    for n in range(n_items):
        q[n] = tail[n]
    if sx.shape[0] > 0:
        for n in range(n_items):
            for i in range(p):
                sx[n, i] = suffix[i, n]
    if resid.shape[0] > 0:
        for n in range(n_items):
            gain = beta[n] * resid[n] / (1.0 + tail[n])
            for i in range(p):
                mean[n, i] += suffix[i, n] * gain
    if drawn.shape[0] > 0:
        for n in range(n_items):
            for i in range(p):
                drawn[n, i] = acc[i, n]


def _pair(upper, k, xs, zs, beta, suffix, acc, tail, work):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Rows ``k`` and ``k - 1`` of the downdate (see :func:`_step_source`)."""
    p, _, n_items = upper.shape
    hi, lo = upper[k], upper[k - 1]
    vh, ah, bh, vl, al, bl = work[0], work[1], work[2], work[3], work[4], work[5]
    first, xl = lo[k - 1], xs[k - 1]
    for n in range(n_items):
        vh[n] = 0.0
        vl[n] = 0.0 + first[n] * xl[n]  # 0.0 + as the numpy sum starts (the sign of a zero)
    for i in range(k, p):
        uh, ul, xi = hi[i], lo[i], xs[i]
        for n in range(n_items):
            vh[n] += uh[n] * xi[n]
            vl[n] += ul[n] * xi[n]
    for n in range(n_items):
        after = 1.0 + tail[n]
        middle = tail[n] + beta[n] * vh[n] * vh[n]
        before = 1.0 + middle
        bh[n] = beta[n] * vh[n] / math.sqrt(after * before)
        ah[n] = math.sqrt(after / before)
        tail[n] = middle + beta[n] * vl[n] * vl[n]
        last = 1.0 + tail[n]
        bl[n] = beta[n] * vl[n] / math.sqrt(before * last)
        al[n] = math.sqrt(before / last)
    zh, zl = zs[k], zs[k - 1]
    s0, d0 = suffix[k - 1], acc[k - 1]  # column k - 1: the lower row's alone
    for n in range(n_items):
        w = first[n]
        old = w * vl[n]
        w = w * al[n] - s0[n] * bl[n]
        first[n] = w
        s0[n] += old
        d0[n] += w * zl[n]
    for i in range(k, p):
        uh, ul, si, di = hi[i], lo[i], suffix[i], acc[i]
        for n in range(n_items):
            u = uh[n]
            old = u * vh[n]
            u = u * ah[n] - si[n] * bh[n]
            uh[n] = u
            s = si[n] + old
            d = di[n] + u * zh[n]
            w = ul[n]
            old = w * vl[n]
            w = w * al[n] - s * bl[n]
            ul[n] = w
            si[n] = s + old
            di[n] = d + w * zl[n]


def _single(upper, xs, zs, beta, suffix, acc, tail, work):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Row 0 of the downdate when the rows do not pair up (odd ``p``)."""
    p, _, n_items = upper.shape
    row, v, a, b = upper[0], work[0], work[1], work[2]
    for n in range(n_items):
        v[n] = 0.0
    for i in range(p):
        ui, xi = row[i], xs[i]
        for n in range(n_items):
            v[n] += ui[n] * xi[n]
    for n in range(n_items):
        after = 1.0 + tail[n]
        tail[n] = tail[n] + beta[n] * v[n] * v[n]
        before = 1.0 + tail[n]
        b[n] = beta[n] * v[n] / math.sqrt(after * before)
        a[n] = math.sqrt(after / before)
    zk = zs[0]
    for i in range(p):
        ui, si, di = row[i], suffix[i], acc[i]
        for n in range(n_items):
            u = ui[n]
            old = u * v[n]
            u = u * a[n] - si[n] * b[n]
            ui[n] = u
            si[n] += old
            di[n] += u * zk[n]
