"""Registry entries of the GLM bandits (binary and count rewards): the environment, the
learners and the policies of issue 17 part B, kept in their own module so that
:mod:`regretlab.experiments.registry` only imports it.

>>> from regretlab.experiments.components import names
>>> "BayesianGLM" in names("learner"), "SquareCB" in names("policy")
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from regretlab import environments, learners, policies
from regretlab.experiments.components import register

__all__: list[str] = []


def _env_auto(context: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "horizon": context["horizon"],
        "n_replicates": context["n_replicates"],
        "seed": context["seed"],
    }


def _learner_auto(context: Mapping[str, Any]) -> dict[str, Any]:
    return {"groups": context["features"], "n_replicates": context["n_replicates"]}


register(
    "environment",
    "GLMBandit",
    environments.GLMBandit,
    auto=_env_auto,
    auto_names=("horizon", "n_replicates", "seed"),
    stream="bandit",
)
register(
    "learner",
    "BayesianGLM",
    learners.BayesianGLM,
    auto=_learner_auto,
    auto_names=("groups", "n_replicates"),
)
register(
    "learner",
    "Bootstrap",
    learners.Bootstrap,
    auto=lambda c: {"seed": c["seed"]},
    auto_names=("seed",),
    nested={"learner": "learner"},
)
for _name in ("SquareCB", "BootstrappedThompsonSampling"):
    register("policy", _name, getattr(policies, _name))
