"""Convergence against data size: the seed study, computed from prefix sufficient statistics.

For every data size ``s`` each model is fitted on the first ``s`` training rows and scored by
mean squared error on the held-out half, for all replicates at once. The training half is read
once: statistics are accumulated block by block and snapshotted at every size, the test half is
reduced to ``X'X, X'y, y'y``, and a fit's test MSE is the quadratic form
``(w'X'Xw - 2 w'X'y + y'y) / n_test``; no model is refitted from the raw rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from regretlab._validation import check_int
from regretlab.environments.interactions import InteractionStream
from regretlab.learners import stats as ss
from regretlab.learners.reference import BatchFit

__all__ = ["convergence_study", "seed_data_sizes"]


def seed_data_sizes(n_train: int, n_points: int = 20) -> np.ndarray:
    """The seed notebook's log-spaced training sizes: 10 up to ``n_train``, duplicates dropped.

    >>> seed_data_sizes(50_000)
    array([   10,    16,    26,    42,    69,   112,   183,   297,   483,
             784,  1274,  2069,  3359,  5455,  8858, 14384, 23357, 37926,
           50000])
    """
    check_int("n_train", n_train, minimum=1)
    check_int("n_points", n_points, minimum=1)
    top = math.ceil(math.log10(n_train)) if n_train > 1 else 1
    sizes = np.logspace(1, top, n_points).astype(int)
    return np.unique(np.clip(sizes, 1, n_train))


def _check_sizes(data_sizes: Iterable[int]) -> np.ndarray:
    if isinstance(data_sizes, str) or not isinstance(data_sizes, Iterable):
        raise TypeError(f"data_sizes must be a sequence of integers, got {data_sizes!r}")
    values = list(data_sizes)
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int | np.integer)]
    if bad:
        raise TypeError(f"data_sizes must hold integers, got {bad[0]!r}")
    return np.asarray(values, dtype=int)


def _split_points(sizes: np.ndarray, start: int, stop: int) -> Iterable[tuple[int, int, bool]]:
    """Sub-ranges of ``[start, stop)`` cut at the sizes inside it; flag = a size ends there."""
    cuts = [int(s) for s in sizes if start < s <= stop]
    lo = start
    for cut in cuts:
        yield lo, cut, True
        lo = cut
    if lo < stop:
        yield lo, stop, False


def convergence_study(
    env: InteractionStream,
    models: Mapping[str, BatchFit],
    *,
    data_sizes: Iterable[int] | None = None,
    skip_first_row: bool = False,
    block_rows: int | None = None,
) -> pd.DataFrame:
    """Test MSE of every model at every training size, for every replicate of ``env``.

    The first ``horizon // 2`` observations are the training half, the rest the test half, as
    in the seed notebook.

    Parameters
    ----------
    env
        The data; its replicates are the study's replicates.
    models
        ``{name: fit}`` where each fit has ``coef(stats, groups)`` (see
        :mod:`regretlab.learners.reference`).
    data_sizes
        Training sizes; default :func:`seed_data_sizes` of the training half.
    skip_first_row
        Train on rows ``1 .. s - 1`` instead of ``0 .. s - 1``. The seed notebook slices
        ``x_train[1:s]`` (dropping row 0); this reproduces its published table. Off by default.
    block_rows
        Rows read per block; default keeps a block's design near 16 MB.

    Returns
    -------
    A tidy table with columns ``model, data_size, replicate, mse``.

    Examples
    --------
    >>> from regretlab.learners import LeastSquares
    >>> env = InteractionStream(x_dim=2, horizon=200, n_replicates=3, seed=0)
    >>> table = convergence_study(env, {"ols": LeastSquares()}, data_sizes=[10, 100])
    >>> table.shape, list(table.columns)
    ((6, 4), ['model', 'data_size', 'replicate', 'mse'])
    """
    if not isinstance(models, Mapping) or not models:
        raise TypeError(f"models must be a non-empty mapping of name to fit, got {models!r}")
    n_train = env.horizon // 2
    if n_train < 1 or env.horizon - n_train < 1:
        raise ValueError(f"env.horizon must be >= 2 to split train and test, got {env.horizon}")
    sizes = seed_data_sizes(n_train) if data_sizes is None else _check_sizes(data_sizes)
    if sizes.ndim != 1 or len(sizes) == 0 or np.any(np.diff(sizes) <= 0):
        raise ValueError(f"data_sizes must be increasing, got {sizes.tolist()}")
    if sizes[0] < 1 + skip_first_row or sizes[-1] > n_train:
        raise ValueError(
            f"data_sizes must lie in [{1 + skip_first_row}, {n_train}] (the training half), "
            f"got {sizes.tolist()}"
        )
    features = env.features
    p = features.n_features
    batch = () if env.n_replicates is None else (env.n_replicates,)
    rows = block_rows or max(64, 2**21 // (p * max(1, math.prod(batch))))

    train = ss.empty(batch, p)
    snapshots: list[ss.SufficientStats] = []
    test = ss.empty(batch, p)
    offset = 0
    buffer: np.ndarray | None = None
    for block in env.blocks(rows):
        m = block.y.shape[-1]
        if buffer is None or buffer.shape[:-1] != block.x.shape[:-1]:
            buffer = np.empty((*block.x.shape[:-1], p))
        design = features.transform(block.x, out=buffer)
        for lo, hi, is_stop in _split_points(sizes, offset, offset + m):
            a, b = lo - offset, hi - offset
            if hi <= n_train:
                a = max(a, 1 - offset) if skip_first_row else a
                if b > a:
                    part = ss.from_rows(design[..., a:b, :], block.y[..., a:b])
                    train = ss.combine(train, part)
                if is_stop:
                    snapshots.append(train)
        lo = max(n_train - offset, 0)
        if lo < m:
            test = ss.combine(test, ss.from_rows(design[..., lo:, :], block.y[..., lo:]))
        offset += m

    # Data sizes on the axis after the replicates: (..., S, p, p).
    axis = len(batch)
    prefix = ss.SufficientStats(
        *(np.stack(parts, axis=axis) for parts in zip(*snapshots, strict=True))
    )
    frames = []
    for name, fit in models.items():
        coef = fit.coef(prefix, features.groups)
        mse = _test_mse(coef, test, axis)
        frames.append(_tidy(name, sizes, mse, batch))
    return pd.concat(frames, ignore_index=True)


def _test_mse(coef: np.ndarray, test: ss.SufficientStats, axis: int) -> np.ndarray:
    """``(w'Qw - 2 w'c + y'y) / n`` with the test statistics broadcast over data sizes."""
    q = np.expand_dims(test.xtx, axis)
    c = np.expand_dims(test.xty, axis)
    quad = np.einsum("...p,...pq,...q->...", coef, q, coef)
    cross = np.einsum("...p,...p->...", coef, c)
    yty = np.expand_dims(test.yty, axis)
    n = np.expand_dims(test.n, axis)
    return (quad - 2.0 * cross + yty) / n


def _tidy(name: str, sizes: np.ndarray, mse: np.ndarray, batch: tuple[int, ...]) -> pd.DataFrame:
    mse = mse.reshape(-1, len(sizes))
    n_rep = mse.shape[0]
    return pd.DataFrame(
        {
            "model": name,
            "data_size": np.tile(sizes, n_rep),
            "replicate": np.repeat(np.arange(n_rep), len(sizes)),
            "mse": mse.ravel(),
        }
    )
