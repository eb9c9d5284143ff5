"""What segments spanning blocks would save ``run_prequential``: its loop's core, three ways.

Issue 19, ninth session (not kept). ``run_prequential`` makes a segment's designs from one
block's rows, so a segment is never longer than a block (113 steps at R = 1000, d = 22; 59 at
d = 56). Longer segments cost the time-blocked learner less per step, but only if the blocks,
which hold three copies of the inputs, get shorter: then a segment spans blocks. Here the
stream's draws, the designs and the learner's calls (``BayesianLinearRegression``, R = 1000,
one process, variants alternating in every round, CPU time) run:

- ``main``: blocks of the runner's length, designs of each segment written from the block's
  rows into one reused buffer (what ``run_prequential`` does);
- ``gather``: blocks of a quarter of the budget, segments of three quarters (49 / 185 at
  d = 22, 32 / 87 at d = 56), each segment's inputs, outputs and means copied from the
  blocks it spans into reused buffers, then its designs made at once (the reverted b99d779);
- ``pieces``: the same lengths, but each block's piece of a segment written by columns
  straight into the segment's design buffer (a strided view: no copy of the inputs; only
  outputs and means gathered).

Printed: the median of each and of its paired difference from ``main`` with the rounds'
25th-75th percentiles, and the predictions' largest difference from ``main``'s.

    OPENBLAS_NUM_THREADS=1 [REGRETLAB_NUMBA=0] PYTHONPATH=src python \\
        benchmarks/segments_gather.py --dims 22 56 --rounds 21
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

from regretlab.environments import InteractionStream
from regretlab.learners import BayesianLinearRegression

R = 1000
POINTS = {22: (6, 600, (113, 113), (49, 185)), 56: (10, 150, (59, 59), (32, 87))}


def _variants(d: int) -> dict[str, Callable[[], np.ndarray]]:
    x_dim, horizon, (block, span), (short, long) = POINTS[d]
    env = InteractionStream(x_dim=x_dim, horizon=horizon, n_replicates=R, seed=0)
    fm = env.features
    p = fm.n_features
    model = BayesianLinearRegression(groups=fm, n_replicates=R)
    left, right = np.triu_indices(x_dim, k=1)

    def by_columns(x: np.ndarray, out: np.ndarray) -> None:
        """Designs of ``x`` ``(R, k, d)`` into ``out`` ``(R, k, p)`` (strided across
        replicates), replicates in chunks of about 2048 rows."""
        per = max(1, 2048 // x.shape[1])
        for a in range(0, x.shape[0], per):
            rows, o = x[a : a + per], out[a : a + per]
            o[..., 0] = 1.0
            o[..., 1 : 1 + x_dim] = rows
            columns = np.ascontiguousarray(np.moveaxis(rows, -1, 0))
            for c, (i, j) in enumerate(zip(left, right, strict=True)):
                np.multiply(columns[i], columns[j], out=o[..., 1 + x_dim + c])

    def main_way() -> np.ndarray:
        learner, buf, out = model.clone(), np.empty(R * span * p), []
        for b in env.blocks(block):
            for s in range(0, b.x.shape[-2], span):
                rows = b.x[:, s : s + span]
                shape = (R, rows.shape[1], p)
                design = fm.transform(rows, out=buf[: np.prod(shape)].reshape(shape))
                out.append(learner.predict_learn_many(design, b.y[:, s : s + span]))
        return np.concatenate(out, axis=1)

    def spanning(copy_inputs: bool) -> np.ndarray:
        learner, out = model.clone(), []
        dbuf, xbuf = np.empty(R * long * p), np.empty(R * long * x_dim)
        ybuf, mbuf = np.empty(R * long), np.empty(R * long)
        blocks = env.blocks(short)
        b, pos, n, t = None, 0, 0, 0
        while t < horizon:
            m = min(long, horizon - t)
            design = dbuf[: R * m * p].reshape(R, m, p)
            xs = xbuf[: R * m * x_dim].reshape(R, m, x_dim)
            ys, means = ybuf[: R * m].reshape(R, m), mbuf[: R * m].reshape(R, m)
            filled = 0
            while filled < m:
                if b is None or pos == n:
                    b = next(blocks)
                    pos, n = 0, b.y.shape[-1]
                k = min(m - filled, n - pos)
                if copy_inputs:
                    xs[:, filled : filled + k] = b.x[:, pos : pos + k]
                else:
                    by_columns(b.x[:, pos : pos + k], design[:, filled : filled + k])
                ys[:, filled : filled + k] = b.y[:, pos : pos + k]
                means[:, filled : filled + k] = b.mean[:, pos : pos + k]
                filled += k
                pos += k
            if copy_inputs:
                fm.transform(xs, out=design)
            out.append(learner.predict_learn_many(design, ys))
            t += m
        return np.concatenate(out, axis=1)

    return {
        "main": main_way,
        "gather": lambda: spanning(True),
        "pieces": lambda: spanning(False),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=list(POINTS))
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    print(
        f"# R = {R}, REGRETLAB_NUMBA={os.environ.get('REGRETLAB_NUMBA', '(unset)')}, "
        f"{args.rounds} rounds, load average {os.getloadavg()[0]:.1f}"
    )
    print("| d | variant | median ms | minus main ms [25%, 75%] | predictions vs main |")
    print("| ---: | --- | ---: | --- | --- |")
    for d in args.dims:
        variants = _variants(d)
        ref = variants["main"]()
        scale = np.abs(ref).max()
        errors = {k: float(np.abs(f() - ref).max() / scale) for k, f in variants.items()}
        times: dict[str, list[float]] = {k: [] for k in variants}
        for i in range(args.rounds):
            for key in list(variants) if i % 2 == 0 else list(variants)[::-1]:
                start = time.process_time()
                variants[key]()
                times[key].append(1e3 * (time.process_time() - start))
        base = np.asarray(times["main"])
        for key, values in times.items():
            v = np.asarray(values)
            q25, q50, q75 = np.percentile(v - base, [25, 50, 75])
            print(
                f"| {d} | {key} | {np.median(v):.1f} | {q50:+.1f} [{q25:+.1f}, {q75:+.1f}] "
                f"| {errors[key]:.1e} |"
            )
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
