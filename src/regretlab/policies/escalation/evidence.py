"""Schedulers that read the data through the exact evidence (log marginal likelihood).

Both score candidate priors with ``model.log_evidence({group: grid})``, computed from the
learner's sufficient statistics: no candidate model is ever fitted or run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from regretlab._validation import check_int, check_real
from regretlab.policies.escalation._invariant import InvariantTest, log_bayes_factors, mixture
from regretlab.policies.escalation.base import Event, apply_prior, check_every

__all__ = ["EmpiricalBayes", "EvidenceSwitch"]

# Switched off, then one value per decade: the default candidates of an escalated group.
LADDER = (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)

# Golden-section steps after the grid: the bracket shrinks to 0.618^12 ~ 0.3% of its width.
_GOLDEN_STEPS = 12


def _grid(name: str, values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) == 0 or not np.all(np.isfinite(array)) or (array < 0).any():
        raise ValueError(
            f"{name} must be a non-empty sequence of finite variances >= 0, got {values!r}"
        )
    return array


class EvidenceSwitch:
    """Switch ``group`` on when an anytime-valid e-value says the data need it.

    While a replicate's ``group`` is off (variance 0), every ``every`` steps the e-value

    ``E_t``: the Bayes factor of ``group`` on against off under the right Haar prior (flat on
    every other active column's weight, ``1 / sigma`` on the noise scale, ``group``'s weights
    ``~ N(0, v sigma^2)`` mixed with equal weights over the ``ladder``'s positive values),

    is computed from the learner's sufficient statistics, independently of the learner's own
    priors (see :mod:`regretlab.policies.escalation._invariant`). It is defined from the
    smallest sample that makes both models' posteriors proper, ``k_0 + 1`` observations with
    ``k_0`` the null's columns (6 for 5 main effects and an intercept, where the old rule waited
    for ``2p``), or from ``start`` observations when given. Under **any** linear model without
    ``group`` with Gaussian noise of constant variance (every true weight, every noise level)
    and inputs that do not depend on future noise, ``E_t`` is a non-negative martingale with
    mean 1, so by Ville's inequality the chance that a replicate *ever* escalates falsely is at
    most ``1 / threshold`` (5% by default), however often it is checked.

    With ``robust=True`` (the default) a replicate escalates only if, in addition, the Bayes
    factor recomputed with each group column's score standardised by its observed
    (heteroscedasticity-consistent) variance reaches ``threshold`` too: noise whose variance
    grows with the inputs makes the constant-variance Bayes factor favour the group without the
    group being there. With ``held_out=True`` the looser model's means must also have predicted
    the blocks between checks, each before learning it, with a lower cumulative squared error
    than the null's. Extra conditions can only lower false alarms, so the guarantee stands. It
    covers Gaussian noise of constant variance; heteroscedastic and heavy-tailed noise are not
    promised, only measured (``benchmarks/triggers.py``).

    When it fires the group goes to the positive ladder value with the highest evidence under
    the learner's own prior (``jump=True``) or to the smallest positive value (``jump=False``);
    from then on it follows the best positive value by evidence (``jump=True``) or climbs one
    rung when the next rung's Bayes factor reaches ``threshold`` (``jump=False``). It never
    returns to 0.

    >>> from regretlab.learners import NormalInverseGammaRegression
    >>> rng = np.random.default_rng(0)
    >>> u = rng.uniform(-1, 1, (40, 2)); x = np.column_stack([u, u[:, 0] * u[:, 1]])
    >>> y = u[:, 0] + 2 * u[:, 1] + 0.1 * rng.normal(size=40)
    >>> model = NormalInverseGammaRegression(groups=("main", "main", "pairwise"),
    ...                                      prior_variance={"pairwise": 0.0})
    >>> switch = EvidenceSwitch(every=10)
    >>> [switch.update(model.learn_many(x[i:i + 10], y[i:i + 10]), step=i + 10)
    ...  for i in range(0, 40, 10)]  # no interaction in y: no escalation
    [[], [], [], []]
    >>> y = y + x[:, 2]
    >>> switch, model = EvidenceSwitch(every=10), model.clone()
    >>> [(e.step, e.old, e.new) for i in range(0, 40, 10)
    ...  for e in switch.update(model.learn_many(x[i:i + 10], y[i:i + 10]), step=i + 10)]
    [(10, 0.0, 1.0), (20, 1.0, 10.0)]
    """

    def __init__(
        self,
        group: str = "pairwise",
        ladder: Sequence[float] = LADDER,
        *,
        threshold: float = 20.0,
        jump: bool = True,
        every: int = 10,
        start: int | None = None,
        held_out: bool = False,
        robust: bool = True,
    ) -> None:
        self.group = group
        self.ladder = ladder
        self.threshold = threshold
        self.jump = jump
        self.every = every
        self.start = start
        self.held_out = held_out
        self.robust = robust
        self._ladder = _grid("ladder", ladder)
        self._positive = np.unique(self._ladder[self._ladder > 0])
        if len(self._positive) == 0:
            raise ValueError(f"ladder must hold at least one variance > 0, got {ladder!r}")
        check_real("threshold", threshold, minimum=1.0)
        check_every(every)
        if start is not None:
            check_int("start", start, minimum=1)
        for name, flag in (("held_out", held_out), ("robust", robust)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        self._test = InvariantTest(group, self._positive)

    def log_e_value(self, model: Any) -> np.ndarray:
        """``log E_t`` per replicate (0 while the null's fit is not yet defined)."""
        log_bf, _ = log_bayes_factors(model, self.group, self._positive)
        return mixture(log_bf)

    def update(self, model: Any, step: int) -> list[Event]:
        if step % self.every:
            return []
        current = np.asarray(model.get_prior_variance(self.group), dtype=float)
        off = current == 0.0
        fire = np.zeros_like(off)
        if off.any():  # once every replicate escalated there is nothing left to test
            log_bf, robust, ready = self._test.update(model)
            if self.start is None or float(np.max(model.stats.n)) >= self.start:
                fire = off & ready & (mixture(log_bf) >= math.log(self.threshold))
                if self.held_out:
                    fire &= self._test.held_out_gain > 0.0
                if self.robust:
                    fire &= mixture(robust) >= math.log(self.threshold)
        if not (fire | ~off).any():
            return []
        scores = np.asarray(model.log_evidence({self.group: self._positive}))
        if self.jump:
            best = self._positive[np.argmax(scores, axis=0)]
            new = np.where(fire | ~off, best, current)
        else:
            rung = np.searchsorted(self._positive, current, side="right")
            up = np.minimum(rung, len(self._positive) - 1)
            now = np.maximum(rung - 1, 0)
            take = np.take_along_axis
            log_bf = take(scores, up[None], 0)[0] - take(scores, now[None], 0)[0]
            climb = ~off & (log_bf >= math.log(self.threshold))
            new = np.where(fire, self._positive[0], np.where(climb, self._positive[up], current))
        return apply_prior(model, self.group, new, step)

    def clone(self) -> EvidenceSwitch:
        return EvidenceSwitch(
            self.group,
            self.ladder,
            threshold=self.threshold,
            jump=self.jump,
            every=self.every,
            start=self.start,
            held_out=self.held_out,
            robust=self.robust,
        )

    def __repr__(self) -> str:
        return (
            f"EvidenceSwitch({self.group!r}, ladder={tuple(self.ladder)}, "
            f"threshold={self.threshold}, jump={self.jump}, every={self.every}, "
            f"start={self.start}, held_out={self.held_out}, robust={self.robust})"
        )


class EmpiricalBayes:
    """Learn each group's prior variance online by maximising the exact evidence.

    Every ``every`` steps, for each group in turn (one sweep of coordinate ascent), the
    evidence is evaluated on ``grid`` (log-spaced, plus 0 when ``include_zero``) for all
    replicates at once, and the maximum is refined by a golden-section search in ``log v``
    between the best point's neighbours (one batched evidence evaluation per step). This is
    the type-II maximum likelihood (random-effects variance) of each group, per replicate.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=(500, 3)); y = x @ np.array([3.0, -3.0, 0.0]) + rng.normal(size=500)
    >>> model = BayesianLinearRegression(groups=("main", "main", "noise")).learn_many(x, y)
    >>> events = EmpiricalBayes(groups=("main", "noise"), every=1).update(model, step=500)
    >>> float(model.get_prior_variance("main")) > 1.0, float(model.get_prior_variance("noise"))
    (True, 0.0)
    """

    def __init__(
        self,
        groups: Sequence[str] = ("pairwise",),
        *,
        grid: Sequence[float] | None = None,
        include_zero: bool = True,
        every: int = 10,
    ) -> None:
        self.groups = groups
        self.grid = grid
        self.include_zero = include_zero
        self.every = every
        if isinstance(groups, str) or not groups:
            raise TypeError(f"groups must be a non-empty sequence of group names, got {groups!r}")
        values = np.logspace(-4, 4, 17) if grid is None else _grid("grid", grid)
        if (values <= 0).any():
            raise ValueError("grid must hold variances > 0; use include_zero for 0")
        self._log_grid = np.log(np.sort(values))
        check_every(every)

    def _maximise(self, model: Any, group: str) -> np.ndarray:
        grid = np.exp(self._log_grid)
        scores = model.log_evidence({group: grid})
        best = np.argmax(scores, axis=0)
        best_score = np.take_along_axis(scores, best[None], 0)[0]
        # Golden-section search in log v between the best grid point's neighbours: the evidence
        # is unimodal there but lopsided in log v, so a parabola through three grid points
        # would be biased (measured ~20% on half-decade grids).
        lo = self._log_grid[np.maximum(best - 1, 0)]
        hi = self._log_grid[np.minimum(best + 1, len(grid) - 1)]

        def score(log_v: np.ndarray) -> np.ndarray:
            return model.log_evidence({group: np.exp(log_v)[None, ...]})[0]

        ratio = (np.sqrt(5.0) - 1.0) / 2.0
        left, right = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        f_left, f_right = score(left), score(right)
        for _ in range(_GOLDEN_STEPS):
            go_right = f_right > f_left
            lo = np.where(go_right, left, lo)
            hi = np.where(go_right, hi, right)
            left, right = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
            f_left, f_right = score(left), score(right)
        log_v = 0.5 * (lo + hi)
        refined = score(log_v)
        value = np.where(refined >= best_score, np.exp(log_v), grid[best])
        if self.include_zero:
            off = model.log_evidence({group: np.zeros(1)})[0]
            value = np.where(off > np.maximum(best_score, refined), 0.0, value)
        return value

    def update(self, model: Any, step: int) -> list[Event]:
        if step % self.every:
            return []
        events: list[Event] = []
        for group in self.groups:
            events += apply_prior(model, group, self._maximise(model, group), step)
        return events

    def clone(self) -> EmpiricalBayes:
        return EmpiricalBayes(
            self.groups, grid=self.grid, include_zero=self.include_zero, every=self.every
        )

    def __repr__(self) -> str:
        return (
            f"EmpiricalBayes({tuple(self.groups)!r}, include_zero={self.include_zero}, "
            f"every={self.every})"
        )
