"""Hardening (issue 20): what counting the arm choices (``run_bandit``'s ``choices``) costs.

``run_bandit`` at ``--replicates`` replicates runs in this process, alternately as shipped (the
``choices`` tally updated every agent-step, snapshotted at every checkpoint, tabled at the end)
and with the tally monkeypatched to no-ops, best of ``--repeats``, on two workloads: a
multi-armed bandit with the cheapest agents (UCB1 and Random: the loop is mostly the
bookkeeping, the worst case for the overhead) and a linear bandit with Thompson sampling and
LinUCB (the usual contextual run). Reported: seconds per run of each and their ratio, and (more
robust on a loaded machine) the time inside the tally's methods as a share of one run's time.

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/choice_tally.py     # --replicates 1000
    OPENBLAS_NUM_THREADS=1 python benchmarks/choice_tally.py --horizon 3000 --only multi-armed
"""

from __future__ import annotations

import argparse
import time

from _timing import best_of, machine_note
from regretlab.environments import LinearBandit, MultiArmedBandit
from regretlab.learners import ArmMeans, BayesianLinearRegression
from regretlab.policies import UCB1, LinUCB, Random, ThompsonSampling
from regretlab.simulate import Agent, choices, run_bandit


def _workloads(r: int, horizon: int):
    def mab():
        env = MultiArmedBandit([0.1, 0.3, 0.5, 0.7, 0.9], horizon=horizon, n_replicates=r, seed=0)
        agents = [Agent("ucb1", ArmMeans(n_actions=5, n_replicates=r), policy=UCB1()),
                  Agent("random", policy=Random())]  # fmt: skip
        return env, agents

    def linear():
        env = LinearBandit(n_actions=5, context_dim=3, horizon=horizon, n_replicates=r, seed=0)
        agents = [
            Agent("ts", BayesianLinearRegression(groups=env.features, n_replicates=r),
                  policy=ThompsonSampling()),
            Agent("linucb", BayesianLinearRegression(groups=env.features, n_replicates=r),
                  policy=LinUCB(1.0)),
        ]  # fmt: skip
        return env, agents

    return {"multi-armed (UCB1, Random)": mab, "linear (Thompson, LinUCB)": linear}


def _run(make, plain: bool) -> None:
    tally = choices._ChoiceTally
    saved = (tally.add, tally.checkpoint, tally.table)
    if plain:
        tally.add = lambda self, *args: None
        tally.checkpoint = lambda self, step: None
        tally.table = lambda self, *args: None
    try:
        env, agents = make()
        run_bandit(env, agents, seed=1)  # default checkpoints: log-spaced plus the last
    finally:
        tally.add, tally.checkpoint, tally.table = saved


def _share(make) -> tuple[float, float]:
    """Seconds inside the tally's methods (timed around each call) and of the whole run: both
    measured in the same run, so the machine's load cancels out of their ratio."""
    tally = choices._ChoiceTally
    saved = (tally.add, tally.checkpoint, tally.table)
    spent = [0.0]

    def timed(method):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start

        return wrapper

    tally.add, tally.checkpoint, tally.table = (timed(m) for m in saved)
    try:
        env, agents = make()
        start = time.perf_counter()
        run_bandit(env, agents, seed=1)
        total = time.perf_counter() - start
    finally:
        tally.add, tally.checkpoint, tally.table = saved
    return spent[0], total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--horizon", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=["multi-armed", "linear"], default=None)
    args = parser.parse_args()
    print(f"machine: {machine_note()} (shared with other jobs)")
    print(f"run_bandit, {args.replicates} replicates x {args.horizon} steps, 2 agents, 5 arms, "
          f"best of {args.repeats} (alternating)")  # fmt: skip
    for name, make in _workloads(args.replicates, args.horizon).items():
        if args.only is not None and not name.startswith(args.only):
            continue
        _run(make, plain=False)  # warm-up
        shipped, plain = [], []
        for _ in range(args.repeats):
            shipped.append(best_of(lambda m=make: _run(m, plain=False), 1))
            plain.append(best_of(lambda m=make: _run(m, plain=True), 1))
        a, b = min(shipped), min(plain)
        print(f"  {name}: with the tally {a:.3f} s, without {b:.3f} s, ratio {a / b:.3f}")
        inside, total = min((_share(make) for _ in range(args.repeats)), key=lambda p: p[0] / p[1])
        print(f"    time inside the tally: {inside:.3f} s of {total:.3f} s ({inside / total:.1%})")


if __name__ == "__main__":
    main()
