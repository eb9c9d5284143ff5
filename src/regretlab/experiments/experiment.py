"""Experiment files: a sweep described in TOML, parsed into frozen dataclasses and validated.

An experiment names environments and agents by their registry names
(:mod:`regretlab.experiments.registry`) with their parameters, plus the shared settings of the
sweep::

    name = "escalation"            # optional; default: the file's stem
    seed = 7                       # root of the seed tree
    horizon = 2000                 # steps per replicate
    replicates = 40                # per environment
    chunk_size = 10                # replicates per task (optional, default min(replicates, 10))
    checkpoints = 30               # log-spaced count, or explicit steps [10, 100, 2000]
    track_coefficients = true      # prediction streams only (optional)
    reference = "main_effects"     # agent that paired differences are taken against (optional)
    imports = ["mypkg.components"] # plugin modules (optional; each must be allowed, see below)
    feedback = {delay = "geometric", mean_delay = 5.0, batch_size = 10}  # optional: delayed,
                                   # batched learning (regretlab.simulate.Feedback)
    block_memory_mb = 64           # optional: MiB of environment data a task holds at once
                                   # (the runners' block_memory; never changes the results)
    offpolicy = {...}              # off-policy evaluation in the report (optional; bandits;
                                   # see regretlab.experiments.offpolicy_spec)

    [environments.weak]
    type = "InteractionStream"
    x_dim = 4
    interaction_scale = 0.1
    drift = [{type = "InteractionOnset", at_step = 500, groups = ["pairwise"]}]  # optional
    noise = {type = "StudentT", df = 3, scale = 0.5}   # optional; default Gaussian(noise_level)
    # also {type = "Gaussian", scale = 0.5}, {type = "Custom", fn = "mypkg.noise:laplace"},
    # {type = "Heteroscedastic", base = {type = "Gaussian", scale = 0.5}, slope = 2.0, input = 0}

    [agents.main_effects]
    learner = {type = "BayesianLinearRegression", prior_variance = {pairwise = 0.0}}
    # features = {...}, policy = {...} (bandits), scheduler = {...}

A ``type`` is a registered name, or ``"module:Name"`` for an object of a plugin module. A file
is data, not code: the modules it names (in a ``type`` or in ``imports``) must be allowed by
whoever runs it, with ``regretlab run --import MODULE`` (``imports=`` here) or by installing an
entry point of the group ``regretlab.components`` (:mod:`regretlab.experiments.plugins`). The
resolved experiment's ``imports`` lists the modules its components need.

Every value is checked before any work starts; the first problem raises one
:class:`ExperimentError` that names the key, the value and what is allowed. Sizes, seeds and
feature groups are filled in by the sweep, never written in the file.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from regretlab._validation import _describe
from regretlab.experiments import plugins
from regretlab.experiments._checks import check_roles, trial
from regretlab.experiments.offpolicy_spec import check_logger, parse_offpolicy
from regretlab.experiments.registry import ExperimentError, modules, parse_component
from regretlab.experiments.registry import fail as _fail
from regretlab.experiments.spec import _AGENT_KEYS, AgentSpec, EnvironmentSpec, Experiment
from regretlab.simulate import Feedback, log_checkpoints

__all__ = [
    "AgentSpec",
    "EnvironmentSpec",
    "Experiment",
    "ExperimentError",
    "load_experiment",
    "parse_experiment",
]

_REQUIRED = ("seed", "horizon", "replicates", "environments", "agents")
_OPTIONAL = (
    "name",
    "description",
    "chunk_size",
    "checkpoints",
    "track_coefficients",
    "reference",
    "imports",
    "feedback",
    "offpolicy",
    "block_memory_mb",
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def load_experiment(
    path: str | Path, *, check: bool = True, imports: Iterable[str] = ()
) -> Experiment:
    """Read and validate an experiment file (TOML; ``.json`` for a saved resolved experiment).

    ``imports`` are the plugin modules the file may name (see :func:`parse_experiment`).
    Raises :class:`ExperimentError` prefixed with the file's path for the first problem found.

    >>> import pathlib, tempfile
    >>> text = "\\n".join(["seed = 1", "horizon = 20", "replicates = 2",
    ...     'environments.e = {type = "InteractionStream", x_dim = 2}',
    ...     'agents.a = {learner = {type = "BayesianLinearRegression"}}'])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp, "tiny.toml")
    ...     _ = path.write_text(text)
    ...     exp = load_experiment(path)
    >>> exp.name, exp.horizon, exp.stream
    ('tiny', 20, 'prequential')
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExperimentError(f"{path}: cannot read the experiment file: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ExperimentError(
            f"{path}: not a text file in UTF-8 (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); save the experiment file as UTF-8"
        ) from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ExperimentError(f"{path}: not a valid experiment file: {exc}") from None
    try:
        return parse_experiment(raw, default_name=path.stem, check=check, imports=imports)
    except ExperimentError as exc:
        raise ExperimentError(f"{path}: {exc}") from None


