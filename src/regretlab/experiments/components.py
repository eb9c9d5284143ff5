"""Components of experiment files and the table of names they are looked up in.

A component is one table of an experiment file, ``{type = "LinUCB", alpha = 2.0}``: a registered
name of a role and its parameters, frozen. Every entry maps a name (the ``type``) to a factory
and says which of its parameters the sweep fills in itself (``auto``: sizes, seeds and feature
groups that follow from the environment and the replicate chunk) and which hold a nested
component (``nested``: the inner learner of
:class:`~regretlab.policies.escalation.ModelAveraging`). The parameters a file may set are the
factory's other keyword parameters; their defaults come from its signature, so a resolved
experiment lists every value a run used.

The names regretlab itself provides are registered by :mod:`regretlab.experiments.registry`,
which re-exports this module's functions: use them from there.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from regretlab._validation import _describe

__all__ = [
    "ROLES",
    "Component",
    "Entry",
    "ExperimentError",
    "Table",
    "build",
    "entry",
    "fail",
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
    """An experiment file that cannot run; the message names the key, value and choices.

    >>> from regretlab.experiments.experiment import parse_experiment
    >>> try:
    ...     parse_experiment({"seed": -1})
    ... except ExperimentError as exc:
    ...     print(exc)
    missing required key 'horizon'; every experiment sets [...]
    """


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
