"""Turning per-group prior settings into per-column arrays, with validation at the boundary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from regretlab._validation import as_float_array
from regretlab.features import group_indices

__all__ = ["check_groups", "column_values", "group_value"]


def check_groups(groups: Any) -> tuple[str, ...]:
    """Validate the per-column group labels (or take them from a feature map)."""
    labels = getattr(groups, "groups", groups)
    if isinstance(labels, str) or not isinstance(labels, Sequence) or len(labels) == 0:
        raise TypeError(
            f"groups must be a non-empty sequence of group names (one per column) or a feature "
            f"map, got {labels!r}"
        )
    if not all(isinstance(g, str) for g in labels):
        raise TypeError(f"groups must hold strings, got {list(labels)!r}")
    empty = [i for i, g in enumerate(labels) if not g.strip()]
    if empty:
        raise ValueError(
            f"groups must be non-empty names, got {labels[empty[0]]!r} at column {empty[0]}"
        )
    return tuple(labels)


def group_value(
    name: str, group: str, value: Any, batch_shape: tuple[int, ...] | None
) -> np.ndarray:
    """One group's setting: a scalar or one value per replicate, each >= 0 (``inf`` allowed)."""
    label = f"{name}[{group!r}]"
    array = as_float_array(label, value, finite=False)
    if np.isnan(array).any():
        raise ValueError(f"{label} must not be NaN, got {value!r}")
    if (array < 0).any():
        raise ValueError(f"{label} must be >= 0, got {array[array < 0].flat[0]}")
    if array.ndim > 0 and batch_shape == ():
        raise ValueError(f"{label} must be a scalar here, got shape {array.shape}")
    if array.ndim > 0 and batch_shape is not None and array.shape != batch_shape:
        raise ValueError(
            f"{label} must be a scalar or have shape {batch_shape} (one per replicate), "
            f"got shape {array.shape}"
        )
    if array.ndim > 1:
        raise ValueError(f"{label} must be a scalar or 1-D (one per replicate), got {array.shape}")
    return array


def column_values(
    name: str,
    setting: float | Mapping[str, Any],
    groups: tuple[str, ...],
    *,
    default: float,
    batch_shape: tuple[int, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Per-group values from a scalar (all groups) or a mapping (missing groups get ``default``)."""
    known = group_indices(groups)
    if isinstance(setting, Mapping):
        unknown = [g for g in setting if g not in known]
        if unknown:
            raise ValueError(
                f"{name} names unknown group {unknown[0]!r}; the groups are {list(known)}"
            )
        raw = {g: setting.get(g, default) for g in known}
    else:
        raw = dict.fromkeys(known, setting)
    return {g: group_value(name, g, v, batch_shape) for g, v in raw.items()}
