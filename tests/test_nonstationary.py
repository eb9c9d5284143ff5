"""Non-stationary learners against closed forms: the sliding window equals a batch fit on the
window, discounting equals the weighted batch fit, and BOCPD's run-length posterior equals a
brute-force sum over every changepoint path."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from regretlab.learners import (
    BayesianLinearRegression,
    ChangepointBayesianLinearRegression,
    SlidingWindowBayesianLinearRegression,
    changepoint_hazard,
    discount_factor,
    sliding_window,
)
from regretlab.learners.gaussian import posterior
from regretlab.learners.stats import from_rows

GROUPS = ("intercept", "main", "main", "pairwise")
PRIOR = {"intercept": 4.0, "main": 1.0, "pairwise": 0.5}


def _data(seed, r, t):
    p = len(GROUPS)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(r, t, p))
    x[..., 0] = 1.0
    return x, x @ rng.normal(size=p) + 0.5 * rng.normal(size=(r, t))


def _prior_columns():
    return np.array([PRIOR[g] for g in GROUPS])


@pytest.mark.parametrize("window", [1, 5, 40])
def test_sliding_window_posterior_is_the_batch_posterior_of_the_window(window):
    r, t = 3, 120
    x, y = _data(0, r, t)
    model = SlidingWindowBayesianLinearRegression(
        groups=GROUPS, window=window, prior_variance=PRIOR, noise_precision=2.0, n_replicates=r
    )
    for step in range(t):
        model.learn_one(x[:, step], y[:, step])
        if step % 7 == 0 or step == t - 1:
            lo = max(0, step + 1 - window)
            ref = posterior(
                from_rows(x[:, lo : step + 1], y[:, lo : step + 1]), _prior_columns(), 2.0
            )
            np.testing.assert_allclose(model.mean, ref.mean, rtol=0, atol=1e-9)
            np.testing.assert_allclose(model.covariance, ref.covariance, rtol=0, atol=1e-9)
            assert (model.n_seen == min(step + 1, window)).all()


def test_sliding_window_learn_many_and_prior_change_stay_exact():
    x, y = _data(1, 2, 300)
    model = SlidingWindowBayesianLinearRegression(
        groups=GROUPS, window=50, n_replicates=2, refresh_every=16
    )
    model.learn_many(x[:, :170], y[:, :170]).learn_many(x[:, 170:], y[:, 170:])
    model.set_prior_variance("pairwise", 0.0)
    prior = np.array([1.0, 1.0, 1.0, 0.0])
    ref = posterior(from_rows(x[:, -50:], y[:, -50:]), prior, 1.0)
    np.testing.assert_allclose(model.mean, ref.mean, rtol=0, atol=1e-9)
    single = SlidingWindowBayesianLinearRegression(groups=GROUPS, window=50, refresh_every=16)
    for step in range(300):
        single.learn_one(x[1, step], y[1, step])
    ref = posterior(from_rows(x[1, -50:], y[1, -50:]), np.ones(4), 1.0)
    np.testing.assert_allclose(single.mean, ref.mean, rtol=0, atol=1e-9)


def test_discounted_posterior_is_the_weighted_batch_posterior():
    # Discounted Thompson sampling / D-LinUCB's model: BayesianLinearRegression(forgetting=gamma)
    # weights row s of t by gamma^(t - s) under the undiscounted prior.
    gamma, r, t = 0.97, 2, 200
    x, y = _data(2, r, t)
    model = BayesianLinearRegression(
        groups=GROUPS, prior_variance=PRIOR, forgetting=gamma, n_replicates=r
    )
    for step in range(t):
        model.learn_one(x[:, step], y[:, step])
    w = np.sqrt(gamma ** np.arange(t - 1, -1, -1.0))
    ref = posterior(from_rows(x * w[:, None], y * w), _prior_columns(), 1.0)
    np.testing.assert_allclose(model.mean, ref.mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.covariance, ref.covariance, rtol=0, atol=1e-9)


# -- BOCPD ------------------------------------------------------------------------------------


def _log_predictive(x, y, rows, prior, beta):
    """Log N(y; x'm, x'Sx + 1/beta) under the batch posterior of the run's ``rows``."""
    xs, ys = rows
    post = posterior(from_rows(xs, ys), prior, beta)
    var = x @ post.covariance @ x + 1.0 / beta
    return -0.5 * (math.log(2 * math.pi * var) + (y - x @ post.mean) ** 2 / var)


