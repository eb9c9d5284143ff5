"""Conjugate Gaussian linear regression with a diagonal, grouped prior: the pure math.

Notation follows Bishop (2006), *Pattern Recognition and Machine Learning*, section 3.3:
prior ``w ~ N(0, diag(prior_variance))``, noise precision ``beta`` (``noise_precision``), and the
posterior ``N(m_N, S_N)`` with precision ``S_N^{-1} = diag(1 / prior_variance) + beta X'X``
(eq. 3.51) and mean ``m_N = beta S_N X'y`` (eq. 3.50). Every function takes leading batch axes.

Two prior values are limits rather than numbers: ``0`` switches a column off exactly (its weight
is 0 and its variance 0) and ``inf`` is a flat prior. A flat prior that the data do not yet
determine has no proper posterior; its mean is then the minimum-norm solution and its covariance
the pseudo-inverse of the precision (``GaussianPosterior.proper`` is ``False``). Whether it is
determined is decided by one scaled rank test, :mod:`regretlab.learners.rank`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg.blas import dger as _dger

from regretlab.learners._cholesky import cho_solve
from regretlab.learners._pcg64_kernel import standard_normal
from regretlab.learners.rank import (
    DEFAULT_RANK_TOL,
    certainly_definite,
    equilibration,
    solve_flat,
)
from regretlab.learners.stats import SufficientStats

__all__ = [
    "GaussianPosterior",
    "absorb",
    "cho_solve",
    "evidence_terms",
    "log_evidence",
    "posterior",
    "predictive",
    "rank_one_update",
    "sample",
    "sample_rows",
    "sampling_factor",
]


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Inner product over the last axis; plain ``@`` for vectors, which is several times faster."""
    return a @ b if a.ndim == 1 else np.einsum("...p,...p->...", a, b)


class GaussianPosterior(NamedTuple):
    """``mean`` ``(..., p)``, ``covariance`` ``(..., p, p)``; ``proper`` is a Python bool.

    ``proper`` is ``False`` when a flat prior leaves some direction undetermined in any batch
    item, decided by :mod:`regretlab.learners.rank` with its stated tolerance ``rank_tol``.
    """

    mean: np.ndarray
    covariance: np.ndarray
    proper: bool


