"""Sliding-window and discounted per-action models and arm statistics are exact: equal to a
batch fit on the window, or to the discounted closed form, to 1e-9 (several windows long, past
the re-sums); a window / discount of the whole run is the plain learner; bad values are named."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.learners import (
    ArmMeans,
    BetaBernoulli,
    DiscountedArmMeans,
    DiscountedBetaBernoulli,
    DiscountedDisjointBayesianLinearRegression,
    DisjointBayesianLinearRegression,
    SlidingWindowArmMeans,
    SlidingWindowBetaBernoulli,
    SlidingWindowDisjointBayesianLinearRegression,
)
from regretlab.learners.gaussian import posterior
from regretlab.learners.stats import SufficientStats

R, K, P, T = 3, 3, 3, 47
GROUPS = ("intercept", "main", "main")
PRIOR = {"intercept": 4.0, "main": 0.5}


def _stream(seed=0, binary=False, n_replicates=R):
    rng = np.random.default_rng(seed)
    width = 1 if n_replicates is None else n_replicates
    x = np.concatenate([np.ones((T, width, 1)), rng.normal(size=(T, width, P - 1))], axis=-1)
    a = rng.integers(0, K, size=(T, width))
    y = (rng.random((T, width)) < 0.4).astype(float) if binary else rng.normal(size=(T, width))
    if n_replicates is None:
        return x[:, 0], a[:, 0], y[:, 0]
    return x, a, y


def _weighted_posterior(x, a, y, weights, beta=2.0):
    """The closed form: per (replicate, action), X'WX etc. of the rows given weights (T, R)."""
    onehot = np.eye(K)[a] * weights[..., None]  # (T, R, K)
    stats = SufficientStats(
        np.einsum("trk,tri,trj->rkij", onehot, x, x),
        np.einsum("trk,tri,tr->rki", onehot, x, y),
        np.einsum("trk,tr->rk", onehot, y * y),
        onehot.sum(axis=0),
    )
    prior = np.broadcast_to(np.array([4.0, 0.5, 0.5]), (R, K, P))
    return posterior(stats, prior, beta), onehot.sum(axis=0)