def _brute_force_run_lengths(x, y, hazard, max_run, prior, beta):
    """P(r_t | y_1:t) summing the joint over every path r_1..r_t (all r_s <= max_run)."""
    t = len(y)
    total = np.zeros(max_run + 1)
    for jumps in itertools.product((False, True), repeat=t):
        r, log_joint = 0, 0.0
        for s in range(t):
            run = (x[s - r : s], y[s - r : s])
            log_joint += _log_predictive(x[s], y[s], run, prior, beta)
            r = 0 if jumps[s] else r + 1
            log_joint += math.log(hazard if jumps[s] else 1 - hazard)
            if r > max_run:
                break
        else:
            total[r] += math.exp(log_joint)
    return total / total.sum()


@pytest.mark.parametrize("max_run", [8, 3])
def test_bocpd_run_length_posterior_matches_brute_force(max_run):
    rng = np.random.default_rng(3)
    t, p = 8, 2
    x = np.column_stack([np.ones(t), rng.normal(size=t)])
    y = np.r_[np.full(4, 1.0), np.full(4, -1.5)] + 0.3 * rng.normal(size=t)
    prior, beta, hazard = np.array([2.0, 0.5]), 4.0, 0.2
    model = ChangepointBayesianLinearRegression(
        groups=("intercept", "main"),
        hazard=hazard,
        max_run=max_run,
        prior_variance={"intercept": 2.0, "main": 0.5},
        noise_precision=beta,
    )
    for s in range(t):
        model.learn_one(x[s], y[s])
        expected = _brute_force_run_lengths(x[: s + 1], y[: s + 1], hazard, max_run, prior, beta)
        np.testing.assert_allclose(model.run_length_posterior, expected, rtol=1e-9, atol=1e-12)
    # Each run length's posterior is the batch posterior of its run's data.
    state = model.get_state()
    for r in range(max_run + 1):
        ref = posterior(from_rows(x[t - r :], y[t - r :]), prior, beta)
        np.testing.assert_allclose(state["run_means"][r], ref.mean, rtol=0, atol=1e-10)
        np.testing.assert_allclose(state["run_covariances"][r], ref.covariance, atol=1e-10)
    assert p == 2


def test_bocpd_mixture_prediction_is_the_weighted_run_predictions():
    x, y = _data(4, 1, 60)
    model = ChangepointBayesianLinearRegression(groups=GROUPS, hazard=0.05, max_run=30)
    for s in range(60):
        model.learn_one(x[0, s], y[0, s])
    probe = np.array([[1.0, 0.3, -0.2, 0.5], [1.0, -1.0, 0.4, 0.0]])
    prob, state = model.run_length_posterior, model.get_state()
    loc_r = state["run_means"] @ probe.T  # (runs, 2)
    var_r = np.einsum("ni,rij,nj->rn", probe, state["run_covariances"], probe)
    loc, sd = model.predict_one(probe, return_sd=True, include_noise=False)
    np.testing.assert_allclose(loc, prob @ loc_r, atol=1e-12)
    np.testing.assert_allclose(sd**2, prob @ (var_r + loc_r**2) - loc**2, atol=1e-10)
    # Thompson draws: the run length is drawn from its posterior (mean of many draws ~ mean).
    draws = model.sample(np.random.default_rng(0), size=4000)
    se = np.sqrt(np.diag(model.covariance) / 4000)
    assert (np.abs(draws.mean(axis=0) - model.mean) < 5 * se).all()  # 5 se: rate < 1e-5


