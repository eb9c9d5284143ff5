"""Checks every scheduler passes (the :class:`~regretlab.base.Scheduler` contract).

They run the scheduler for 120 steps on a :class:`~regretlab.learners.BayesianLinearRegression`
(three replicates, pairwise group switched off) learning an
:class:`~regretlab.environments.InteractionStream` with strong interactions.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from regretlab.checks._common import pickled_copy, require, without_global_random
from regretlab.environments import InteractionStream
from regretlab.learners import BayesianLinearRegression

__all__ = [
    "check_scheduler",
    "check_scheduler_changes_are_exact",
    "check_scheduler_is_deterministic",
    "check_scheduler_pickles",
    "check_scheduler_reports_every_change",
    "check_scheduler_uses_no_global_random",
    "scheduler_checks",
]

_REPLICATES = 3


class _Run(NamedTuple):
    model: Any
    prior: dict[str, np.ndarray]  # every group's prior variance before the run
    steps: list[tuple[int, Any]]  # (step, what update returned)
    design: np.ndarray
    y: np.ndarray

    @property
    def events(self) -> list:
        return [e for _, events in self.steps for e in events]


def _prior(model: Any) -> dict[str, np.ndarray]:
    return {g: np.array(model.get_prior_variance(g), dtype=float) for g in model.columns}


def _scheduler_run(scheduler: Any, seed: int = 11, steps: int = 120) -> _Run:
    """Run ``scheduler`` on a grouped Bayesian learner over a stream with interactions."""
    env = InteractionStream(
        x_dim=3,
        interaction_scale=2.0,
        noise_level=0.2,
        horizon=steps,
        n_replicates=_REPLICATES,
        seed=seed,
    )
    model = BayesianLinearRegression(
        groups=env.features,
        n_replicates=_REPLICATES,
        noise_precision=25.0,
        prior_variance={"pairwise": 0.0},
    )
    prior = _prior(model)
    obs = env.take(steps)
    design = env.features.transform(obs.x)
    returned = []
    for t in range(steps):
        model.learn_one(design[:, t], obs.y[:, t])
        returned.append((t + 1, scheduler.update(model, t + 1)))
    return _Run(model, prior, returned, design, obs.y)


def check_scheduler_changes_are_exact(scheduler: Any) -> None:
    """After a scheduler's changes the posterior equals a fresh fit with the final prior: the
    scheduler changes the learner through ``set_prior_variance`` only.

    Examples
    --------
    >>> from regretlab.policies.escalation import EvidenceSwitch
    >>> check_scheduler_changes_are_exact(EvidenceSwitch(every=10, start=20))
    """
    run = _scheduler_run(scheduler.clone())
    model = run.model
    prior = {g: model.get_prior_variance(g) for g in model.columns}
    fresh = BayesianLinearRegression(
        groups=model.groups, n_replicates=_REPLICATES, noise_precision=25.0, prior_variance=prior
    ).learn_many(run.design, run.y)
    np.testing.assert_allclose(
        model.mean,
        fresh.mean,
        rtol=1e-8,
        atol=1e-10,
        err_msg=f"{scheduler!r}: posterior after changes != fresh fit",
    )
    for event in run.events:
        require(event.old != event.new, f"{scheduler!r}: an event that changes nothing")
        require(event.new >= 0.0, f"{scheduler!r}: a negative variance {event}")


def check_scheduler_reports_every_change(scheduler: Any) -> None:
    """``update`` returns a list of ``Event(replicate, step, group, old, new)`` for this step,
    and replaying the events on the starting prior gives the learner's final prior.

    Examples
    --------
    >>> from regretlab.policies.escalation import Fixed
    >>> check_scheduler_reports_every_change(Fixed({"pairwise": 1.0}))
    """
    run = _scheduler_run(scheduler.clone())
    current = {g: v.copy() for g, v in run.prior.items()}
    for step, events in run.steps:
        require(
            isinstance(events, list),
            f"{scheduler!r}: update must return a list of Event, got {type(events).__name__}",
        )
        for event in events:
            fields = getattr(event, "_fields", None)
            require(
                fields == ("replicate", "step", "group", "old", "new"),
                f"{scheduler!r}: update must return Event(replicate, step, group, old, new) "
                f"items, got {event!r}",
            )
            require(event.step == step, f"{scheduler!r}: an event of step {event.step} at {step}")
            require(
                event.group in current and 0 <= event.replicate < _REPLICATES,
                f"{scheduler!r}: an event for an unknown group or replicate: {event!r}",
            )
            values = current[event.group]
            require(
                bool(np.isclose(values[event.replicate], event.old, rtol=1e-12, atol=0.0)),
                f"{scheduler!r}: {event!r} says old={event.old}, the variance was "
                f"{values[event.replicate]}",
            )
            values[event.replicate] = event.new
    final = _prior(run.model)
    for group, values in final.items():
        require(
            np.allclose(values, current[group], rtol=1e-12, atol=0.0),
            f"{scheduler!r}: group {group!r}'s prior variance is {values}, the events say "
            f"{current[group]} (a change was not reported)",
        )


def check_scheduler_is_deterministic(scheduler: Any) -> None:
    """Two clones on the same stream make the same changes, and a clone of a used scheduler
    starts afresh.

    Examples
    --------
    >>> from regretlab.policies.escalation import EmpiricalBayes
    >>> check_scheduler_is_deterministic(EmpiricalBayes(every=15))
    """
    first = _scheduler_run(scheduler.clone()).events
    used = scheduler.clone()
    second = _scheduler_run(used).events
    require(first == second, f"{scheduler!r}: two clones made different changes")
    again = _scheduler_run(used.clone()).events
    require(first == again, f"{scheduler!r}: a clone of a used scheduler kept its memory")


def check_scheduler_uses_no_global_random(scheduler: Any) -> None:
    """``update`` and ``clone`` never draw from ``np.random`` or ``random``.

    Examples
    --------
    >>> from regretlab.policies.escalation import Fixed
    >>> check_scheduler_uses_no_global_random(Fixed({"pairwise": 1.0}))
    """
    without_global_random(scheduler, lambda: _scheduler_run(scheduler.clone()))


def check_scheduler_pickles(scheduler: Any) -> None:
    """The scheduler survives ``pickle`` (process pools, dask) and makes the same changes.

    Examples
    --------
    >>> from regretlab.policies.escalation import DataSchedule, Ramp
    >>> check_scheduler_pickles(DataSchedule("pairwise", Ramp(top=1.0, steps=60), every=20))
    """
    twin = pickled_copy(scheduler)
    first = _scheduler_run(scheduler.clone()).events
    require(
        _scheduler_run(twin.clone()).events == first,
        f"{scheduler!r}: its pickled copy makes other changes",
    )


def scheduler_checks() -> list[Callable[[Any], None]]:
    """Every check that applies to a scheduler.

    Examples
    --------
    >>> len(scheduler_checks())
    5
    """
    return [
        check_scheduler_changes_are_exact,
        check_scheduler_reports_every_change,
        check_scheduler_is_deterministic,
        check_scheduler_uses_no_global_random,
        check_scheduler_pickles,
    ]


def check_scheduler(scheduler: Any) -> None:
    """Run every scheduler check on ``scheduler``; the first failure raises ``AssertionError``.

    What a user runs on their own :class:`~regretlab.base.Scheduler` before giving it to an
    :class:`~regretlab.simulate.Agent`.

    Examples
    --------
    >>> from regretlab.policies.escalation import Fixed
    >>> check_scheduler(Fixed({"pairwise": 1.0}))
    """
    for check in scheduler_checks():
        check(copy.deepcopy(scheduler))  # each check gets its own copy: none spoils the next
