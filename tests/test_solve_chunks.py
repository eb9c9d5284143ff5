"""The posterior solved a chunk of replicates at a time (learners/_solve_chunks.py, issue 19):
the same numbers to the last bit as one batched solve, for any chunk size."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.learners import BayesianLinearRegression, _pending, _solve_chunks, gaussian, stats


def problem(batch: tuple[int, ...], p: int, seed: int) -> stats.SufficientStats:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*batch, 3 * p, p))
    return stats.from_rows(x, x @ rng.standard_normal(p) + rng.standard_normal((*batch, 3 * p)))


@pytest.mark.parametrize("chunk_bytes", [1, 8 * 5 * 5 * 7, 8 * 5 * 5 * 64, 2**30])
@pytest.mark.parametrize(
    "prior",
    [
        np.full(5, 2.0),
        np.array([np.inf, 1.0, 0.0, 1.0, 1.0]),  # a flat and a switched-off column
    ],
)
def test_chunks_give_the_batched_solve_to_the_last_bit(chunk_bytes, prior):
    sums = problem((6, 9), 5, 0)
    priors = np.broadcast_to(prior, (6, 9, 5)).copy()
    priors[2, 3, 1] = 7.0  # one replicate's own prior
    beta = np.random.default_rng(1).uniform(0.5, 2.0, (6, 9))  # per-replicate precisions too
    for noise in (1.5, beta):
        whole = gaussian.posterior(sums, priors, noise)
        chunked = _solve_chunks.posterior_by_chunks(
            sums, priors, noise, rank_tol=1e-12, chunk_bytes=chunk_bytes
        )
        np.testing.assert_array_equal(chunked.mean, whole.mean)
        np.testing.assert_array_equal(chunked.covariance, whole.covariance)
        assert chunked.proper == whole.proper


def test_an_improper_item_in_any_chunk_makes_the_whole_improper():
    sums = problem((10,), 3, 2)
    xtx = sums.xtx.copy()
    xtx[7] = 0.0  # no data: with flat priors this replicate's posterior is improper
    sums = sums._replace(xtx=xtx)
    flat = np.full(3, np.inf)
    assert not gaussian.posterior(sums, flat, 1.0).proper
    chunked = _solve_chunks.posterior_by_chunks(sums, flat, 1.0, rank_tol=1e-12, chunk_bytes=72)
    assert not chunked.proper


def test_a_refresh_solves_by_chunks(monkeypatch):
    # The model's periodic refresh goes through the chunked solve (small chunks here) and
    # gives the unchunked model's posterior exactly.
    def run() -> BayesianLinearRegression:
        model = BayesianLinearRegression(groups=("a", "b", "b"), n_replicates=20, refresh_every=7)
        rng = np.random.default_rng(3)
        for _ in range(30):
            x = rng.standard_normal((20, 3))
            model.predict_one(x)  # reads the posterior: a refresh every 7 updates
            model.learn_one(x, x.sum(axis=-1))
        return model

    whole = run()
    monkeypatch.setattr(_solve_chunks, "CHUNK_BYTES", 8 * 9 * 3)
    calls = []
    original = gaussian.posterior
    monkeypatch.setattr(gaussian, "posterior", lambda *a, **k: calls.append(1) or original(*a, **k))
    chunked = run()
    assert len(calls) > 4  # several chunks per refresh
    np.testing.assert_array_equal(chunked.mean, whole.mean)
    np.testing.assert_array_equal(chunked.covariance, whole.covariance)


def test_rows_are_added_into_the_statistics_by_chunks_to_the_last_bit(monkeypatch):
    # The statistics take each block of rows a chunk of replicates at a time (bounded memory):
    # the same sums as one batched product, through learn_one's buffer (predict_learn_many's
    # rows are added by the lockstep kernels themselves: tests/test_lockstep_stats.py).
    rng = np.random.default_rng(4)
    xs = rng.standard_normal((20, 70, 3))
    ys = xs.sum(axis=-1) + rng.standard_normal((20, 70))

    def run() -> BayesianLinearRegression:
        model = BayesianLinearRegression(groups=("a", "b", "b"), n_replicates=20)
        for t in range(40):
            model.learn_one(xs[:, t], ys[:, t])
        model.predict_learn_many(xs[:, 40:], ys[:, 40:])
        return model

    whole = run()
    exact = stats.from_rows(xs, ys)  # the oracle: one product over all 70 rows
    for got, want in zip(whole.stats, exact, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(_pending, "_STATS_CHUNK_BYTES", 8 * 9 * 3)  # 3 replicates a chunk
    calls = []
    original = stats.from_rows
    monkeypatch.setattr(stats, "from_rows", lambda *a: calls.append(1) or original(*a))
    chunked = run()
    assert len(calls) >= 7  # 7 chunks for the buffered block of rows
    for got, want in zip(chunked.stats, whole.stats, strict=True):
        np.testing.assert_array_equal(got, want)
