"""Non-stationarity (issue 18): sliding-window, discounted and changepoint Thompson sampling
against plain Thompson sampling and an oracle that restarts at the true changes; and the price of
that protection on a stream that never changes.

Environment: ``LinearBandit(n_actions=3, context_dim=2)`` (interactions on, noise 0.5), horizon
``T``, and four scenarios: ``abrupt`` (the truth redrawn at ``T/3`` and ``2T/3``), ``gradual``
(a linear ramp to a new draw over ``[T/4, 3T/4]``), ``arm appears`` (action 2 is 2 lower until
``T/2``: :class:`~regretlab.environments.ArmAppears`) and ``stationary``.

Every agent is Thompson sampling on one shared Bayesian linear model (``ActionFeatures``, prior
variance 1, the noise precision known). The non-stationary ones are configured by the rules of
:mod:`regretlab.learners.drift_rules` from ``T`` and ``C = 2`` expected changes, the same ``C`` in
every scenario (what a user guarding against about two changes would set; never tuned here):
window ``ceil(2 sqrt(T log T / C))``, discount ``1 - sqrt(C/T)/4``, hazard ``C/T``;
``max_run = min(T, 500)`` bounds BOCPD's cost (a stated budget, not a fit). The oracle restarts
a plain model at the first step of every true change (for ``gradual``, at the start and the end
of the ramp; for ``stationary`` it is the plain model, with Thompson draws from its own
generator, so it differs from ``plain`` by Monte Carlo noise only).

``--policy linucb`` runs the same agents with LinUCB (alpha 1): sliding-window and discounted
LinUCB (SW-LinUCB, D-LinUCB) and BOCPD with the mixture's sd as the bonus.

Reported: final pseudo-regret (mean, 95% interval over replicates) and each agent's regret over
plain Thompson sampling's (ratio of means, 95% paired bootstrap interval); on ``stationary`` that
ratio is the price of forgetting.

Run from the repository root (the figures in RESULTS.md)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/drift.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/drift.py --quick
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

from _timing import machine_note
from delay import interval, markdown
from regretlab.environments import AbruptChange, ArmAppears, GradualDrift, LinearBandit
from regretlab.learners import (
    BayesianLinearRegression,
    ChangepointBayesianLinearRegression,
    SlidingWindowBayesianLinearRegression,
    changepoint_hazard,
    discount_factor,
    sliding_window,
)
from regretlab.policies import LinUCB, ThompsonSampling
from regretlab.simulate import Agent, run_bandit

NOISE = 0.5


class RestartAt:
    """The oracle's learner: a fresh model at each given step (it knows the true changes)."""

    def __init__(self, model: Any, steps: list[int]) -> None:
        self.model, self.steps, self.t = model, sorted(steps), 0
        self.n_replicates = model.n_replicates

    def learn_one(self, x, y):
        self.t += 1
        if self.t + 1 in self.steps:  # the next step is the first of a new truth
            self.model = self.model.clone()
        else:
            self.model.learn_one(x, y)
        return self

    def predict_one(self, x, **kwargs):
        return self.model.predict_one(x, **kwargs)

    def sample(self, rng, size=None):
        return self.model.sample(rng, size)

    @property
    def mean(self):
        return self.model.mean

    def clone(self):
        return RestartAt(self.model.clone(), self.steps)


def scenarios(t: int, r: int) -> dict[str, tuple[Any, list[int]]]:
    def base():
        return LinearBandit(
            n_actions=3, context_dim=2, noise_level=NOISE, horizon=t, n_replicates=r, seed=181
        )

    return {
        "abrupt": (
            AbruptChange(AbruptChange(base(), t // 3, seed=1), 2 * t // 3, seed=2),
            [t // 3, 2 * t // 3],
        ),
        "gradual": (GradualDrift(base(), t // 4, 3 * t // 4, seed=3), [t // 4, 3 * t // 4]),
        "arm appears": (ArmAppears(base(), t // 2, actions=(2,), gap=2.0), [t // 2]),
        "stationary": (base(), []),
    }


def agents(
    env: Any, changes: list[int], n_changes: float, policy: str, max_run: int
) -> list[Agent]:
    t, r, groups = env.horizon, env.n_replicates, env.features
    common = {"groups": groups, "n_replicates": r, "noise_precision": 1 / NOISE**2}
    ts = ThompsonSampling() if policy == "thompson" else LinUCB(alpha=1.0)
    plain = BayesianLinearRegression(**common)
    return [
        Agent("plain", plain, policy=ts),
        Agent(
            "sliding window",
            SlidingWindowBayesianLinearRegression(window=sliding_window(t, n_changes), **common),
            policy=ts,
        ),
        Agent(
            "discounted",
            BayesianLinearRegression(forgetting=discount_factor(t, n_changes), **common),
            policy=ts,
        ),
        Agent(
            "changepoint",
            ChangepointBayesianLinearRegression(
                hazard=changepoint_hazard(t, n_changes), max_run=max_run, **common
            ),
            policy=ts,
        ),
        Agent("oracle restart", RestartAt(plain, changes), policy=ts),
    ]


def ratio_interval(a: np.ndarray, b: np.ndarray, seed: int = 0) -> str:
    """``mean(a) / mean(b)`` with a 95% paired bootstrap interval (2000 resamples)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(2000, len(a)))
    boot = a[idx].mean(axis=1) / b[idx].mean(axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return f"{a.mean() / b.mean():.2f} [{lo:.2f}, {hi:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=int, default=1500)
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--n-changes", type=float, default=2.0)
    parser.add_argument("--policy", choices=("thompson", "linucb"), default="thompson")
    parser.add_argument("--max-run", type=int, default=500, help="BOCPD's budget, capped at T")
    parser.add_argument("--scenarios", nargs="+", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.horizon, args.replicates = 900, 8
    t, r, c = args.horizon, args.replicates, args.n_changes
    max_run = min(t, args.max_run)
    print(f"# {machine_note()}; T={t}, R={r}, C={c}, {args.policy}; machine shared with other jobs")
    print(
        f"# window {sliding_window(t, c)}, discount {discount_factor(t, c):.5f} "
        f"(memory {1 / (1 - discount_factor(t, c)):.0f}), hazard {changepoint_hazard(t, c):.2e}, "
        f"max_run {max_run}"
    )
    rows = []
    for name, (env, changes) in scenarios(t, r).items():
        if args.scenarios and name not in args.scenarios:
            continue
        start = time.perf_counter()
        result = run_bandit(
            env, agents(env, changes, c, args.policy, max_run), seed=5, checkpoints=np.array([t])
        )
        final = result.regret.pivot_table(
            index="replicate", columns="agent", values="pseudo_regret"
        )
        seconds = time.perf_counter() - start
        for agent in final.columns:
            values = final[agent].to_numpy()
            rows.append(
                {
                    "scenario": name,
                    "agent": agent,
                    "R(T)": interval(values),
                    "over plain": ratio_interval(values, final["plain"].to_numpy()),
                }
            )
        print(f"# {name}: {seconds:.0f} s")
    print(markdown(pd.DataFrame(rows)))


if __name__ == "__main__":
    main()
