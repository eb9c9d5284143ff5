"""Names that experiment files may use: environments, noise models, feature maps, learners, ...

This module registers regretlab's own components (see :mod:`regretlab.experiments.components`
for what an entry holds) and re-exports the registry's functions: a plugin module makes a name
usable with :func:`register` (``registry.register("learner", "Mine", factory, auto=...)``) and
is imported by ``regretlab run --import MODULE`` or an installed entry point of the group
``regretlab.components`` (see :mod:`regretlab.experiments.plugins`).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any

from regretlab import environments, features, learners, policies
from regretlab.experiments import _selection, plugins
from regretlab.experiments.components import (
    ROLES,
    Component,
    Entry,
    ExperimentError,
    Table,
    build,
    entry,
    fail,
    freeze,
    modules,
    names,
    parse_component,
    register,
    thaw,
)
from regretlab.policies import escalation, selection

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
    "modules",
    "names",
    "parse_component",
    "register",
    "thaw",
]


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
for _env_name, _stream in (
    ("InteractionStream", "prequential"),
    ("MultilevelStream", "prequential"),
    ("LinearBandit", "bandit"),
):
    register(
        "environment",
        _env_name,
        getattr(environments, _env_name),
        auto=_env_auto,
        auto_names=_ENV_AUTO,
        nested={"noise": "noise"},
        stream=_stream,
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

# --- noise models (``noise = {type = "StudentT", df = 3, scale = 0.5}`` in an environment) ----


def _function(name: str, path: Any) -> Any:
    """The top-level function ``"package.module:function"`` (or ``package.module.function``)."""
    text = str(path)
    module_name, sep, attr = text.partition(":")
    if not sep:
        module_name, _, attr = text.rpartition(".")
    if not plugins.is_imported(module_name):
        # An experiment file is data: it may only reach code the user allowed (--import),
        # which parsing has imported by now (and every worker imports before building).
        raise ValueError(
            f"{name}: module {module_name!r} is not an allowed plugin; pass --import "
            f"{module_name} (or imports=[...]) and write the function as 'module:function'"
        )
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(
            f"{name} must name a module's top-level function such as 'mypkg.noise:laplace', "
            f"got {path!r}"
        ) from None


def custom_noise(fn: str) -> environments.Custom:
    """:class:`~regretlab.environments.Custom` noise from the function ``fn`` names
    (``"package.module:function"``, called ``fn(rng, shape, inputs)``)."""
    return environments.Custom(_function("fn", fn))


def heteroscedastic_noise(
    base: Any = None, slope: float = 1.0, input: int = 0, scale_fn: str | None = None
) -> environments.Heteroscedastic:
    """:class:`~regretlab.environments.Heteroscedastic` noise; ``scale_fn`` names a function
    (``"package.module:function"``) of the rows' inputs."""
    fn = None if scale_fn is None else _function("scale_fn", scale_fn)
    return environments.Heteroscedastic(base, slope=slope, input=input, scale_fn=fn)


register("noise", "Gaussian", environments.Gaussian)
register("noise", "StudentT", environments.StudentT)
register("noise", "Heteroscedastic", heteroscedastic_noise, nested={"base": "noise"})
register("noise", "Custom", custom_noise)

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

# --- selection over whole agents (bandits): the learner holds the base agents ------------------

register("policy", "ChosenAgent", selection.ChosenAgent)
for _name, _factory in (
    ("Corral", _selection.corral),
    ("RegretBalancing", _selection.regret_balancing),
):
    register("learner", _name, _factory, auto=lambda c: {"context": c}, auto_names=("context",))

# Modules of their own register more names when imported: sliding-window, discounted and
# changepoint learners, gradual drift and actions appearing (_nonstationary); the classic
# multi-armed bandits (_registry_arms); the GLM bandits (glm_registry); off-policy estimators,
# role "estimator", where the [offpolicy] table is parsed (offpolicy_spec).
from regretlab.experiments import (  # noqa: E402, F401
    _nonstationary,
    _registry_arms,
    glm_registry,
    offpolicy_spec,
)
