"""Checks every environment passes (the :class:`~regretlab.base.PredictionStream` and
:class:`~regretlab.base.BanditEnvironment` contracts).

Give them a small environment (a horizon of tens of steps): they read the first
``min(horizon, 40)`` steps several times, cut into blocks of different sizes, and every step
once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.checks._common import pickled_copy, require, without_global_random

__all__ = [
    "check_environment",
    "check_environment_blocks_are_fresh",
    "check_environment_ignores_block_size",
    "check_environment_pickles",
    "check_environment_shapes",
    "check_environment_uses_no_global_random",
    "environment_checks",
]

_STEPS = 40
_BANDIT_FIELDS = ("context", "rewards", "means")
_STREAM_FIELDS = ("x", "y", "mean")


def _fields(env: Any) -> tuple[str, ...]:
    return _BANDIT_FIELDS if hasattr(env, "n_actions") else _STREAM_FIELDS


def _time_axis(env: Any) -> int:
    return 0 if env.n_replicates is None else 1


def _first_steps(env: Any, block_size: int | None, n: int) -> list[np.ndarray]:
    """The first ``n`` steps of ``env.blocks(block_size)``, one array per field."""
    axis, names = _time_axis(env), _fields(env)
    parts: list[list[np.ndarray]] = [[] for _ in names]
    held = 0
    for block in env.blocks(block_size):
        for part, name in zip(parts, names, strict=True):
            part.append(np.array(getattr(block, name)))
        held += parts[0][-1].shape[axis]
        if held >= n:
            break
    return [np.concatenate(p, axis=axis).take(np.arange(n), axis=axis) for p in parts]


def _n(env: Any) -> int:
    return min(int(env.horizon), _STEPS)


def _same(env: Any, a: list[np.ndarray], b: list[np.ndarray], what: str) -> None:
    for name, x, y in zip(_fields(env), a, b, strict=True):
        require(
            x.shape == y.shape and np.allclose(x, y, rtol=1e-12, atol=1e-12, equal_nan=True),
            f"{env!r}: {what} ({name} differs)",
        )


def check_environment_shapes(env: Any) -> None:
    """Blocks have the contract's fields and shapes, hold ``horizon`` steps in all, are finite,
    and the environment's ``features`` map them.

    A bandit (an environment with ``n_actions``) yields ``context (R, m, context_dim)``,
    ``rewards`` and ``means`` ``(R, m, K)``; a prediction stream yields ``x (R, m, ...)``,
    ``y`` and ``mean`` ``(R, m)``; without ``R`` when ``n_replicates`` is ``None``.

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> check_environment_shapes(LinearBandit(n_actions=3, context_dim=2, horizon=20, seed=0))
    """
    lead = () if env.n_replicates is None else (env.n_replicates,)
    axis, names = _time_axis(env), _fields(env)
    total = 0
    for block in env.blocks(None):
        missing = [name for name in names if not hasattr(block, name)]
        require(not missing, f"{env!r}: blocks must have fields {names}, missing {missing}")
        first, second, third = (np.asarray(getattr(block, name)) for name in names)
        m = first.shape[axis] if first.ndim > axis else -1
        require(m >= 1, f"{env!r}: a block of shape {first.shape} has no steps")
        if names == _BANDIT_FIELDS:
            k, c = env.n_actions, env.context_dim
            expected = {"context": (*lead, m, c), "rewards": (*lead, m, k), "means": (*lead, m, k)}
        else:
            expected = {
                "x": (*lead, m, *first.shape[axis + 1 :]),
                "y": (*lead, m),
                "mean": (*lead, m),
            }
            require(first.ndim == len(lead) + 2, f"{env!r}: x must be (..., m, n_inputs)")
        for name, array in zip(names, (first, second, third), strict=True):
            require(
                array.shape == expected[name],
                f"{env!r}: {name} must have shape {expected[name]}, got {array.shape}",
            )
            if array.dtype.kind == "f":
                require(bool(np.isfinite(array).all()), f"{env!r}: {name} holds NaN or inf")
        step = first.take(0, axis=axis)
        design = np.asarray(env.features.transform(step))
        require(
            design.shape[-1] == env.features.n_features,
            f"{env!r}: features.transform gives {design.shape[-1]} columns, "
            f"features.n_features is {env.features.n_features}",
        )
        total += m
    require(total == env.horizon, f"{env!r}: blocks hold {total} steps, horizon is {env.horizon}")


def check_environment_ignores_block_size(env: Any) -> None:
    """The steps are the same whatever ``block_size`` (the runners choose it), from one
    ``blocks`` call to the next, and, where the environment has ``take``, from ``take``.

    Examples
    --------
    >>> from regretlab.environments import InteractionStream
    >>> check_environment_ignores_block_size(InteractionStream(x_dim=2, horizon=30, seed=0))
    """
    n = _n(env)
    reference = _first_steps(env, 1, n)
    for size in (3, 16, None):
        _same(env, reference, _first_steps(env, size, n), f"blocks({size}) != blocks(1)")
    _same(env, reference, _first_steps(env, 1, n), "a second blocks() call gives other steps")
    take = getattr(env, "take", None)
    if take is not None:
        axis, start = _time_axis(env), n // 3
        block = take(n)
        _same(env, reference, [np.asarray(getattr(block, f)) for f in _fields(env)], "take")
        block = take(n, start)
        later = [a.take(np.arange(start, n), axis=axis) for a in reference]
        _same(env, later, [np.asarray(getattr(block, f)) for f in _fields(env)], "take(start)")


def check_environment_blocks_are_fresh(env: Any) -> None:
    """Writing into a block does not change what the environment yields next (blocks are new
    arrays, not views of the environment's state).

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> check_environment_blocks_are_fresh(LinearBandit(horizon=10, n_replicates=2, seed=0))
    """
    n = _n(env)
    reference = _first_steps(env, None, n)
    for block in env.blocks(None):
        for name in _fields(env):
            array = getattr(block, name)
            if isinstance(array, np.ndarray) and array.flags.writeable:
                array[...] = -7 if array.dtype.kind in "iu" else np.nan
    _same(env, reference, _first_steps(env, None, n), "writing into a block changed the stream")


def check_environment_uses_no_global_random(env: Any) -> None:
    """Blocks are drawn with the environment's own generators, never ``np.random`` or
    ``random``.

    Examples
    --------
    >>> from regretlab.environments import MultilevelStream
    >>> check_environment_uses_no_global_random(MultilevelStream(horizon=10, seed=0))
    """
    n = _n(env)
    without_global_random(env, lambda: (_first_steps(env, None, n), _first_steps(env, 1, n)))


def check_environment_pickles(env: Any) -> None:
    """The environment survives ``pickle`` (process pools, dask) and yields the same steps.

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> check_environment_pickles(LinearBandit(horizon=10, seed=0))
    """
    twin = pickled_copy(env)
    n = _n(env)
    _same(env, _first_steps(env, None, n), _first_steps(twin, None, n), "its pickled copy")


def environment_checks() -> list[Callable[[Any], None]]:
    """Every check that applies to an environment.

    Examples
    --------
    >>> len(environment_checks())
    5
    """
    return [
        check_environment_shapes,
        check_environment_ignores_block_size,
        check_environment_blocks_are_fresh,
        check_environment_uses_no_global_random,
        check_environment_pickles,
    ]


def check_environment(env: Any) -> None:
    """Run every environment check on ``env``; the first failure raises ``AssertionError``.

    What a user runs on their own prediction stream or bandit (pass a small one: a horizon of
    tens of steps) before handing it to a runner.

    Examples
    --------
    >>> from regretlab.environments import AbruptChange, LinearBandit
    >>> check_environment(AbruptChange(LinearBandit(horizon=20, seed=0), 10, seed=1))
    """
    for check in environment_checks():
        check(copy.deepcopy(env))  # each check gets its own copy: none spoils the next
