"""The time-blocked learner alone, fed its rows in segments, against one call (issue 19).

``BayesianLinearRegression.predict_learn_many`` on pre-made contiguous designs of an
``InteractionStream`` (R = 1000; d = 22: 600 steps, d = 56: 150 steps, as
``prequential_overhead.py``), in segments of the given lengths (each segment's rows copied
beforehand, out of the timing): what ``run_prequential``'s segments cost the learner itself
(each call reads and writes every replicate's covariance and ``X'X`` once more). CPU time,
best of the rounds, the lengths interleaved in every round.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/prequential_segments.py \\
        --dims 22 56 --segments 0 300 113 59 30
"""

from __future__ import annotations

import argparse
import time

import numpy as np

POINTS = {22: (6, 600), 56: (10, 150)}
R = 1000


def _run(model: object, parts: list[tuple[np.ndarray, np.ndarray]]) -> float:
    learner = model.clone()  # type: ignore[attr-defined]
    start = time.process_time()
    for xs, ys in parts:
        learner.predict_learn_many(xs, ys)
    return time.process_time() - start


def main() -> None:
    from regretlab.environments import InteractionStream
    from regretlab.learners import BayesianLinearRegression

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=list(POINTS))
    parser.add_argument("--segments", type=int, nargs="+", default=[0, 300, 113, 59, 30])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print("| d | steps | segment | learner ms | / one call |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for d in args.dims:
        x_dim, steps = POINTS[d]
        env = InteractionStream(x_dim=x_dim, horizon=steps, n_replicates=R, seed=0)
        block = next(iter(env.blocks(steps)))
        x = np.ascontiguousarray(env.features.transform(block.x))
        y = np.ascontiguousarray(block.y)
        model = BayesianLinearRegression(groups=env.features, n_replicates=R)
        lengths = [s if 0 < s < steps else steps for s in args.segments]
        parts = {
            s: [
                (np.ascontiguousarray(x[:, a : a + s]), np.ascontiguousarray(y[:, a : a + s]))
                for a in range(0, steps, s)
            ]
            for s in lengths
        }

        best = dict.fromkeys(lengths, np.inf)
        for s in lengths:  # compile, warm
            _run(model, parts[s])
        for _ in range(args.rounds):
            for s in lengths:
                best[s] = min(best[s], _run(model, parts[s]))
        for s in lengths:
            print(
                f"| {d} | {steps} | {s} | {1e3 * best[s]:.0f} | {best[s] / best[steps]:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
