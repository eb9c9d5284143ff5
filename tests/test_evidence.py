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


@pytest.mark.parametrize("cls", [BayesianLinearRegression, NormalInverseGammaRegression])
def test_flat_columns_chain_rule_from_the_first_determined_step(rng, cls):
    """With a flat prior on ``a`` the evidence is defined once ``a`` is determined (one row);
    from there the chain rule holds: sum_{t>1} log p(y_t | y_<t) = log p(y) - log p(y_1).
    For the NIG model this checks that the posterior noise shape and the evidence agree on the
    flat column's cost (a_N = a_0 + (n - 1) / 2)."""
    x, y = _data(rng, r=2, n=40)
    model = cls(groups=GROUPS, prior_variance={"a": np.inf}, n_replicates=2)
    assert np.all(model.log_evidence() == -np.inf)  # nothing determines ``a`` yet
    model.learn_one(x[:, 0], y[:, 0])
    first = model.log_evidence()
    total = np.zeros(2)
    for t in range(1, 40):
        total += model.log_predictive(x[:, t], y[:, t])
        model.learn_one(x[:, t], y[:, t])
    np.testing.assert_allclose(total, model.log_evidence() - first, rtol=1e-9)


def test_flat_column_bayes_factors_are_the_wide_prior_limit(rng):
    """Candidates that share a flat column compare as the limit of a wide proper prior on it."""
    x, y = _data(rng)
    flat = BayesianLinearRegression(groups=GROUPS, prior_variance={"a": np.inf}, n_replicates=3)
    wide = BayesianLinearRegression(groups=GROUPS, prior_variance={"a": 1e12}, n_replicates=3)
    grid = {"c": [0.0, 0.1, 10.0]}
    log_bf_flat = np.diff(flat.learn_many(x, y).log_evidence(grid), axis=0)
    log_bf_wide = np.diff(wide.learn_many(x, y).log_evidence(grid), axis=0)
    np.testing.assert_allclose(log_bf_flat, log_bf_wide, atol=1e-6)


def test_evidence_rejects_bad_candidates(rng):
    x, y = _data(rng)
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=3).learn_many(x, y)
    with pytest.raises(ValueError, match="candidates"):
        model.log_evidence({"c": [-1.0]})
    with pytest.raises(ValueError, match="group"):
        model.log_evidence({"zzz": [1.0]})
