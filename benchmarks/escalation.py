"""Complexity escalation (issue 5): schedulers against the best fixed prior in hindsight.

Prediction streams (``run_prequential`` on ``InteractionStream``, the seed's generator): 23
scenarios, the seed notebook's seven plus a grid around them (x_dim 2/6/10, interaction scale
0/0.05/1/3, noise 0.1/0.5/2, with seven scale-0 scenarios to measure false escalation). Bandits
(``run_bandit``, Thompson sampling on one shared model over ``ActionFeatures``):
``LinearBandit(n_actions=5, context_dim=5)`` with ``context:action`` scale 0/0.1/0.5/1 and one
whose interactions switch on at ``T // 2`` (``InteractionOnset``).

Two runs, the noise known (``BayesianLinearRegression``, ``noise_precision = 1 / noise**2``) and
learned online (``NormalInverseGammaRegression``, priors relative to the noise variance). One
rule for the priors in every scenario, no per-scenario tuning: every group but the escalated
one gets a weak prior (variance 10 known, relative variance 100 learned); the escalated group
(``pairwise``; ``context:action`` for bandits) has its variance on the grid ``G`` = (0, 1e-4 ..
10) known, (0, 1e-3 .. 100) learned. Agents:

- ``fixed v``: one per grid value (``Fixed`` keeps the constructor's prior); ``fixed 0`` is
  main effects only, ``fixed <max G>`` the full model (escalated group as loose as the rest);
  these define "the best fixed model in hindsight" of the goal;
- ``fixed v @ s``: the same with every other group at variance ``s``, for
  each other value of the default scheduler's scale grid ``S`` = weak prior x (1e-2, 1e-1, 1)
  (learned: 1, 10, 100): the stricter comparison "best fixed at any scale";
- escalating, all starting from main effects only: ``ModelAveraging`` over ``G`` jointly with
  one shared variance of every other group on ``S`` (the default scheduler,
  the rule of ``ModelAveraging.recommended``), ``ChampionChallenger`` over ``G``,
  ``EmpiricalBayes`` (every 10 steps), ``EvidenceSwitch`` jumping to the best of ``G`` or
  climbing one rung per check (its default threshold, every 10 steps), ``UncertaintyTrigger``
  (jump to ``max G`` once the main effects' largest posterior sd is below 5% of their prior sd;
  for the relative NIG prior that sd is taken at unit noise), ``DataSchedule`` (``min(max G, max
  G * t / (10 p))``, checked every 10 steps).

Reported per scenario and noise mode: cumulative expected regret (bandits: pseudo-regret) at
``T`` as a ratio of means to the best fixed agent in hindsight (also at any scale) and to the
worse of main-only and full, with 95% paired-bootstrap percentile intervals (replicates
resampled jointly for all agents, the best fixed agent re-chosen in every resample); the share
of replicates that escalated (pairwise variance above 0 at some step; for the candidate learners
the leading candidate moving off 0) and the median first escalation step; the regret split at
``2p``.

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/escalation.py            # full: ~40 min, 2 cores
    OPENBLAS_NUM_THREADS=1 python benchmarks/escalation.py --quick    # smoke run
    OPENBLAS_NUM_THREADS=1 python benchmarks/escalation.py --noise learned --scenarios x6_i1_n2
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
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from _timing import machine_note
from regretlab.environments import InteractionOnset, InteractionStream, LinearBandit
from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression
from regretlab.plots import plot_escalation_steps, plot_escalation_timeline, save_figure
from regretlab.policies import ThompsonSampling
from regretlab.policies.escalation import (
    ChampionChallenger,
    DataSchedule,
    EmpiricalBayes,
    EvidenceSwitch,
    Fixed,
    ModelAveraging,
    Ramp,
    UncertaintyTrigger,
)
from regretlab.simulate import Agent, log_checkpoints, run_bandit, run_prequential


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "stream" or "bandit"
    x_dim: int  # context_dim for bandits
    scale: float
    noise: float
    source: str = "grid"
    onset: bool = False


def _stream(x_dim: int, scale: float, noise: float, source: str = "grid") -> Scenario:
    return Scenario(f"x{x_dim}_i{scale:g}_n{noise:g}", "stream", x_dim, scale, noise, source)


SCENARIOS = [
    # The seed notebook's scenarios.
    _stream(6, 0.01, 2.0, "seed"),
    _stream(6, 1.0, 2.0, "seed"),
    _stream(6, 3.0, 2.0, "seed"),
    _stream(6, 0.05, 0.5, "seed"),
    _stream(10, 0.05, 0.5, "seed"),
    _stream(2, 0.05, 2.0, "seed"),
    _stream(2, 1.0, 0.1, "seed"),
    # No interactions: every escalation is a false one.
    _stream(2, 0.0, 0.1),
    _stream(2, 0.0, 0.5),
    _stream(2, 0.0, 2.0),
    _stream(6, 0.0, 0.1),
    _stream(6, 0.0, 0.5),
    _stream(6, 0.0, 2.0),
    _stream(10, 0.0, 0.5),
    # Weak interactions at low noise.
    _stream(2, 0.05, 0.1),
    _stream(6, 0.05, 0.1),
    # Strong interactions (scale >= 1).
    _stream(2, 3.0, 0.1),
    _stream(2, 1.0, 2.0),
    _stream(6, 1.0, 0.1),
    _stream(6, 1.0, 0.5),
    _stream(6, 3.0, 0.1),
    _stream(6, 3.0, 0.5),
    _stream(10, 1.0, 0.5),
]
BANDITS = [Scenario(f"bandit_i{s:g}", "bandit", 5, s, 1.0) for s in (0.0, 0.1, 0.5, 1.0)] + [
    Scenario("bandit_onset_i1", "bandit", 5, 1.0, 1.0, onset=True)
]
N_ACTIONS = 5
STRONG = 1.0  # interaction scale from which a scenario counts as strong
# An escalation to at least this fraction of the full variance counts as a large one (the
# grid's third value from the top): small variances change little at small n.
LARGE = 1e-2
GOAL_BEST, GOAL_WORSE = 1.05, 0.6
NOISE_PRIOR = 1e-3  # a_0 = b_0 of the learned-noise agents (ModelAveraging.recommended)
RATIO_AXIS_MAX = 12.0  # ratios beyond it are drawn at the edge of the ratio figures


@dataclass(frozen=True)
class Mode:
    """How the noise is handled, and the prior rule that goes with it."""

    name: str
    main_variance: float
    grid: tuple[float, ...]

    @property
    def full(self) -> float:
        return self.grid[-1]

    @property
    def scales(self) -> tuple[float, ...]:
        """The default scheduler's grid for the other groups' shared variance: decades from
        1/1000 of the weak prior up to it (learned noise: 0.1 .. 100, ``SCALES`` of
        ``ModelAveraging.recommended``; known noise: the same relative grid)."""
        return tuple(self.main_variance * f for f in (1e-3, 1e-2, 1e-1, 1.0))

    @property
    def threshold(self) -> float:
        # UncertaintyTrigger: 5% of the main effects' prior sd (for the relative NIG prior, in
        # units of the noise sd).
        return 0.05 * float(np.sqrt(self.main_variance))

    def learner(
        self,
        features: Any,
        group: str,
        value: float,
        noise: float,
        r: int,
        scale: float | None = None,
    ) -> Any:
        """``group`` at ``value``; every other group at ``scale`` (default: the weak prior)."""
        prior = {g: self.main_variance if scale is None else scale for g in features.groups}
        prior[group] = value
        if self.name == "known":
            return BayesianLinearRegression(
                groups=features, prior_variance=prior, noise_precision=1 / noise**2, n_replicates=r
            )
        # The rule of ModelAveraging.recommended: a vague noise prior (near Jeffreys' 1/sigma^2),
        # for every learned-noise agent alike. It leaves every posterior mean unchanged and lets
        # the evidence (and Thompson draws) follow the data from the first observations.
        return NormalInverseGammaRegression(
            groups=features,
            prior_variance=prior,
            noise_shape=NOISE_PRIOR,
            noise_scale=NOISE_PRIOR,
            n_replicates=r,
        )


MODES = {
    "known": Mode("known", 10.0, (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)),
    "learned": Mode("learned", 100.0, (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)),
}
DEFAULT = "ModelAveraging"
ESCALATING = [
    DEFAULT,
    "ChampionChallenger",
    "EmpiricalBayes",
    "EvidenceSwitch jump",
    "EvidenceSwitch ladder",
    "UncertaintyTrigger",
    "DataSchedule",
    # Issue 16, sixth session (appended, so that the agents above keep their policy seeds):
    # the default until then (Thompson draws by weight), with its prior odds on "off" at 1
    # (off_weight 1/2), with draws from its leading candidate (now the default), and both.
    "ModelAveraging off 1/2",
    "ModelAveraging leader",
    "ModelAveraging leader, off 1/2",
    "ModelAveraging mixture",
]
# The variants of the default: name -> keywords of ModelAveraging.recommended.
DEFAULT_VARIANTS: dict[str, dict[str, Any]] = {
    DEFAULT: {},
    "ModelAveraging off 1/2": {"draw": "mixture", "off_weight": 0.5},
    "ModelAveraging leader": {"draw": "leader"},
    "ModelAveraging leader, off 1/2": {"draw": "leader", "off_weight": 0.5},
    "ModelAveraging mixture": {"draw": "mixture"},
}
# Relative cost of one agent (for scheduling the longest tasks first).
COST = {
    "EmpiricalBayes": 10.0,
    "EvidenceSwitch jump": 5.0,
    "EvidenceSwitch ladder": 5.0,
    DEFAULT: 4.0,
    "ModelAveraging off 1/2": 4.0,
    "ModelAveraging leader": 4.0,
    "ModelAveraging leader, off 1/2": 4.0,
    "ModelAveraging mixture": 4.0,
    "ChampionChallenger": 3.0,
}

# Branches of the seed tree under --seed.
STREAM_ENV, BANDIT_ENV, POLICY, BOOTSTRAP = range(4)


def child(seed: int, *key: int) -> np.random.SeedSequence:
    """``SeedSequence(seed)``'s child at ``key``, made anew for every use (spawning advances)."""
    return np.random.SeedSequence(seed, spawn_key=key)


