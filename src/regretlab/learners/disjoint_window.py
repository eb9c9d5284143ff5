"""Forgetting per-action models: the disjoint model of LinUCB on a sliding window or discounted.

The per-action counterparts of :class:`~regretlab.learners.SlidingWindowBayesianLinearRegression`
and ``BayesianLinearRegression(forgetting=...)`` (SW-LinUCB and D-LinUCB with disjoint arms;
sliding-window and discounted Thompson sampling). Both are a
:class:`~regretlab.learners.DisjointBayesianLinearRegression` whose sufficient statistics are
changed through its public state (``get_state`` / ``set_state``, an exact re-solve of every
posterior) before each step is learned, so they inherit its posterior, predictions, draws and
prior changes unchanged. See :mod:`regretlab.learners.drift_rules` for a window or discount set
from the horizon and the expected number of changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from regretlab._validation import check_int, check_real
from regretlab.learners._window_state import check_window_state
from regretlab.learners.disjoint import DisjointBayesianLinearRegression
from regretlab.learners.rank import DEFAULT_RANK_TOL

__all__ = [
    "DiscountedDisjointBayesianLinearRegression",
    "SlidingWindowDisjointBayesianLinearRegression",
]

_DATA_KEYS = ("xtx", "xty", "yty", "n")


def _well_formed(model: DisjointBayesianLinearRegression, x: Any, y: Any, action: Any) -> bool:
    """Whether ``learn_one`` would accept the step; if not, the plain model raises the error
    before a forgetting learner changes its statistics (bad input leaves it as it was)."""
    batch = () if model.n_replicates is None else (model.n_replicates,)
    try:
        x, y, act = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(action)
    except (TypeError, ValueError):
        return False
    return bool(
        x.shape == (*batch, model.n_features)
        and y.shape == batch
        and act.shape == batch
        and act.dtype.kind in "iu"
        and np.isfinite(x).all()
        and np.isfinite(y).all()
        and act.min(initial=0) >= 0
        and act.max(initial=0) < model.n_actions
    )


class DiscountedDisjointBayesianLinearRegression(DisjointBayesianLinearRegression):
    """``K`` per-action Gaussian models whose data are weighted ``gamma^age`` (every action's).

    At every step the statistics ``X'X``, ``X'y``, ``y'y`` and the counts of *every* action's
    model are multiplied by ``forgetting`` before the chosen action's row is added (the
    discounting of D-UCB, Garivier & Moulines 2011: an action not chosen loses evidence too),
    so after ``t`` steps action ``a``'s posterior is the conjugate one of the rows it was
    chosen on, row ``s`` weighted ``gamma^(t - s)``, under the undiscounted prior: the closed
    form of ``BayesianLinearRegression(forgetting=gamma)`` per action. ``n_seen`` is the
    discounted count ``sum_s gamma^(t - s) 1{a_s = a}``.

    Parameters
    ----------
    groups, n_actions, prior_variance, noise_precision, n_replicates, refresh_every, rank_tol
        As for :class:`~regretlab.learners.DisjointBayesianLinearRegression`.
    forgetting
        The discount ``gamma`` in (0, 1] (1: no forgetting, the plain disjoint model).

    Examples
    --------
    >>> model = DiscountedDisjointBayesianLinearRegression(
    ...     groups=("intercept",), n_actions=2, forgetting=0.5, prior_variance=1e12)
    >>> for a, y in [(0, 4.0), (0, 1.0), (1, 3.0)]:
    ...     model = model.learn_one(np.ones(1), y, action=a)
    >>> model.n_seen, model.mean.round(4)  # (0.25 * 4 + 0.5 * 1) / 0.75 = 2
    (array([0.75, 1.  ]), array([[2.],
           [3.]]))
    """

    def __init__(
        self,
        *,
        groups: Any,
        n_actions: int,
        forgetting: float,
        prior_variance: float | Mapping[str, Any] = 1.0,
        noise_precision: float = 1.0,
        n_replicates: int | None = None,
        refresh_every: int = 1024,
        rank_tol: float = DEFAULT_RANK_TOL,
    ) -> None:
        self.forgetting = forgetting
        self._gamma = check_real(
            "forgetting", forgetting, minimum=0.0, exclusive_minimum=True, maximum=1.0
        )
        super().__init__(
            groups=groups,
            n_actions=n_actions,
            prior_variance=prior_variance,
            noise_precision=noise_precision,
            n_replicates=n_replicates,
            refresh_every=refresh_every,
            rank_tol=rank_tol,
        )

    def learn_one(
        self, x: Any, y: Any, *, action: Any
    ) -> DiscountedDisjointBayesianLinearRegression:
        """Discount every action's statistics, then learn the chosen action's row."""
        if self._gamma < 1.0 and _well_formed(self, x, y, action):
            state = self.get_state()
            self.set_state({k: v * self._gamma if k in _DATA_KEYS else v for k, v in state.items()})
        super().learn_one(x, y, action=action)
        return self

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {**super().get_params(), "forgetting": self.forgetting}

    def __repr__(self) -> str:
        return (
            f"DiscountedDisjointBayesianLinearRegression(n_actions={self.n_actions}, "
            f"n_features={self.n_features}, forgetting={self.forgetting!r}, "
            f"n_replicates={self.n_replicates!r})"
        )


class SlidingWindowDisjointBayesianLinearRegression(DisjointBayesianLinearRegression):
    """``K`` per-action Gaussian models conditioned on the last ``window`` steps only.

    Every replicate keeps its last ``window`` rows ``(x, y, action)`` in a ring (the window is
    over steps, as in SW-UCB, Garivier & Moulines 2011: an action chosen long ago has no data
    left). A new row is learned by the chosen action's model and the row it pushes out of the
    window is subtracted from its action's statistics (an exact re-solve of the posteriors), so
    every posterior equals a batch fit of its action's rows in the window; the statistics are
    re-summed from the ring every ``window`` steps so rounding cannot build up. ``n_seen`` is
    every action's number of rows in the window.

    Parameters
    ----------
    groups, n_actions, prior_variance, noise_precision, n_replicates, refresh_every, rank_tol
        As for :class:`~regretlab.learners.DisjointBayesianLinearRegression`.
    window
        Number of most recent steps the posteriors are conditioned on, ``>= 1``.

    Examples
    --------
    >>> model = SlidingWindowDisjointBayesianLinearRegression(
    ...     groups=("intercept",), n_actions=2, window=2, prior_variance=1e12)
    >>> for a, y in [(0, 5.0), (0, 1.0), (1, 3.0)]:
    ...     model = model.learn_one(np.ones(1), y, action=a)
    >>> model.n_seen, model.mean.round(4)  # the first row has left the window
    (array([1., 1.]), array([[1.],
           [3.]]))
    """

    def __init__(
        self,
        *,
        groups: Any,
        n_actions: int,
        window: int,
        prior_variance: float | Mapping[str, Any] = 1.0,
        noise_precision: float = 1.0,
        n_replicates: int | None = None,
        refresh_every: int = 1024,
        rank_tol: float = DEFAULT_RANK_TOL,
    ) -> None:
        self.window = check_int("window", window, minimum=1)
        super().__init__(
            groups=groups,
            n_actions=n_actions,
            prior_variance=prior_variance,
            noise_precision=noise_precision,
            n_replicates=n_replicates,
            refresh_every=refresh_every,
            rank_tol=rank_tol,
        )
        width = 1 if n_replicates is None else n_replicates
        p = self.n_features
        # Slot (count % window) holds the row learned at that count; count is per model run.
        self._ring_x = np.zeros((width, window, p))
        self._ring_y = np.zeros((width, window))
        self._ring_a = np.zeros((width, window), dtype=np.intp)
        self._count = 0

    def learn_one(
        self, x: Any, y: Any, *, action: Any
    ) -> SlidingWindowDisjointBayesianLinearRegression:
        """Learn the chosen action's row; the row ``window`` steps old leaves its model."""
        if not _well_formed(self, x, y, action):
            super().learn_one(x, y, action=action)  # raises, naming the argument
        slot = self._count % self.window
        # The row in ``slot`` leaves; at a re-sum (every ``window`` rows) it is dropped there.
        if self._count >= self.window and (self._count + 1) % self.window:
            self._remove(slot)
        super().learn_one(x, y, action=action)
        width, _, p = self._ring_x.shape
        self._ring_x[:, slot] = np.reshape(x, (width, p))
        self._ring_y[:, slot] = np.reshape(y, width)
        self._ring_a[:, slot] = np.reshape(action, width)
        self._count += 1
        if self._count >= self.window and self._count % self.window == 0:
            self._resum()
        return self

    def _lifted(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The state, and views of its statistics with the axes ``(R, K, ...)``."""
        state = super().get_state()
        lead = np.ndim(state["n"])
        width = self._ring_x.shape[0]
        data = {
            k: state[k].reshape(width, self.n_actions, *np.shape(state[k])[lead:])
            for k in _DATA_KEYS
        }
        return state, data

    def _remove(self, slot: int) -> None:
        """Subtract each replicate's row in ``slot`` from its action's statistics."""
        state, data = self._lifted()
        reps, act = np.arange(self._ring_x.shape[0]), self._ring_a[:, slot]
        x, y = self._ring_x[:, slot], self._ring_y[:, slot]
        data["xtx"][reps, act] -= x[:, :, None] * x[:, None, :]
        data["xty"][reps, act] -= x * y[:, None]
        data["yty"][reps, act] -= y * y
        data["n"][reps, act] -= 1.0
        super().set_state({**state, **{k: v.reshape(state[k].shape) for k, v in data.items()}})

    def _resum(self) -> None:
        """The statistics summed afresh from the ring's ``window`` rows (the whole window)."""
        state, data = self._lifted()
        onehot = np.zeros((*self._ring_a.shape, self.n_actions))
        np.put_along_axis(onehot, self._ring_a[..., None], 1.0, axis=-1)
        x, y = self._ring_x, self._ring_y
        data["xtx"][...] = np.einsum("rwk,rwi,rwj->rkij", onehot, x, x)
        data["xty"][...] = np.einsum("rwk,rwi,rw->rki", onehot, x, y)
        data["yty"][...] = np.einsum("rwk,rw->rk", onehot, y * y)
        data["n"][...] = onehot.sum(axis=1)
        super().set_state({**state, **{k: v.reshape(state[k].shape) for k, v in data.items()}})

    def get_state(self) -> dict[str, np.ndarray]:
        """The statistics, the prior and the window's rows (replicate axis first)."""
        state = super().get_state()
        single = self.n_replicates is None
        ring = {
            "window_x": self._ring_x.copy(),
            "window_y": self._ring_y.copy(),
            "window_action": self._ring_a.astype(float),
        }
        return {
            **state,
            **{k: v[0] if single else v for k, v in ring.items()},
            "window_count": np.asarray(float(self._count)),
        }

    def set_state(
        self, state: Mapping[str, np.ndarray]
    ) -> SlidingWindowDisjointBayesianLinearRegression:
        """Restore what :meth:`get_state` returned (the ring's keys may be left out by callers
        that change the statistics only)."""
        keys = ("window_x", "window_y", "window_action", "window_count")
        if not any(k in state for k in keys):
            super().set_state(state)
            return self
        arrays, count, actions = check_window_state(state, self.get_state(), self.n_actions)
        super().set_state({k: arrays[k] for k in (*_DATA_KEYS, "prior_variance")})
        self._ring_x[...] = arrays["window_x"].reshape(self._ring_x.shape)
        self._ring_y[...] = arrays["window_y"].reshape(self._ring_y.shape)
        self._ring_a[...] = actions.reshape(self._ring_a.shape).astype(np.intp)
        self._count = count
        return self

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {**super().get_params(), "window": self.window}

    def __repr__(self) -> str:
        return (
            f"SlidingWindowDisjointBayesianLinearRegression(n_actions={self.n_actions}, "
            f"n_features={self.n_features}, window={self.window}, "
            f"n_replicates={self.n_replicates!r})"
        )
