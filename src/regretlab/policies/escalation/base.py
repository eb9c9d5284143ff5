"""What every scheduler shares: change events and applying a new prior variance."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from regretlab._validation import check_int

__all__ = ["Event", "Scheduler", "apply_prior", "check_every", "group_columns"]


class Event(NamedTuple):
    """One change of a group's prior variance in one replicate at one step.

    >>> Event(replicate=0, step=120, group="pairwise", old=0.0, new=1.0)
    Event(replicate=0, step=120, group='pairwise', old=0.0, new=1.0)
    """

    replicate: int
    step: int
    group: str
    old: float
    new: float


@runtime_checkable
class Scheduler(Protocol):
    """Reads posterior summaries after a step and sets group prior variances on the learner.

    Schedulers conform without inheriting; the runners call ``update(model, step)`` after every
    step's learning and ``clone()`` once per run.

    >>> from regretlab.policies.escalation import EvidenceSwitch, Fixed
    >>> isinstance(EvidenceSwitch(), Scheduler), isinstance(Fixed({"pairwise": 1.0}), Scheduler)
    (True, True)
    """

    def update(self, model: Any, step: int) -> list[Event]: ...

    def clone(self) -> Scheduler: ...


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
