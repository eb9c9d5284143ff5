"""The Normal-Inverse-Gamma learner against its closed form (Murphy 2007, section 6)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression

GROUPS = ("intercept", "main", "main", "pairwise")


def _closed_form(x, y, prior, a0, b0, weights=None):
    w = np.ones(len(y)) if weights is None else weights
    precision = np.diag(1.0 / prior) + (x * w[:, None]).T @ x
    v = np.linalg.solve(precision, np.eye(len(prior)))
    m = v @ ((x * w[:, None]).T @ y)
    a = a0 + 0.5 * w.sum()
    b = b0 + 0.5 * (y @ (w * y) - m @ precision @ m)
    return m, v, a, b


@pytest.mark.parametrize("n_replicates", [None, 4])
def test_posterior_equals_closed_form(rng, n_replicates):
    batch = () if n_replicates is None else (n_replicates,)
    n = 500
    x = rng.uniform(-1, 1, size=(n, *batch, 4))
    x[..., 0] = 1.0
    y = x @ np.array([0.5, -1.0, 2.0, 0.3]) + 0.7 * rng.normal(size=(n, *batch))
    prior = {"intercept": 10.0, "main": 2.0, "pairwise": 0.5}
    model = NormalInverseGammaRegression(
        groups=GROUPS,
        prior_variance=prior,
        noise_shape=2.0,
        noise_scale=3.0,
        n_replicates=n_replicates,
    )
    for t in range(n):
        model.predict_one(x[t])  # interleaved reads exercise the rank-one path
        model.learn_one(x[t], y[t])
    columns = np.array([10.0, 2.0, 2.0, 0.5])
    shape, rate = model.noise_posterior
    for r in range(n_replicates or 1):
        xr = x[:, r] if batch else x
        yr = y[:, r] if batch else y
        m, v, a, b = _closed_form(xr, yr, columns, 2.0, 3.0)
        # Rank-one updates with periodic refreshes agree with the batch solve to rounding.
        np.testing.assert_allclose(np.atleast_2d(model.mean)[r], m, rtol=1e-10)
        np.testing.assert_allclose(np.atleast_1d(shape)[r], a)
        np.testing.assert_allclose(np.atleast_1d(rate)[r], b, rtol=1e-10)
        cov = np.atleast_3d(model.covariance) if batch else model.covariance[None]
        np.testing.assert_allclose(cov[r], b / (a - 1) * v, rtol=1e-9)


def test_predictive_is_student_t(rng):
    x = rng.uniform(-1, 1, size=(50, 4))
    y = x.sum(axis=1) + rng.normal(size=50)
    model = NormalInverseGammaRegression(groups=GROUPS).learn_many(x, y)
    m, v, a, b = _closed_form(x, y, np.ones(4), 1.0, 1.0)
    probe = rng.uniform(-1, 1, size=4)
    loc, sd = model.predict_one(probe, return_sd=True)
    scale = np.sqrt(b / a * (1.0 + probe @ v @ probe))
    assert loc == pytest.approx(probe @ m, rel=1e-12)
    assert sd == pytest.approx(sps.t(df=2 * a, loc=loc, scale=scale).std(), rel=1e-12)
    _, sd_mean = model.predict_one(probe, return_sd=True, include_noise=False)
    expected = sps.t(df=2 * a, scale=np.sqrt(b / a * probe @ v @ probe)).std()
    assert sd_mean == pytest.approx(expected, rel=1e-12)


def test_mean_equals_known_noise_learner_with_unit_precision(rng):
    x = rng.uniform(-1, 1, size=(300, 4))
    y = x @ np.array([1.0, 2.0, -1.0, 0.5]) + rng.normal(size=300)
    nig = NormalInverseGammaRegression(groups=GROUPS, prior_variance=3.0)
    known = BayesianLinearRegression(groups=GROUPS, prior_variance=3.0, noise_precision=1.0)
    for t in range(300):
        nig.learn_one(x[t], y[t])
        known.learn_one(x[t], y[t])
    np.testing.assert_allclose(nig.mean, known.mean, rtol=1e-12)


@pytest.mark.parametrize("cls", [BayesianLinearRegression, NormalInverseGammaRegression])
def test_forgetting_off_equals_plain(rng, cls):
    x = rng.uniform(-1, 1, size=(200, 4))
    y = x.sum(axis=1) + rng.normal(size=200)
    plain, unit = cls(groups=GROUPS), cls(groups=GROUPS, forgetting=1.0)
    for t in range(200):
        assert plain.predict_one(x[t]) == unit.predict_one(x[t])
        plain.learn_one(x[t], y[t])
        unit.learn_one(x[t], y[t])


@pytest.mark.parametrize("cls", [BayesianLinearRegression, NormalInverseGammaRegression])
def test_forgetting_equals_discounted_closed_form(rng, cls):
    gamma, n = 0.97, 300
    x = rng.uniform(-1, 1, size=(n, 4))
    y = x @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3 * rng.normal(size=n)
    model = cls(groups=GROUPS, forgetting=gamma)
    for t in range(n):
        model.predict_one(x[t])
        model.learn_one(x[t], y[t])
    weights = gamma ** np.arange(n - 1, -1, -1.0)
    m, *_ = _closed_form(x, y, np.ones(4), 1.0, 1.0, weights)
    np.testing.assert_allclose(model.mean, m, rtol=1e-10)


def test_forgetting_tracks_a_change(rng):
    """After an abrupt change the discounted model follows; the plain one averages."""
    n = 4000
    x = rng.uniform(-1, 1, size=(n, 4))
    w = np.where(np.arange(n)[:, None] < n // 2, [1.0, 1.0, 0.0, 0.0], [1.0, -1.0, 0.0, 0.0])
    y = (x * w).sum(axis=1) + 0.1 * rng.normal(size=n)
    # The prior variances are relative to the noise (0.01 here): 1e4 makes the prior weak.
    weak = {"prior_variance": 1e4}
    forgetful = NormalInverseGammaRegression(groups=GROUPS, forgetting=0.99, **weak)
    forgetful.learn_many(x, y)
    plain = NormalInverseGammaRegression(groups=GROUPS, **weak).learn_many(x, y)
    # 2000 steps after the change the discounted weight on old data is 0.99**2000 ~ 2e-9.
    assert forgetful.mean[1] == pytest.approx(-1.0, abs=0.02)
    assert plain.mean[1] == pytest.approx(0.0, abs=0.1)


def test_sample_moments(rng):
    x = rng.uniform(-1, 1, size=(40, 4))
    y = x.sum(axis=1) + rng.normal(size=40)
    model = NormalInverseGammaRegression(groups=GROUPS, noise_shape=3.0).learn_many(x, y)
    draws = model.sample(np.random.default_rng(5), size=40_000)
    # 40,000 draws: the standard error of a mean is sd/200, so 4 standard errors is sd/50.
    np.testing.assert_allclose(draws.mean(axis=0), model.mean, atol=float(model.sd.max()) / 50)
    # Sample variances of a Student-t with 2 a_N ~ 46 dof converge more slowly; 5% covers it.
    np.testing.assert_allclose(draws.var(axis=0), model.sd**2, rtol=0.05)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"noise_shape": 0.0}, "noise_shape"),
        ({"noise_scale": -1.0}, "noise_scale"),
        ({"forgetting": 1.5}, "forgetting"),
        ({"forgetting": 0.0}, "forgetting"),
    ],
)
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        NormalInverseGammaRegression(groups=GROUPS, **kwargs)
