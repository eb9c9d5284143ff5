"""Contributions in the seed's sum-to-zero form, with credible intervals.

One-hot weights are not identified (a constant moves freely between levels), but the
decomposition of the fitted cell means into a grand mean, per-level contributions that sum to
zero, and double-centred cross-level effects is. It is the ANOVA decomposition under the
uniform choice of contributors (how :class:`~regretlab.environments.MultilevelStream` draws),
and linear in the weights: ``c = A w``. So a Gaussian posterior ``N(m, S)`` gives
``N(A m, A S A')`` exactly, and the seed's ``align_coefficients`` applied to the truth is the
same map applied to ``true_weights``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_module
from regretlab._validation import as_float_array, check_real
from regretlab.features import LevelFeatures

if TYPE_CHECKING:
    import pandas as pd
    from scipy import stats
else:
    pd = lazy_module("pandas")
    stats = lazy_module("scipy.stats")

__all__ = ["aligned_contributions", "alignment_matrix"]

_LABELS = ("term", "level", "contributor", "name")


def _decompose(w: np.ndarray, features: LevelFeatures) -> np.ndarray:
    """Grand mean, centred level effects and double-centred cross effects of ``w`` ``(..., p)``."""
    counts = features.counts
    start = int(features.intercept)
    grand = w[..., 0] if features.intercept else np.zeros(w.shape[:-1])
    mains = []
    for m in counts:
        block = w[..., start : start + m]
        grand = grand + block.mean(axis=-1)
        mains.append(block - block.mean(axis=-1, keepdims=True))
        start += m
    crosses = []
    for a, b in features.cross_pairs:
        g = w[..., start : start + counts[a] * counts[b]].reshape(
            *w.shape[:-1], counts[a], counts[b]
        )
        start += counts[a] * counts[b]
        rows, cols, total = g.mean(axis=-1), g.mean(axis=-2), g.mean(axis=(-2, -1))
        grand = grand + total
        # A cross table's row and column means are main effects of its two levels.
        mains[a] = mains[a] + rows - total[..., None]
        mains[b] = mains[b] + cols - total[..., None]
        centred = g - rows[..., :, None] - cols[..., None, :] + total[..., None, None]
        crosses.append(centred.reshape(*w.shape[:-1], -1))
    return np.concatenate([grand[..., None], *mains, *crosses], axis=-1)


def alignment_matrix(features: LevelFeatures) -> tuple[np.ndarray, pd.DataFrame]:
    """The linear map ``A`` from design weights to aligned contributions, and its row labels.

    Rows: the grand mean, every level's contributors (each level sums to zero), then every
    cross-level cell (rows and columns of each table sum to zero). Labels are a frame with
    columns ``term`` (``grand mean``, ``main``, ``cross``), ``level``, ``contributor`` and
    ``name`` (the design column's name).

    >>> a, labels = alignment_matrix(LevelFeatures([1, 2]))
    >>> a
    array([[ 1. ,  0.5,  0.5],
           [ 0. ,  0. ,  0. ],
           [ 0. ,  0.5, -0.5],
           [ 0. , -0.5,  0.5]])
    >>> labels["name"].tolist()
    ['grand mean', 'x0_0', 'x1_0', 'x1_1']
    """
    if not isinstance(features, LevelFeatures):
        raise TypeError(f"features must be a LevelFeatures, got {type(features).__name__}")
    matrix = _decompose(np.eye(features.n_features), features).T
    names = features.names[int(features.intercept) :]
    rows = [("grand mean", "", "", "grand mean")]
    col = 0
    for level, m in zip(features.level_names, features.counts, strict=True):
        rows += [("main", level, str(k), names[col + k]) for k in range(m)]
        col += m
    for (a, b), group in zip(features.cross_pairs, features.cross_groups, strict=True):
        ma, mb = features.counts[a], features.counts[b]
        cells = [(i, j) for i in range(ma) for j in range(mb)]
        level = group.removeprefix("level:")
        rows += [("cross", level, f"{i}:{j}", names[col + n]) for n, (i, j) in enumerate(cells)]
        col += ma * mb
    return matrix, pd.DataFrame(rows, columns=list(_LABELS))


def aligned_contributions(
    mean: Any,
    covariance: Any,
    features: LevelFeatures,
    *,
    credibility: float = 0.95,
    dof: Any = None,
) -> pd.DataFrame:
    """Contributions per level per contributor in sum-to-zero form, with credible intervals.

    Parameters
    ----------
    mean
        Posterior mean of the design weights, ``(p,)`` or ``(R, p)`` for replicates.
    covariance
        Posterior covariance ``(..., p, p)``, or ``None`` for point values (``sd`` 0).
    features
        The design the weights belong to.
    credibility
        Probability of the central interval.
    dof
        Degrees of freedom of a Student-t posterior (a scalar or one per replicate), for
        learners that integrate the noise out (``2 a_N`` of
        :class:`~regretlab.learners.NormalInverseGammaRegression`, whose ``covariance`` is the
        t's covariance); ``None`` for a Gaussian posterior.

    Returns
    -------
    pandas.DataFrame
        One row per (replicate,) contribution: ``[replicate,] term, level, contributor, name,
        estimate, sd, lower, upper``. A level with one contributor has contribution 0 with sd 0.

    Examples
    --------
    >>> fm = LevelFeatures([1, 2])
    >>> table = aligned_contributions([0.5, 2.0, 0.0], np.diag([1.0, 0.5, 0.5]), fm)
    >>> table[["name", "estimate", "sd"]].round(3)
             name  estimate     sd
    0  grand mean       1.5  1.118
    1        x0_0       0.0  0.000
    2        x1_0       1.0  0.500
    3        x1_1      -1.0  0.500
    >>> table.loc[2, ["lower", "upper"]].round(2).tolist()
    [0.02, 1.98]
    """
    matrix, labels = alignment_matrix(features)
    p = features.n_features
    m = as_float_array("mean", mean, ndim=(1, 2))
    if m.shape[-1] != p:
        raise ValueError(f"mean must have shape (..., {p}), got {m.shape}")
    estimate = m @ matrix.T
    if covariance is None:
        sd = np.zeros_like(estimate)
    else:
        s = as_float_array("covariance", covariance, shape=(*m.shape, p))
        var = np.einsum("qp,...pr,qr->...q", matrix, s, matrix)
        sd = np.sqrt(np.maximum(var, 0.0))
    level = check_real("credibility", credibility, minimum=0.0, exclusive_minimum=True)
    if not level < 1.0:
        raise ValueError(f"credibility must be < 1, got {level}")
    upper_q = 0.5 + 0.5 * level
    if dof is None:
        z = np.asarray(stats.norm.ppf(upper_q))
    else:
        nu = as_float_array("dof", dof)
        if (nu <= 0).any() or nu.ndim > 1 or (nu.ndim == 1 and nu.shape != m.shape[:1]):
            raise ValueError(
                f"dof must be > 0, a scalar or one per replicate {m.shape[:1]}, got {dof!r}"
            )
        # The t's covariance is scale^2 dof / (dof - 2): intervals use the scale.
        z = stats.t.ppf(upper_q, nu) * np.sqrt(np.maximum(nu - 2.0, 0.0) / nu)
    half = sd * (z[..., None] if z.ndim else z)
    values = {
        "estimate": estimate,
        "sd": sd,
        "lower": estimate - half,
        "upper": estimate + half,
    }
    if m.ndim == 1:
        return labels.assign(**values)
    r = m.shape[0]
    table = pd.concat([labels] * r, ignore_index=True)
    table.insert(0, "replicate", np.repeat(np.arange(r), len(labels)))
    return table.assign(**{k: v.ravel() for k, v in values.items()})
