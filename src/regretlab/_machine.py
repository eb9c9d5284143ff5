"""What a result may depend on beyond the seed: the CPU, the BLAS library and its kernel.

Floating-point results are meant to be the same on every machine, but a BLAS kernel chosen for
the CPU sums in its own order, so the last bits can differ; a sweep records what it ran on.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

__all__ = ["machine"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_numbers() -> dict[str, str]:
    """x86 family, model and stepping: "AMD EPYC" alone does not tell Zen 3 from Zen 4."""
    out: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("cpu family", "model", "stepping") and key not in out:
                out[key] = value.strip()
            if not line.strip() and out:
                break
    except OSError:
        pass
    return out


def _blas() -> list[dict[str, Any]]:
    try:
        import numpy  # noqa: F401  (loads the BLAS that threadpoolctl then reports)
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return []
    keys = ("internal_api", "version", "architecture", "threading_layer", "num_threads")
    return [
        {k: info.get(k) for k in keys} | {"library": Path(info.get("filepath", "")).name}
        for info in threadpool_info()
    ]


def machine() -> dict[str, Any]:
    """CPU model and numbers, BLAS libraries with their kernels, and the BLAS variables set.

    >>> sorted(machine())
    ['blas', 'blas_environment', 'cpu', 'cpu_count', 'cpu_numbers']
    """
    variables = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    return {
        "cpu": _cpu_model(),
        "cpu_numbers": _cpu_numbers(),
        "cpu_count": os.cpu_count(),
        "blas": _blas(),
        "blas_environment": {v: os.environ[v] for v in variables if v in os.environ},
    }
