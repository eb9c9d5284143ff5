"""The package's structure: what importing a package loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import regretlab
import regretlab.experiments as experiments

# The folder holding the regretlab that the tests import, for Python subprocesses.
SRC = str(Path(regretlab.__file__).resolve().parent.parent)


def test_experiments_package_loads_no_numpy():
    # A spawned pool worker imports the package to unpickle pin_blas_threads, which must run
    # before numpy loads a BLAS library.
    code = (
        "import sys, regretlab.experiments.executors; "
        "sys.exit('numpy' in sys.modules or 'regretlab.experiments.sweep' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


def test_experiments_package_exports_resolve():
    for name in experiments.__all__:
        assert getattr(experiments, name) is not None, name
    assert set(experiments.__all__) <= set(dir(experiments))
