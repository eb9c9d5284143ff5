"""Forgetting per-arm learners: sliding-window and discounted arm statistics.

SW-UCB and D-UCB (Garivier & Moulines 2011; SMPyBandits' ``SWUCB`` and ``DiscountedUCB``) are
:class:`~regretlab.policies.UCB1` (or KL-UCB) on :class:`SlidingWindowArmMeans` or
:class:`DiscountedArmMeans`; sliding-window and discounted Beta Thompson sampling (Raj & Kalyani
2017) are :class:`~regretlab.policies.ConjugateThompsonSampling` on
:class:`SlidingWindowBetaBernoulli` or :class:`DiscountedBetaBernoulli`. Each is the plain
learner of :mod:`regretlab.learners.arms` whose statistics (pulls, reward sums,
importance-weighted sums) are changed through its public state (``get_state`` / ``set_state``)
at every step:

- **sliding window**: the statistics of the last ``window`` steps only (the window is over
  steps: an arm pulled long ago has no data left, and ``n_total`` is ``min(t, window)``, the
  ``log(min(t, tau))`` of SW-UCB);
- **discounted**: every arm's statistics are multiplied by ``forgetting`` before the step's
  reward is added, ``N_t(a) = sum_s gamma^(t - s) 1{a_s = a}`` and ``n_total`` their sum (the
  ``n_t(gamma)`` of D-UCB); a conjugate posterior keeps its undiscounted prior,
  ``Beta(alpha + S_t(a), beta + N_t(a) - S_t(a))``.

See :mod:`regretlab.learners.drift_rules` for a window or discount set from the horizon and the
expected number of changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from regretlab._validation import check_int, check_real
from regretlab.learners._window_state import check_window_state
from regretlab.learners.arm_posteriors import BetaBernoulli
from regretlab.learners.arms import ArmMeans

__all__ = [
    "DiscountedArmMeans",
    "DiscountedBetaBernoulli",
    "SlidingWindowArmMeans",
    "SlidingWindowBetaBernoulli",
]

_DATA_KEYS = ("n", "sums", "weighted")


class _Discounted:
    """Multiplies the statistics by ``forgetting`` before every step is learned."""

    forgetting: float
    _gamma: float

    def _set_forgetting(self, forgetting: float) -> None:
        self.forgetting = forgetting
        self._gamma = check_real(
            "forgetting", forgetting, minimum=0.0, exclusive_minimum=True, maximum=1.0
        )

    def learn_one(self, x: Any, y: Any, *, action: Any, probability: Any = None) -> Any:
        """Discount every arm's statistics, then learn the chosen arm's reward."""
        if self._gamma == 1.0:
            return super().learn_one(x, y, action=action, probability=probability)  # type: ignore[misc]
        before = self.get_state()  # type: ignore[attr-defined]
        self.set_state({k: v * self._gamma for k, v in before.items()})  # type: ignore[attr-defined]
        try:
            return super().learn_one(x, y, action=action, probability=probability)  # type: ignore[misc]
        except (ValueError, TypeError):
            self.set_state(before)  # type: ignore[attr-defined]  # bad input changes nothing
            raise

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "forgetting": self.forgetting}  # type: ignore[misc]


class _Windowed:
    """Keeps the last ``window`` steps in a ring and subtracts the step that leaves."""

    window: int
    n_actions: int
    n_replicates: int | None

    def _set_window(self, window: int) -> None:
        self.window = check_int("window", window, minimum=1)
        width = 1 if self.n_replicates is None else self.n_replicates
        self._ring_a = np.zeros((width, window), dtype=np.intp)
        self._ring_y = np.zeros((width, window))
        self._ring_w = np.zeros((width, window))  # y / probability, 0 without one
        self._count = 0

    def learn_one(self, x: Any, y: Any, *, action: Any, probability: Any = None) -> Any:
        """Learn the chosen arm's reward; the step ``window`` steps old leaves its arm."""
        super().learn_one(x, y, action=action, probability=probability)  # type: ignore[misc]
        width, w = self._ring_a.shape
        slot = self._count % w
        state: dict[str, np.ndarray] = super().get_state()  # type: ignore[misc]
        if self._count >= w:
            reps, act = np.arange(width), self._ring_a[:, slot]
            flat = {k: v.reshape(width, self.n_actions) for k, v in state.items()}
            flat["n"][reps, act] -= 1.0
            flat["sums"][reps, act] -= self._ring_y[:, slot]
            flat["weighted"][reps, act] -= self._ring_w[:, slot]
        y_now = np.reshape(np.asarray(y, dtype=float), width)
        self._ring_a[:, slot] = np.reshape(action, width)
        self._ring_y[:, slot] = y_now
        self._ring_w[:, slot] = (
            0.0
            if probability is None
            else y_now / np.reshape(np.asarray(probability, dtype=float), width)
        )
        self._count += 1
        if self._count % w == 0:  # re-sum from the ring, so rounding cannot build up
            onehot = np.zeros((width, w, self.n_actions))
            np.put_along_axis(onehot, self._ring_a[..., None], 1.0, axis=-1)
            fresh = {  # the ring is full here: every slot is a step of the window
                "n": onehot.sum(axis=1),
                "sums": np.einsum("rwk,rw->rk", onehot, self._ring_y),
                "weighted": np.einsum("rwk,rw->rk", onehot, self._ring_w),
            }
            state = {k: fresh[k].reshape(np.shape(v)) for k, v in state.items()}
        super().set_state(state)  # type: ignore[misc]
        return self

    def get_state(self) -> dict[str, np.ndarray]:
        """The statistics and the window's steps (replicate axis first)."""
        state: dict[str, np.ndarray] = super().get_state()  # type: ignore[misc]
        single = self.n_replicates is None
        ring = {
            "window_action": self._ring_a.astype(float),
            "window_y": self._ring_y.copy(),
            "window_weighted": self._ring_w.copy(),
        }
        return {
            **state,
            **{k: v[0] if single else v for k, v in ring.items()},
            "window_count": np.asarray(float(self._count)),
        }

    def set_state(self, state: Mapping[str, np.ndarray]) -> Any:
        """Restore what :meth:`get_state` returned (a state of the statistics alone keeps the
        window's steps)."""
        if not any(k.startswith("window_") for k in state):
            return super().set_state(state)  # type: ignore[misc]
        arrays, count, actions = check_window_state(state, self.get_state(), self.n_actions, "arms")
        super().set_state({k: arrays[k] for k in _DATA_KEYS})  # type: ignore[misc]
        self._ring_a[...] = actions.reshape(self._ring_a.shape).astype(np.intp)
        self._ring_y[...] = arrays["window_y"].reshape(self._ring_y.shape)
        self._ring_w[...] = arrays["window_weighted"].reshape(self._ring_w.shape)
        self._count = count
        return self

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "window": self.window}  # type: ignore[misc]


