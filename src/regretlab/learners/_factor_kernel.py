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

**Known zeros.** Where the rows are sparse in a fixed way, the factor is too: with
``ActionFeatures`` (shared columns first, then each action's one-hot and context crosses) every
row is nonzero on the shared columns and one action's columns only, and the covariance factor
of the prior (diagonal) and of every update keeps exact zeros between two actions' columns:
306 of the 666 entries of the upper triangle at ``p = 36``. The compiled step keeps ``rows``,
the entries that may be nonzero in any replicate (a bit mask per row of ``U``, made by
:func:`pattern_of` with the factor and grown by every step): before the pass it reads each
replicate's nonzero columns of ``x`` and adds the entries the update can fill (symbolically,
as the downdate itself: row ``k`` is touched when it meets ``x``'s columns, and then takes the
columns of the rows below it that were touched), then goes over those entries only. An entry
left out is exactly zero before and after the step in every replicate, and would only add
``0 * v`` to sums that start at ``+0.0``, so **the results are the same to the last bit** as
over the whole triangle (tested). A dense pattern is the whole triangle (the step as before).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.learners._numba import compile_kernel

__all__ = [
    "compiled_step",
    "dense_pattern",
    "downdate_numpy",
    "learn_step",
    "pattern_mask",
    "pattern_of",
]

# Bits per int64 word of a pattern row (shifts stay clear of the sign bit).
_WORD = 62
# Distinct row patterns (sets of nonzero columns) followed one by one in a step; beyond this
# many, the step treats every row as dense.
_MAX_SUPPORTS = 64


@functools.cache
def compiled_step() -> Callable[..., Any] | None:
    """The compiled step, or ``None`` without numba (or with ``REGRETLAB_NUMBA=0``)."""
    global _pair, _single, _grow_pattern
    if not hasattr(_pair, "py_func"):  # the helpers compiled first, so numba inlines them
        pair = compile_kernel(_pair, checked_division=False, inline=True)
        single = compile_kernel(_single, checked_division=False, inline=True)
        grow = compile_kernel(_grow_pattern, inline=True)
        if pair is None or single is None or grow is None:
            return None
        _pair, _single, _grow_pattern = pair, single, grow
    return compile_kernel(_step_source, checked_division=False)


@functools.cache
def _compiled_pattern() -> Callable[..., Any] | None:
    return compile_kernel(_pattern_source)


