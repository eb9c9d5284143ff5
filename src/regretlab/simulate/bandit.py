"""Bandit runs: every agent chooses, the environment reveals the chosen reward, agents learn.

All agents of a replicate face the same contexts and the same reward noise (the environment
draws the reward of every action), so regret differences between agents are paired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from regretlab._lazy import lazy_module
from regretlab._lazy import progress_bar as tqdm
from regretlab._random import SeedLike, children
from regretlab.base import BanditEnvironment, StepLog
from regretlab.simulate._accounting import account
from regretlab.simulate._availability import best_available, block_availability, check_chosen
from regretlab.simulate._budget import DEFAULT_BLOCK_MEMORY, bandit_block_size
from regretlab.simulate._labels import label_column, readable_name, tables_repr
from regretlab.simulate.agents import (
    Agent,
    EventLog,
    check_checkpoints,
    prepare_agents,
    replicate_ids,
)
from regretlab.simulate.choices import _ChoiceTally
from regretlab.simulate.feedback import Feedback, FeedbackChannel

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

__all__ = ["BanditResult", "run_bandit"]


class BanditResult(NamedTuple):
    """``regret``: one row per agent x replicate x checkpoint; ``steps``: optional per-step log;
    ``events``: every prior change (agent, replicate, step, group, old, new); ``choices``: one
    row per agent x replicate x checkpoint x action, how often the action was chosen so far
    (``count``), how often it was optimal then (``optimal``) and the expected reward it
    collected (``expected_reward``; see :mod:`regretlab.simulate.choices`). In every table the
    ``environment`` column is a categorical of one category: the label is stored once, not on
    every row.

    >>> from regretlab.environments import LinearBandit
    >>> from regretlab.policies import Random
    >>> env = LinearBandit(n_actions=3, context_dim=2, horizon=20, n_replicates=2, seed=0)
    >>> result = run_bandit(env, [Agent("random", policy=Random())], checkpoints=[20])
    >>> result.regret.columns.tolist()[-2:], result.steps, len(result.events)
    (['pseudo_regret', 'realised_regret'], None, 0)
    """

    regret: pd.DataFrame
    steps: pd.DataFrame | None
    events: pd.DataFrame
    choices: pd.DataFrame

    def __repr__(self) -> str:
        return tables_repr("BanditResult", self._asdict())


def _design_rows(design: np.ndarray, context: np.ndarray, n_actions: int) -> np.ndarray:
    """``(..., K, p)`` design rows; a map without an action axis serves every action alike."""
    if design.ndim != context.ndim:
        return design
    shape = (*design.shape[:-1], n_actions, design.shape[-1])
    if not design.flags.c_contiguous:
        return np.broadcast_to(design[..., None, :], shape)
    # What np.broadcast_to returns, built directly (several times cheaper, and made per step).
    strides = (*design.strides[:-1], 0, design.strides[-1])
    rows = np.ndarray(shape, design.dtype, design, 0, strides)
    rows.flags.writeable = False
    return rows


def _time_first(block: np.ndarray) -> np.ndarray:
    """``block`` ``(..., m, X)`` with time first, ``(m, ..., X)``: a view when each step's values
    are contiguous already (a time-major block, or one broadcast over time such as the constant
    means of a stationary bandit), else a contiguous copy."""
    moved = np.moveaxis(block, -2, 0)
    return moved if moved[0].flags.c_contiguous else np.ascontiguousarray(moved)


def _chosen_rows(design: np.ndarray, rows: np.ndarray, index: tuple, at: np.ndarray) -> np.ndarray:
    """The chosen actions' rows: ``rows[r, a_r]`` (``rows[a]``); ``at`` are their flat cells
    ``r K + a_r`` (:func:`~regretlab.simulate._accounting.account`)."""
    # A design without an action axis is every action's row: no need to pick. Rows shared by
    # every replicate (a design without context) are picked from the one table.
    if design.ndim < rows.ndim:
        return design
    if rows.ndim == 3 and rows.strides[0] == 0:
        return rows[0].take(index[-1], axis=0)
    if rows.flags.c_contiguous:
        # The same rows copied as by ``rows[index]``, by one take along the flat cells (about
        # 3x faster than indexing by two arrays at R = 1000).
        return rows.reshape(-1, rows.shape[-1]).take(at, axis=0)
    return rows[index]


def _learn(
    learner: Any,
    chosen: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    probability: Any = None,
) -> None:
    """Teach the chosen action's reward (``chosen``: its rows, :func:`_chosen_rows`).

    A learner with ``learns_propensity = True`` also gets the policy's ``probability``.
    """
    if getattr(learner, "n_actions", None) is None:
        learner.learn_one(chosen, rewards)
    elif getattr(learner, "learns_propensity", False):
        learner.learn_one(chosen, rewards, action=actions, probability=probability)
    else:
        learner.learn_one(chosen, rewards, action=actions)


def run_bandit(
    env: BanditEnvironment,
    agents: list[Agent] | tuple[Agent, ...],
    *,
    seed: SeedLike = None,
    checkpoints: np.ndarray | None = None,
    log_steps: bool = False,
    environment: str | None = None,
    progress: bool = False,
    feedback: Feedback | None = None,
    log_to: StepLog | None = None,
    block_memory: int = DEFAULT_BLOCK_MEMORY,
) -> BanditResult:
    """Run every agent on ``env`` for ``env.horizon`` steps over all replicates in lockstep.

    Records the cumulative pseudo-regret ``sum_t max_a mu_t(a) - mu_t(a_t)`` and realised
    regret ``sum_t max_a mu_t(a) - r_t(a_t)`` at every checkpoint; a block with a ``best``
    field (:class:`~regretlab.environments.ArmStep`) replaces ``max_a mu_t(a)`` by it.

    Parameters
    ----------
    env
        A :class:`~regretlab.base.BanditEnvironment`: ``blocks(block_size)`` yields
        :class:`~regretlab.environments.BanditStep` blocks (fields ``context``, ``rewards``,
        ``means``, time on the axis after the replicate axis); it also has ``n_actions``,
        ``context_dim``, ``horizon``, ``n_replicates`` and ``features``. The runner picks
        ``block_size`` (from ``block_memory``), so the steps must not depend on it.
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
    feedback
        Delayed or batched learning (:class:`~regretlab.simulate.Feedback`); ``None``, as
        ``Feedback()``, teaches every reward at the end of its own step.
    log_to
        A :class:`~regretlab.base.StepLog` that receives every agent's context, choice (with
        its propensity), reward and the step's true means as the run goes (such as
        :class:`~regretlab.offpolicy.ParquetLog`, for off-policy evaluation); closed after the
        last step. ``None`` (the default) logs nothing and changes nothing.
    block_memory
        Bytes of environment data (contexts, rewards, means) held at once: the steps are read
        in blocks sized to fit (at least one step), so the memory does not grow with the
        horizon. Any value gives the same results; default 64 MiB.

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
    policies = [a.policy for a in agents if a.policy is not None]
    steps = check_checkpoints(checkpoints, env.horizon)
    rngs = [np.random.default_rng(s) for s in children(seed, len(agents))]
    batch = () if env.n_replicates is None else (env.n_replicates,)
    k = env.n_actions
    label = readable_name(env) if environment is None else environment
    events = EventLog(names, label)
    # Environment blocks within block_memory; designs are made per step, never held for a block.
    block = bandit_block_size(block_memory, env)
    replicates = np.arange(batch[0]) if batch else None
    offsets = None if replicates is None else replicates * k
    channel = None if feedback is None else FeedbackChannel(feedback, len(agents), env.n_replicates)
    if channel is not None:
        weighted = [
            n
            for n, m in zip(names, learners, strict=True)
            if getattr(m, "learns_propensity", False)
        ]
        if weighted:
            raise ValueError(
                f"feedback (delayed or batched learning) does not carry the propensities that "
                f"the learners of {weighted} learn from (importance weights, as EXP3's); run "
                f"them without feedback"
            )

    # Agents whose prior changes are recorded: a scheduler, or a learner that reports its own.
    watched = [
        s is not None or hasattr(m, "pop_events") for m, s in zip(learners, schedulers, strict=True)
    ]
    pseudo = np.zeros((len(agents), *batch))
    realised = np.zeros((len(agents), *batch))
    tally = _ChoiceTally(len(agents), batch, k, len(steps))
    records: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    log: list[dict[str, Any]] = []
    t, next_check = 0, 0
    bar = tqdm(total=env.horizon, disable=not progress, desc=label, leave=False)
    for chunk in env.blocks(block):
        # Time first, each step's values contiguous (no copy for LinearBandit, which lays its
        # blocks out so); the best expected reward of every step at once.
        context, rewards, means = (
            _time_first(a) for a in (chunk.context, chunk.rewards, chunk.means)
        )
        # The comparator: the best action of each step, unless the block states its own
        # (``best``, the best fixed arm of an adversarial bandit).
        stated = getattr(chunk, "best", None)
        # Actions a step makes unavailable (``available``): never chosen, not the comparator.
        available = block_availability(chunk, means, policies, names, log_to)
        best_means = (
            best_available(means, available) if stated is None else np.ascontiguousarray(stated.T)
        )
        for i in range(len(rewards)):
            t += 1
            best = best_means[i]
            flat_rewards, flat_means = rewards[i].reshape(-1), means[i].reshape(-1)
            if channel is not None:
                channel.begin(t)
            for a, policy in enumerate(policies):
                design = maps[a].transform(context[i])
                rows = _design_rows(design, context[i], k)
                try:
                    mask = {} if available is None else {"available": available[i]}
                    choice = policy.select(
                        learners[a], rows, rngs[a], step=t, means=means[i], **mask
                    )
                    actions = np.asarray(choice.actions)
                    # The actions checked, the rewards gathered, the regrets and choices counted.
                    at, reward, mean = account(
                        a, actions, offsets, k, flat_rewards, flat_means, best,
                        pseudo, realised, tally,
                    )  # fmt: skip
                    if available is not None:
                        check_chosen(available[i], at)
                    if learners[a] is not None:
                        index = (actions,) if replicates is None else (replicates, actions)
                        chosen = _chosen_rows(design, rows, index, at)
                        if channel is None:
                            _learn(learners[a], chosen, actions, reward, choice.probability)
                            if watched[a]:
                                events.after_step(a, learners[a], schedulers[a], t)
                        else:
                            channel.send(a, t, chosen, reward, actions)
                            if channel.deliver(a, t, learners[a]):
                                events.after_step(a, learners[a], schedulers[a], t)
                except (ValueError, TypeError) as exc:
                    raise type(exc)(f"step {t}, agent {names[a]!r}: {exc}") from exc
                if log_to is not None:
                    log_to.record(
                        names[a],
                        t,
                        context[i],
                        choice._replace(actions=actions),
                        reward,
                        means[i],
                        **mask,
                    )
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
                tally.checkpoint(t)
        bar.update(len(rewards))
    bar.close()
    if log_to is not None:
        log_to.close()
    reps = replicate_ids(batch)
    regret = pd.concat(
        [
            pd.DataFrame(
                {
                    "environment": label_column(label, len(reps)),
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
    choices = tally.table(label, names, reps)
    return BanditResult(regret, steps_table, events.table(), choices)


def _step_table(log: list[dict[str, Any]], label: str, reps: np.ndarray) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "environment": label_column(label, len(reps)),
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