class SlidingWindowArmMeans(_Windowed, ArmMeans):
    """:class:`~regretlab.learners.ArmMeans` of the last ``window`` steps (what SW-UCB reads).

    Parameters
    ----------
    n_actions, n_replicates, initial
        As for :class:`~regretlab.learners.ArmMeans` (``initial`` is the mean of an arm with
        no pull in the window).
    window
        Number of most recent steps kept, ``>= 1``.

    Examples
    --------
    >>> model = SlidingWindowArmMeans(n_actions=2, window=2)
    >>> for a, y in [(0, 1.0), (0, 0.0), (1, 4.0)]:
    ...     model = model.learn_one(np.zeros(2), y, action=a)
    >>> model.n_seen, model.reward_mean, float(model.n_total)
    (array([1., 1.]), array([0., 4.]), 2.0)
    """

    def __init__(
        self, *, n_actions: int, window: int, n_replicates: int | None = None, initial: float = 0.0
    ) -> None:
        super().__init__(n_actions=n_actions, n_replicates=n_replicates, initial=initial)
        self._set_window(window)


class DiscountedArmMeans(_Discounted, ArmMeans):
    """:class:`~regretlab.learners.ArmMeans` of rewards weighted ``forgetting^age`` (what D-UCB
    reads: discounted means ``S_t(a) / N_t(a)``, pulls ``N_t(a)``, ``n_total`` their sum).

    Parameters
    ----------
    n_actions, n_replicates, initial
        As for :class:`~regretlab.learners.ArmMeans`.
    forgetting
        The discount ``gamma`` in (0, 1].

    Examples
    --------
    >>> model = DiscountedArmMeans(n_actions=2, forgetting=0.5)
    >>> for a, y in [(0, 1.0), (0, 0.0), (1, 4.0)]:
    ...     model = model.learn_one(np.zeros(2), y, action=a)
    >>> model.n_seen, model.reward_mean.round(4), float(model.n_total)
    (array([0.75, 1.  ]), array([0.3333, 4.    ]), 1.75)
    """

    def __init__(
        self,
        *,
        n_actions: int,
        forgetting: float,
        n_replicates: int | None = None,
        initial: float = 0.0,
    ) -> None:
        self._set_forgetting(forgetting)
        super().__init__(n_actions=n_actions, n_replicates=n_replicates, initial=initial)