def dense_pattern(p: int) -> np.ndarray:
    """The pattern of a whole ``p x p`` triangle: every bit of every row set."""
    rows = np.zeros((p, -(-p // _WORD)), dtype=np.int64)
    for i in range(p):
        rows[:, i // _WORD] |= np.int64(1) << np.int64(i % _WORD)
    return rows


def pattern_of(upper: np.ndarray) -> np.ndarray | None:
    """The entries of ``upper`` ``(p, p, N)`` nonzero in some item, as bit masks ``(p, W)``
    (bit ``i % 62`` of word ``i // 62`` of row ``k``), or ``None`` without the compiled step."""
    compiled = _compiled_pattern() if compiled_step() is not None else None
    if compiled is None:
        return None
    p = upper.shape[0]
    rows = np.zeros((p, -(-p // _WORD)), dtype=np.int64)
    compiled(upper, rows)
    return rows


def pattern_mask(rows: np.ndarray, p: int) -> np.ndarray:
    """The boolean ``(p, p)`` mask of the entries a pattern (:func:`pattern_of`) lets be nonzero."""
    columns = np.arange(p)
    words = rows[:, columns // _WORD]
    return ((words >> (columns % _WORD).astype(np.int64)) & 1).astype(bool)


def learn_step(
    upper: np.ndarray,
    x: np.ndarray,
    beta: float | np.ndarray,
    z: np.ndarray | None = None,
    resid: np.ndarray | None = None,
    mean: np.ndarray | None = None,
    *,
    with_sx: bool = True,
    pattern: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Downdate ``upper`` ``(p, p, N)`` (``L'`` per item, items last) in place by rows ``x``
    ``(N, p)`` with precision ``beta`` (scalar or ``(N,)``); with residuals ``resid`` ``(N,)``
    also update ``mean`` ``(N, p)`` in place (``m += (beta r / (1 + q)) S x``).

    Returns ``S x`` ``(N, p)`` (with the old factor; ``None`` if not ``with_sx``),
    ``q = beta x'S x`` ``(N,)`` and, for standard normals ``z`` ``(N, p)``, ``L z`` ``(N, p)``
    with the new factor (else ``None``); where the mean is updated, the draw ``m + L z`` with
    the new mean instead.

    ``pattern`` (compiled step only, see the module notes): the entries of ``upper`` that may
    be nonzero, from :func:`pattern_of`, grown in place to those of the new factor; ``None``:
    the whole triangle.
    """
    compiled = compiled_step()
    if compiled is None:
        zt = None if z is None else np.ascontiguousarray(z.T)
        suffix, q, drawn = downdate_numpy(upper, np.ascontiguousarray(x.T), beta, zt)
        if resid is not None and mean is not None:
            mean += (suffix * (beta * resid / (1.0 + q))).T
            drawn = None if drawn is None else (mean + drawn.T).T
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
        dense_pattern(p) if pattern is None else pattern,
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


def _step_source(upper, x, beta, z, resid, mean, sx, q, drawn, rows):  # type: ignore[no-untyped-def]  # pragma: no cover
    """:func:`learn_step` compiled: :func:`downdate_numpy`'s operations on the same numbers in
    the same order, then the mean's update as numpy does it. ``x`` and ``z`` are copied into
    ``(p, N)`` arrays first (the layout of the factor's rows); ``z`` empty: no draw gathered
    (zeros are gathered instead); ``resid`` empty: the mean is not updated; ``sx`` empty: not
    written. ``rows``: the pattern of ``upper`` (module notes), grown in place. With the mean
    updated, ``drawn`` is the draw ``m + L z`` (numpy's ``mean + L z``: one rounding).

    Rows of ``U`` go two at a time, ``k`` and ``k - 1`` (:func:`_pair`): one pass gives both
    ``v``'s (row ``k - 1`` is still the old one), and one pass updates both rows, each entry of
    the sums ``S x`` and ``L z`` read and written once for the two (row ``k``'s update of an
    entry still comes before row ``k - 1``'s, as in the numpy loop), over the columns either
    row's pattern holds, in order."""
    p, _, n_items = upper.shape
    xs, zs = np.empty((p, n_items)), np.zeros((p, n_items))
    words = rows.shape[1]
    masks = np.empty((n_items, words), dtype=np.int64)  # each row's nonzero columns
    for n in range(n_items):
        for w in range(words):
            bits = np.int64(0)
            for i in range(w * _WORD, min(p, (w + 1) * _WORD)):
                value = x[n, i]
                xs[i, n] = value
                bits |= np.int64(value != 0.0) << np.int64(i - w * _WORD)
            masks[n, w] = bits
    if drawn.shape[0] > 0:
        for n in range(n_items):
            for i in range(p):
                zs[i, n] = z[n, i]
    cols, ends = _grow_pattern(rows, masks)
    suffix, acc = np.zeros((p, n_items)), np.zeros((p, n_items))
    tail = np.zeros(n_items)
    work = np.empty((6, n_items))  # v, a, b of the upper and the lower row
    k = p - 1
    while k >= 1:
        _pair(upper, k, xs, zs, beta, suffix, acc, tail, work, cols[ends[k + 1] : ends[k]])
        k -= 2
    if k == 0:
        _single(upper, xs, zs, beta, suffix, acc, tail, work, cols[ends[1] : ends[0]])
    for n in range(n_items):
        q[n] = tail[n]
    if sx.shape[0] > 0:
        for n in range(n_items):
            for i in range(p):
                sx[n, i] = suffix[i, n]
    if resid.shape[0] > 0:  # the mean, and the draw m + L z with it
        gather = drawn.shape[0] > 0
        for n in range(n_items):
            gain = beta[n] * resid[n] / (1.0 + tail[n])
            for i in range(p):
                m = mean[n, i] + suffix[i, n] * gain
                mean[n, i] = m
                if gather:
                    drawn[n, i] = m + acc[i, n]
    elif drawn.shape[0] > 0:
        for n in range(n_items):
            for i in range(p):
                drawn[n, i] = acc[i, n]


def _pattern_source(upper, rows):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Set bit ``i`` of row ``k`` of ``rows`` where ``upper[k, i]`` is nonzero (or NaN) in some
    item."""
    p, _, n_items = upper.shape
    for k in range(p):
        for i in range(k, p):
            entry = upper[k, i]
            for n in range(n_items):
                if entry[n] != 0.0:
                    rows[k, i // _WORD] |= np.int64(1) << np.int64(i % _WORD)
                    break


def _grow_pattern(rows, masks):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Grow the pattern ``rows`` ``(p, W)`` by the entries that the downdate by rows with
    nonzero columns ``masks`` ``(N, W)`` (bits as ``rows``') can make nonzero; return the
    columns to visit, pair by pair of rows of ``U`` (``cols[ends[k + 1] : ends[k]]`` for the
    pair whose upper row is ``k``, ascending).

    Each distinct set of nonzero columns among the rows of ``x`` is followed as the downdate
    goes: from the last row of ``U`` up, row ``k`` is touched (its ``v_k`` may be nonzero) if
    it holds one of the set's columns, and then takes the columns of the touched rows below it
    (``U[k] <- a U[k] - b sum_{j > k} v_j U[j]``). Past ``_MAX_SUPPORTS`` sets, every row."""
    n_items, words = masks.shape
    p = rows.shape[0]
    supports = np.zeros((_MAX_SUPPORTS, words), dtype=np.int64)
    found = 0
    for n in range(n_items):
        mask = masks[n]
        seen = False
        for s in range(found):
            same = True
            for w in range(words):
                same = same and supports[s, w] == mask[w]
            if same:
                seen = True
                break
        if seen:
            continue
        if found == _MAX_SUPPORTS:  # too many sets: every column
            supports[0, :] = -1
            found = 1
            break
        supports[found, :] = mask
        found += 1
    below = np.zeros(words, dtype=np.int64)
    for s in range(found):
        below[:] = 0
        for k in range(p - 1, -1, -1):
            touched = False
            for w in range(words):
                touched = touched or (rows[k, w] & supports[s, w]) != 0
            if touched:
                for w in range(words):
                    old = rows[k, w]
                    rows[k, w] = old | below[w]
                    below[w] |= old
    cols = np.empty(p * (p + 1), dtype=np.int64)
    ends = np.zeros(p + 2, dtype=np.int64)
    used = 0
    k = p - 1
    while k >= 0:
        first = k if k == 0 else k - 1  # a pair's lower row, or row 0 alone
        ends[k + 1] = used
        for i in range(k, p):
            w, bit = i // _WORD, np.int64(i % _WORD)
            if ((rows[k, w] | rows[first, w]) >> bit) & 1:
                cols[used] = i
                used += 1
        ends[k] = used
        k -= 2
    return cols, ends


def _pair(upper, k, xs, zs, beta, suffix, acc, tail, work, cols):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Rows ``k`` and ``k - 1`` of the downdate (see :func:`_step_source`), over the columns
    ``cols`` (ascending, from ``k`` on) where either row may be nonzero."""
    n_items = upper.shape[2]
    hi, lo = upper[k], upper[k - 1]
    vh, ah, bh, vl, al, bl = work[0], work[1], work[2], work[3], work[4], work[5]
    first, xl = lo[k - 1], xs[k - 1]
    for n in range(n_items):
        vh[n] = 0.0
        vl[n] = 0.0 + first[n] * xl[n]  # 0.0 + as the numpy sum starts (the sign of a zero)
    for i in cols:
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
    for i in cols:
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


def _single(upper, xs, zs, beta, suffix, acc, tail, work, cols):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Row 0 of the downdate when the rows do not pair up (odd ``p``), over ``cols``."""
    n_items = upper.shape[2]
    row, v, a, b = upper[0], work[0], work[1], work[2]
    for n in range(n_items):
        v[n] = 0.0
    for i in cols:
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
    for i in cols:
        ui, si, di = row[i], suffix[i], acc[i]
        for n in range(n_items):
            u = ui[n]
            old = u * v[n]
            u = u * a[n] - si[n] * b[n]
            ui[n] = u
            si[n] += old
            di[n] += u * zk[n]
