"""``run_prequential``'s loss tallies alone: numpy's running sums against the compiled pass.

For a time-blocked agent at R = 1000 (d = 22: 600 steps in 113-step segments; d = 56: 150
steps in 59-step segments, the runner's segments at the default budget), in one process,
interleaved, CPU time, best of the rounds:

- ``time-first``: what the runner did without numba until the eighth session: the block's
  outputs and means copied time first, then per segment the predictions copied time first,
  seven elementwise passes and two ``add.accumulate`` running sums (a copy of that code here);
- ``numpy``: :func:`~regretlab.simulate._losses.add_losses_numpy` (what the runner does now
  without numba): the losses replicate first, the running sums a column at a time;
- ``compiled``: :func:`~regretlab.simulate._losses.add_losses` over the replicate-first arrays
  (what the runner does with numba; nothing is copied).

The tallies of the three are compared bit for bit.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/prequential_tallies.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from regretlab.simulate._losses import add_losses, compiled_losses

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
    print(
        "| d | steps | segment | time-first ms | numpy ms | compiled ms | time-first / numpy "
        "| numpy / compiled | same bits |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for d, (steps, segment) in POINTS.items():
        ms, same = _measure(steps, segment, args.rounds, kernel, rng)
        print(
            f"| {d} | {steps} | {segment} | {ms['time-first']:.2f} | {ms['numpy']:.2f} | "
            f"{ms['compiled']:.2f} | {ms['time-first'] / ms['numpy']:.1f}x | "
            f"{ms['numpy'] / ms['compiled']:.1f}x | {same} |",
            flush=True,
        )


def _time_first_losses(
    yhat: np.ndarray, y: np.ndarray, mean: np.ndarray, expected: np.ndarray, excess: np.ndarray
) -> None:
    """The seventh session's ``add_losses_numpy`` (time-first ``(m, R)`` arrays), agent 0."""
    miss = yhat - mean
    miss *= miss
    extra = yhat - y
    extra *= extra
    other = mean - y
    other *= other
    extra -= other
    for tally, losses in ((expected[0, ...], miss), (excess[0, ...], extra)):
        losses[0] += tally
        np.add.accumulate(losses, axis=0, out=losses)
        tally[...] = losses[-1]


def _measure(
    steps: int, segment: int, rounds: int, kernel: Callable[..., None], rng: np.random.Generator
) -> tuple[dict[str, float], bool]:
    """Best CPU ms of each path; whether their tallies agree."""
    y, mean = rng.standard_normal((2, R, steps))
    yhat = [rng.standard_normal((R, min(segment, steps - s))) for s in range(0, steps, segment)]

    def time_first_path(expected: np.ndarray, excess: np.ndarray) -> None:
        y_t = np.ascontiguousarray(y.T)
        mean_t = np.ascontiguousarray(mean.T)
        for s, pred in zip(range(0, steps, segment), yhat, strict=True):
            rows = slice(s, s + pred.shape[-1])
            losses = np.ascontiguousarray(pred.T)
            _time_first_losses(losses, y_t[rows], mean_t[rows], expected, excess)

    def path(use: Callable[..., None] | None) -> Callable[[np.ndarray, np.ndarray], None]:
        def run(expected: np.ndarray, excess: np.ndarray) -> None:
            for s, pred in zip(range(0, steps, segment), yhat, strict=True):
                rows = slice(s, s + pred.shape[-1])
                add_losses(0, pred, y, mean, rows, expected, excess, use)

        return run

    paths: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {
        "time-first": time_first_path,
        "numpy": path(None),
        "compiled": path(kernel),
    }
    tallies = {name: np.zeros((2, 1, R)) for name in paths}
    for name, run in paths.items():  # compile, warm; the tallies compared
        run(*tallies[name])
    best = dict.fromkeys(paths, np.inf)
    for _ in range(rounds):
        for name, run in paths.items():
            scratch = np.zeros((2, 1, R))
            start = time.process_time()
            run(*scratch)
            best[name] = min(best[name], time.process_time() - start)
    same = all(np.array_equal(tallies["compiled"], t) for t in tallies.values())
    return {name: 1e3 * t for name, t in best.items()}, same


if __name__ == "__main__":
    main()
