"""BayesianGLM: the refitted mode against scikit-learn, the Laplace bookkeeping against closed
forms, prior swaps, bad input, and the schedulers that read its evidence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, gammaln

from regretlab.learners import BayesianGLM
from regretlab.learners.glm_math import log_likelihood, newton_map, site_step

sklearn_lm = pytest.importorskip("sklearn.linear_model")

GROUPS = ("intercept", "main", "main", "pairwise", "pairwise")
VARIANCES = {"intercept": np.inf, "main": 2.0, "pairwise": 0.5}


def _data(link: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    eta = x @ np.array([0.5, -1.0, 1.0, 0.3]) - 1.0
    y = (rng.random(n) < expit(eta)) if link == "logit" else rng.poisson(np.exp(0.5 * eta + 0.7))
    return np.c_[np.ones(n), x], y.astype(float)


def _sklearn_mode(link: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Per-group variances by column scaling: w_j = s_j u_j with s_j^2 = v_j puts a unit prior
    # on u, and sklearn's penalty (1/2)|u|^2 against the summed log likelihood is C = 1
    # (LogisticRegression) or alpha = 1 / n (PoissonRegressor's mean deviance / 2); the
    # intercept is unpenalised in sklearn, flat here.
    scale = np.sqrt(np.array([2.0, 2.0, 0.5, 0.5]))
    if link == "logit":
        fit = sklearn_lm.LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12)
        fit.fit(x[:, 1:] * scale, y)
        return np.r_[fit.intercept_, fit.coef_[0] * scale]
    fit = sklearn_lm.PoissonRegressor(alpha=1.0 / len(y), solver="newton-cholesky", tol=1e-12)
    fit.fit(x[:, 1:] * scale, y)
    return np.r_[fit.intercept_, fit.coef_ * scale]


@pytest.mark.parametrize("link", ["logit", "log"])
def test_refit_mode_equals_sklearn(link):
    """After a refit the mode is scikit-learn's penalised fit to 1e-6, in every replicate."""
    data = [_data(link, 300, seed) for seed in (1, 2)]
    model = BayesianGLM(
        groups=GROUPS, prior_variance=VARIANCES, link=link, n_replicates=2, refit_start=10**6
    )
    model.learn_many(np.stack([d[0] for d in data]), np.stack([d[1] for d in data]))
    online = model.mean
    model.refit()
    for r, (x, y) in enumerate(data):
        expected = _sklearn_mode(link, x, y)
        np.testing.assert_allclose(model.mean[r], expected, atol=1e-6, rtol=0)
        # The online approximation is close but not the mode (the gap the refit closes).
        assert 1e-4 < np.abs(online[r] - expected).max() < 0.2


@pytest.mark.parametrize("link", ["logit", "log"])
def test_refit_gives_the_laplace_posterior_and_evidence(link):
    """At the MAP: covariance = inverse Hessian, and log_evidence = the Laplace formula."""
    x, y = _data(link, 120, 3)
    v = np.array([4.0, 2.0, 2.0, 0.5, 0.5])
    model = BayesianGLM(
        groups=GROUPS, prior_variance={**VARIANCES, "intercept": 4.0}, link=link, refit_start=10**6
    )
    model.learn_many(x, y).refit()
    m = model.mean
    mu = expit(x @ m) if link == "logit" else np.exp(x @ m)
    h = mu * (1 - mu) if link == "logit" else mu
    precision = x.T @ (h[:, None] * x) + np.diag(1 / v)
    np.testing.assert_allclose(model.covariance, np.linalg.inv(precision), rtol=1e-9, atol=1e-12)
    ll = log_likelihood(link, y, x @ m).sum()
    log_prior = -0.5 * (m @ (m / v) + np.log(2 * np.pi * v).sum())
    laplace = (
        ll + log_prior + 0.5 * len(v) * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(precision)[1]
    )
    np.testing.assert_allclose(model.log_evidence(), laplace, rtol=1e-10)
    np.testing.assert_allclose(model.log_likelihood(), ll, rtol=1e-12)


@pytest.mark.parametrize("link", ["logit", "log"])
def test_one_online_step_is_the_exact_map(link):
    """With one observation the online step finds the exact MAP of prior x likelihood."""
    x = np.array([1.0, 0.5, -2.0, 0.3, 1.0])
    y = 1.0 if link == "logit" else 3.0
    model = BayesianGLM(groups=GROUPS, prior_variance=2.0, link=link).learn_one(x, y)
    expected = newton_map(link, x[None], np.array([y]), np.full(5, 0.5), np.zeros(5))
    np.testing.assert_allclose(model.mean, expected, atol=1e-12)