def fixed_name(value: float) -> str:
    return f"fixed {value:g}"


def scaled_name(value: float, scale: float) -> str:
    return f"fixed {value:g} @ {scale:g}"


def scaled_fixed(mode: Mode) -> dict[str, tuple[float, float]]:
    """Fixed agents with the other groups at another scale of the default's grid:
    name -> (value, scale)."""
    return {
        scaled_name(v, m): (v, m) for m in mode.scales if m != mode.main_variance for v in mode.grid
    }


def agent_names(mode: Mode) -> list[str]:
    return [fixed_name(v) for v in mode.grid] + list(scaled_fixed(mode)) + ESCALATING


def other_groups(features: Any, group: str) -> tuple[str, ...]:
    """The groups whose shared scale the default scheduler averages over: all but ``group``."""
    return tuple(g for g in dict.fromkeys(features.groups) if g != group)


def make_agent(name: str, mode: Mode, features: Any, group: str, noise: float, r: int) -> Agent:
    """One agent of the benchmark; ``group`` is the escalated group."""
    policy = ThompsonSampling() if group == "context:action" else None
    grid = mode.grid
    for value in grid:
        if name == fixed_name(value):
            learner = mode.learner(features, group, value, noise, r)
            return Agent(name, learner, policy=policy, scheduler=Fixed({group: value}))
    if (scaled := scaled_fixed(mode).get(name)) is not None:
        value, scale = scaled
        learner = mode.learner(features, group, value, noise, r, scale=scale)
        return Agent(name, learner, policy=policy, scheduler=Fixed({group: value}))
    base = mode.learner(features, group, 0.0, noise, r)
    if name in DEFAULT_VARIANTS and mode.name == "learned":
        # The default itself (its grids, its flat-intercept twins, its noise prior).
        keywords = DEFAULT_VARIANTS[name]
        bma = ModelAveraging.recommended(features, group=group, n_replicates=r, **keywords)
        return Agent(name, bma, policy=policy)
    if name in DEFAULT_VARIANTS:
        # The rule of ModelAveraging.recommended with the noise known: the group's variance on
        # the grid, jointly with one shared scale of every other group on decades up to the
        # weak prior; Thompson draws from the leading candidate, as recommended's.
        bma = ModelAveraging(
            learner=base,
            group=group,
            grid=grid,
            other_grids={other_groups(features, group): mode.scales},
            **{"draw": "leader", **DEFAULT_VARIANTS[name]},
        )
        return Agent(name, bma, policy=policy)
    if name == "ChampionChallenger":
        return Agent(name, ChampionChallenger(learner=base, group=group, grid=grid), policy=policy)
    schedulers = {
        "EmpiricalBayes": lambda: EmpiricalBayes(groups=(group,), every=10),
        "EvidenceSwitch jump": lambda: EvidenceSwitch(group, ladder=grid, jump=True),
        "EvidenceSwitch ladder": lambda: EvidenceSwitch(group, ladder=grid, jump=False),
        "UncertaintyTrigger": lambda: UncertaintyTrigger(group, ladder=grid),
        "DataSchedule": lambda: DataSchedule(
            group,
            Ramp(top=mode.full, steps=10 * features.n_features),
            every=10,
        ),
    }
    return Agent(name, base, policy=policy, scheduler=schedulers[name]())


