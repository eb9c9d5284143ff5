"""Model selection over whole agents on bandits (issue 16): CORRAL and regret balancing over
Thompson-sampling agents, coba's ``CorralLearner`` as the peer, and Vowpal Wabbit with fair
exploration (SquareCB), all on the same linear-bandit streams.

Scenarios (``LinearBandit``, noise sd 1, the bandit scenarios of ``benchmarks/escalation.py``
at the size the issue names: 4 arms, 3 context features; ``--n-actions 5 --context-dim 5`` is
``escalation.py``'s own size): ``context:action`` scale 0, 0.5, 1, and 1 switching on at T/2.
Every regretlab agent learns the noise (normal-inverse-gamma, a_0 = b_0 = 1e-3) with weak
prior 100 on every other group (the learned-noise rule of ``escalation.py``). Agents:

- ``fixed v``: Thompson sampling with the ``context:action`` variance fixed at ``v`` on
  (0, 1e-3, ..., 100); ``fixed 0`` is **main effects only**, ``fixed 100`` the **full model**;
  the best of them in hindsight (re-chosen in every bootstrap resample) is the comparator;
- ``default``: ``ModelAveraging.recommended`` (the project's default escalation agent);
- ``CORRAL``: ``Corral`` over {main, full} with its defaults (``eta = sqrt(M / T)``, reward
  range learned per replicate); ``CORRAL eta 0.075``: coba's default rate;
- ``balancing``: ``RegretBalancing`` over {main, full} with putative bounds ``sqrt(d n)``
  (``RegretBound``; d = 8 and 20 coefficients), confidence scale 1 (the noise sd).

A third base, the default agent itself, is not offered: ``ModelAveraging`` keeps its
candidates x replicates on one leading axis, which the selectors' masked update refuses.

Peers on the same streams (the first ``--peer-replicates`` replicates):
- coba 8.1 ``CorralLearner`` over the same two Thompson agents (one replicate each), modes
  ``importance`` (the paper's: every base learns the importance-weighted reward) and
  ``off-policy`` (every base learns the observed reward), ``eta = 0.075``, ``T`` = horizon;
  coba needs rewards in [0, 1]: mapped by ``(r - lo) / (hi - lo)`` clipped, with ``lo, hi``
  the 0.5% / 99.5% quantiles of all rewards of the scenario (known to the benchmark only);
- Vowpal Wabbit 9 ``--cb_explore_adf --squarecb`` with ``-q ::`` (all namespace pairs from the
  start: the oracle that knows interactions matter) and with ``--automl 4`` (searching for
  them), shared namespace = context, action namespace = one-hot action, cost = -reward.

Reported: pseudo-regret at T, ratio of means to the best fixed agent (and to each base) with
95% paired bootstrap intervals; each selector's share of picks per base over time;
replicate-steps per second of each agent (a shared 2-core machine: compare within a run).

    OPENBLAS_NUM_THREADS=1 python benchmarks/agent_selection.py   # ~36 min, 2 shared cores
    OPENBLAS_NUM_THREADS=1 python benchmarks/agent_selection.py --quick      # smoke run
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _timing import machine_note
from regretlab.environments import InteractionOnset, LinearBandit
from regretlab.learners import NormalInverseGammaRegression
from regretlab.policies import ThompsonSampling
from regretlab.policies.escalation import ModelAveraging
from regretlab.policies.selection import ChosenAgent, Corral, RegretBalancing, RegretBound
from regretlab.simulate import Agent, run_bandit

GROUP = "context:action"
GRID = (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
WEAK = 100.0
NOISE_PRIOR = 1e-3
MAIN, FULL = "fixed 0", "fixed 100"
FIXED = [f"fixed {v:g}" for v in GRID]
SELECTORS = ["CORRAL", "CORRAL eta 0.075", "balancing", "CORRAL, all learn", "balancing, all learn"]
AGENTS = [*FIXED, "default", *SELECTORS]
PEERS = ["coba importance", "coba off-policy", "VW squarecb -q ::", "VW squarecb automl 4"]
ENV, POLICY, BOOT = 0, 1, 2


@dataclass(frozen=True)
class Scenario:
    name: str
    scale: float
    onset: bool = False


SCENARIOS = [
    Scenario("bandit_i0", 0.0),
    Scenario("bandit_i0.5", 0.5),
    Scenario("bandit_i1", 1.0),
    Scenario("bandit_onset_i1", 1.0, onset=True),
]


@dataclass(frozen=True)
class Setup:
    n_actions: int
    context_dim: int
    replicates: int
    horizon: int
    seed: int


def child(seed: int, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=key)


def make_env(sc: Scenario, index: int, setup: Setup, replicates: int | None = None) -> Any:
    env = LinearBandit(
        n_actions=setup.n_actions,
        context_dim=setup.context_dim,
        interaction_scale=sc.scale,
        noise_level=1.0,
        horizon=setup.horizon,
        n_replicates=setup.replicates if replicates is None else replicates,
        seed=child(setup.seed, ENV, index),
    )
    return InteractionOnset(env, setup.horizon // 2) if sc.onset else env


def nig(features: Any, value: float, r: int | None) -> NormalInverseGammaRegression:
    prior = {g: WEAK for g in dict.fromkeys(features.groups)}
    prior[GROUP] = value
    return NormalInverseGammaRegression(
        groups=features,
        prior_variance=prior,
        noise_shape=NOISE_PRIOR,
        noise_scale=NOISE_PRIOR,
        n_replicates=r,
    )


def n_coefficients(features: Any, value: float) -> int:
    return sum(1 for g in features.groups if value > 0 or g != GROUP)


# The selectors' share of picks over time: the run's clone records its pick counts.
SNAPSHOTS: list[tuple[int, np.ndarray]] = []


def recorded(cls: type) -> type:
    class Recorded(cls):  # type: ignore[misc, valid-type]
        checkpoints: frozenset[int] = frozenset()

        def clone(self) -> Any:
            fresh = super().clone()
            fresh.__class__ = type(self)
            return fresh

        def learn_one(self, x: Any, y: Any, **kwargs: Any) -> Any:
            out = super().learn_one(x, y, **kwargs)
            counts = self.pick_counts
            step = int(counts[:, 0].sum())
            if step in self.checkpoints:
                SNAPSHOTS.append((step, counts))
            return out

    return Recorded


def make_agent(name: str, features: Any, setup: Setup, checks: np.ndarray) -> Agent:
    r, t = setup.replicates, setup.horizon
    for value in GRID:
        if name == f"fixed {value:g}":
            return Agent(name, nig(features, value, r), policy=ThompsonSampling())
    if name == "default":
        model = ModelAveraging.recommended(features, group=GROUP, n_replicates=r)
        return Agent(name, model, policy=ThompsonSampling())
    bases = {
        "main": (nig(features, 0.0, r), ThompsonSampling()),
        "full": (nig(features, WEAK, r), ThompsonSampling()),
    }
    teach = "all" if name.endswith("all learn") else "picked"
    if name.startswith("CORRAL"):
        rate = 0.075 if name.endswith("0.075") else None
        selector = recorded(Corral)(bases, horizon=t, learning_rate=rate, teach=teach)
    else:
        bounds = [RegretBound(n_coefficients(features, v)) for v in (0.0, WEAK)]
        selector = recorded(RegretBalancing)(
            bases, bounds=bounds, confidence_scale=1.0, teach=teach
        )
    type(selector).checkpoints = frozenset(int(c) for c in checks)
    return Agent(name, selector, policy=ChosenAgent())


def checkpoints(horizon: int) -> np.ndarray:
    return np.unique(np.r_[np.geomspace(10, horizon, 12).round().astype(int), horizon])


def run_agent(sc: Scenario, index: int, name: str, setup: Setup) -> tuple[pd.DataFrame, Any]:
    """One regretlab agent on one scenario: regret at the checkpoints, pick shares, seconds."""
    env = make_env(sc, index, setup)
    checks = checkpoints(setup.horizon)
    agent = make_agent(name, env.features, setup, checks)
    SNAPSHOTS.clear()
    start = time.perf_counter()
    seed = child(setup.seed, POLICY, index, AGENTS.index(name))
    result = run_bandit(env, [agent], seed=seed, checkpoints=checks, environment=sc.name)
    seconds = time.perf_counter() - start
    shares = [
        {"environment": sc.name, "agent": name, "step": step, "base": base, "share": float(s)}
        for step, counts in SNAPSHOTS
        for base, s in zip(("main", "full"), (counts / step).mean(axis=1), strict=True)
    ]
    return result.regret, (seconds, shares)


# -- peers ------------------------------------------------------------------------------------


def stream_arrays(sc: Scenario, index: int, setup: Setup, r: int) -> tuple[np.ndarray, ...]:
    """Context ``(R, T, d)``, rewards and means ``(R, T, K)`` of the first ``r`` replicates."""
    env = make_env(sc, index, setup)
    blocks = list(env.blocks())
    context, rewards, means = (
        np.concatenate([getattr(b, f) for b in blocks], axis=1)[:r]
        for f in ("context", "rewards", "means")
    )
    return context, rewards, means


def run_vw(args: str, context: np.ndarray, rewards: np.ndarray, means: np.ndarray, seed: int):
    import vowpalwabbit

    r, t, k = rewards.shape
    regret = np.zeros(r)
    rng = np.random.default_rng(seed)
    actions = [f"|A a{a}:1" for a in range(k)]
    for i in range(r):
        vw = vowpalwabbit.Workspace(f"{args} --quiet --random_seed {i}")
        for s in range(t):
            shared = "shared |C " + " ".join(f"x{j}:{v:.6g}" for j, v in enumerate(context[i, s]))
            pmf = np.asarray(vw.predict([shared, *actions]), dtype=float)
            a = int(rng.choice(k, p=pmf / pmf.sum()))
            label = list(actions)
            label[a] = f"0:{-rewards[i, s, a]:.6g}:{pmf[a]:.6g} {actions[a]}"
            vw.learn([shared, *label])
            regret[i] += means[i, s].max() - means[i, s, a]
        vw.finish()
    return regret


class CobaThompson:
    """One regretlab Thompson agent (one replicate) as a coba learner."""

    def __init__(self, features: Any, value: float, seed: int) -> None:
        self.features = features
        self.model = nig(features, value, None)
        self.policy = ThompsonSampling()
        self.rng = np.random.default_rng(seed)
        self.step = 0

    @property
    def params(self) -> dict[str, Any]:
        return {"family": "regretlab TS"}

    def predict(self, context: Any, actions: Any) -> Any:
        self.step += 1
        rows = self.features.transform(np.asarray(context, dtype=float))
        choice = self.policy.select(self.model, rows, self.rng, step=self.step)
        return {"action_prob": (int(choice.actions), 1.0)}

    def learn(self, context: Any, action: Any, reward: float, probability: float, **kw: Any):
        rows = self.features.transform(np.asarray(context, dtype=float))
        self.model.learn_one(rows[int(action)], float(reward))


def run_coba(mode: str, sc: Scenario, index: int, setup: Setup, arrays: tuple, seed: int):
    from coba.learners import CorralLearner

    context, rewards, means = arrays
    r, t, k = rewards.shape
    env = make_env(sc, index, setup, replicates=1)
    lo, hi = np.quantile(rewards, [0.005, 0.995])
    regret = np.zeros(r)
    for i in range(r):
        bases = [CobaThompson(env.features, v, seed + 2 * i + j) for j, v in enumerate((0, WEAK))]
        corral = CorralLearner(bases, eta=0.075, T=t, mode=mode, seed=seed + i)
        for s in range(t):
            ctx = tuple(context[i, s])
            action, prob, info = corral.predict(ctx, list(range(k)))
            scaled = float(np.clip((rewards[i, s, action] - lo) / (hi - lo), 0.0, 1.0))
            corral.learn(ctx, action, scaled, prob, **info)
            regret[i] += means[i, s].max() - means[i, s, action]
    return regret


def run_peer(sc: Scenario, index: int, name: str, setup: Setup, r: int):
    arrays = stream_arrays(sc, index, setup, r)
    seed = int(child(setup.seed, POLICY, index, 100 + PEERS.index(name)).generate_state(1)[0])
    start = time.perf_counter()
    if name.startswith("coba"):
        regret = run_coba(name.split()[1], sc, index, setup, arrays, seed)
    else:
        flags = "-q ::" if name.endswith("-q ::") else "--automl 4"
        regret = run_vw(f"--cb_explore_adf --squarecb {flags}", *arrays, seed)
    seconds = time.perf_counter() - start
    table = pd.DataFrame(
        {
            "environment": sc.name,
            "agent": name,
            "replicate": np.arange(r),
            "step": setup.horizon,
            "pseudo_regret": regret,
        }
    )
    return table, (seconds, [])


# -- analysis -------------------------------------------------------------------------------


def paired_ratio(num: np.ndarray, den: np.ndarray, rng: np.random.Generator, n_boot: int = 2000):
    """Ratio of means and its 95% paired bootstrap interval; ``den`` may be ``(A, R)`` (the
    best row re-chosen in every resample)."""
    den = np.atleast_2d(den)
    idx = rng.integers(0, num.shape[0], size=(n_boot, num.shape[0]))
    boot = num[idx].mean(axis=1) / den[:, idx].mean(axis=2).min(axis=0)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(num.mean() / den.mean(axis=1).min()), float(lo), float(hi)


# Paired comparisons (on the replicates both agents ran): label -> agent.
COMPARED = {
    "main": MAIN,
    "full": FULL,
    "default": "default",
    "coba importance": "coba importance",
    "coba off-policy": "coba off-policy",
}


def analyse(regret: pd.DataFrame, horizon: int, seed: int) -> pd.DataFrame:
    final = regret[regret["step"] == horizon]
    rows = []
    for index, sc in enumerate(SCENARIOS):
        part = final[final["environment"] == sc.name]
        if part.empty:
            continue
        wide = part.pivot(index="replicate", columns="agent", values="pseudo_regret")
        fixed = wide[[c for c in FIXED if c in wide]].to_numpy().T
        best = FIXED[int(np.argmin(fixed.mean(axis=1)))]
        for agent in wide.columns:
            mine = wide[agent].dropna()
            reps = mine.index.to_numpy()
            rng = np.random.default_rng(child(seed, BOOT, index))
            row = {"environment": sc.name, "agent": agent, "replicates": len(reps)}
            row["regret"] = float(mine.mean())
            row["best fixed"] = best
            row |= dict(
                zip(
                    ("vs best", "vs best lo", "vs best hi"),
                    paired_ratio(mine.to_numpy(), fixed[:, reps], rng),
                    strict=True,
                )
            )
            for label, column in COMPARED.items():
                if column not in wide:
                    continue
                both = wide.loc[reps, column].dropna().index
                ratio, lo, hi = paired_ratio(
                    mine.loc[both].to_numpy(), wide.loc[both, column].to_numpy(), rng
                )
                row |= {f"vs {label}": ratio, f"vs {label} lo": lo, f"vs {label} hi": hi}
            rows.append(row)
    return pd.DataFrame(rows)


def fmt(row: pd.Series, key: str) -> str:
    return f"{row[key]:.2f} [{row[key + ' lo']:.2f}, {row[key + ' hi']:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--peer-replicates", type=int, default=30)
    parser.add_argument("--horizon", type=int, default=2000)
    parser.add_argument("--n-actions", type=int, default=4)
    parser.add_argument("--context-dim", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--peers", nargs="*", default=PEERS, help=f"subset of {PEERS}")
    parser.add_argument(
        "--agents",
        nargs="*",
        default=AGENTS,
        help="subset of the regretlab agents; rows of other agents already in OUT are kept",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/agent_selection"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--report-only", action="store_true", help="print the tables of the CSVs in OUT"
    )
    args = parser.parse_args()
    if args.quick:
        args.replicates, args.peer_replicates, args.horizon = 6, 2, 200
    setup = Setup(args.n_actions, args.context_dim, args.replicates, args.horizon, args.seed)
    print(f"# {machine_note()}; {vars(args)}", file=sys.stderr)
    if args.report_only:
        report(
            pd.read_csv(args.out / "regret.csv"),
            pd.read_csv(args.out / "speed.csv"),
            pd.read_csv(args.out / "shares.csv"),
            setup,
            args,
        )
        return
    jobs = [(sc, i, a, False) for i, sc in enumerate(SCENARIOS) for a in args.agents]
    jobs += [(sc, i, p, True) for i, sc in enumerate(SCENARIOS) for p in args.peers]
    cost = {"CORRAL": 10, "CORRAL eta 0.075": 10, "balancing": 5, "default": 8}
    jobs.sort(key=lambda j: -(50 if j[3] else cost.get(j[2], 1)))
    tables, speed, shares = [], [], []
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {
            (
                pool.submit(run_peer, sc, i, a, setup, min(args.peer_replicates, setup.replicates))
                if peer
                else pool.submit(run_agent, sc, i, a, setup)
            ): (sc, a, peer)
            for sc, i, a, peer in jobs
        }
        for done, future in enumerate(cf.as_completed(futures), 1):
            sc, a, _ = futures[future]
            table, (seconds, share) = future.result()
            tables.append(table)
            shares.extend(share)
            r = table["replicate"].nunique()
            speed.append((sc.name, a, r, seconds, r * setup.horizon / seconds))
            print(
                f"  {done}/{len(jobs)} {sc.name} {a}: {seconds:.1f} s "
                f"({(time.perf_counter() - start) / 60:.1f} min)",
                file=sys.stderr,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    speeds = pd.DataFrame(speed, columns=["environment", "agent", "replicates", "seconds", "rs/s"])
    share_table = pd.DataFrame(shares)
    ran = set(args.agents) | set(args.peers)
    merged = []
    for name, new in (
        ("regret", pd.concat(tables, ignore_index=True)),
        ("speed", speeds),
        ("shares", share_table),
    ):
        path = args.out / f"{name}.csv"
        if path.exists():  # keep the other agents' rows of an earlier run
            old = pd.read_csv(path)
            new = pd.concat([old[~old["agent"].isin(ran)], new], ignore_index=True)
        new.to_csv(path, index=False)
        merged.append(new)
    regret, speeds, share_table = merged
    report(regret, speeds, share_table, setup, args)


def report(
    regret: pd.DataFrame,
    speeds: pd.DataFrame,
    share_table: pd.DataFrame,
    setup: Setup,
    args: argparse.Namespace,
) -> None:
    table = analyse(regret, setup.horizon, args.seed)
    table.to_csv(args.out / "ratios.csv", index=False)

    print(
        f"\n{machine_note()}; R = {setup.replicates}, peers R = {args.peer_replicates}, "
        f"T = {setup.horizon}, {setup.n_actions} arms, {setup.context_dim} context features"
    )
    columns = ["best", *(c for c in COMPARED if f"vs {c}" in table)]
    print("\n| scenario | agent | R | regret | " + " | ".join(f"vs {c}" for c in columns) + " |")
    print("| --- | --- | ---: | ---: |" + " ---: |" * len(columns))
    for _, row in table.iterrows():
        print(
            f"| {row['environment']} | {row['agent']} | {row['replicates']} | "
            f"{row['regret']:.1f} | " + " | ".join(fmt(row, f"vs {c}") for c in columns) + " |"
        )
    if not share_table.empty:
        print("\nShare of picks on the full model (mean over replicates), by step:")
        pivot = share_table[share_table["base"] == "full"].pivot_table(
            index=["environment", "agent"], columns="step", values="share"
        )
        steps = list(pivot.columns)
        print("| scenario | agent | " + " | ".join(f"t={s}" for s in steps) + " |")
        print("| --- | --- |" + " ---: |" * len(steps))
        for (env, agent), values in pivot.iterrows():
            print(f"| {env} | {agent} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
    print("\n| agent | replicate-steps/s (median over scenarios) |\n| --- | ---: |")
    for agent, value in speeds.groupby("agent")["rs/s"].median().items():
        print(f"| {agent} | {value:,.0f} |")


if __name__ == "__main__":
    main()
