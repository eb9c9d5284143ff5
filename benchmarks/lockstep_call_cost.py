"""What one call of the numba lockstep kernel costs beside its rows (issue 19, segments).

``learners._lockstep.predict_learn_numba`` (with the statistics) at R = 1000 on random rows,
called on the first ``m`` rows for several ``m``: CPU time per call, best of 7. The cost of a
call is about ``a + b m`` per replicate; ``a`` (the intercept, in steps' worth ``a / b``) is what
every extra segment of ``run_prequential`` costs: each call reads and writes every replicate's
covariance and ``X'X`` once (``4 p^2`` numbers).

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/lockstep_call_cost.py --dims 22 56
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from regretlab.learners import _lockstep

R = 1000
ROWS = (1, 2, 8, 30, 59, 113, 150)


def _per_call(x: np.ndarray, y: np.ndarray, m: int, calls: int) -> float:
    p = x.shape[-1]
    mean, cov = np.zeros((R, p)), np.broadcast_to(np.eye(p), (R, p, p)).copy()
    out = np.empty(y.shape)
    stats = (np.zeros((R, p, p)), np.zeros((R, p)), np.zeros(R), np.zeros(R))
    start = time.process_time()
    for _ in range(calls):
        _lockstep.predict_learn_numba(mean, cov, x, y, 1.0, out, stats, slice(0, m))
    return (time.process_time() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[22, 56])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| p | rows per call | us per replicate per call |")
    print("| ---: | ---: | ---: |")
    for p in args.dims:
        x = rng.uniform(-1, 1, (R, max(ROWS), p))
        y = rng.standard_normal((R, max(ROWS)))
        _per_call(x, y, 1, 2)  # compile, warm
        costs = {m: min(_per_call(x, y, m, 10 if m < 30 else 3) for _ in range(7)) for m in ROWS}
        for m, cost in costs.items():
            print(f"| {p} | {m} | {1e6 * cost / R:.2f} |")
        slope, intercept = np.polyfit(list(costs), [1e6 * c / R for c in costs.values()], 1)
        print(
            f"| {p} | fit: a + b m | a = {intercept:.2f}, b = {slope:.3f} "
            f"(a call = {intercept / slope:.1f} rows) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