def test_bocpd_finds_an_abrupt_change():
    rng = np.random.default_rng(5)
    model = ChangepointBayesianLinearRegression(groups=("intercept",), hazard=0.01, max_run=200)
    for s in range(150):
        model.learn_one(np.ones(1), (2.0 if s < 100 else -2.0) + 0.5 * rng.normal())
    assert abs(int(model.run_length_posterior.argmax()) - 50) <= 2
    assert abs(float(model.mean[0]) + 2.0) < 0.3


# -- rules and errors ----------------------------------------------------------------------------


def test_rules_follow_their_formulas():
    assert sliding_window(10_000, 4) == math.ceil(2 * math.sqrt(10_000 * math.log(10_000) / 4))
    assert sliding_window(10, 100) == 1
    assert discount_factor(10, 1000) == 0.5
    assert changepoint_hazard(10, 100) == 0.5
    assert discount_factor(10_000, 4) == pytest.approx(1 - 0.02 / 4)
    assert changepoint_hazard(10_000, 4) == 4e-4


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: sliding_window(1000, 0), ValueError, "n_changes must be > 0"),
        (lambda: discount_factor(0, 2), ValueError, "horizon must be >= 1"),
        (lambda: changepoint_hazard(100, -1), ValueError, "n_changes must be > 0"),
        (
            lambda: SlidingWindowBayesianLinearRegression(groups=GROUPS, window=0),
            ValueError,
            "window must be >= 1, got 0",
        ),
        (
            lambda: ChangepointBayesianLinearRegression(groups=GROUPS, hazard=0.0),
            ValueError,
            "hazard must be > 0",
        ),
        (
            lambda: ChangepointBayesianLinearRegression(groups=GROUPS, hazard=1.0),
            ValueError,
            "hazard must be < 1",
        ),
        (
            lambda: ChangepointBayesianLinearRegression(groups=GROUPS, hazard=0.1, max_run=0),
            ValueError,
            "max_run must be >= 1",
        ),
        (
            lambda: ChangepointBayesianLinearRegression(
                groups=GROUPS, hazard=0.1, prior_variance=np.inf
            ),
            ValueError,
            "prior_variance must be finite",
        ),
    ],
)
def test_bad_values_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_bocpd_run_lengths_equal_the_bocd_package_on_a_known_variance_mean():
    """Peer check: the ``bocd`` package's recursion (Adams & MacKay's algorithm 1) with a
    known-variance Gaussian plugged in, against our intercept-only model, no truncation."""
    bocd = pytest.importorskip("bocd")

    class KnownVariance(bocd.Distribution):
        def __init__(self, prior_variance, noise_variance):
            self.v0, self.s2 = prior_variance, noise_variance
            self.reset_params()

        def reset_params(self):
            self.prec, self.mean = np.array([1 / self.v0]), np.array([0.0])

        def pdf(self, x):
            var = 1 / self.prec + self.s2
            return np.exp(-0.5 * (x - self.mean) ** 2 / var) / np.sqrt(2 * np.pi * var)

        def update_params(self, x):
            prec = self.prec + 1 / self.s2
            mean = (self.prec * self.mean + x / self.s2) / prec
            self.prec, self.mean = np.r_[1 / self.v0, prec], np.r_[0.0, mean]

    rng = np.random.default_rng(0)
    y = np.r_[np.full(30, 1.0), np.full(30, -1.0)] + 0.5 * rng.normal(size=60)
    peer = bocd.BayesianOnlineChangePointDetection(
        bocd.ConstantHazard(50), KnownVariance(2.0, 0.25)
    )
    ours = ChangepointBayesianLinearRegression(
        groups=("intercept",), hazard=1 / 50, max_run=60, prior_variance=2.0, noise_precision=4.0
    )
    for t, value in enumerate(y):
        peer.update(value)
        ours.learn_one(np.ones(1), value)
        np.testing.assert_allclose(
            ours.run_length_posterior[: t + 2], peer.belief[: t + 2], rtol=1e-9, atol=1e-14
        )
    assert int(ours.run_length_posterior.argmax()) == 30
