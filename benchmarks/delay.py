"""Delayed and batched feedback (issue 18): regret against the mean delay, next to the additive
term of the delayed-bandit literature.

Joulani, Gyorgy & Szepesvari (2013, "Online learning under delayed feedback", ICML) show that for
stochastic bandits delays cost an *additive* term: a base algorithm run on delayed feedback has
regret ``R(T) + O(sum_a Delta_a E[G*])``, with ``E[G*]`` (the most rewards outstanding at once)
of order ``E[tau]``; so, per unit of mean delay, the extra regret is of the order of
``sum_a Delta_a`` (at most ``K max_a Delta_a``): the ``O(K E[tau])`` of the issue. It does not
grow with ``T``. This script measures the slope ``dR(T) / dE[tau]`` (least squares of the final
pseudo-regret on the mean delay, per replicate, paired: every delay faces the same replicates,
contexts and noise), its 95% interval over replicates, and tabulates it next to
``sum_a Delta_a`` of the same replicates. It also checks the "additive" claim: the slope at
``T/2`` and at ``T`` should agree.

Environment: ``LinearBandit(n_actions=K, context_dim=2, interaction_scale=0)`` (the best action
is the same for every context, so the gaps ``Delta_a`` are constants: a K-armed stochastic
bandit with a shared context effect), noise 1. Agents: Thompson sampling and LinUCB (alpha 1)
on one shared Bayesian linear model. Delays: fixed and geometric (per replicate and step) with
the same means; batches of ``B`` steps (mean wait ``(B - 1) / 2``).

Run from the repository root (the figures in RESULTS.md)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/delay.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/delay.py --quick
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from _timing import machine_note
from regretlab.environments import LinearBandit
from regretlab.learners import BayesianLinearRegression
from regretlab.policies import LinUCB, ThompsonSampling
from regretlab.simulate import Agent, Feedback, run_bandit


def _agents(env):
    model = BayesianLinearRegression(groups=env.features, n_replicates=env.n_replicates)
    return [
        Agent("thompson", model, policy=ThompsonSampling()),
        Agent("linucb", model, policy=LinUCB(alpha=1.0)),
    ]


def _final(env, feedback, seed, horizon):
    result = run_bandit(
        env,
        _agents(env),
        seed=seed,
        checkpoints=np.array([horizon // 2, horizon]),
        feedback=feedback,
    )
    return result.regret.pivot_table(
        index=["agent", "replicate"], columns="step", values="pseudo_regret"
    )


def markdown(table: pd.DataFrame) -> str:
    """A pipe table (pandas' ``to_markdown`` needs ``tabulate``, which is not a dependency)."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |"]
    lines.append("| " + " | ".join("---" for _ in table.columns) + " |")
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def interval(values: np.ndarray, digits: int = 1) -> str:
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    m = values.mean()
    return f"{m:.{digits}f} [{m - half:.{digits}f}, {m + half:.{digits}f}]"


def _slope(table: pd.DataFrame, means: list[float], step: int) -> tuple[float, float, float]:
    """Mean per-replicate least-squares slope of regret on the mean delay, with a 95% interval."""
    y = np.stack([table[m][step].to_numpy() for m in means])  # (delays, replicates)
    x = np.asarray(means) - np.mean(means)
    slopes = x @ (y - y.mean(axis=0)) / (x @ x)
    half = 1.96 * slopes.std(ddof=1) / np.sqrt(len(slopes))
    return float(slopes.mean()), float(slopes.mean() - half), float(slopes.mean() + half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=int, default=2000)
    parser.add_argument("--replicates", type=int, default=60)
    parser.add_argument("--actions", type=int, default=5)
    parser.add_argument("--delays", type=float, nargs="+", default=[0, 5, 10, 20, 40])
    parser.add_argument("--batches", type=int, nargs="+", default=[10, 40])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.horizon, args.replicates, args.delays = 600, 12, [0, 5, 10]
    t, r, k = args.horizon, args.replicates, args.actions
    env = LinearBandit(
        n_actions=k,
        context_dim=2,
        interaction_scale=0.0,
        noise_level=1.0,
        horizon=t,
        n_replicates=r,
        seed=18,
    )
    means = env.take(1).means[:, 0]  # gaps are the same at every step (no interactions)
    gap_sum = (means.max(axis=1, keepdims=True) - means).sum(axis=1)
    print(f"# {machine_note()}; T={t}, R={r}, K={k}; machine shared with other jobs")
    start = time.perf_counter()
    runs: dict[tuple[str, float], pd.DataFrame] = {}
    for kind in ("fixed", "geometric"):
        for d in args.delays:
            if d == 0:
                feedback = Feedback()
            elif kind == "fixed":
                feedback = Feedback(delay=int(d))
            else:
                feedback = Feedback(delay="geometric", mean_delay=float(d), seed=7)
            runs[(kind, d)] = _final(env, feedback, 1, t)
    for b in args.batches:
        runs[("batch", (b - 1) / 2)] = _final(env, Feedback(batch_size=b), 1, t)
    seconds = time.perf_counter() - start

    rows = []
    for agent in ("thompson", "linucb"):
        for kind in ("fixed", "geometric"):
            table = {d: runs[(kind, d)].loc[agent] for d in args.delays}
            slope, lo, hi = _slope(table, args.delays, t)
            half, hlo, hhi = _slope(table, args.delays, t // 2)
            rows.append(
                {
                    "agent": agent,
                    "delay": kind,
                    "slope dR(T)/dE[tau]": f"{slope:.2f} [{lo:.2f}, {hi:.2f}]",
                    "slope at T/2": f"{half:.2f} [{hlo:.2f}, {hhi:.2f}]",
                    "sum_a Delta_a": f"{gap_sum.mean():.2f}",
                    "K max Delta": f"{k * (means.max(1) - means.min(1)).mean():.2f}",
                    "slope / sum Delta": f"{slope / gap_sum.mean():.2f}",
                }
            )
    print(markdown(pd.DataFrame(rows)))
    print()
    regret = []
    for (kind, d), table in runs.items():
        for agent in ("thompson", "linucb"):
            values = table.loc[agent][t].to_numpy()
            regret.append(
                {"agent": agent, "feedback": kind, "mean wait": d, "R(T)": interval(values)}
            )
    print(markdown(pd.DataFrame(regret)))
    print(f"\n{len(runs)} runs in {seconds:.0f} s")


if __name__ == "__main__":
    main()