def parse_experiment(
    raw: Mapping[str, Any],
    *,
    default_name: str = "experiment",
    check: bool = True,
    imports: Iterable[str] = (),
) -> Experiment:
    """Validate a parsed experiment file and resolve its defaults.

    With ``check`` every environment and agent is also built and run for two steps, so a bad
    parameter value or an agent that cannot act in an environment fails here. ``imports`` are
    plugin modules, imported first (their ``register`` calls run); the file may name them in a
    ``type = "module:Name"`` or its ``imports`` key, as it may installed entry points' modules,
    and no other module (its ``imports`` key may also list modules this process has already
    loaded, such as one that registered names from a script: importing them runs no code).

    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> exp.name, exp.chunk_size, [a.name for a in exp.agents]
    ('experiment', 2, ['a'])
    >>> parse_experiment({"seed": 1})
    Traceback (most recent call last):
    regretlab.experiments.components.ExperimentError: missing required key 'horizon'; ...
    """
    if not isinstance(raw, Mapping):
        raise ExperimentError(f"an experiment must be a table, got {_describe(raw)}")
    for key in raw:
        if key not in _REQUIRED + _OPTIONAL:
            raise _fail(key, f"unknown key; allowed: {sorted(_REQUIRED + _OPTIONAL)}")
    for key in _REQUIRED:
        if key not in raw:
            raise ExperimentError(
                f"missing required key {key!r}; every experiment sets {list(_REQUIRED)}"
            )
    allowed = _plugins(raw, imports)
    name = _name("name", raw.get("name", default_name))
    seed = _int("seed", raw["seed"], 0)
    horizon = _int("horizon", raw["horizon"], 1)
    replicates = _int("replicates", raw["replicates"], 1)
    chunk_size = _int("chunk_size", raw.get("chunk_size", min(replicates, 10)), 1)
    if chunk_size > replicates:
        raise _fail("chunk_size", f"must be <= replicates ({replicates}), got {chunk_size}")
    envs = tuple(
        _environment(key, value, allowed)
        for key, value in _named_tables("environments", raw).items()
    )
    agents = tuple(
        _agent(key, value, allowed) for key, value in _named_tables("agents", raw).items()
    )
    streams = {e.stream for e in envs}
    if len(streams) > 1:
        kinds = {e.name: e.stream for e in envs}
        raise _fail("environments", f"mix prediction streams and bandits ({kinds}); use one kind")
    stream = envs[0].stream
    for agent in agents:
        check_roles(agent, stream)
    track = raw.get("track_coefficients", False)
    if not isinstance(track, bool):
        raise _fail("track_coefficients", f"must be true or false, got {_describe(track)}")
    if track and stream == "bandit":
        raise _fail("track_coefficients", "only prediction streams track coefficients")
    reference = raw.get("reference", agents[0].name)
    if reference not in [a.name for a in agents]:
        raise _fail(
            "reference", f"unknown agent {reference!r}; choose one of {[a.name for a in agents]}"
        )
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _fail("description", f"must be a string, got {_describe(description)}")
    exp = Experiment(
        name=name,
        seed=seed,
        horizon=horizon,
        replicates=replicates,
        chunk_size=chunk_size,
        checkpoints=_checkpoints(raw.get("checkpoints", 60), horizon),
        environments=envs,
        agents=agents,
        reference=reference,
        track_coefficients=track,
        description=description,
        imports=_needed(envs, agents),
        feedback=_feedback(raw.get("feedback")),
        block_memory=_block_memory(raw.get("block_memory_mb")),
        offpolicy=None
        if raw.get("offpolicy") is None
        else parse_offpolicy(raw["offpolicy"], [a.name for a in agents], stream, horizon, allowed),
    )
    if check:
        trial(exp)
        if exp.offpolicy is not None:
            check_logger(exp)
    return exp


