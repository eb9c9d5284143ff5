"""What an experiment file describes, once parsed: environments, agents and the sweep's settings.

:func:`~regretlab.experiments.experiment.parse_experiment` builds these frozen dataclasses from
a file and checks them; they build the environments and agents of a task through the registry
(:mod:`regretlab.experiments.registry`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regretlab._random import SeedLike, children
from regretlab.experiments import plugins, registry
from regretlab.experiments.offpolicy_spec import OffPolicySpec
from regretlab.experiments.registry import Component
from regretlab.simulate import Agent, Feedback

__all__ = ["AgentSpec", "EnvironmentSpec", "Experiment", "agent_context"]

_AGENT_KEYS = ("features", "learner", "policy", "scheduler")


def agent_context(env: Any, fmap: Any, seed: SeedLike) -> dict[str, Any]:
    """What the registry fills in for an agent's parts: the design, sizes and the seed."""
    return {
        "env": env,
        "features": env.features if fmap is None else fmap,
        "n_replicates": env.n_replicates,
        "seed": seed,
    }


@dataclass(frozen=True)
class EnvironmentSpec:
    """A named environment: its registry component and the drift wrappers around it.

    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> spec = exp.environments[0]
    >>> spec.name, spec.source.type, spec.stream, spec.drift
    ('e', 'InteractionStream', 'prequential', ())
    """

    name: str
    source: Component
    drift: tuple[Component, ...] = ()

    @property
    def stream(self) -> str:
        """``"prequential"`` (a prediction stream) or ``"bandit"``."""
        return str(registry.entry("environment", self.source.type).stream)

    def to_python(self) -> dict[str, Any]:
        return {**self.source.to_python(), "drift": [d.to_python() for d in self.drift]}


@dataclass(frozen=True)
class AgentSpec:
    """A named agent: optional feature map, learner, policy and scheduler components.

    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> spec = exp.agents[0]
    >>> spec.learner.type, spec.policy
    ('BayesianLinearRegression', None)
    >>> env = exp.build_environment("e", n_replicates=2, seed=0)
    >>> spec.build(env).learner.n_replicates
    2
    """

    name: str
    features: Component | None = None
    learner: Component | None = None
    policy: Component | None = None
    scheduler: Component | None = None

    def build(self, env: Any, *, seed: SeedLike = None) -> Agent:
        """A fresh :class:`~regretlab.simulate.Agent` sized for ``env``."""
        fmap = None if self.features is None else registry.build(self.features, {"env": env})
        context = agent_context(env, fmap, seed)
        made = {
            key: None if part is None else registry.build(part, context)
            for key, part in (
                ("learner", self.learner),
                ("policy", self.policy),
                ("scheduler", self.scheduler),
            )
        }
        return Agent(self.name, features=fmap, **made)

    def to_python(self) -> dict[str, Any]:
        return {
            key: getattr(self, key).to_python()
            for key in _AGENT_KEYS
            if getattr(self, key) is not None
        }


