"""Bandit runs: every agent chooses, the environment reveals the chosen reward, agents learn.

All agents of a replicate face the same contexts and the same reward noise (the environment
draws the reward of every action), so regret differences between agents are paired.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from regretlab._random import SeedLike, children
from regretlab.simulate.agents import (
    Agent,
    EventLog,
    check_checkpoints,
    prepare_agents,
    replicate_ids,
)

__all__ = ["BanditResult", "run_bandit"]


class BanditResult(NamedTuple):
    """``regret``: one row per agent x replicate x checkpoint; ``steps``: optional per-step log;
    ``events``: every prior change (agent, replicate, step, group, old, new)."""

    regret: pd.DataFrame
    steps: pd.DataFrame | None
    events: pd.DataFrame


def _design_rows(design: np.ndarray, context: np.ndarray, n_actions: int) -> np.ndarray:
    """``(..., K, p)`` design rows; a map without an action axis serves every action alike."""
    if design.ndim == context.ndim:
        return np.broadcast_to(
            design[..., None, :], (*design.shape[:-1], n_actions, design.shape[-1])
        )
    return design


def _learn(learner: Any, rows: np.ndarray, index: tuple, rewards: np.ndarray) -> None:
    """Teach the chosen action's reward; ``index`` picks ``rows[r, a_r]`` (``rows[a]``)."""
    chosen = rows[index]
    actions = index[-1]
    if getattr(learner, "n_actions", None) is None:
        learner.learn_one(chosen, rewards)
    else:
        learner.learn_one(chosen, rewards, action=actions)


def run_bandit(
    env: Any,
    agents: list[Agent] | tuple[Agent, ...],
    *,
    seed: SeedLike = None,
    checkpoints: np.ndarray | None = None,
    log_steps: bool = False,
    environment: str | None = None,
    progress: bool = False,
) -> BanditResult:
    """Run every agent on ``env`` for ``env.horizon`` steps over all replicates in lockstep.

    Records the cumulative pseudo-regret ``sum_t max_a mu_t(a) - mu_t(a_t)`` and realised
    regret ``sum_t max_a mu_t(a) - r_t(a_t)`` at every checkpoint.

    Parameters
    ----------
    env
        A bandit environment (``blocks()`` of ``BanditStep``; ``n_actions``, ``horizon``,
        ``n_replicates``, ``features``).
    agents
        Agents with a ``policy``; the learner may be ``None`` for model-free policies.
    seed
        Root of the policies' generators: one child per agent, spawned here, so an agent's
        exploration does not depend on which other agents run beside it.
    checkpoints
        Steps (1-based) at which to record; default log-spaced plus the last.
    log_steps
        Also return every step's action, reward, propensity and regret (large: R x T rows per
        agent).
    environment, progress
        Label for the ``environment`` column; show a progress bar.

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.policies import ThompsonSampling
    >>> env = LinearBandit(n_actions=3, context_dim=2, horizon=50, n_replicates=4, seed=0)
    >>> model = BayesianLinearRegression(groups=env.features, n_replicates=4)
    >>> result = run_bandit(env, [Agent("ts", model, policy=ThompsonSampling())], seed=1)
    >>> result.regret.columns.tolist()[:4]
    ['environment', 'agent', 'replicate', 'step']
    """
    names, learners, maps, schedulers = prepare_agents(agents, env)
    missing = [a.name for a in agents if a.policy is None]
    if missing:
        raise ValueError(f"bandit agents need a policy; agents without one: {missing}")
    steps = check_checkpoints(checkpoints, env.horizon)
    rngs = [np.random.default_rng(s) for s in children(seed, len(agents))]
    batch = () if env.n_replicates is None else (env.n_replicates,)
    k = env.n_actions
    label = repr(env) if environment is None else environment
    events = EventLog(names, label)
    # Environment blocks of about 16 MB (fewer per-replicate generator calls); designs are
    # made per step, never held for a block.
    block = max(1, 2**21 // (max(1, math.prod(batch)) * (2 * k + env.context_dim)))
    replicates = np.arange(batch[0]) if batch else None

    pseudo = np.zeros((len(agents), *batch))
    realised = np.zeros((len(agents), *batch))
    records: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    log: list[dict[str, Any]] = []
    t, next_check = 0, 0
    bar = tqdm(total=env.horizon, disable=not progress, desc=label, leave=False)
    for chunk in env.blocks(block):
        context = np.moveaxis(chunk.context, -2, 0)
        rewards = np.moveaxis(chunk.rewards, -2, 0)
        means = np.moveaxis(chunk.means, -2, 0)
        for i in range(len(rewards)):
            t += 1
            best = means[i].max(axis=-1)
            for a, agent in enumerate(agents):
                rows = _design_rows(maps[a].transform(context[i]), context[i], k)
                try:
                    choice = agent.policy.select(learners[a], rows, rngs[a], step=t, means=means[i])
                    actions = np.asarray(choice.actions)
                    index = (actions,) if replicates is None else (replicates, actions)
                    reward = rewards[i][index]
                    if learners[a] is not None:
                        _learn(learners[a], rows, index, reward)
                        events.after_step(a, learners[a], schedulers[a], t)
                except (ValueError, TypeError) as exc:
                    raise type(exc)(f"step {t}, agent {names[a]!r}: {exc}") from exc
                mean = means[i][index]
                pseudo[a] += best - mean
                realised[a] += best - reward
                if log_steps:
                    log.append(
                        {
                            "agent": names[a],
                            "step": t,
                            "action": np.atleast_1d(actions),
                            "reward": np.atleast_1d(reward),
                            "best_mean": np.atleast_1d(best),
                            "chosen_mean": np.atleast_1d(mean),
                            "probability": np.atleast_1d(
                                np.nan if choice.probability is None else choice.probability
                            ),
                        }
                    )
            if next_check < len(steps) and t == steps[next_check]:
                next_check += 1
                records.extend(
                    (a, t, pseudo[a].copy(), realised[a].copy()) for a in range(len(agents))
                )
        bar.update(len(rewards))
    bar.close()
    reps = replicate_ids(batch)
    regret = pd.concat(
        [
            pd.DataFrame(
                {
                    "environment": label,
                    "agent": names[a],
                    "replicate": reps,
                    "step": step,
                    "pseudo_regret": np.atleast_1d(ps),
                    "realised_regret": np.atleast_1d(rl),
                }
            )
            for a, step, ps, rl in records
        ],
        ignore_index=True,
    )
    steps_table = _step_table(log, label, reps) if log_steps else None
    return BanditResult(regret, steps_table, events.table())


def _step_table(log: list[dict[str, Any]], label: str, reps: np.ndarray) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "environment": label,
                "agent": row["agent"],
                "replicate": reps,
                "step": row["step"],
                **{
                    key: np.broadcast_to(row[key], reps.shape)
                    for key in ("action", "reward", "best_mean", "chosen_mean", "probability")
                },
            }
        )
        for row in log
    ]
    return pd.concat(frames, ignore_index=True)
