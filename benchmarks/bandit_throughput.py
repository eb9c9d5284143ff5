"""Bandit-side throughput (issue 19, items 3-4; issue 17's throughput bar): today against now.

Every case runs at R = 1000 replicates in lockstep, in modes:

- ``e2e``: ``run_bandit`` with the environment (draws included);
- ``replay``: ``run_bandit`` on the same steps generated beforehand (runner + agent);
- ``alone``: the agent alone on the replayed steps: feature map, ``policy.select`` and
  ``learner.learn_one`` in a plain loop (what ``run_bandit`` adds is ``replay / alone``);
- ``bare``: a bare numpy lockstep loop on the replayed steps (draw or index, argmax, update):
  ``benchmarks/mab.py``'s loops for the multi-armed rules, :func:`bare_disjoint_ts` here for
  disjoint Thompson sampling. These loops stay unchanged, so ratios stay comparable.

Cases: ``beta_ts``, ``ucb1``, ``klucb`` (``MultiArmedBandit``, K = 10, means
``linspace(0.05, 0.95, 10)``, the agents of ``benchmarks/mab.py``); ``disjoint_ts`` (d = 6,
K = 5, ``DisjointBayesianLinearRegression`` on ``[1, x]`` + ``ThompsonSampling``) and
``shared_ts`` (one ``BayesianLinearRegression`` over ``ActionFeatures``, d = 36) on the
environment of ``benchmarks/bandits.py``; ``logistic_ts`` (``GLMBandit(K=5, context_dim=1)``,
d = 12, ``BayesianGLM`` + ``ThompsonSampling``, with the share of time in ``learn_one``, the
Laplace update).

"Today" is the code of another checkout (``--baseline``, default ``/work/main/src``, the
starting commit), "now" this checkout's ``src`` (and ``--main``, optionally, a third checkout
timed in the same run): each runs in its own subprocess (``PYTHONPATH`` set to it), all
alternated ``--rounds`` times, best time of each kept (a shared machine: the
ratios within one run are what counts). Each process makes one untimed ``run_bandit`` run
first, so that every mode's ``--repeats`` runs are warm. Timed by the process's CPU time
(``time.process_time``; ``--wall`` for wall time): with many more busy processes than cores,
wall time mostly measures the scheduler.

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bandit_throughput.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/bandit_throughput.py --cases shared_ts --rounds 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

R = 1000
HORIZON = {"beta_ts": 300, "ucb1": 300, "klucb": 300, "disjoint_ts": 500, "shared_ts": 200}
HORIZON["logistic_ts"] = 300
MODES = {
    "beta_ts": ("e2e", "replay", "alone", "bare"),
    "ucb1": ("e2e", "replay", "alone", "bare"),
    "klucb": ("e2e", "replay", "alone", "bare"),
    "disjoint_ts": ("e2e", "replay", "alone", "bare"),
    "shared_ts": ("e2e", "replay", "alone"),
    "logistic_ts": ("e2e",),
}
HERE = Path(__file__).resolve().parent


# --- the bare disjoint Thompson sampling loop (kept unchanged) ----------------------------------
def bare_disjoint_ts(context: np.ndarray, rewards: np.ndarray, seed: int) -> None:
    """Disjoint TS in plain numpy: ``context`` ``(T, R, c)``, ``rewards`` ``(T, R, K)``.

    Each action's posterior ``N(m, S)`` on ``[1, x]`` (prior ``N(0, I)``, unit noise
    precision); a step draws every action's score from ``N(x'm_a, x'S_a x)``, takes the argmax
    and updates the chosen action's posterior by Sherman-Morrison (gather, update, scatter).
    """
    rng = np.random.default_rng(seed)
    t_max, r, c = context.shape
    k, d = rewards.shape[-1], c + 1
    mean = np.zeros((r * k, d))
    cov = np.broadcast_to(np.eye(d), (r * k, d, d)).copy()
    rows = np.arange(r)
    x = np.ones((r, d))
    for t in range(t_max):
        x[:, 1:] = context[t]
        m, s = mean.reshape(r, k, d), cov.reshape(r, k, d, d)
        loc = np.einsum("rkp,rp->rk", m, x)
        var = np.einsum("rkpq,rp,rq->rk", s, x, x)
        scores = loc + np.sqrt(np.maximum(var, 0.0)) * rng.standard_normal((r, k))
        act = scores.argmax(axis=1)
        at = rows * k + act
        y = rewards[t][rows, act]
        sc, mc = cov[at], mean[at]
        sx = np.einsum("rpq,rq->rp", sc, x)
        gain = sx / (1.0 + np.einsum("rp,rp->r", x, sx))[:, None]
        mc += gain * (y - np.einsum("rp,rp->r", x, mc))[:, None]
        sc -= gain[:, :, None] * sx[:, None, :]
        mean[at], cov[at] = mc, sc


# --- one process: the cases and modes, timed --------------------------------------------------
def _make(case: str, horizon: int) -> tuple[Any, Any]:
    """The environment and agent of ``case``."""
    from regretlab.policies import ThompsonSampling
    from regretlab.simulate import Agent

    if case in ("beta_ts", "ucb1", "klucb"):
        import mab
        from regretlab.environments import MultiArmedBandit

        env = MultiArmedBandit(mab.THROUGHPUT_MEANS, horizon=horizon, n_replicates=R, seed=3)
        return env, mab.agents(len(mab.THROUGHPUT_MEANS), R)[case]
    if case == "logistic_ts":
        from regretlab.environments import GLMBandit
        from regretlab.learners import BayesianGLM

        env = GLMBandit(n_actions=5, context_dim=1, intercept=-1.5, horizon=horizon,
                        n_replicates=R, seed=2)  # fmt: skip
        timed = type("TimedGLM", (BayesianGLM,), {"learn_one": _timed_learn})
        model = timed(groups=env.features, n_replicates=R)
        return env, Agent("a", model, policy=ThompsonSampling())
    import bandits

    env = bandits.make_env(R, horizon, 4)
    name = {"disjoint_ts": "ours disjoint TS", "shared_ts": "ours shared TS"}[case]
    return env, bandits.our_agents(env)[name]


LEARN_SECONDS = [0.0]
# The process's CPU time by default: on a machine shared by many busy processes the wall time
# measures mostly the scheduler (``--wall`` for wall time).
CLOCK = [time.process_time]


def _timed_learn(self: Any, x: Any, y: Any, **kwargs: Any) -> Any:
    start = CLOCK[0]()
    type(self).__mro__[1].learn_one(self, x, y, **kwargs)
    LEARN_SECONDS[0] += CLOCK[0]() - start
    return self


def _replay(case: str, env: Any) -> Any:
    if case in ("beta_ts", "ucb1", "klucb"):
        import mab

        return mab.Replay(env)
    import bandits

    return bandits.Replay(env)


def _alone(env: Any, replay: Any, agent: Any, seed: int) -> None:
    """The agent alone: feature map, select and learn, as ``run_bandit`` calls them."""
    from regretlab.simulate.agents import prepare_agents

    _, learners, maps, _ = prepare_agents([agent], env)
    learner, fm, policy = learners[0], maps[0], agent.policy
    rng = np.random.default_rng(seed)
    block = next(replay.blocks())
    context, rewards = (np.ascontiguousarray(np.moveaxis(a, 1, 0)) for a in block[:2])
    rows = np.arange(R)
    propensity = getattr(learner, "learns_propensity", False)
    for t in range(len(context)):
        design = fm.transform(context[t])
        designs = design if design.ndim == 3 else np.broadcast_to(
            design[:, None, :], (R, env.n_actions, design.shape[-1]))  # fmt: skip
        choice = policy.select(learner, designs, rng, step=t + 1)
        a = choice.actions
        chosen = designs[rows, a] if design.ndim == 3 else design
        if propensity:
            learner.learn_one(chosen, rewards[t][rows, a], action=a, probability=choice.probability)
        elif getattr(learner, "n_actions", None) is not None:
            learner.learn_one(chosen, rewards[t][rows, a], action=a)
        else:
            learner.learn_one(chosen, rewards[t][rows, a])


def _bare(case: str, replay: Any, horizon: int) -> None:
    if case == "disjoint_ts":
        steps = replay.steps
        bare_disjoint_ts(steps.context, steps.rewards, 4)
        return
    import mab

    table = replay.steps[1]
    if case == "beta_ts":
        mab.bare_ts(mab.THROUGHPUT_MEANS, R, horizon, 4, table=table)
    else:
        mab._bare_index(mab.THROUGHPUT_MEANS, R, horizon, 4, kl=case == "klucb", table=table)


def worker(case: str, modes: list[str], horizon: int, repeats: int) -> dict[str, Any]:
    """Best seconds of each mode (alternated ``repeats`` times) in this process."""
    from regretlab.simulate import run_bandit

    best: dict[str, float] = dict.fromkeys(modes, math.inf)
    share = math.nan
    replay = None
    # One untimed run first: a process's first run loads the compiled kernels and touches its
    # memory for the first time (2x a warm run), so without it the first mode timed (e2e) had
    # one warm run per process fewer than the others.
    env, agent = _make(case, horizon)
    run_bandit(env, [agent], seed=5, checkpoints=np.array([horizon]))
    for _ in range(repeats):
        for mode in modes:
            env, agent = _make(case, horizon)
            if mode != "e2e" and replay is None:
                replay = _replay(case, env)
            LEARN_SECONDS[0] = 0.0
            start = CLOCK[0]()
            if mode == "e2e":
                run_bandit(env, [agent], seed=5, checkpoints=np.array([horizon]))
            elif mode == "replay":
                run_bandit(replay, [agent], seed=5, checkpoints=np.array([horizon]))
            elif mode == "alone":
                _alone(env, replay, agent, 5)
            else:
                _bare(case, replay, horizon)
            elapsed = CLOCK[0]() - start
            if elapsed < best[mode]:
                best[mode] = elapsed
                if mode == "e2e":
                    share = LEARN_SECONDS[0] / elapsed
    return {"seconds": best, "learn_share": share}


# --- the driver: today and now in alternated subprocesses ----------------------------------------
def run(src: str, case: str, modes: list[str], horizon: int, repeats: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": src, "OPENBLAS_NUM_THREADS": "1"}
    args = [sys.executable, __file__, "--worker", case, "--modes", *modes]
    args += ["--horizon", str(horizon), "--repeats", str(repeats)]
    args += ["--wall"] if CLOCK[0] is time.perf_counter else []
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(MODES))
    parser.add_argument("--baseline", default="/work/main/src", help="src of 'today'")
    parser.add_argument("--main", help="src of a third checkout timed in the same run ('main')")
    parser.add_argument("--rounds", type=int, default=3, help="alternations today/now")
    parser.add_argument("--repeats", type=int, default=2, help="runs per mode per process")
    parser.add_argument("--wall", action="store_true", help="wall time, not CPU time")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--modes", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--horizon", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.wall:
        CLOCK[0] = time.perf_counter
    if args.worker:
        sys.path.insert(0, str(HERE))
        print(json.dumps(worker(args.worker, args.modes, args.horizon, args.repeats)))
        return
    sys.path.insert(0, str(HERE))
    from _timing import machine_note

    srcs = {"today": args.baseline, "now": str(HERE.parent / "src")}
    if args.main:
        srcs = {"today": args.baseline, "main": args.main, "now": srcs["now"]}
    named = ", ".join(f"{name} = {src}" for name, src in srcs.items())
    print(f"R = {R}; {machine_note()}; {named}")
    clock = "wall time" if args.wall else "CPU time of the process"
    print(f"best of {args.rounds} alternated processes x {args.repeats} runs ({clock}); "
          "replicate-steps/s\n")  # fmt: skip
    for case in args.cases:
        horizon, modes = HORIZON[case], list(MODES[case])
        best = {(s, m): math.inf for s in srcs for m in modes}
        share = dict.fromkeys(srcs, math.nan)
        for _ in range(args.rounds):
            for name, src in srcs.items():
                # The bare loop does not depend on the checkout: timed with "now" only.
                wanted = [m for m in modes if name == "now" or m != "bare"]
                got = run(src, case, wanted, horizon, args.repeats)
                for mode, seconds in got["seconds"].items():
                    if seconds < best[name, mode]:
                        best[name, mode] = seconds
                        if mode == "e2e":
                            share[name] = got["learn_share"]
        rate = {key: R * horizon / value for key, value in best.items()}
        print(f"{case} (T = {horizon})")
        for mode in modes:
            today, now = rate["today", mode], rate["now", mode]
            if mode == "bare":
                print(f"  {mode:7s} bare loop {now:>12,.0f}")
            elif "main" in srcs:
                main_rate = rate["main", mode]
                print(f"  {mode:7s} today {today:>12,.0f}  main {main_rate:>12,.0f}  now "
                      f"{now:>12,.0f}  main/today {main_rate / today:6.2f}  now/today "
                      f"{now / today:6.2f}  now/main {now / main_rate:6.2f}")  # fmt: skip
            else:
                print(f"  {mode:7s} today {today:>12,.0f}  now {now:>12,.0f}  now/today "
                      f"{now / today:6.2f}")  # fmt: skip
        for name in srcs:
            parts = []
            if "bare" in modes:
                parts.append(f"e2e/bare {rate[name, 'e2e'] / rate['now', 'bare']:.3f}")
                parts.append(f"replay/bare {rate[name, 'replay'] / rate['now', 'bare']:.3f}")
            if "alone" in modes:
                over = best[name, "replay"] / best[name, "alone"] - 1.0
                parts.append(f"run_bandit over the agent alone {over:+.1%}")
            if case == "logistic_ts":
                parts.append(f"share of time in learn_one {share[name]:.0%}")
            print(f"  {name}: " + "; ".join(parts))
        print(flush=True)


if __name__ == "__main__":
    main()
