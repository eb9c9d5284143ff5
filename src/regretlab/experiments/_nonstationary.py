"""Registry entries for non-stationary learners and drift (issue 18), kept beside the registry.

A file may give a learner's window, discount or hazard directly, or ``n_changes``, the number of
changes the user expects in the run: the value then follows the stated rule of
:mod:`regretlab.learners.drift_rules` for the run's horizon, never a value tuned to a benchmark::

    learner = {type = "SlidingWindowBayesianLinearRegression", n_changes = 3}
    learner = {type = "BayesianLinearRegression.discounted", n_changes = 3}
    learner = {type = "ChangepointBayesianLinearRegression", n_changes = 3, max_run = 500}

The changepoint learner's ``max_run`` defaults to the horizon (its posterior is then exact).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from regretlab import environments, learners
from regretlab.experiments.components import register

__all__ = [
    "changepoint_regression",
    "discounted_regression",
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
