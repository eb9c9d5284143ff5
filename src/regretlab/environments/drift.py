"""Wrappers that change an environment's true weights during a run (coba-style composition).

A wrapper takes an environment with a linear truth (``features``, ``true_weights``, ``blocks``,
``take``) and returns one with the same contract. Its blocks are the base's blocks with the
expected values recomputed as ``env.features.transform(inputs) @ weights(t)`` wherever the
weights differ from the base's; the base's noise (realised minus expected) is added back, so
common random numbers survive the change. This works for any environment whose blocks are
3-field tuples ``(inputs, realised, expected)``: :class:`~regretlab.environments.BanditStep`
``(context, rewards, means)`` and :class:`~regretlab.environments.Observations`
``(x, y, mean)``. Wrappers nest: ``AbruptChange(InteractionOnset(env, 100), 500)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from regretlab._random import SeedLike, replicate_seeds
from regretlab._validation import check_int
from regretlab.environments._steps import steps
from regretlab.environments._sums import dot
from regretlab.environments.bandits import _BLOCK_BYTES, LinearBandit
from regretlab.features import group_indices

__all__ = ["AbruptChange", "InteractionOnset"]


def _require_linear_truth(env: Any, wrapper: str) -> None:
    missing = [
        name
        for name in ("features", "true_weights", "blocks", "take", "horizon", "n_replicates")
        if not hasattr(env, name)
    ]
    if missing:
        raise TypeError(
            f"{wrapper} needs an environment with a linear truth (features, true_weights, "
            f"blocks, take, horizon, n_replicates); {type(env).__name__} has no {missing}"
        )


def _weights_at(env: Any, step: int) -> np.ndarray:
    at = getattr(env, "true_weights_at", None)
    return env.true_weights if at is None else at(step)


def _design_dot(features: Any, inputs: np.ndarray, weights: np.ndarray, single: bool) -> np.ndarray:
    """``features.transform(inputs) @ weights`` per replicate, a bounded chunk of steps at once."""
    axis = 0 if single else 1
    m = inputs.shape[axis]
    width = 1 if single else inputs.shape[0]
    per_step = width * features.n_features * (getattr(features, "n_actions", 1) or 1)
    chunk = max(1, _BLOCK_BYTES // (8 * per_step))
    parts = []
    for lo in range(0, m, chunk):
        design = features.transform(
            inputs[lo : lo + chunk] if single else inputs[:, lo : lo + chunk]
        )
        w = weights if single else weights.reshape(width, *(1,) * (design.ndim - 2), -1)
        # ``dot`` sums in a fixed order: a step gives the same bits in any block.
        parts.append(dot(design, w))
    return np.concatenate(parts, axis=axis)


class _WeightChange:
    """Shared shell: piecewise-constant weights on top of a base environment.

    Subclasses implement ``_rule(index, inner)``: the weights in force at 0-based step
    ``index`` given the inner environment's weights there, or ``None`` to keep the inner
    environment's values untouched.
    """

    env: Any
    at_step: int

    def _rule(self, index: int, inner: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def _check(self, env: Any, at_step: int) -> None:
        _require_linear_truth(env, type(self).__name__)
        check_int("at_step", at_step, minimum=1)
        if at_step > env.horizon:
            raise ValueError(f"at_step must be <= horizon={env.horizon}, got {at_step}")

    def _change_indices(self) -> list[int]:
        inner: list[int] = getattr(self.env, "_change_indices", list)()
        return sorted({*inner, self.at_step - 1})

    def true_weights_at(self, step: int) -> np.ndarray:
        """The weights ``(..., p)`` in force at ``step`` (1-based, ``1 .. horizon``)."""
        check_int("step", step, minimum=1)
        if step > self.env.horizon:
            raise ValueError(f"step must be <= horizon={self.env.horizon}, got {step}")
        inner = _weights_at(self.env, step)
        out = self._rule(step - 1, inner)
        return (inner if out is None else out).copy()

    @property
    def true_weights(self) -> np.ndarray:
        """The weights in force at the last step (``true_weights_at(horizon)``)."""
        return self.true_weights_at(self.env.horizon)

    def true_weights_by_group(self, step: int | None = None) -> dict[str, np.ndarray]:
        """Weights at ``step`` (default the last) split by feature group."""
        w = self.true_weights_at(self.env.horizon if step is None else step)
        return {g: w[..., idx] for g, idx in group_indices(self.env.features.groups).items()}

    def _apply(self, block: Any, offset: int) -> Any:
        single = self.env.n_replicates is None
        axis = 0 if single else 1
        inputs, realised, expected, *rest = block  # rest: an inner ArmAppears' mask
        m = inputs.shape[axis]
        cuts = [i - offset for i in self._change_indices() if offset < i < offset + m]
        changed = [
            (lo, hi, weights)
            for lo, hi in itertools.pairwise([0, *cuts, m])
            if lo < hi
            and (weights := self._rule(offset + lo, _weights_at(self.env, offset + lo + 1)))
            is not None
        ]
        if not changed:
            return block
        realised, expected = realised.copy(), expected.copy()
        for lo, hi, weights in changed:
            part = (slice(None),) * axis + (slice(lo, hi),)
            means = self._means(inputs[part], weights, single)
            realised[part] = means + (realised[part] - expected[part])
            expected[part] = means
        return type(block)(inputs, realised, expected, *rest)

    def _means(self, inputs: np.ndarray, weights: np.ndarray, single: bool) -> np.ndarray:
        base = self.env
        while isinstance(base, _WeightChange):
            base = base.env
        if not isinstance(base, LinearBandit):
            return _design_dot(self.env.features, inputs, weights, single)
        # LinearBandit's factorised means never build the (R, m, K, p) design: several times
        # faster for many replicates, and as block-invariant as the generic path.
        if single:
            return base._means(inputs[None], weights[None])[0]
        return base._means(inputs, weights)

    def blocks(self, block_size: int | None = None) -> Iterator[Any]:
        """The base's blocks with the changed weights applied."""
        offset = 0
        axis = 0 if self.env.n_replicates is None else 1
        for block in self.env.blocks(block_size):
            yield self._apply(block, offset)
            offset += block[0].shape[axis]

    def take(self, stop: int, start: int = 0) -> Any:
        """Steps ``start .. stop - 1`` as one block, with the changed weights applied."""
        return self._apply(self.env.take(stop, start), start)

    def __iter__(self) -> Iterator[Any]:
        """One step at a time, ``horizon`` steps."""
        return steps(self.blocks(), self.env.n_replicates is None)

    def __getattr__(self, name: str) -> Any:
        # Everything else (n_actions, horizon, features, ...) is the base's. Private names are
        # not forwarded, which also keeps unpickling from recursing before ``env`` is set.
        if name.startswith("_") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)


