"""The compiled step of the kept sampling factor (learners/_factor_kernel.py, issue 19).

numba is optional (the extra ``fast``): the compiled step does the numpy loop's operations on the
same numbers in the same order, so the two must agree to the last bit (factor, ``S x``,
``beta x'S x``, the gathered ``L z`` and the updated mean), and both must be the Cholesky factor
of the Sherman-Morrison update and its mean (the closed form, 1e-12). Without numba (CI, or
``REGRETLAB_NUMBA=0``) the step's source runs as plain Python in its place, through the same
wiring.
"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import LinearBandit
from regretlab.learners import BayesianLinearRegression, _factor_kernel, _numba
from regretlab.policies import ThompsonSampling
from regretlab.simulate import Agent, run_bandit

HAS_NUMBA = _factor_kernel.compiled_step() is not None


@pytest.fixture
def source_kernels(monkeypatch):
    """Without numba the step's and the pattern's sources run as plain Python (the same
    arithmetic, slowly), so that a run without numba (CI's) still tests them and their wiring."""
    if not HAS_NUMBA:
        monkeypatch.setattr(_factor_kernel, "compiled_step", lambda: _factor_kernel._step_source)
        monkeypatch.setattr(
            _factor_kernel, "_compiled_pattern", lambda: _factor_kernel._pattern_source
        )


uses_kernels = pytest.mark.usefixtures("source_kernels")


@pytest.fixture
def numpy_only(monkeypatch):
    """The numpy loop even where numba is installed."""
    monkeypatch.setattr(_factor_kernel, "compiled_step", lambda: None)


def factor_problem(seed: int, p: int, n: int):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, p, 2 * p))
    s = a @ a.swapaxes(-1, -2) / p + 0.1 * np.eye(p)
    upper = np.ascontiguousarray(np.linalg.cholesky(s).transpose(2, 1, 0))
    x = rng.standard_normal((n, p))
    z = rng.standard_normal((n, p))
    return s, upper, x, z


