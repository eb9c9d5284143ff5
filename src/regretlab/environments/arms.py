"""Bandits without context: K arms whose expected rewards are known (stationary or piecewise).

Every arm's reward is drawn every step (common random numbers: all agents of a replicate see
the same reward table) through a noise model (:mod:`regretlab.environments.noise`, additive:
Gaussian arms) or a reward model (:mod:`regretlab.environments.rewards`: Bernoulli, Binomial,
Poisson arms), with ``observe(rng, means, None)`` on each replicate's own generator, a block's
``(m, K)`` means at a time in time order, so the draws do not depend on the block size.
The context is empty (``context_dim`` 0) and the design is :class:`~regretlab.features.ArmFeatures`
(one-hot arms), so every learner of a per-action or linear design also runs on these bandits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from regretlab._random import SeedLike, replicate_seeds
from regretlab._validation import as_float_array, check_choice, check_int
from regretlab.environments._steps import steps
from regretlab.environments.bandits import _DRAW_BYTES, _JUMP, _block_size
from regretlab.environments.noise import Noise
from regretlab.environments.rewards import Bernoulli, RewardModel, resolve_observation
from regretlab.features import ArmFeatures
from regretlab.learners import _pcg64_kernel

__all__ = ["AdversarialBandit", "ArmStep", "MultiArmedBandit", "PiecewiseStationaryBandit"]

COMPARATORS = ("per_step", "best_fixed")


class ArmStep(NamedTuple):
    """A :class:`~regretlab.environments.BanditStep` with the comparator's expected reward.

    ``context`` ``(..., 0)``, ``rewards`` and ``means`` ``(..., K)`` as for every bandit, and
    ``best`` ``(...)``: the expected reward regret is measured against, which
    :func:`~regretlab.simulate.run_bandit` reads instead of ``means.max(-1)`` (the best arm
    of each step, or the best fixed arm of an adversarial bandit).

    >>> step = next(iter(MultiArmedBandit([0.2, 0.5], horizon=3, seed=0)))
    >>> step.context.shape, step.rewards.shape, float(step.best)
    ((0,), (2,), 0.5)
    """

    context: np.ndarray
    rewards: np.ndarray
    means: np.ndarray
    best: np.ndarray


def _check_means(means: np.ndarray, reward: Any, name: str = "means") -> None:
    if isinstance(reward, RewardModel):
        low, high = reward.mean_bounds
        bad = ~((means >= low) & (means <= high))
        if bad.any():
            raise ValueError(
                f"{name} must lie in [{low:g}, {high:g}] for {reward!r} rewards, "
                f"got {means[bad].flat[0]!r}"
            )


class _ArmBandit:
    """Segments of constant means ``(S, R, K)`` starting at ``changes`` (1-based steps)."""

    n_replicates: int | None
    horizon: int
    n_actions: int
    block_size: int | None
    context_dim = 0

    def _setup(
        self,
        table: np.ndarray,
        changes: np.ndarray,
        reward: Any,
        seed: SeedLike,
        comparator: str,
        shuffle_arms: bool,
    ) -> None:
        check_int("horizon", self.horizon, minimum=1)
        if self.n_replicates is not None:
            check_int("n_replicates", self.n_replicates, minimum=1)
        if self.block_size is not None:
            check_int("block_size", self.block_size, minimum=1)
        self._reward = Bernoulli() if reward is None else resolve_observation(reward)
        check_choice("comparator", comparator, COMPARATORS)
        if not isinstance(shuffle_arms, bool):
            raise TypeError(f"shuffle_arms must be a bool, got {shuffle_arms!r}")
        _check_means(table, self._reward)
        self._features = ArmFeatures(self.n_actions)
        self._starts: list[Any] = []
        r = 1 if self.n_replicates is None else self.n_replicates
        table = np.broadcast_to(table, (table.shape[0], r, self.n_actions)).copy()
        for i, child in enumerate(replicate_seeds(seed, self.n_replicates)):
            bits = np.random.PCG64(child)
            self._starts.append(bits.state)
            if shuffle_arms:
                # The arm labels of a replicate, from a stream apart from its rewards.
                order = np.random.Generator(bits.advance(_JUMP)).permutation(self.n_actions)
                table[:, i] = table[:, i, order]
        self._table = table
        self._changes = changes
        self._packed_starts = _pcg64_kernel.pack_states(self._starts)
        # Steps spent in each segment within the horizon: the weights of the best fixed arm.
        bounds = np.clip(np.r_[1, changes, self.horizon + 1], 1, self.horizon + 1)
        totals = np.einsum("s,srk->rk", np.diff(bounds).astype(float), table)
        self._fixed = totals.argmax(axis=-1) if comparator == "best_fixed" else None

    @property
    def features(self) -> ArmFeatures:
        """One-hot arms: :class:`~regretlab.features.ArmFeatures` ``(n_actions)``."""
        return self._features

    def means_at(self, step: int) -> np.ndarray:
        """The expected reward of every arm at ``step`` (1-based), ``(..., K)``."""
        check_int("step", step, minimum=1)
        segment = int(np.searchsorted(self._changes, step, side="right"))
        out = self._table[segment].copy()
        return out if self.n_replicates is not None else out[0]

    @property
    def best_fixed_arm(self) -> np.ndarray | None:
        """The comparator arm of ``comparator="best_fixed"`` (per replicate), else ``None``."""
        if self._fixed is None:
            return None
        return self._fixed.copy() if self.n_replicates is not None else self._fixed[0].copy()

    def _block(
        self, gens: list[np.random.Generator], start: int, m: int, packed: np.ndarray | None
    ) -> ArmStep:
        r, k = len(gens), self.n_actions
        stationary = not len(self._changes)
        if stationary:  # a read-only view: one table for every step
            means = np.broadcast_to(self._table[0], (m, r, k))
        else:
            segment = np.searchsorted(self._changes, np.arange(start + 1, start + m + 1), "right")
            means = self._table[segment]  # (m, R, K), time-major
        rewards = np.empty((m, r, k))
        if packed is not None:  # numba: every replicate's generator in one compiled loop
            _pcg64_kernel.compiled_bernoulli()(packed, means, rewards)  # type: ignore[misc]
        elif type(self._reward) is Bernoulli:
            # Bernoulli.observe's draws (``uniform < mean``, the means checked at
            # construction), one generator call per replicate. A few replicates at a time into
            # a buffer that stays in the CPU cache, compared there replicate-major (long
            # contiguous runs), then moved to time-major as whole K-rows (one K * 8-byte item
            # per step and replicate).
            group = max(1, _DRAW_BYTES // (8 * m * k))
            buffer = np.empty((min(group, r), m, k))
            compared = np.empty_like(buffer)
            row = np.dtype((np.void, 8 * k))
            rows_out = rewards.view(row).reshape(m, r)
            for lo in range(0, r, group):
                part = slice(lo, lo + group)
                draws = buffer[: len(gens[part])]
                for g, out in zip(gens[part], draws, strict=True):
                    g.random(out=out)
                limit = self._table[0, part, None] if stationary else means[:, part].swapaxes(0, 1)
                hits = compared[: len(draws)]
                np.less(draws, limit, out=hits)
                rows_out[:, part] = hits.view(row).reshape(len(draws), m).T
        else:
            for i, g in enumerate(gens):
                rewards[:, i] = self._reward.observe(g, np.ascontiguousarray(means[:, i]), None)
        if self._fixed is not None:
            best = np.take_along_axis(means, self._fixed[None, :, None], axis=-1)[..., 0]
        elif stationary:
            best = np.broadcast_to(self._table[0].max(axis=-1), (m, r))
        else:
            best = means.max(axis=-1)
        context = np.empty((r, m, 0))
        if self.n_replicates is None:
            return ArmStep(context[0], rewards[:, 0], means[:, 0], best[:, 0])
        return ArmStep(context, rewards.swapaxes(0, 1), means.swapaxes(0, 1), best.T)

    def blocks(self, block_size: int | None = None) -> Iterator[ArmStep]:
        """Consecutive blocks of up to ``block_size`` steps, from the start."""
        size = _block_size(
            self.block_size if block_size is None else block_size,
            self.horizon,
            (self.n_replicates or 1) * (2 * self.n_actions + 1),
        )
        # Generators reused from run to run (1000 cost more than a short run), a set per iteration.
        pool: list[list[np.random.Generator]] = self.__dict__.setdefault("_idle", [])
        try:
            gens = pool.pop()
        except IndexError:
            gens = [np.random.Generator(np.random.PCG64(0)) for _ in self._starts]
        # numba: Bernoulli arms drawn from uint64 state rows (numpy's numbers, _pcg64_kernel).
        packed = None
        if type(self._reward) is Bernoulli and _pcg64_kernel.compiled_bernoulli() is not None:
            packed = self._packed_starts.copy()
        if packed is None:  # numpy draws from the generators, reset to the start
            for g, state in zip(gens, self._starts, strict=True):
                g.bit_generator.state = state
        try:
            for start in range(0, self.horizon, size):
                yield self._block(gens, start, min(size, self.horizon - start), packed)
        finally:
            pool.append(gens)

    def __iter__(self) -> Iterator[ArmStep]:
        """One step at a time, ``horizon`` steps."""
        return steps(self.blocks(), self.n_replicates is None)


def _arms(means: Any, n_replicates: int | None, name: str = "means") -> np.ndarray:
    """``means`` as ``(R or 1, K)``: ``(K,)`` for all replicates or ``(R, K)`` per replicate."""
    array = as_float_array(name, means, ndim=(1, 2))
    if array.ndim == 2 and (n_replicates is None or array.shape[0] != n_replicates):
        raise ValueError(
            f"{name} must have shape (K,) or (n_replicates={n_replicates}, K), got {array.shape}"
        )
    if array.shape[-1] < 2:
        raise ValueError(f"{name} must hold at least K = 2 arms, got {array.shape[-1]}")
    return array.reshape(-1, array.shape[-1])


class MultiArmedBandit(_ArmBandit):
    """``K`` arms with constant expected rewards ``means``; regret against the best arm.

    Parameters
    ----------
    means
        Expected reward of every arm, ``(K,)`` with ``K >= 2`` (the same instance in every
        replicate) or ``(n_replicates, K)``; within the reward model's bounds.
    reward
        How a draw is made from an arm's mean: a reward model (:class:`Bernoulli`, the
        default; :class:`Poisson`, :class:`Binomial`) or a noise model (``Gaussian(1.0)``:
        Gaussian arms with that standard deviation).
    horizon, n_replicates, seed, block_size
        As for :class:`~regretlab.environments.LinearBandit`: replicate ``r`` draws its rewards
        from child ``r`` of ``seed`` (``seed`` itself for one stream).

    Examples
    --------
    >>> env = MultiArmedBandit([0.1, 0.5, 0.9], horizon=100, n_replicates=2, seed=0)
    >>> block = next(env.blocks())
    >>> block.rewards.shape, block.means[0, 0], block.best[0, 0]
    ((2, 100, 3), array([0.1, 0.5, 0.9]), np.float64(0.9))
    >>> sorted(np.unique(block.rewards))
    [np.float64(0.0), np.float64(1.0)]
    """

    def __init__(
        self,
        means: Any,
        *,
        reward: RewardModel | Noise | None = None,
        horizon: int = 10_000,
        n_replicates: int | None = None,
        seed: SeedLike = None,
        block_size: int | None = None,
    ) -> None:
        self.means = means
        self.reward = reward
        self.horizon = horizon
        self.n_replicates = n_replicates
        self.seed = seed
        self.block_size = block_size
        table = _arms(means, n_replicates)
        self.n_actions = table.shape[-1]
        self._setup(table[None], np.zeros(0, dtype=int), reward, seed, "per_step", False)

    def __repr__(self) -> str:
        return (
            f"MultiArmedBandit(means={np.asarray(self.means).tolist()}, "
            f"reward={self._reward!r}, horizon={self.horizon}, n_replicates={self.n_replicates})"
        )


def _segments(means: Any, change_steps: Any) -> tuple[np.ndarray, np.ndarray]:
    table = as_float_array("means", means, ndim=(2,))
    s, k = table.shape
    if k < 2:
        raise ValueError(f"means must hold at least K = 2 arms per row, got {k}")
    if isinstance(change_steps, (str, bytes)) or not isinstance(
        change_steps, Sequence | np.ndarray
    ):
        raise TypeError(f"change_steps must be a sequence of steps, got {change_steps!r}")
    changes = np.array([check_int("change_steps", c, minimum=2) for c in change_steps], dtype=int)
    if len(changes) != s - 1 or np.any(np.diff(changes) <= 0):
        raise ValueError(
            f"change_steps must be {s - 1} increasing steps >= 2 (one per row of means after "
            f"the first), got {list(change_steps)}"
        )
    return table[:, None, :], changes


class PiecewiseStationaryBandit(_ArmBandit):
    """``K`` arms whose expected rewards jump at stated steps (SMPyBandits' piecewise MAB).

    Row ``s`` of ``means`` holds from step ``change_steps[s - 1]`` (1-based) up to the next
    change; the first row from step 1. Regret is measured against the best arm of each step
    (``comparator="per_step"``, the tracking regret of the non-stationary literature) or
    against the single arm with the largest total expected reward over the horizon
    (``"best_fixed"``, the adversarial definition).

    Parameters
    ----------
    means
        ``(S, K)`` expected rewards, one row per segment, ``K >= 2``.
    change_steps
        ``S - 1`` increasing steps ``>= 2`` at which the next row starts.
    reward
        A reward or noise model, as for :class:`MultiArmedBandit` (default Bernoulli).
    comparator
        ``"per_step"`` or ``"best_fixed"``.
    shuffle_arms
        Relabel the arms of every replicate by a permutation drawn from its seed (a stream apart
        from its rewards), so that no rule gains from the order of the arms.
    horizon, n_replicates, seed, block_size
        As for :class:`MultiArmedBandit`.

    Examples
    --------
    >>> env = PiecewiseStationaryBandit([[0.9, 0.1], [0.1, 0.9]], [3], horizon=4, seed=0)
    >>> [env.means_at(t).tolist() for t in (1, 2, 3, 4)]
    [[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9]]
    """

    def __init__(
        self,
        means: Any,
        change_steps: Any,
        *,
        reward: RewardModel | Noise | None = None,
        comparator: str = "per_step",
        shuffle_arms: bool = False,
        horizon: int = 10_000,
        n_replicates: int | None = None,
        seed: SeedLike = None,
        block_size: int | None = None,
    ) -> None:
        self.means = means
        self.change_steps = change_steps
        self.reward = reward
        self.comparator = comparator
        self.shuffle_arms = shuffle_arms
        self.horizon = horizon
        self.n_replicates = n_replicates
        self.seed = seed
        self.block_size = block_size
        table, changes = _segments(means, change_steps)
        self.n_actions = table.shape[-1]
        self._setup(table, changes, reward, seed, comparator, shuffle_arms)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(means={np.asarray(self.means).tolist()}, "
            f"change_steps={list(self.change_steps)}, reward={self._reward!r}, "
            f"comparator={self.comparator!r}, shuffle_arms={self.shuffle_arms}, "
            f"horizon={self.horizon}, n_replicates={self.n_replicates})"
        )


class AdversarialBandit(PiecewiseStationaryBandit):
    """An oblivious adversary for EXP3: arms whose means switch, regret against the best fixed
    arm in hindsight, arm labels shuffled per replicate.

    The same as :class:`PiecewiseStationaryBandit` with ``comparator="best_fixed"`` and
    ``shuffle_arms=True``: the sequence of expected rewards is fixed before the run (oblivious),
    and the regret is ``sum_t mu_t(a*) - mu_t(a_t)`` with ``a* = argmax_a sum_t mu_t(a)`` over
    the whole horizon (the pseudo-regret of Auer et al. 2002), which may be negative at a
    checkpoint. The default instance swaps two arms' roles after 30% of the horizon, so that
    a rule that locks on the early leader loses against the arm that wins overall.

    Examples
    --------
    >>> env = AdversarialBandit(horizon=100, n_replicates=3, seed=0)
    >>> env.change_steps, env.best_fixed_arm.shape
    ([31], (3,))
    """

    def __init__(
        self,
        means: Any = ((0.8, 0.4), (0.2, 0.6)),
        change_steps: Any = None,
        *,
        reward: RewardModel | Noise | None = None,
        comparator: str = "best_fixed",
        shuffle_arms: bool = True,
        horizon: int = 10_000,
        n_replicates: int | None = None,
        seed: SeedLike = None,
        block_size: int | None = None,
    ) -> None:
        if change_steps is None:
            change_steps = [max(2, int(0.3 * check_int("horizon", horizon, minimum=1)) + 1)]
        super().__init__(
            means,
            change_steps,
            reward=reward,
            comparator=comparator,
            shuffle_arms=shuffle_arms,
            horizon=horizon,
            n_replicates=n_replicates,
            seed=seed,
            block_size=block_size,
        )
