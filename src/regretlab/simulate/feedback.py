"""Delayed and batched feedback: when the time loops let a learner see what it observed.

A :class:`Feedback` option of :func:`~regretlab.simulate.run_bandit` and
:func:`~regretlab.simulate.run_prequential` changes one thing: the step at which an observation
is learned. The observation of step ``t`` with delay ``D`` is *revealed* at step ``t + D``; with
batches of ``B`` steps it is learned at the first batch boundary (a multiple of ``B``) at or after
that. It is learned at the end of that step, after the step's decision, so the decision of step
``t + D + 1`` is the first that can use it. ``Feedback()`` (delay 0, batch 1) learns every
observation at the end of its own step, in the order the runners always did: the same results,
bit for bit.

Delays are fixed (an integer) or drawn per replicate and step (``"geometric"`` on ``0, 1, ..``
or ``"poisson"``, with mean ``mean_delay``) from a generator of their own per replicate
(:func:`~regretlab._random.replicate_seeds` of ``seed``), in fixed blocks: every agent of a
replicate sees the same delays (common random numbers), and no draw of the environment or the
policies moves. Within a batch the learner does not change, so every decision uses one posterior
(Thompson sampling still draws per decision).

Several observations revealed at one step are learned in the order they were made. Replicates
of a lockstep learner may have different numbers of them; a round in which only some replicates
learn is applied to all and the others' state put back (``get_state`` / ``set_state``, exact for
learners whose state arrays lead with the replicate axis). Observations not revealed by the
horizon are never learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from regretlab._random import SeedLike, as_seed_sequence, replicate_seeds
from regretlab._validation import check_choice, check_int, check_real
from regretlab.learners._replicates import restore_unpicked

__all__ = ["DELAY_KINDS", "Feedback", "FeedbackChannel"]

DELAY_KINDS = ("geometric", "poisson")
# Delays are drawn per replicate in blocks of this many steps, so a run's delays do not depend
# on its horizon or on how the environment is blocked.
_DRAW_BLOCK = 1024


@dataclass(frozen=True)
class Feedback:
    """When observations reach the learner: after a delay, in batches.

    Parameters
    ----------
    delay
        A fixed number of steps (``0`` = immediately), or ``"geometric"`` (failures before the
        first success, ``P(D = d) = q (1 - q)^d``, ``q = 1 / (1 + mean_delay)``) or
        ``"poisson"``, drawn per replicate and step.
    mean_delay
        The mean of a random delay, ``>= 0``; only with a random ``delay``.
    batch_size
        The learner is updated at steps ``B, 2B, ..`` with everything revealed since; ``1`` =
        every step.
    seed
        Seed of the random delays (one child per replicate).

    Examples
    --------
    >>> Feedback(delay=3).mean
    3.0
    >>> Feedback(delay="geometric", mean_delay=2.5, seed=0).mean
    2.5
    >>> Feedback(batch_size=0)
    Traceback (most recent call last):
    ValueError: batch_size must be >= 1, got 0
    >>> Feedback(delay=-1)
    Traceback (most recent call last):
    ValueError: delay must be >= 0, got -1
    """

    delay: int | str = 0
    mean_delay: float | None = None
    batch_size: int = 1
    seed: SeedLike = None

    def __post_init__(self) -> None:
        check_int("batch_size", self.batch_size, minimum=1)
        as_seed_sequence(self.seed, "seed")
        if isinstance(self.delay, str):
            check_choice("delay", self.delay, DELAY_KINDS)
            if self.mean_delay is None:
                raise ValueError(f"mean_delay is needed with delay={self.delay!r}, got None")
            check_real("mean_delay", self.mean_delay, minimum=0.0)
            return
        if isinstance(self.delay, bool) or not isinstance(self.delay, int | np.integer):
            raise TypeError(
                f"delay must be a non-negative integer or one of {list(DELAY_KINDS)}, "
                f"got {self.delay!r}"
            )
        check_int("delay", self.delay, minimum=0)
        if self.mean_delay is not None:
            raise ValueError(
                f"mean_delay is only for a random delay ({list(DELAY_KINDS)}); with "
                f"delay={self.delay} leave it out, got {self.mean_delay!r}"
            )

    @property
    def mean(self) -> float:
        """The expected delay in steps."""
        if isinstance(self.delay, str):
            return float(self.mean_delay or 0.0)
        return float(self.delay)

    def to_dict(self) -> dict[str, Any]:
        """The settings, as an experiment file writes them (the seed comes from the sweep)."""
        out: dict[str, Any] = {"delay": self.delay, "batch_size": self.batch_size}
        if self.mean_delay is not None:
            out["mean_delay"] = self.mean_delay
        return out


class _Delays:
    """Per-replicate delays, drawn in fixed blocks: ``at(t)`` is step ``t``'s ``(R,)``."""

    def __init__(self, feedback: Feedback, n_replicates: int | None) -> None:
        self._feedback = feedback
        width = 1 if n_replicates is None else n_replicates
        self._fixed = None if isinstance(feedback.delay, str) else feedback.delay
        self._width = width
        self._rngs = (
            []
            if self._fixed is not None
            else [np.random.default_rng(s) for s in replicate_seeds(feedback.seed, n_replicates)]
        )
        self._block = np.empty((0, width), dtype=np.int64)
        self._start = 1

    def at(self, step: int) -> np.ndarray:
        if self._fixed is not None:
            return np.full(self._width, self._fixed, dtype=np.int64)
        while step >= self._start + len(self._block):
            self._start += len(self._block)
            self._block = np.stack([self._draw(rng) for rng in self._rngs], axis=1)
        return self._block[step - self._start]

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        mean = float(self._feedback.mean_delay)  # type: ignore[arg-type]
        if self._feedback.delay == "poisson":
            return rng.poisson(mean, _DRAW_BLOCK).astype(np.int64)
        return rng.geometric(1.0 / (1.0 + mean), _DRAW_BLOCK).astype(np.int64) - 1