def test_site_step_solves_its_equation():
    rng = np.random.default_rng(0)
    eta0, q = rng.normal(size=200) * 3, rng.uniform(0, 20, 200)
    for link, y in (("logit", (rng.random(200) < 0.5) * 1.0), ("log", rng.poisson(2.0, 200))):
        e = site_step(link, eta0, q, y)
        mu = expit(e) if link == "logit" else np.exp(e)
        np.testing.assert_allclose(e, eta0 + q * (y - mu), atol=1e-9)


def test_prior_swap_keeps_the_likelihood_approximation():
    """A prior change keeps L and b: switching back restores the posterior exactly, and the
    swapped posterior is near the refit under the new prior."""
    x, y = _data("logit", 400, 4)
    model = BayesianGLM(groups=GROUPS, prior_variance=VARIANCES, refit_start=10**6)
    model.learn_many(x, y).refit()
    before = model.mean
    model.set_prior_variance("pairwise", 0.01)
    swapped = model.mean
    model.set_prior_variance("pairwise", 0.5)
    np.testing.assert_allclose(model.mean, before, atol=1e-12)
    model.set_prior_variance("pairwise", 0.01)
    model.refit()
    gap = np.abs(swapped - model.mean).max()
    moved = np.abs(before - model.mean).max()
    # The swap takes the posterior most of the way to the new mode (measured: 0.062 of 0.57
    # here), but not exactly there: a GLM has no finite sufficient statistics.
    assert 1e-8 < gap < 0.3 * moved, (gap, moved)


def test_switched_off_group_stays_zero():
    x, y = _data("logit", 100, 5)
    model = BayesianGLM(groups=GROUPS, prior_variance={"pairwise": 0.0}, refit_start=50)
    model.learn_many(x, y)
    assert np.all(model.mean[3:] == 0.0)
    assert np.all(model.sample(np.random.default_rng(0), size=3)[:, 3:] == 0.0)


def test_weight_is_a_case_weight():
    """``weight=2`` learns like the observation seen twice (after a refit, exactly)."""
    x, y = _data("log", 60, 6)
    once = BayesianGLM(groups=GROUPS, link="log", refit_start=10**6)
    twice = BayesianGLM(groups=GROUPS, link="log", refit_start=10**6)
    for row, target in zip(x, y, strict=True):
        once.learn_one(row, target, weight=2.0)
        twice.learn_one(row, target).learn_one(row, target)
    np.testing.assert_allclose(once.refit().mean, twice.refit().mean, atol=1e-9)


def test_predictions_are_mean_rewards():
    x, y = _data("logit", 50, 7)
    model = BayesianGLM(groups=GROUPS).learn_many(x, y)
    designs = x[:4]
    np.testing.assert_allclose(model.predict_one(designs), expit(designs @ model.mean))
    mu, sd = model.predict_one(designs, return_sd=True, include_noise=False)
    var_eta = np.einsum("kp,pq,kq->k", designs, model.covariance, designs)
    np.testing.assert_allclose(sd, mu * (1 - mu) * np.sqrt(var_eta))


@pytest.mark.parametrize(
    ("link", "y", "message"),
    [("logit", 0.5, "y must be 0 or 1"), ("logit", 2.0, "0 or 1"), ("log", -1.0, "count >= 0")],
)
def test_bad_targets(link, y, message):
    model = BayesianGLM(groups=GROUPS, link=link)
    with pytest.raises(ValueError, match=message):
        model.learn_one(np.ones(5), y)
    with pytest.raises(ValueError, match=message):
        model.learn_many(np.ones((2, 5)), np.array([0.0, y]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="link must be one of"):
        BayesianGLM(groups=GROUPS, link="probit")
    with pytest.raises(ValueError, match="refit_start must be >= 1"):
        BayesianGLM(groups=GROUPS, refit_start=0)
    with pytest.raises(ValueError, match="refit needs the stored"):
        BayesianGLM(groups=GROUPS).refit()
    with pytest.raises(ValueError, match="weight must be finite and >= 0"):
        BayesianGLM(groups=GROUPS).learn_one(np.ones(5), 1.0, weight=-1.0)


def test_poisson_log_likelihood_has_the_factorials():
    x, y = _data("log", 80, 8)
    model = BayesianGLM(groups=GROUPS, prior_variance=1.0, link="log", refit_start=10**6)
    model.learn_many(x, y).refit()
    ll = model.log_likelihood()
    ll_no_fact = (y * (x @ model.mean) - np.exp(x @ model.mean)).sum()
    np.testing.assert_allclose(ll_no_fact - ll, gammaln(y + 1).sum(), rtol=1e-12)
