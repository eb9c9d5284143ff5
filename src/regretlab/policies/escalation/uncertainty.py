"""Loosen a group once the posterior is sure it matters: uncertainty about the group itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_function
from regretlab._validation import check_int, check_real
from regretlab.policies.escalation._window import Window
from regretlab.policies.escalation.base import Event, apply_prior, check_every
from regretlab.policies.escalation.evidence import LADDER, _grid

if TYPE_CHECKING:
    from scipy.special import logsumexp
else:
    logsumexp = lazy_function("scipy.special", "logsumexp")

__all__ = ["UncertaintyTrigger"]


class UncertaintyTrigger:
    """Switch ``group`` on once its posterior probability of mattering reaches ``level``.

    The uncertainty that decides whether to loosen a prior is the uncertainty about the loosened
    group, not the main effects' spread: with known noise that spread does not depend on the
    targets at all, so a trigger on it fires on a schedule (DESIGN.md). Here the main effects'
    uncertainty enters as the start: from ``n0`` observations on (default ``2p``, once the
    model is determined with as many observations again to spare), the first ``n0`` observations
    serve as a training sample (partial Bayes factors, O'Hagan 1995), which makes the
    comparison insensitive to the vague priors of the other groups. The prior on ``group``'s
    variance puts 1/2 on 0 and spreads 1/2 evenly over the ``ladder``'s positive values; every
    ``every`` steps the posterior probability that the variance is positive,

    ``P(v > 0 | y) = B / (1 + B)``, ``B`` the mean partial Bayes factor of the positive values,

    is compared with ``level``. When it is reached the group goes to the most probable positive
    value, and follows the most probable positive value from then on (it never returns to 0).
    Under the model without ``group`` the partial Bayes factor is a martingale when the
    training sample's posterior is the truth, so false escalation stays near ``1 - level``;
    unlike :class:`~regretlab.policies.escalation.EvidenceSwitch` this is not guaranteed for
    every true main effect (the escalation benchmark measures it).

    >>> from regretlab.learners import NormalInverseGammaRegression
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-1, 1, (60, 2)); y = x[:, 0] + 2 * x[:, 1] + 0.1 * rng.normal(size=60)
    >>> model = NormalInverseGammaRegression(groups=("main", "pairwise"),
    ...                                      prior_variance={"pairwise": 0.0}).learn_many(x, y)
    >>> trigger = UncertaintyTrigger(every=1)
    >>> trigger.update(model, step=60), float(trigger.probability(model))
    ([], 0.5)
    >>> model = model.learn_many(x[:30], y[:30])
    >>> [e.new for e in trigger.update(model, step=90)]
    [100.0]
    """

    def __init__(
        self,
        group: str = "pairwise",
        ladder: Sequence[float] = LADDER,
        *,
        level: float = 0.95,
        every: int = 10,
        start: int | None = None,
    ) -> None:
        self.group = group
        self.ladder = ladder
        self.level = level
        self.every = every
        self.start = start
        values = _grid("ladder", ladder)
        self._positive = np.unique(values[values > 0])
        if len(self._positive) == 0:
            raise ValueError(f"ladder must hold at least one variance > 0, got {ladder!r}")
        check_real("level", level, minimum=0.0, exclusive_minimum=True, maximum=1.0)
        if level == 1.0:
            raise ValueError("level must be < 1, got 1.0")
        check_every(every)
        if start is not None:
            check_int("start", start, minimum=1)
        self._window = Window(group, self._positive, start)

    def probability(self, model: Any, scores: np.ndarray | None = None) -> np.ndarray | None:
        """``P(v > 0 | y)`` per replicate, or ``None`` before the start."""
        if not self._window.ready(model):
            return None
        log_bf = self._window.log_bayes_factors(model, scores)
        mean = logsumexp(log_bf, axis=0) - np.log(len(self._positive))
        return np.asarray(1.0 / (1.0 + np.exp(-mean)))

    def update(self, model: Any, step: int) -> list[Event]:
        if step % self.every or not self._window.ready(model):
            return []
        scores = self._window.log_alternatives(model)
        prob = self.probability(model, scores)
        assert prob is not None
        current = np.asarray(model.get_prior_variance(self.group), dtype=float)
        fire = (current == 0.0) & (prob >= self.level)
        best = self._positive[np.argmax(scores, axis=0)]
        new = np.where(fire | (current > 0.0), best, current)
        return apply_prior(model, self.group, new, step)

    def clone(self) -> UncertaintyTrigger:
        return UncertaintyTrigger(
            self.group, self.ladder, level=self.level, every=self.every, start=self.start
        )

    def __repr__(self) -> str:
        return (
            f"UncertaintyTrigger({self.group!r}, ladder={tuple(self.ladder)}, "
            f"level={self.level}, every={self.every}, start={self.start})"
        )
