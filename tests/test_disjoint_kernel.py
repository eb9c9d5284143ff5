"""The per-action models' compiled step (learners/_disjoint_kernel.py, issue 19).

numba is optional: with it, :class:`DisjointBayesianLinearRegression` updates the chosen models
in place (a different summation order: posteriors within 1e-9 of the numpy path, and of a
fresh solve from the exact statistics), scores them by ``x'm``, ``x'S x`` (1e-9) and folds its
log of rows into the statistics with the numpy loop's own sums (identical to the last bit).
Without numba (CI, ``REGRETLAB_NUMBA=0``) the kernels' sources run as plain Python in their
place, through the same wiring; the numpy path keeps its own tests (tests/test_disjoint.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import LinearBandit
from regretlab.features import InteractionFeatures
from regretlab.learners import DisjointBayesianLinearRegression, _disjoint_kernel, gaussian
from regretlab.learners import disjoint as disjoint_module
from regretlab.policies import LinUCB, ThompsonSampling
from regretlab.simulate import Agent, run_bandit

HAS_NUMBA = _disjoint_kernel.compiled_update() is not None
SOURCES = {
    "compiled_update": _disjoint_kernel._update_source,
    "compiled_fold": _disjoint_kernel._fold_source,
    "compiled_predictive": _disjoint_kernel._predictive_source,
    "compiled_predictive_shared": _disjoint_kernel._predictive_shared_source,
}


@pytest.fixture(autouse=True)
def _sources_without_numba(monkeypatch):
    """Without numba the kernels' sources run as plain Python (the same arithmetic, slowly), so
    that a run without numba (CI's) still tests them and their wiring."""
    if not HAS_NUMBA:
        for getter, source in SOURCES.items():
            monkeypatch.setattr(disjoint_module, getter, lambda source=source: source)


FM = InteractionFeatures(3, pairwise=False)  # p = 4
R, K = 9, 3


def numpy_path(monkeypatch) -> None:
    for name in ("compiled_update", "compiled_fold", "compiled_predictive"):
        monkeypatch.setattr(disjoint_module, name, lambda: None)


def trained(steps: int, seed: int, refresh_every: int = 1024) -> DisjointBayesianLinearRegression:
    model = DisjointBayesianLinearRegression(
        groups=FM, n_actions=K, n_replicates=R, prior_variance=3.0, refresh_every=refresh_every
    )
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((K, FM.n_features))
    for _ in range(steps):
        x = FM.transform(rng.uniform(-1, 1, (R, 3)))
        act = rng.integers(0, K, R)
        y = np.einsum("rp,rp->r", x, w[act]) + rng.standard_normal(R)
        model.learn_one(x, y, action=act)
    return model


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_the_compiled_step_gives_the_numpy_posteriors_and_the_exact_solve(monkeypatch):
    compiled = trained(600, 1)
    with monkeypatch.context() as patch:
        numpy_path(patch)
        reference = trained(600, 1)
    assert relative(compiled.mean, reference.mean) < 1e-9
    assert relative(compiled.covariance, reference.covariance) < 1e-9
    # The oracle: every model solved afresh from the exact statistics.
    batch = gaussian.posterior(compiled._stats, compiled._prior, 1.0)
    assert relative(compiled.mean, batch.mean) < 1e-9
    assert relative(compiled.covariance, batch.covariance) < 1e-9


def test_the_compiled_statistics_are_the_numpy_statistics_to_the_last_bit(monkeypatch):
    # With numba the step adds its row into the statistics (no log to fold), in the order
    # of the numpy path's fold.
    compiled = trained(300, 2, refresh_every=97)  # folds mid-run at every refresh
    with monkeypatch.context() as patch:
        numpy_path(patch)
        reference = trained(300, 2, refresh_every=97)
    want = reference.get_state()
    for key, got in compiled.get_state().items():
        np.testing.assert_array_equal(got, want[key])
    np.testing.assert_array_equal(compiled.n_seen, reference.n_seen)


@pytest.mark.parametrize("per_action", [False, True])
def test_the_compiled_scores_give_the_numpy_scores(monkeypatch, per_action):
    model = trained(200, 3)
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, (R, K, FM.n_features) if per_action else (R, FM.n_features))
    loc, sd = model.predict_one(x, return_sd=True)
    loc_mean, sd_mean = model.predict_one(x, return_sd=True, include_noise=False)
    with monkeypatch.context() as patch:
        numpy_path(patch)
        ref_loc, ref_sd = model.predict_one(x, return_sd=True)
        _, ref_sd_mean = model.predict_one(x, return_sd=True, include_noise=False)
    np.testing.assert_allclose(loc, ref_loc, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(loc_mean, ref_loc, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sd, ref_sd, rtol=1e-9)
    np.testing.assert_allclose(sd_mean, ref_sd_mean, rtol=1e-9)
    # The closed form: x'S x from the covariances themselves.
    designs = model._designs(x)
    var = np.einsum("rkp,rkpq,rkq->rk", designs, model.covariance, designs)
    np.testing.assert_allclose(sd_mean**2, var, rtol=1e-9)


def test_a_large_shrink_still_refreshes_from_the_statistics():
    # A wide prior meeting its first row shrinks a variance by ~1e6 > 1e3: the compiled step
    # must hand over to a fresh solve, as the numpy step does.
    model = DisjointBayesianLinearRegression(
        groups=("intercept", "main"), n_actions=2, n_replicates=R, prior_variance=1e6
    )
    x = np.tile([1.0, 0.5], (R, 1))
    model.learn_one(x, np.ones(R), action=np.zeros(R, dtype=int))
    batch = gaussian.posterior(model._stats, model._prior, 1.0)
    assert relative(model.covariance, batch.covariance) < 1e-12


@pytest.mark.parametrize("policy", [ThompsonSampling(), LinUCB(alpha=1.0)])
def test_bandit_runs_take_the_numpy_paths_actions(monkeypatch, policy):
    # Rounding differences (~1e-16) flip an argmax only where two scores tie to that
    # precision: the trajectories must agree on (almost) every decision.
    def actions() -> np.ndarray:
        env = LinearBandit(n_actions=K, context_dim=3, horizon=300, n_replicates=R, seed=5)
        model = DisjointBayesianLinearRegression(groups=FM, n_actions=K, n_replicates=R)
        agent = Agent("a", model, FM, policy)
        result = run_bandit(env, [agent], seed=6, log_steps=True)
        assert result.steps is not None
        return result.steps["action"].to_numpy()

    compiled = actions()
    numpy_path(monkeypatch)
    reference = actions()
    assert np.mean(compiled == reference) >= 0.99


@pytest.mark.parametrize("include_noise", [False, True])
def test_a_shared_row_scores_as_the_per_action_rows(include_noise):
    # One row for every action takes the contiguous kernel that also takes the sd; the same
    # rows given per action take the general kernel and numpy's maximum, + and sqrt.
    model = trained(300, 5)
    x = np.random.default_rng(6).uniform(-1, 1, (R, FM.n_features))
    loc, sd = model.predict_one(x, return_sd=True, include_noise=include_noise)
    rows = np.repeat(x[:, None, :], K, axis=1)  # a real copy, not a broadcast view
    ref_loc, ref_sd = model.predict_one(rows, return_sd=True, include_noise=include_noise)
    # Both kernels reassociate their sums (rounding only); the sd is numpy's from x'S x.
    np.testing.assert_allclose(loc, ref_loc, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(sd, ref_sd, rtol=1e-13)
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="x"):
        model.predict_one(bad, return_sd=True)
