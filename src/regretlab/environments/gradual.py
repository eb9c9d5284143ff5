"""More drift wrappers: weights that move gradually, and actions that become worth choosing.

Both follow :mod:`regretlab.environments.drift` (the base's contexts and noise, expected values
recomputed from the changed weights, nesting with the other wrappers).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from regretlab._random import SeedLike, replicate_seeds
from regretlab._validation import check_int, check_real
from regretlab.environments.drift import _weight_drawer, _WeightChange

__all__ = ["ArmAppears", "GradualDrift"]


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


class ArmAppears(_WeightChange):
    """Named actions are out of reach before ``at_step``: their reward is ``gap`` lower.

    The runners have no mask of available actions, so "not there yet" is modelled as "much
    worse": before ``at_step`` the named actions' one-hot weights (group ``action`` of
    :class:`~regretlab.features.ActionFeatures`, columns ``a{k}``) are lowered by ``gap``; from
    ``at_step`` on they are the base's, so an action a learner has written off may now be the
    best. Regret is always measured against the best action of the step.

    Parameters
    ----------
    env
        A bandit whose features have the one-hot columns ``a0 .. a{K-1}`` (such as
        :class:`~regretlab.environments.LinearBandit`).
    at_step
        First step (1-based) at which the actions are worth their base value.
    actions
        Indices of the actions that appear.
    gap
        How much lower their expected reward is before ``at_step``, ``> 0``.

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> base = LinearBandit(n_actions=3, context_dim=1, horizon=10, seed=0)
    >>> env = ArmAppears(base, 6, actions=(2,), gap=5.0)
    >>> means, plain = env.take(10).means, base.take(10).means
    >>> float(means[4, 2] - plain[4, 2]).__round__(9), bool(means[5, 2] == plain[5, 2])
    (-5.0, True)
    """

    def __init__(
        self, env: Any, at_step: int, *, actions: Iterable[int] = (0,), gap: float = 3.0
    ) -> None:
        self.env = env
        self.at_step = at_step
        self.actions = actions
        self.gap = gap
        self._check(env, at_step)
        check_real("gap", gap, minimum=0.0, exclusive_minimum=True)
        names = list(env.features.names)
        chosen = [actions] if isinstance(actions, int | np.integer) else list(actions)
        if not chosen:
            raise ValueError("actions must name at least one action, got none")
        columns = []
        for a in chosen:
            check_int("actions", a, minimum=0)
            if f"a{a}" not in names:
                raise ValueError(
                    f"actions must be action indices whose one-hot column a{{k}} is in "
                    f"env.features, got {a} (features: {names})"
                )
            columns.append(names.index(f"a{a}"))
        self._columns = np.array(columns)

    def _rule(self, index: int, inner: np.ndarray) -> np.ndarray | None:
        if index >= self.at_step - 1:
            return None
        out = inner.copy()
        out[..., self._columns] -= self.gap
        return out

    def __repr__(self) -> str:
        return (
            f"ArmAppears({self.env!r}, at_step={self.at_step}, actions={self.actions!r}, "
            f"gap={self.gap})"
        )
