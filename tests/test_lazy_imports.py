"""Importing regretlab's core loads none of the heavy optional modules (issue 19)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from regretlab._lazy import lazy_function, lazy_module

CORE = ("simulate", "learners", "policies", "environments")
HEAVY = ("pandas", "pyarrow", "matplotlib", "river", "dask", "tqdm", "scipy.stats")
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _loaded_after(statement: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    code = f"{statement}; import sys; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_the_core_subpackages_load_no_heavy_module() -> None:
    statement = "import " + ", ".join(f"regretlab.{name}" for name in CORE)
    assert _loaded_after(statement) == []


def test_the_probe_sees_a_heavy_module_when_one_is_loaded() -> None:
    # The check above can fail: the same probe reports pandas once the results need it.
    statement = (
        "import numpy as np; from regretlab.simulate import summarise; import pandas as pd; "
        "summarise(pd.DataFrame({'a': ['x'], 'v': [1.0]}), ['a'], 'v')"
    )
    assert {"pandas", "scipy.stats"} <= set(_loaded_after(statement))


def test_a_run_builds_its_tables_with_pandas_loaded_on_demand() -> None:
    statement = (
        "from regretlab.environments import InteractionStream; "
        "from regretlab.learners import BayesianLinearRegression; "
        "from regretlab.simulate import Agent, run_prequential; "
        "env = InteractionStream(x_dim=2, horizon=20, n_replicates=2, seed=0); "
        "a = Agent('b', BayesianLinearRegression(groups=env.features, n_replicates=2)); "
        "assert len(run_prequential(env, [a]).regret) > 0"
    )
    assert "pandas" in _loaded_after(statement)


def test_lazy_stand_ins_forward_to_the_real_objects() -> None:
    special = lazy_module("scipy.special")
    assert special.expit(0.0) == 0.5
    gammaln = lazy_function("scipy.special", "gammaln")
    np.testing.assert_allclose(gammaln(np.array([1.0, 5.0])), [0.0, np.log(24.0)])
    with pytest.raises(TypeError, match="name must be a non-empty module name"):
        lazy_module("")
