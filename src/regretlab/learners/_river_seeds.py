"""Seeds for river models: one int per ``seed`` parameter, drawn from a replicate's seed.

:class:`~regretlab.learners.RiverRegressor` gives every replicate its own ``SeedSequence``;
:func:`seeded` walks a river model's ``_get_params()`` depth first (nested estimators and
pipeline steps included), counts its ``seed`` parameters and rebuilds it with ``clone`` and one
word of the replicate's seed each.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

__all__ = ["seeded"]


def _is_class_param(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and inspect.isclass(value[0])
        and isinstance(value[1], dict)
    )


def _count_seeds(params: Mapping[str, Any]) -> int:
    count = 0
    for name, value in params.items():
        if name == "seed":
            count += 1
        elif _is_class_param(value):
            count += _count_seeds(value[1])
        elif isinstance(value, dict):
            count += _count_seeds(value)
    return count


def _reseed(params: Mapping[str, Any], words: Iterator[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name == "seed":
            out[name] = next(words)
        elif _is_class_param(value):
            out[name] = (value[0], _reseed(value[1], words))
        elif isinstance(value, dict):
            out[name] = _reseed(value, words)
        else:
            out[name] = value
    return out


def seeded(model: Any, child: np.random.SeedSequence | None) -> Any:
    """``model`` rebuilt with one int per ``seed`` parameter, drawn from ``child``."""
    if child is None or not hasattr(model, "_get_params") or not hasattr(model, "clone"):
        return model
    params = model._get_params()
    n = _count_seeds(params)
    if n == 0:
        return model
    # uint32 words: numpy's RandomState, which river uses, takes seeds below 2**32.
    words = (int(w) for w in child.generate_state(n, dtype=np.uint32))
    return model.clone(_reseed(params, words))
