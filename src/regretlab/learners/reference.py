"""Batch reference fits solved from sufficient statistics: OLS, ridge and the Gaussian posterior.

These are the closed forms the online learners are checked against, and the models of the
convergence study. Each is a small frozen object with ``coef(stats, groups) -> (..., p)`` that
works on any batch of statistics at once (replicates x data sizes). They match scikit-learn:
:class:`LeastSquares` equals ``LinearRegression`` (minimum-norm when under-determined) and
:class:`Ridge` equals ``Ridge``, both with the intercept unpenalised and excluded from the norm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from regretlab._validation import check_real
from regretlab.learners import gaussian
from regretlab.learners._grouping import check_groups, column_values
from regretlab.learners.gaussian import cho_solve
from regretlab.learners.rank import DEFAULT_RANK_TOL, solve_flat
from regretlab.learners.stats import SufficientStats

__all__ = ["BatchFit", "GaussianPosteriorMean", "LeastSquares", "Ridge"]


class BatchFit(Protocol):
    """A fit from sufficient statistics: ``coef(stats, groups)`` returns ``(..., p)`` weights."""

    def coef(self, stats: SufficientStats, groups: Sequence[str]) -> np.ndarray: ...


def _active_columns(groups: tuple[str, ...], use: tuple[str, ...] | None) -> np.ndarray:
    if use is None:
        return np.ones(len(groups), dtype=bool)
    unknown = [g for g in use if g not in groups]
    if unknown:
        raise ValueError(
            f"groups names unknown group {unknown[0]!r}; the design has {sorted(set(groups))}"
        )
    return np.isin(np.asarray(groups), use)


def _centred(
    stats: SufficientStats, groups: tuple[str, ...], active: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre the statistics of the active non-intercept columns on their means.

    Returns the centred Gram matrix and ``X'y``, the column means, the target mean and the
    column indices, as scikit-learn does before solving with ``fit_intercept=True``.
    """
    labels = np.asarray(groups)
    intercept = np.flatnonzero(labels == "intercept")
    if len(intercept) != 1:
        raise ValueError(
            "reference fits need exactly one 'intercept' column (a column of ones) in the design, "
            f"got {len(intercept)}"
        )
    cols = np.flatnonzero(active & (labels != "intercept"))
    # A contiguous block is read as a slice, a view: fancy indexing copies (10x slower here).
    contiguous = len(cols) > 0 and bool(np.all(np.diff(cols) == 1))
    block = slice(int(cols[0]), int(cols[-1]) + 1) if contiguous else cols
    square = stats.xtx[..., block, block] if contiguous else stats.xtx[..., cols[:, None], cols]
    n = stats.n[..., None]
    i0 = intercept[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        x_mean = stats.xtx[..., i0, block] / n
        y_mean = stats.xty[..., i0] / stats.n
    gram = square - n[..., None] * x_mean[..., :, None] * x_mean[..., None, :]
    xty = stats.xty[..., block] - n * x_mean * y_mean[..., None]
    return gram, xty, x_mean, y_mean, cols


def _assemble(
    shape: tuple[int, ...],
    weights: np.ndarray,
    x_mean: np.ndarray,
    y_mean: np.ndarray,
    cols: np.ndarray,
    i0: int,
) -> np.ndarray:
    coef = np.zeros(shape)
    coef[..., cols] = weights
    coef[..., i0] = y_mean - np.einsum("...p,...p->...", x_mean, weights)
    return coef


@dataclass(frozen=True)
class LeastSquares:
    """Ordinary least squares with an intercept, minimum-norm when under-determined.

    Parameters
    ----------
    groups
        Fit only these feature groups (plus the intercept); ``None`` uses every column. The
        seed's ``base`` model is ``LeastSquares(groups=("main",))``.
    rcond
        Singular values of the centred design, its columns scaled to unit norm, below
        ``rcond`` are treated as zero (the rank test of :mod:`regretlab.learners.rank` with
        ``rank_tol = rcond ** 2``, since the solve works on the Gram matrix, whose eigenvalues
        are the squared singular values). The default ``1e-6`` is that module's default
        tolerance; under-determined or rank-deficient fits get the minimum-norm solution.

    Examples
    --------
    >>> from regretlab.learners.stats import from_rows
    >>> x = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    >>> LeastSquares().coef(from_rows(x, np.array([1.0, 3.0, 5.0])), ("intercept", "main"))
    array([1., 2.])
    """

    groups: tuple[str, ...] | None = None
    rcond: float | None = None

    def __post_init__(self) -> None:
        if self.rcond is not None:
            check_real("rcond", self.rcond, minimum=0.0, maximum=1.0)

    def coef(self, stats: SufficientStats, groups: Sequence[str]) -> np.ndarray:
        labels = check_groups(groups)
        active = _active_columns(labels, self.groups)
        gram, xty, x_mean, y_mean, cols = _centred(stats, labels, active)
        p = len(cols)
        rcond = math.sqrt(DEFAULT_RANK_TOL) if self.rcond is None else self.rcond
        # Every column is flat: the shared scaled rank test decides which fits are determined.
        # A zero column (a feature constant in the data) must not make the others improper.
        flat = np.ones(p, dtype=bool)
        solved = solve_flat(
            gram, xty, flat, rank_tol=max(rcond**2, np.finfo(float).tiny), with_covariance=False
        )
        weights = solved.mean
        i0 = labels.index("intercept")
        return _assemble(stats.xty.shape, weights, x_mean, y_mean, cols, i0)


@dataclass(frozen=True)
class Ridge:
    """Ridge regression with an unpenalised intercept, as scikit-learn's ``Ridge``.

    Minimises ``||y - X w - b||^2 + alpha ||w||^2`` over the active columns.

    Examples
    --------
    >>> from regretlab.learners.stats import from_rows
    >>> x = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    >>> Ridge(alpha=2.0).coef(from_rows(x, np.array([1.0, 3.0, 5.0])), ("intercept", "main"))
    array([2., 1.])
    """

    alpha: float = 1.0
    groups: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_real("alpha", self.alpha, minimum=0.0, exclusive_minimum=True)

    def coef(self, stats: SufficientStats, groups: Sequence[str]) -> np.ndarray:
        labels = check_groups(groups)
        active = _active_columns(labels, self.groups)
        gram, xty, x_mean, y_mean, cols = _centred(stats, labels, active)
        gram = gram + self.alpha * np.eye(len(cols))
        weights = cho_solve(np.linalg.cholesky(gram), xty[..., None])[..., 0]
        i0 = labels.index("intercept")
        return _assemble(stats.xty.shape, weights, x_mean, y_mean, cols, i0)


@dataclass(frozen=True)
class GaussianPosteriorMean:
    """The posterior mean of :class:`~regretlab.learners.BayesianLinearRegression`, in batch.

    Parameters
    ----------
    prior_variance
        As for the learner: a scalar or ``{group: variance}`` (unnamed groups get 1.0).
    noise_precision
        Known noise precision.

    Examples
    --------
    >>> from regretlab.learners.stats import from_rows
    >>> x = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    >>> fit = GaussianPosteriorMean(prior_variance={"intercept": np.inf, "main": 0.0})
    >>> fit.coef(from_rows(x, np.array([1.0, 3.0, 5.0])), ("intercept", "main"))
    array([3., 0.])
    """

    prior_variance: float | Mapping[str, Any] = 1.0
    noise_precision: float = 1.0

    def coef(self, stats: SufficientStats, groups: Sequence[str]) -> np.ndarray:
        labels = check_groups(groups)
        beta = check_real(
            "noise_precision", self.noise_precision, minimum=0.0, exclusive_minimum=True
        )
        # A batch fit takes one prior for the whole batch: per-replicate values belong to the
        # online learner, whose replicate axis is known.
        values = column_values(
            "prior_variance", self.prior_variance, labels, default=1.0, batch_shape=()
        )
        columns = np.empty(len(labels))
        for group, value in values.items():
            columns[np.asarray(labels) == group] = value
        return gaussian.posterior(stats, columns, beta, with_covariance=False).mean
