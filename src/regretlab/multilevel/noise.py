"""Per-contributor noise variances, and the sandwich posterior of a one-noise-level model.

The seed's contributors are heteroscedastic (each has its own sigma), which a model with one
noise level does not know. :class:`ContributorNoise` estimates a noise variance per contributor
from the residuals of such a model and corrects its posterior covariance (a sandwich), so the
intervals hold per contributor and not only on average.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_module
from regretlab._validation import as_float_array, check_finite, check_int
from regretlab.features import LevelFeatures
from regretlab.learners.gaussian import GaussianPosterior
from regretlab.learners.rank import solve_flat
from regretlab.multilevel.contributions import aligned_contributions

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

__all__ = ["ContributorNoise"]

# Rows per bincount pass are chosen to keep the index arrays near this many entries.
_SCATTER = 1 << 22


def _pinv_solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Minimum-norm solution of ``gram c = rhs`` for symmetric PSD ``gram`` (batched).

    One-hot level columns are collinear, so the variance components are identified only up to
    moving a constant between levels; the fitted row variances ``z'c`` are unique. The rank is
    decided by the package's one scaled rank test (:mod:`regretlab.learners.rank`).
    """
    flat = np.ones(gram.shape[-1], dtype=bool)
    return solve_flat(gram, rhs, flat, with_covariance=False).mean


