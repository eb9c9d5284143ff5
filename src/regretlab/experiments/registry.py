"""Names that experiment files may use: environments, feature maps, learners, policies, schedulers.

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
from regretlab.policies import escalation

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
