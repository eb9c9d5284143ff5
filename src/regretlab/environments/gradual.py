"""More drift wrappers: weights that move gradually, and actions that appear mid-run.

Both follow :mod:`regretlab.environments.drift` (the base's contexts and noise, expected values
recomputed from the changed weights, nesting with the other wrappers).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from regretlab._random import SeedLike, replicate_seeds
from regretlab._validation import check_int
from regretlab.environments.drift import _weight_drawer, _WeightChange

__all__ = ["ArmAppears", "AvailableStep", "GradualDrift"]


class GradualDrift(_WeightChange):
    """The true weights move in a straight line to a fresh draw between ``start`` and ``stop``.

    At step ``s`` the weights are ``(1 - l_s) w + l_s w'`` with ``l_s = (s - start + 1) /
    (stop - start + 1)`` clipped to ``[0, 1]``: the base's (or inner wrapper's) weights ``w``
    before ``start``, the new draw ``w'`` (per replicate, from ``seed``, as
    :class:`~regretlab.environments.AbruptChange` draws) from ``stop`` on. Every step of the
    ramp is a change, so a long ramp costs one expected-value computation per step.

    Parameters
    ----------
    env
        The environment to change (a linear truth with ``draw_true_weights``).
    start, stop
        First and last step (1-based) of the ramp, ``1 <= start <= stop <= env.horizon``.
    seed
        Seed of the new weights.

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> base = LinearBandit(n_actions=2, context_dim=1, horizon=10, seed=0)
    >>> env = GradualDrift(base, 3, 6, seed=1)
    >>> w0, w6 = env.true_weights_at(2), env.true_weights_at(6)
    >>> bool(np.allclose(env.true_weights_at(4), 0.5 * w0 + 0.5 * w6))
    True
    >>> bool((env.true_weights_at(10) == w6).all()), env.take(10).means.shape
    (True, (10, 2))
    """

    def __init__(self, env: Any, start: int, stop: int, *, seed: SeedLike = None) -> None:
        self.env = env
        self.start = start
        self.stop = stop
        self.seed = seed
        self.at_step = start
        self._check(env, start)
        check_int("stop", stop, minimum=start)
        if stop > env.horizon:
            raise ValueError(f"stop must be <= horizon={env.horizon}, got {stop}")
        draw = _weight_drawer(env)
        weights = np.stack(
            [draw(np.random.default_rng(s)) for s in replicate_seeds(seed, env.n_replicates)]
        )
        self._new = weights[0] if env.n_replicates is None else weights

    def _change_indices(self) -> list[int]:
        inner: list[int] = getattr(self.env, "_change_indices", list)()
        return sorted({*inner, *range(self.start - 1, self.stop)})

    def _rule(self, index: int, inner: np.ndarray) -> np.ndarray | None:
        if index < self.start - 1:
            return None
        share = min(1.0, (index - self.start + 2) / (self.stop - self.start + 1))
        return (1.0 - share) * inner + share * self._new

    def __repr__(self) -> str:
        return f"GradualDrift({self.env!r}, start={self.start}, stop={self.stop})"


class AvailableStep(NamedTuple):
    """A :class:`~regretlab.environments.BanditStep` with the actions that may be chosen:
    ``available`` ``(..., K)`` booleans beside ``context``, ``rewards`` and ``means``.

    :func:`~regretlab.simulate.run_bandit` passes each step's mask to the policies (which never
    pick an unavailable action, :mod:`regretlab.policies.availability`) and measures regret
    against the best available action.

    >>> from regretlab.environments import LinearBandit
    >>> env = ArmAppears(LinearBandit(n_actions=3, context_dim=1, horizon=4, seed=0), 3)
    >>> next(iter(env)).available
    array([False,  True,  True])
    """

    context: np.ndarray
    rewards: np.ndarray
    means: np.ndarray
    available: np.ndarray


class ArmAppears(_WeightChange):
    """Named actions are unavailable before ``at_step``: no policy can choose them, and regret
    is measured against the best action that is available.

    The blocks are :class:`AvailableStep`: the base's (or inner wrapper's) context, rewards and
    means untouched, plus the mask ``available``, False for the named actions at steps
    ``1 .. at_step - 1`` and True everywhere else. An action that appears may be the best from
    then on, and a learner has never seen it.

    Parameters
    ----------
    env
        A bandit with a linear truth (such as :class:`~regretlab.environments.LinearBandit`,
        or another drift wrapper around one).
    at_step
        First step (1-based) at which the actions can be chosen.
    actions
        Indices of the actions that appear, ``0 .. K - 1``; at least one action must be
        available at every step, so not all ``K``.

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> base = LinearBandit(n_actions=3, context_dim=1, horizon=10, seed=0)
    >>> env = ArmAppears(base, 6, actions=(2,))
    >>> block = env.take(10)
    >>> block.available[4].tolist(), block.available[5].tolist()
    ([True, True, False], [True, True, True])
    >>> bool((block.means == base.take(10).means).all())
    True
    """

    def __init__(self, env: Any, at_step: int, *, actions: Iterable[int] = (0,)) -> None:
        self.env = env
        self.at_step = at_step
        self.actions = actions
        self._check(env, at_step)
        k = getattr(env, "n_actions", None)
        if not isinstance(k, int | np.integer):
            raise TypeError(f"ArmAppears needs a bandit (n_actions); {type(env).__name__} has none")
        chosen = [actions] if isinstance(actions, int | np.integer) else list(actions)
        if not chosen:
            raise ValueError("actions must name at least one action, got none")
        for a in chosen:
            check_int("actions", a, minimum=0)
            if a >= k:
                raise ValueError(f"actions must be action indices in [0, {k}), got {a}")
        self._unavailable = np.zeros(k, dtype=bool)
        self._unavailable[np.asarray(chosen, dtype=int)] = True
        if self._unavailable.all():
            raise ValueError(
                f"actions must leave at least one of the {k} actions available, got {chosen}"
            )

    def _rule(self, index: int, inner: np.ndarray) -> np.ndarray | None:
        return None  # the truth is the base's: only the mask changes

    def _apply(self, block: Any, offset: int) -> Any:
        block = super()._apply(block, offset)
        single = self.env.n_replicates is None
        inputs, rewards, means = block[:3]
        m = means.shape[0 if single else 1]
        early = (offset + np.arange(m) < self.at_step - 1)[:, None] & self._unavailable
        mask = ~early if single else np.broadcast_to(~early, means.shape)
        inner = getattr(block, "available", None)
        if inner is not None:
            mask = mask & inner
        return AvailableStep(inputs, rewards, means, np.ascontiguousarray(mask))

    def __repr__(self) -> str:
        return f"ArmAppears({self.env!r}, at_step={self.at_step}, actions={self.actions!r})"
