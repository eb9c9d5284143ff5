"""The numerical core under other OpenBLAS kernels (issue 14).

A CPU picks its OpenBLAS kernel at load time, and kernels sum in different orders; a verdict
or a tolerance that holds under one kernel and not another is a bug that shows on a user's
machine, not on ours. So the numerical-core tests run again in a fresh interpreter with the
kernel forced by ``OPENBLAS_CORETYPE``: Prescott (SSE3, the oldest x86-64 kernel) and Haswell
(AVX2; the kernel under which the unpivoted-Cholesky properness test failed on Zen 3).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = [
    "tests/test_rank.py",
    "tests/test_bayes.py",
    "tests/test_nig.py",
    "tests/test_disjoint.py",
    "tests/test_reference.py",
    "src/regretlab/learners",
]

pytestmark = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"), reason="OPENBLAS_CORETYPE names x86-64 kernels"
)


def _architecture(env: dict[str, str]) -> str:
    code = (
        "import numpy, threadpoolctl; "
        "print([i.get('architecture') for i in threadpoolctl.threadpool_info()])"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.parametrize("kernel", ["Prescott", "Haswell"])
def test_numerical_core_under_another_kernel(kernel):
    env = os.environ | {"OPENBLAS_CORETYPE": kernel, "OPENBLAS_NUM_THREADS": "1"}
    native = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    forced, default = _architecture(env), _architecture(native)
    if forced == default:
        pytest.skip(f"{kernel} gives this machine's own kernel ({default}): the main run covers it")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CORE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, (
        f"under {kernel} ({forced}):\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    )