def _weight_drawer(env: Any) -> Any:
    # InteractionStream and LinearBandit draw their own (wrappers forward the method).
    draw = getattr(env, "draw_true_weights", None)
    if draw is not None:
        return draw
    raise TypeError(
        f"AbruptChange needs env.draw_true_weights(rng) to redraw the truth; "
        f"{type(env).__name__} has none"
    )


class AbruptChange(_WeightChange):
    """From step ``at_step`` on, the true weights are redrawn from the same distribution.

    Each replicate redraws its own weights with a child of ``seed`` (``replicate_seeds``), so
    the change is reproducible and independent of the base's draws. Contexts and noise are the
    base's; steps before ``at_step`` are the base's blocks untouched.

    Parameters
    ----------
    env
        The environment to change: a :class:`~regretlab.environments.LinearBandit`, an
        :class:`~regretlab.environments.InteractionStream` or another wrapper.
    at_step
        First step (1-based) with the new weights, ``1 .. env.horizon``.
    seed
        Seed of the new weights.

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> env = AbruptChange(LinearBandit(n_actions=2, context_dim=1, horizon=6, seed=0), 4, seed=1)
    >>> bool((env.true_weights_at(3) == env.env.true_weights).all())
    True
    >>> bool((env.true_weights_at(4) == env.env.true_weights).any())
    False
    >>> env.take(6).means.shape, env.n_actions
    ((6, 2), 2)
    """

    def __init__(self, env: Any, at_step: int, *, seed: SeedLike = None) -> None:
        self.env = env
        self.at_step = at_step
        self.seed = seed
        self._check(env, at_step)
        draw = _weight_drawer(env)
        weights = np.stack(
            [draw(np.random.default_rng(s)) for s in replicate_seeds(seed, env.n_replicates)]
        )
        self._new = weights[0] if env.n_replicates is None else weights

    def _rule(self, index: int, inner: np.ndarray) -> np.ndarray | None:
        return None if index < self.at_step - 1 else self._new

    def __repr__(self) -> str:
        return f"AbruptChange({self.env!r}, at_step={self.at_step})"


class InteractionOnset(_WeightChange):
    """The named groups' weights are 0 before ``at_step`` and the base's own from then on.

    The truth grows more complex mid-run: a model that has settled on main effects must
    discover interactions that were not there before. From ``at_step`` on the blocks are the
    base's untouched.

    Parameters
    ----------
    env
        The environment to change, with a linear truth.
    at_step
        First step (1-based) with the groups switched on, ``1 .. env.horizon``.
    groups
        Feature groups of ``env.features`` that are off before ``at_step``:
        ``("context:action",)`` for a bandit, ``("pairwise",)`` for an
        :class:`~regretlab.environments.InteractionStream`.

    Examples
    --------
    >>> from regretlab.environments import InteractionStream
    >>> stream = InteractionStream(x_dim=2, horizon=5, seed=0)
    >>> env = InteractionOnset(stream, 3, groups=("pairwise",))
    >>> env.features.names
    ('1', 'x0', 'x1', 'x0 x1')
    >>> float(env.true_weights_at(2)[-1]), bool(env.true_weights_at(3)[-1] != 0)
    (0.0, True)
    >>> env.take(5).y.shape
    (5,)
    """

    def __init__(
        self, env: Any, at_step: int, *, groups: Iterable[str] = ("context:action",)
    ) -> None:
        self.env = env
        self.at_step = at_step
        self.groups = groups
        self._check(env, at_step)
        names = (groups,) if isinstance(groups, str) else tuple(groups)
        known = group_indices(env.features.groups)
        for name in names:
            if name not in known:
                raise ValueError(
                    f"groups must name feature groups of env.features, one of {list(known)}, "
                    f"got {name!r}"
                )
        if not names:
            raise ValueError("groups must name at least one feature group, got none")
        self._columns = np.concatenate([known[name] for name in names])

    def _rule(self, index: int, inner: np.ndarray) -> np.ndarray | None:
        if index >= self.at_step - 1:
            return None
        out = inner.copy()
        out[..., self._columns] = 0.0
        return out

    def __repr__(self) -> str:
        return f"InteractionOnset({self.env!r}, at_step={self.at_step}, groups={self.groups!r})"