def _teach(learner: Any, x: np.ndarray, y: np.ndarray, actions: np.ndarray | None) -> None:
    if actions is None or getattr(learner, "n_actions", None) is None:
        learner.learn_one(x, y)
    else:
        learner.learn_one(x, y, action=actions)


def _teach_some(
    learner: Any, x: np.ndarray, y: np.ndarray, actions: np.ndarray | None, mask: np.ndarray
) -> None:
    """Teach the replicates in ``mask`` only: the others' state is put back afterwards."""
    get, put = getattr(learner, "get_state", None), getattr(learner, "set_state", None)
    if get is None or put is None:
        raise TypeError(
            f"random per-replicate delays need a learner with get_state() and set_state(); "
            f"{type(learner).__name__} has not"
        )
    before = get()
    _teach(learner, x, y, actions)
    put(restore_unpicked("random per-replicate delays", mask, get(), before))


class _Pending:
    """One step's observations on their way to one agent's learner."""

    __slots__ = ("actions", "due", "x", "y")

    def __init__(self, due: np.ndarray, x: Any, y: Any, actions: Any) -> None:
        self.due, self.x, self.y, self.actions = due, x, y, actions


class FeedbackChannel:
    """The runners' side of :class:`Feedback`: queues per agent, delivered at their steps.

    ``begin(t)`` draws step ``t``'s delays (once for all agents); ``send(a, t, x, y, actions)``
    queues agent ``a``'s observation; ``deliver(a, t, learner)`` teaches what is due at ``t``
    and returns whether ``t`` is a batch boundary (when the runner calls the scheduler).
    """

    def __init__(self, feedback: Feedback, n_agents: int, n_replicates: int | None) -> None:
        if not isinstance(feedback, Feedback):
            raise TypeError(f"feedback must be a Feedback, got {type(feedback).__name__}")
        self.feedback = feedback
        self._single = n_replicates is None
        self._delays = _Delays(feedback, n_replicates)
        self._due = np.zeros(0, dtype=np.int64)
        self._queues: list[dict[int, list[_Pending]]] = [{} for _ in range(n_agents)]

    def begin(self, step: int) -> None:
        """Draw the delays of ``step``: when its observations are learned."""
        b = self.feedback.batch_size
        revealed = step + self._delays.at(step)
        self._due = -(-revealed // b) * b

    def send(self, agent: int, step: int, x: Any, y: Any, actions: Any) -> None:
        """Queue agent ``agent``'s observation of ``step`` (design row, reward, action)."""
        due = self._due
        entry = _Pending(due, np.array(x, copy=True), np.array(y, copy=True), actions)
        queue = self._queues[agent]
        for when in np.unique(due).tolist():
            queue.setdefault(when, []).append(entry)

    def deliver(self, agent: int, step: int, learner: Any) -> bool:
        """Teach ``learner`` everything due at ``step``; ``True`` at a batch boundary."""
        entries = self._queues[agent].pop(step, [])
        if entries:
            self._teach(learner, entries, step)
        return step % self.feedback.batch_size == 0

    def _teach(self, learner: Any, entries: list[_Pending], step: int) -> None:
        if self._single:
            for e in entries:
                _teach(learner, e.x, e.y, e.actions)
            return
        hits = np.stack([e.due == step for e in entries])  # (entries, R), in step order
        if hits.all():
            for e in entries:
                _teach(learner, e.x, e.y, e.actions)
            return
        rank = np.cumsum(hits, axis=0) - 1
        replicates = np.arange(hits.shape[1])
        for j in range(int(hits.sum(axis=0).max())):
            chosen = hits & (rank == j)
            mask = chosen.any(axis=0)
            which = chosen.argmax(axis=0)
            x = np.stack([e.x for e in entries])[which, replicates]
            y = np.stack([e.y for e in entries])[which, replicates]
            x[~mask], y[~mask] = 0.0, 0.0
            actions = None
            if entries[0].actions is not None:
                actions = np.stack([e.actions for e in entries])[which, replicates]
                actions[~mask] = 0
            if mask.all():
                _teach(learner, x, y, actions)
            else:
                _teach_some(learner, x, y, actions, mask)
