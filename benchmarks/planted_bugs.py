"""Hardening (issue 20): plant each of six plausible one-line bugs, run the tests meant to catch
it, restore the file byte for byte. Prints caught / SURVIVED per bug.

Run from the repository root (about a minute)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/planted_bugs.py
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUGS = [
    (
        "ModelAveraging mixture sd without the between-candidate spread",
        "src/regretlab/policies/escalation/_grids.py",
        "    return mean, np.sqrt(np.maximum(second - mean**2, 0.0))",
        "    return mean, np.sqrt((w * np.where(w > 0.0, sd**2, 0.0)).sum(axis=0))",
        ["tests/test_closed_forms.py"],
    ),
    (
        "ModelAveraging.sample draws the candidates reversed",
        "src/regretlab/policies/escalation/candidates.py",
        "        pick = np.minimum(pick, self._g - 1)\n",
        "        pick = self._g - 1 - np.minimum(pick, self._g - 1)\n",
        ["tests/test_closed_forms.py"],
    ),
    (
        "sign flip in the pending-update correction of the predictive variance",
        "src/regretlab/learners/gaussian.py",
        '        var = var - np.einsum("...k,...k->...", fx, fx)',
        '        var = var + np.einsum("...k,...k->...", fx, fx)',
        ["tests/test_closed_forms.py"],
    ),
    (
        "bandit runner: pseudo-regret from the realised reward",
        "src/regretlab/simulate/bandit.py",
        "                pseudo[a] += best - mean\n",
        "                pseudo[a] += best - reward\n",
        ["tests/test_closed_forms.py"],
    ),
    (
        "Thompson sampling scales the draw around 0, not the posterior mean",
        "src/regretlab/policies/propensities.py",  # posterior_scores, since 29b7308
        "        weights = center + scale * (weights - center)",
        "        weights = scale * weights",
        ["tests/test_closed_forms.py"],
    ),
    (
        "LinUCB bonus uses the variance instead of the sd (MABWiser parity)",
        "src/regretlab/policies/exploration.py",
        "        return np.asarray(loc) + self.alpha * np.asarray(sd)\n",  # LinUCB._scores
        "        return np.asarray(loc) + self.alpha * np.asarray(sd) ** 2\n",
        ["tests/test_linucb_parity.py"],
    ),
]
for name, path, old, new, tests in BUGS:
    file = ROOT / path
    original = file.read_text()
    assert original.count(old) == 1, (name, original.count(old))
    file.write_text(original.replace(old, new))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "OPENBLAS_NUM_THREADS": "1"},
        )
    finally:
        file.write_text(original)
    last = done.stdout.strip().splitlines()[-1]
    print(
        f"{'caught  ' if done.returncode else 'SURVIVED'} | {name} | {' '.join(tests)} | {last}",
        flush=True,
    )