def _precision_system(
    stats: SufficientStats, prior_variance: np.ndarray, noise_precision: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior precision and ``beta X'y`` with switched-off columns decoupled."""
    beta = np.asarray(noise_precision, dtype=float)[..., None]
    off = prior_variance == 0.0
    with np.errstate(divide="ignore"):
        prior_precision = np.where(off, 1.0, 1.0 / prior_variance)
    precision = beta[..., None] * stats.xtx
    rhs = beta * stats.xty
    if off.any():
        keep = ~off
        precision = precision * (keep[..., :, None] & keep[..., None, :])
        rhs = np.where(off, 0.0, rhs)
    p = prior_variance.shape[-1]
    diagonal = np.einsum("...ii->...i", precision)
    precision[..., np.arange(p), np.arange(p)] = diagonal + prior_precision
    return precision, rhs, off


def posterior(
    stats: SufficientStats,
    prior_variance: np.ndarray,
    noise_precision: float | np.ndarray,
    *,
    with_covariance: bool = True,
    rank_tol: float = DEFAULT_RANK_TOL,
) -> GaussianPosterior:
    """Posterior of the weights given statistics, per-column prior variances and noise precision.

    ``prior_variance`` has shape ``(..., p)`` (broadcast against the statistics' batch axes).
    Solved by Cholesky factorisation of the precision (Bishop eq. 3.51); no matrix is inverted.
    ``with_covariance=False`` skips the covariance (returned as an empty array) for mean-only
    fits such as the convergence study.

    With every variance finite the precision is positive definite and the posterior proper.
    Columns with a flat prior (``inf``) go through :func:`regretlab.learners.rank.solve_flat`:
    the posterior is ``proper`` when the equilibrated Schur complement of the flat block has
    every eigenvalue above ``rank_tol`` (default ``1e-12``, in units where every column's
    precision is 1; since ``X'X`` squares the condition number, data whose column-equilibrated
    design has ``cond(X)`` above about ``1 / sqrt(rank_tol) = 1e6`` counts as rank-deficient).
    ``proper`` is ``True`` only if every batch item is; improper items get the minimum-norm
    mean and the pseudo-inverse covariance.

    >>> from regretlab.learners.stats import from_rows
    >>> x = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]); y = np.array([1.0, 2.0, 3.0])
    >>> post = posterior(from_rows(x, y), np.array([np.inf, np.inf]), 1.0)
    >>> post.mean, post.proper
    (array([1., 1.]), True)
    >>> posterior(from_rows(x, y), np.array([np.inf, 0.0]), 1.0).mean
    array([2., 0.])
    >>> posterior(from_rows(x[:1], y[:1]), np.array([np.inf, np.inf]), 1.0)[::2]
    (array([1., 0.]), False)
    """
    prior_variance = np.broadcast_to(np.asarray(prior_variance, dtype=float), stats.xty.shape)
    precision, rhs, off = _precision_system(stats, prior_variance, noise_precision)
    flat = np.isinf(prior_variance)
    if flat.any():
        solved = solve_flat(
            precision, rhs, flat, rank_tol=rank_tol, with_covariance=with_covariance
        )
        mean, covariance = solved.mean, solved.covariance
        if off.any():
            mean = np.where(off, 0.0, mean)
            if with_covariance:
                covariance = covariance * ~(off[..., :, None] | off[..., None, :])
        return GaussianPosterior(mean, covariance, bool(solved.proper.all()))
    p = rhs.shape[-1]
    factor = np.linalg.cholesky(precision)
    mean = cho_solve(factor, rhs[..., None])[..., 0]
    if not with_covariance:
        return GaussianPosterior(mean, np.empty(0), True)
    covariance = cho_solve(factor, np.broadcast_to(np.eye(p), precision.shape))
    if off.any():
        covariance = covariance * ~(off[..., :, None] | off[..., None, :])
    return GaussianPosterior(mean, covariance, True)


def evidence_terms(
    stats: SufficientStats,
    prior_variance: np.ndarray,
    noise_precision: float | np.ndarray,
    *,
    rank_tol: float = DEFAULT_RANK_TOL,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``log|A|``, ``sum log v`` over the active columns, and ``y'y - m'X'y`` (batched).

    ``A = diag(1/v) + beta X'X`` is the posterior precision and ``m`` the posterior mean.
    ``prior_variance`` may carry leading candidate axes before the statistics' batch axes, so
    a grid of priors is scored in one call. 0 switches a column off. A flat column (``inf``)
    adds no prior precision and no ``log v``: the evidence is then defined up to a constant
    that is the same for every prior with the same flat columns, so candidates that share them
    compare exactly (Bayes factors); where the data do not yet determine the flat columns
    (:mod:`regretlab.learners.rank`) ``log|A|`` is ``+inf`` and the evidence ``-inf``.
    """
    prior_variance = np.asarray(prior_variance, dtype=float)
    shape = np.broadcast_shapes(prior_variance.shape[:-1], stats.n.shape)
    full = SufficientStats(
        np.broadcast_to(stats.xtx, (*shape, *stats.xtx.shape[-2:])),
        np.broadcast_to(stats.xty, (*shape, stats.xty.shape[-1])),
        np.broadcast_to(stats.yty, shape),
        np.broadcast_to(stats.n, shape),
    )
    prior = np.broadcast_to(prior_variance, full.xty.shape)
    precision, rhs, off = _precision_system(full, prior, noise_precision)
    flat = np.isinf(prior)
    log_prior = np.where(off | flat, 0.0, np.log(np.where(off | flat, 1.0, prior))).sum(axis=-1)
    if not flat.any():
        factor = np.linalg.cholesky(precision)
        mean = cho_solve(factor, rhs[..., None])[..., 0]
        log_det = 2.0 * np.log(np.einsum("...ii->...i", factor)).sum(axis=-1)
    else:
        scale = equilibration(precision)
        equilibrated = precision * scale[..., :, None] * scale[..., None, :]
        log_scale = -2.0 * np.log(scale).sum(axis=-1)  # log|D|
        p = precision.shape[-1]
        stack = equilibrated.reshape(-1, p, p)
        if certainly_definite(stack, rank_tol):
            # Every item is proper with room to spare (the full precision is, so the flat
            # block is): one factorisation gives the mean and the determinant.
            factor = np.linalg.cholesky(equilibrated)
            mean = scale * cho_solve(factor, (scale * rhs)[..., None])[..., 0]
            log_det = 2.0 * np.log(np.einsum("...ii->...i", factor)).sum(axis=-1) + log_scale
        else:
            solved = solve_flat(precision, rhs, flat, rank_tol=rank_tol, with_covariance=False)
            mean = solved.mean
            # Improper items get a stand-in so the batched factorisation runs; log|A| is inf.
            stand_in = np.where(solved.proper[..., None, None], equilibrated, np.eye(p))
            factor = np.linalg.cholesky(stand_in)
            log_det = 2.0 * np.log(np.einsum("...ii->...i", factor)).sum(axis=-1) + log_scale
            log_det = np.where(solved.proper, log_det, np.inf)
    fit = full.yty - np.einsum("...p,...p->...", mean, full.xty)
    return log_det, log_prior, np.maximum(fit, 0.0)


def log_evidence(
    stats: SufficientStats, prior_variance: np.ndarray, noise_precision: float | np.ndarray
) -> np.ndarray:
    """Log marginal likelihood ``log p(y | v, beta)`` of the data in ``stats`` (Bishop eq. 3.86).

    ``n/2 log beta - 1/2 sum log v - 1/2 log|A| - beta/2 (y'y - m'X'y) - n/2 log 2 pi``, with
    one ``log v`` per active column (Bishop's ``M/2 log alpha`` for a shared ``alpha = 1/v``).
    Leading candidate axes of ``prior_variance`` give one value per candidate.

    >>> from regretlab.learners.stats import from_rows
    >>> x = np.array([[1.0], [2.0]]); y = np.array([1.0, 1.0])
    >>> cov = np.eye(2) + x @ x.T  # y ~ N(0, I + x x') for v = 1, beta = 1
    >>> quad = y @ np.linalg.solve(cov, y)
    >>> direct = -0.5 * (quad + np.log(np.linalg.det(cov)) + 2 * np.log(2 * np.pi))
    >>> bool(np.isclose(log_evidence(from_rows(x, y), np.array([1.0]), 1.0), direct))
    True
    """
    beta = np.asarray(noise_precision, dtype=float)
    log_det, log_prior, fit = evidence_terms(stats, prior_variance, beta)
    n = np.broadcast_to(stats.n, fit.shape)
    return 0.5 * (n * np.log(beta / (2 * np.pi)) - log_prior - log_det - beta * fit)


def predictive_mean(post: GaussianPosterior, x: np.ndarray) -> np.ndarray:
    """Predictive mean ``x'm_N`` for ``x`` ``(..., [K,] p)`` (see :func:`predictive`)."""
    extra = x.ndim - post.mean.ndim
    if extra == 0:
        return _dot(x, post.mean)
    mean = post.mean.reshape(post.mean.shape[:-1] + (1,) * extra + post.mean.shape[-1:])
    return np.einsum("...p,...p->...", x, mean)


def predictive(
    post: GaussianPosterior, x: np.ndarray, factors: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Predictive mean ``x'm_N`` and epistemic variance ``x'S_N x`` (Bishop eq. 3.58-3.59).

    ``x`` is ``(..., p)`` with the posterior's batch axes first; extra axes between them and
    ``p`` (such as one row per action) are broadcast. Add ``1 / beta`` for the noise.
    ``factors`` ``(..., k, p)`` are pending corrections, one row each: the covariance is
    ``post.covariance - factors' @ factors`` (see :func:`rank_one_update`).
    """
    extra = x.ndim - post.mean.ndim
    mean = post.mean.reshape(post.mean.shape[:-1] + (1,) * extra + post.mean.shape[-1:])
    cov = post.covariance.reshape(
        post.covariance.shape[:-2] + (1,) * extra + post.covariance.shape[-2:]
    )
    loc = np.einsum("...p,...p->...", x, mean)
    var = np.einsum("...p,...p->...", (cov @ x[..., None])[..., 0], x)
    if factors is not None and factors.shape[-2]:
        f = factors.reshape(factors.shape[:-2] + (1,) * extra + factors.shape[-2:])
        fx = np.einsum("...kp,...p->...k", f, x)
        var = var - np.einsum("...k,...k->...", fx, fx)
    return loc, np.maximum(var, 0.0)


def rank_one_update(
    post: GaussianPosterior,
    x: np.ndarray,
    y: np.ndarray,
    noise_precision: float | np.ndarray,
    factors: np.ndarray | None = None,
    n_factors: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sherman-Morrison update of the posterior by one row per batch item (Bishop eq. 3.50-3.51).

    The mean is updated in place. Without ``factors`` the covariance is too; with them the
    covariance is ``post.covariance - F'F`` for the first ``n_factors`` rows ``F`` of
    ``factors`` ``(..., K, p)``, and this update's row ``sqrt(beta / (1 + q)) S x`` is written
    at index ``n_factors`` instead of touching the ``p x p`` matrix: one pass that reads the
    covariance instead of several that rewrite it, with :func:`absorb` folding the columns in
    every ``K`` updates.

    Returns ``q = beta x'S x``, the factor by which the update shrinks the variance along ``x``
    (the relative rounding error of the update grows like ``q * eps``, so callers refresh from
    the statistics instead when ``q`` is large), and the residual ``y - x'm`` before the update.
    """
    mean, cov, _ = post
    if x.ndim == 1 and factors is None and isinstance(noise_precision, float | int):
        # One stream: the same algebra on Python floats, free of 0-d array overhead (the
        # per-step cost of a single stream is dominated by call overhead, not arithmetic).
        sx = cov @ x
        q = float(noise_precision) * float(x @ sx)
        c = float(noise_precision) / (1.0 + q)
        resid = float(y) - float(x @ mean)
        mean += (c * resid) * sx
        # BLAS rank-one update in place, one call instead of an outer product and a
        # subtraction; the update is symmetric, so a C-ordered matrix is updated through its
        # Fortran-ordered transpose.
        if cov.flags.f_contiguous:
            _dger(-c, sx, sx, a=cov, overwrite_a=1)
        elif cov.flags.c_contiguous:
            _dger(-c, sx, sx, a=cov.T, overwrite_a=1)
        else:
            cov -= np.outer(c * sx, sx)
        return q, resid  # type: ignore[return-value]
    beta = np.asarray(noise_precision, dtype=float)
    sx = (cov @ x[..., None])[..., 0]
    if n_factors and factors is not None:
        # Rows in (K, p) layout: both products run along contiguous memory.
        used = factors[..., :n_factors, :]
        sx -= np.einsum("...kp,...k->...p", used, np.einsum("...kp,...p->...k", used, x))
    q = beta * _dot(x, sx)
    gain = sx * (beta / (1.0 + q))[..., None]
    resid = y - _dot(x, mean)
    mean += gain * resid[..., None]
    if factors is None:
        cov -= np.einsum("...p,...q->...pq", gain, sx)  # faster than a broadcast product
    else:
        factors[..., n_factors, :] = sx * np.sqrt(beta / (1.0 + q))[..., None]
    return q, resid


def absorb(covariance: np.ndarray, factors: np.ndarray, n_factors: int) -> None:
    """``covariance -= F'F`` in place for the first ``n_factors`` rows of ``factors``."""
    if n_factors:
        used = factors[..., :n_factors, :]
        covariance -= np.swapaxes(used, -1, -2) @ used


def sampling_factor(covariance: np.ndarray) -> np.ndarray:
    """A matrix ``F`` with ``F F' = covariance`` (up to 1e-12 relative), ``(..., p, p)``.

    The covariance is scaled to unit diagonal before its Cholesky factor is taken, so variances
    from 1e-30 to 1e10 in one matrix (the seed's priors) factor without trouble; switched-off
    columns (variance 0) get zero rows, so their draws are exactly 0.
    """
    diagonal = np.einsum("...ii->...i", covariance)
    scale = np.sqrt(np.maximum(diagonal, 0.0))
    p = scale.shape[-1]
    if np.count_nonzero(covariance) == np.count_nonzero(diagonal):
        # Independent coefficients (a prior): the scaled matrix below is (1 + 1e-12) I, whose
        # Cholesky factor is sqrt(1 + 1e-12) I (LAPACK's numbers: the square root of the
        # diagonal, exact zeros below it), found in one pass instead of a factorisation.
        factor = np.zeros(covariance.shape)
        factor[..., np.arange(p), np.arange(p)] = np.sqrt(1.0 + 1e-12) * scale
        return factor
    live = scale > 0
    inv = np.where(live, 1.0 / np.where(live, scale, 1.0), 0.0)
    corr = covariance * inv[..., :, None] * inv[..., None, :]
    corr[..., np.arange(p), np.arange(p)] = 1.0 + 1e-12
    return np.linalg.cholesky(corr) * scale[..., :, None]


def sample(
    post: GaussianPosterior, rng: np.random.Generator, size: int | None = None
) -> np.ndarray:
    """Draw weights from the posterior, ``(..., p)`` or ``(size, ..., p)``; see
    :func:`sampling_factor`."""
    factor = sampling_factor(post.covariance)
    shape = post.mean.shape if size is None else (size, *post.mean.shape)
    z = standard_normal(rng, shape)
    return post.mean + (factor @ z[..., None])[..., 0]


def sample_rows(post: GaussianPosterior, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
    """``sample(post, rng)[rows]`` for a batch ``(B, p)``, factoring only the ``rows``' covariances.

    The generator makes the whole batch's calls (its state moves as after :func:`sample`) and
    each row's factor and product are computed alone either way, so the draws are the same bits.
    """
    z = standard_normal(rng, post.mean.shape)[rows]
    factor = sampling_factor(post.covariance[rows])
    return post.mean[rows] + (factor @ z[..., None])[..., 0]


def determined(
    stats: SufficientStats,
    prior_variance: np.ndarray,
    noise_precision: float | np.ndarray,
    covariance: np.ndarray,
) -> np.ndarray | None:
    """Which weights the prior and data determine (``(..., p)`` booleans), or None if all do.

    ``covariance`` is :func:`posterior`'s for the same arguments. An improper posterior (flat
    priors, too little data) has the pseudo-inverse of the precision ``A`` there, whose
    diagonal is finite, even 0, along directions ``A`` does not constrain: weight ``j`` is
    determined exactly when ``e_j`` lies in the range of ``A``, that is when the projector
    ``A A^+`` has 1 at ``(j, j)`` (below 1 otherwise). Without flat columns every weight is.

    >>> from regretlab.learners.stats import from_rows
    >>> data = from_rows(np.array([[1.0, 1.0]]), np.array([2.0]))
    >>> flat = np.array([np.inf, np.inf])
    >>> determined(data, flat, 1.0, posterior(data, flat, 1.0).covariance)
    array([False, False])
    >>> half = np.array([1.0, np.inf])
    >>> determined(data, half, 1.0, posterior(data, half, 1.0).covariance)
    array([ True,  True])
    """
    prior_variance = np.broadcast_to(np.asarray(prior_variance, dtype=float), stats.xty.shape)
    if not np.isinf(prior_variance).any():
        return None
    precision, _, off = _precision_system(stats, prior_variance, noise_precision)
    projector = np.einsum("...ij,...ji->...i", precision, covariance)
    return off | (np.abs(projector - 1.0) <= 1e-6)
