"""The Cholesky factor kept through rank-one updates for Thompson sampling (learners/_factor.py).

Oracles: a fresh Cholesky factorisation of the model's covariance (the exact factor, unique
with a positive diagonal), and the closed-form predictive ``x'w ~ N(x'm, x'S x)`` for the draws.
Tolerance ``1e-9`` (normwise relative to the factor's largest entry) is the design's contract
for an online posterior against a fresh solve; the kept factor carries the ``1e-12`` relative
jitter of :func:`regretlab.learners.gaussian.sampling_factor` and its rounding, far below it.
"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.features import InteractionFeatures
from regretlab.learners import BayesianGLM, BayesianLinearRegression
from regretlab.learners._factor import SamplingFactor, downdate
from regretlab.learners.gaussian import GaussianPosterior, posterior, sampling_factor

R = 12  # enough replicates for the batched path (8 or more keep a factor)
FM = InteractionFeatures(3)  # p = 7
P = FM.n_features


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def kept_factor(model: BayesianLinearRegression) -> np.ndarray:
    """The factor the model keeps, after checking that it is kept (not made afresh)."""
    post = model._sync()
    assert model._sampling is not None
    assert model._sampling.holds(post)
    return model._sampling.get(post)


def test_downdate_is_the_cholesky_factor_of_the_sherman_morrison_update():
    rng = np.random.default_rng(0)
    n, p = 9, 6
    a = rng.standard_normal((n, p, 2 * p))
    s = a @ a.swapaxes(-1, -2) / p + 0.1 * np.eye(p)
    x = rng.standard_normal((n, p))
    beta = rng.uniform(0.1, 50.0, n)  # one precision per item (as a GLM's curvature)
    sx = np.einsum("npq,nq->np", s, x)
    c = beta / (1.0 + beta * np.einsum("np,np->n", x, sx))
    updated = s - c[:, None, None] * sx[:, :, None] * sx[:, None, :]
    upper = np.ascontiguousarray(np.linalg.cholesky(s).transpose(2, 1, 0))
    downdate(upper, x.T, beta)
    lower = upper.transpose(2, 1, 0)
    assert relative(lower, np.linalg.cholesky(updated)) < 1e-12
    assert np.all(np.triu(lower, 1) == 0.0)  # exactly triangular


def test_a_large_shrink_loses_no_digits():
    # beta x'Sx = 1e8: Sherman-Morrison on the covariance would lose ~8 digits; the factor's
    # coefficients are built from sums of positive terms only.
    s = np.diag([1.0, 1.0, 1.0])
    x = np.array([1.0, 0.0, 0.0])
    upper = np.linalg.cholesky(s).T[..., None].copy()
    downdate(upper, x[:, None], 1e8)
    assert upper[0, 0, 0] == pytest.approx(1.0 / np.sqrt(1.0 + 1e8), rel=1e-15)
    np.testing.assert_array_equal(upper[1:, 1:, 0], np.eye(2))


def stream(seed: int, steps: int):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(P)
    for _ in range(steps):
        x = FM.transform(rng.uniform(-1, 1, (R, 3)))
        yield x, x @ w + rng.standard_normal(R)


def test_the_kept_factor_stays_within_1e9_of_a_fresh_cholesky_over_many_steps():
    model = BayesianLinearRegression(groups=FM, n_replicates=R, prior_variance=2.0)
    draw_rng = np.random.default_rng(1)
    worst = 0.0
    for t, (x, y) in enumerate(stream(2, 3000)):
        model.sample(draw_rng)  # a draw per step, as Thompson sampling makes
        model.learn_one(x, y)
        if t % 250 == 249:
            model.sample(draw_rng)
            kept = kept_factor(model)
            # The oracle: a fresh solve from the exact statistics.
            batch = posterior(model.stats, np.full(P, 2.0), 1.0)
            worst = max(worst, relative(kept, np.linalg.cholesky(batch.covariance)))
            worst = max(worst, relative(model.mean, batch.mean))
            worst = max(worst, relative(model.covariance, batch.covariance))
    assert worst < 1e-9


def test_a_prior_change_or_refresh_makes_the_factor_afresh():
    model = BayesianLinearRegression(groups=FM, n_replicates=R, refresh_every=40)
    rng = np.random.default_rng(3)
    for x, y in stream(4, 30):
        model.sample(rng)
        model.learn_one(x, y)
    model.set_prior_variance("pairwise", 0.0)  # switched off: its draws are exactly 0
    for x, y in stream(5, 30):  # across a refresh (refresh_every = 40) too
        model.sample(rng)
        model.learn_one(x, y)
    draws = model.sample(rng, size=50)
    pairwise = np.array([g == "pairwise" for g in FM.groups])
    assert np.all(draws[..., pairwise] == 0.0)
    batch = posterior(model.stats, np.where(pairwise, 0.0, 1.0), 1.0)
    fresh = np.linalg.cholesky(batch.covariance[..., ~pairwise][..., ~pairwise, :])
    kept = kept_factor(model)[..., ~pairwise][..., ~pairwise, :]
    assert relative(kept, fresh) < 1e-9


def test_draws_have_the_posterior_predictive_moments():
    model = BayesianLinearRegression(groups=FM, n_replicates=R)
    rng = np.random.default_rng(6)
    for x, y in stream(7, 200):
        model.sample(rng)
        model.learn_one(x, y)
    n = 40_000
    draws = model.sample(np.random.default_rng(8), size=n)  # through the kept factor
    kept_factor(model)
    x = FM.transform(np.random.default_rng(9).uniform(-1, 1, (R, 3)))
    scores = np.einsum("nrp,rp->nr", draws, x)
    loc, sd = model.predict_one(x, return_sd=True, include_noise=False)
    # Mean within 5 standard errors, variance within 5 (se of a normal variance: var
    # sqrt(2 / n)): a false failure at most ~1e-6 per replicate, 2.4e-5 over the 24 checks.
    z_mean = (scores.mean(axis=0) - loc) / (sd / np.sqrt(n))
    z_var = (scores.var(axis=0) - sd**2) / (sd**2 * np.sqrt(2.0 / n))
    assert np.abs(z_mean).max() < 5.0
    assert np.abs(z_var).max() < 5.0


def test_the_same_draws_as_a_fresh_factor_up_to_rounding():
    model = BayesianLinearRegression(groups=FM, n_replicates=R)
    rng = np.random.default_rng(10)
    for x, y in stream(11, 100):
        model.sample(rng)
        model.learn_one(x, y)
    kept = model.sample(np.random.default_rng(12))
    fresh = SamplingFactor().draw(
        model.posterior, np.random.default_rng(12).standard_normal((R, P))
    )
    assert relative(kept, fresh) < 1e-9


def test_the_factor_follows_the_glm_laplace_steps():
    model = BayesianGLM(groups=FM, n_replicates=R)
    rng = np.random.default_rng(13)
    w = rng.standard_normal(P)
    for _ in range(400):
        x = FM.transform(rng.uniform(-1, 1, (R, 3)))
        y = (rng.random(R) < 1.0 / (1.0 + np.exp(-x @ w))).astype(float)
        model.sample(rng)
        model.learn_one(x, y)
    model.sample(rng)
    post = model._sync()
    assert model._sampling is not None
    assert model._sampling.holds(post)
    fresh = np.linalg.cholesky(post.covariance)
    assert relative(model._sampling.get(post), fresh) < 1e-9


def test_a_factor_of_another_posterior_is_dropped_not_updated():
    cov = np.broadcast_to(np.eye(2), (3, 2, 2)).copy()
    post = GaussianPosterior(np.zeros((3, 2)), cov, True)
    other = GaussianPosterior(np.zeros((3, 2)), 4.0 * cov, True)
    factor = SamplingFactor()
    factor.get(post)
    factor.update(other, np.ones((3, 2)), 1.0)
    assert not factor.holds(post)
    np.testing.assert_allclose(factor.get(other), 2.0 * cov, rtol=1e-11)


def _factor_by_lapack(covariance: np.ndarray) -> np.ndarray:
    """sampling_factor's general path: the scaled matrix's Cholesky factor, rescaled."""
    scale = np.sqrt(np.maximum(np.einsum("...ii->...i", covariance), 0.0))
    live = scale > 0
    inv = np.where(live, 1.0 / np.where(live, scale, 1.0), 0.0)
    corr = covariance * inv[..., :, None] * inv[..., None, :]
    p = scale.shape[-1]
    corr[..., np.arange(p), np.arange(p)] = 1.0 + 1e-12
    return np.linalg.cholesky(corr) * scale[..., :, None]


@pytest.mark.parametrize("shape", [(50, 36), (3, 4, 7), (1,)])
def test_a_diagonal_covariance_factors_as_lapack_does(shape):
    # The one-pass path for independent coefficients (a prior) gives LAPACK's numbers: variances
    # over 40 decades, switched-off columns (0) and a negative rounding residue (treated as 0).
    rng = np.random.default_rng(14)
    variances = rng.uniform(0.1, 10.0, shape) * 10.0 ** rng.integers(-30, 10, shape)
    variances[rng.random(shape) < 0.2] = 0.0
    variances.reshape(-1)[0] = -1e-300
    covariance = variances[..., :, None] * np.eye(shape[-1])
    np.testing.assert_array_equal(sampling_factor(covariance), _factor_by_lapack(covariance))


def test_one_off_diagonal_entry_takes_the_cholesky_path():
    covariance = np.broadcast_to(np.eye(5), (4, 5, 5)).copy()
    covariance[2, 1, 3] = covariance[2, 3, 1] = 0.5
    factor = sampling_factor(covariance)
    np.testing.assert_allclose(factor @ factor.swapaxes(-1, -2), covariance, atol=1e-11)
    assert factor[2, 3, 1] != 0.0
