"""The invariant Bayes factor of a switched-off group, and two guards against a misfit noise model.

Both data-reading triggers ask, per replicate, whether a group that is off earns its keep. The
statistic they share is the Bayes factor of "``group`` on" against "``group`` off" under the
**right Haar prior** of the linear model's symmetries: flat on the weights of every column the
null keeps, ``1 / sigma`` on the noise scale, and ``group``'s weights ``~ N(0, v sigma^2 I)``
(an effect size relative to the noise), mixed with equal weights over the alternatives ``v``.
From the sufficient statistics, with ``M`` and ``r`` the group's Gram matrix and ``X'y``
residualised on the null's columns, ``R_0`` the null's residual sum of squares and ``k_0`` its
number of columns,

``log BF(v) = -1/2 log det(I + v M) - (n - k_0)/2 log(R_v / R_0)``,
``R_v = R_0 - r' (M + I / v)^{-1} r``.

It is defined from ``n = k_0 + 1`` observations on: the smallest sample that makes both
posteriors proper (the minimal training sample of intrinsic Bayes factors, which here needs no
training: the improper priors are on the parameters both models share; Berger, Pericchi and
Varshavsky 1998). Because the priors on the shared parameters are the right Haar measure of the
location-scale group, the Bayes factor is a non-negative martingale with mean 1 under **every**
model without ``group`` (every true weight and noise level) with Gaussian noise of constant
variance and inputs that do not look ahead at the noise (Hendriksen, de Heide and Grunwald
2021; Perez-Ortiz et al. 2024; Lindon et al. 2022 for regression), so by Ville's inequality
``P(ever BF >= 1/alpha) <= alpha``.

Noise whose variance depends on the inputs breaks that: the constant-variance model then
understates how much the group's estimated weights vary (about 1.8x for a product column
``x_1 x_j`` when the noise sd follows ``|x_1|`` on uniform inputs), which the Bayes factor reads
as evidence. Two guards, each computed from the blocks of observations between checks:

- the **robust statistic** (on by default in the triggers): per group column, the observed
  variance of its residualised score over the blocks (residuals of the looser model's fit from
  before the block; blocks as clusters of a sandwich estimate, counted once that fit has ``2p``
  observations, so its leverage is at most 1/2 on average), over the constant-variance model's,
  shrunk toward 1 by one block's worth. Each column's score is divided by the square root of
  that inflation and the Bayes factor recomputed; a trigger fires only when both the Bayes
  factor and the robust one reach its threshold. Under constant-variance noise the inflation is
  near 1; the robust factor is not a martingale, but requiring it as well can only lower false
  alarms, so the guarantee above stands.
- the **held-out check** (opt-in): before each block is learned, the null's means and the
  best-supported alternative's predict it, and the looser model must have the lower cumulative
  squared error on the blocks it had not seen. Measured weaker than the robust statistic on
  heteroscedastic noise (benchmarks/RESULTS.md) and one block slower.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp

from regretlab.learners.stats import SufficientStats

__all__ = ["InvariantTest", "log_bayes_factors", "mixture", "null_columns"]

# Eigenvalues of the equilibrated null Gram matrix at or below this count as zero.
_RANK_TOL = 1e-10


def null_columns(model: Any, group: str) -> np.ndarray:
    """Columns the null keeps, ``(..., p)``: every active column except ``group``'s."""
    columns = model.columns
    keep = np.zeros(np.shape(model.stats.xty), dtype=bool)
    for name, cols in columns.items():
        if name != group:
            on = np.asarray(model.get_prior_variance(name)) > 0.0
            keep[..., cols] = np.expand_dims(on, -1)
    return keep


