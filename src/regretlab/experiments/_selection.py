"""Experiment-file factories of the agent selectors (``Corral``, ``RegretBalancing``): their
``bases`` table holds whole agents, ``{name = {learner = {...}, policy = {...}}}``, built with
the selector's own sweep values (design, replicates, seed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from regretlab.experiments import components
from regretlab.policies import selection

__all__ = ["corral", "regret_balancing"]


def _bases(bases: Any, context: Mapping[str, Any], kind: str) -> dict[str, tuple[Any, Any]]:
    if not isinstance(bases, Mapping) or len(bases) < 2:
        raise ValueError(
            f"{kind}: bases must be a table of at least 2 named agents "
            f"{{name = {{learner = {{...}}, policy = {{...}}}}}}, got {bases!r}"
        )
    built = {}
    for name, raw in bases.items():
        key = f"bases.{name}"
        if not isinstance(raw, Mapping) or "policy" not in raw:
            raise ValueError(
                f"{key} must be a table with a 'policy' (and a 'learner'), got {raw!r}"
            )
        unknown = sorted(set(raw) - {"learner", "policy"})
        if unknown:
            raise ValueError(f"{key}: unknown keys {unknown}; allowed: ['learner', 'policy']")
        learner = raw.get("learner")
        if learner is not None:
            learner = components.build(
                components.parse_component(learner, "learner", f"{key}.learner"), context
            )
        policy = components.build(
            components.parse_component(raw["policy"], "policy", f"{key}.policy"), context
        )
        built[str(name)] = (learner, policy)
    return built


def corral(
    bases: Any,
    *,
    learning_rate: float | None = None,
    reward_range: Any = "auto",
    teach: str = "picked",
    context: Mapping[str, Any],
) -> selection.Corral:
    """A :class:`~regretlab.policies.selection.Corral` over the ``bases`` table, for the
    environment's horizon (``learning_rate`` ``None``: ``sqrt(M / T)``)."""
    return selection.Corral(
        _bases(bases, context, "Corral"),
        horizon=int(context["env"].horizon),
        learning_rate=learning_rate,
        reward_range=reward_range,
        n_replicates=context["n_replicates"],
        teach=teach,
    )


def _dimension(learner: Any) -> int:
    """The coefficients a base can use: design columns whose prior variance is not 0."""
    state = learner.get_state() if callable(getattr(learner, "get_state", None)) else {}
    prior = state.get("prior_variance")
    if prior is None:
        return int(learner.n_features)
    prior = np.asarray(prior)
    return int(np.count_nonzero(prior.reshape(-1, prior.shape[-1])[0]))


def regret_balancing(
    bases: Any,
    *,
    bounds: Any = "sqrt(d n)",
    bound_scale: float = 1.0,
    confidence_scale: float = 1.0,
    delta: float = 0.05,
    teach: str = "picked",
    context: Mapping[str, Any],
) -> selection.RegretBalancing:
    """A :class:`~regretlab.policies.selection.RegretBalancing` over the ``bases`` table.

    ``bounds`` is a form of :class:`~regretlab.policies.selection.RegretBound` (``"sqrt(d n)"``
    or ``"d sqrt(n) log(n)"``), ``d`` counted from each base learner's columns with a prior
    variance other than 0, or a table ``{name = d}`` of dimensions; ``bound_scale`` is the
    bounds' ``scale``.
    """
    built = _bases(bases, context, "RegretBalancing")
    if isinstance(bounds, str):
        rules = [
            selection.RegretBound(_dimension(learner), scale=bound_scale, form=bounds)
            for learner, _ in built.values()
        ]
    elif isinstance(bounds, Mapping):
        if set(bounds) != set(built):
            raise ValueError(
                f"bounds must name exactly the bases {list(built)}, got {list(bounds)}"
            )
        rules = [selection.RegretBound(bounds[n], scale=bound_scale) for n in built]
    else:
        raise ValueError(
            f"bounds must be a form such as 'sqrt(d n)' or {{name = d}}, got {bounds!r}"
        )
    return selection.RegretBalancing(
        built,
        bounds=rules,
        confidence_scale=confidence_scale,
        delta=delta,
        n_replicates=context["n_replicates"],
        teach=teach,
    )
