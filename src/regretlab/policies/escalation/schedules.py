"""Schedulers that follow a rule: fixed priors, a function of the step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from regretlab._validation import check_int, check_real
from regretlab.policies.escalation.base import Event, apply_prior, check_every

__all__ = ["DataSchedule", "Fixed", "Ramp"]


class Ramp:
    """A linear ramp for :class:`DataSchedule`: ``min(top, top * step / steps)``.

    A plain object rather than a lambda, so schedules pickle (process pools) and print.

    >>> Ramp(top=1.0, steps=100)(50)
    0.5
    >>> Ramp(top=1.0, steps=100)(500)
    1.0
    """

    def __init__(self, top: float, steps: int) -> None:
        self.top = top
        self.steps = steps
        check_real("top", top, minimum=0.0)
        check_int("steps", steps, minimum=1)

    def __call__(self, step: int) -> float:
        return min(self.top, self.top * step / self.steps)

    def __repr__(self) -> str:
        return f"Ramp(top={self.top!r}, steps={self.steps!r})"


class Fixed:
    """The baselines: set the given group variances once, at the first step, then never again.

    ``Fixed()`` keeps the learner's own prior; ``Fixed({"pairwise": 0.0})`` is the main-effects
    model, ``Fixed({"pairwise": 1.0})`` the full model with a unit prior.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> model = BayesianLinearRegression(groups=("main", "pairwise"), n_replicates=2)
    >>> Fixed({"pairwise": 0.0}).update(model, step=1)[0]
    Event(replicate=0, step=1, group='pairwise', old=1.0, new=0.0)
    """

    def __init__(self, prior_variance: Mapping[str, float] | None = None) -> None:
        self.prior_variance = prior_variance
        self._done = False

    def update(self, model: Any, step: int) -> list[Event]:
        if self._done:
            return []
        self._done = True
        events: list[Event] = []
        for group, value in (self.prior_variance or {}).items():
            events += apply_prior(model, group, value, step)
        return events

    def clone(self) -> Fixed:
        return Fixed(self.prior_variance)

    def __repr__(self) -> str:
        return f"Fixed({self.prior_variance!r})"


class DataSchedule:
    """``group``'s variance as a function of the step count, checked every ``every`` steps.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> model = BayesianLinearRegression(groups=("main", "pairwise"))
    >>> schedule = DataSchedule("pairwise", lambda t: min(1.0, t / 100), every=50)
    >>> [len(schedule.update(model, t)) for t in (1, 50, 100, 150)]
    [0, 1, 1, 0]
    >>> float(model.get_prior_variance("pairwise"))
    1.0
    """

    def __init__(self, group: str, schedule: Callable[[int], float], *, every: int = 1) -> None:
        self.group = group
        self.schedule = schedule
        self.every = every
        if not callable(schedule):
            raise TypeError(f"schedule must be a function of the step, got {schedule!r}")
        check_every(every)

    def update(self, model: Any, step: int) -> list[Event]:
        if step % self.every:
            return []
        value = check_real(f"schedule({step})", self.schedule(step), minimum=0.0)
        return apply_prior(model, self.group, value, step)

    def clone(self) -> DataSchedule:
        return DataSchedule(self.group, self.schedule, every=self.every)

    def __repr__(self) -> str:
        return f"DataSchedule({self.group!r}, {self.schedule!r}, every={self.every})"
