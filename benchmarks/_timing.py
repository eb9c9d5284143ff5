"""Small timing helpers shared by the benchmark scripts (never imported by the package)."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

import numpy as np


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` runs (the least disturbed by the rest of the machine)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return float(best)


def machine_note() -> str:
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    return (
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores, "
        f"OPENBLAS_NUM_THREADS={threads}"
    )
