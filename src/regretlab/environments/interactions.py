"""The seed study's data generator as a streaming environment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from regretlab._random import SeedLike, pcg64_at, replicate_seeds
from regretlab._validation import check_int, check_real
from regretlab.environments._steps import steps
from regretlab.environments._sums import add_upper_quadratic, sum_products
from regretlab.environments.noise import Gaussian, Noise, resolve_noise
from regretlab.features import InteractionFeatures
from regretlab.learners._pcg64_kernel import compiled_stream_draws, pack_states

__all__ = ["InteractionStream", "Observations"]

# Elements per chunk of ``_means`` (256 kB arrays): measured best of 2**12 .. 2**16 on Zen 3.
_MEANS_CHUNK = 2**15


class Observations(NamedTuple):
    """Raw inputs ``x`` ``(..., x_dim)``, targets ``y`` and noise-free means ``mean`` ``(...)``.

    One step has no row axis; a block has the rows on the axis after the replicate axis.

    >>> block = InteractionStream(x_dim=2, horizon=10, n_replicates=3, seed=0).take(10)
    >>> block.x.shape, block.y.shape, block.mean.shape
    ((3, 10, 2), (3, 10), (3, 10))
    """

    x: np.ndarray
    y: np.ndarray
    mean: np.ndarray


class InteractionStream:
    """Linear data with pairwise interactions, drawn exactly as the seed notebook draws them.

    ``y = bias + x'w_main + interaction_scale * (x_i x_j)'w_pair + noise_level * N(0, 1)`` with
    inputs, bias and weights uniform on [-1, 1]. Per replicate, one generator makes the draws in
    the notebook's order: all ``horizon x x_dim`` inputs, then the bias, then the weights, then
    ``horizon`` noise values. The stream still makes them one block at a time: the weights'
    position in the generator's output is reached with ``PCG64.advance`` (a uniform double costs
    exactly one 64-bit output), so nothing of size ``horizon`` is held in memory.

    The options below change the truth or the noise without moving any of those draws: at their
    defaults the stream is the notebook's, bit for bit, and two streams with the same seed that
    differ only in them share their inputs and noise shocks (common random numbers across
    settings).

    Parameters
    ----------
    x_dim, noise_level, interaction_scale
        As in the seed's ``gen_data``.
    main_scale
        Half-width of the main-effect weights, ``w_main ~ U(-main_scale, main_scale)`` (the
        notebook's draws times ``main_scale``).
    intercept
        ``None`` keeps the drawn bias ``U(-1, 1)``; a number replaces it (the bias is still
        drawn, so nothing else moves).
    interaction_density
        Fraction of the pairwise weights that are nonzero: ``round(density * n_pairs)`` of them,
        chosen per replicate uniformly at random, keep their drawn values and the others are 0.
        The choice comes from the replicate's generator jumped past all of the draws above
        (``PCG64.jumped()``), so the inputs, the other weights and the noise do not move.
    noise
        A noise model (:mod:`regretlab.environments.noise`), drawn from the replicate's noise
        stream with the rows' inputs ``x``; ``None`` is ``Gaussian(noise_level)``, the
        notebook's noise. When given, ``noise_level`` is not used.
    horizon
        Number of observations (the seed's ``n``); part of the draw order, hence required.
    n_replicates
        ``None`` for one stream (arrays without the replicate axis), else ``R`` replicates each
        with its own child of ``seed``.
    seed
        ``seed=0`` with ``n_replicates=None`` reproduces ``numpy.random.default_rng(0)`` in the
        notebook.
    block_size
        Observations generated per block while streaming.

    Examples
    --------
    >>> env = InteractionStream(x_dim=2, horizon=3, seed=0)
    >>> env.features.names
    ('1', 'x0', 'x1', 'x0 x1')
    >>> env.true_weights.shape
    (4,)
    >>> [step.x.shape for step in env]
    [(2,), (2,), (2,)]
    >>> env.take(3).y.shape
    (3,)
    >>> InteractionStream(horizon=5, n_replicates=4, seed=1).take(5).x.shape
    (4, 5, 6)
    """

    def __init__(
        self,
        *,
        x_dim: int = 6,
        noise_level: float = 2.0,
        interaction_scale: float = 0.01,
        main_scale: float = 1.0,
        intercept: float | None = None,
        interaction_density: float = 1.0,
        noise: Noise | None = None,
        horizon: int = 100_000,
        n_replicates: int | None = None,
        seed: SeedLike = None,
        block_size: int = 4096,
    ) -> None:
        self.x_dim = x_dim
        self.noise_level = noise_level
        self.interaction_scale = interaction_scale
        self.main_scale = main_scale
        self.intercept = intercept
        self.interaction_density = interaction_density
        self.noise = noise
        self.horizon = horizon
        self.n_replicates = n_replicates
        self.seed = seed
        self.block_size = block_size
        check_int("x_dim", x_dim, minimum=1)
        check_real("noise_level", noise_level, minimum=0.0)
        check_real("interaction_scale", interaction_scale)
        check_real("main_scale", main_scale, minimum=0.0)
        if intercept is not None:
            check_real("intercept", intercept)
        check_real("interaction_density", interaction_density, minimum=0.0, maximum=1.0)
        self._noise = resolve_noise(noise, noise_level)
        check_int("horizon", horizon, minimum=1)
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
        check_int("block_size", block_size, minimum=1)
        self.features = InteractionFeatures(x_dim)
        # Each replicate's start states as ``PCG64.state`` dicts: 5 MB per 10,000 states
        # against 14 MB as PCG64 objects (measured as resident memory).
        self._x_start: list[Any] = []
        self._noise_start: list[Any] = []
        weights = []
        for child in replicate_seeds(seed, n_replicates):
            bits = np.random.PCG64(child)
            self._x_start.append(bits.state)
            bits.advance(horizon * x_dim)
            gen = np.random.Generator(bits)
            bias = gen.uniform(-1, 1, size=1)
            w = gen.uniform(-1, 1, size=self.features.n_features - 1)
            self._noise_start.append(bits.state)
            pick = None
            if interaction_density < 1.0:
                pick = np.random.Generator(np.random.PCG64(child).jumped())
            weights.append(self._shape_weights(bias, w, pick))
        stacked = np.stack(weights)
        self._weights = stacked if n_replicates is not None else stacked[0]
        # The mean as bias + x'w + x'Wx with W the strictly upper-triangular pairwise weights:
        # no design matrix is built to compute it (a block's design is 3.7x the inputs' size).
        # Weights are held replicates-last, (p, R) and W as (d, d, R), for ``_means``.
        d = x_dim
        self._rows = np.ascontiguousarray(stacked.T)
        self._pairs = np.zeros((d, d, len(stacked)))
        left, right = np.triu_indices(d, k=1)
        self._pairs[left, right] = self._rows[1 + d :]

    def _shape_weights(
        self, bias: np.ndarray, w: np.ndarray, pick: np.random.Generator | None
    ) -> np.ndarray:
        """Drawn ``U(-1, 1)`` bias and weights scaled, replaced and thinned as configured."""
        d = self.x_dim
        w[d:] = self.interaction_scale * w[d:]
        if self.main_scale != 1.0:
            w[:d] = self.main_scale * w[:d]
        if self.intercept is not None:
            bias = np.array([float(self.intercept)])
        if pick is not None:
            n_pairs = len(w) - d
            keep = int(np.floor(self.interaction_density * n_pairs + 0.5))
            w[d + pick.permutation(n_pairs)[keep:]] = 0.0
        return np.concatenate([bias, w])

    def draw_true_weights(self, rng: np.random.Generator) -> np.ndarray:
        """One replicate's weights ``(p,)`` drawn with ``rng`` from this stream's distribution.

        The bias and weights come first, as in the stream; the choice of the nonzero pairwise
        weights (``interaction_density < 1``) then comes from ``rng`` as well.
        """
        bias = rng.uniform(-1, 1, size=1)
        w = rng.uniform(-1, 1, size=self.features.n_features - 1)
        return self._shape_weights(bias, w, rng if self.interaction_density < 1.0 else None)

    @property
    def true_weights(self) -> np.ndarray:
        """Weights of the design ``features.transform(x)``: bias first, ``(..., p)``."""
        return self._weights.copy()

    def take(self, stop: int, start: int = 0) -> Observations:
        """Observations ``start .. stop - 1`` as blocks ``(..., stop - start, ...)``."""
        check_int("stop", stop, minimum=0)
        check_int("start", start, minimum=0)
        if not start <= stop <= self.horizon:
            raise ValueError(
                f"need 0 <= start <= stop <= horizon={self.horizon}, got start={start}, stop={stop}"
            )
        xs, noises = [], []
        for x_state, noise_state in zip(self._x_start, self._noise_start, strict=True):
            noise_gen = np.random.Generator(pcg64_at(noise_state))
            # Normal draws use a variable number of 64-bit outputs, so the noise of earlier
            # rows is drawn and dropped, a block at a time, rather than skipped (with the rows'
            # inputs when the noise model's shocks read them).
            skipped = None
            if self._noise.shocks_need_inputs:
                skipped = np.random.Generator(pcg64_at(x_state))
            for done in range(0, start, self.block_size):
                m = min(self.block_size, start - done)
                rows = None if skipped is None else skipped.uniform(-1, 1, size=(m, self.x_dim))
                self._noise.shocks(noise_gen, (m,), rows)
            x_gen = np.random.Generator(pcg64_at(x_state, start * self.x_dim))
            x = x_gen.uniform(-1, 1, size=(stop - start, self.x_dim))
            xs.append(x)
            noises.append(self._noise.sample(noise_gen, (stop - start,), x))
        return self._observe(np.stack(xs), np.stack(noises))

    def _observe(self, x: np.ndarray, noise: np.ndarray) -> Observations:
        mean = self._means(x)
        y = mean + noise
        if self.n_replicates is None:
            return Observations(x[0], y[0], mean[0])
        return Observations(x, y, mean)

    def _means(self, x: np.ndarray) -> np.ndarray:
        """Expected values ``(R, m)`` of inputs ``(R, m, d)``, summed in a fixed order.

        ``bias + (x_1 w_1 + ... + x_d w_d)``, then ``+ x_j (x_1 W_1j + ... + x_{j-1} W_{j-1,j})``
        for ``j = 2..d``, left to right (``_sums``), not ``@``/``einsum``, whose kernels depend on
        the block's shape and the CPU: a step's mean is the same bits in any block, on any
        machine. A few steps at a time, replicates last, so every product runs over contiguous
        memory that stays in cache.
        """
        r, m, d = x.shape
        w = self._rows
        mean = np.empty((r, m))
        size = max(1, _MEANS_CHUNK // r)
        for lo in range(0, m, size):
            columns = np.ascontiguousarray(x[:, lo : lo + size].transpose(2, 1, 0))  # (d, s, R)
            part = w[0] + sum_products(columns, w[1 : 1 + d])
            add_upper_quadratic(part, columns, self._pairs)
            mean[:, lo : lo + size] = part.T
        return mean

    def blocks(self, block_size: int | None = None) -> Iterator[Observations]:
        """Consecutive blocks of up to ``block_size`` observations, from the start."""
        size = (
            self.block_size
            if block_size is None
            else check_int("block_size", block_size, minimum=1)
        )
        draws = compiled_stream_draws() if type(self._noise) is Gaussian else None
        if draws is not None:
            yield from self._compiled_blocks(draws, size)
            return
        x_gens = [np.random.Generator(pcg64_at(state)) for state in self._x_start]
        noise_gens = [np.random.Generator(pcg64_at(state)) for state in self._noise_start]
        for start in range(0, self.horizon, size):
            m = min(size, self.horizon - start)
            # Each replicate's rows are written in place (no per-replicate arrays to stack):
            # uniform(-1, 1) is -1 + 2 u with u = random(), bit for bit (2 u is exact), and
            # random(out=) costs less than half of uniform's per-call overhead.
            x = np.empty((len(x_gens), m, self.x_dim))
            for g, x_r in zip(x_gens, x, strict=True):
                g.random(out=x_r)
            x *= 2.0
            x -= 1.0
            noise = self._noise.sample_replicates(noise_gens, x, np.empty((len(x_gens), m)))
            yield self._observe(x, noise)

    def _compiled_blocks(self, draws: Any, size: int) -> Iterator[Observations]:
        """:meth:`blocks` with Gaussian noise, every replicate's generators stepped by one
        compiled loop (``learners/_pcg64_kernel``) instead of two numpy calls per replicate
        per block (about 1.3 ms a block at R = 1000, x_dim 6): the same numbers."""
        x_states = pack_states(self._x_start)
        noise_states = pack_states(self._noise_start)
        scale = float(self._noise.multiplier(None))  # Gaussian: its scale
        for start in range(0, self.horizon, size):
            m = min(size, self.horizon - start)
            x, noise = np.empty((len(x_states), m, self.x_dim)), np.empty((len(x_states), m))
            draws(x_states, noise_states, x, noise)
            yield self._observe(x, np.multiply(noise, scale, out=noise))

    def __iter__(self) -> Iterator[Observations]:
        """One observation per step, ``horizon`` steps."""
        return steps(self.blocks(), self.n_replicates is None)

    def __repr__(self) -> str:
        options = {
            "main_scale": (self.main_scale, 1.0),
            "intercept": (self.intercept, None),
            "interaction_density": (self.interaction_density, 1.0),
            "noise": (self.noise, None),
        }
        extra = "".join(f", {k}={v!r}" for k, (v, default) in options.items() if v != default)
        return (
            f"InteractionStream(x_dim={self.x_dim}, noise_level={self.noise_level}, "
            f"interaction_scale={self.interaction_scale}{extra}, horizon={self.horizon}, "
            f"n_replicates={self.n_replicates})"
        )
