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
which re-exports this module's functions: use them from there. User components come from
plugin modules (:mod:`regretlab.experiments.plugins`): the names they register, or their objects
named ``"module:Name"``, which get the sweep's values by the conventions of :data:`CONVENTIONS`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from regretlab._validation import _describe
from regretlab.experiments import plugins

__all__ = [
    "CONVENTIONS",
    "ROLES",
    "Component",
    "Entry",
    "ExperimentError",
    "Table",
    "build",
    "entry",
    "fail",
    "freeze",
    "modules",
    "names",
    "parse_component",
    "register",
    "thaw",
]

_MISSING = object()

ROLES = ("environment", "drift", "features", "learner", "policy", "scheduler", "noise", "estimator")
# Components of these roles need nothing from the sweep: they are built when the file is parsed,
# so that a bad value fails with the key of its own table (``environments.x.noise``).
_CONTEXT_FREE = ("noise",)
# Parameters that name a user's function as "module:function" (noise models): their modules
# are plugins like a "module:Name" type, allowed only through --import or entry points.
_FUNCTION_PARAMS = ("fn", "scale_fn")


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
    module: str | None = None

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

    Parameters
    ----------
    role
        One of :data:`ROLES`.
    name
        The ``type`` a file writes.
    factory
        A class or function; its other keyword parameters and their defaults are what a file
        may set.
    auto
        ``auto(context)`` returns the keyword arguments the sweep supplies (named in
        ``auto_names``); ``context`` holds ``env``, ``features`` (the agent's map),
        ``n_replicates``, ``horizon`` and ``seed`` as far as they are known.
    auto_names
        The parameters ``auto`` fills in; a file may not set them.
    nested
        Parameters holding a component of another role, such as ``{"learner": "learner"}``.
    stream
        An environment's kind: ``"prequential"`` or ``"bandit"``.

    Notes
    -----
    Call it at the top level of a module and let the run import that module: ``regretlab run
    EXP.toml --import mypkg.components`` (``imports=`` of
    :func:`~regretlab.experiments.experiment.parse_experiment`), or an installed entry point of
    the group ``regretlab.components``. The entry records that module, the resolved experiment
    lists it in its ``imports``, and every process-pool or dask worker imports it by name
    before building the task's components. An entry registered from ``__main__`` (a script, a
    notebook) exists only in that process: tasks run in this process see it, workers do not.

    Examples
    --------
    >>> from regretlab.experiments import registry
    >>> from regretlab.learners import BayesianLinearRegression
    >>> def tight_bayes(*, scale=0.1, groups=None, n_replicates=None):
    ...     return BayesianLinearRegression(
    ...         groups=groups, n_replicates=n_replicates, prior_variance=scale)
    >>> made = registry.register(
    ...     "learner", "TightBayes", tight_bayes,
    ...     auto=lambda c: {"groups": c["features"], "n_replicates": c["n_replicates"]},
    ...     auto_names=("groups", "n_replicates"))
    >>> made.parameters()
    {'scale': 0.1}
    >>> registry.parse_component({"type": "TightBayes"}, "learner", "agents.a.learner")
    Component(role='learner', type='TightBayes', params=Table(items=(('scale', 0.1),)))
    >>> from regretlab.experiments import components
    >>> del components._REGISTRY["learner"]["TightBayes"]
    """
    if role not in _REGISTRY:
        raise ValueError(f"role must be one of {list(ROLES)}, got {role!r}")
    module = plugins.registering_module(sys._getframe(1).f_globals.get("__name__"))
    made = Entry(
        role, name, factory, auto, frozenset(auto_names), dict(nested or {}), stream, module
    )
    _REGISTRY[role][name] = made
    return made


def names(role: str) -> list[str]:
    """The registered names of ``role``, sorted (``module:Name`` references left out)."""
    return sorted(name for name in _REGISTRY[role] if ":" not in name)


def entry(role: str, name: str) -> Entry:
    """The entry of ``name``; a ``module:Name`` of an imported plugin is adopted on first use."""
    found = _REGISTRY[role].get(name)
    if found is not None:
        return found
    try:
        reference = plugins.split_reference(name)
    except plugins.PluginError as exc:
        raise ExperimentError(str(exc)) from None
    if reference is None:
        raise ExperimentError(
            f"unknown {role} {name!r} in this process; choose one of {names(role)} (a name "
            "registered in __main__ is unknown to workers: register it in a module passed "
            "with --import)"
        )
    if not plugins.is_imported(reference[0]):
        raise ExperimentError(f"{name!r}: module {reference[0]!r} is not an imported plugin")
    return _adopt(role, name, *reference)


# The sweep's values a plugin's object gets when a file names it 'module:Name' (unregistered):
# each parameter of these names in its signature is filled in, as for regretlab's own entries.
_CONTEXT: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "horizon": lambda c: c["horizon"],
    "n_replicates": lambda c: c["n_replicates"],
    "seed": lambda c: c["seed"],
    "env": lambda c: c["env"],
    "groups": lambda c: c["features"],
    "n_actions": lambda c: c["env"].n_actions,
}
CONVENTIONS: dict[str, tuple[str, ...]] = {
    "environment": ("horizon", "n_replicates", "seed"),
    "drift": ("env", "seed"),
    "features": (),
    "learner": ("groups", "n_replicates", "n_actions", "seed"),
    "policy": (),
    "scheduler": (),
    "estimator": (),
}
_STREAMS = ("prequential", "bandit")


def _conventional(filled: tuple[str, ...], context: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _CONTEXT[key](context) for key in filled}


def _adopt(role: str, name: str, module: str, attr: str) -> Entry:
    obj: Any = sys.modules[module]
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ExperimentError(f"{name!r}: module {module!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ExperimentError(f"{name!r} must be a class or function, got {_describe(obj)}")
    for known in _REGISTRY[role].values():
        if known.factory is obj and ":" not in known.name:
            made = dataclasses.replace(known, name=name, module=module)
            break
    else:
        signature = inspect.signature(obj).parameters
        filled = tuple(key for key in CONVENTIONS[role] if key in signature)
        stream = getattr(obj, "stream", None) if role == "environment" else None
        if role == "environment" and stream not in _STREAMS:
            raise ExperimentError(
                f"{name!r}: an environment named by 'module:Name' says its kind in a class "
                f"attribute stream = 'prequential' or 'bandit' (or is registered with "
                f"stream=...), got {_describe(stream)}"
            )
        made = Entry(
            role,
            name,
            obj,
            auto=functools.partial(_conventional, filled) if filled else None,
            auto_names=frozenset(filled),
            stream=stream,
            module=module,
        )
    _REGISTRY[role][name] = made
    return made


def _find(role: str, kind: Any, key: str, imports: Iterable[str]) -> Entry:
    """The entry of a file's ``type``: registered, an allowed plugin's object, or an error."""
    try:
        reference = plugins.split_reference(kind) if isinstance(kind, str) else None
        if reference is not None:
            # Checked on every file, even when an earlier one in this process used the name.
            plugins.check_allowed(reference[0], imports)
            plugins.import_plugin(reference[0])
            return entry(role, kind)
        if isinstance(kind, str) and kind in _REGISTRY[role]:
            return _REGISTRY[role][kind]
        plugins.load_entry_points()
    except (plugins.PluginError, ExperimentError) as exc:
        raise fail(key, str(exc)) from None
    if isinstance(kind, str) and kind in _REGISTRY[role]:
        return _REGISTRY[role][kind]
    raise fail(
        key,
        f"unknown {role} {kind!r}; choose one of {names(role)}, or name a plugin's object "
        "as 'module:Name' (with --import module)",
    )


def modules(component: Component) -> Iterator[str]:
    """The plugin modules ``component`` (and the components inside it) need, in order."""
    made = entry(component.role, component.type).module
    if made is not None:
        yield made
    for name, value in component.params.items:
        if isinstance(value, Component):
            yield from modules(value)
        elif name in _FUNCTION_PARAMS and isinstance(value, str) and ":" in value:
            yield value.partition(":")[0]


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


def parse_component(raw: Any, role: str, key: str, *, imports: Iterable[str] = ()) -> Component:
    """Validate one ``{type = ..., ...}`` table of ``role``; fill in the factory's defaults.

    A ``type`` of the form ``"module:Name"`` must name a module in ``imports`` or an installed
    entry point's (see :mod:`regretlab.experiments.plugins`).
    """
    if not isinstance(raw, Mapping):
        raise fail(key, f"must be a table with a 'type' key, got {_describe(raw)}")
    kind = raw.get("type", _MISSING)
    if kind is _MISSING:
        raise fail(key, f"missing required key 'type'; choose one of {names(role)}")
    spec = _find(role, kind, f"{key}.type", imports)
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
        if name in spec.nested and name in raw and raw[name] is not None:
            value = parse_component(value, spec.nested[name], f"{key}.{name}", imports=imports)
            if value.role in _CONTEXT_FREE:
                try:
                    build(value, {})
                except (TypeError, ValueError) as exc:
                    raise fail(f"{key}.{name}", str(exc)) from None
        else:
            value = freeze(value, f"{key}.{name}")
            if name in _FUNCTION_PARAMS and isinstance(value, str) and ":" in value:
                try:
                    module = value.partition(":")[0]
                    plugins.check_allowed(module, imports)
                    plugins.import_plugin(module)
                except plugins.PluginError as exc:
                    raise fail(f"{key}.{name}", str(exc)) from None
        params.append((name, value))
    return Component(role, spec.name, Table(tuple(params)))
