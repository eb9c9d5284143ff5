"""Registry names of the classic multi-armed bandits (issue 17): environments without context,
the reward models their arms draw from, per-arm learners and the index and sampling rules.

Imported by :mod:`regretlab.experiments.registry` (kept apart so that its own list stays short).
A reward model is a component of the ``noise`` role (the one slot for how a draw is made from a
mean): ``reward = {type = "Poisson"}`` in an environment table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from regretlab import environments, learners, policies
from regretlab.experiments.components import register

__all__: list[str] = []

_ENV_AUTO = ("horizon", "n_replicates", "seed")


def _env_auto(context: Mapping[str, Any]) -> dict[str, Any]:
    return {name: context[name] for name in _ENV_AUTO}


for _name in ("MultiArmedBandit", "PiecewiseStationaryBandit", "AdversarialBandit"):
    register(
        "environment",
        _name,
        getattr(environments, _name),
        auto=_env_auto,
        auto_names=_ENV_AUTO,
        nested={"reward": "noise"},
        stream="bandit",
    )

for _name in ("Bernoulli", "Binomial", "Poisson"):
    register("noise", _name, getattr(environments, _name))


def _arms(context: Mapping[str, Any]) -> dict[str, Any]:
    k = getattr(context["env"], "n_actions", None)
    if k is None:
        raise ValueError("a per-arm learner needs a bandit environment (one with n_actions)")
    return {"n_actions": int(k), "n_replicates": context["n_replicates"]}


for _name in ("ArmMeans", "BetaBernoulli", "GammaPoisson"):
    register(
        "learner",
        _name,
        getattr(learners, _name),
        auto=_arms,
        auto_names=("n_actions", "n_replicates"),
    )

for _name in ("UCB1", "KLUCB", "BayesUCB", "Softmax", "Exp3", "ConjugateThompsonSampling"):
    register("policy", _name, getattr(policies, _name))
