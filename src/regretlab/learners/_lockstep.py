"""Predict-then-learn over a block of rows, blocked by time: the Sherman-Morrison kernels.

Stepping all ``R`` replicates at once reads and writes every ``(p, p)`` covariance at every
step; at ``R = 1000, p = 22`` that is 3.9 MB a step, more than the L2 cache, so the loop runs at
memory bandwidth. Here a chunk of replicates whose state fits in L2 is carried through all the
block's rows before the next chunk starts, so the state is read from cache at every step.

Two kernels do the same arithmetic (predict ``x'm``, then ``m += g S x (y - x'm)``,
``S -= g (S x)(S x)'`` with ``g = beta / (1 + beta x'S x)``, Bishop eq. 3.50-3.51):

- :func:`predict_learn_numpy`: chunks of replicates vectorised by numpy; the covariance
  corrections of up to ``_DEFERRED`` steps wait as rows of a factor ``F`` (``S - F'F``) and are
  absorbed by one batched product, so each step reads the covariance once and writes nothing;
- :func:`predict_learn_numba` (when numba is installed): one replicate at a time, its state in
  L1, and the rank-one update of one step fused with the product ``S x`` of the next, so each
  step makes one pass over ``S``.

Both also add the rows into the sufficient statistics ``X'X``, ``X'y``, ``y'y``, ``n`` when they
are given (``stats``): the numpy kernel by one batched product per chunk of replicates (the
products :func:`regretlab.learners.stats.from_rows` makes, so the same numbers), the numba
kernel in the same pass over each replicate's rows, each outer product ``x x'`` added into
``X'X`` in the loop that updates ``S`` (so no second pass over the rows and the statistics:
the sums change by rounding only, and ``X'X`` stays exactly symmetric).

Set the environment variable ``REGRETLAB_NUMBA=0`` to use numpy even where numba is installed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from regretlab.learners._numba import compile_kernel
from regretlab.learners.stats import from_rows

__all__ = ["kernel", "l2_cache_bytes", "predict_learn_numpy", "replicate_chunk"]

# Corrections waiting as factor rows before one batched product absorbs them (numpy kernel).
_DEFERRED = 16
_DEFAULT_L2 = 512 * 1024  # when /sys does not say: a safe size for current x86 cores


@functools.cache
def l2_cache_bytes() -> int:
    """The L2 cache of one core in bytes, from ``/sys`` (Linux), else 512 KiB."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for index in sorted(base.glob("index*")):
            if (index / "level").read_text().strip() != "2":
                continue
            if (index / "type").read_text().strip() == "Instruction":
                continue
            size = (index / "size").read_text().strip().upper()
            scale = {"K": 1024, "M": 1024**2}.get(size[-1:], 1)
            return int(size.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return _DEFAULT_L2


def replicate_chunk(n_features: int) -> int:
    """Replicates per chunk of the numpy kernel: as many covariances as fill L2, at least 128.

    Measured (benchmarks/lockstep.py): at ``p = 22`` about 270 replicates' covariances fill a
    1 MiB L2 and the chunk runs from cache; for wider models numpy's per-call overhead on small
    chunks costs more than reading the state from L3, so chunks stay at 128 or more.
    """
    return max(128, l2_cache_bytes() // (8 * n_features * n_features))


def predict_learn_numpy(
    mean: np.ndarray,
    cov: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    beta: float,
    out: np.ndarray,
    stats: Sequence[np.ndarray] | None = None,
    rows: slice | None = None,
    chunk: int | None = None,
) -> None:
    """Predict every row, then learn it, in place: ``mean`` ``(R, p)``, ``cov`` ``(R, p, p)``.

    ``x`` ``(R, m, p)`` and ``y`` ``(R, m)`` may be strided views; ``out`` ``(R, m)`` receives
    the predictions. ``stats``, the statistics ``(xtx, xty, yty, n)`` of shapes ``(R, p, p)``,
    ``(R, p)``, ``(R,)``, ``(R,)``, get the rows added in place (``None``: left to the caller).
    ``rows``, a slice of the row axis (default all), limits the work to those rows of ``x``,
    ``y`` and ``out``. ``chunk`` replicates (default :func:`replicate_chunk`) go through all
    the rows before the next chunk.
    """
    if rows is not None:
        x, y, out = x[:, rows], y[:, rows], out[:, rows]
    n_rep, m, p = x.shape
    chunk = replicate_chunk(p) if chunk is None else chunk
    size = min(chunk, n_rep)
    factors = np.empty((size, _DEFERRED, p))
    sx = np.empty((size, p, 1))
    q = np.empty(size)
    pred = np.empty(size)
    for r0 in range(0, n_rep, size):
        r1 = min(n_rep, r0 + size)
        n = r1 - r0
        mu, s, f, sxn, qn, pn = mean[r0:r1], cov[r0:r1], factors[:n], sx[:n], q[:n], pred[:n]
        sv = sxn[:, :, 0]
        k = 0
        for t in range(m):
            xt = x[r0:r1, t]
            np.einsum("rp,rp->r", xt, mu, out=pn)
            out[r0:r1, t] = pn
            np.matmul(s, xt[:, :, None], out=sxn)
            if k:
                used = f[:, :k]
                sv -= np.einsum("rkp,rk->rp", used, np.einsum("rkp,rp->rk", used, xt))
            np.einsum("rp,rp->r", xt, sv, out=qn)
            gain = beta / (1.0 + beta * qn)
            mu += sv * ((y[r0:r1, t] - pn) * gain)[:, None]
            np.multiply(sv, np.sqrt(gain)[:, None], out=f[:, k])
            k += 1
            if k == _DEFERRED:
                s -= np.swapaxes(f, 1, 2) @ f
                k = 0
        if k:
            used = f[:, :k]
            s -= np.swapaxes(used, 1, 2) @ used
        if stats is not None:  # the chunk's rows, read again while they may still be cached
            _add_rows(stats, x[r0:r1], y[r0:r1], slice(r0, r1))


def _add_rows(stats: Sequence[np.ndarray], x: np.ndarray, y: np.ndarray, replicates: slice) -> None:
    """Add rows ``x`` ``(n, m, p)``, ``y`` ``(n, m)`` into ``stats``' ``replicates``: the
    numbers of :func:`regretlab.learners.stats.from_rows`, then a sum."""
    for total, piece in zip(stats, from_rows(x, y), strict=True):
        total[replicates] += piece


def _numba_source(mean, cov, x, y, beta, out, xtx, xty, yty, n, start, stop):  # type: ignore[no-untyped-def]  # pragma: no cover
    """One replicate at a time; step t's rank-one update fused with step t+1's ``S x``, and
    step t+1's ``x x'`` added into ``X'X`` in the same loop over rows (its lower triangle, in
    whole SIMD vectors: 1.2x faster than the full square; mirrored at the end).

    The replicate's state is copied into buffers whose rows are padded with zeros to a multiple
    of 8 columns, so the loops along a row run in whole SIMD vectors with no scalar remainder
    (p = 22: 3 vectors of 8 instead of 2 and 6 scalar steps; 1.3x faster). The padding stays
    exactly 0 (``0 - c 0``, ``0 + x 0``) and the real entries see the same operations in the
    same order: results identical to the last bit to the unpadded loop. Rows ``start`` to
    ``stop - 1`` of the whole arrays ``x``, ``y``, ``out`` are read (a slice of them would be
    strided, and numba would compile the kernel once more for that layout: 28 MB and 2 s).
    """
    n_rep, p = mean.shape
    m = stop - start
    width = (p + 7) // 8 * 8
    s = np.zeros((p, width))
    g = np.zeros((p, width))
    sx = np.zeros(width)
    nsx = np.zeros(width)
    xt = np.zeros(width)
    mu = np.zeros(width)
    b = np.zeros(width)
    for r in range(n_rep):
        for j in range(p):
            for i in range(p):
                s[j, i] = cov[r, j, i]
                g[j, i] = xtx[r, j, i]
        for i in range(p):
            mu[i] = mean[r, i]
            b[i] = xty[r, i]
            xt[i] = x[r, start, i]
            sx[i] = 0.0
        yy = yty[r]
        for j in range(p):  # S x as a sum of rows (S is symmetric): contiguous, vectorisable
            xj = xt[j]
            for i in range(width):
                sx[i] += s[j, i] * xj
            for i in range((j // 8 + 1) * 8):  # X'X's lower triangle, in whole vectors
                g[j, i] += xj * xt[i]
        for t in range(m):
            yt = y[r, start + t]
            pred = 0.0
            q = 0.0
            for i in range(p):
                pred += xt[i] * mu[i]
                q += xt[i] * sx[i]
            out[r, start + t] = pred
            gain = beta / (1.0 + beta * q)
            step = (yt - pred) * gain
            for i in range(width):
                mu[i] += sx[i] * step
                b[i] += xt[i] * yt
            yy += yt * yt
            if t + 1 < m:
                for i in range(p):
                    xt[i] = x[r, start + t + 1, i]
                for i in range(width):
                    nsx[i] = 0.0
                for j in range(p):
                    c = gain * sx[j]
                    xj = xt[j]
                    for i in range(width):
                        v = s[j, i] - c * sx[i]
                        s[j, i] = v
                        nsx[i] += v * xj
                    for i in range((j // 8 + 1) * 8):
                        g[j, i] += xj * xt[i]
                for i in range(width):
                    sx[i] = nsx[i]
            else:
                for j in range(p):
                    c = gain * sx[j]
                    for i in range(width):
                        s[j, i] -= c * sx[i]
        for j in range(p):
            for i in range(p):
                cov[r, j, i] = s[j, i]
            for i in range(j + 1):  # the lower triangle, mirrored: exactly symmetric
                xtx[r, j, i] = g[j, i]
                xtx[r, i, j] = g[j, i]
        for i in range(p):
            mean[r, i] = mu[i]
            xty[r, i] = b[i]
        yty[r] = yy
        n[r] += m


@functools.cache
def _numba_kernel() -> Callable[..., None] | None:
    return compile_kernel(_numba_source)


def predict_learn_numba(
    mean: np.ndarray,
    cov: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    beta: float,
    out: np.ndarray,
    stats: Sequence[np.ndarray] | None = None,
    rows: slice | None = None,
) -> None:
    """:func:`predict_learn_numpy` compiled by numba (``ImportError`` without numba); the
    statistics, when given, are added in the kernel's pass over the rows."""
    compiled = _numba_kernel()
    if compiled is None:
        raise ImportError("numba is not installed (or REGRETLAB_NUMBA=0)")
    if stats is None:  # statistics left to the caller: the kernel adds into scratch arrays
        n_rep, p = mean.shape
        stats = (np.zeros((n_rep, p, p)), np.zeros((n_rep, p)), np.zeros(n_rep), np.zeros(n_rep))
    start, stop, _ = (slice(None) if rows is None else rows).indices(x.shape[1])
    compiled(mean, cov, x, y, float(beta), out, *stats, start, stop)


def kernel(name: str | None = None) -> Callable[..., Any]:
    """The kernel to use: ``"numba"``, ``"numpy"``, or ``None`` for numba where installed."""
    if name is None:
        return predict_learn_numba if _numba_kernel() is not None else predict_learn_numpy
    if name == "numba":
        return predict_learn_numba
    if name == "numpy":
        return predict_learn_numpy
    raise ValueError(f"kernel must be 'numba', 'numpy' or None, got {name!r}")
