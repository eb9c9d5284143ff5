"""Bayesian linear regression with unknown noise: the Normal-Inverse-Gamma model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_function
from regretlab._validation import check_real
from regretlab.learners import gaussian
from regretlab.learners._pivot_evidence import pivot_evidence_terms
from regretlab.learners.bayes import BayesianLinearRegression
from regretlab.learners.rank import DEFAULT_RANK_TOL

if TYPE_CHECKING:
    from scipy.special import gammaln
else:
    gammaln = lazy_function("scipy.special", "gammaln")

__all__ = ["NormalInverseGammaRegression"]


class NormalInverseGammaRegression(BayesianLinearRegression):
    """Grouped-prior linear regression that learns the noise variance online.

    Prior ``w | sigma^2 ~ N(0, sigma^2 V_0)`` with ``V_0 = diag(prior_variance)`` per group and
    ``sigma^2 ~ InvGamma(noise_shape, noise_scale)``. The posterior (Murphy 2007, section 6)
    is ``V_N = (V_0^{-1} + X'X)^{-1}``, ``m_N = V_N X'y``, ``a_N = a_0 + n / 2`` and
    ``b_N = b_0 + (y'y - m_N'X'y) / 2``; the weights' marginal is Student-t with ``2 a_N``
    degrees of freedom, location ``m_N`` and scale matrix ``(b_N / a_N) V_N``, and so is the
    prediction, with scale ``(b_N / a_N)(1 + x'V_N x)``. A flat prior (variance ``inf``) on
    ``k`` columns makes ``a_N = a_0 + (n - k) / 2``: the flat weights are fitted, and each costs
    the noise estimate one observation (as REML does); evidence comparisons are exact between
    priors that share their flat columns.

    Everything of :class:`BayesianLinearRegression` carries over (groups, exact prior changes
    from sufficient statistics, forgetting, replicates in lockstep); the prior variances are
    relative to the noise variance. Between refreshes ``b_N`` grows by
    ``e^2 / (2 (1 + x'V x))`` per row, ``e`` the residual before the update.

    Parameters
    ----------
    groups, prior_variance, forgetting, n_replicates, refresh_every, rank_tol
        As for :class:`BayesianLinearRegression`.
    noise_shape, noise_scale
        ``a_0`` and ``b_0`` of the inverse-gamma prior on the noise variance; the defaults
        ``1, 1`` put the prior's mode at 0.5 and its median near 1.4, and are weak after a few
        observations.

    References
    ----------
    K. P. Murphy (2007), *Conjugate Bayesian analysis of the Gaussian distribution*, sec. 6.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> model = NormalInverseGammaRegression(groups=("intercept", "main"))
    >>> for _ in range(2000):
    ...     x = np.array([1.0, rng.uniform(-1, 1)])
    ...     model = model.learn_one(x, 0.5 - x[1] + 0.3 * rng.normal())
    >>> model.mean.round(1)
    array([ 0.5, -1. ])
    >>> round(float(model.noise_variance), 2)
    0.09
    """

    def __init__(
        self,
        *,
        groups: Any,
        prior_variance: float | Mapping[str, Any] = 1.0,
        noise_shape: float = 1.0,
        noise_scale: float = 1.0,
        forgetting: float = 1.0,
        n_replicates: int | None = None,
        refresh_every: int = 1024,
        rank_tol: float = DEFAULT_RANK_TOL,
    ) -> None:
        super().__init__(
            groups=groups,
            prior_variance=prior_variance,
            noise_precision=1.0,
            forgetting=forgetting,
            n_replicates=n_replicates,
            refresh_every=refresh_every,
            rank_tol=rank_tol,
        )
        self.noise_shape = noise_shape
        self.noise_scale = noise_scale
        self._a0 = check_real("noise_shape", noise_shape, minimum=0.0, exclusive_minimum=True)
        self._b0 = check_real("noise_scale", noise_scale, minimum=0.0, exclusive_minimum=True)
        self._rate = np.full(self._batch, self._b0)

    _solve_beta = 1.0  # the noise precision _solve uses: the noise scale comes after

    def _solve(self) -> gaussian.GaussianPosterior:
        post = gaussian.posterior(self._stats, self._prior, 1.0, rank_tol=self._rank_tol)
        fitted = np.einsum("...p,...p->...", post.mean, self._stats.xty)
        # The residual sum of squares is >= 0; rounding can make it a hair negative.
        self._rate = self._b0 + 0.5 * np.maximum(self._stats.yty - fitted, 0.0)
        return post

    def _observe_residual(self, shrink: np.ndarray, resid: np.ndarray) -> None:
        self._rate = self._rate + 0.5 * resid**2 / (1.0 + shrink)

    def _log_evidence(
        self, prior_variance: np.ndarray, data: Any, pivot: np.ndarray | None = None
    ) -> np.ndarray:
        """Murphy (2007) eq. 95: ``log p(y)`` with the noise variance integrated out.

        ``pivot``: the columns to which candidate priors ``(G, ..., p)`` give one variance each,
        scored from one eigendecomposition of their block (:mod:`._pivot_evidence`).
        """
        terms = (
            None
            if pivot is None
            else pivot_evidence_terms(data, prior_variance, 1.0, pivot, rank_tol=self._rank_tol)
        )
        log_det, log_prior, fit = (
            gaussian.evidence_terms(data, prior_variance, 1.0, rank_tol=self._rank_tol)
            if terms is None
            else terms
        )
        # Flat columns are fitted, not drawn from the prior: each takes one observation's worth
        # of information from the noise (the REML degrees of freedom), Murphy's eq. 95 otherwise.
        n = np.broadcast_to(data.n, fit.shape) - np.isinf(prior_variance).sum(axis=-1)
        shape = self._a0 + 0.5 * n
        rate = self._b0 + 0.5 * fit
        return (
            -0.5 * n * np.log(2 * np.pi)
            - 0.5 * (log_prior + log_det)
            + self._a0 * np.log(self._b0)
            - shape * np.log(rate)
            + gammaln(shape)
            - gammaln(self._a0)
        )

    def _log_predictive(self, loc: np.ndarray, var: np.ndarray, y: np.ndarray) -> np.ndarray:
        shape, rate = self.noise_posterior
        scale2 = rate / shape * (1.0 + var)
        dof = 2.0 * shape
        z2 = (y - loc) ** 2 / scale2
        return (
            gammaln(0.5 * (dof + 1))
            - gammaln(0.5 * dof)
            - 0.5 * np.log(dof * np.pi * scale2)
            - 0.5 * (dof + 1) * np.log1p(z2 / dof)
        )

    @property
    def noise_posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Shape ``a_N`` and scale ``b_N`` of the inverse-gamma posterior of the noise variance."""
        self._sync()
        # Each flat column uses up one observation (see _log_evidence); never below the prior.
        n = self._stats.n + self._n_applied - np.isinf(self._prior).sum(axis=-1)
        shape = self._a0 + 0.5 * np.maximum(n, 0.0)
        return np.asarray(shape), self._rate.copy()

    @property
    def noise_variance(self) -> np.ndarray:
        """Posterior mean of the noise variance, ``b_N / (a_N - 1)`` (inf while ``a_N <= 1``)."""
        shape, rate = self.noise_posterior
        with np.errstate(divide="ignore"):
            return np.where(shape > 1.0, rate / np.maximum(shape - 1.0, 1e-300), np.inf)

    @property
    def covariance(self) -> np.ndarray:
        """Covariance of the weights' Student-t marginal, ``b_N / (a_N - 1) V_N``.

        Infinite while ``a_N <= 1``, except where ``V_N`` is 0 (switched-off columns): a weight
        held at 0 has variance 0 whatever the noise.
        """
        cov = self._sync(full=True).covariance
        with np.errstate(invalid="ignore"):
            scaled = cov * self.noise_variance[..., None, None]
        return np.where(cov == 0.0, 0.0, scaled)

    def _noise_variance(self) -> np.ndarray:
        shape, rate = self.noise_posterior
        return rate / shape

    def _scale_variance(self, var: np.ndarray, extra: int, include_noise: bool) -> np.ndarray:
        shape, rate = self.noise_posterior
        dof = 2.0 * shape
        # The sd of a Student-t is its scale times sqrt(dof / (dof - 2)), infinite for dof <= 2.
        factor = np.where(dof > 2.0, rate / shape * dof / np.maximum(dof - 2.0, 1e-300), np.inf)
        factor = factor.reshape(factor.shape + (1,) * extra)
        return factor * (var + 1.0 if include_noise else var)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Draw ``sigma^2`` from its posterior, then the weights given it (one joint draw)."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        post = self._sync(full=True)
        out_shape = self._batch if size is None else (size, *self._batch)
        variance = self._draw_noise_variance(rng, out_shape)
        centred = gaussian.GaussianPosterior(np.zeros_like(post.mean), post.covariance, True)
        draw = gaussian.sample(centred, rng, size)
        return post.mean + np.sqrt(variance)[..., None] * draw

    def _sample_rows(self, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
        """``sample(rng)[rows]`` of a batched learner, factoring only the ``rows``' covariances
        (what a model average's draw from one candidate per replicate needs): the same bits and
        the same generator state as the whole draw."""
        post = self._sync(full=True)
        variance = self._draw_noise_variance(rng, self._batch)[rows]
        centred = gaussian.GaussianPosterior(np.zeros_like(post.mean), post.covariance, True)
        draw = gaussian.sample_rows(centred, rng, rows)
        return post.mean[rows] + np.sqrt(variance)[..., None] * draw

    def _draw_noise_variance(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """``sigma^2`` drawn from its posterior, ``shape`` draws (the batch last)."""
        alpha, rate = self.noise_posterior
        precision = rng.gamma(np.broadcast_to(alpha, shape), 1.0 / rate)
        # A vague prior (shape near 0) puts mass on precisions that underflow to 0; the smallest
        # normal float keeps such a draw a huge but finite variance (an exploratory draw).
        return 1.0 / np.maximum(precision, np.finfo(float).tiny)

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        del params["noise_precision"]
        return {**params, "noise_shape": self.noise_shape, "noise_scale": self.noise_scale}
