"""An experiment's ``[offpolicy]`` table: which agent logs, which targets, which estimators.

::

    [offpolicy]
    logger = "ts"                  # an agent of the experiment; its policy must give propensities
    sizes = [100, 1000]            # log prefixes to evaluate (optional; default: the horizon)
    # target policies act on the environment's true means (model "truth"):
    targets = { uniform = { type = "Random" }, best = { type = "EpsilonGreedy", epsilon = 0.1 } }
    estimators = { IPS = { type = "IPS" }, DR = { type = "DoublyRobust", folds = 5 } }

``regretlab report`` then reruns the logger on every environment with a log (same replicates
and seed as the sweep) and tabulates every estimator's bias, RMSE, interval coverage and ESS
against the exact values of the targets (:mod:`regretlab.experiments.offpolicy_report`). The
estimators are registered here under the role ``estimator``: ``DirectMethod``, ``IPS``,
``SNIPS``, ``DoublyRobust`` and ``SwitchDR``, the reward model's ``alpha``, ``folds`` and
``groups`` flattened into the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from regretlab import offpolicy
from regretlab._validation import _describe
from regretlab.experiments.components import (
    Component,
    build,
    fail,
    parse_component,
    register,
)

__all__ = ["OffPolicySpec", "parse_offpolicy"]


def _ridge(alpha: float, folds: int, groups: Sequence[str] | None) -> offpolicy.RidgeRewardModel:
    return offpolicy.RidgeRewardModel(
        alpha=alpha, folds=folds, groups=None if groups is None else tuple(groups)
    )


def direct_method(
    *, alpha: float = 1.0, folds: int = 5, groups: Sequence[str] | None = None
) -> offpolicy.DirectMethod:
    """The direct method with a cross-fitted ridge reward model."""
    return offpolicy.DirectMethod(reward_model=_ridge(alpha, folds, groups))


def doubly_robust(
    *,
    clip: float | None = None,
    alpha: float = 1.0,
    folds: int = 5,
    groups: Sequence[str] | None = None,
) -> offpolicy.DoublyRobust:
    """Doubly robust with a cross-fitted ridge reward model."""
    return offpolicy.DoublyRobust(reward_model=_ridge(alpha, folds, groups), clip=clip)


def switch_dr(
    *,
    tau: float = 10.0,
    clip: float | None = None,
    alpha: float = 1.0,
    folds: int = 5,
    groups: Sequence[str] | None = None,
) -> offpolicy.SwitchDR:
    """Switch-DR with a cross-fitted ridge reward model."""
    return offpolicy.SwitchDR(tau=tau, reward_model=_ridge(alpha, folds, groups), clip=clip)


register("estimator", "DirectMethod", direct_method)
register("estimator", "IPS", offpolicy.IPS)
register("estimator", "SNIPS", offpolicy.SNIPS)
register("estimator", "DoublyRobust", doubly_robust)
register("estimator", "SwitchDR", switch_dr)


@dataclass(frozen=True)
class OffPolicySpec:
    """The parsed ``[offpolicy]`` table (see the module notes).

    >>> spec = parse_offpolicy({"logger": "a", "targets": {"u": {"type": "Random"}},
    ...                         "estimators": {"ips": {"type": "IPS"}}}, ["a"], "bandit", 50)
    >>> spec.logger, spec.sizes, [t for t, _ in spec.targets], spec.estimators[0][1].type
    ('a', (50,), ['u'], 'IPS')
    """

    logger: str
    targets: tuple[tuple[str, Component], ...]
    estimators: tuple[tuple[str, Component], ...]
    sizes: tuple[int, ...]

    def build_targets(self) -> dict[str, Any]:
        return {name: build(part, {}) for name, part in self.targets}

    def build_estimators(self) -> dict[str, Any]:
        return {name: build(part, {}) for name, part in self.estimators}

    def to_python(self) -> dict[str, Any]:
        return {
            "logger": self.logger,
            "sizes": list(self.sizes),
            "targets": {name: part.to_python() for name, part in self.targets},
            "estimators": {name: part.to_python() for name, part in self.estimators},
        }


def _named(
    raw: Any, key: str, role: str, imports: Iterable[str]
) -> tuple[tuple[str, Component], ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise fail(key, f"must be a non-empty table of named {role}s, got {_describe(raw)}")
    out = []
    for name, value in raw.items():
        where = f"{key}.{name}"
        part = parse_component(value, role, where, imports=imports)
        try:
            build(part, {})
        except (TypeError, ValueError) as exc:
            raise fail(where, str(exc)) from None
        if role == "policy" and not hasattr(build(part, {}), "action_probabilities"):
            raise fail(where, f"{part.type} gives no action_probabilities; it cannot be a target")
        out.append((str(name), part))
    return tuple(out)


def parse_offpolicy(
    raw: Any, agents: Sequence[str], stream: str, horizon: int, imports: Iterable[str] = ()
) -> OffPolicySpec:
    """Validate an ``[offpolicy]`` table; every error names its key (``offpolicy.sizes``)."""
    if not isinstance(raw, Mapping):
        raise fail("offpolicy", f"must be a table, got {_describe(raw)}")
    allowed = ("logger", "targets", "estimators", "sizes")
    for key in raw:
        if key not in allowed:
            raise fail(f"offpolicy.{key}", f"unknown key; allowed: {list(allowed)}")
    if stream != "bandit":
        raise fail("offpolicy", "off-policy evaluation needs bandit environments")
    logger = raw.get("logger")
    if logger not in agents:
        raise fail("offpolicy.logger", f"must be one of the agents {list(agents)}, got {logger!r}")
    sizes = raw.get("sizes", [horizon])
    if (
        not isinstance(sizes, list)
        or not sizes
        or any(
            isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= horizon for n in sizes
        )
    ):
        raise fail(
            "offpolicy.sizes", f"must be a list of integers in [1, {horizon}], got {sizes!r}"
        )
    for key in ("targets", "estimators"):
        if key not in raw:
            raise fail("offpolicy", f"missing required key {key!r}")
    return OffPolicySpec(
        logger=str(logger),
        targets=_named(raw["targets"], "offpolicy.targets", "policy", imports),
        estimators=_named(raw["estimators"], "offpolicy.estimators", "estimator", imports),
        sizes=tuple(sorted(set(sizes))),
    )


def check_logger(exp: Any) -> None:
    """Run the logger for two steps of every environment with a log: a policy that gives no
    propensity (``ThompsonSampling`` without ``propensity_draws``) fails here, by its key."""
    from regretlab.simulate import run_bandit

    spec = exp.offpolicy
    for env_spec in exp.environments:
        env = exp.build_environment(env_spec.name, n_replicates=1, seed=0, horizon=2, drift=False)
        agents = [a for a in exp.build_agents(env, seed=0) if a.name == spec.logger]
        try:
            run_bandit(env, agents, seed=0, log_to=offpolicy.MemoryLog())
        except (TypeError, ValueError) as exc:
            raise fail("offpolicy.logger", f"{exc} (in environments.{env_spec.name})") from None
