"""Learner throughput: our Bayesian learner against river's, side by side in one run.

Single stream: observations per second on the same 21-feature stream (the seed's 6 inputs and
15 pairwise products; our design adds an intercept column, river fits its own intercept), for
learn-only and for prequential predict-then-learn. Lockstep: replicate-observations per second
for R = 1000, d = 22, against a bare numpy update of the sufficient statistics.

    OPENBLAS_NUM_THREADS=1 python benchmarks/throughput.py
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import best_of, machine_note
from river import linear_model

from regretlab.environments import InteractionStream
from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression


def single_stream(n: int) -> dict[str, float]:
    env = InteractionStream(x_dim=6, horizon=n, seed=0, noise_level=0.5)
    obs = env.take(n)
    design = env.features.transform(obs.x)
    ys = obs.y.tolist()
    names = env.features.names[1:]
    dicts = [dict(zip(names, row, strict=True)) for row in design[:, 1:].tolist()]
    rows = list(design)

    def ours(cls, predict):
        def run():
            model = cls(groups=env.features)
            for x, y in zip(rows, ys, strict=True):
                if predict:
                    model.predict_one(x)
                model.learn_one(x, y)
            model.mean  # noqa: B018 - the posterior is part of the work

        return run

    def river(cls, predict):
        def run():
            model = cls()
            for x, y in zip(dicts, ys, strict=True):
                if predict:
                    model.predict_one(x)
                model.learn_one(x, y)

        return run

    out = {}
    for predict in (False, True):
        mode = "predict+learn" if predict else "learn"
        out[f"ours BayesianLinearRegression {mode}"] = n / best_of(
            ours(BayesianLinearRegression, predict)
        )
        out[f"ours NormalInverseGammaRegression {mode}"] = n / best_of(
            ours(NormalInverseGammaRegression, predict)
        )
        out[f"river BayesianLinearRegression {mode}"] = n / best_of(
            river(linear_model.BayesianLinearRegression, predict)
        )
        out[f"river LinearRegression {mode}"] = n / best_of(
            river(linear_model.LinearRegression, predict)
        )
    return out


def lockstep(n_replicates: int, steps: int) -> dict[str, float]:
    env = InteractionStream(x_dim=6, horizon=steps, n_replicates=n_replicates, seed=1)
    obs = env.take(steps)
    design = np.ascontiguousarray(np.moveaxis(env.features.transform(obs.x), 1, 0))
    y = np.ascontiguousarray(obs.y.T)
    p = design.shape[-1]

    def ours(predict):
        def run():
            model = BayesianLinearRegression(groups=env.features, n_replicates=n_replicates)
            for t in range(steps):
                if predict:
                    model.predict_one(design[t])
                model.learn_one(design[t], y[t])
            model.mean  # noqa: B018

        return run

    def bare_stats():
        xtx = np.zeros((n_replicates, p, p))
        xty = np.zeros((n_replicates, p))
        for t in range(steps):
            x = design[t]
            xtx += x[:, :, None] * x[:, None, :]
            xty += x * y[t][:, None]

    total = n_replicates * steps
    return {
        "ours lockstep learn": total / best_of(ours(False), 2),
        "ours lockstep predict+learn": total / best_of(ours(True), 2),
        "bare numpy X'X update": total / best_of(bare_stats, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="single-stream observations")
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    print(machine_note())
    single = single_stream(args.n)
    print(f"\nsingle stream, {args.n} observations, 21 features (+ intercept)")
    for key, rate in single.items():
        print(f"  {key:50s} {rate:>12,.0f} obs/s")
    for mode in ("learn", "predict+learn"):
        ours = single[f"ours BayesianLinearRegression {mode}"]
        for peer in ("BayesianLinearRegression", "LinearRegression"):
            ratio = ours / single[f"river {peer} {mode}"]
            print(f"  ratio ours / river {peer} ({mode}): {ratio:.2f}x")
    lock = lockstep(args.replicates, args.steps)
    print(f"\nlockstep, R={args.replicates}, d=22, {args.steps} steps")
    for key, rate in lock.items():
        print(f"  {key:50s} {rate:>12,.0f} replicate-obs/s")
    base = lock["bare numpy X'X update"]
    print(f"  ratio ours learn / bare update: {lock['ours lockstep learn'] / base:.2f}x")
    print(f"  ratio ours predict+learn / bare: {lock['ours lockstep predict+learn'] / base:.2f}x")


if __name__ == "__main__":
    main()