@pytest.mark.parametrize("window", [1, 5, 16, 60])
def test_sliding_window_disjoint_is_the_batch_posterior_of_the_window(window):
    x, a, y = _stream()
    model = SlidingWindowDisjointBayesianLinearRegression(
        groups=GROUPS,
        n_actions=K,
        window=window,
        prior_variance=PRIOR,
        noise_precision=2.0,
        n_replicates=R,
    )
    for t in range(T):
        model.learn_one(x[t], y[t], action=a[t])
        if t in (window - 1, window, T // 2, T - 1):
            weights = (np.arange(T) > t - window) & (np.arange(T) <= t)
            ref, counts = _weighted_posterior(x, a, y, np.repeat(weights[:, None], R, 1) * 1.0)
            np.testing.assert_allclose(model.mean, ref.mean, rtol=0, atol=1e-9)
            np.testing.assert_allclose(model.covariance, ref.covariance, rtol=0, atol=1e-9)
            np.testing.assert_array_equal(model.n_seen, counts)
            # A plain disjoint model taught only the window's rows is the same posterior.
            plain = DisjointBayesianLinearRegression(
                groups=GROUPS,
                n_actions=K,
                prior_variance=PRIOR,
                noise_precision=2.0,
                n_replicates=R,
            )
            for s in np.flatnonzero(weights):
                plain.learn_one(x[s], y[s], action=a[s])
            np.testing.assert_allclose(model.mean, plain.mean, rtol=0, atol=1e-9)


@pytest.mark.parametrize("gamma", [0.5, 0.9, 1.0])
def test_discounted_disjoint_is_the_discounted_closed_form(gamma):
    x, a, y = _stream(1)
    model = DiscountedDisjointBayesianLinearRegression(
        groups=GROUPS,
        n_actions=K,
        forgetting=gamma,
        prior_variance=PRIOR,
        noise_precision=2.0,
        n_replicates=R,
    )
    for t in range(T):
        model.learn_one(x[t], y[t], action=a[t])
    weights = np.repeat((gamma ** (T - 1 - np.arange(T)))[:, None], R, 1)
    ref, counts = _weighted_posterior(x, a, y, weights)
    np.testing.assert_allclose(model.mean, ref.mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.covariance, ref.covariance, rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.n_seen, counts, rtol=1e-12)
    loc, sd = model.predict_one(x[-1], return_sd=True)
    assert loc.shape == sd.shape == (R, K)


def test_forgetting_disjoint_one_stream_state_and_prior_change():
    x, a, y = _stream(2, n_replicates=None)
    for make in (
        lambda: SlidingWindowDisjointBayesianLinearRegression(groups=GROUPS, n_actions=K, window=7),
        lambda: DiscountedDisjointBayesianLinearRegression(
            groups=GROUPS, n_actions=K, forgetting=0.8
        ),
    ):
        model, twin = make(), make()
        for t in range(20):
            model.learn_one(x[t], y[t], action=a[t])
        twin.set_state(model.get_state())
        assert repr(model) == repr(twin)
        for t in range(20, T):
            model.learn_one(x[t], y[t], action=a[t])
            twin.learn_one(x[t], y[t], action=a[t])
        np.testing.assert_allclose(model.mean, twin.mean, rtol=0, atol=1e-12)
        model.set_prior_variance("main", 9.0)  # exact: a refit from the kept statistics
        assert model.clone().get_params() == make().get_params()


def _arm_reference(a, y, weights, prior=None):
    onehot = np.eye(K)[a] * weights[..., None]
    n, s = onehot.sum(axis=0), np.einsum("trk,tr->rk", onehot, y)
    if prior is None:
        return n, s
    return prior[0] + s, prior[1] + n - s


@pytest.mark.parametrize("window", [1, 4, 10, 100])
def test_sliding_window_arms_are_the_statistics_of_the_window(window):
    _, a, y = _stream(3, binary=True)
    means = SlidingWindowArmMeans(n_actions=K, window=window, n_replicates=R)
    beta = SlidingWindowBetaBernoulli(
        n_actions=K, window=window, n_replicates=R, prior_alpha=2.0, prior_beta=0.5
    )
    prob = np.full(R, 0.25)
    for t in range(T):
        means.learn_one(np.zeros((R, K)), y[t], action=a[t], probability=prob)
        beta.learn_one(np.zeros((R, K)), y[t], action=a[t])
        weights = np.repeat(((np.arange(T) > t - window) & (np.arange(T) <= t))[:, None], R, 1)
        n, s = _arm_reference(a, y, weights * 1.0)
        np.testing.assert_allclose(means.n_seen, n, atol=1e-9)
        np.testing.assert_allclose(
            means.reward_mean, np.where(n > 0, s / np.maximum(n, 1), 0.0), atol=1e-9
        )
        np.testing.assert_allclose(means.importance_weighted_sum, s / 0.25, atol=1e-9)
        np.testing.assert_allclose(means.n_total, min(t + 1, window), atol=1e-9)
        alpha, b = _arm_reference(a, y, weights * 1.0, prior=(2.0, 0.5))
        np.testing.assert_allclose(beta.alpha, alpha, atol=1e-9)
        np.testing.assert_allclose(beta.beta, b, atol=1e-9)


@pytest.mark.parametrize("gamma", [0.3, 0.95, 1.0])
def test_discounted_arms_are_the_discounted_closed_form(gamma):
    _, a, y = _stream(4, binary=True)
    means = DiscountedArmMeans(n_actions=K, forgetting=gamma, n_replicates=R)
    beta = DiscountedBetaBernoulli(n_actions=K, forgetting=gamma, n_replicates=R)
    plain_means, plain_beta = (
        ArmMeans(n_actions=K, n_replicates=R),
        BetaBernoulli(n_actions=K, n_replicates=R),
    )
    for t in range(T):
        for model in (means, beta, plain_means, plain_beta):
            model.learn_one(np.zeros((R, K)), y[t], action=a[t])
    weights = np.repeat((gamma ** (T - 1 - np.arange(T)))[:, None], R, 1)
    n, s = _arm_reference(a, y, weights)
    np.testing.assert_allclose(means.n_seen, n, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(means.reward_mean, s / n, rtol=0, atol=1e-9)
    np.testing.assert_allclose(means.n_total, n.sum(axis=-1), rtol=1e-12)
    alpha, b = _arm_reference(a, y, weights, prior=(1.0, 1.0))
    np.testing.assert_allclose(beta.alpha, alpha, atol=1e-9)
    np.testing.assert_allclose(beta.beta, b, atol=1e-9)
    if gamma == 1.0:  # no forgetting: the plain learners exactly
        np.testing.assert_array_equal(beta.alpha, plain_beta.alpha)
        np.testing.assert_allclose(means.reward_mean, plain_means.reward_mean, atol=1e-12)


def test_window_arm_state_round_trip_and_one_stream():
    _, a, y = _stream(5, binary=True, n_replicates=None)
    model = SlidingWindowBetaBernoulli(n_actions=K, window=6)
    for t in range(9):
        model.learn_one(np.zeros(K), y[t], action=a[t])
    twin = SlidingWindowBetaBernoulli(n_actions=K, window=6).set_state(model.get_state())
    for t in range(9, T):
        model.learn_one(np.zeros(K), y[t], action=a[t])
        twin.learn_one(np.zeros(K), y[t], action=a[t])
    np.testing.assert_array_equal(model.alpha, twin.alpha)
    alpha, _ = _arm_reference(
        a[:, None], y[:, None], (np.arange(T) >= T - 6)[:, None] * 1.0, prior=(1.0, 1.0)
    )
    np.testing.assert_allclose(model.alpha, alpha[0], atol=1e-12)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: SlidingWindowArmMeans(n_actions=3, window=0), ValueError, "window must be >= 1"),
        (lambda: DiscountedArmMeans(n_actions=3, forgetting=0.0), ValueError, "forgetting must"),
        (lambda: DiscountedBetaBernoulli(n_actions=3, forgetting=1.5), ValueError, "forgetting"),
        (
            lambda: SlidingWindowDisjointBayesianLinearRegression(
                groups=GROUPS, n_actions=3, window=0
            ),
            ValueError,
            "window must be >= 1",
        ),
        (
            lambda: DiscountedDisjointBayesianLinearRegression(
                groups=GROUPS, n_actions=3, forgetting=-1
            ),
            ValueError,
            "forgetting must",
        ),
        (
            lambda: SlidingWindowBetaBernoulli(n_actions=3, window=2).learn_one(
                np.zeros(3), 0.5, action=0
            ),
            ValueError,
            "y must be 0 or 1",
        ),
    ],
)
def test_bad_values_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_experiment_files_set_window_and_discount_by_the_rule():
    from regretlab.experiments.experiment import parse_experiment
    from regretlab.learners import discount_factor, sliding_window

    raw = {
        "seed": 1,
        "horizon": 300,
        "replicates": 3,
        "environments": {
            "mab": {
                "type": "PiecewiseStationaryBandit",
                "means": [[0.2, 0.8], [0.8, 0.2]],
                "change_steps": [150],
            }
        },
        "agents": {
            "swucb": {
                "learner": {"type": "SlidingWindowArmMeans", "n_changes": 2},
                "policy": {"type": "UCB1"},
            },
            "dts": {
                "learner": {"type": "DiscountedBetaBernoulli", "n_changes": 2},
                "policy": {"type": "ConjugateThompsonSampling"},
            },
            "sw_ts": {
                "learner": {"type": "SlidingWindowBetaBernoulli", "window": 40},
                "policy": {"type": "ConjugateThompsonSampling"},
            },
        },
    }
    exp = parse_experiment(raw)
    env = exp.build_environment("mab", n_replicates=3, seed=0)
    swucb, dts, sw_ts = (a.learner for a in exp.build_agents(env))
    assert swucb.window == sliding_window(300, 2)
    assert dts.forgetting == discount_factor(300, 2)
    assert sw_ts.window == 40
    raw["agents"]["swucb"]["learner"]["window"] = 10  # both: refused, naming the two
    with pytest.raises(Exception, match="set exactly one of window and n_changes"):
        parse_experiment(raw).build_agents(env)
