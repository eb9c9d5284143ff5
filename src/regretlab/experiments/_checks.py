"""Checks an experiment passes before any work starts: roles, then a two-step trial run.

Kept apart from :mod:`regretlab.experiments.experiment` so that the parser stays small; every
failure is one :class:`~regretlab.experiments.registry.ExperimentError` naming the key at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.experiments import registry
from regretlab.experiments.registry import fail as _fail
from regretlab.experiments.spec import AgentSpec, Experiment, agent_context

__all__ = ["check_roles", "trial"]

_MODEL_FREE = ("Random", "Oracle")


def check_roles(agent: AgentSpec, stream: str) -> None:
    key = f"agents.{agent.name}"
    if stream == "prequential":
        if agent.policy is not None:
            raise _fail(
                f"{key}.policy", "prediction streams take no policy (bandits do); remove it"
            )
        if agent.learner is None:
            raise _fail(
                key, f"missing required key 'learner'; choose one of {registry.names('learner')}"
            )
        return
    if agent.policy is None:
        raise _fail(key, f"missing required key 'policy'; choose one of {registry.names('policy')}")
    if agent.learner is None and agent.policy.type not in _MODEL_FREE:
        raise _fail(
            key,
            f"missing required key 'learner' (policy {agent.policy.type} needs a model; "
            f"only {list(_MODEL_FREE)} run without one)",
        )


def _attempt(key: str, where: str, make: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``make(*args, **kwargs)``; any error becomes an :class:`ExperimentError` naming ``key``."""
    try:
        return make(*args, **kwargs)
    except Exception as exc:
        raise _fail(key, f"{exc} (in {where})" if where else str(exc)) from None


def _scheduler_groups(params: dict[str, Any]) -> list[str]:
    """The feature groups a scheduler's parameters name (``group``, ``watch``, ``groups``,
    ``Fixed``'s ``prior_variance`` keys)."""
    out = [params[k] for k in ("group", "watch") if isinstance(params.get(k), str)]
    groups = params.get("groups")
    out += [groups] if isinstance(groups, str) else list(groups or ())
    prior = params.get("prior_variance")
    return out + (list(prior) if isinstance(prior, dict) else [])


def _check_scheduler_groups(agent: AgentSpec, learner: Any, where: str) -> None:
    """A scheduler reads its groups only when it first fires: check them against the learner."""
    columns = getattr(learner, "columns", None)
    if columns is None or agent.scheduler is None:
        return
    params = agent.scheduler.params.to_python()
    for group in _scheduler_groups(params):
        if group not in columns:
            raise _fail(
                f"agents.{agent.name}.scheduler",
                f"unknown group {group!r}; the learner's groups are {list(columns)} (in {where})",
            )


def _run_briefly(exp: Experiment, name: str) -> None:
    """Run every agent for two steps of environment ``name`` (without its drift)."""
    from regretlab.simulate import run_bandit, run_prequential

    short = exp.build_environment(
        name, n_replicates=min(exp.chunk_size, 2), seed=0, horizon=min(exp.horizon, 2), drift=False
    )
    agents = exp.build_agents(short, seed=0)
    if exp.stream == "prequential":
        run_prequential(short, agents, checkpoints=np.array([short.horizon]))
    else:
        run_bandit(short, agents, seed=0, checkpoints=np.array([short.horizon]))


def trial(exp: Experiment) -> None:
    """Build every environment and every agent's parts for it, then run them for two steps."""
    for spec in exp.environments:
        key = f"environments.{spec.name}"
        env = _attempt(
            key, "", exp.build_environment, spec.name, n_replicates=exp.chunk_size, seed=0
        )
        for agent in exp.agents:
            fmap = None
            if agent.features is not None:
                fmap = _attempt(
                    f"agents.{agent.name}.features",
                    key,
                    registry.build,
                    agent.features,
                    {"env": env},
                )
            context = agent_context(env, fmap, 0)
            made = {}
            for role in ("learner", "policy", "scheduler"):
                part = getattr(agent, role)
                if part is not None:
                    made[role] = _attempt(
                        f"agents.{agent.name}.{role}", key, registry.build, part, context
                    )
            if agent.scheduler is not None and made.get("learner") is not None:
                _check_scheduler_groups(agent, made["learner"], key)
        _attempt(key, "", _run_briefly, exp, spec.name)
