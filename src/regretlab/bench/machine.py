"""The machine's own ceilings, measured in the run: copy bandwidth and matmul GFLOP/s.

A kernel's share of each (a roofline) says how far it is from what the hardware does with
numpy on one thread: bytes a replicate-step must move over the copy bandwidth, flops it must do
over the matmul rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["Ceilings", "best_seconds", "measure_ceilings"]


class Ceilings(NamedTuple):
    """``copy_gbs``: bytes copied per second (each byte read once and written once), in GB/s;
    ``matmul_gflops``: float64 matrix product rate, in GFLOP/s (``2 n^3`` flops per product).

    >>> Ceilings(5.0, 40.0).copy_gbs
    5.0
    """

    copy_gbs: float
    matmul_gflops: float


def best_seconds(fn: Callable[[], object], repeats: int) -> float:
    """The shortest wall time of ``repeats`` calls of ``fn`` (the least disturbed one).

    >>> best_seconds(lambda: None, 3) >= 0.0
    True
    """
    best = np.inf
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return float(best)


def measure_ceilings(*, copy_mb: float = 64.0, matmul_n: int = 1024, repeats: int = 5) -> Ceilings:
    """Copy bandwidth on two ``copy_mb`` MB arrays (far larger than the caches by default) and
    the rate of an ``n x n`` float64 matrix product.

    >>> c = measure_ceilings(copy_mb=1.0, matmul_n=64, repeats=1)
    >>> c.copy_gbs > 0 and c.matmul_gflops > 0
    True
    """
    n = max(1, int(copy_mb * 1e6) // 8)
    src = np.random.default_rng(0).random(n)
    dst = np.empty_like(src)
    copy = best_seconds(lambda: np.copyto(dst, src), repeats)
    a = np.random.default_rng(1).random((matmul_n, matmul_n))
    b = np.random.default_rng(2).random((matmul_n, matmul_n))
    product = best_seconds(lambda: a @ b, repeats)
    return Ceilings(src.nbytes / copy / 1e9, 2.0 * matmul_n**3 / product / 1e9)
