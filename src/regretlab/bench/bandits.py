"""Bandit timings of ``regretlab bench``: our policies through ``run_bandit``, the reference
disjoint Thompson-sampling loop, MABWiser and Vowpal Wabbit on one stream of the same bandit.

The bandit is :class:`~regretlab.environments.LinearBandit` with ``K`` actions and
``context_dim = d - 1``; every policy reads a disjoint Gaussian model (one per action) on the
design ``(1, context)`` of ``d`` columns. Ours run end to end (environment, features, policy,
model, regret bookkeeping), as a user's run does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.bench import reference
from regretlab.bench.kernels import K, Timing
from regretlab.bench.machine import best_seconds

__all__ = ["bandit_timings"]


def _ours(policy: Any, r: int, d: int, steps: int) -> Callable[[], None]:
    from regretlab.environments import LinearBandit
    from regretlab.features import InteractionFeatures
    from regretlab.learners import DisjointBayesianLinearRegression
    from regretlab.simulate import Agent, run_bandit

    def run() -> None:
        env = LinearBandit(n_actions=K, context_dim=d - 1, horizon=steps, n_replicates=r, seed=0)
        fm = InteractionFeatures(d - 1, pairwise=False)
        model: Any = DisjointBayesianLinearRegression(groups=fm, n_actions=K, n_replicates=r)
        agent = Agent("a", model, features=fm, policy=policy)
        run_bandit(env, [agent], seed=1, checkpoints=np.array([steps]))

    return run


def _stream(r: int, d: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Designs ``(T, R, d)`` (intercept first) and rewards ``(T, R, K)`` of the same bandit."""
    from regretlab.environments import LinearBandit

    env = LinearBandit(n_actions=K, context_dim=d - 1, horizon=steps, n_replicates=r, seed=0)
    block = next(env.blocks(steps))
    context = np.moveaxis(block.context, 1, 0)
    x = np.concatenate([np.ones((*context.shape[:-1], 1)), context], axis=-1)
    return np.ascontiguousarray(x), np.ascontiguousarray(np.moveaxis(block.rewards, 1, 0))


def _mabwiser(policy: Callable[[], Any], x: np.ndarray, rewards: np.ndarray) -> Callable[[], None]:
    from mabwiser.mab import MAB

    def run() -> None:
        mab = MAB(list(range(K)), policy(), seed=1)
        for t in range(len(x)):
            row = x[t : t + 1]
            arm = 0 if t == 0 else int(mab.predict(row))
            mab.partial_fit([arm], [rewards[t, arm]], row)

    return run


def _vowpal(x: np.ndarray, rewards: np.ndarray) -> Callable[[], None]:
    import vowpalwabbit

    shared = ["shared |s " + " ".join(f"x{i}:{v:.9g}" for i, v in enumerate(row)) for row in x]
    arms = [f"|a a{k}" for k in range(K)]
    costs = (-rewards).tolist()
    u = np.random.default_rng(1).random(len(shared)).tolist()

    def run() -> None:
        vw = vowpalwabbit.Workspace(
            "--cb_explore_adf --quiet --random_seed 1", enable_logging=False
        )
        for t, line in enumerate(shared):
            pmf = vw.predict([line, *arms])
            total, arm, acc = sum(pmf), K - 1, 0.0
            for k, p in enumerate(pmf):
                acc += p
                if u[t] * total < acc:
                    arm = k
                    break
            labelled = list(arms)
            labelled[arm] = f"0:{costs[t][arm]!r}:{pmf[arm] / total!r} {arms[arm]}"
            vw.learn([line, *labelled])
        vw.finish()

    return run


def bandit_timings(
    r: int, d: int, steps: int, peer_steps: int, repeats: int, peers: dict[str, Any]
) -> list[Timing]:
    """Thompson sampling, LinUCB and epsilon-greedy (ours, end to end) against the reference
    disjoint Thompson-sampling loop, MABWiser's LinTS / LinUCB and VW's ``cb_explore_adf``."""
    from regretlab.policies import EpsilonGreedy, LinUCB, ThompsonSampling

    out: list[Timing] = []

    def add(kernel: str, role: str, name: str, fn: Callable[[], object], n: int, m: int) -> None:
        out.append(Timing(kernel, role, name, n, d, m / best_seconds(fn, repeats)))

    x, rewards = _stream(r, d, steps)
    rng_seed = np.random.SeedSequence(2)
    add("bandit-posterior", "reference", "bare numpy disjoint TS",
        lambda: reference.disjoint_thompson_lockstep(x, rewards, np.random.default_rng(rng_seed)),
        r, r * steps)  # fmt: skip
    work = r * steps
    add("bandit-posterior", "regretlab", "ThompsonSampling (disjoint)",
        _ours(ThompsonSampling(), r, d, steps), r, work)  # fmt: skip
    add("bandit-posterior", "regretlab", "LinUCB (disjoint)", _ours(LinUCB(), r, d, steps), r, work)
    add("bandit-greedy", "regretlab", "EpsilonGreedy(0.1) (disjoint)",
        _ours(EpsilonGreedy(0.1), r, d, steps), r, work)  # fmt: skip
    one_x, one_rewards = x[:peer_steps, 0], rewards[:peer_steps, 0]
    if "mabwiser" in peers:
        from mabwiser.mab import LearningPolicy

        for name, policy in (
            ("LinTS", lambda: LearningPolicy.LinTS(alpha=1.0, l2_lambda=1.0)),
            ("LinUCB", lambda: LearningPolicy.LinUCB(alpha=1.0, l2_lambda=1.0)),
        ):
            add("bandit-posterior", "peer", f"MABWiser {name} (one stream)",
                _mabwiser(policy, one_x, one_rewards), 1, peer_steps)  # fmt: skip
    if "vowpalwabbit" in peers:
        add("bandit-greedy", "peer", "Vowpal Wabbit cb_explore_adf (one stream)",
            _vowpal(one_x, one_rewards), 1, peer_steps)  # fmt: skip
    return out
