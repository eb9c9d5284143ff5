"""Reward models: the law of the draws, their errors and common random numbers."""

import numpy as np
import pytest
from scipy import stats

from regretlab.environments import Bernoulli, Binomial, Gaussian, Poisson
from regretlab.environments.rewards import resolve_observation


@pytest.mark.parametrize(
    ("model", "mean"),
    [(Bernoulli(), 0.3), (Poisson(), 2.5), (Binomial(4), 1.2)],
)
def test_draws_have_the_stated_mean_and_variance(model, mean):
    n = 200_000
    draws = model.observe(np.random.default_rng(1), np.full(n, mean))
    var = float(model.variance(np.array(mean)))
    # The sample mean within 4.5 standard errors (false failure ~1e-5).
    assert abs(draws.mean() - mean) < 4.5 * np.sqrt(var / n)
    assert abs(draws.var() - var) < 0.02 * var


def test_poisson_counts_follow_the_pmf():
    draws = Poisson().observe(np.random.default_rng(2), np.full(50_000, 1.7))
    counts = np.bincount(draws.astype(int), minlength=12)[:8]
    expected = 50_000 * stats.poisson.pmf(np.arange(8), 1.7)
    assert stats.chisquare(counts, expected * counts.sum() / expected.sum()).pvalue > 1e-4


def test_bernoulli_couples_the_arms_on_one_step():
    draws = Bernoulli().observe(np.random.default_rng(3), np.tile([0.2, 0.6], (1000, 1)))
    # One uniform per entry in C order: the draws are u < mean, reproducible from the seed.
    u = np.random.default_rng(3).random((1000, 2))
    np.testing.assert_array_equal(draws, (u < [0.2, 0.6]).astype(float))


@pytest.mark.parametrize(
    ("model", "mean", "match"),
    [
        (Bernoulli(), [0.5, 1.2], "mean must lie in \\[0, 1\\].*1.2"),
        (Bernoulli(), [np.nan], "Bernoulli"),
        (Poisson(), [-0.1], "mean must lie in \\[0, inf\\].*-0.1"),
        (Binomial(3), [3.5], "\\[0, 3\\]"),
    ],
)
def test_means_outside_the_support_are_refused(model, mean, match):
    with pytest.raises(ValueError, match=match):
        model.observe(np.random.default_rng(0), np.array(mean))


def test_bad_models_are_refused():
    with pytest.raises(ValueError, match="trials"):
        Binomial(0)
    with pytest.raises(TypeError, match="reward must be"):
        resolve_observation("bernoulli")
    assert resolve_observation(Gaussian(1.0)) == Gaussian(1.0)
