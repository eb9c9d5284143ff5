"""Properness (issue 14): the rank test's margins and its cost, measured.

Prints, for flat-prior problems like those of ``tests/test_rank.py`` (p 3-30, n 1-3p, columns
scaled by powers of two from 2^-26 to 2^26, mixed flat / finite / zero priors):

- the largest eigenvalue that rounding leaves in the equilibrated flat-block Schur complement
  of an exactly rank-deficient problem, and the smallest of a full-rank one with cond(X) up
  to 1e5, each against the default tolerance;
- the cost of ``LeastSquares.coef`` (every column flat) on a batch of 3,000 fits, against the
  unpivoted Cholesky solve it replaces (kept here as the reference: right only when the fit
  is determined), with warm memory (the first call pays page faults).

    OPENBLAS_NUM_THREADS=1 python benchmarks/rank.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from regretlab.features import InteractionFeatures
from regretlab.learners import LeastSquares
from regretlab.learners._cholesky import cho_solve
from regretlab.learners.rank import DEFAULT_RANK_TOL
from regretlab.learners.stats import from_rows
from test_rank import make_case, schur_eigenvalues


def margins(n_cases: int = 3000) -> None:
    for kind in ("under", "collinear", "full"):
        worst = []
        for seed in range(n_cases):
            x, _, variance, _ = make_case(10_000 + seed, kind, spread=20)
            eig = schur_eigenvalues(x, variance)
            flat = np.isinf(variance)
            n_null = flat.sum() - np.linalg.matrix_rank(x[:, flat] / np.abs(x[:, flat]).max(0))
            worst.append(np.abs(eig[:n_null]).max() if kind != "full" else eig.min())
        worst = np.array(worst)
        if kind == "full":
            print(
                f"{kind:9s} smallest eigenvalue {worst.min():.2e} "
                f"= {worst.min() / DEFAULT_RANK_TOL:.0f}x the tolerance ({n_cases} cases)"
            )
        else:
            print(
                f"{kind:9s} largest rounding eigenvalue {worst.max():.2e} "
                f"= tolerance / {DEFAULT_RANK_TOL / worst.max():.0f} ({n_cases} cases)"
            )


def cholesky_only(stats, groups):
    """The replaced path: centred Gram, unpivoted Cholesky, no rank test."""
    from regretlab.learners.reference import _active_columns, _assemble, _centred

    labels = tuple(groups)
    gram, xty, x_mean, y_mean, cols = _centred(stats, labels, _active_columns(labels, None))
    weights = cho_solve(np.linalg.cholesky(gram), xty[..., None])[..., 0]
    return _assemble(stats.xty.shape, weights, x_mean, y_mean, cols, labels.index("intercept"))


def cost() -> None:
    for x_dim in (3, 10):
        fm = InteractionFeatures(x_dim)
        rng = np.random.default_rng(0)
        x = fm.transform(rng.uniform(-1, 1, (3000, 200, x_dim)))
        stats = from_rows(x, rng.standard_normal((3000, 200)))
        times = {}
        for name, fit in (("rank test", LeastSquares().coef), ("cholesky only", cholesky_only)):
            fit(stats, fm.groups)
            start = time.perf_counter()
            for _ in range(3):
                out = fit(stats, fm.groups)
            times[name] = (time.perf_counter() - start) / 3
            times[name + " coef"] = out
        gap = np.abs(times["rank test coef"] - times["cholesky only coef"]).max()
        print(
            f"LeastSquares, 3000 fits, p={fm.n_features}: rank test {times['rank test']:.3f} s, "
            f"Cholesky only {times['cholesky only']:.3f} s "
            f"({times['rank test'] / times['cholesky only']:.2f}x); max coef difference {gap:.1e}"
        )


if __name__ == "__main__":
    margins()
    cost()
