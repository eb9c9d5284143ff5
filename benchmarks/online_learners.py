"""Online learners on the seed's scenarios: prequential regret, and throughput against river.

Regret: every learner family predicts, then learns, on the same streams (common random numbers):
SGD with three schedules, our Bayesian learner under several grouped priors, the
Normal-Inverse-Gamma learner (noise learned online), river's LinearRegression and
BayesianLinearRegression through the adapter, and a full least-squares refit at every step (the
seed notebook's approach, from sufficient statistics). Cumulative expected regret
``sum (yhat - mean)^2`` at the last step, mean and 95% interval over replicates.

Throughput: single-stream observations per second on the same 21-feature stream (the seed's 6
inputs and 15 pairwise products; our design adds an intercept column, river fits its own), for
learn-only and for prequential predict-then-learn; and lockstep replicate-observations per second
for R = 1000, d = 22, against a bare numpy update of the sufficient statistics.

    OPENBLAS_NUM_THREADS=1 python benchmarks/online_learners.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from river import linear_model

from _timing import best_of, machine_note
from regretlab.environments import InteractionStream
from regretlab.learners import (
    BayesianLinearRegression,
    LeastSquares,
    NormalInverseGammaRegression,
    RiverRegressor,
    SGDLinearRegression,
)
from regretlab.learners import stats as ss
from regretlab.plots import plot_regret, save_figure
from regretlab.simulate import Agent, run_prequential, summarise

# The seed notebook's scenarios: (name, x_dim, noise_level, interaction_scale).
SCENARIOS = [
    ("low_interaction", 6, 2.0, 0.01),
    ("high_interaction", 6, 2.0, 1.0),
    ("super_high_interaction", 6, 2.0, 3.0),
    ("low_noise_low_int", 6, 0.5, 0.05),
    ("more_features", 10, 0.5, 0.05),
    ("few_features_high_noise", 2, 2.0, 0.05),
    ("few_features_high_int_low_noise", 2, 0.1, 1.0),
]


class FullRefit:
    """Least squares refitted on all data so far at every prediction (the notebook's approach).

    Kept as sufficient statistics, so a refit is one small solve, not a pass over the rows.
    """

    def __init__(self, *, groups, n_replicates=None):
        self.groups, self.n_replicates = groups, n_replicates
        self._labels = tuple(groups.groups)
        p = len(self._labels)
        self._stats = ss.empty(() if n_replicates is None else (n_replicates,), p)
        self._coef = np.zeros(self._stats.xty.shape)

    def learn_one(self, x, y):
        self._stats = ss.combine(
            self._stats, ss.from_rows(x[..., None, :], np.asarray(y)[..., None])
        )
        self._coef = LeastSquares().coef(self._stats, self._labels)
        return self

    def predict_one(self, x):
        return np.einsum("...p,...p->...", x, self._coef)

    def clone(self):
        return FullRefit(groups=self.groups, n_replicates=self.n_replicates)


def _river_factory(kind):
    def make():
        return (
            linear_model.BayesianLinearRegression()
            if kind == "blr"
            else linear_model.LinearRegression()
        )

    return make


def regret_agents(env, noise_level):
    fm, r = env.features, env.n_replicates
    beta = 1.0 / noise_level**2
    bayes = {
        "bayes main only": {"pairwise": 0.0},
        "bayes unit prior": 1.0,
        "bayes seed -1/-1": {"intercept": 1.0, "main": 0.1, "pairwise": 0.1},
        "bayes seed 1/-1": {"intercept": 1.0, "main": 10.0, "pairwise": 0.1},
        "bayes seed -1/-3": {"intercept": 1.0, "main": 0.1, "pairwise": 1e-3},
    }
    agents = [
        Agent(
            name,
            BayesianLinearRegression(
                groups=fm, prior_variance=prior, noise_precision=beta, n_replicates=r
            ),
        )
        for name, prior in bayes.items()
    ]
    agents += [
        Agent("nig (noise learned)", NormalInverseGammaRegression(groups=fm, n_replicates=r)),
        Agent("sgd constant", SGDLinearRegression(groups=fm, learning_rate=0.01, n_replicates=r)),
        Agent(
            "sgd invscaling",
            SGDLinearRegression(
                groups=fm, learning_rate=0.05, schedule="invscaling", n_replicates=r
            ),
        ),
        Agent(
            "sgd adagrad",
            SGDLinearRegression(groups=fm, learning_rate=0.5, schedule="adagrad", n_replicates=r),
        ),
        Agent(
            "river LinearRegression",
            RiverRegressor(factory=_river_factory("lr"), groups=fm, n_replicates=r),
        ),
        Agent(
            "river BayesianLinearRegression",
            RiverRegressor(factory=_river_factory("blr"), groups=fm, n_replicates=r),
        ),
        Agent("full refit (OLS)", FullRefit(groups=fm, n_replicates=r)),
    ]
    return agents


def regret_study(replicates: int, horizon: int, out) -> None:
    tables = []
    for name, x_dim, noise, scale in SCENARIOS:
        env = InteractionStream(
            x_dim=x_dim,
            noise_level=noise,
            interaction_scale=scale,
            horizon=horizon,
            n_replicates=replicates,
            seed=2024,
        )
        result = run_prequential(env, regret_agents(env, noise), environment=name)
        tables.append(result.regret)
        if out is not None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(9, 5), layout="constrained")
            plot_regret(
                result.regret,
                ax=fig.subplots(),
                title=f"{name} (x_dim={x_dim}, noise={noise}, interaction_scale={scale})",
            )
            save_figure(fig, out / f"regret_{name}.png", dpi=90)
    table = pd.concat(tables, ignore_index=True)
    last = table[table.step == horizon]
    summary = summarise(last, ["environment", "agent"], "expected_regret")
    best = summary.groupby("environment")["mean"].transform("min")
    summary["ratio_to_best"] = summary["mean"] / best
    if out is not None:
        table.to_parquet(out / "online_regret.parquet", index=False)
        summary.to_csv(out / "online_regret_summary.csv", index=False)
    print(
        f"\nprequential expected regret at T={horizon}, {replicates} replicates "
        "(mean [95% interval], ratio to the best agent of the scenario)"
    )
    for env_name, part in summary.groupby("environment", sort=False):
        print(f"  {env_name}")
        for _, row in part.sort_values("mean").iterrows():
            print(
                f"    {row.agent:34s} {row['mean']:10.2f} [{row.lower:9.2f}, {row.upper:9.2f}]"
                f"  x{row.ratio_to_best:.2f}"
            )


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
    parser.add_argument("--regret-replicates", type=int, default=20)
    parser.add_argument("--horizon", type=int, default=2000, help="regret study steps")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/online_learners"))
    parser.add_argument("--skip-regret", action="store_true")
    args = parser.parse_args()
    print(machine_note())
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.skip_regret:
        regret_study(args.regret_replicates, args.horizon, args.out)
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
