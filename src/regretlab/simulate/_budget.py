"""How many steps the runners read from an environment at once: from a memory budget.

A block of steps holds every replicate's inputs, outputs and, in prequential runs, every
agent's design rows; the runner keeps one block while the environment makes the next, and the
environment makes a few temporaries of a block's inputs on the way. The step count is chosen so
that all of this stays within ``block_memory`` bytes whatever the horizon or the number of
replicates (at least one step per block). Environments make the same steps whatever the block
size (:func:`~regretlab.checks.check_environment_ignores_block_size`), so the budget changes
the memory a run takes, never its results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from regretlab._validation import check_int

__all__ = [
    "DEFAULT_BLOCK_MEMORY",
    "bandit_block_size",
    "check_block_memory",
    "stream_block_size",
    "stream_steps",
]

DEFAULT_BLOCK_MEMORY = 64 * 2**20
"""The runners' default ``block_memory``: 64 MiB of environment data held at once."""

_FLOAT = 8
_BLOCKS_ALIVE = 2  # the block being read and the next one being made


def check_block_memory(block_memory: Any) -> int:
    """``block_memory`` as a positive number of bytes.

    >>> check_block_memory(2**20)
    1048576
    >>> check_block_memory(0)
    Traceback (most recent call last):
    ValueError: block_memory must be >= 1, got 0
    """
    return check_int("block_memory", block_memory, minimum=1)


def _steps(block_memory: int, horizon: int, n_replicates: int | None, floats: int) -> int:
    per_step = _BLOCKS_ALIVE * _FLOAT * max(1, n_replicates or 1) * max(1, floats)
    return max(1, min(horizon, check_block_memory(block_memory) // per_step))


# Steps per segment of a prediction stream (the steps whose designs are made and learned at
# once): designs of about this many bytes, where half the budget allows (time-blocked learners
# pay per call and their X'X is less efficient on short segments: at R = 1000, d = 22 with
# numba, segments of 64, 113, 150, 200 and 300 steps measured 27%, 17%, 12%, 9% and 6% above
# one call of 600 steps) ...
SEGMENT_BYTES = 32 * 2**20
# ... but at least this many steps, so that wide models (whose covariances do not fit in cache
# anyway) still get long time blocks: at d = 172 segments of 6 steps made blocking slower.
MIN_SEGMENT = 64


def stream_steps(block_memory: int, env: Any, maps: Sequence[Any]) -> tuple[int, int]:
    """Steps per block and per segment of a prediction stream read by ``run_prequential``.

    A block holds, per replicate and step, the inputs three times (the block, its draws and
    one temporary of the truth), input, output and mean, and two blocks are alive (the one
    being read and the next one being made). The designs are made for one segment of a block
    at a time: per step the segment's inputs and every agent's design, predictions and losses
    (``n_features + 4`` numbers). Segments take at most half of the budget (and are
    :data:`MIN_SEGMENT` steps or designs of :data:`SEGMENT_BYTES`, whichever is longer, where
    the budget allows), blocks the rest, in whole segments; both at least one step.

    >>> from regretlab.environments import InteractionStream
    >>> env = InteractionStream(x_dim=10, horizon=10**5, n_replicates=1000)
    >>> stream_steps(64 * 2**20, env, [env.features])  # segments 8 * 1000 * (10 + 60) B a step
    (59, 59)
    >>> env = InteractionStream(x_dim=6, horizon=10**5, n_replicates=1000)
    >>> stream_steps(64 * 2**20, env, [env.features])
    (113, 113)
    """
    budget = check_block_memory(block_memory)
    replicates = max(1, env.n_replicates or 1)
    # A width a (duck-typed) feature map does not state counts as one column.
    inputs = int(getattr(env.features, "n_inputs", 1))
    widths = [int(getattr(m, "n_features", 1)) for m in maps]
    per_block_step = _BLOCKS_ALIVE * _FLOAT * replicates * (3 * inputs + 3)
    per_segment_step = _FLOAT * replicates * (inputs + sum(w + 4 for w in widths))
    wanted = max(MIN_SEGMENT, SEGMENT_BYTES // (_FLOAT * replicates * max(1, sum(widths))))
    segment = min(wanted, budget // 2 // per_segment_step)
    block = (budget - segment * per_segment_step) // per_block_step
    if block < segment:
        segment = block = budget // (per_segment_step + per_block_step)
    block = max(1, min(env.horizon, block))
    segment = max(1, min(segment, block))
    return block // segment * segment, segment


def stream_block_size(block_memory: int, env: Any, maps: Sequence[Any]) -> int:
    """Steps per block of a prediction stream read by ``run_prequential``
    (:func:`stream_steps`).

    >>> from regretlab.environments import InteractionStream
    >>> env = InteractionStream(x_dim=10, horizon=10**5, n_replicates=1000)
    >>> stream_block_size(64 * 2**20, env, [env.features])
    59
    """
    return stream_steps(block_memory, env, maps)[0]


def bandit_block_size(block_memory: int, env: Any) -> int:
    """Steps per block of a bandit read by ``run_bandit``: context, rewards and means, each
    also copied time-first (design rows are made per step, never held for a block).

    >>> from regretlab.environments import LinearBandit
    >>> env = LinearBandit(n_actions=5, context_dim=6, horizon=10**6, n_replicates=1000)
    >>> bandit_block_size(64 * 2**20, env)  # 2 blocks * 8 B * 1000 * 2 * (2 * 5 + 6)
    131
    """
    floats = 2 * (2 * env.n_actions + env.context_dim)
    return _steps(block_memory, env.horizon, env.n_replicates, floats)
