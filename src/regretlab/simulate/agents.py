"""Agents and the bookkeeping the time loops share: checkpoints and replicate labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_module
from regretlab._validation import check_int
from regretlab.base import FeatureMap, Learner, Policy, Scheduler
from regretlab.simulate._labels import label_column

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

__all__ = [
    "Agent",
    "EventLog",
    "check_checkpoints",
    "log_checkpoints",
    "prepare_agents",
    "replicate_ids",
]


@dataclass(frozen=True)
class Agent:
    """What a simulation runs: feature map + learner + policy (a fresh clone per run).

    Parameters
    ----------
    name
        Label of the agent in result tables.
    learner
        A :class:`~regretlab.base.Learner` (``learn_one``, ``predict_one``, ``clone``); its
        ``n_replicates`` must match the environment's. May be ``None`` for a bandit policy that
        needs no model.
    features
        A :class:`~regretlab.base.FeatureMap` applied to the environment's raw inputs;
        ``None`` uses the environment's own ``features``. For a per-action learner (one with
        ``n_actions``), a map without an action axis (such as
        ``InteractionFeatures(context_dim, pairwise=False)``).
    policy
        For bandits, a :class:`~regretlab.base.Policy`:
        ``select(model, designs, rng, *, step, means=None) -> Choice``.
    scheduler
        A :class:`~regretlab.base.Scheduler`, which changes the learner's group prior variances
        during the run (complexity escalation): ``update(model, step) -> list[Event]``, called
        after every step's learning; ``clone()`` once per run.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.policies import ThompsonSampling
    >>> model = BayesianLinearRegression(groups=("main",))
    >>> Agent("ts", model, policy=ThompsonSampling()).name
    'ts'
    >>> Agent("broken", model, policy="greedy")
    Traceback (most recent call last):
    TypeError: Agent 'broken': policy must have a select() method, got str
    """

    name: str
    learner: Learner | None = None
    features: FeatureMap | None = None
    policy: Policy | None = None
    scheduler: Scheduler | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Agent name must be a non-empty string, got {self.name!r}")
        if self.policy is not None and not callable(getattr(self.policy, "select", None)):
            raise TypeError(
                f"Agent {self.name!r}: policy must have a select() method, "
                f"got {type(self.policy).__name__}"
            )
        if self.scheduler is not None and not callable(getattr(self.scheduler, "update", None)):
            raise TypeError(
                f"Agent {self.name!r}: scheduler must have an update() method, "
                f"got {type(self.scheduler).__name__}"
            )
        if self.learner is None and self.policy is not None:
            return  # policies such as Random and Oracle need no model
        for method in ("learn_one", "predict_one", "clone"):
            if not callable(getattr(self.learner, method, None)):
                raise TypeError(
                    f"Agent {self.name!r}: learner must have a {method}() method, "
                    f"got {type(self.learner).__name__}"
                )


def log_checkpoints(horizon: int, n: int = 60) -> np.ndarray:
    """About ``n`` log-spaced steps in ``1 .. horizon``, always including ``horizon``.

    >>> log_checkpoints(1000, n=7)
    array([   1,    3,   10,   32,  100,  316, 1000])
    """
    check_int("horizon", horizon, minimum=1)
    check_int("n", n, minimum=1)
    steps = np.unique(np.round(np.geomspace(1, horizon, n)).astype(int))
    return np.union1d(steps, [horizon])


def check_checkpoints(checkpoints: Any, horizon: int) -> np.ndarray:
    """Validated checkpoints: increasing steps in ``[1, horizon]``; default log-spaced."""
    steps = log_checkpoints(horizon) if checkpoints is None else np.asarray(checkpoints)
    if (
        steps.ndim != 1
        or len(steps) == 0
        or not np.issubdtype(steps.dtype, np.integer)
        or steps[0] < 1
        or steps[-1] > horizon
        or np.any(np.diff(steps) <= 0)
    ):
        raise ValueError(
            f"checkpoints must be increasing integer steps in [1, {horizon}], got {checkpoints!r}"
        )
    return steps


def replicate_ids(batch: tuple[int, ...]) -> np.ndarray:
    return np.arange(batch[0]) if batch else np.zeros(1, dtype=int)


def prepare_agents(agents: Any, env: Any) -> tuple[list[str], list[Any], list[Any], list[Any]]:
    """Validate the agents against ``env``; return names, fresh learners, maps, schedulers."""
    if not agents:
        raise ValueError("agents must name at least one Agent, got none")
    if not all(isinstance(a, Agent) for a in agents):
        raise TypeError(f"agents must be Agent objects, got {[type(a).__name__ for a in agents]}")
    names = [a.name for a in agents]
    if len(set(names)) != len(names):
        raise ValueError(f"agent names must be unique, got {names}")
    learners: list[Any] = []
    for agent in agents:
        if agent.learner is None:
            learners.append(None)
            continue
        if getattr(agent.learner, "n_replicates", env.n_replicates) != env.n_replicates:
            raise ValueError(
                f"agent {agent.name!r}: learner.n_replicates={agent.learner.n_replicates} does "
                f"not match the environment's n_replicates={env.n_replicates}"
            )
        learners.append(agent.learner.clone())
    maps = [env.features if a.features is None else a.features for a in agents]
    schedulers = [None if a.scheduler is None else a.scheduler.clone() for a in agents]
    return names, learners, maps, schedulers


class EventLog:
    """Collects prior changes (scheduler events, and a candidate learner's own) per agent."""

    def __init__(self, names: list[str], label: str) -> None:
        self._names, self._label = names, label
        self._rows: list[tuple] = []

    def after_step(self, a: int, learner: Any, scheduler: Any, step: int) -> None:
        """Run agent ``a``'s scheduler for ``step`` and keep every change it reports."""
        events = [] if scheduler is None else scheduler.update(learner, step)
        pop = getattr(learner, "pop_events", None)
        if pop is not None:
            events = [*events, *pop()]
        self._rows.extend((self._names[a], *e) for e in events)

    def table(self) -> pd.DataFrame:
        """Columns ``environment, agent, replicate, step, group, old, new``."""
        columns = ["agent", "replicate", "step", "group", "old", "new"]
        table = pd.DataFrame(self._rows, columns=columns)
        table.insert(0, "environment", label_column(self._label, len(table)))
        return table