def make_env(scenario: Scenario, index: int, replicates: int, horizon: int, seed: int) -> Any:
    if scenario.kind == "stream":
        return InteractionStream(
            x_dim=scenario.x_dim,
            noise_level=scenario.noise,
            interaction_scale=scenario.scale,
            horizon=horizon,
            n_replicates=replicates,
            seed=child(seed, STREAM_ENV, index),
        )
    env = LinearBandit(
        n_actions=N_ACTIONS,
        context_dim=scenario.x_dim,
        interaction_scale=scenario.scale,
        noise_level=scenario.noise,
        horizon=horizon,
        n_replicates=replicates,
        seed=child(seed, BANDIT_ENV, index),
    )
    return InteractionOnset(env, horizon // 2) if scenario.onset else env


def checkpoints(horizon: int, p: int) -> np.ndarray:
    extra = [s for s in (p, 2 * p) if s <= horizon]
    return np.union1d(log_checkpoints(horizon, 40), extra)


@dataclass(frozen=True)
class Task:
    scenario: Scenario
    index: int
    mode: str
    agent: str
    replicates: int
    horizon: int
    seed: int

    def cost(self) -> float:
        p = 36 if self.scenario.kind == "bandit" else (self.scenario.x_dim + 1) ** 2 / 2
        return self.horizon * self.replicates * COST.get(self.agent, 0.5) * (10 + p) ** 2


def run_task(task: Task) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """One agent on one scenario in one noise mode: its regret and events tables, seconds."""
    start = time.perf_counter()
    sc, mode = task.scenario, MODES[task.mode]
    env = make_env(sc, task.index, task.replicates, task.horizon, task.seed)
    group = "context:action" if sc.kind == "bandit" else "pairwise"
    agent = make_agent(task.agent, mode, env.features, group, sc.noise, task.replicates)
    steps = checkpoints(task.horizon, env.features.n_features)
    if sc.kind == "stream":
        result = run_prequential(env, [agent], checkpoints=steps, environment=sc.name)
    else:
        position = agent_names(mode).index(task.agent)
        seed = child(task.seed, POLICY, task.index, position)
        result = run_bandit(env, [agent], seed=seed, checkpoints=steps, environment=sc.name)
    regret, events = result.regret, result.events
    for table in (regret, events):
        table.insert(1, "noise", task.mode)
    return regret, events, time.perf_counter() - start


def run_all(tasks: list[Task], workers: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every task on a process pool, longest first; regret, events and per-task seconds."""
    tasks = sorted(tasks, key=Task.cost, reverse=True)
    regrets, events, times = [], [], []
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_task, t): t for t in tasks}
        for done, future in enumerate(cf.as_completed(futures), 1):
            task = futures[future]
            regret, event, seconds = future.result()
            regrets.append(regret)
            events.append(event)
            times.append((task.scenario.kind, task.scenario.name, task.mode, task.agent, seconds))
            if done % max(1, len(tasks) // 20) == 0 or done == len(tasks):
                elapsed = time.perf_counter() - start
                print(f"  {done}/{len(tasks)} tasks, {elapsed / 60:.1f} min", file=sys.stderr)
    timing = pd.DataFrame(times, columns=["kind", "environment", "noise", "agent", "seconds"])
    # An agent without events returns an empty table of object columns; restore the types.
    kinds = {"replicate": "int64", "step": "int64", "old": "float64", "new": "float64"}
    events = pd.concat(events, ignore_index=True).astype(kinds)
    return pd.concat(regrets, ignore_index=True), events, timing


# -- analysis -----------------------------------------------------------------------------------


def _interval(samples: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return float(lo), float(hi)


def analyse(
    regret: pd.DataFrame,
    events: pd.DataFrame,
    scenarios: list[Scenario],
    mode: Mode,
    value: str,
    seed: int,
    n_boot: int = 2000,
) -> pd.DataFrame:
    """One row per scenario and agent: ratios with paired-bootstrap intervals, escalation."""
    names = agent_names(mode)
    fixed = [fixed_name(v) for v in mode.grid]
    main, full = fixed_name(0.0), fixed_name(mode.full)
    rows = []
    for sc in scenarios:
        index = (SCENARIOS + BANDITS).index(sc)
        part = regret[regret["environment"] == sc.name]
        horizon = int(part["step"].max())
        p = _n_features(sc)
        # Regret by 2p (a checkpoint) and by about 10p (the last checkpoint at or before it).
        steps = np.unique(part["step"])
        split = min(2 * p, horizon)
        split10 = int(steps[steps <= min(10 * p, horizon)].max())

        final, early, early10 = (_wide(part, s, names, value) for s in (horizon, split, split10))
        r = final.shape[1]
        rng = np.random.default_rng(child(seed, BOOTSTRAP, index))
        resample = rng.integers(0, r, size=(n_boot, r))
        boot = final[:, resample].mean(axis=-1)  # (agents, n_boot), paired over agents
        is_fixed = np.isin(names, fixed)
        is_any = is_fixed | np.isin(names, list(scaled_fixed(mode)))
        best_boot = boot[is_fixed].min(axis=0)
        any_boot = boot[is_any].min(axis=0)
        worse_boot = np.maximum(boot[names.index(main)], boot[names.index(full)])
        mean, mean_early, mean10 = final.mean(axis=1), early.mean(axis=1), early10.mean(axis=1)
        best = int(np.flatnonzero(is_fixed)[np.argmin(mean[is_fixed])])
        best_any = int(np.flatnonzero(is_any)[np.argmin(mean[is_any])])
        worse = max(mean[names.index(main)], mean[names.index(full)])
        esc = events[(events["environment"] == sc.name) & (events["new"] > 0)]
        large = esc[esc["new"] >= LARGE * mode.full]
        mine = events[events["environment"] == sc.name].sort_values("step", kind="stable")
        last = mine.groupby(["agent", "replicate"])["new"].last()
        for a, name in enumerate(names):
            first = esc[esc["agent"] == name].groupby("replicate")["step"].min()
            first_large = large[large["agent"] == name].groupby("replicate")["step"].min()
            onset = horizon // 2 if sc.onset else None
            after = (
                esc[(esc["agent"] == name) & (esc["step"] >= onset)].groupby("replicate")["step"]
                if onset
                else None
            )
            excess = mean[a] - mean[best]
            best_lo, best_hi = _interval(boot[a] / best_boot)
            worse_lo, worse_hi = _interval(boot[a] / worse_boot)
            any_lo, any_hi = _interval(boot[a] / any_boot)
            rows.append(
                {
                    "environment": sc.name,
                    "source": sc.source,
                    "x_dim": sc.x_dim,
                    "interaction_scale": sc.scale,
                    "noise_level": sc.noise,
                    "noise": mode.name,
                    "agent": name,
                    "replicates": r,
                    "horizon": horizon,
                    "p": p,
                    "mean_regret": mean[a],
                    "best_fixed": names[best],
                    "best_fixed_regret": mean[best],
                    "ratio_best": mean[a] / mean[best],
                    "ratio_best_lo": best_lo,
                    "ratio_best_hi": best_hi,
                    "best_any_fixed": names[best_any],
                    "best_any_fixed_regret": mean[best_any],
                    "ratio_best_any": mean[a] / mean[best_any],
                    "ratio_best_any_lo": any_lo,
                    "ratio_best_any_hi": any_hi,
                    "ratio_worse": mean[a] / worse,
                    "ratio_worse_lo": worse_lo,
                    "ratio_worse_hi": worse_hi,
                    "ratio_early": mean_early[a] / mean_early[best],
                    "ratio_late": _ratio(mean[a] - mean_early[a], mean[best] - mean_early[best]),
                    # Shares of a tiny excess (under 2% of the best's regret) mean nothing.
                    "early_share_of_excess": (
                        (mean_early[a] - mean_early[best]) / excess
                        if excess > 0.02 * mean[best]
                        else np.nan
                    ),
                    "step_10p": split10,
                    "share_of_excess_10p": (
                        (mean10[a] - mean10[best]) / excess
                        if excess > 0.02 * mean[best]
                        else np.nan
                    ),
                    "floor_worse": mean[best] / worse,
                    "escalated": len(first) / r,
                    "median_first_step": float(first.median()) if len(first) else np.nan,
                    "escalated_large": len(first_large) / r,
                    "escalated_large_at_end": (
                        float((last.loc[name] >= LARGE * mode.full).sum()) / r
                        if name in last.index
                        else 0.0
                    ),
                    "median_first_step_large": (
                        float(first_large.median()) if len(first_large) else np.nan
                    ),
                    # Onset scenarios: escalations before the interactions exist are false ones.
                    "escalated_before_onset": (first < onset).mean() * len(first) / r
                    if onset
                    else np.nan,
                    "median_first_step_after_onset": float(after.min().median())
                    if onset and len(after.min())
                    else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _wide(part: pd.DataFrame, step: int, names: list[str], value: str) -> np.ndarray:
    """``value`` at ``step`` as an (agents, replicates) array in the order of ``names``."""
    wide = part[part["step"] == step].pivot(index="agent", columns="replicate", values=value)
    return wide.loc[names].to_numpy()


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else np.nan


def _n_features(sc: Scenario) -> int:
    if sc.kind == "bandit":
        return 1 + sc.x_dim + N_ACTIONS + sc.x_dim * N_ACTIONS
    return 1 + sc.x_dim + sc.x_dim * (sc.x_dim - 1) // 2


# -- reporting ----------------------------------------------------------------------------------


def _ci(row: pd.Series, key: str) -> str:
    return f"{row[key]:.2f} [{row[key + '_lo']:.2f}, {row[key + '_hi']:.2f}]"


def headline(summary: pd.DataFrame, scenarios: list[Scenario]) -> str:
    """Per agent: worst cases, goal counts, false escalation and escalation steps."""
    none = [s.name for s in scenarios if s.scale == 0 and not s.onset]
    strong = [s.name for s in scenarios if s.scale >= STRONG]
    lines = [
        "| agent | worst ratio to best fixed (scenario) | scenarios <= 1.05 | "
        "worst ratio to best fixed at any scale (scenario) | scenarios <= 1.05 | "
        "worst ratio to worse of main/full | scenarios <= 0.6 of worse (of those where the best "
        "fixed is) | false escalation (scale 0): any / large / large at T | "
        "escalated, strong | median first step, strong (range over scenarios) |",
        "| --- | --- | ---: | --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for agent, part in summary.groupby("agent", sort=False):
        if agent not in ESCALATING:
            continue
        worst = part.loc[part["ratio_best"].idxmax()]
        worse = part.loc[part["ratio_worse"].idxmax()]
        worst_any = part.loc[part["ratio_best_any"].idxmax()]
        within = int((part["ratio_best"] <= GOAL_BEST).sum())
        within_any = int((part["ratio_best_any"] <= GOAL_BEST).sum())
        feasible = part["floor_worse"] <= GOAL_WORSE
        lines.append(
            f"| {agent} | {_ci(worst, 'ratio_best')} ({worst.environment}) | "
            f"{within}/{len(part)} | "
            f"{_ci(worst_any, 'ratio_best_any')} ({worst_any.environment}) | "
            f"{within_any}/{len(part)} | {_ci(worse, 'ratio_worse')} ({worse.environment}) | "
            f"{int((part['ratio_worse'] <= GOAL_WORSE).sum())}/{len(part)} "
            f"({int((part.loc[feasible, 'ratio_worse'] <= GOAL_WORSE).sum())}/{feasible.sum()}) | "
            f"{_pooled(part, none)} / {_pooled(part, none, 'escalated_large')} / "
            f"{_pooled(part, none, 'escalated_large_at_end')} | "
            f"{_pooled(part, strong, counts=False)} | "
            f"{_step_range(part, strong)} |"
        )
    return "\n".join(lines)


def _pooled(
    part: pd.DataFrame, envs: list[str], column: str = "escalated", counts: bool = True
) -> str:
    """Share of the replicates of ``envs`` that escalated, pooled over the scenarios."""
    rows = part[part["environment"].isin(envs)]
    if rows.empty:
        return "n/a"
    hit, total = (
        round((rows[column] * rows["replicates"]).sum()),
        rows["replicates"].sum(),
    )
    return f"{hit / total:.1%} ({hit}/{total})" if counts else f"{hit / total:.0%}"


def _step_range(part: pd.DataFrame, envs: list[str]) -> str:
    steps = part.loc[part["environment"].isin(envs), "median_first_step"].dropna()
    return f"{steps.min():.0f}-{steps.max():.0f}" if len(steps) else "never"


def ratio_table(summary: pd.DataFrame, mode: Mode) -> str:
    """Scenarios x agents: ratio of mean regret to the best fixed agent (point estimates)."""
    shown = [fixed_name(0.0), fixed_name(mode.full), *ESCALATING]
    short = {
        fixed_name(0.0): "main only",
        fixed_name(mode.full): "full",
        DEFAULT: "BMA (default)",
        "ChampionChallenger": "champion",
        "EmpiricalBayes": "EB",
        "EvidenceSwitch jump": "ES jump",
        "EvidenceSwitch ladder": "ES ladder",
        "UncertaintyTrigger": "uncertainty",
        "DataSchedule": "data sched.",
        "ModelAveraging off 1/2": "BMA, off 1/2",
        "ModelAveraging leader": "BMA, leader draws",
        "ModelAveraging leader, off 1/2": "BMA, leader, off 1/2",
        "ModelAveraging mixture": "BMA, mixture draws",
    }
    head = "| scenario | best fixed (regret) | " + " | ".join(short[a] for a in shown) + " |"
    lines = [head, "| --- | --- |" + " ---: |" * len(shown)]
    for env, part in summary.groupby("environment", sort=False):
        part = part.set_index("agent")
        first = part.iloc[0]
        cells = []
        for a in shown:
            ratio = part.loc[a, "ratio_best"]
            text = f"{ratio:.2f}"
            cells.append(f"**{text}**" if a in ESCALATING and ratio > GOAL_BEST else text)
        star = " *" if first.source == "seed" else ""
        lines.append(
            f"| {env}{star} | {first.best_fixed.removeprefix('fixed ')} "
            f"({first.best_fixed_regret:.1f})"
            f" | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def default_table(summary: pd.DataFrame) -> str:
    """The default scheduler per scenario: ratios with intervals, escalation, the 2p split."""
    lines = [
        "| scenario | ratio to best fixed | ratio to best fixed at any scale (that agent) | "
        "ratio to worse of main/full (best fixed's) | "
        "escalated: any / large | median first step: any / large | ratio, steps <= 2p | "
        "ratio, after 2p | share of excess by 2p / by ~10p |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for _, row in summary[summary["agent"] == DEFAULT].iterrows():
        step = " / ".join(
            "-" if np.isnan(v) else f"{v:.0f}"
            for v in (row.median_first_step, row.median_first_step_large)
        )
        share = " / ".join(
            "-" if np.isnan(v) else f"{v:.0%}"
            for v in (row.early_share_of_excess, row.share_of_excess_10p)
        )
        lines.append(
            f"| {row.environment}{' *' if row.source == 'seed' else ''} | "
            f"{_ci(row, 'ratio_best')} | "
            f"{_ci(row, 'ratio_best_any')} ({row.best_any_fixed.removeprefix('fixed ')}) | "
            f"{_ci(row, 'ratio_worse')} "
            f"({row.floor_worse:.2f}) | "
            f"{row.escalated:.0%} / {row.escalated_large:.0%} | {step} | "
            f"{row.ratio_early:.2f} | {row.ratio_late:.2f} | "
            f"{share} |"
        )
        if not np.isnan(row.escalated_before_onset):
            lines.append(
                f"| ... {row.environment}: interactions from step {row.horizon // 2} | | | | "
                f"{row.escalated_before_onset:.0%} before it | "
                f"{row.median_first_step_after_onset:.0f} (first after it) | | | |"
            )
    return "\n".join(lines)


_MARK = {
    DEFAULT: ("o", "C0"),
    "ChampionChallenger": ("s", "C1"),
    "EmpiricalBayes": ("^", "C2"),
    "EvidenceSwitch jump": ("D", "C3"),
    "EvidenceSwitch ladder": ("v", "C4"),
    "UncertaintyTrigger": ("P", "C5"),
    "DataSchedule": ("X", "C6"),
    "ModelAveraging off 1/2": ("h", "C7"),
    "ModelAveraging leader": ("*", "C8"),
    "ModelAveraging leader, off 1/2": ("p", "C9"),
    "ModelAveraging mixture": ("d", "0.4"),
}


def ratio_figure(summary: pd.DataFrame, mode: Mode, title: str) -> Figure:
    """Dot plot: each agent's regret ratio to the best fixed agent per scenario (log x)."""
    envs = list(dict.fromkeys(summary["environment"]))
    fig = Figure(figsize=(10, 2.4 + 0.42 * len(envs)), layout="constrained")
    ax = fig.subplots()
    shown = [*ESCALATING, fixed_name(0.0), fixed_name(mode.full)]
    styles = {
        **_MARK,
        fixed_name(0.0): ("<", "0.55"),
        fixed_name(mode.full): (">", "0.3"),
    }
    labels = {fixed_name(0.0): "main only (fixed 0)", fixed_name(mode.full): "full"}
    offsets = np.linspace(-0.34, 0.34, len(shown))
    for agent, dy in zip(shown, offsets, strict=True):
        part = summary[summary["agent"] == agent].set_index("environment").loc[envs]
        y = np.arange(len(envs)) + dy
        marker, colour = styles[agent]
        ratio = part["ratio_best"].to_numpy()
        lo = np.minimum(part["ratio_best_lo"].to_numpy(), ratio)
        hi = np.minimum(part["ratio_best_hi"].to_numpy(), RATIO_AXIS_MAX)
        shown_ratio = np.minimum(ratio, RATIO_AXIS_MAX)
        inside = ratio <= RATIO_AXIS_MAX
        ax.errorbar(
            shown_ratio[inside],
            y[inside],
            xerr=[(shown_ratio - lo)[inside], np.maximum(hi - shown_ratio, 0)[inside]],
            fmt=marker,
            color=colour,
            markersize=5,
            elinewidth=1,
            capsize=0,
            label=labels.get(agent, agent + (" (default)" if agent == DEFAULT else "")),
        )
        # Off the scale: a hollow marker at the edge, labelled with the ratio.
        for value, row in zip(ratio[~inside], y[~inside], strict=True):
            ax.plot([RATIO_AXIS_MAX], [row], marker=marker, color=colour, markerfacecolor="none")
            ax.annotate(
                f"{value:.0f}",
                (RATIO_AXIS_MAX, row),
                xytext=(-8, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                fontsize=7,
                color=colour,
            )
    ax.axvline(1.0, color="0.2", linewidth=1)
    ax.axvline(GOAL_BEST, color="red", linestyle="--", linewidth=1.2, label="goal 1.05")
    for i in range(1, len(envs)):
        ax.axhline(i - 0.5, color="0.85", linewidth=0.6)
    seeds = set(summary.loc[summary["source"] == "seed", "environment"])
    ax.set_yticks(range(len(envs)), [f"{e} *" if e in seeds else e for e in envs])
    ax.set_ylim(len(envs) - 0.5, -0.5)
    ax.set_xscale("log")
    low = min(0.9, float(summary["ratio_best_lo"].min()) * 0.97)
    ax.set_xlim(low, RATIO_AXIS_MAX * 1.05)
    ax.set_xlabel(
        "cumulative regret at T / best fixed model in hindsight (95% paired bootstrap); "
        "hollow: off the scale"
    )
    ax.grid(True, axis="x", which="major", alpha=0.3)
    ticks = (0.7, 0.8, 0.9, 1, 1.2, 1.5, 2, 3, 5, 10)
    ax.set_xticks([t for t in ticks if low <= t <= RATIO_AXIS_MAX], minor=False)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    fig.legend(fontsize="small", loc="outside lower center", ncol=5)
    if seeds:
        ax.text(
            1.0,
            1.005,
            "* the seed notebook's scenarios",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize="small",
        )
    ax.set_title(title)
    return fig


def timeline_figure(
    regret: pd.DataFrame,
    events: pd.DataFrame,
    summary: pd.DataFrame,
    picks: list[str],
    mode: Mode,
    value: str,
    title: str,
) -> Figure:
    """The default scheduler's regret and escalation against main-only, full and the best."""
    ncols = min(3, len(picks))
    nrows = -(-len(picks) // ncols)
    fig = Figure(figsize=(6.2 * ncols, 4.4 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, env in zip(axes, picks, strict=False):
        best = summary.loc[summary["environment"] == env, "best_fixed"].iloc[0]
        agents = list(dict.fromkeys([DEFAULT, best, fixed_name(0.0), fixed_name(mode.full)]))
        part = regret[(regret["environment"] == env) & regret["agent"].isin(agents)]
        part = part.assign(agent=part["agent"].replace({best: f"{best} (best)"})).sort_values(
            "agent", key=lambda s: s.map(lambda a: a != DEFAULT)
        )
        plot_escalation_timeline(
            events[(events["environment"] == env) & (events["agent"] == DEFAULT)],
            part,
            environment=env,
            ax=ax,
            value=value,
            title=env,
        )
        ax.set_yscale("log")
    for ax in axes[len(picks) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig


def steps_figure(events: pd.DataFrame, envs: list[str], replicates: int, title: str) -> Figure:
    fig = Figure(figsize=(8, 1.2 + 0.34 * len(envs)), layout="constrained")
    mine = events[events["agent"] == DEFAULT]
    if mine.empty:
        mine = pd.DataFrame(columns=["environment", "replicate", "step", "old", "new"])
    plot_escalation_steps(mine, ax=fig.subplots(), order=envs, n_replicates=replicates, title=title)
    return fig


def float_of(name: str) -> float:
    return float(name.removeprefix("fixed "))


def timing_table(timing: pd.DataFrame) -> str:
    total = (
        timing.groupby(["kind", "noise", "agent"], sort=False)["seconds"]
        .sum()
        .unstack(["kind", "noise"])
    )
    order = list(dict.fromkeys([fixed_name(v) for m in MODES.values() for v in m.grid]))
    scaled = {a: vs for m in MODES.values() for a, vs in scaled_fixed(m).items()}
    scaled = sorted(scaled, key=lambda a: scaled[a][::-1])
    total = total.reindex(
        [a for a in [*sorted(order, key=float_of), *scaled, *ESCALATING] if a in total.index]
    )
    cols = list(total.columns)
    head = "| agent | " + " | ".join(f"{k} {n} (s)" for k, n in cols) + " |"
    lines = [head, "| --- |" + " ---: |" * len(cols)]
    for agent, row in total.iterrows():
        cells = ["-" if np.isnan(v) else f"{v:.0f}" for v in row]
        lines.append(f"| {agent} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(
    kind: str,
    regret: pd.DataFrame,
    events: pd.DataFrame,
    scenarios: list[Scenario],
    modes: list[str],
    out: Path,
    seed: int,
) -> list[str]:
    value = "expected_regret" if kind == "stream" else "pseudo_regret"
    # Shown from no interactions to strong ones, then by size and noise.
    scenarios = sorted(scenarios, key=lambda s: (s.onset, s.scale, s.x_dim, s.noise))
    label = "prediction streams" if kind == "stream" else "bandits"
    text = []
    for mode_name in modes:
        mode = MODES[mode_name]
        reg = regret[regret["noise"] == mode_name]
        ev = events[events["noise"] == mode_name]
        # Escalation is about the escalated group; the default scheduler's changes of the other
        # groups' shared scale are events too, kept in the Parquet file but not counted here.
        counted = ev[ev["group"] == ("pairwise" if kind == "stream" else "context:action")]
        summary = analyse(reg, counted, scenarios, mode, value, seed)
        stem = f"{kind}_{mode_name}"
        summary.to_csv(out / f"summary_{stem}.csv", index=False)
        reg.to_parquet(out / f"regret_{stem}.parquet", index=False)
        ev.to_parquet(out / f"events_{stem}.parquet", index=False)
        r, horizon = int(summary["replicates"].iloc[0]), int(summary["horizon"].iloc[0])
        text += [
            f"\n### {label}, noise {mode_name} ({r} replicates, T={horizon})\n",
            headline(summary, scenarios),
            "\nRatio of mean cumulative regret at T to the best fixed agent (bold: escalating "
            "agents above 1.05):\n",
            ratio_table(summary, mode),
            f"\nThe default scheduler ({DEFAULT}), 95% paired-bootstrap intervals:\n",
            default_table(summary),
        ]
        names = [s.name for s in scenarios]
        save_figure(
            ratio_figure(summary, mode, f"{label}, noise {mode_name}: regret / best fixed"),
            out / f"ratios_{stem}.png",
            dpi=90,
        )
        save_figure(
            steps_figure(
                counted, names, r, f"{DEFAULT}: first escalation, {label}, noise {mode_name}"
            ),
            out / f"steps_{stem}.png",
            dpi=90,
        )
        save_figure(
            timeline_figure(
                reg,
                counted,
                summary,
                _timeline_picks(summary, scenarios),
                mode,
                value,
                f"{DEFAULT} ({label}, noise {mode_name}): regret (left axis) and share of "
                "replicates escalated (right axis)",
            ),
            out / f"timeline_{stem}.png",
            dpi=90,
        )
    return text


def _timeline_picks(summary: pd.DataFrame, scenarios: list[Scenario]) -> list[str]:
    """The scenarios worth a timeline: the default scheduler's worst ones and a null case."""
    mine = summary[summary["agent"] == DEFAULT].sort_values("ratio_best", ascending=False)
    picks = list(mine["environment"].head(4))
    onset = [s.name for s in scenarios if s.onset]
    none = [s.name for s in scenarios if s.scale == 0]
    strong = [s.name for s in scenarios if s.scale >= STRONG]
    for extra in (onset[:1], none[:1], strong[:1]):
        picks += [e for e in extra if e not in picks]
    return picks[:6]


def load(out: Path, kinds: list[str], modes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The regret and events tables a previous run wrote into ``out``."""
    stems = [f"{k}_{m}" for k in dict.fromkeys(kinds) for m in modes]
    regret = pd.concat([pd.read_parquet(out / f"regret_{s}.parquet") for s in stems])
    events = pd.concat([pd.read_parquet(out / f"events_{s}.parquet") for s in stems])
    return regret.reset_index(drop=True), events.reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=5000)
    parser.add_argument("--bandit-replicates", type=int, default=40)
    parser.add_argument("--bandit-horizon", type=int, default=2000)
    parser.add_argument("--scenarios", nargs="+", help="scenario names (streams and bandits)")
    parser.add_argument("--noise", choices=["known", "learned", "both"], default="both")
    parser.add_argument("--skip-bandits", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild tables and figures from the regret/events Parquet files in --out",
    )
    parser.add_argument(
        "--agents",
        nargs="+",
        choices=ESCALATING,
        help="escalating agents to run (default: all); the fixed grid always runs",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/escalation"))
    args = parser.parse_args()
    if args.quick:
        args.replicates, args.horizon = 8, 300
        args.bandit_replicates, args.bandit_horizon = 4, 200
        if args.scenarios is None:
            args.scenarios = ["x2_i0_n0.5", "x6_i1_n0.5", "x2_i1_n0.1", "bandit_onset_i1"]
    streams, bandits = SCENARIOS, [] if args.skip_bandits else BANDITS
    if args.scenarios:
        known = {s.name for s in SCENARIOS + BANDITS}
        unknown = sorted(set(args.scenarios) - known)
        if unknown:
            parser.error(f"unknown scenarios {unknown}; known: {sorted(known)}")
        streams = [s for s in streams if s.name in args.scenarios]
        bandits = [s for s in bandits if s.name in args.scenarios]
    modes = ["known", "learned"] if args.noise == "both" else [args.noise]
    if args.agents:
        # Every table and figure reads the module-level list, so narrowing it narrows them all.
        ESCALATING[:] = [a for a in ESCALATING if a in args.agents]
    args.out.mkdir(parents=True, exist_ok=True)
    print(machine_note())
    start = time.perf_counter()
    index = {s.name: i for i, s in enumerate(SCENARIOS + BANDITS)}
    tasks = [
        Task(s, index[s.name], m, a, args.replicates, args.horizon, args.seed)
        for s in streams
        for m in modes
        for a in agent_names(MODES[m])
    ] + [
        Task(s, index[s.name], m, a, args.bandit_replicates, args.bandit_horizon, args.seed)
        for s in bandits
        for m in modes
        for a in agent_names(MODES[m])
    ]
    if args.report_only:
        regret, events = load(args.out, [s.kind for s in streams + bandits], modes)
        timing = pd.read_csv(args.out / "timing.csv")
        run_info = args.out / "run_info.txt"
        text = [
            *(run_info.read_text().splitlines() if run_info.exists() else []),
            f"tables and figures rebuilt from {args.out}",
        ]
    else:
        print(f"{len(tasks)} tasks on {args.workers} workers", file=sys.stderr)
        regret, events, timing = run_all(tasks, args.workers)
        run_seconds = time.perf_counter() - start
        timing.to_csv(args.out / "timing.csv", index=False)
        text = [
            f"{machine_note()}; {args.workers} worker processes",
            f"simulation wall time {run_seconds / 60:.1f} min; time in tasks (summed) "
            f"{timing['seconds'].sum() / 60:.1f} min",
        ]
        (args.out / "run_info.txt").write_text("\n".join(text) + "\n")
    for kind, scenarios in (("stream", streams), ("bandit", bandits)):
        if scenarios:
            text += report(
                kind,
                regret[regret["environment"].isin([s.name for s in scenarios])],
                events[events["environment"].isin([s.name for s in scenarios])],
                scenarios,
                modes,
                args.out,
                args.seed,
            )
    text += [
        "\nSeconds per agent: each task's wall time, summed over scenarios (on a shared "
        "machine this includes waiting for a core):\n",
        timing_table(timing),
    ]
    text.append(f"\ntotal wall time {(time.perf_counter() - start) / 60:.1f} min")
    summary = "\n".join(text)
    (args.out / "summary.md").write_text(summary + "\n")
    print(summary)


if __name__ == "__main__":
    main()
