"""Loosen a group once the posterior is sure it matters: uncertainty about the group itself."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_function
from regretlab._validation import check_int, check_real
from regretlab.policies.escalation._invariant import InvariantTest, log_bayes_factors, mixture
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
    targets at all, so a trigger on it fires on a schedule (DESIGN.md). The prior puts 1/2 on
    ``group``'s variance being 0 and spreads 1/2 evenly over the ``ladder``'s positive values
    (relative to the noise variance); the other active groups' weights and the noise scale get
    the reference (right Haar) prior, flat and ``1 / sigma``, so the answer does not depend on
    how vague the learner's own priors are. Every ``every`` steps

    ``P(v > 0 | y) = B / (1 + B)``, ``B`` the mean Bayes factor of the positive values,

    is compared with ``level``; ``B`` is computed from the learner's sufficient statistics (see
    :mod:`regretlab.policies.escalation._invariant`). It is defined from ``k_0 + 1``
    observations on, ``k_0`` the null's columns: the smallest sample that makes both posteriors
    proper, so no training sample is spent (the old rule waited for ``2p``); ``start`` delays
    the first test further. With ``robust=True`` (the default) a replicate escalates only if
    the probability recomputed with each group column's score standardised by its observed
    (heteroscedasticity-consistent) variance reaches ``level`` too, and with ``held_out=True``
    only if the looser model's means have also predicted the blocks between checks, each before
    learning it, better than the null's (see ``EvidenceSwitch``). When the level is reached the
    group goes to the positive value with the highest evidence under the learner's own prior,
    and follows the most probable positive value from then on (it never returns to 0).

    Because the reference prior is the right Haar measure, ``B`` is a test martingale under
    every model without ``group`` with constant-variance Gaussian noise, and false escalation
    is at most ``(1 - level) / level`` (5.3% at 0.95) by Ville's inequality: with the default
    ``level`` this is :class:`~regretlab.policies.escalation.EvidenceSwitch` at threshold 19,
    read as a posterior probability. The promise covers Gaussian noise of constant variance;
    heteroscedastic and heavy-tailed noise are only measured (``benchmarks/triggers.py``).

    >>> from regretlab.learners import NormalInverseGammaRegression
    >>> rng = np.random.default_rng(0)
    >>> u = rng.uniform(-1, 1, (60, 2)); x = np.column_stack([u, u[:, 0] * u[:, 1]])
    >>> y = u[:, 0] + 2 * u[:, 1] + 0.1 * rng.normal(size=60)
    >>> model = NormalInverseGammaRegression(groups=("main", "main", "pairwise"),
    ...                                      prior_variance={"pairwise": 0.0}).learn_many(x, y)
    >>> trigger = UncertaintyTrigger(every=1)
    >>> trigger.update(model, step=60), round(float(trigger.probability(model)), 3)
    ([], 0.345)
    >>> y = y + x[:, 2]
    >>> model = model.clone().learn_many(x[:30], y[:30])
    >>> trigger = UncertaintyTrigger(every=1)
    >>> round(float(trigger.probability(model)), 3), trigger.update(model, step=30)[0].new
    (1.0, 10.0)
    """

    def __init__(
        self,
        group: str = "pairwise",
        ladder: Sequence[float] = LADDER,
        *,
        level: float = 0.95,
        every: int = 10,
        start: int | None = None,
        held_out: bool = False,
        robust: bool = True,
    ) -> None:
        self.group = group
        self.ladder = ladder
        self.level = level
        self.every = every
        self.start = start
        self.held_out = held_out
        self.robust = robust
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
        for name, flag in (("held_out", held_out), ("robust", robust)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        self._test = InvariantTest(group, self._positive)

    def probability(self, model: Any) -> np.ndarray:
        """``P(v > 0 | y)`` per replicate (1/2 while the null's fit is not yet defined)."""
        log_bf, _ = log_bayes_factors(model, self.group, self._positive)
        return np.asarray(1.0 / (1.0 + np.exp(-mixture(log_bf))))

    def update(self, model: Any, step: int) -> list[Event]:
        if step % self.every:
            return []
        current = np.asarray(model.get_prior_variance(self.group), dtype=float)
        off = current == 0.0
        fire = np.zeros_like(off)
        if off.any():  # once every replicate escalated there is nothing left to test
            log_bf, robust, ready = self._test.update(model)
            if self.start is None or float(np.max(model.stats.n)) >= self.start:
                log_odds = math.log(self.level / (1.0 - self.level))
                fire = off & ready & (mixture(log_bf) >= log_odds)
                if self.held_out:
                    fire &= self._test.held_out_gain > 0.0
                if self.robust:
                    fire &= mixture(robust) >= log_odds
        if not (fire | (current > 0.0)).any():
            return []
        scores = np.asarray(model.log_evidence({self.group: self._positive}))
        best = self._positive[np.argmax(scores, axis=0)]
        new = np.where(fire | (current > 0.0), best, current)
        return apply_prior(model, self.group, new, step)

    def clone(self) -> UncertaintyTrigger:
        return UncertaintyTrigger(
            self.group,
            self.ladder,
            level=self.level,
            every=self.every,
            start=self.start,
            held_out=self.held_out,
            robust=self.robust,
        )

    def __repr__(self) -> str:
        return (
            f"UncertaintyTrigger({self.group!r}, ladder={tuple(self.ladder)}, "
            f"level={self.level}, every={self.every}, start={self.start}, "
            f"held_out={self.held_out}, robust={self.robust})"
        )
