"""Registry entries for non-stationary learners and drift (issue 18), kept beside the registry.

A file may give a learner's window, discount or hazard directly, or ``n_changes``, the number of
changes the user expects in the run: the value then follows the stated rule of
:mod:`regretlab.learners.drift_rules` for the run's horizon, never a value tuned to a benchmark::

    learner = {type = "SlidingWindowBayesianLinearRegression", n_changes = 3}
    learner = {type = "BayesianLinearRegression.discounted", n_changes = 3}
    learner = {type = "ChangepointBayesianLinearRegression", n_changes = 3, max_run = 500}
    learner = {type = "SlidingWindowDisjointBayesianLinearRegression", n_changes = 3}
    learner = {type = "DiscountedBetaBernoulli", n_changes = 3}

The per-action and per-arm forgetting learners (``SlidingWindow*`` / ``Discounted*`` of
:mod:`regretlab.learners.disjoint_window` and :mod:`regretlab.learners.arm_windows`) take
``window`` / ``forgetting`` or ``n_changes`` alike.

The changepoint learner's ``max_run`` defaults to the horizon (its posterior is then exact).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from regretlab import environments, learners
from regretlab.experiments.components import register

__all__ = [
    "changepoint_regression",
    "discounted_regression",
    "forgetting_learner",
    "sliding_window_regression",
]


def _by_rule(
    name: str, value: Any, n_changes: Any, horizon: int, rule: Callable[[int, float], Any]
) -> Any:
    if (value is None) == (n_changes is None):
        raise ValueError(
            f"set exactly one of {name} and n_changes (the changes expected in the run, from "
            f"which the rule sets {name}), got {name}={value!r}, n_changes={n_changes!r}"
        )
    return value if n_changes is None else rule(horizon, n_changes)


def sliding_window_regression(
    *,
    window: int | None = None,
    n_changes: float | None = None,
    prior_variance: Any = 1.0,
    noise_precision: float = 1.0,
    groups: Any = None,
    n_replicates: int | None = None,
    horizon: int = 1,
) -> learners.SlidingWindowBayesianLinearRegression:
    """A sliding-window model; ``window``, or ``n_changes`` for
    :func:`~regretlab.learners.sliding_window` of the horizon."""
    return learners.SlidingWindowBayesianLinearRegression(
        groups=groups,
        window=_by_rule("window", window, n_changes, horizon, learners.sliding_window),
        prior_variance=prior_variance,
        noise_precision=noise_precision,
        n_replicates=n_replicates,
    )


def discounted_regression(
    *,
    forgetting: float | None = None,
    n_changes: float | None = None,
    prior_variance: Any = 1.0,
    noise_precision: float = 1.0,
    groups: Any = None,
    n_replicates: int | None = None,
    horizon: int = 1,
) -> learners.BayesianLinearRegression:
    """A discounted model (``forgetting``), or ``n_changes`` for
    :func:`~regretlab.learners.discount_factor` of the horizon."""
    return learners.BayesianLinearRegression(
        groups=groups,
        forgetting=_by_rule("forgetting", forgetting, n_changes, horizon, learners.discount_factor),
        prior_variance=prior_variance,
        noise_precision=noise_precision,
        n_replicates=n_replicates,
    )


def changepoint_regression(
    *,
    hazard: float | None = None,
    n_changes: float | None = None,
    max_run: int | None = None,
    prior_variance: Any = 1.0,
    noise_precision: float = 1.0,
    groups: Any = None,
    n_replicates: int | None = None,
    horizon: int = 1,
) -> learners.ChangepointBayesianLinearRegression:
    """A BOCPD model; ``hazard``, or ``n_changes`` for
    :func:`~regretlab.learners.changepoint_hazard` of the horizon; ``max_run`` by default the
    horizon."""
    return learners.ChangepointBayesianLinearRegression(
        groups=groups,
        hazard=_by_rule("hazard", hazard, n_changes, horizon, learners.changepoint_hazard),
        max_run=horizon if max_run is None else max_run,
        prior_variance=prior_variance,
        noise_precision=noise_precision,
        n_replicates=n_replicates,
    )


def _auto(context: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "groups": context["features"],
        "n_replicates": context["n_replicates"],
        "horizon": context["env"].horizon,
    }


for _name, _factory in (
    ("SlidingWindowBayesianLinearRegression", sliding_window_regression),
    ("BayesianLinearRegression.discounted", discounted_regression),
    ("ChangepointBayesianLinearRegression", changepoint_regression),
):
    register(
        "learner", _name, _factory, auto=_auto, auto_names=("groups", "n_replicates", "horizon")
    )
_FORGETTING = {
    "SlidingWindowDisjointBayesianLinearRegression": ("window", learners.sliding_window),
    "DiscountedDisjointBayesianLinearRegression": ("forgetting", learners.discount_factor),
    "SlidingWindowArmMeans": ("window", learners.sliding_window),
    "DiscountedArmMeans": ("forgetting", learners.discount_factor),
    "SlidingWindowBetaBernoulli": ("window", learners.sliding_window),
    "DiscountedBetaBernoulli": ("forgetting", learners.discount_factor),
}


def forgetting_learner(
    name: str, *, n_changes: float | None = None, horizon: int = 1, **params: Any
) -> Any:
    """The per-action or per-arm forgetting learner ``name`` of :mod:`regretlab.learners`, its
    ``window`` / ``forgetting`` given in ``params`` or set by the rule for ``n_changes``.

    >>> forgetting_learner("SlidingWindowArmMeans", n_changes=2, horizon=1500, n_actions=3)
    SlidingWindowArmMeans(n_actions=3, n_replicates=None, initial=0.0, window=149)
    """
    key, rule = _FORGETTING[name]
    value = _by_rule(key, params.pop(key, None), n_changes, horizon, rule)
    return getattr(learners, name)(**params, **{key: value})


def _forgetting_auto(name: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def auto(context: Mapping[str, Any]) -> dict[str, Any]:
        k = getattr(context["env"], "n_actions", None)
        if k is None:
            raise ValueError(f"{name} needs a bandit environment (one with n_actions)")
        out = {"n_actions": int(k), "n_replicates": context["n_replicates"]}
        out["horizon"] = context["env"].horizon
        if "Disjoint" in name:
            out["groups"] = context["features"]
        return out

    return auto


def _forgetting_factory(name: str) -> Callable[..., Any]:
    """``forgetting_learner(name, ...)`` with the class's signature, its window or discount
    optional, plus ``n_changes`` and ``horizon`` (what a file may set is read from it)."""
    key = _FORGETTING[name][0]

    def factory(**params: Any) -> Any:
        return forgetting_learner(name, **params)

    keyword = inspect.Parameter.KEYWORD_ONLY
    own = inspect.signature(getattr(learners, name)).parameters.values()
    factory.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            *(p.replace(default=None) if p.name == key else p for p in own),
            inspect.Parameter("n_changes", keyword, default=None),
            inspect.Parameter("horizon", keyword, default=1),
        ]
    )
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"{name}, ``{key}`` or ``n_changes`` for the rule of the horizon."
    return factory


for _name in _FORGETTING:
    register(
        "learner",
        _name,
        _forgetting_factory(_name),
        auto=_forgetting_auto(_name),
        auto_names=("n_actions", "n_replicates", "horizon", *(("groups",) * ("Disjoint" in _name))),
    )
register(
    "drift",
    "GradualDrift",
    environments.GradualDrift,
    auto=lambda c: {"env": c["env"], "seed": c["seed"]},
    auto_names=("env", "seed"),
)
register(
    "drift",
    "ArmAppears",
    environments.ArmAppears,
    auto=lambda c: {"env": c["env"]},
    auto_names=("env",),
)