class _Fit:
    """The null's least squares and the group's residualised statistics on one set of stats."""

    def __init__(self, data: SufficientStats, keep: np.ndarray, cols: np.ndarray) -> None:
        xtx, xty = data.xtx, data.xty
        both = keep[..., :, None] & keep[..., None, :]
        eye = np.eye(xtx.shape[-1], dtype=bool)
        gram = np.where(both, xtx, 0.0) + np.where(eye & ~keep[..., None, :], 1.0, 0.0)
        diag = np.einsum("...ii->...i", gram)
        scale = 1.0 / np.sqrt(np.where(diag > 0.0, diag, 1.0))  # unseen columns: null space
        unit = gram * scale[..., :, None] * scale[..., None, :]
        # Collinear null columns (one-hot arms beside an intercept) are fine: the null is its
        # column space, of dimension k_0 = rank, and the weights are the minimum-norm solution.
        eig, vec = np.linalg.eigh(unit)
        live = eig > _RANK_TOL
        self.k0 = live.sum(axis=-1) - (~keep).sum(axis=-1)
        self.ready = data.n > self.k0
        cross = np.where(keep[..., None], xtx[..., :, cols], 0.0)
        rhs = np.concatenate([cross, np.where(keep, xty, 0.0)[..., None]], axis=-1)
        inverse = np.where(live, 1.0 / np.where(live, eig, 1.0), 0.0)
        rotated = np.swapaxes(vec, -1, -2) @ (scale[..., None] * rhs)
        solved = scale[..., None] * (vec @ (inverse[..., None] * rotated))
        self.to_group, self.null_mean = solved[..., :-1], solved[..., -1]
        self.rss0 = data.yty - np.einsum("...p,...p->...", self.null_mean, rhs[..., -1])
        gram_g = xtx[..., cols[:, None], cols] - np.swapaxes(cross, -1, -2) @ self.to_group
        self.resid = xty[..., cols] - np.einsum("...pk,...p->...k", self.to_group, rhs[..., -1])
        eig, self.basis = np.linalg.eigh(0.5 * (gram_g + np.swapaxes(gram_g, -1, -2)))
        self.eig = eig.clip(min=0.0)
        self.proj = np.einsum("...pk,...p->...k", self.basis, self.resid)
        self.ready &= self.rss0 > 1e-12 * np.maximum(data.yty, 1e-300)
        self.n = np.array(data.n, copy=True)  # not a view of statistics updated in place
        self.cols = cols

    def noise_variance(self) -> np.ndarray:
        """The null's residual variance ``R_0 / (n - k_0)`` (1 where not ready)."""
        return np.where(self.ready, self.rss0 / np.maximum(self.n - self.k0, 1.0), 1.0)

    def block_scores(
        self, block: SufficientStats, mean: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The group's residualised score on a later block, residuals from weights ``mean``,
        ``(..., k)``, and its variance per unit noise variance under the model, ``(..., k)``."""
        resid = block.xty - np.einsum("...pq,...q->...p", block.xtx, mean)
        score = resid[..., self.cols] - np.einsum("...pk,...p->...k", self.to_group, resid)
        cross = np.einsum("...pk,...pj->...kj", self.to_group, block.xtx[..., :, self.cols])
        quad = np.einsum("...pk,...pq,...qk->...k", self.to_group, block.xtx, self.to_group)
        own = np.einsum("...kk->...k", block.xtx[..., self.cols[:, None], self.cols])
        return score, own - 2.0 * np.einsum("...kk->...k", cross) + quad

    def log_bayes_factors(
        self, alternatives: np.ndarray, inflation: np.ndarray | None = None
    ) -> np.ndarray:
        """``log BF(v)`` per alternative, ``(A, ...)``; 0 where not ready. With ``inflation``
        ``(..., k)``, each group column's score is first divided by the square root of its
        observed variance over the model's (the robust statistic)."""
        v = alternatives.reshape((-1,) + (1,) * self.eig.ndim)
        proj = self.proj
        if inflation is not None:
            proj = np.einsum("...pk,...p->...k", self.basis, self.resid / np.sqrt(inflation))
        explained = np.sum(proj**2 * v / (1.0 + v * self.eig), axis=-1)
        rss0 = np.where(self.ready, self.rss0, 1.0)
        ratio = np.clip((rss0 - explained) / rss0, 1e-300, 1.0)
        log_bf = -0.5 * np.sum(np.log1p(v * self.eig), axis=-1) - 0.5 * np.maximum(
            self.n - self.k0, 0.0
        ) * np.log(ratio)
        return np.where(self.ready, log_bf, 0.0)

    def means(self, alternatives: np.ndarray, log_bf: np.ndarray, cols: np.ndarray):
        """Posterior means of the null and of the best-supported alternative, each ``(..., p)``."""
        v = alternatives.reshape((-1,) + (1,) * self.eig.ndim)
        weights = np.arange(len(alternatives)) == np.argmax(log_bf, axis=0)[..., None]
        weights = np.moveaxis(weights, -1, 0).astype(float)
        shrunk = np.sum(weights[..., None] * v / (1.0 + v * self.eig), axis=0)
        group = np.einsum("...jk,...k->...j", self.basis, shrunk * self.proj)
        alt = self.null_mean - np.einsum("...pk,...k->...p", self.to_group, group)
        alt[..., cols] += group
        return self.null_mean, alt


def _block_loss(block: SufficientStats, mean: np.ndarray) -> np.ndarray:
    """Squared error of predictions ``x'mean`` on a block, from the block's statistics."""
    quad = np.einsum("...p,...pq,...q->...", mean, block.xtx, mean)
    return block.yty - 2.0 * np.einsum("...p,...p->...", mean, block.xty) + quad


def log_bayes_factors(model: Any, group: str, alternatives: np.ndarray) -> tuple[Any, Any]:
    """``(log BF(v) per alternative (A, ...), ready (...))`` on everything ``model`` learned.

    Reads the learner's sufficient statistics and which groups are active, never its priors.
    ``log BF`` is 0 where the null's fit is not yet defined (``n <= k_0`` or a rank-deficient
    design).
    """
    fit = _Fit(model.stats, null_columns(model, group), model.columns[group])
    return fit.log_bayes_factors(alternatives), fit.ready


def mixture(log_bf: np.ndarray) -> np.ndarray:
    """Log of the equal-weight mixture of the alternatives' Bayes factors, ``(...)``."""
    return np.asarray(logsumexp(log_bf, axis=0) - np.log(log_bf.shape[0]))


class InvariantTest:
    """Per-replicate state of the invariant Bayes factor and its two guards against misfit.

    :meth:`update` reads the learner's sufficient statistics (never its priors) at each check.
    Between checks it scores the block of new observations with the previous fit:

    - :attr:`held_out_gain`, the cumulative squared error of the null's means minus the best
      alternative's on the blocks, each predicted before it was learned;
    - per group column, the block's residualised score ``s_b`` (the looser model's residuals
      times the column, with the null's columns partialled out) and its model variance
      ``sigma^2 h_b``.
      ``sum_b s_b^2 / (sigma^2 sum_b h_b)`` is the observed variance of the column's score over
      the constant-variance model's (a sandwich estimate with the blocks as clusters); shrunk
      toward 1 by one block's worth, it is the column's ``inflation``.
    """

    def __init__(self, group: str, alternatives: np.ndarray) -> None:
        self.group = group
        self.alternatives = alternatives
        self._last: SufficientStats | None = None
        self._fit: _Fit | None = None
        self._means: tuple[np.ndarray, np.ndarray] | None = None
        self.held_out_gain: Any = 0.0
        self._squares: Any = 0.0
        self._model_var: Any = 0.0
        self._blocks: Any = 0.0
        self.inflation: Any = 1.0

    def update(self, model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score the block since the last call, then refit: ``(log BF (A, ...), robust log BF
        (A, ...), ready (...))``."""
        data = model.stats
        cols = model.columns[self.group]
        if self._last is not None and self._means is not None and self._fit is not None:
            block = SufficientStats(*(a - b for a, b in zip(data, self._last, strict=True)))
            null, alt = self._means
            gain = _block_loss(block, null) - _block_loss(block, alt)
            self.held_out_gain = self.held_out_gain + gain
            # Residuals of the looser model (under the null its extra weights are ~0; under the
            # alternative the null's residuals would carry the group's signal), from a fit with
            # at least 2p observations (leverage <= 1/2 on average, as sandwich estimates need).
            score, var = self._fit.block_scores(block, alt)
            determined = self._fit.n >= 2 * (self._fit.k0 + len(self._fit.cols))
            scored = (self._fit.ready & determined & (block.n > 0))[..., None]
            self._squares = self._squares + np.where(scored, score**2, 0.0)
            self._model_var = self._model_var + np.where(scored, var, 0.0)
            self._blocks = self._blocks + scored
        fit = _Fit(data, null_columns(model, self.group), cols)
        log_bf = fit.log_bayes_factors(self.alternatives)
        sigma2 = fit.noise_variance()[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self._model_var > 0, self._squares / (sigma2 * self._model_var), 1.0)
        self.inflation = (self._blocks * ratio + 1.0) / (self._blocks + 1.0) * np.ones_like(sigma2)
        robust = fit.log_bayes_factors(self.alternatives, np.maximum(self.inflation, 1e-12))
        null, alt = fit.means(self.alternatives, log_bf, cols)
        # Means are only scored once both fits are defined; before that they predict nothing.
        ready = fit.ready[..., None]
        self._means = (np.where(ready, null, 0.0), np.where(ready, alt, 0.0))
        self._last = SufficientStats(*(np.array(a, copy=True) for a in data))
        self._fit = fit
        return log_bf, robust, fit.ready
