"""Schedulers that follow a rule: fixed priors, a function of the step, an uncertainty trigger."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from regretlab._validation import check_choice, check_int, check_real
from regretlab.policies.escalation.base import Event, apply_prior, check_every, group_columns

__all__ = ["DataSchedule", "Fixed", "Ramp", "UncertaintyTrigger"]


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


class UncertaintyTrigger:
    """Loosen ``group`` when the posterior sd of the ``watch`` group falls below ``threshold``.

    The sd summary is the ``statistic`` (``max`` or ``mean``) over the watched columns. Each
    check at which it is below the threshold moves a replicate one rung up ``ladder`` (a
    one-rung ladder is a single jump). With known noise the posterior sd does not depend on the
    targets, so this trigger fires on a fixed schedule set by the design (DESIGN.md); with the
    noise learned online it reads the data through the noise estimate.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> model = BayesianLinearRegression(groups=("main", "pairwise"),
    ...                                  prior_variance={"pairwise": 0.0})
    >>> trigger = UncertaintyTrigger(threshold=0.5, ladder=(0.1, 1.0), every=1)
    >>> model = model.learn_many(np.ones((20, 2)), np.ones(20))
    >>> [e.new for t in (1, 2, 3) for e in trigger.update(model, t)]
    [0.1, 1.0]
    """

    def __init__(
        self,
        group: str = "pairwise",
        watch: str = "main",
        *,
        threshold: float = 0.05,
        statistic: str = "max",
        ladder: Sequence[float] = (1.0,),
        every: int = 10,
    ) -> None:
        self.group = group
        self.watch = watch
        self.threshold = threshold
        self.statistic = statistic
        self.ladder = ladder
        self.every = every
        check_real("threshold", threshold, minimum=0.0, exclusive_minimum=True)
        check_choice("statistic", statistic, ["max", "mean"])
        self._ladder = np.asarray(ladder, dtype=float)
        if self._ladder.ndim != 1 or len(self._ladder) == 0 or (self._ladder < 0).any():
            raise ValueError(f"ladder must be a non-empty sequence of variances >= 0, got {ladder}")
        check_every(every)
        self._rung: np.ndarray | None = None

    def update(self, model: Any, step: int) -> list[Event]:
        if step % self.every:
            return []
        sd = model.sd[..., group_columns(model, self.watch)]
        summary = sd.max(axis=-1) if self.statistic == "max" else sd.mean(axis=-1)
        if self._rung is None:
            self._rung = np.full(summary.shape, -1)
        move = (summary < self.threshold) & (self._rung < len(self._ladder) - 1)
        if not move.any():
            return []
        self._rung = self._rung + move
        current = np.asarray(model.get_prior_variance(self.group), dtype=float)
        new = np.where(move, self._ladder[np.maximum(self._rung, 0)], current)
        return apply_prior(model, self.group, new, step)

    def clone(self) -> UncertaintyTrigger:
        return UncertaintyTrigger(
            self.group,
            self.watch,
            threshold=self.threshold,
            statistic=self.statistic,
            ladder=self.ladder,
            every=self.every,
        )

    def __repr__(self) -> str:
        return (
            f"UncertaintyTrigger({self.group!r}, watch={self.watch!r}, "
            f"threshold={self.threshold}, statistic={self.statistic!r}, "
            f"ladder={tuple(self.ladder)}, every={self.every})"
        )