def _plugins(raw: Mapping[str, Any], imports: Iterable[str]) -> tuple[str, ...]:
    """Import the allowed plugin modules (``imports``, then the file's own ``imports`` key)."""
    if isinstance(imports, str):
        raise ExperimentError(f"imports must be a list of module names, got {imports!r}")
    allowed = tuple(imports)
    try:
        plugins.import_plugins(allowed)
    except plugins.PluginError as exc:
        raise ExperimentError(f"imports: {exc}") from None
    listed = raw.get("imports", [])
    if not isinstance(listed, list | tuple) or not all(isinstance(m, str) for m in listed):
        raise _fail("imports", f"must be an array of module names, got {_describe(listed)}")
    for module in listed:
        try:
            if module not in sys.modules:  # importing a module already loaded runs no code
                plugins.check_allowed(module, allowed)
            plugins.import_plugin(module)
        except plugins.PluginError as exc:
            raise _fail("imports", str(exc)) from None
    return allowed


def _needed(envs: Iterable[EnvironmentSpec], agents: Iterable[AgentSpec]) -> tuple[str, ...]:
    """The plugin modules the components need, in the order the file first uses them."""
    parts = [c for e in envs for c in (e.source, *e.drift)]
    parts += [c for a in agents for c in (a.features, a.learner, a.policy, a.scheduler) if c]
    return tuple(dict.fromkeys(m for part in parts for m in modules(part)))


def _feedback(value: Any) -> Feedback | None:
    """The ``feedback`` table as a :class:`~regretlab.simulate.Feedback` (seeded per task)."""
    if value is None:
        return None
    allowed = ("delay", "mean_delay", "batch_size")
    if not isinstance(value, Mapping):
        raise _fail("feedback", f"must be a table of {list(allowed)}, got {_describe(value)}")
    for key in value:
        if key not in allowed:
            raise _fail(f"feedback.{key}", f"unknown key; allowed: {list(allowed)}")
    try:
        return Feedback(**value)
    except (TypeError, ValueError) as exc:
        raise _fail("feedback", str(exc)) from None


def _int(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(key, f"must be an integer >= {minimum}, got {_describe(value)}")
    if value < minimum:
        raise _fail(key, f"must be an integer >= {minimum}, got {value}")
    return value


def _name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise _fail(key, f"must be a name of letters, digits, '_' and '-', got {_describe(value)}")
    return value


def _block_memory(value: Any) -> int | None:
    """``block_memory_mb`` (MiB, a positive number) as bytes; ``None`` when not given."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _fail("block_memory_mb", f"must be a positive number of MiB, got {_describe(value)}")
    return max(1, int(value * 2**20))


def _checkpoints(value: Any, horizon: int) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return tuple(int(s) for s in log_checkpoints(horizon, _int("checkpoints", value, 1)))
    ok = isinstance(value, list | tuple) and len(value) > 0
    ok = ok and all(isinstance(s, int) and not isinstance(s, bool) for s in value)
    ok = ok and value[0] >= 1 and value[-1] <= horizon
    ok = ok and all(b > a for a, b in itertools.pairwise(value))
    if not ok:
        raise _fail(
            "checkpoints",
            f"must be a count of log-spaced steps or increasing steps in [1, {horizon}], "
            f"got {_describe(value)}",
        )
    return tuple(value)


def _named_tables(key: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    tables = raw[key]
    if not isinstance(tables, Mapping) or not tables:
        raise _fail(key, f"must hold at least one [{key}.NAME] table, got {_describe(tables)}")
    for name in tables:
        _name(f"{key}.{name}", name)
    return dict(tables)


def _environment(name: str, raw: Any, imports: tuple[str, ...]) -> EnvironmentSpec:
    key = f"environments.{name}"
    if not isinstance(raw, Mapping):
        raise _fail(key, f"must be a table with a 'type' key, got {_describe(raw)}")
    drift = raw.get("drift", [])
    if not isinstance(drift, list | tuple):
        raise _fail(f"{key}.drift", f"must be an array of tables, got {_describe(drift)}")
    table = {k: v for k, v in raw.items() if k != "drift"}
    source = parse_component(table, "environment", key, imports=imports)
    wrappers = tuple(
        parse_component(d, "drift", f"{key}.drift[{i}]", imports=imports)
        for i, d in enumerate(drift)
    )
    return EnvironmentSpec(name, source, wrappers)


def _agent(name: str, raw: Any, imports: tuple[str, ...]) -> AgentSpec:
    key = f"agents.{name}"
    if not isinstance(raw, Mapping):
        raise _fail(key, f"must be a table of {list(_AGENT_KEYS)}, got {_describe(raw)}")
    for part in raw:
        if part not in _AGENT_KEYS:
            raise _fail(f"{key}.{part}", f"unknown key; allowed: {list(_AGENT_KEYS)}")
    parts = {
        part: parse_component(raw[part], part, f"{key}.{part}", imports=imports)
        if raw.get(part) is not None
        else None
        for part in _AGENT_KEYS
    }
    return AgentSpec(name, **parts)