class SlidingWindowBetaBernoulli(_Windowed, BetaBernoulli):
    """:class:`~regretlab.learners.BetaBernoulli` on the last ``window`` steps: every arm's
    posterior ``Beta(alpha + s, beta + n - s)`` of its pulls in the window (SW Thompson
    sampling).

    Parameters
    ----------
    n_actions, n_replicates, prior_alpha, prior_beta
        As for :class:`~regretlab.learners.BetaBernoulli`.
    window
        Number of most recent steps kept, ``>= 1``.

    Examples
    --------
    >>> model = SlidingWindowBetaBernoulli(n_actions=2, window=2)
    >>> for a, y in [(0, 1.0), (0, 0.0), (1, 1.0)]:
    ...     model = model.learn_one(np.zeros(2), y, action=a)
    >>> model.alpha, model.beta
    (array([1., 2.]), array([2., 1.]))
    """

    def __init__(
        self,
        *,
        n_actions: int,
        window: int,
        n_replicates: int | None = None,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
    ) -> None:
        super().__init__(
            n_actions=n_actions,
            n_replicates=n_replicates,
            prior_alpha=prior_alpha,
            prior_beta=prior_beta,
        )
        self._set_window(window)


class DiscountedBetaBernoulli(_Discounted, BetaBernoulli):
    """:class:`~regretlab.learners.BetaBernoulli` with discounted counts: every arm's posterior
    ``Beta(alpha + S_t, beta + N_t - S_t)`` with ``S_t``, ``N_t`` its ``forgetting^age``-weighted
    successes and pulls (discounted Thompson sampling, Raj & Kalyani 2017).

    Parameters
    ----------
    n_actions, n_replicates, prior_alpha, prior_beta
        As for :class:`~regretlab.learners.BetaBernoulli`.
    forgetting
        The discount ``gamma`` in (0, 1].

    Examples
    --------
    >>> model = DiscountedBetaBernoulli(n_actions=2, forgetting=0.5)
    >>> for a, y in [(0, 1.0), (0, 0.0), (1, 1.0)]:
    ...     model = model.learn_one(np.zeros(2), y, action=a)
    >>> model.alpha, model.beta
    (array([1.25, 2.  ]), array([1.5, 1. ]))
    """

    def __init__(
        self,
        *,
        n_actions: int,
        forgetting: float,
        n_replicates: int | None = None,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
    ) -> None:
        self._set_forgetting(forgetting)
        super().__init__(
            n_actions=n_actions,
            n_replicates=n_replicates,
            prior_alpha=prior_alpha,
            prior_beta=prior_beta,
        )
