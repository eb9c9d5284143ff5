"""The seed's multilevel data (seed 004) as a streaming environment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_module
from regretlab._random import SeedLike, children, replicate_seeds
from regretlab._validation import check_int, check_real
from regretlab.environments._contributors import (
    EXAMPLES,
    Coefficients,
    _centred,
    _parse_cross_levels,
    _setting,
    align_coefficients,
    random_coefficients,
)
from regretlab.environments._steps import steps
from regretlab.environments.interactions import Observations
from regretlab.environments.noise import Gaussian, Noise, resolve_noise
from regretlab.features import LevelFeatures

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

__all__ = ["EXAMPLES", "MultilevelStream", "align_coefficients", "random_coefficients"]

# Observations are drawn in chunks of this many rows, each from its own child seed, so any row
# range is reproducible on its own: what a row holds depends on the seed and its position only,
# never on the horizon or the block size used to read it.
_CHUNK = 4096


def _variance_factor(noise: Noise) -> float:
    try:
        sd = noise.sd(None)
    except ValueError:
        return np.nan
    return float(sd) ** 2 if np.ndim(sd) == 0 else np.nan


class MultilevelStream:
    """Targets that are sums of contributions, one contributor per level (the seed's ``gen_data``).

    Level ``l`` has contributors ``k = 0 .. m_l - 1``, each a normal ``N(mu_lk, sigma_lk)``.
    Every observation picks one contributor per level uniformly at random and its target is the
    sum of their draws (plus ``baseline`` and any cross-level effects). Means are aligned to sum
    to zero within each level (the seed's ``align_coefficients``), which discards each level's
    average, level 0's included; ``baseline`` puts an overall mean back.

    An observation is ``Observations(x, y, mean)``: ``x`` holds the chosen contributor of every
    level as ``int64`` indices ``(..., L)`` (the seed's ``contributers`` matrix, which
    :attr:`features` one-hot encodes), ``y`` the target and ``mean`` its expectation given the
    chosen contributors. The noise variance of a row, ``sum_l sigma_{l,k_l}^2``, depends on the
    contributors chosen: the seed's data are heteroscedastic.

    Parameters
    ----------
    contributors
        ``"cc_01"`` or ``"cc_02"`` (the seed's examples), or ``{level: {contributor: (mu,
        sigma)}}`` with contributors numbered ``0 .. m - 1`` and levels numbered ``0 .. L - 1``
        or named by strings. ``None`` means ``"cc_02"`` unless ``n_contributors`` is given.
    n_contributors, contributor_avg, contributor_sig
        Random settings as the seed's ``gen_contributer_coefficients``: contributors per level,
        the mean of the contributors' means, and the log-scale location of their sds. Each
        replicate draws its own.
    cross_levels
        ``[(level_a, level_b, scale), ..]``: the combination ``(i, j)`` of the two levels adds
        ``gamma_ij``, drawn ``scale * N(0, 1)`` per replicate and double-centred (rows and
        columns sum to zero), so it is a pure interaction that leaves the level means as they
        are. Off by default.
    baseline
        Overall mean added to every target (carried by level 0's columns in ``true_weights``).
    noise
        The noise model of every contributor's shock (:mod:`regretlab.environments.noise`): a
        row's noise is ``sum_l sigma_{l,k_l} * e_l`` with ``e`` drawn ``(rows, L)`` by the model,
        the rows' contributor indices as its inputs. ``None`` is ``Gaussian(1.0)`` (the seed's
        normals, the same draws as before noise models existed); ``StudentT(df=3)`` keeps every
        contributor's sd and makes its tails heavy.
    horizon
        Number of observations (the seed's ``n_samples``).
    n_replicates
        ``None`` for one stream (arrays without the replicate axis), else ``R`` replicates each
        with its own child of ``seed``.
    seed
        Root seed; per replicate one child draws the coefficients, another the observations.
    block_size
        Observations per block while streaming (it does not change the data).

    Examples
    --------
    >>> env = MultilevelStream(contributors="cc_02", horizon=5, seed=0)
    >>> env.features.names
    ('x0_0', 'x1_0', 'x1_1', 'x1_2', 'x1_3')
    >>> env.true_weights
    array([ 0., -1., -1., -1.,  3.])
    >>> obs = env.take(5)
    >>> obs.x.shape, obs.x.dtype, obs.y.shape
    ((5, 2), dtype('int64'), (5,))
    >>> bool(np.allclose(env.features.transform(obs.x) @ env.true_weights, obs.mean))
    True
    >>> env = MultilevelStream(n_contributors=[2, 3, 5], cross_levels=[(1, 2, 1.0)],
    ...                        horizon=10, n_replicates=4, seed=1)
    >>> env.true_weights.shape, env.take(10).x.shape
    ((4, 25), (4, 10, 3))
    """

    def __init__(
        self,
        *,
        contributors: str | Mapping[Any, Mapping[int, tuple[float, float]]] | None = None,
        n_contributors: Sequence[int] | None = None,
        contributor_avg: float = 0.0,
        contributor_sig: float = 0.0,
        cross_levels: Sequence[tuple[Any, Any, float]] | None = None,
        baseline: float = 0.0,
        noise: Noise | None = None,
        horizon: int = 10_000,
        n_replicates: int | None = None,
        seed: SeedLike = None,
        block_size: int = _CHUNK,
    ) -> None:
        self.contributors = contributors
        self.n_contributors = n_contributors
        self.contributor_avg = contributor_avg
        self.contributor_sig = contributor_sig
        self.cross_levels = cross_levels
        self.baseline = baseline
        self.noise = noise
        self.horizon = horizon
        self.n_replicates = n_replicates
        self.seed = seed
        self.block_size = block_size
        check_real("contributor_avg", contributor_avg)
        check_real("contributor_sig", contributor_sig)
        self._baseline = check_real("baseline", baseline)
        self._noise = Gaussian(1.0) if noise is None else resolve_noise(noise, 1.0)
        check_int("horizon", horizon, minimum=1)
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
        check_int("block_size", block_size, minimum=1)
        fixed, keys, counts = _setting(contributors, n_contributors)
        levels: Any = (
            counts if keys == list(range(len(keys))) else dict(zip(keys, counts, strict=True))
        )
        self._pairs, scales = _parse_cross_levels(cross_levels, keys, counts)
        self.features = LevelFeatures(levels, cross=[(keys[a], keys[b]) for a, b in self._pairs])
        self._counts = np.asarray(counts)
        self._offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
        self._coefficients: list[Coefficients] = []
        self._data_seeds: list[np.random.SeedSequence] = []
        mus, sds, gammas = [], [], []
        for child in replicate_seeds(seed, n_replicates):
            coef_seed, data_seed = children(child, 2)
            gen = np.random.default_rng(coef_seed)
            table = fixed or random_coefficients(counts, contributor_avg, contributor_sig, gen)
            self._coefficients.append(table)
            mus.append([mu for level in table.values() for mu, _ in level.values()])
            sds.append([sd for level in table.values() for _, sd in level.values()])
            gammas.append(
                [
                    _centred(gen.standard_normal((counts[a], counts[b]))) * s
                    for (a, b), s in zip(self._pairs, scales, strict=True)
                ]
            )
            self._data_seeds.append(data_seed)
        self._mu = np.asarray(mus, dtype=float)
        self._sd = np.asarray(sds, dtype=float)
        self._gamma = [np.stack([g[i] for g in gammas]) for i in range(len(self._pairs))]

    # -- the truth ----------------------------------------------------------------------------
    def _drop(self, array: np.ndarray) -> np.ndarray:
        return array if self.n_replicates is not None else array[0]

    @property
    def true_weights(self) -> np.ndarray:
        """Weights of ``features.transform(x)``, ``(..., p)``: the aligned means per level
        (``baseline`` added to level 0's), then the cross effects ``a``-major."""
        main = self._mu.copy()
        main[:, : self._counts[0]] += self._baseline
        parts = [main] + [g.reshape(len(g), -1) for g in self._gamma]
        return self._drop(np.concatenate(parts, axis=1))

    @property
    def contributor_sd(self) -> np.ndarray:
        """Every contributor's sd, in the order of the level columns, ``(..., sum m_l)``."""
        return self._drop(self._sd.copy())

    @property
    def noise_variance(self) -> np.ndarray | float:
        """Noise variance averaged over rows, ``sum_l mean_k sigma_lk^2`` (per replicate).

        Times the noise model's variance when it does not depend on the inputs; NaN when it
        does (:class:`~regretlab.environments.noise.Heteroscedastic`, ``Custom``).
        """
        var = self._sd**2 * _variance_factor(self._noise)
        total = sum(
            var[:, o : o + m].mean(axis=1) for o, m in zip(self._offsets, self._counts, strict=True)
        )
        return total if self.n_replicates is not None else float(total[0])

    @property
    def coefficients(self) -> Coefficients | list[Coefficients]:
        """The aligned ``{level: {contributor: (mu, sigma)}}`` (a list, one per replicate)."""
        copies = [{lv: dict(t) for lv, t in c.items()} for c in self._coefficients]
        return copies if self.n_replicates is not None else copies[0]

    def true_contributions(self) -> pd.DataFrame:
        """The truth in the form of :func:`regretlab.multilevel.aligned_contributions`.

        Columns ``[replicate,] term, level, contributor, name, truth, sd``: ``truth`` is the
        aligned mean (``baseline`` for the grand mean, the double-centred effect for cross
        terms) and ``sd`` the contributor's sigma (NaN where it does not apply).
        """
        from regretlab.multilevel import aligned_contributions

        table = aligned_contributions(self.true_weights, None, self.features)
        table = table.drop(columns=["sd", "lower", "upper"]).rename(columns={"estimate": "truth"})
        n_rows = len(table) // len(self._sd)
        sd = np.full((len(self._sd), n_rows), np.nan)
        sd[:, 1 : 1 + self._sd.shape[1]] = self._sd
        table["sd"] = sd.ravel()
        return table

    # -- drawing ------------------------------------------------------------------------------
    def _chunk(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ``c`` of every replicate: indices and standard normals, ``(R, CHUNK, L)``."""
        idx, z = [], []
        shape = (_CHUNK, len(self._counts))
        for root in self._data_seeds:
            child = np.random.SeedSequence(
                root.entropy, spawn_key=(*root.spawn_key, c), pool_size=root.pool_size
            )
            gen = np.random.default_rng(child)
            rows = gen.integers(0, self._counts, size=shape)
            idx.append(rows)
            z.append(self._noise.sample(gen, shape, rows))
        return np.stack(idx), np.stack(z)

    def _rows(self, start: int, stop: int, cache: dict[int, tuple]) -> Observations:
        parts_i, parts_z = [], []
        for c in range(start // _CHUNK, (stop - 1) // _CHUNK + 1 if stop > start else 0):
            if c not in cache:
                cache.clear()
                cache[c] = self._chunk(c)
            lo, hi = max(start - c * _CHUNK, 0), min(stop - c * _CHUNK, _CHUNK)
            parts_i.append(cache[c][0][:, lo:hi])
            parts_z.append(cache[c][1][:, lo:hi])
        r, n_levels = len(self._data_seeds), len(self._counts)
        idx = np.concatenate(parts_i, axis=1) if parts_i else np.zeros((r, 0, n_levels), int)
        z = np.concatenate(parts_z, axis=1) if parts_z else np.zeros((r, 0, n_levels))
        return self._observe(idx, z)

    def _observe(self, idx: np.ndarray, z: np.ndarray) -> Observations:
        cols = idx + self._offsets
        reps = np.arange(len(idx))[:, None, None]
        mean = self._mu[reps, cols].sum(axis=-1) + self._baseline
        for (a, b), gamma in zip(self._pairs, self._gamma, strict=True):
            mean += gamma[reps[..., 0], idx[..., a], idx[..., b]]
        y = mean + (self._sd[reps, cols] * z).sum(axis=-1)
        if self.n_replicates is None:
            return Observations(idx[0], y[0], mean[0])
        return Observations(idx, y, mean)

    def take(self, stop: int, start: int = 0) -> Observations:
        """Observations ``start .. stop - 1`` as blocks ``(..., stop - start, ...)``."""
        check_int("stop", stop, minimum=0)
        check_int("start", start, minimum=0)
        if not start <= stop <= self.horizon:
            raise ValueError(
                f"need 0 <= start <= stop <= horizon={self.horizon}, got start={start}, stop={stop}"
            )
        return self._rows(start, stop, {})

    def blocks(self, block_size: int | None = None) -> Iterator[Observations]:
        """Consecutive blocks of up to ``block_size`` observations, from the start."""
        size = (
            self.block_size
            if block_size is None
            else check_int("block_size", block_size, minimum=1)
        )
        cache: dict[int, tuple] = {}
        for start in range(0, self.horizon, size):
            yield self._rows(start, min(start + size, self.horizon), cache)

    def __iter__(self) -> Iterator[Observations]:
        """One observation per step, ``horizon`` steps."""
        return steps(self.blocks(), self.n_replicates is None)

    def __repr__(self) -> str:
        named = self.contributors if isinstance(self.contributors, str) else "custom"
        what = (
            f"n_contributors={list(self.n_contributors)}"
            if self.n_contributors is not None
            else f"contributors={'cc_02' if self.contributors is None else named!r}"
        )
        cross = "" if self.cross_levels is None else f", cross_levels={list(self.cross_levels)}"
        return (
            f"MultilevelStream({what}{cross}, horizon={self.horizon}, "
            f"n_replicates={self.n_replicates})"
        )
