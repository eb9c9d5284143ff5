"""The lockstep kernels add the rows they learn into the sufficient statistics (issue 19, sixth
session): the numpy kernel with the very products of ``stats.from_rows``, the numba kernel in
its own pass over the rows (the same sums up to rounding, ``X'X`` exactly symmetric)."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.learners import BayesianLinearRegression, _lockstep, stats

HAS_NUMBA = _lockstep._numba_kernel() is not None
# Without numba the numba kernel's source runs as plain Python (the same arithmetic, slowly), so
# that a run without numba (CI's) still tests the kernel and its wiring.
KERNEL = _lockstep._numba_kernel() or _lockstep._numba_source


@pytest.fixture(autouse=True)
def _kernel_source_without_numba(monkeypatch):
    if not HAS_NUMBA:
        monkeypatch.setattr(_lockstep, "_numba_kernel", lambda: KERNEL)


def _problem(n_rep, m, p, seed, *, strided):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, n_rep, p)) if strided else rng.normal(size=(n_rep, m, p))
    y = rng.normal(size=(m, n_rep)) if strided else rng.normal(size=(n_rep, m))
    if strided:  # time first, read replicate first: the layout benchmarks/lockstep.py feeds
        x, y = np.moveaxis(x, 0, 1), np.moveaxis(y, 0, 1)
    # Statistics of earlier rows, so that the kernels add to something.
    old = stats.from_rows(rng.normal(size=(n_rep, 7, p)), rng.normal(size=(n_rep, 7)))
    prior = rng.uniform(0.5, 2.0, p)
    return x, y, old, prior


def _run(name, x, y, old, prior, *, chunk=8):
    n_rep, m, p = x.shape
    mean = np.zeros((n_rep, p))
    cov = np.broadcast_to(np.diag(prior), (n_rep, p, p)).copy()
    out = np.empty((n_rep, m))
    totals = tuple(a.copy() for a in old)
    if name == "numpy":
        _lockstep.predict_learn_numpy(mean, cov, x, y, 3.0, out, totals, chunk=chunk)
    else:
        _lockstep.predict_learn_numba(mean, cov, x, y, 3.0, out, totals)
    return mean, cov, out, totals


@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize(("n_rep", "p"), [(1, 3), (21, 5), (5, 8), (9, 22)])
def test_numpy_kernel_adds_the_statistics_of_from_rows(n_rep, p, strided):
    x, y, old, prior = _problem(n_rep, 30, p, seed=p, strided=strided)
    *_, totals = _run("numpy", x, y, old, prior)
    expected = stats.combine(old, stats.from_rows(x, y))
    for got, want in zip(totals, expected, strict=True):
        np.testing.assert_array_equal(got, want)  # the same products and sums: the same bits


@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize(("n_rep", "p", "m"), [(1, 3, 1), (21, 5, 30), (5, 8, 2), (9, 22, 40)])
def test_numba_kernel_adds_the_statistics_in_its_pass(n_rep, p, m, strided):
    # p = 8 fills the padded rows exactly; 3, 5 and 22 leave padding; m = 1 and 2 have no or
    # one fused step after the first row.
    x, y, old, prior = _problem(n_rep, m, p, seed=p + m, strided=strided)
    mean, cov, out, totals = _run("numba", x, y, old, prior)
    exact = stats.combine(old, stats.from_rows(x, y))
    np.testing.assert_allclose(totals[0], exact.xtx, rtol=0, atol=1e-13 * np.abs(exact.xtx).max())
    np.testing.assert_allclose(totals[1], exact.xty, rtol=0, atol=1e-13 * np.abs(exact.xty).max())
    np.testing.assert_allclose(totals[2], exact.yty, rtol=1e-13)
    np.testing.assert_array_equal(totals[3], exact.n)
    np.testing.assert_array_equal(totals[0], np.swapaxes(totals[0], -1, -2))  # symmetric
    # The statistics ride along: the posterior and predictions are those without them.
    bare_mean = np.zeros_like(mean)
    bare_cov = np.broadcast_to(np.diag(prior), cov.shape).copy()
    bare_out = np.empty_like(out)
    _lockstep.predict_learn_numba(bare_mean, bare_cov, x, y, 3.0, bare_out)
    np.testing.assert_array_equal(out, bare_out)
    np.testing.assert_array_equal(mean, bare_mean)
    np.testing.assert_array_equal(cov, bare_cov)


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_learner_statistics_after_blocks_and_refreshes(monkeypatch, name):
    # predict_learn_many lets the kernel add the statistics; they equal those of learn_many
    # (exactly with numpy, to rounding with numba), across refreshes and a single stream.
    chosen = _lockstep.kernel(name)
    monkeypatch.setattr(_lockstep, "kernel", lambda choice=None: chosen)
    rng = np.random.default_rng(3)
    for n_rep in (None, 6):
        batch = () if n_rep is None else (n_rep,)
        x, y = rng.normal(size=(*batch, 90, 4)), rng.normal(size=(*batch, 90))
        blocked = BayesianLinearRegression(groups=("a",) * 4, n_replicates=n_rep, refresh_every=25)
        batch_fit = blocked.clone().learn_many(x, y)
        for a, b in ((0, 40), (40, 41), (41, 90)):
            blocked.predict_learn_many(x[..., a:b, :], y[..., a:b])
        for got, want in zip(blocked.stats, batch_fit.stats, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-12)
        np.testing.assert_allclose(blocked.mean, batch_fit.mean, atol=1e-10)


def test_the_runner_calls_the_numba_kernel_with_c_ordered_arrays_only(monkeypatch):
    # Every other layout is one more compilation of the kernel (28 MB resident, 2 s): segments
    # cut by a refresh (1024 steps) and by checkpoints must not pass strided slices.
    from regretlab.environments import InteractionStream
    from regretlab.simulate import Agent, run_prequential

    compiled = KERNEL
    layouts = set()

    def recording(*args):
        layouts.add(tuple(a.flags.c_contiguous for a in args if isinstance(a, np.ndarray)))
        compiled(*args)

    monkeypatch.setattr(_lockstep, "_numba_kernel", lambda: recording)
    monkeypatch.setattr(_lockstep, "kernel", lambda name=None: _lockstep.predict_learn_numba)
    env = InteractionStream(x_dim=3, horizon=1300, n_replicates=6, seed=0)
    agent = Agent("b", BayesianLinearRegression(groups=env.features, n_replicates=6))
    run_prequential(env, [agent], checkpoints=[5, 700, 1300], block_memory=300_000)
    assert layouts == {(True,) * 9}  # mean, cov, x, y, out and the four statistics
