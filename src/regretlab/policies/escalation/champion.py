"""Champion/challenger over candidate priors: the Vowpal Wabbit automl / ChaCha idea."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from regretlab._validation import check_real
from regretlab.policies.escalation._candidates_base import _Candidates
from regretlab.policies.escalation.evidence import LADDER

__all__ = ["ChampionChallenger"]


class ChampionChallenger(_Candidates):
    """Candidates side by side; the champion predicts, a challenger replaces it on evidence of loss.

    After each step every candidate's squared prediction error is compared with the champion's.
    A challenger is promoted when the mean of its paired loss differences since the champion was
    crowned is above ``margin`` standard errors (a sequential z test, after ``min_steps``
    paired steps): the champion/challenger idea of Vowpal Wabbit's ``--automl`` and FLAML's
    ChaCha, on progressive validation loss. The first champion is candidate ``start`` (with
    ``other_grids``, candidates are combinations, ``grid`` varying slowest).

    >>> from regretlab.learners import BayesianLinearRegression
    >>> base = BayesianLinearRegression(groups=("main", "pairwise"), noise_precision=100.0)
    >>> cc = ChampionChallenger(learner=base, grid=(0.0, 1.0))
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(400):
    ...     x = rng.uniform(-1, 1, 2)
    ...     cc = cc.learn_one(x, x[0] + 2 * x[1] + 0.1 * rng.normal())
    >>> float(cc.grid[int(cc.champion)])
    1.0
    """

    def __init__(
        self,
        *,
        learner: Any,
        group: str = "pairwise",
        grid: Sequence[float] = LADDER,
        other_grids: Mapping[Any, Sequence[Any]] | None = None,
        margin: float = 2.0,
        min_steps: int = 30,
        start: int = 0,
    ) -> None:
        super().__init__(learner=learner, group=group, grid=grid, other_grids=other_grids)
        self.margin = margin
        self.min_steps = min_steps
        self.start = start
        check_real("margin", margin, minimum=0.0)
        if not 0 <= start < self._g:
            raise ValueError(f"start must index the candidates (0 .. {self._g - 1}), got {start}")
        self._champion = np.full(self._r, start)
        self._sum = np.zeros((self._g, self._r))
        self._sum_sq = np.zeros((self._g, self._r))
        self._count = np.zeros(self._r)

    @property
    def champion(self) -> np.ndarray:
        """Index into ``grid`` of each replicate's champion."""
        return self._drop(self._champion.copy())

    def learn_one(self, x: Any, y: Any) -> ChampionChallenger:
        x, y = self._check_xy(x, y)
        xs, ys = self._tile(x), self._tile(np.asarray(y))
        loss = (self._split(self._inner.predict_one(xs)) - self._split(ys)) ** 2
        self._inner.learn_one(xs, ys)
        self._step += 1
        reps = np.arange(self._r)
        gain = loss[self._champion, reps] - loss  # > 0 where a challenger did better
        self._sum += gain
        self._sum_sq += gain**2
        self._count += 1
        n = self._count
        mean = self._sum / n
        var = np.maximum(self._sum_sq / n - mean**2, 1e-300)
        z = mean / np.sqrt(var / n)
        z[self._champion, reps] = -np.inf
        best = np.argmax(z, axis=0)
        promote = (n >= self.min_steps) & (z[best, reps] > self.margin)
        if promote.any():
            new = np.where(promote, best, self._champion)
            self._record(self._champion, new)
            self._champion = new
            self._sum[:, promote] = self._sum_sq[:, promote] = 0.0
            self._count[promote] = 0.0
        return self

    def _pick(self, values: np.ndarray) -> np.ndarray:
        return self._split(values)[self._champion, np.arange(self._r)]

    def predict_one(self, x: Any, *, return_sd: bool = False, include_noise: bool = True) -> Any:
        x = self._check_x(x)
        if not return_sd:
            return self._drop(self._pick(self._inner.predict_one(self._tile(x))))
        loc, sd = self._inner.predict_one(
            self._tile(x), return_sd=True, include_noise=include_noise
        )
        return self._drop(self._pick(loc)), self._drop(self._pick(sd))

    @property
    def mean(self) -> np.ndarray:
        return self._drop(self._pick(self._inner.mean))

    @property
    def sd(self) -> np.ndarray:
        return self._drop(self._pick(self._inner.sd))

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        if size is not None:
            raise ValueError("ChampionChallenger.sample draws one vector per replicate; size=None")
        return self._drop(self._pick(self._inner.sample(rng)))

    def get_state(self) -> dict[str, np.ndarray]:
        return {
            **self._inner.get_state(),
            "champion": self._champion.copy(),
            "loss_sum": self._sum.copy(),
            "loss_sum_sq": self._sum_sq.copy(),
            "count": self._count.copy(),
            "step": np.asarray(self._step),
        }

    def set_state(self, state: Mapping[str, np.ndarray]) -> ChampionChallenger:
        own = ("champion", "loss_sum", "loss_sum_sq", "count", "step")
        self._inner.set_state({k: v for k, v in state.items() if k not in own})
        self._champion = np.asarray(state["champion"], dtype=int).copy()
        self._sum = np.asarray(state["loss_sum"], dtype=float).copy()
        self._sum_sq = np.asarray(state["loss_sum_sq"], dtype=float).copy()
        self._count = np.asarray(state["count"], dtype=float).copy()
        self._step = int(state["step"])
        return self

    def get_params(self) -> dict[str, Any]:
        return {
            **super().get_params(),
            "margin": self.margin,
            "min_steps": self.min_steps,
            "start": self.start,
        }

    def __repr__(self) -> str:
        return (
            f"ChampionChallenger(group={self.group!r}, grid={tuple(self.grid)}, "
            f"margin={self.margin})"
        )
