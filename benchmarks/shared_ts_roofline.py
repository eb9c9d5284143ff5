"""Shared-model Thompson sampling (issue 19): the factor's rank-one downdate against the copy
bandwidth, at d = 36, R = 1000 (the case of ``bandit_throughput.py shared_ts``).

Each step downdates every replicate's kept Cholesky factor (``learners/_factor_kernel.py``,
``learn_step``): the upper triangle, ``d (d + 1) / 2 x R`` doubles, is read and written once.
This times the downdate alone (CPU time, best of 20, with the draw ``L z`` gathered as a run
does; the mean's update, a single pass, left out) and the machine's copy
bandwidth (``regretlab.bench.machine.measure_ceilings``, 64 MB arrays, wall time), and prints
what reading and writing the triangle would take at that bandwidth.

It also times the step on the factor of a run over ``ActionFeatures`` rows (the case of the
benchmark: a prior's factor downdated by 40 rows of random actions, then 20 timed steps),
once over the whole triangle and once over the entries that may be nonzero (the compiled
step's pattern, ``_factor_kernel.pattern_of``): the same bits, alternated in one process.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/shared_ts_roofline.py
    REGRETLAB_NUMBA=0 OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/shared_ts_roofline.py
"""

from __future__ import annotations

import time

import numpy as np

from regretlab.bench.machine import measure_ceilings
from regretlab.features import ActionFeatures
from regretlab.learners import _factor_kernel

P, R = 36, 1000


def main() -> None:
    clock = time.process_time
    rng = np.random.default_rng(0)
    a = rng.standard_normal((R, P, 2 * P))
    cov = a @ a.swapaxes(1, 2) / (2 * P) + np.eye(P)
    # L' per replicate, the replicate axis last (the layout the model keeps).
    start = np.ascontiguousarray(np.moveaxis(np.linalg.cholesky(cov).swapaxes(1, 2), 0, -1))
    x = rng.uniform(-1, 1, (R, P))
    z = rng.standard_normal((R, P))
    _factor_kernel.learn_step(start.copy(), x, 1.0, z)  # compile outside the timing
    best = np.inf
    for _ in range(20):
        upper = start.copy()
        began = clock()
        _factor_kernel.learn_step(upper, x, 1.0, z)
        best = min(best, clock() - began)
    structured()
    ceilings = measure_ceilings(copy_mb=64.0, matmul_n=512, repeats=5)
    triangle = P * (P + 1) // 2 * R * 8
    floor = triangle / (ceilings.copy_gbs * 1e9)
    print(f"downdate alone (d = {P}, R = {R}): {1e3 * best:.3f} ms per step (CPU time)")
    print(f"copy bandwidth: {ceilings.copy_gbs:.2f} GB/s (64 MB arrays, best of 5)")
    print(
        f"the factor's upper triangle, {triangle / 1e6:.2f} MB, read and written at that "
        f"bandwidth: {1e3 * floor:.3f} ms (the downdate takes {best / floor:.1f}x that)"
    )


def structured(rounds: int = 15) -> None:
    """The step on a factor of ``ActionFeatures`` rows: whole triangle against the pattern."""
    clock = time.process_time
    rng = np.random.default_rng(1)
    fm = ActionFeatures(5, 5)
    rows = []
    for _ in range(60):
        designs = fm.transform(rng.uniform(-1, 1, (R, 5)))
        rows.append(np.ascontiguousarray(designs[np.arange(R), rng.integers(0, 5, R)]))
    upper = np.zeros((P, P, R))
    upper[np.arange(P), np.arange(P)] = 1.0  # a unit prior's factor
    mean, z, resid = np.zeros((R, P)), rng.standard_normal((R, P)), rng.standard_normal(R)
    pattern = _factor_kernel.pattern_of(upper)
    for x in rows[:40]:
        _factor_kernel.learn_step(upper, x, 1.0, z, resid, mean, pattern=pattern)
    seconds: dict[str, list[float]] = {"whole triangle": [], "pattern": []}
    for _ in range(rounds):
        for name, kept in (("whole triangle", None), ("pattern", pattern)):
            factor, means = upper.copy(), mean.copy()
            grown = None if kept is None else kept.copy()
            began = clock()
            for x in rows[40:]:
                _factor_kernel.learn_step(factor, x, 1.0, z, resid, means, pattern=grown)
            seconds[name].append((clock() - began) / len(rows[40:]))
    if pattern is None:
        print("ActionFeatures factor: no pattern without numba (the whole triangle)")
    else:
        kept = sum(bin(int(word)).count("1") for word in pattern.reshape(-1))
        whole = P * (P + 1) // 2
        print(f"ActionFeatures factor (d = {P}, {kept} of {whole} entries may be nonzero)")
    for name, values in seconds.items():
        low, mid, high = np.percentile(values, [0, 50, 100]) * 1e3
        print(f"  step over the {name}: median {mid:.3f} ms (min {low:.3f}, max {high:.3f})")


if __name__ == "__main__":
    main()
