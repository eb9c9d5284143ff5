"""Names that experiment files may use: environments, feature maps, learners, policies, schedulers.

Every entry maps a name (the ``type`` of a table in an experiment file) to a factory and says
which of its parameters the sweep fills in itself (``auto``: sizes, seeds and feature groups
that follow from the environment and the replicate chunk) and which hold a nested component
(``nested``: the inner learner of :class:`~regretlab.policies.escalation.ModelAveraging`). The
parameters a file may set are the factory's other keyword parameters; their defaults come from
its signature, so a resolved experiment lists every value a run used.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from regretlab import environments, features, learners, policies
from regretlab._validation import _describe
from regretlab.policies import escalation

__all__ = [
    "ROLES",
    "Component",
    "Entry",
    "ExperimentError",
    "Table",
    "build",
    "entry",
    "freeze",
    "names",
    "parse_component",
    "register",
    "thaw",
]

_MISSING = object()

ROLES = ("environment", "drift", "features", "learner", "policy", "scheduler")


@dataclass(frozen=True)
class Table:
    """A frozen TOML table of plain values (``prior_variance = {pairwise = 0.0}``)."""

    items: tuple[tuple[str, Any], ...] = ()

    def to_python(self) -> dict[str, Any]:
        """Plain dicts and lists, as JSON and the factories take them."""
        return {key: thaw(value) for key, value in self.items}


@dataclass(frozen=True)
class Component:
    """One registry entry with its parameters: ``{type = "LinUCB", alpha = 2.0}``.

    >>> Component("policy", "LinUCB", Table((("alpha", 2.0),))).to_python()
    {'type': 'LinUCB', 'alpha': 2.0}
    """

    role: str
    type: str
    params: Table = field(default_factory=Table)

    def to_python(self) -> dict[str, Any]:
        return {"type": self.type, **self.params.to_python()}


class ExperimentError(ValueError):
    """An experiment file that cannot run; the message names the key, value and choices."""


def fail(key: str, detail: str) -> ExperimentError:
    """The error for ``key``, such as ``agents.a.learner.type: unknown learner 'X'; ...``."""
    return ExperimentError(f"{key}: {detail}")


def thaw(value: Any) -> Any:
    """Tuples to lists, tables and components to dicts: the JSON form of a frozen value."""
    if isinstance(value, Table | Component):
        return value.to_python()
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Entry:
    """A factory and what the sweep supplies to it (see the module notes)."""

    role: str
    name: str
    factory: Callable[..., Any]
    auto: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    auto_names: frozenset[str] = frozenset()
    nested: Mapping[str, str] = field(default_factory=dict)
    stream: str | None = None

    def parameters(self) -> dict[str, Any]:
        """Parameters a file may set and their defaults (``Parameter.empty``: required)."""
        out = {}
        for name, p in inspect.signature(self.factory).parameters.items():
            if name in self.auto_names or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            out[name] = p.default
        return out


_REGISTRY: dict[str, dict[str, Entry]] = {role: {} for role in ROLES}


def register(
    role: str,
    name: str,
    factory: Callable[..., Any],
    *,
    auto: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
    auto_names: Iterable[str] = (),
    nested: Mapping[str, str] | None = None,
    stream: str | None = None,
) -> Entry:
    """Make ``name`` usable as the ``type`` of a ``role`` table in experiment files.

    ``auto(context)`` returns the keyword arguments the sweep supplies (named in
    ``auto_names``); ``context`` holds ``env``, ``features`` (the agent's map),
    ``n_replicates``, ``horizon`` and ``seed`` as far as they are known. An environment entry
    says which ``stream`` it is (``"prequential"`` or ``"bandit"``). Entries registered at
    run time exist only in the registering process: spawned pool workers do not see them.
    """
    if role not in _REGISTRY:
        raise ValueError(f"role must be one of {list(ROLES)}, got {role!r}")
    made = Entry(role, name, factory, auto, frozenset(auto_names), dict(nested or {}), stream)
    _REGISTRY[role][name] = made
    return made


def names(role: str) -> list[str]:
    """The registered names of ``role``, sorted."""
    return sorted(_REGISTRY[role])


def entry(role: str, name: str) -> Entry:
    return _REGISTRY[role][name]


def build(component: Component, context: Mapping[str, Any]) -> Any:
    """The object ``component`` describes, with the sweep's values from ``context``."""
    spec = entry(component.role, component.type)
    kwargs = {}
    for key, value in component.params.items:
        if isinstance(value, Component):
            kwargs[key] = build(value, context)
        elif isinstance(value, Table):
            kwargs[key] = value.to_python()
        else:
            kwargs[key] = value
    if spec.auto is not None:
        kwargs.update(spec.auto(context))
    return spec.factory(**kwargs)


def freeze(value: Any, key: str) -> Any:
    """A TOML/JSON value made immutable: tables to :class:`Table`, arrays to tuples."""
    if isinstance(value, Mapping):
        return Table(tuple((str(k), freeze(v, f"{key}.{k}")) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(freeze(v, f"{key}[{i}]") for i, v in enumerate(value))
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise fail(key, f"must be a number, string, boolean, array or table, got {_describe(value)}")


def parse_component(raw: Any, role: str, key: str) -> Component:
    """Validate one ``{type = ..., ...}`` table of ``role``; fill in the factory's defaults."""
    choices = names(role)
    if not isinstance(raw, Mapping):
        raise fail(key, f"must be a table with a 'type' key, got {_describe(raw)}")
    kind = raw.get("type", _MISSING)
    if kind is _MISSING:
        raise fail(key, f"missing required key 'type'; choose one of {choices}")
    if kind not in choices:
        raise fail(f"{key}.type", f"unknown {role} {kind!r}; choose one of {choices}")
    spec = entry(role, kind)
    allowed = spec.parameters()
    for name in raw:
        if name in spec.auto_names:
            raise fail(f"{key}.{name}", "is set by the sweep for every task; remove it")
        if name != "type" and name not in allowed:
            raise fail(f"{key}.{name}", f"unknown parameter of {kind}; allowed: {sorted(allowed)}")
    params = []
    for name, default in allowed.items():
        value = raw.get(name, default)
        if value is inspect.Parameter.empty:
            raise fail(key, f"missing required key {name!r} of {kind}")
        if name in spec.nested and name in raw:
            value = parse_component(value, spec.nested[name], f"{key}.{name}")
        else:
            value = freeze(value, f"{key}.{name}")
        params.append((name, value))
    return Component(role, kind, Table(tuple(params)))


# --- environments -------------------------------------------------------------------------


def supervised_bandit(
    dataset: str,
    source: str = "sklearn",
    *,
    encoding: str = "0/1",
    standardize: bool = True,
    block_size: int | None = None,
    horizon: int | None = None,
    n_replicates: int | None = None,
    seed: Any = None,
) -> environments.SupervisedBandit:
    """A bundled classification set as a bandit (``source`` ``"sklearn"`` or ``"river"``)."""
    loaders = {
        "sklearn": environments.SupervisedBandit.from_sklearn,
        "river": environments.SupervisedBandit.from_river,
    }
    if source not in loaders:
        raise ValueError(f"source must be one of {list(loaders)}, got {source!r}")
    return loaders[source](
        dataset,
        encoding=encoding,
        standardize=standardize,
        block_size=block_size,
        horizon=horizon,
        n_replicates=n_replicates,
        seed=seed,
    )


def _env_auto(context: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "horizon": context["horizon"],
        "n_replicates": context["n_replicates"],
        "seed": context["seed"],
    }


_ENV_AUTO = ("horizon", "n_replicates", "seed")
register(
    "environment",
    "InteractionStream",
    environments.InteractionStream,
    auto=_env_auto,
    auto_names=_ENV_AUTO,
    stream="prequential",
)
register(
    "environment",
    "MultilevelStream",
    environments.MultilevelStream,
    auto=_env_auto,
    auto_names=_ENV_AUTO,
    stream="prequential",
)
register(
    "environment",
    "LinearBandit",
    environments.LinearBandit,
    auto=_env_auto,
    auto_names=_ENV_AUTO,
    stream="bandit",
)
register(
    "environment",
    "SupervisedBandit",
    supervised_bandit,
    auto=_env_auto,
    auto_names=_ENV_AUTO,
    stream="bandit",
)
register(
    "drift",
    "AbruptChange",
    environments.AbruptChange,
    auto=lambda c: {"env": c["env"], "seed": c["seed"]},
    auto_names=("env", "seed"),
)
register(
    "drift",
    "InteractionOnset",
    environments.InteractionOnset,
    auto=lambda c: {"env": c["env"]},
    auto_names=("env",),
)

# --- feature maps -------------------------------------------------------------------------


def _n_actions(context: Mapping[str, Any], what: str) -> int:
    k = getattr(context["env"], "n_actions", None)
    if k is None:
        raise ValueError(f"{what} needs a bandit environment (one with n_actions)")
    return int(k)


register(
    "features",
    "InteractionFeatures",
    features.InteractionFeatures,
    auto=lambda c: {"x_dim": c["env"].features.n_inputs},
    auto_names=("x_dim",),
)
register(
    "features",
    "ActionFeatures",
    features.ActionFeatures,
    auto=lambda c: {
        "context_dim": c["env"].features.n_inputs,
        "n_actions": _n_actions(c, "ActionFeatures"),
    },
    auto_names=("context_dim", "n_actions"),
)


def _levels(context: Mapping[str, Any]) -> dict[str, Any]:
    fmap = getattr(context["env"], "features", None)
    if not isinstance(fmap, features.LevelFeatures):
        raise ValueError(
            "LevelFeatures needs a multilevel environment (one whose features are "
            f"LevelFeatures, such as MultilevelStream), got {type(context['env']).__name__}"
        )
    return {"levels": fmap.levels}


register("features", "LevelFeatures", features.LevelFeatures, auto=_levels, auto_names=("levels",))

# --- learners -----------------------------------------------------------------------------


def _learner_auto(context: Mapping[str, Any]) -> dict[str, Any]:
    return {"groups": context["features"], "n_replicates": context["n_replicates"]}


def river_regressor(
    model: str,
    params: Mapping[str, Any] | None = None,
    *,
    groups: Any = None,
    n_replicates: int | None = None,
    seed: Any = None,
) -> learners.RiverRegressor:
    """A :class:`~regretlab.learners.RiverRegressor` of the river class ``model``.

    ``model`` is a path under ``river``, such as ``"linear_model.LinearRegression"``;
    ``params`` are its constructor arguments.
    """
    module_name, _, class_name = str(model).rpartition(".")
    try:
        cls = getattr(importlib.import_module(f"river.{module_name}"), class_name)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(
            f"model must name a river regressor such as 'linear_model.LinearRegression', "
            f"got {model!r}"
        ) from None
    factory = functools.partial(cls, **dict(params or {}))
    factory()  # a bad parameter fails here, before any run
    return learners.RiverRegressor(
        factory=factory, groups=groups, n_replicates=n_replicates, seed=seed
    )


_GROUPS_AUTO = ("groups", "n_replicates")
for _name in (
    "BayesianLinearRegression",
    "NormalInverseGammaRegression",
    "SGDLinearRegression",
):
    register(
        "learner",
        _name,
        getattr(learners, _name),
        auto=_learner_auto,
        auto_names=_GROUPS_AUTO,
    )
register(
    "learner",
    "DisjointBayesianLinearRegression",
    learners.DisjointBayesianLinearRegression,
    auto=lambda c: {
        **_learner_auto(c),
        "n_actions": _n_actions(c, "DisjointBayesianLinearRegression"),
    },
    auto_names=(*_GROUPS_AUTO, "n_actions"),
)
register(
    "learner",
    "RiverRegressor",
    river_regressor,
    auto=lambda c: {**_learner_auto(c), "seed": c["seed"]},
    auto_names=(*_GROUPS_AUTO, "seed"),
)
for _name in ("ModelAveraging", "ChampionChallenger"):
    register("learner", _name, getattr(escalation, _name), nested={"learner": "learner"})
# The default escalation (learned noise, the group averaged jointly with the model's scale).
register(
    "learner",
    "ModelAveraging.recommended",
    escalation.ModelAveraging.recommended,
    auto=_learner_auto,
    auto_names=_GROUPS_AUTO,
)

# --- policies and schedulers --------------------------------------------------------------

for _name in ("EpsilonGreedy", "Greedy", "LinUCB", "Oracle", "Random", "ThompsonSampling"):
    register("policy", _name, getattr(policies, _name))
for _name in ("EmpiricalBayes", "EvidenceSwitch", "Fixed", "UncertaintyTrigger"):
    register("scheduler", _name, getattr(escalation, _name))


def data_schedule(
    group: str = "pairwise", *, top: float = 1.0, steps: int = 1000, every: int = 10
) -> escalation.DataSchedule:
    """A :class:`~regretlab.policies.escalation.DataSchedule` on a linear :class:`Ramp`
    (a file cannot hold a function): ``group``'s variance rises from 0 to ``top`` by ``steps``.
    """
    return escalation.DataSchedule(group, escalation.Ramp(top, steps), every=every)


register("scheduler", "DataSchedule", data_schedule)
