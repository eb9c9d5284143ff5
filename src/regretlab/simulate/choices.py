"""Arm choices of bandit runs: how often each agent chose each arm, and against the oracle.

:func:`~regretlab.simulate.run_bandit` counts, per agent, replicate and action, up to every
checkpoint (its ``choices`` table, one row per agent x replicate x checkpoint x action):

- ``count``: the steps on which the agent chose the action;
- ``optimal``: of those, the steps on which the action was optimal, that is its expected reward
  reached the comparator's (the best expected reward of the step, or the stated ``best`` of the
  block such as the best fixed arm of an adversarial bandit; ties count as optimal);
- ``expected_reward``: the expected rewards ``mu_t(a_t)`` those choices collected.

Summed over actions, ``count`` is the step, ``optimal`` the number of optimal choices, and
``expected_reward`` the agent's cumulative expected reward; the oracle's (the comparator's)
is that plus the agent's cumulative pseudo-regret. The summaries below read these tables.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from regretlab._lazy import lazy_module
from regretlab.simulate._labels import label_column
from regretlab.simulate.results import summarise

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

__all__ = ["choice_shares", "optimal_share", "oracle_share"]

_CHOICE_COLUMNS = {"environment", "agent", "replicate", "step", "action", "count", "optimal"}


class _ChoiceTally:
    """The counts behind the ``choices`` table, kept in lockstep with the runner.

    :meth:`add` only buffers a step's flat chosen indices ``r * K + a_r`` (the runner's), the
    optimal flags and the expected rewards; every ``_FLUSH`` buffered choices and at every
    checkpoint one ``np.bincount`` per column adds them to flat ``(agents, replicates * K)``
    arrays, which costs far less per step than indexing per step.

    The runner's compiled accounting (:mod:`regretlab.simulate._accounting`) counts into the
    arrays of :meth:`compiled_cells` instead and calls :meth:`compiled_step` after each step:
    the counts directly, the expected rewards into a pending sum from zero that is added at
    the same flushes, so the sums are rounded as ``bincount``'s.
    """

    _FLUSH = 2**16

    def __init__(
        self, n_agents: int, batch: tuple[int, ...], n_actions: int, n_checkpoints: int
    ) -> None:
        self.n_actions = n_actions
        self.size = math.prod(batch) * n_actions
        self.count = np.zeros((n_agents, self.size), np.int64)
        self.optimal = np.zeros((n_agents, self.size), np.int64)
        self.reward = np.zeros((n_agents, self.size))
        self.pending: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [
            [] for _ in range(n_agents)
        ]
        # Snapshots at the checkpoints, written in place (no concatenation at the end).
        shape = (n_checkpoints, n_agents, self.size)
        self.saved = (np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(shape))
        self.steps: list[int] = []
        self.pending_reward: np.ndarray | None = None  # made by the first compiled step
        self.compiled_steps = [0] * n_agents

    def compiled_cells(self, agent: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``agent``'s flat counts, optimal counts and pending expected-reward sums, to be
        updated in place by one step's choices."""
        if self.pending_reward is None:
            self.pending_reward = np.zeros_like(self.reward)
        return self.count[agent], self.optimal[agent], self.pending_reward[agent]

    def compiled_step(self, agent: int) -> None:
        """``agent``'s step was counted through :meth:`compiled_cells`: flush as :meth:`add`
        would have."""
        self.compiled_steps[agent] += 1
        if self.compiled_steps[agent] * self.size >= self._FLUSH * self.n_actions:
            self._flush(agent)

    def add(self, agent: int, at: np.ndarray, mean: np.ndarray, best: np.ndarray) -> None:
        """One step of ``agent``: flat chosen indices ``at``, their expected rewards ``mean``."""
        pending = self.pending[agent]
        pending.append((at, mean >= best, mean))
        if len(pending) * self.size >= self._FLUSH * self.n_actions:
            self._flush(agent)

    def _flush(self, agent: int) -> None:
        if self.compiled_steps[agent]:
            assert self.pending_reward is not None
            self.reward[agent] += self.pending_reward[agent]
            self.pending_reward[agent] = 0.0
            self.compiled_steps[agent] = 0
        pending = self.pending[agent]
        if not pending:
            return
        join = np.concatenate if np.ndim(pending[0][0]) else np.stack  # one stream: scalars
        at, optimal, mean = (join([p[i] for p in pending]) for i in range(3))
        n = self.size
        self.count[agent] += np.bincount(at, minlength=n)
        self.optimal[agent] += np.bincount(at, weights=optimal, minlength=n).astype(np.int64)
        self.reward[agent] += np.bincount(at, weights=mean, minlength=n)
        pending.clear()

    def checkpoint(self, step: int) -> None:
        for agent in range(len(self.pending)):
            self._flush(agent)
        for saved, now in zip(self.saved, (self.count, self.optimal, self.reward), strict=True):
            saved[len(self.steps)] = now
        self.steps.append(step)

    def table(self, label: str, names: list[str], replicates: np.ndarray) -> pd.DataFrame:
        """Rows ordered by step, agent, replicate, action."""
        k, n_agents, n_reps = self.n_actions, len(names), len(replicates)
        n_steps = len(self.steps)
        per_step = n_agents * n_reps * k

        def text(values: list[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
            # Taken from a short string array: much faster than converting repeated objects.
            return pd.array(values, dtype="str").take(codes)

        steps = np.array(self.steps, dtype=np.int64)
        agent_codes = np.tile(np.repeat(np.arange(n_agents), n_reps * k), n_steps)
        return pd.DataFrame(
            {
                "environment": label_column(label, n_steps * per_step),
                "agent": text(names, agent_codes),
                "replicate": np.tile(np.repeat(replicates.astype(np.int64), k), n_steps * n_agents),
                "step": np.repeat(steps, per_step),
                "action": np.tile(np.arange(k, dtype=np.int64), n_steps * n_agents * n_reps),
                "count": self.saved[0][:n_steps].reshape(-1),
                "optimal": self.saved[1][:n_steps].reshape(-1),
                "expected_reward": self.saved[2][:n_steps].reshape(-1),
            },
            copy=False,
        )


def _check(choices: pd.DataFrame, name: str = "choices") -> None:
    if not isinstance(choices, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame (run_bandit's choices table), "
            f"got {type(choices).__name__}"
        )
    missing = _CHOICE_COLUMNS - set(choices.columns)
    if missing:
        raise ValueError(
            f"{name} must have the columns of run_bandit's choices table "
            f"{sorted(_CHOICE_COLUMNS)}; missing {sorted(missing)}"
        )
    if choices.empty:
        raise ValueError(f"{name} must have at least one row, got an empty table")


def _final(table: pd.DataFrame) -> pd.DataFrame:
    last = table.groupby("environment", sort=False)["step"].transform("max")
    return table[table["step"] == last]


def choice_shares(choices: pd.DataFrame) -> pd.DataFrame:
    """Share of the steps on which each agent chose each action, up to the last checkpoint.

    Per environment, agent and action: the mean over replicates of ``count / step`` at the
    environment's last recorded step, with a 95% Student-t interval (columns ``environment,
    agent, action, n, mean, sd, lower, upper``); the shares of an agent sum to 1.

    >>> from regretlab.environments import MultiArmedBandit
    >>> from regretlab.policies import Oracle
    >>> from regretlab.simulate import Agent, run_bandit
    >>> env = MultiArmedBandit([0.2, 0.5, 0.4], horizon=30, n_replicates=2, seed=0)
    >>> run = run_bandit(env, [Agent("oracle", policy=Oracle())], checkpoints=[30])
    >>> choice_shares(run.choices)[["agent", "action", "mean"]]
        agent  action  mean
    0  oracle       0   0.0
    1  oracle       1   1.0
    2  oracle       2   0.0
    """
    _check(choices)
    final = _final(choices)
    shares = final.assign(share=final["count"] / final["step"])
    return summarise(shares, ["environment", "agent", "action"], "share")


def optimal_share(choices: pd.DataFrame, *, cumulative: bool = False) -> pd.DataFrame:
    """Share of optimal actions per environment, agent and checkpoint, over replicates.

    By default the share within each stretch of steps since the previous checkpoint (steps
    ``previous + 1`` to ``step``): the learning curve of the bandit literature's "% optimal
    action", read at the checkpoints. ``cumulative=True`` counts every step from the first.
    Columns ``environment, agent, step, n, mean, sd, lower, upper`` (95% Student-t interval
    over replicates).

    >>> from regretlab.environments import MultiArmedBandit
    >>> from regretlab.policies import Random
    >>> from regretlab.simulate import Agent, run_bandit
    >>> env = MultiArmedBandit([0.2, 0.5], horizon=400, n_replicates=20, seed=0)
    >>> run = run_bandit(env, [Agent("random", policy=Random())], seed=1, checkpoints=[200, 400])
    >>> optimal_share(run.choices)[["step", "n", "mean"]].round(2)
       step   n  mean
    0   200  20  0.49
    1   400  20  0.50
    """
    if not isinstance(cumulative, bool):
        raise TypeError(f"cumulative must be True or False, got {cumulative!r}")
    _check(choices)
    keys = ["environment", "agent", "replicate"]
    totals = choices.groupby([*keys, "step"], sort=False)["optimal"].sum().reset_index()
    totals = totals.sort_values([*keys, "step"], kind="stable")
    if cumulative:
        share = totals["optimal"] / totals["step"]
    else:
        grouped = totals.groupby(keys, sort=False)
        gained = grouped["optimal"].diff().fillna(totals["optimal"])
        share = gained / grouped["step"].diff().fillna(totals["step"])
    stats = summarise(totals.assign(share=share), ["environment", "agent", "step"], "share")
    return stats.reset_index(drop=True)


def oracle_share(regret: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    """Each agent's cumulative expected reward as a share of the oracle's, per replicate.

    Per environment, agent, replicate and checkpoint: ``expected_reward`` (the agent's
    ``sum_t mu_t(a_t)``), ``oracle_reward`` (the comparator's ``sum_t max_a mu_t(a)``, or of
    the stated best fixed arm: the agent's plus its pseudo-regret) and ``share`` (the first
    over the second: 1 for the oracle, ``1 - pseudo_regret / oracle_reward``). The share is a
    ratio of rewards, so it is read on a ratio scale (clicks, conversions: rewards >= 0); it is
    ``NaN`` where the oracle's cumulative expected reward is not positive.

    >>> from regretlab.environments import MultiArmedBandit
    >>> from regretlab.policies import Oracle, Random
    >>> from regretlab.simulate import Agent, run_bandit
    >>> env = MultiArmedBandit([0.2, 0.6], horizon=1000, n_replicates=3, seed=0)
    >>> agents = [Agent("oracle", policy=Oracle()), Agent("random", policy=Random())]
    >>> run = run_bandit(env, agents, seed=1, checkpoints=[1000])
    >>> oracle_share(run.regret, run.choices).groupby("agent")["share"].mean().round(2)
    agent
    oracle    1.00
    random    0.67
    Name: share, dtype: float64
    """
    _check(choices)
    if not isinstance(regret, pd.DataFrame) or "pseudo_regret" not in regret:
        raise ValueError(
            "regret must be run_bandit's regret table (with a pseudo_regret column), got "
            f"{type(regret).__name__}"
            + (f" with columns {list(regret.columns)}" if isinstance(regret, pd.DataFrame) else "")
        )
    keys = ["environment", "agent", "replicate", "step"]
    reward = choices.groupby(keys, sort=False)["expected_reward"].sum().reset_index()
    table = regret[[*keys, "pseudo_regret"]].merge(reward, on=keys, how="inner")
    table["oracle_reward"] = table["expected_reward"] + table["pseudo_regret"]
    positive = table["oracle_reward"] > 0
    table["share"] = np.where(
        positive, table["expected_reward"] / table["oracle_reward"].where(positive, 1.0), np.nan
    )
    return table[[*keys, "expected_reward", "oracle_reward", "share"]]
