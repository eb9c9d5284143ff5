"""Per-action models equal separate Bayesian fits on each action's rows."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.learners import BayesianLinearRegression, DisjointBayesianLinearRegression

GROUPS = ("intercept", "main", "main")


def _run(rng, n_replicates, k=4, steps=400):
    batch = () if n_replicates is None else (n_replicates,)
    model = DisjointBayesianLinearRegression(
        groups=GROUPS,
        n_actions=k,
        prior_variance={"main": 5.0},
        noise_precision=2.0,
        n_replicates=n_replicates,
    )
    xs = rng.uniform(-1, 1, size=(steps, *batch, 3))
    xs[..., 0] = 1.0
    acts = rng.integers(0, k, size=(steps, *batch))
    ys = rng.normal(size=(steps, *batch))
    for t in range(steps):
        model.predict_one(xs[t])
        model.learn_one(xs[t], ys[t], action=acts[t])
    return model, xs, acts, ys


@pytest.mark.parametrize("n_replicates", [None, 3])
def test_each_action_equals_a_separate_fit(rng, n_replicates):
    model, xs, acts, ys = _run(rng, n_replicates)
    means = np.atleast_3d(model.mean) if n_replicates else model.mean[None]
    covs = model.covariance if n_replicates else model.covariance[None]
    for r in range(n_replicates or 1):
        for a in range(4):
            rows = (acts[:, r] if n_replicates else acts) == a
            x = xs[:, r][rows] if n_replicates else xs[rows]
            y = ys[:, r][rows] if n_replicates else ys[rows]
            ref = BayesianLinearRegression(
                groups=GROUPS, prior_variance={"main": 5.0}, noise_precision=2.0
            ).learn_many(x, y)
            np.testing.assert_allclose(means[r, a], ref.mean, rtol=1e-10)
            np.testing.assert_allclose(covs[r, a], ref.covariance, rtol=1e-9, atol=1e-15)


def test_predictions_and_sd(rng):
    model, *_ = _run(rng, 3)
    x = rng.uniform(-1, 1, size=(3, 3))
    loc, sd = model.predict_one(x, return_sd=True, include_noise=False)
    expected = np.einsum("rkp,rp->rk", model.mean, x)
    np.testing.assert_allclose(loc, expected, rtol=1e-12)
    var = np.einsum("rp,rkpq,rq->rk", x, model.covariance, x)
    np.testing.assert_allclose(sd, np.sqrt(var), rtol=1e-12)
    per_action = np.broadcast_to(x[:, None, :], (3, 4, 3))
    np.testing.assert_allclose(model.predict_one(per_action), loc, rtol=1e-12)


def test_samples_have_the_posterior_moments(rng):
    model, *_ = _run(rng, 2, steps=60)
    draws = model.sample(np.random.default_rng(1), size=40_000)
    assert draws.shape == (40_000, 2, 4, 3)
    # 40,000 draws: 4 standard errors of a mean are sd / 50; of a variance about 3%.
    np.testing.assert_allclose(draws.mean(axis=0), model.mean, atol=float(model.sd.max()) / 50)
    np.testing.assert_allclose(draws.var(axis=0), model.sd**2, rtol=0.03)


def test_prior_change_is_exact(rng):
    model, xs, acts, ys = _run(rng, 3)
    model.set_prior_variance("main", np.array([0.0, 1.0, np.inf]))
    assert np.all(model.mean[0, :, 1:] == 0.0)
    fresh = DisjointBayesianLinearRegression(
        groups=GROUPS,
        n_actions=4,
        prior_variance={"main": np.array([0.0, 1.0, np.inf])},
        noise_precision=2.0,
        n_replicates=3,
    )
    for t in range(len(ys)):
        fresh.learn_one(xs[t], ys[t], action=acts[t])
    np.testing.assert_allclose(model.mean, fresh.mean, rtol=1e-9, atol=1e-12)


def test_statistics_are_exact_sums_whenever_they_are_read(rng):
    # Statistics are added in lazily: reading them at every step or once at the end gives the
    # same bits, those of adding each row's products in step order.
    once, xs, acts, ys = _run(rng, 3, steps=150)
    every = once.clone()
    xtx = np.zeros((3, 4, 3, 3))
    for t in range(150):
        every.learn_one(xs[t], ys[t], action=acts[t])
        assert every.n_seen.sum() == 3 * (t + 1)
        for r in range(3):
            xtx[r, acts[t, r]] += np.multiply.outer(xs[t, r], xs[t, r])
    np.testing.assert_array_equal(every.get_state()["xtx"], xtx)
    for key, value in once.get_state().items():
        np.testing.assert_array_equal(every.get_state()[key], value, err_msg=key)
    np.testing.assert_array_equal(every.mean, once.mean)


def test_pickled_mid_run_continues_identically(rng):
    import pickle

    model, *_ = _run(rng, 2, steps=30)
    copy = pickle.loads(pickle.dumps(model))
    for _ in range(20):
        x, y, a = rng.normal(size=(2, 3)), rng.normal(size=2), rng.integers(0, 4, size=2)
        model.learn_one(x, y, action=a)
        copy.learn_one(x, y, action=a)
    np.testing.assert_array_equal(copy.mean, model.mean)
    np.testing.assert_array_equal(copy.covariance, model.covariance)
    for key, value in model.get_state().items():
        np.testing.assert_array_equal(copy.get_state()[key], value, err_msg=key)


def test_state_round_trip(rng):
    model, *_ = _run(rng, 2, steps=50)
    fresh = DisjointBayesianLinearRegression(
        groups=GROUPS,
        n_actions=4,
        prior_variance={"main": 5.0},
        noise_precision=2.0,
        n_replicates=2,
    ).set_state(model.get_state())
    np.testing.assert_array_equal(fresh.n_seen, model.n_seen)
    for key, value in model.get_state().items():
        np.testing.assert_array_equal(fresh.get_state()[key], value, err_msg=key)
    np.testing.assert_allclose(fresh.mean, model.mean, rtol=1e-9)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.learn_one(np.ones(3), 0.0, action=4), "action"),
        (lambda m: m.learn_one(np.ones(3), 0.0, action=1.5), "action"),
        (lambda m: m.learn_one(np.ones(2), 0.0, action=0), "x"),
        (lambda m: m.learn_one(np.ones(3), np.nan, action=0), "y"),
        (lambda m: m.learn_one(np.full(3, np.inf), 0.0, action=0), "x"),
        (lambda m: m.predict_one(np.ones((5, 3))), "x"),
        (lambda m: m.set_prior_variance("nope", 1.0), "group"),
        (lambda m: m.set_prior_variance("main", -1.0), "main"),
    ],
)
def test_bad_input(call, message):
    model = DisjointBayesianLinearRegression(groups=GROUPS, n_actions=4)
    before = model.predict_one(np.ones(3))
    with pytest.raises((ValueError, TypeError), match=message):
        call(model)
    np.testing.assert_array_equal(model.predict_one(np.ones(3)), before)
