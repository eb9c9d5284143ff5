"""Predict-then-learn blocked by time (issue 19): the kernels, ``predict_learn_many`` and the
runner's ``time_blocking`` give what one step at a time gives."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import InteractionStream
from regretlab.learners import (
    BayesianLinearRegression,
    NormalInverseGammaRegression,
    SGDLinearRegression,
    SlidingWindowBayesianLinearRegression,
    _lockstep,
    gaussian,
)
from regretlab.policies.escalation import DataSchedule
from regretlab.simulate import Agent, run_prequential
from regretlab.simulate._budget import stream_block_size

# numba is optional (the extra "fast"); REGRETLAB_NUMBA=0 also switches it off. Without it the
# "numba" cases run the kernel's source as plain Python: the same arithmetic, slowly, so that a
# run without numba (CI's) still tests the kernel and its wiring.
HAS_NUMBA = _lockstep._numba_kernel() is not None
KERNELS = ["numpy", "numba"]


@pytest.fixture(autouse=True)
def _kernel_source_without_numba(request, monkeypatch):
    callspec = getattr(request.node, "callspec", None)
    if not HAS_NUMBA and callspec is not None and callspec.params.get("name") == "numba":
        monkeypatch.setattr(_lockstep, "_numba_kernel", lambda: _lockstep._numba_source)


@pytest.fixture
def use_kernel(monkeypatch):
    """Make the learners use the named kernel; small chunks so replicates span several."""

    def use(name: str, chunk: int = 8) -> None:
        chosen = _lockstep.kernel(name)
        if name == "numpy":

            def chosen(*args, _run=_lockstep.predict_learn_numpy):
                _run(*args, chunk=chunk)

        monkeypatch.setattr(_lockstep, "kernel", lambda name=None: chosen)

    return use


def _rows(fm, n_rep, m, seed, scale=1.0):
    env = InteractionStream(x_dim=fm, horizon=m, n_replicates=n_rep, seed=seed, noise_level=0.5)
    block = next(iter(env.blocks(m)))
    return env.features, scale * env.features.transform(block.x), block.y


def _one_at_a_time(model, x, y):
    out = np.empty(y.shape)
    for i in range(y.shape[-1]):
        out[..., i] = model.predict_one(x[..., i, :])
        model.learn_one(x[..., i, :], y[..., i])
    return out


def _naive(x, y, prior, beta):
    """Textbook Sherman-Morrison, one replicate and one row at a time."""
    n_rep, m, p = x.shape
    out = np.empty((n_rep, m))
    for r in range(n_rep):
        mean, cov = np.zeros(p), np.diag(prior)
        for t in range(m):
            out[r, t] = x[r, t] @ mean
            sx = cov @ x[r, t]
            gain = beta * sx / (1.0 + beta * x[r, t] @ sx)
            mean = mean + gain * (y[r, t] - out[r, t])
            cov = cov - np.outer(gain, sx)
    return out


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize(("n_rep", "p"), [(1, 5), (3, 5), (21, 5), (4, 8), (4, 9), (3, 22)])
def test_kernels_follow_the_textbook_update(name, n_rep, p, rng):
    # p = 8 fills the numba kernel's padded rows exactly, 9 and 22 leave padding.
    m, beta = 40, 4.0
    x = rng.normal(size=(m, n_rep, p))  # time first, as the runner holds it
    y = rng.normal(size=(m, n_rep))
    prior = rng.uniform(0.5, 2.0, p)
    mean = np.zeros((n_rep, p))
    cov = np.broadcast_to(np.diag(prior), (n_rep, p, p)).copy()
    out = np.empty((n_rep, m))
    xr, yr = np.moveaxis(x, 0, 1), np.moveaxis(y, 0, 1)  # strided views
    if name == "numpy":
        _lockstep.predict_learn_numpy(mean, cov, xr, yr, beta, out, chunk=8)
    else:
        _lockstep.predict_learn_numba(mean, cov, xr, yr, beta, out)
    np.testing.assert_allclose(out, _naive(xr, yr, prior, beta), rtol=1e-10, atol=1e-12)
    exact = gaussian.posterior(
        gaussian.SufficientStats(
            np.einsum("rmp,rmq->rpq", xr, xr), np.einsum("rmp,rm->rp", xr, yr), 0.0, 0.0
        ),
        np.broadcast_to(prior, (n_rep, p)),
        beta,
    )
    np.testing.assert_allclose(mean, exact.mean, atol=1e-12)
    np.testing.assert_allclose(cov, exact.covariance, atol=1e-12)


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize(
    ("n_rep", "x_dim", "options", "scale"),
    [
        (None, 2, {}, 1.0),
        (1, 3, {"noise_precision": 4.0}, 1.0),
        (21, 3, {"prior_variance": {"pairwise": 0.0}, "refresh_every": 50}, 1.0),
        (21, 2, {"prior_variance": 1e8}, 3.0),  # wide prior: first rows go one at a time
        (9, 3, {"prior_variance": {"intercept": np.inf}}, 1.0),  # improper at first
        (21, 4, {"prior_variance": {"main": 2.0}, "refresh_every": 7}, 1.0),
    ],
)
def test_block_equals_one_row_at_a_time(use_kernel, name, n_rep, x_dim, options, scale):
    use_kernel(name)
    fm, x, y = _rows(x_dim, n_rep, 300, seed=5, scale=scale)
    stepwise = BayesianLinearRegression(groups=fm, n_replicates=n_rep, **options)
    blocked = stepwise.clone()
    expected = _one_at_a_time(stepwise, x, y)
    got = np.concatenate(
        [blocked.predict_learn_many(x[..., a:b, :], y[..., a:b]) for a, b in ((0, 1), (1, 300))],
        axis=-1,
    )
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(blocked.mean, stepwise.mean, atol=1e-9)
    np.testing.assert_allclose(blocked.covariance, stepwise.covariance, atol=1e-9)
    for a, b in zip(blocked.stats, stepwise.stats, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-10)
    # The state stays whole: learning on one row at a time agrees afterwards too.
    _, x2, y2 = _rows(x_dim, n_rep, 20, seed=6)
    np.testing.assert_allclose(
        _one_at_a_time(blocked, x2, y2), _one_at_a_time(stepwise, x2, y2), atol=1e-9
    )


@pytest.mark.parametrize("name", KERNELS)
def test_block_posterior_matches_the_batch_solve(use_kernel, name):
    use_kernel(name, chunk=16)
    fm, x, y = _rows(4, 37, 500, seed=8)
    model = BayesianLinearRegression(groups=fm, n_replicates=37, noise_precision=2.0)
    model.predict_learn_many(x, y)
    exact = gaussian.posterior(model.stats, np.ones((37, fm.n_features)), 2.0)
    np.testing.assert_allclose(model.mean, exact.mean, atol=1e-9)
    np.testing.assert_allclose(model.covariance, exact.covariance, atol=1e-9)


@pytest.mark.parametrize(
    "make",
    [
        lambda fm: NormalInverseGammaRegression(groups=fm, n_replicates=4),
        lambda fm: SlidingWindowBayesianLinearRegression(groups=fm, window=30, n_replicates=4),
        lambda fm: BayesianLinearRegression(groups=fm, forgetting=0.97, n_replicates=4),
    ],
)
def test_models_the_kernel_does_not_cover_go_row_by_row(make):
    fm, x, y = _rows(3, 4, 120, seed=2)
    stepwise, blocked = make(fm), make(fm)
    np.testing.assert_array_equal(blocked.predict_learn_many(x, y), _one_at_a_time(stepwise, x, y))
    np.testing.assert_array_equal(blocked.mean, stepwise.mean)


def test_predict_learn_many_checks_its_input():
    fm, x, y = _rows(2, 3, 10, seed=1)
    model = BayesianLinearRegression(groups=fm, n_replicates=3)
    with pytest.raises(ValueError, match="x must have shape"):
        model.predict_learn_many(x[..., :-1], y)
    with pytest.raises(ValueError, match="y must have shape"):
        model.predict_learn_many(x, y[..., :-1])
    bad = np.moveaxis(np.moveaxis(x, -2, 0).copy(), 0, -2)  # strided, as the runner passes
    bad[1, 4, 2] = np.nan
    with pytest.raises(ValueError, match="x"):
        model.predict_learn_many(bad, y)


def _agents(fm, n_rep):
    return [
        Agent("bayes", BayesianLinearRegression(groups=fm, n_replicates=n_rep)),
        Agent(
            "off",
            BayesianLinearRegression(
                groups=fm, n_replicates=n_rep, prior_variance={"pairwise": 0.0}
            ),
        ),
        Agent("nig", NormalInverseGammaRegression(groups=fm, n_replicates=n_rep)),
        Agent("sgd", SGDLinearRegression(groups=fm, n_replicates=n_rep)),
        Agent(
            "escalating",
            BayesianLinearRegression(
                groups=fm, n_replicates=n_rep, prior_variance={"pairwise": 0.0}
            ),
            scheduler=DataSchedule("pairwise", lambda t: min(1.0, t / 200), every=50),
        ),
    ]


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize(("n_rep", "block_size"), [(None, 64), (1, 1000), (13, 97)])
def test_runner_with_and_without_time_blocking(use_kernel, name, n_rep, block_size):
    use_kernel(name)
    env = InteractionStream(
        x_dim=3, horizon=400, n_replicates=n_rep, seed=4, noise_level=0.5, block_size=block_size
    )
    checkpoints = [1, 2, 5, 50, 97, 98, 250, 400]
    runs = [
        run_prequential(
            env,
            _agents(env.features, n_rep),
            checkpoints=checkpoints,
            track_coefficients=True,
            time_blocking=blocking,
        )
        for blocking in (False, True)
    ]
    old, new = runs
    for column in ("expected_regret", "excess_loss"):
        np.testing.assert_allclose(new.regret[column], old.regret[column], rtol=1e-9, atol=1e-9)
    assert new.regret.drop(columns=["expected_regret", "excess_loss"]).equals(
        old.regret.drop(columns=["expected_regret", "excess_loss"])
    )
    np.testing.assert_allclose(new.coefficients.estimate, old.coefficients.estimate, atol=1e-9)
    np.testing.assert_allclose(new.coefficients.sd, old.coefficients.sd, atol=1e-9)
    assert new.events.equals(old.events)


def test_runner_calls_predict_learn_many_between_checkpoints():
    calls = []

    class Recording(BayesianLinearRegression):
        def predict_learn_many(self, x, y):
            calls.append(y.shape[-1])
            return super().predict_learn_many(x, y)

    env = InteractionStream(x_dim=2, horizon=100, n_replicates=3, seed=0)
    agent = Agent("rec", Recording(groups=env.features, n_replicates=3))
    run_prequential(env, [agent], checkpoints=[10, 100])
    assert calls == [10, 90]  # the default budget holds all 100 steps: checkpoints split
    calls.clear()
    # A budget of 40 steps per block: segments end at checkpoints and at block ends.
    maps = [env.features]
    budget = next(b for b in range(8, 2**20, 8) if stream_block_size(b, env, maps) == 40)
    run_prequential(env, [agent], checkpoints=[10, 100], block_memory=budget)
    assert calls == [10, 30, 40, 20]
    calls.clear()
    run_prequential(env, [agent], checkpoints=[10, 100], time_blocking=False)
    assert calls == []


def test_runner_rejects_a_non_boolean_time_blocking():
    env = InteractionStream(x_dim=2, horizon=10, n_replicates=2, seed=0)
    agent = Agent("b", BayesianLinearRegression(groups=env.features, n_replicates=2))
    with pytest.raises(TypeError, match="time_blocking must be True or False, got 'yes'"):
        run_prequential(env, [agent], time_blocking="yes")


def test_kernel_choice(monkeypatch):
    assert _lockstep.kernel("numpy") is _lockstep.predict_learn_numpy
    with pytest.raises(ValueError, match="kernel must be 'numba', 'numpy' or None, got 'c'"):
        _lockstep.kernel("c")
    _lockstep._numba_kernel.cache_clear()
    # The switch set for this test only (the suite itself may run with REGRETLAB_NUMBA=0).
    with monkeypatch.context() as patch:
        patch.setenv("REGRETLAB_NUMBA", "0")
        assert _lockstep.kernel() is _lockstep.predict_learn_numpy
        with pytest.raises(ImportError, match="numba"):
            _lockstep.predict_learn_numba(*([np.empty(0)] * 4), 1.0, np.empty(0))
        _lockstep._numba_kernel.cache_clear()
    expected = _lockstep.predict_learn_numba if HAS_NUMBA else _lockstep.predict_learn_numpy
    assert _lockstep.kernel() is expected


def test_chunks_fill_the_l2_cache():
    assert _lockstep.l2_cache_bytes() >= 64 * 1024
    assert _lockstep.replicate_chunk(22) >= 128
    assert _lockstep.replicate_chunk(3) == _lockstep.l2_cache_bytes() // 72


def test_draws_after_a_block_use_the_updated_posterior():
    # A model that has drawn keeps a Cholesky factor of its covariance (Thompson sampling); the
    # time-blocked kernels change the covariance in place, so the factor must not outlive them.
    rng = np.random.default_rng(5)
    r, p, m = 16, 4, 30
    x0, y0 = rng.normal(size=(r, p)), rng.normal(size=r)
    xs, ys = rng.normal(size=(r, m, p)), rng.normal(size=(r, m))
    blocked = BayesianLinearRegression(groups=("a",) * p, n_replicates=r)
    stepped = BayesianLinearRegression(groups=("a",) * p, n_replicates=r)
    for model in (blocked, stepped):
        model.learn_one(x0, y0)
        model.sample(np.random.default_rng(0))  # makes the kept factor
    blocked.predict_learn_many(xs, ys)
    for i in range(m):
        stepped.learn_one(xs[:, i], ys[:, i])
    draws = [model.sample(np.random.default_rng(1)) for model in (blocked, stepped)]
    np.testing.assert_allclose(draws[0], draws[1], atol=1e-9)
