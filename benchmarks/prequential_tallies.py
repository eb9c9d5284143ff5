"""``run_prequential``'s loss tallies alone: numpy's running sums against the compiled pass.

For a time-blocked agent at R = 1000 (d = 22: 600 steps in 113-step segments; d = 56: 150
steps in 59-step segments, the runner's segments at the default budget), in one process,
interleaved, CPU time, best of the rounds:

- ``numpy``: what the runner does without numba: the block's outputs and means copied time
  first, then per segment the predictions copied time first and
  :func:`~regretlab.simulate._losses.add_losses_numpy`;
- ``compiled``: :func:`~regretlab.simulate._losses.add_losses` over the replicate-first arrays
  (what the runner does with numba; nothing is copied).

The tallies of the two are compared bit for bit.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/prequential_tallies.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from regretlab.simulate._losses import add_losses, add_losses_numpy, compiled_losses

POINTS = {22: (600, 113), 56: (150, 59)}  # d: (steps, segment)
R = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    kernel = compiled_losses()
    if kernel is None:
        raise SystemExit("numba is not installed (or REGRETLAB_NUMBA=0): nothing to compare")
    rng = np.random.default_rng(0)
    print("| d | steps | segment | numpy ms | compiled ms | numpy / compiled | same bits |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for d, (steps, segment) in POINTS.items():
        numpy_ms, compiled_ms, same = _measure(steps, segment, args.rounds, kernel, rng)
        print(
            f"| {d} | {steps} | {segment} | {numpy_ms:.2f} | {compiled_ms:.2f} | "
            f"{numpy_ms / compiled_ms:.1f}x | {same} |",
            flush=True,
        )


def _measure(
    steps: int, segment: int, rounds: int, kernel: Callable[..., None], rng: np.random.Generator
) -> tuple[float, float, bool]:
    """Best CPU ms of the numpy path and of the compiled pass; whether their tallies agree."""
    y, mean = rng.standard_normal((2, R, steps))
    yhat = [rng.standard_normal((R, min(segment, steps - s))) for s in range(0, steps, segment)]

    def numpy_path(expected: np.ndarray, excess: np.ndarray) -> None:
        y_t = np.ascontiguousarray(y.T)
        mean_t = np.ascontiguousarray(mean.T)
        for s, pred in zip(range(0, steps, segment), yhat, strict=True):
            rows = slice(s, s + pred.shape[-1])
            losses = np.ascontiguousarray(pred.T)
            add_losses_numpy(0, losses, y_t[rows], mean_t[rows], expected, excess)

    def compiled_path(expected: np.ndarray, excess: np.ndarray) -> None:
        for s, pred in zip(range(0, steps, segment), yhat, strict=True):
            rows = slice(s, s + pred.shape[-1])
            add_losses(0, pred, y, mean, rows, expected, excess, kernel)

    paths: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {
        "numpy": numpy_path,
        "compiled": compiled_path,
    }
    tallies = {name: np.zeros((2, 1, R)) for name in paths}
    for name, path in paths.items():  # compile, warm; the tallies compared
        path(*tallies[name])
    best = dict.fromkeys(paths, np.inf)
    for _ in range(rounds):
        for name, path in paths.items():
            scratch = np.zeros((2, 1, R))
            start = time.process_time()
            path(*scratch)
            best[name] = min(best[name], time.process_time() - start)
    same = bool(np.array_equal(tallies["numpy"], tallies["compiled"]))
    return 1e3 * best["numpy"], 1e3 * best["compiled"], same


if __name__ == "__main__":
    main()
