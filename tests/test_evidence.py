"""Exact log marginal likelihoods and log predictive densities against the densities of y."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression

GROUPS = ("a", "b", "b", "c")


def _data(rng, r=3, n=30):
    x = rng.normal(size=(r, n, 4))
    return x, x @ rng.normal(size=4) + 0.5 * rng.normal(size=(r, n))


def test_known_noise_evidence_is_the_marginal_density(rng):
    x, y = _data(rng)
    prior = {"a": 2.0, "b": 0.5, "c": 0.0}
    model = BayesianLinearRegression(
        groups=GROUPS, prior_variance=prior, noise_precision=3.0, n_replicates=3
    ).learn_many(x, y)
    v = np.array([2.0, 0.5, 0.5, 0.0])
    for r in range(3):
        cov = x[r] @ np.diag(v) @ x[r].T + np.eye(30) / 3.0
        expected = sps.multivariate_normal(np.zeros(30), cov).logpdf(y[r])
        assert model.log_evidence()[r] == pytest.approx(expected, abs=1e-9)


def test_candidate_grid_scores_each_prior_without_refitting(rng):
    x, y = _data(rng)
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=3).learn_many(x, y)
    before = model.mean
    grid = model.log_evidence({"c": [0.0, 1.0, 10.0]})
    assert grid.shape == (3, 3)
    for g, value in enumerate([0.0, 1.0, 10.0]):
        other = BayesianLinearRegression(
            groups=GROUPS, prior_variance={"c": value}, n_replicates=3
        ).learn_many(x, y)
        np.testing.assert_allclose(grid[g], other.log_evidence(), rtol=1e-12)
    np.testing.assert_array_equal(model.mean, before)
    per_replicate = model.log_evidence({"c": np.array([[0.0, 1.0, 10.0]])})
    np.testing.assert_allclose(per_replicate[0], np.diag(grid), rtol=1e-12)


def test_nig_evidence_is_the_student_t_marginal(rng):
    x, y = _data(rng)
    prior = {"a": 2.0, "b": 0.5, "c": 1.0}
    model = NormalInverseGammaRegression(
        groups=GROUPS, prior_variance=prior, noise_shape=3.0, noise_scale=2.0, n_replicates=3
    ).learn_many(x, y)
    v = np.array([2.0, 0.5, 0.5, 1.0])
    for r in range(3):
        # y ~ St_{2 a0}(0, (b0 / a0) (I + X V0 X')) (Murphy 2007, eq. 95).
        shape = (2.0 / 3.0) * (np.eye(30) + x[r] @ np.diag(v) @ x[r].T)
        expected = sps.multivariate_t(np.zeros(30), shape, df=6.0).logpdf(y[r])
        assert model.log_evidence()[r] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("cls", [BayesianLinearRegression, NormalInverseGammaRegression])
def test_prequential_log_predictive_sums_to_the_evidence(rng, cls):
    """The chain rule: sum_t log p(y_t | y_<t) = log p(y_1..T)."""
    x, y = _data(rng, r=2, n=40)
    model = cls(groups=GROUPS, n_replicates=2)
    total = np.zeros(2)
    for t in range(40):
        total += model.log_predictive(x[:, t], y[:, t])
        model.learn_one(x[:, t], y[:, t])
    np.testing.assert_allclose(total, model.log_evidence(), rtol=1e-10)


def test_evidence_rejects_flat_priors_and_bad_candidates(rng):
    x, y = _data(rng)
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=3).learn_many(x, y)
    with pytest.raises(ValueError, match="finite"):
        model.log_evidence({"c": [np.inf]})
    with pytest.raises(ValueError, match="candidates"):
        model.log_evidence({"c": [-1.0]})
    with pytest.raises(ValueError, match="group"):
        model.log_evidence({"zzz": [1.0]})
