"""What every scheduler shares: change events and applying a new prior variance.

``Event`` and the ``Scheduler`` protocol live in :mod:`regretlab.base` and are re-exported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab._validation import check_int
from regretlab.base import Event, Scheduler

__all__ = ["Event", "Scheduler", "apply_prior", "check_every", "group_columns"]


def check_every(every: Any) -> int:
    return check_int("every", every, minimum=1)


def group_columns(model: Any, group: str) -> np.ndarray:
    """Column indices of ``group`` in ``model``'s design, with a clear error if unknown."""
    columns = model.columns
    if group not in columns:
        raise ValueError(f"group must be one of {list(columns)}, got {group!r}")
    return columns[group]


def apply_prior(model: Any, group: str, new: Any, step: int) -> list[Event]:
    """Set ``group``'s prior variance to ``new`` (scalar or per replicate); report the changes.

    Replicates whose value does not change are left alone, and nothing is refitted when none
    does, so calling this every step is cheap.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> model = BayesianLinearRegression(groups=("main", "pairwise"), n_replicates=2)
    >>> apply_prior(model, "pairwise", [1.0, 0.0], step=5)
    [Event(replicate=1, step=5, group='pairwise', old=1.0, new=0.0)]
    >>> apply_prior(model, "pairwise", [1.0, 0.0], step=6)
    []
    """
    old = np.asarray(model.get_prior_variance(group), dtype=float)
    target = np.broadcast_to(np.asarray(new, dtype=float), old.shape)
    changed = np.flatnonzero(np.atleast_1d(target != old))
    if len(changed) == 0:
        return []
    model.set_prior_variance(group, target.copy() if target.ndim else float(target))
    olds, news = np.atleast_1d(old), np.atleast_1d(target)
    return [Event(int(r), int(step), group, float(olds[r]), float(news[r])) for r in changed]
