"""Linear contextual bandits with shared main effects and personalising interactions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from regretlab._random import SeedLike, pcg64_at, replicate_seeds
from regretlab._validation import check_int, check_real
from regretlab.environments._steps import steps
from regretlab.environments._sums import sum_products
from regretlab.environments.noise import Gaussian, Noise, resolve_noise
from regretlab.features import ActionFeatures, group_indices
from regretlab.learners._pcg64_kernel import compiled_bandit_draws, pack_states

__all__ = ["BanditStep", "LinearBandit"]

# Blocks are sized to about this many bytes of output when ``block_size`` is ``None``: large
# enough that per-replicate generator calls are amortised, small enough for R = 1000 replicates.
_BLOCK_BYTES = 4 * 2**20
# Expected rewards are computed this many (step, replicate) pairs at a time, and draws are
# made into a buffer of this many bytes, so that the arrays of one pass stay in the CPU cache.
_MEANS_CHUNK = 2**13
_DRAW_BYTES = 2**18
# ``PCG64.jumped()`` advances a copy by this many draws (phi - 1 times 2**128); ``advance``
# reaches the same state without the copy (checked in the tests).
_JUMP = 0x9E3779B97F4A7C15F39CC0605CEDC835


class BanditStep(NamedTuple):
    """Context ``(..., context_dim)``, realised ``rewards`` and expected ``means`` ``(..., K)``.

    ``rewards`` holds the reward every action would have earned: the environment draws the noise
    of all actions, so agents in one replicate share it (common random numbers). One step has no
    time axis; a block has time on the axis after the replicate axis, ``(R, m, ...)``, or first
    for a single stream, ``(m, ...)``.

    >>> step = next(iter(LinearBandit(n_actions=3, context_dim=2, horizon=5, seed=0)))
    >>> step.context.shape, step.rewards.shape, step.means.shape
    ((2,), (3,), (3,))
    """

    context: np.ndarray
    rewards: np.ndarray
    means: np.ndarray


def _block_size(block_size: int | None, horizon: int, floats_per_step: int) -> int:
    """``block_size`` validated, or the number of steps that fill about ``_BLOCK_BYTES``."""
    if block_size is not None:
        return check_int("block_size", block_size, minimum=1)
    return max(1, min(horizon, _BLOCK_BYTES // (8 * floats_per_step)))


def _check_range(start: int, stop: int, horizon: int) -> None:
    check_int("stop", stop, minimum=0)
    check_int("start", start, minimum=0)
    if not start <= stop <= horizon:
        raise ValueError(
            f"need 0 <= start <= stop <= horizon={horizon}, got start={start}, stop={stop}"
        )


class LinearBandit:
    """A contextual bandit whose expected rewards are linear in an :class:`ActionFeatures` design.

    ``means = features.transform(context) @ true_weights`` and ``rewards = means + noise_level *
    N(0, 1)`` for every action. Per replicate one seed (from ``replicate_seeds``) makes one
    generator that draws the truth first (all ``p`` weights ~ U(-1, 1) in column order, then the
    ``context:action`` block scaled by ``interaction_scale`` and the ``context:context`` block by
    ``pairwise_scale``) and then the contexts ~ U(-1, 1)^c, step after step. The noise comes from
    the same seed's ``PCG64.jumped()`` stream, so the draws do not depend on ``block_size`` or
    ``horizon``: a longer horizon extends the same run. Blocks have shapes ``(R, m, ...)`` but
    are laid out time-major in memory, so that one step's values of all replicates are
    contiguous (what a lockstep runner reads).

    Parameters
    ----------
    n_actions
        Number of actions ``K``.
    context_dim
        Number of context inputs ``c``.
    interaction_scale
        Half-width of the uniform ``context:action`` weights: 0 makes the best action the same
        for every context.
    noise_level
        Standard deviation of the reward noise.
    noise
        A noise model (:mod:`regretlab.environments.noise`) drawn for every action from the
        replicate's noise stream, with the step's context as its inputs; ``None`` is
        ``Gaussian(noise_level)`` (the same draws as before noise models existed). When given,
        ``noise_level`` is not used.
    context_pairwise
        Add shared ``context:context`` products to the truth (they never change the best action).
    pairwise_scale
        Half-width of the ``context:context`` weights; ``None`` uses ``interaction_scale``.
    horizon
        Number of steps.
    n_replicates
        ``None`` for one stream (arrays without the replicate axis), else ``R`` replicates each
        with its own child of ``seed``.
    seed
        Seed of the whole environment.
    block_size
        Steps generated per block by :meth:`blocks`; ``None`` picks about 4 MB per block.

    Examples
    --------
    >>> env = LinearBandit(n_actions=3, context_dim=2, horizon=4, seed=0)
    >>> env.features.n_features, env.true_weights.shape
    (12, (12,))
    >>> step = next(iter(env))
    >>> step.context.shape, step.rewards.shape, step.means.shape
    ((2,), (3,), (3,))
    >>> bool(np.allclose(step.means, env.features.transform(step.context) @ env.true_weights))
    True
    >>> LinearBandit(horizon=10, n_replicates=4, seed=1).take(10).rewards.shape
    (4, 10, 5)
    """

    # The groups whose first columns the compiled draws read, in its order.
    _KERNEL_GROUPS = ("context", "action", "context:action", "context:context")

    def __init__(
        self,
        *,
        n_actions: int = 5,
        context_dim: int = 6,
        interaction_scale: float = 1.0,
        noise_level: float = 1.0,
        noise: Noise | None = None,
        context_pairwise: bool = False,
        pairwise_scale: float | None = None,
        horizon: int = 10_000,
        n_replicates: int | None = None,
        seed: SeedLike = None,
        block_size: int | None = None,
    ) -> None:
        self.n_actions = n_actions
        self.context_dim = context_dim
        self.interaction_scale = interaction_scale
        self.noise_level = noise_level
        self.noise = noise
        self.context_pairwise = context_pairwise
        self.pairwise_scale = pairwise_scale
        self.horizon = horizon
        self.n_replicates = n_replicates
        self.seed = seed
        self.block_size = block_size
        check_int("n_actions", n_actions, minimum=2)
        check_int("context_dim", context_dim, minimum=1)
        check_real("interaction_scale", interaction_scale)
        check_real("noise_level", noise_level, minimum=0.0)
        self._noise = resolve_noise(noise, noise_level)
        if not isinstance(context_pairwise, bool):
            raise TypeError(f"context_pairwise must be a bool, got {context_pairwise!r}")
        if pairwise_scale is not None:
            check_real("pairwise_scale", pairwise_scale)
        check_int("horizon", horizon, minimum=1)
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
        if block_size is not None:
            check_int("block_size", block_size, minimum=1)
        self._features = ActionFeatures(context_dim, n_actions, context_pairwise=context_pairwise)
        self._slices = {
            g: slice(int(idx[0]), int(idx[-1]) + 1)
            for g, idx in group_indices(self._features.groups).items()
        }
        self._pairs = self._features.context_pairs
        # Start states of every replicate's context and noise streams (plain dicts: cheap to
        # store and to restore into a fresh generator).
        seeds = replicate_seeds(seed, n_replicates)
        self._context_start: list[Any] = []
        self._noise_start: list[Any] = []
        weights = []
        for child in seeds:
            bits = np.random.PCG64(child)
            start = bits.state
            weights.append(self.draw_true_weights(np.random.Generator(bits)))
            self._context_start.append(bits.state)
            bits.state = start
            bits.advance(_JUMP)
            self._noise_start.append(bits.state)
        # Held with the replicate axis even for one stream; outputs drop it at the boundary.
        self._weights = np.stack(weights)

    @property
    def features(self) -> ActionFeatures:
        """The design the truth is linear in: intercept, context, action, context:action, ..."""
        return self._features

    @property
    def true_weights(self) -> np.ndarray:
        """Weights ``(..., p)`` of ``features.transform(context)``, in its column order."""
        out = self._weights if self.n_replicates is not None else self._weights[0]
        return out.copy()

    def true_weights_by_group(self) -> dict[str, np.ndarray]:
        """The true weights split by feature group, ``{group: (..., n_group)}``."""
        w = self.true_weights
        return {g: w[..., idx] for g, idx in group_indices(self._features.groups).items()}

    def draw_true_weights(self, rng: np.random.Generator) -> np.ndarray:
        """One replicate's weights ``(p,)`` drawn with ``rng`` from this bandit's distribution."""
        w = rng.uniform(-1, 1, size=self._features.n_features)
        w[self._slices["context:action"]] *= self.interaction_scale
        if "context:context" in self._slices:
            scale = self.interaction_scale if self.pairwise_scale is None else self.pairwise_scale
            w[self._slices["context:context"]] *= scale
        return w

    def _means(self, context: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Expected rewards ``(R, m, K)`` of contexts ``(R, m, c)``, held time-major in memory.

        Factorised ``design @ w``: the ``(R, m, K, p)`` design is never built, so a block costs
        O(R m K c) rather than O(R m K p). The sums run in a fixed order (``_sums``), so a step
        gives the same bits whatever block it falls in (BLAS and einsum pick kernels by shape).
        """
        cols, k, c = self._slices, self.n_actions, self.context_dim
        # Weights as rows (p, R) and contexts as (c, steps, R): every product runs along the
        # replicates over contiguous memory, a few steps at a time so that all stays in cache.
        w = np.ascontiguousarray((self._weights if weights is None else weights).T)
        slopes = w[cols["context:action"]].reshape(k, c, -1).swapaxes(0, 1)[:, :, None]
        steps = context.swapaxes(0, 1)
        m, r = steps.shape[:2]
        out = np.empty((m, r, k))
        size = max(1, _MEANS_CHUNK // r)
        for lo in range(0, m, size):
            x = np.ascontiguousarray(steps[lo : lo + size].transpose(2, 0, 1))
            shared = sum_products(x, w[cols["context"]])
            shared += w[0]
            if "context:context" in cols:
                pairs = x[self._pairs[0]] * x[self._pairs[1]]
                shared += sum_products(pairs, w[cols["context:context"]])
            personal = sum_products(x[:, None], slopes)  # (K, steps, R)
            personal += w[cols["action"], None]
            np.add(shared, personal, out=out[lo : lo + size].transpose(2, 0, 1))
        return out.swapaxes(0, 1)

    def _draw(
        self, context_gens: list[np.random.Generator], noise_gens: list[np.random.Generator], m: int
    ) -> BanditStep:
        r, c, k = len(context_gens), self.context_dim, self.n_actions
        # Every array is laid out time-major, (m, R, ...), so that one step's values are
        # contiguous; the shapes stay (R, m, ...). Each replicate draws its own stream, a few
        # replicates at a time into a buffer that stays in cache until it is transposed.
        context, rewards = np.empty((m, r, c)), np.empty((m, r, k))
        group = max(1, _DRAW_BYTES // (8 * max(m, 1) * max(c, k)))
        buffer = np.empty(min(group, r) * m * max(c, k))
        for lo in range(0, r, group):
            part = slice(lo, lo + group)
            n = len(context_gens[part])
            draws = buffer[: n * m * c].reshape(n, m, c)
            for g, out in zip(context_gens[part], draws, strict=True):
                g.random(out=out)
            # 2u - 1 is bit for bit numpy's uniform(-1, 1) (-1 + 2u).
            np.multiply(draws.swapaxes(0, 1), 2.0, out=context[:, part])
            context[:, part] -= 1.0
            noise = buffer[: n * m * k].reshape(n, m, k)
            for i, (g, out) in enumerate(zip(noise_gens[part], noise, strict=True)):
                self._noise.sample(g, (m, k), context[:, lo + i], out=out)
            rewards[:, part] = noise.swapaxes(0, 1)
        means = self._means(context.swapaxes(0, 1))
        rewards += means.swapaxes(0, 1)
        if self.n_replicates is None:
            return BanditStep(context[:, 0], rewards[:, 0], means[0])
        return BanditStep(context.swapaxes(0, 1), rewards.swapaxes(0, 1), means)

    def _generators(self, states: list[Any], skip: int = 0) -> list[np.random.Generator]:
        return [np.random.Generator(pcg64_at(state, skip)) for state in states]

    def blocks(self, block_size: int | None = None) -> Iterator[BanditStep]:
        """Consecutive blocks of up to ``block_size`` steps, from the start."""
        size = _block_size(
            self.block_size if block_size is None else block_size,
            self.horizon,
            (self.n_replicates or 1) * (self.context_dim + 2 * self.n_actions),
        )
        draws = compiled_bandit_draws() if type(self._noise) is Gaussian else None
        if draws is not None:
            yield from self._compiled_blocks(draws, size)
            return
        context_gens = self._generators(self._context_start)
        noise_gens = self._generators(self._noise_start)
        for start in range(0, self.horizon, size):
            yield self._draw(context_gens, noise_gens, min(size, self.horizon - start))

    def _compiled_blocks(self, draws: Any, size: int) -> Iterator[BanditStep]:
        """:meth:`blocks` by one compiled loop (``learners/_pcg64_kernel``) that steps every
        replicate's generators and sums its means as :meth:`_draw` does: the same numbers."""
        context_states = pack_states(self._context_start)
        noise_states = pack_states(self._noise_start)
        r, c, k = len(context_states), self.context_dim, self.n_actions
        first = [self._slices[g].start if g in self._slices else 0 for g in self._KERNEL_GROUPS]
        at = np.array(first, dtype=np.intp)
        pairs = np.array(self._pairs, dtype=np.intp).reshape(2, -1)
        scale = float(self._noise.multiplier(None))
        for start in range(0, self.horizon, size):
            m = min(size, self.horizon - start)
            arrays = np.empty((m, r, c)), np.empty((m, r, k)), np.empty((m, r, k))
            draws(context_states, noise_states, *arrays, scale, self._weights, at, pairs)
            if self.n_replicates is None:
                yield BanditStep(*(a[:, 0] for a in arrays))
            else:
                yield BanditStep(*(a.swapaxes(0, 1) for a in arrays))

    def take(self, stop: int, start: int = 0) -> BanditStep:
        """Steps ``start .. stop - 1`` as one block ``(..., stop - start, ...)``."""
        _check_range(start, stop, self.horizon)
        c, k = self.context_dim, self.n_actions
        # A uniform draw uses one 64-bit output: the contexts of earlier steps are skipped.
        context_gens = self._generators(self._context_start, skip=start * c)
        noise_gens = self._generators(self._noise_start)
        # Normal draws use a variable number of 64-bit outputs, so the noise of earlier steps
        # is drawn and dropped, a bounded chunk at a time, rather than skipped (with the steps'
        # contexts when the noise model's shocks read them).
        chunk = max(1, _BLOCK_BYTES // (8 * max(k, c)))
        skipped = self._generators(self._context_start)
        for g, context_gen in zip(noise_gens, skipped, strict=True):
            for done in range(0, start, chunk):
                m = min(chunk, start - done)
                rows = None
                if self._noise.shocks_need_inputs:
                    rows = context_gen.random((m, c)) * 2.0 - 1.0
                self._noise.shocks(g, (m, k), rows)
        return self._draw(context_gens, noise_gens, stop - start)

    def __iter__(self) -> Iterator[BanditStep]:
        """One step at a time, ``horizon`` steps."""
        return steps(self.blocks(), self.n_replicates is None)

    def __repr__(self) -> str:
        return (
            f"LinearBandit(n_actions={self.n_actions}, context_dim={self.context_dim}, "
            f"interaction_scale={self.interaction_scale}, noise_level={self.noise_level}, "
            f"{'' if self.noise is None else f'noise={self.noise!r}, '}"
            f"context_pairwise={self.context_pairwise}, pairwise_scale={self.pairwise_scale}, "
            f"horizon={self.horizon}, n_replicates={self.n_replicates})"
        )
