"""Non-stationarity (issue 18): sliding-window, discounted and changepoint Thompson sampling
against plain Thompson sampling and an oracle that restarts at the true changes; and the price of
that protection on a stream that never changes.

Environment: ``LinearBandit(n_actions=3, context_dim=2)`` (interactions on, noise 0.5), horizon
``T``, and four scenarios: ``abrupt`` (the truth redrawn at ``T/3`` and ``2T/3``), ``gradual``
(a linear ramp to a new draw over ``[T/4, 3T/4]``), ``arm appears`` (action 2 unavailable until
``T/2``: :class:`~regretlab.environments.ArmAppears`, an availability mask) and ``stationary``.

Every agent is Thompson sampling on one shared Bayesian linear model (``ActionFeatures``, prior
variance 1, the noise precision known). The non-stationary ones are configured by the rules of
:mod:`regretlab.learners.drift_rules` from ``T`` and ``C = 2`` expected changes, the same ``C`` in
every scenario (what a user guarding against about two changes would set; never tuned here):
window ``ceil(2 sqrt(T log T / C))``, discount ``1 - sqrt(C/T)/4``, hazard ``C/T``;
``max_run = min(T, 500)`` bounds BOCPD's cost (a stated budget, not a fit). The oracle restarts
a plain model at the first step of every true change (for ``gradual``, at the start and the end
of the ramp; for ``stationary`` and ``arm appears``, whose truth never changes, it is the plain
model, with Thompson draws from its own generator, so it differs from ``plain`` by Monte Carlo
noise only).

``--policy linucb`` runs the same agents with LinUCB (alpha 1): sliding-window and discounted
LinUCB (SW-LinUCB, D-LinUCB) and BOCPD with the mixture's sd as the bonus.

``--model disjoint`` runs the same scenarios with one model per action (the disjoint model of
LinUCB, on the context ``[1, x]``): plain, sliding-window and discounted
(:mod:`regretlab.learners.disjoint_window`) and the restart oracle (there is no disjoint BOCPD).

``--model arms`` is the classic multi-armed case: Bernoulli arms ``[0.1, 0.3, 0.5, 0.7, 0.9]``,
``abrupt`` a :class:`~regretlab.environments.PiecewiseStationaryBandit` whose means are
permuted at ``T/3`` and ``2T/3``, ``stationary`` a
:class:`~regretlab.environments.MultiArmedBandit`; agents UCB1 (alpha 1) and Beta-TS on plain,
sliding-window and discounted arm statistics (:mod:`regretlab.learners.arm_windows`: SW-UCB,
D-UCB, SW-TS, D-TS), and the restart oracle of each.

Reported: final pseudo-regret (mean, 95% interval over replicates) and each agent's regret over
plain Thompson sampling's (ratio of means, 95% paired bootstrap interval); on ``stationary`` that
ratio is the price of forgetting.

Run from the repository root (the figures in RESULTS.md)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/drift.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/drift.py --quick
    OPENBLAS_NUM_THREADS=1 python benchmarks/drift.py --model disjoint
    OPENBLAS_NUM_THREADS=1 python benchmarks/drift.py --model arms --horizon 5000 --replicates 100
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

from _timing import machine_note
from delay import interval, markdown
from regretlab.environments import (
    AbruptChange,
    ArmAppears,
    GradualDrift,
    LinearBandit,
    MultiArmedBandit,
    PiecewiseStationaryBandit,
)
from regretlab.features import InteractionFeatures
from regretlab.learners import (
    ArmMeans,
    BayesianLinearRegression,
    BetaBernoulli,
    ChangepointBayesianLinearRegression,
    DiscountedArmMeans,
    DiscountedBetaBernoulli,
    DiscountedDisjointBayesianLinearRegression,
    DisjointBayesianLinearRegression,
    SlidingWindowArmMeans,
    SlidingWindowBayesianLinearRegression,
    SlidingWindowBetaBernoulli,
    SlidingWindowDisjointBayesianLinearRegression,
    changepoint_hazard,
    discount_factor,
    sliding_window,
)
from regretlab.policies import UCB1, ConjugateThompsonSampling, LinUCB, ThompsonSampling
from regretlab.simulate import Agent, run_bandit

NOISE = 0.5


class RestartAt:
    """The oracle's learner: a fresh model at each given step (it knows the true changes)."""

    def __init__(self, model: Any, steps: list[int]) -> None:
        self.model, self.steps, self.t = model, sorted(steps), 0
        self.n_replicates = model.n_replicates

    def learn_one(self, x, y, **kwargs):
        self.t += 1
        if self.t + 1 in self.steps:  # the next step is the first of a new truth
            self.model = self.model.clone()
        else:
            self.model.learn_one(x, y, **kwargs)
        return self

    def __getattr__(self, name):  # n_actions, n_seen, sample_means, ... of a per-action model
        if name.startswith("_") or name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

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
        # The truth never changes (an action becomes available): nothing for an oracle to
        # restart, so it is the plain model, as on ``stationary``.
        "arm appears": (ArmAppears(base(), t // 2, actions=(2,)), []),
        "stationary": (base(), []),
    }


ARM_MEANS = np.array([0.1, 0.3, 0.5, 0.7, 0.9])


def arm_scenarios(t: int, r: int) -> dict[str, tuple[Any, list[int]]]:
    """The classic case: Bernoulli arms, permuted at T/3 and 2T/3, or never."""
    segments = [ARM_MEANS, ARM_MEANS[[4, 3, 2, 1, 0]], ARM_MEANS[[2, 4, 0, 1, 3]]]
    changes = [t // 3, 2 * t // 3]
    kw = {"horizon": t, "n_replicates": r, "seed": 181}
    return {
        "abrupt": (PiecewiseStationaryBandit(segments, changes, **kw), changes),
        "stationary": (MultiArmedBandit(ARM_MEANS, **kw), []),
    }


def arm_agents(env: Any, changes: list[int], n_changes: float) -> list[Agent]:
    t, r, k = env.horizon, env.n_replicates, env.n_actions
    window, gamma = sliding_window(t, n_changes), discount_factor(t, n_changes)
    kw = {"n_actions": k, "n_replicates": r}
    out = []
    for rule, policy, plain, windowed, discounted in (
        ("UCB1", UCB1(alpha=1.0), ArmMeans, SlidingWindowArmMeans, DiscountedArmMeans),
        (
            "Beta-TS",
            ConjugateThompsonSampling(),
            BetaBernoulli,
            SlidingWindowBetaBernoulli,
            DiscountedBetaBernoulli,
        ),
    ):
        out += [
            Agent(f"{rule} plain", plain(**kw), policy=policy),
            Agent(f"{rule} sliding window", windowed(window=window, **kw), policy=policy),
            Agent(f"{rule} discounted", discounted(forgetting=gamma, **kw), policy=policy),
            Agent(f"{rule} oracle restart", RestartAt(plain(**kw), changes), policy=policy),
        ]
    return out


def disjoint_agents(env: Any, changes: list[int], n_changes: float, policy: str) -> list[Agent]:
    """Per-action models on the context ``[1, x]`` (no changepoint variant exists)."""
    t, r, k = env.horizon, env.n_replicates, env.n_actions
    fm = InteractionFeatures(env.context_dim, pairwise=False)
    common = {"groups": fm, "n_actions": k, "n_replicates": r, "noise_precision": 1 / NOISE**2}
    rule = ThompsonSampling() if policy == "thompson" else LinUCB(alpha=1.0)
    plain = DisjointBayesianLinearRegression(**common)
    return [
        Agent("plain", plain, features=fm, policy=rule),
        Agent(
            "sliding window",
            SlidingWindowDisjointBayesianLinearRegression(
                window=sliding_window(t, n_changes), **common
            ),
            features=fm,
            policy=rule,
        ),
        Agent(
            "discounted",
            DiscountedDisjointBayesianLinearRegression(
                forgetting=discount_factor(t, n_changes), **common
            ),
            features=fm,
            policy=rule,
        ),
        Agent("oracle restart", RestartAt(plain, changes), features=fm, policy=rule),
    ]


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
    parser.add_argument("--model", choices=("shared", "disjoint", "arms"), default="shared")
    parser.add_argument("--max-run", type=int, default=500, help="BOCPD's budget, capped at T")
    parser.add_argument("--scenarios", nargs="+", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.horizon, args.replicates = 900, 8
    t, r, c = args.horizon, args.replicates, args.n_changes
    max_run = min(t, args.max_run)
    print(
        f"# {machine_note()}; T={t}, R={r}, C={c}, {args.policy}, {args.model} model(s); "
        "machine shared with other jobs"
    )
    print(
        f"# window {sliding_window(t, c)}, discount {discount_factor(t, c):.5f} "
        f"(memory {1 / (1 - discount_factor(t, c)):.0f}), hazard {changepoint_hazard(t, c):.2e}, "
        f"max_run {max_run}"
    )
    rows = []
    cases = arm_scenarios(t, r) if args.model == "arms" else scenarios(t, r)
    for name, (env, changes) in cases.items():
        if args.scenarios and name not in args.scenarios:
            continue
        start = time.perf_counter()
        if args.model == "arms":
            made = arm_agents(env, changes, c)
        elif args.model == "disjoint":
            made = disjoint_agents(env, changes, c, args.policy)
        else:
            made = agents(env, changes, c, args.policy, max_run)
        result = run_bandit(env, made, seed=5, checkpoints=np.array([t]))
        final = result.regret.pivot_table(
            index="replicate", columns="agent", values="pseudo_regret"
        )
        seconds = time.perf_counter() - start
        for agent in final.columns:
            values = final[agent].to_numpy()
            plain = agent.split(" ")[0] + " plain" if args.model == "arms" else "plain"
            rows.append(
                {
                    "scenario": name,
                    "agent": agent,
                    "R(T)": interval(values),
                    "over plain": ratio_interval(values, final[plain].to_numpy()),
                }
            )
        print(f"# {name}: {seconds:.0f} s")
    print(markdown(pd.DataFrame(rows)))


if __name__ == "__main__":
    main()