class ContributorNoise:
    """Noise variance per contributor, and the sandwich posterior of a one-noise-level model.

    A row's noise variance in the seed's data is ``v(z) = sum_l sigma_{l,k_l}^2 = z'c``, with
    ``z`` its level indicators and ``c`` one variance per contributor. Fed the same stream as a
    :class:`~regretlab.learners.BayesianLinearRegression` (``mean m``, covariance
    ``S = A^{-1}`` with ``A = beta X'X + P``, one noise precision ``beta``; or the
    Normal-Inverse-Gamma learner at its noise estimate), it keeps the exact
    statistics ``T_j = sum_i z_ij x_i x_i'``, ``W_j = sum_i z_ij y_i x_i``,
    ``U_j = sum_i z_ij y_i^2`` and ``Z'Z``, from which, at any time and for the model's
    current posterior:

    - the per-contributor residual sums are ``sum_i z_ij e_i^2 = U_j - 2 W_j'm + m'T_j m``;
      adding ``beta v_bar tr(S T_j)`` corrects them for the fit's leverage (``v_bar`` the
      average row variance), and least squares on ``Z'Z`` gives ``c`` (:meth:`variances`);
    - the noise the model assumed, ``1 / beta``, against what the rows of each contributor
      show (:meth:`misfit`);
    - the covariance of ``m`` under the per-contributor noise,
      ``S (beta^2 X'VX + P) S`` with ``X'VX = sum_j c_j T_j`` (:meth:`posterior`). It equals
      ``S`` when the noise is homoscedastic with variance ``1 / beta``, and otherwise is the
      sandwich of Müller (2013): the posterior mean is kept, its spread is the one the data
      actually give it. The means are not reweighted (that would need the rows again): they
      stay unbiased, and lose efficiency only where noisy and quiet contributors of different
      levels share rows (none in ``cc_01``/``cc_02``, whose level 0 has one contributor).

    Parameters
    ----------
    features
        The one-hot design of the model.
    n_replicates
        ``None`` for one stream, else ``R`` replicates (as the model's).

    Notes
    -----
    Memory is ``q p^2`` numbers per replicate (``q`` contributors, ``p`` design columns); an
    update costs ``L s^2`` per row (``L`` levels, ``s`` ones per design row), using the
    sparsity of the one-hot rows.

    References
    ----------
    U. K. Müller (2013). Risk of Bayesian inference in misspecified models, and the sandwich
    covariance matrix. *Econometrica* 81(5), 1805-1849.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> fm = LevelFeatures([3])
    >>> rng = np.random.default_rng(0)
    >>> k = rng.integers(0, 3, (3000, 1))
    >>> sigma = np.array([0.1, 1.0, 3.0])[k[:, 0]]
    >>> y = np.array([1.0, 2.0, 3.0])[k[:, 0]] + sigma * rng.normal(size=3000)
    >>> model = BayesianLinearRegression(groups=fm, noise_precision=0.3)
    >>> model = model.learn_many(fm.transform(k), y)
    >>> noise = ContributorNoise(fm).learn_many(k, y)
    >>> noise.variances(model).round(2)
    array([0.01, 1.02, 8.65])
    >>> model.sd.round(3), np.sqrt(np.diag(noise.posterior(model).covariance)).round(3)
    (array([0.059, 0.058, 0.056]), array([0.005, 0.032, 0.091]))
    >>> noise.misfit(model)[["name", "row_variance", "ratio"]].round(2)
             name  row_variance  ratio
    0  grand mean          3.35   1.00
    1        x0_0          0.01   0.00
    2        x0_1          1.02   0.30
    3        x0_2          8.65   2.59
    """

    def __init__(self, features: LevelFeatures, *, n_replicates: int | None = None) -> None:
        self.features = features
        self.n_replicates = n_replicates
        if not isinstance(features, LevelFeatures):
            raise TypeError(f"features must be a LevelFeatures, got {type(features).__name__}")
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
        self._r = 1 if n_replicates is None else n_replicates
        q, p = sum(features.counts), features.n_features
        self._q, self._p = q, p
        self._q_offsets = np.concatenate([[0], np.cumsum(features.counts)[:-1]]).astype(int)
        self._n = np.zeros(self._r)
        self._zz = np.zeros((self._r, q, q))
        self._t = np.zeros((self._r, q, p, p))
        self._w = np.zeros((self._r, q, p))
        self._u = np.zeros((self._r, q))

    def _lead(self) -> tuple[int, ...]:
        return () if self.n_replicates is None else (self.n_replicates,)

    def _drop(self, array: np.ndarray) -> np.ndarray:
        return array if self.n_replicates is not None else array[0]

    def learn_one(self, indices: Any, y: Any) -> ContributorNoise:
        """Add one row per replicate: contributor ``indices`` ``(..., L)``, target ``y``."""
        y = as_float_array("y", y, shape=self._lead())
        return self.learn_many(np.asarray(indices)[..., None, :], y[..., None])

    def learn_many(self, indices: Any, y: Any) -> ContributorNoise:
        """Add rows ``indices`` ``(..., m, L)`` (the stream's ``x``) with targets ``(..., m)``."""
        lead = self._lead()
        y = as_float_array("y", y, ndim=(len(lead) + 1,), finite=False)
        index = self.features._check_indices(indices)
        if index.shape[:-1] != y.shape or y.shape[: len(lead)] != lead:
            raise ValueError(
                f"indices must have shape {(*lead, 'm', self.features.n_inputs)} and y "
                f"{(*lead, 'm')} with the same m, got {np.shape(indices)} and {y.shape}"
            )
        check_finite("y", y)
        index, y = index.reshape(self._r, -1, index.shape[-1]), y.reshape(self._r, -1)
        step = max(1, _SCATTER // (self._r * len(self.features.counts) * self._p))
        for start in range(0, y.shape[1], step):
            self._scatter(index[:, start : start + step], y[:, start : start + step])
        return self

    def _scatter(self, index: np.ndarray, y: np.ndarray) -> None:
        """Accumulate the statistics of rows ``(R, m, L)`` from their nonzero positions."""
        q, p, r = self._q, self._p, self._r
        z = index + self._q_offsets  # the row's contributors, (R, m, L)
        act = self.features._active(index)  # the row's design ones, (R, m, s)
        rq = np.arange(r)[:, None, None] * q + z
        ones = (
            rq[..., :, None, None] * p * p + act[..., None, :, None] * p + act[..., None, None, :]
        )
        self._t += np.bincount(ones.ravel(), minlength=r * q * p * p).reshape(self._t.shape)
        cols = rq[..., :, None] * p + act[..., None, :]
        weights = np.broadcast_to(y[..., None, None], cols.shape)
        self._w += np.bincount(cols.ravel(), weights.ravel(), r * q * p).reshape(self._w.shape)
        self._u += np.bincount(
            rq.ravel(), np.broadcast_to(y[..., None] ** 2, rq.shape).ravel(), r * q
        ).reshape(self._u.shape)
        pairs = rq[..., :, None] * q + z[..., None, :]
        self._zz += np.bincount(pairs.ravel(), minlength=r * q * q).reshape(self._zz.shape)
        self._n += y.shape[1]

    # -- reading a model ----------------------------------------------------------------------
    def _model(self, model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The model's mean, covariance, noise precision and prior precision, ``(R, ...)``.

        A known-noise model gives ``beta`` directly. The Normal-Inverse-Gamma model is the
        known-noise model at its noise estimate ``sigma^2`` (posterior mean): its weights'
        covariance is ``sigma^2 V_N`` and its prior variances are relative to ``sigma^2``.
        """
        if hasattr(model, "noise_posterior"):
            variance = np.asarray(model.noise_variance, dtype=float).reshape(-1)
            beta = np.broadcast_to(1.0 / variance, (self._r,))
        elif isinstance(getattr(model, "noise_precision", None), int | float):
            beta = np.full(self._r, float(model.noise_precision))
        else:
            raise TypeError(
                "model must be a BayesianLinearRegression or NormalInverseGammaRegression on "
                f"the same design, got {type(model).__name__}"
            )
        mean = np.asarray(model.mean).reshape(self._r, -1)
        if mean.shape[1] != self._p:
            raise ValueError(f"model has {mean.shape[1]} features, features has {self._p}")
        if not np.allclose(np.asarray(model.n_seen).reshape(-1), self._n):
            raise ValueError(
                f"model has seen {model.n_seen} rows and ContributorNoise {self._drop(self._n)}: "
                "feed both the same stream"
            )
        prior = np.empty((self._r, self._p))
        for group, cols in model.columns.items():
            prior[:, cols] = np.asarray(model.get_prior_variance(group)).reshape(-1, 1)
        live = (prior > 0) & np.isfinite(prior)
        precision = np.where(live, 1.0 / np.where(live, prior, 1.0), 0.0)
        if hasattr(model, "noise_posterior"):
            precision = precision * beta[:, None]
        cov = np.asarray(model.covariance).reshape(self._r, self._p, self._p)
        return mean, cov, beta, precision

    def _components(self, mean: np.ndarray, cov: np.ndarray, beta: np.ndarray) -> np.ndarray:
        sums = (
            self._u
            - 2 * np.einsum("rjp,rp->rj", self._w, mean)
            + np.einsum("rp,rjpk,rk->rj", mean, self._t, mean)
        )
        rough = _pinv_solve(self._zz, sums)
        counts = np.einsum("rjj->rj", self._zz)
        v_bar = np.einsum("rj,rj->r", rough, counts) / np.maximum(self._n, 1.0)
        leverage = np.einsum("rpk,rjkp->rj", cov, self._t)
        return _pinv_solve(self._zz, sums + (beta * v_bar)[:, None] * leverage)

    def variances(self, model: Any) -> np.ndarray:
        """Per-contributor variance components ``c`` ``(..., q)`` under ``model``'s mean.

        In the order of the level columns; only the row variances ``z'c`` are identified
        (a constant moves freely between levels), which :meth:`misfit` reports.
        """
        mean, cov, beta, _ = self._model(model)
        return self._drop(self._components(mean, cov, beta))

    def posterior(self, model: Any) -> GaussianPosterior:
        """``model``'s posterior mean with the sandwich covariance ``S (beta^2 X'VX + P) S``."""
        mean, cov, beta, precision = self._model(model)
        c = self._components(mean, cov, beta)
        middle = beta[:, None, None] ** 2 * np.einsum("rj,rjpk->rpk", c, self._t)
        middle[:, np.arange(self._p), np.arange(self._p)] += precision
        # A fitted variance can dip below 0 for a rare cell early on; keep the middle PSD.
        values, vectors = np.linalg.eigh(middle)
        middle = (vectors * np.maximum(values, 0.0)[:, None, :]) @ np.swapaxes(vectors, -1, -2)
        sandwich = cov @ middle @ cov
        sandwich = 0.5 * (sandwich + np.swapaxes(sandwich, -1, -2))
        return GaussianPosterior(self._drop(mean), self._drop(sandwich), True)

    def misfit(self, model: Any) -> pd.DataFrame:
        """The noise each contributor's rows show against the noise ``1 / beta`` assumed.

        One row per (replicate,) contributor, labelled as :func:`aligned_contributions`:
        ``variance`` is the aligned variance component (the grand-mean row: the average row
        variance; a contributor: its excess over its level's average), ``row_variance`` the
        average fitted variance of the rows with that contributor, and ``ratio`` that times
        ``beta`` (1 where the model's noise level is right, above 1 where intervals that
        trust it are too narrow).
        """
        mean, cov, beta, _ = self._model(model)
        c = self._components(mean, cov, beta)
        levels = LevelFeatures(self.features.levels)
        table = aligned_contributions(self._drop(c), None, levels).drop(
            columns=["sd", "lower", "upper"]
        )
        counts = np.einsum("rjj->rj", self._zz)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_row = np.einsum("rjl,rl->rj", self._zz, c) / counts
        v_bar = np.einsum("rj,rj->r", c, counts) / np.maximum(self._n, 1.0)
        rows = np.concatenate([v_bar[:, None], per_row], axis=1).ravel()
        return table.rename(columns={"estimate": "variance"}).assign(
            row_variance=rows, ratio=rows * np.repeat(beta, rows.size // self._r)
        )

    def __repr__(self) -> str:
        return f"ContributorNoise({self.features!r}, n_replicates={self.n_replicates})"
