"""Seeds: one ``SeedSequence`` tree, spawned in the driver (DESIGN.md, Randomness)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.random.bit_generator import ISeedSequence

__all__ = ["SeedLike", "as_seed_sequence", "children", "pcg64_at", "replicate_seeds"]

SeedLike = int | np.random.SeedSequence | None


def as_seed_sequence(seed: SeedLike, name: str = "seed") -> np.random.SeedSequence:
    """Validate ``seed`` and return it as a ``SeedSequence``."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None or (isinstance(seed, int | np.integer) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {seed}")
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise TypeError(f"{name} must be an int, a numpy.random.SeedSequence or None, got {seed!r}")


def children(seed: SeedLike, n: int) -> list[np.random.SeedSequence]:
    """The first ``n`` children of ``seed``, without advancing it.

    ``SeedSequence.spawn`` counts the children it has handed out, so spawning twice from one
    object gives different children. Deriving child ``i`` from the parent's entropy and
    spawn key (what ``spawn`` does for its ``i``-th child) keeps "same seed, same results"
    true however often a seed object is reused.

    >>> root = np.random.SeedSequence(7)
    >>> [c.spawn_key for c in children(root, 2)] == [c.spawn_key for c in children(root, 2)]
    True
    >>> spawned = np.random.SeedSequence(7).spawn(1)[0]
    >>> bool(children(root, 1)[0].generate_state(1)[0] == spawned.generate_state(1)[0])
    True
    """
    root = as_seed_sequence(seed)
    return [
        np.random.SeedSequence(
            root.entropy, spawn_key=(*root.spawn_key, i), pool_size=root.pool_size
        )
        for i in range(n)
    ]


def replicate_seeds(seed: SeedLike, n_replicates: int | None) -> list[np.random.SeedSequence]:
    """One seed per replicate: ``seed`` itself for one stream, else ``R`` spawned children.

    A single stream uses the seed directly so that ``seed=0`` draws exactly what
    ``numpy.random.default_rng(0)`` draws (the seed notebook's generator).
    """
    root = as_seed_sequence(seed)
    return [root] if n_replicates is None else children(root, n_replicates)


class _Unseeded(ISeedSequence):
    """Zeros as a seed: for a generator whose state is set right after (hashing a real seed
    cost 15 us of the 17 us of a restart, paid per replicate by every stream)."""

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> Any:
        return np.zeros(n_words, dtype=dtype)


_UNSEEDED = _Unseeded()


def pcg64_at(state: Any, skip: int = 0) -> np.random.PCG64:
    """A fresh ``PCG64`` in ``state`` (a ``PCG64.state`` dict), ``skip`` draws on.

    Independent of the generator the state came from, and several times cheaper than
    ``copy.deepcopy``: how streams restart from a saved position. ``state`` sets every part of
    the generator's state, so no seed is hashed first.

    >>> bits = np.random.PCG64(3)
    >>> same = pcg64_at(bits.state)
    >>> bool(np.random.Generator(same).random() == np.random.Generator(bits).random())
    True
    """
    bits = np.random.PCG64(_UNSEEDED)  # type: ignore[arg-type]  # any ISeedSequence is accepted
    bits.state = state
    return bits.advance(skip) if skip else bits