def closed_form(s: np.ndarray, x: np.ndarray, beta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Sherman-Morrison covariance's Cholesky factor, ``S x`` and ``beta x'S x``."""
    sx = np.einsum("npq,nq->np", s, x)
    q = np.asarray(beta) * np.einsum("np,np->n", x, sx)
    c = np.asarray(beta) / (1.0 + q)
    new = s - np.reshape(c, (-1, 1, 1)) * sx[:, :, None] * sx[:, None, :]
    return np.linalg.cholesky(new), sx, q


MEAN = np.random.default_rng(7).standard_normal((37, 9))
RESID = np.random.default_rng(8).standard_normal(37)


def _run_downdate(upper, x, beta, z, learn=False, with_sx=True):
    kept = upper.copy()
    n, p = x.shape
    mean = np.resize(MEAN, (n, p)) if learn else None
    resid = np.resize(RESID, n) if learn else None
    sx, q, drawn = _factor_kernel.learn_step(kept, x, beta, z, resid, mean, with_sx=with_sx)
    return kept, sx, q, drawn, mean


@pytest.mark.parametrize("gather", [True, False])
@pytest.mark.parametrize("per_item", [True, False])
def test_both_loops_give_the_closed_form(numpy_only, monkeypatch, gather, per_item):
    s, upper, x, z = factor_problem(0, 9, 37)
    beta = np.random.default_rng(1).uniform(0.1, 50.0, 37) if per_item else 2.5
    lower, sx, q = closed_form(s, x, beta)
    results = [_run_downdate(upper, x, beta, z if gather else None)]
    if HAS_NUMBA:
        monkeypatch.undo()
        results.append(_run_downdate(upper, x, beta, z if gather else None))
    for kept, got_sx, got_q, drawn, _ in results:
        new = kept.transpose(2, 1, 0)
        scale = np.abs(lower).max()
        assert np.abs(new - lower).max() / scale < 1e-12
        assert np.all(np.triu(new, 1) == 0.0)  # exactly triangular
        np.testing.assert_allclose(got_sx, sx, rtol=1e-12, atol=1e-12 * np.abs(sx).max())
        np.testing.assert_allclose(got_q, q, rtol=1e-12)
        if gather:
            assert drawn is not None
            np.testing.assert_allclose(
                drawn, np.einsum("npq,nq->np", lower, z), rtol=1e-12, atol=1e-12 * scale
            )
        else:
            assert drawn is None


@pytest.mark.parametrize("per_item", [True, False])
def test_both_steps_update_the_mean_as_sherman_morrison(numpy_only, monkeypatch, per_item):
    s, upper, x, z = factor_problem(3, 9, 37)
    beta = np.random.default_rng(4).uniform(0.1, 50.0, 37) if per_item else 2.5
    _, sx, q = closed_form(s, x, beta)
    want = MEAN + (np.asarray(beta) * RESID / (1.0 + q))[:, None] * sx  # Bishop eq. 3.50
    results = [_run_downdate(upper, x, beta, z, learn=True)]
    if HAS_NUMBA:
        monkeypatch.undo()
        results.append(_run_downdate(upper, x, beta, z, learn=True))
    for *_, mean in results:
        np.testing.assert_allclose(mean, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


@uses_kernels
@pytest.mark.parametrize(("p", "n"), [(1, 3), (7, 12), (36, 50)])
def test_the_compiled_loop_is_the_numpy_loop_to_the_last_bit(monkeypatch, p, n):
    _, upper, x, z = factor_problem(p, p, n)
    beta = np.random.default_rng(2).uniform(0.1, 5.0, n)
    cases = ((beta, True, True, True), (0.7, True, True, False), (beta, False, False, True))
    for weight, gather, learn, with_sx in cases:
        normals = z if gather else None
        compiled = _run_downdate(upper, x, weight, normals, learn, with_sx)
        with monkeypatch.context() as patch:
            patch.setattr(_factor_kernel, "compiled_step", lambda: None)
            reference = _run_downdate(upper, x, weight, normals, learn, with_sx)
        if not with_sx:  # the same step, S x not returned
            assert compiled[1] is None
            np.testing.assert_array_equal(compiled[0], _run_downdate(upper, x, weight, z)[0])
        for got, want in zip(compiled, reference, strict=True):
            if want is None:
                assert got is None
            else:
                np.testing.assert_array_equal(got, want)


def _shared_ts_run():
    env = LinearBandit(n_actions=4, context_dim=3, horizon=200, n_replicates=10, seed=1)
    model = BayesianLinearRegression(groups=env.features, n_replicates=10)
    agent = Agent("ts", model, policy=ThompsonSampling())
    result = run_bandit(env, [agent], seed=2, log_steps=True)
    assert result.steps is not None
    return result.steps["action"].to_numpy(), result.regret["pseudo_regret"].to_numpy()


@uses_kernels
def test_shared_ts_takes_the_same_actions_with_and_without_numba(monkeypatch):
    compiled_actions, compiled_regret = _shared_ts_run()
    monkeypatch.setattr(_factor_kernel, "compiled_step", lambda: None)
    actions, regret = _shared_ts_run()
    np.testing.assert_array_equal(compiled_actions, actions)  # the same arithmetic: exact
    np.testing.assert_array_equal(compiled_regret, regret)


@pytest.mark.parametrize("value", ["0", "false", "No", " off "])
def test_regretlab_numba_switches_the_compiled_kernels_off(monkeypatch, value):
    monkeypatch.setenv("REGRETLAB_NUMBA", value)
    assert not _numba.numba_allowed()
    assert _numba.compile_kernel(lambda: None) is None


def test_numba_is_allowed_by_default(monkeypatch):
    monkeypatch.delenv("REGRETLAB_NUMBA", raising=False)
    assert _numba.numba_allowed()
    monkeypatch.setenv("REGRETLAB_NUMBA", "1")
    assert _numba.numba_allowed()


def _action_rows(rng, n, context_dim, n_actions, zero_share=0.0):
    """Rows of ``ActionFeatures``: nonzero on the shared columns and one action's."""
    from regretlab.features import ActionFeatures

    designs = ActionFeatures(context_dim, n_actions).transform(rng.uniform(-1, 1, (n, context_dim)))
    x = designs[np.arange(n), rng.integers(0, n_actions, n)]
    x[rng.random(x.shape) < zero_share] = 0.0
    return np.ascontiguousarray(x)


def _bits(pattern, p):
    return np.array([[(row[i // 62] >> (i % 62)) & 1 for i in range(p)] for row in pattern])


@uses_kernels
@pytest.mark.parametrize(
    ("context_dim", "n_actions", "zero_share"), [(5, 5, 0.0), (3, 4, 0.3), (9, 6, 0.0)]
)
def test_the_pattern_step_is_the_whole_triangle_to_the_last_bit(context_dim, n_actions, zero_share):
    # p = 36, 19 (rows with extra zeros: more distinct column sets) and 70 (two words a row).
    rng = np.random.default_rng(11)
    p = 1 + context_dim + n_actions * (1 + context_dim)
    n = 60
    upper = np.zeros((p, p, n))
    upper[np.arange(p), np.arange(p)] = rng.uniform(0.5, 2.0, (p, n))  # a prior's factor
    pattern = _factor_kernel.pattern_of(upper)
    np.testing.assert_array_equal(_bits(pattern, p), np.eye(p, dtype=int))
    dense, sparse = upper.copy(), upper.copy()
    mean_d, mean_s = np.zeros((n, p)), np.zeros((n, p))
    for _ in range(25):
        x = _action_rows(rng, n, context_dim, n_actions, zero_share)
        z, resid = rng.standard_normal((n, p)), rng.standard_normal(n)
        beta = rng.uniform(0.1, 5.0, n)
        want = _factor_kernel.learn_step(dense, x, beta, z, resid, mean_d)
        got = _factor_kernel.learn_step(sparse, x, beta, z, resid, mean_s, pattern=pattern)
        for a, b in zip((*got, sparse, mean_s), (*want, dense, mean_d), strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(np.signbit(a), np.signbit(b))
        # The pattern holds every nonzero entry.
        assert not ((dense != 0).any(axis=-1) & (_bits(pattern, p) == 0)).any()
    if zero_share == 0.0:  # the shared columns' rows and each action's block, nothing between
        shared = 1 + context_dim
        blocks = [
            [shared + a, *range(shared + n_actions + a * context_dim,
                                shared + n_actions + (a + 1) * context_dim)]
            for a in range(n_actions)
        ]  # fmt: skip
        expected = np.zeros((p, p), dtype=int)
        expected[:shared] = 1
        for block in blocks:
            expected[np.ix_(block, block)] = 1
        np.testing.assert_array_equal(_bits(pattern, p), np.triu(expected))


@uses_kernels
def test_many_distinct_column_sets_make_the_step_dense():
    rng = np.random.default_rng(12)
    p, n = 12, 300
    _, upper, _, z = factor_problem(5, p, n)
    upper = np.zeros_like(upper)
    upper[np.arange(p), np.arange(p)] = 1.0
    x = rng.standard_normal((n, p)) * (rng.random((n, p)) < 0.5)  # ~300 distinct sets
    pattern = _factor_kernel.pattern_of(upper)
    dense = upper.copy()
    want = _factor_kernel.learn_step(dense, x, 1.0, z)
    got = _factor_kernel.learn_step(upper, x, 1.0, z, pattern=pattern)
    for a, b in zip((*got, upper), (*want, dense), strict=True):
        if b is not None:
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(_bits(pattern, p), np.triu(np.ones((p, p), dtype=int)))