@dataclass(frozen=True)
class Experiment:
    """A validated sweep: environments x agents x replicates, with its seed and checkpoints.

    ``imports`` are the plugin modules (:mod:`regretlab.experiments.plugins`) its components
    need: a worker imports them by name before building anything.

    Examples
    --------
    >>> from regretlab.experiments import parse_experiment
    >>> exp = parse_experiment({
    ...     "seed": 1, "horizon": 50, "replicates": 4, "chunk_size": 2, "checkpoints": [10, 50],
    ...     "environments": {"easy": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"bayes": {"learner": {"type": "BayesianLinearRegression"}}},
    ... })
    >>> exp.stream, exp.n_chunks, exp.checkpoints, exp.reference
    ('prequential', 2, (10, 50), 'bayes')
    >>> parse_experiment(exp.to_dict()) == exp
    True
    """

    name: str
    seed: int
    horizon: int
    replicates: int
    chunk_size: int
    checkpoints: tuple[int, ...]
    environments: tuple[EnvironmentSpec, ...]
    agents: tuple[AgentSpec, ...]
    reference: str
    track_coefficients: bool = False
    description: str = ""
    imports: tuple[str, ...] = ()
    feedback: Feedback | None = None
    offpolicy: OffPolicySpec | None = None
    # How the runners read the environments (bytes held at once): it changes the memory, never
    # the results, so it is neither compared nor written into the resolved experiment.
    block_memory: int | None = field(default=None, compare=False)

    @property
    def stream(self) -> str:
        """``"prequential"`` or ``"bandit"``: the kind of every environment."""
        return self.environments[0].stream

    @property
    def n_chunks(self) -> int:
        """Tasks per environment: ``ceil(replicates / chunk_size)``."""
        return -(-self.replicates // self.chunk_size)

    def environment(self, name: str) -> EnvironmentSpec:
        for spec in self.environments:
            if spec.name == name:
                return spec
        raise KeyError(
            f"no environment {name!r}; environments: {[e.name for e in self.environments]}"
        )

    def import_plugins(self) -> None:
        """Import the plugin modules the components need (:attr:`imports`), as workers do."""
        plugins.worker_imports(self.imports)

    def build_environment(
        self,
        name: str,
        *,
        n_replicates: int,
        seed: SeedLike,
        horizon: int | None = None,
        drift: bool = True,
    ) -> Any:
        """Environment ``name``: child 0 of ``seed`` seeds the base, child ``1 + i`` drift ``i``."""
        spec = self.environment(name)
        base, *wrappers = children(seed, 1 + len(spec.drift))
        context = {
            "horizon": self.horizon if horizon is None else horizon,
            "n_replicates": n_replicates,
            "seed": base,
        }
        env = registry.build(spec.source, context)
        if drift:
            for part, part_seed in zip(spec.drift, wrappers, strict=True):
                env = registry.build(part, {"env": env, "seed": part_seed})
        return env

    def build_agents(self, env: Any, *, seed: SeedLike = None) -> list[Agent]:
        """Every agent sized for ``env``; agent ``i``'s learner seed is child ``i`` of ``seed``."""
        seeds = children(seed, len(self.agents))
        return [spec.build(env, seed=s) for spec, s in zip(self.agents, seeds, strict=True)]

    def build_feedback(self, environment_seed: np.random.SeedSequence) -> Feedback | None:
        """The runners' :class:`~regretlab.simulate.Feedback` for the task whose environment
        seed is ``environment_seed``: its delays draw from child 3 of the task's chunk seed."""
        if self.feedback is None:
            return None
        seed = np.random.SeedSequence(
            environment_seed.entropy,
            spawn_key=(*environment_seed.spawn_key[:-1], 3),
            pool_size=environment_seed.pool_size,
        )
        return Feedback(**self.feedback.to_dict(), seed=seed)

    def to_dict(self) -> dict[str, Any]:
        """The resolved experiment (every default filled in), in the file's own schema."""
        return {
            "name": self.name,
            "description": self.description,
            "seed": self.seed,
            "horizon": self.horizon,
            "replicates": self.replicates,
            "chunk_size": self.chunk_size,
            "checkpoints": list(self.checkpoints),
            "track_coefficients": self.track_coefficients,
            "reference": self.reference,
            "environments": {e.name: e.to_python() for e in self.environments},
            "agents": {a.name: a.to_python() for a in self.agents},
            # Only when a component needs a plugin: other experiments keep their digest.
            **({"imports": list(self.imports)} if self.imports else {}),
            **({"feedback": self.feedback.to_dict()} if self.feedback is not None else {}),
            **({"offpolicy": self.offpolicy.to_python()} if self.offpolicy else {}),
        }

    def digest(self) -> str:
        """SHA-256 of the resolved experiment's canonical JSON: what a results folder holds."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()
