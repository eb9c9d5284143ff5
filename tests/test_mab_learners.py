"""Per-arm learners (issue 17): conjugate posteriors in closed form, quantiles and draws against
scipy, importance weights, errors, and the Gaussian per-arm posterior of a linear learner on the
one-hot design."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from regretlab.features import ArmFeatures
from regretlab.learners import ArmMeans, BayesianLinearRegression, BetaBernoulli, GammaPoisson

# Per replicate (2) a sequence of (arm, reward) pairs on 3 arms.
ARMS = np.array([[0, 1], [0, 2], [1, 2], [0, 2], [2, 1], [0, 0]])
BINARY = np.array([[1, 0], [0, 1], [1, 1], [1, 1], [0, 0], [1, 1]], dtype=float)
COUNTS = np.array([[3, 0], [1, 4], [0, 2], [2, 5], [6, 1], [0, 2]], dtype=float)


def teach(model, rewards, probability=None):
    for a, y in zip(ARMS, rewards, strict=True):
        p = None if probability is None else np.full(2, probability)
        model.learn_one(np.zeros((2, 3)), y, action=a, probability=p)
    return model


def by_hand(rewards):
    """Pulls and reward sums per replicate and arm."""
    n, s = np.zeros((2, 3)), np.zeros((2, 3))
    for a, y in zip(ARMS, rewards, strict=True):
        n[[0, 1], a] += 1
        s[[0, 1], a] += y
    return n, s


def test_beta_bernoulli_posterior_in_closed_form():
    model = teach(
        BetaBernoulli(n_actions=3, n_replicates=2, prior_alpha=2.0, prior_beta=0.5), BINARY
    )
    n, s = by_hand(BINARY)
    np.testing.assert_array_equal(model.alpha, 2.0 + s)
    np.testing.assert_array_equal(model.beta, 0.5 + n - s)
    np.testing.assert_array_equal(model.n_seen, n)
    mean, sd = model.predict_one(np.zeros((2, 3)), return_sd=True, include_noise=False)
    a, b = 2.0 + s, 0.5 + n - s
    np.testing.assert_allclose(mean, a / (a + b), rtol=1e-15)
    np.testing.assert_allclose(sd, stats.beta.std(a, b), rtol=1e-12)
    np.testing.assert_allclose(model.quantile(0.9), stats.beta.ppf(0.9, a, b), rtol=1e-10)


def test_gamma_poisson_posterior_in_closed_form():
    model = teach(
        GammaPoisson(n_actions=3, n_replicates=2, prior_shape=2.0, prior_rate=0.5), COUNTS
    )
    n, s = by_hand(COUNTS)
    np.testing.assert_array_equal(model.posterior_shape, 2.0 + s)
    np.testing.assert_array_equal(model.posterior_rate, 0.5 + n)
    shape, rate = 2.0 + s, 0.5 + n
    mean, sd = model.predict_one(np.zeros((2, 3)), return_sd=True, include_noise=False)
    np.testing.assert_allclose(mean, shape / rate, rtol=1e-15)
    np.testing.assert_allclose(sd, stats.gamma.std(shape, scale=1 / rate), rtol=1e-12)
    # The predictive of a new count is negative binomial: variance mean + mean / rate.
    _, predictive = model.predict_one(np.zeros((2, 3)), return_sd=True)
    nb = stats.nbinom(shape, rate / (rate + 1.0))
    np.testing.assert_allclose(predictive, nb.std(), rtol=1e-12)
    np.testing.assert_allclose(
        model.quantile(np.array([0.2, 0.95])),
        stats.gamma.ppf([[0.2], [0.95]], shape, scale=1 / rate),
        rtol=1e-10,
    )


def test_posterior_draws_have_the_posterior_moments():
    # 40 000 draws: the standard error of a mean is sd / 200, so 6 standard errors (a false
    # failure rate below 1e-8 per cell) is sd * 0.03.
    rng = np.random.default_rng(0)
    for model in (
        teach(BetaBernoulli(n_actions=3, n_replicates=2), BINARY),
        teach(GammaPoisson(n_actions=3, n_replicates=2), COUNTS),
    ):
        draws = model.sample_means(rng, size=40_000)
        mean, sd = model.predict_one(np.zeros((2, 3)), return_sd=True, include_noise=False)
        assert draws.shape == (40_000, 2, 3)
        np.testing.assert_array_less(np.abs(draws.mean(axis=0) - mean), 0.03 * sd)
        np.testing.assert_allclose(draws.std(axis=0), sd, rtol=0.03)


def test_arm_means_are_empirical_and_weighted_sums_use_the_propensity():
    model = teach(ArmMeans(n_actions=3, n_replicates=2, initial=-1.0), COUNTS, probability=0.25)
    n, s = by_hand(COUNTS)
    np.testing.assert_allclose(model.reward_mean, np.where(n > 0, s / np.maximum(n, 1), -1.0))
    np.testing.assert_allclose(model.importance_weighted_sum, s / 0.25)
    np.testing.assert_array_equal(model.n_total, n.sum(axis=1))
    unweighted = teach(ArmMeans(n_actions=3, n_replicates=2), COUNTS)
    np.testing.assert_array_equal(unweighted.importance_weighted_sum, 0.0)


def test_state_round_trip_keeps_the_running_means():
    model = teach(BetaBernoulli(n_actions=3, n_replicates=2), BINARY)
    twin = BetaBernoulli(n_actions=3, n_replicates=2).set_state(model.get_state())
    np.testing.assert_allclose(twin.reward_mean, model.reward_mean, rtol=1e-15)
    np.testing.assert_array_equal(twin.alpha, model.alpha)
    np.testing.assert_array_equal(twin.beta, model.beta)
    np.testing.assert_array_equal(twin.n_total, model.n_total)


def test_a_linear_learner_on_the_one_hot_design_is_k_gaussian_arms():
    # Prior N(0, v) per arm, noise precision beta: the posterior mean of arm a is
    # beta * s_a / (1 / v + beta * n_a) and its variance 1 / (1 / v + beta * n_a).
    v, beta = 2.0, 4.0
    model = BayesianLinearRegression(
        groups=ArmFeatures(3), prior_variance=v, noise_precision=beta, n_replicates=2
    )
    eye = np.eye(3)
    for a, y in zip(ARMS, COUNTS, strict=True):
        model.learn_one(eye[a], y)
    n, s = by_hand(COUNTS)
    precision = 1.0 / v + beta * n
    mean, sd = model.predict_one(
        np.broadcast_to(eye, (2, 3, 3)), return_sd=True, include_noise=False
    )
    np.testing.assert_allclose(mean, beta * s / precision, rtol=1e-12)
    np.testing.assert_allclose(sd, 1.0 / np.sqrt(precision), rtol=1e-12)


@pytest.mark.parametrize(
    ("model", "y", "fragment"),
    [
        (BetaBernoulli(n_actions=2), 0.5, "y must be 0 or 1 for BetaBernoulli"),
        (BetaBernoulli(n_actions=2), 2.0, "y must be 0 or 1"),
        (GammaPoisson(n_actions=2), -1.0, "y must be a count"),
        (GammaPoisson(n_actions=2), 1.5, "y must be a count"),
        (ArmMeans(n_actions=2), np.nan, "y must be finite"),
    ],
)
def test_rewards_the_likelihood_cannot_hold_are_refused(model, y, fragment):
    before = model.get_state()
    with pytest.raises(ValueError, match=fragment):
        model.learn_one(np.zeros(2), y, action=0)
    for key, value in model.get_state().items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: BetaBernoulli(n_actions=1), "n_actions must be >= 2"),
        (lambda: ArmMeans(n_actions=1), "n_actions must be >= 2"),
        (lambda: BetaBernoulli(n_actions=2, prior_alpha=0.0), "prior_alpha must be > 0"),
        (lambda: GammaPoisson(n_actions=2, prior_rate=-1.0), "prior_rate must be > 0"),
        (lambda: ArmMeans(n_actions=2).learn_one(np.zeros(2), 1.0, action=2), "action must lie"),
        (lambda: ArmMeans(n_actions=2).learn_one(np.zeros(3), 1.0, action=0), "x must have"),
        (
            lambda: ArmMeans(n_actions=2).learn_one(np.zeros(2), 1.0, action=0, probability=0.0),
            "probability must be",
        ),
        (lambda: BetaBernoulli(n_actions=2).quantile(1.0), "q must lie in"),
    ],
)
def test_bad_arguments_get_a_clear_error(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()
