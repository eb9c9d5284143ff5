"""The invariant Bayes factor behind the data-reading triggers, against closed forms (issue 16).

The statistic is the Bayes factor with flat weights on the null's columns and ``1 / sigma`` on
the noise scale: the learner's own evidence ratio in the limit of a flat main-effect prior and
a vanishing noise prior, computed here from sufficient statistics alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.features import InteractionFeatures
from regretlab.learners import NormalInverseGammaRegression
from regretlab.policies.escalation._invariant import InvariantTest, log_bayes_factors

ALTERNATIVES = np.array([1e-2, 1.0, 100.0])


def _data(seed, r, n, *, hetero=False, x_dim=3):
    rng = np.random.default_rng(seed)
    fm = InteractionFeatures(x_dim)
    x = fm.transform(rng.uniform(-1, 1, (r, n, x_dim)))
    eps = rng.standard_normal((r, n))
    if hetero:  # sd ~ |x_1|, mean variance 1
        eps = eps * np.sqrt(3.0) * np.abs(x[..., 1])
    return fm, x, 2.0 * x[..., 1] - x[..., 2] + 0.5 * eps


def _learner(fm, r, pairwise=0.0):
    prior = {"intercept": np.inf, "main": np.inf, "pairwise": pairwise}
    return NormalInverseGammaRegression(
        groups=fm, prior_variance=prior, noise_shape=1e-12, noise_scale=1e-12, n_replicates=r
    )


@pytest.mark.parametrize("n", [5, 6, 9, 40])
def test_equals_the_learners_evidence_ratio_with_reference_priors(n):
    fm, x, y = _data(0, 4, 40)
    model = _learner(fm, 4).learn_many(x[:, :n], y[:, :n])
    log_bf, ready = log_bayes_factors(model, "pairwise", ALTERNATIVES)
    # k_0 = 4 (intercept and 3 main effects): defined from 5 observations on.
    assert ready.all()
    expected = model.log_evidence({"pairwise": ALTERNATIVES}) - model.log_evidence()
    np.testing.assert_allclose(log_bf, expected, atol=1e-6)


def test_not_defined_before_k0_plus_one_observations():
    fm, x, y = _data(1, 3, 4)
    log_bf, ready = log_bayes_factors(_learner(fm, 3).learn_many(x, y), "pairwise", ALTERNATIVES)
    assert not ready.any()
    assert np.all(log_bf == 0.0)


def test_collinear_null_columns_use_the_column_space():
    # A duplicated main column changes nothing: the null is the same column space.
    fm, x, y = _data(2, 3, 30)
    groups = ("intercept", "main", "main", "main", "main", "pairwise", "pairwise", "pairwise")
    twin = np.concatenate([x[..., :4], x[..., 1:2], x[..., 4:]], axis=-1)
    model = NormalInverseGammaRegression(
        groups=groups, prior_variance={"pairwise": 0.0}, n_replicates=3
    ).learn_many(twin, y)
    reference = _learner(fm, 3).learn_many(x, y)
    np.testing.assert_allclose(
        log_bayes_factors(model, "pairwise", ALTERNATIVES)[0],
        log_bayes_factors(reference, "pairwise", ALTERNATIVES)[0],
        atol=1e-8,
    )


def _run(test, model, x, y, every=10):
    for step in range(every, x.shape[1] + 1, every):
        model.learn_many(x[:, step - every : step], y[:, step - every : step])
        out = test.update(model)
    return out


def test_inflation_reads_the_variance_misfit_per_column():
    r, n = 200, 2000
    fm = InteractionFeatures(3)
    pair = [name for name, g in zip(fm.names, fm.groups, strict=True) if g == "pairwise"]
    with_x1 = np.array(["x0" in name for name in pair])
    for hetero, expected in ((False, (1.0, 1.0)), (True, (1.8, 1.0))):
        fm, x, y = _data(3, r, n, hetero=hetero)
        test = InvariantTest("pairwise", ALTERNATIVES)
        log_bf, robust, _ = _run(test, _learner(fm, r), x, y)
        mean = test.inflation.mean(axis=0)
        # Averaged over 200 replicates of ~190 blocks, each column's mean is within a few %.
        np.testing.assert_allclose(mean[with_x1], expected[0], rtol=0.1)
        np.testing.assert_allclose(mean[~with_x1], expected[1], rtol=0.1)
        if hetero:  # standardising by the inflation lowers the evidence where it is > 1
            assert np.median(robust.max(axis=0) - log_bf.max(axis=0)) < 0.0


def test_held_out_gain_is_the_squared_error_of_means_fitted_before_the_block():
    fm, x, y = _data(4, 3, 30)
    model = _learner(fm, 3, pairwise=0.0)
    test = InvariantTest("pairwise", ALTERNATIVES)
    _run(test, model, x[:, :20], y[:, :20])
    null, alt = test._means
    before = test.held_out_gain
    model.learn_many(x[:, 20:], y[:, 20:])
    test.update(model)
    xs, ys = x[:, 20:], y[:, 20:]
    loss = [((ys - np.einsum("rtp,rp->rt", xs, m)) ** 2).sum(axis=1) for m in (null, alt)]
    np.testing.assert_allclose(test.held_out_gain - before, loss[0] - loss[1], rtol=1e-9)
    # The null's means are its least squares on the first 20 rows.
    keep = np.array([g != "pairwise" for g in fm.groups])
    ls = np.linalg.lstsq(x[0, :20][:, keep], y[0, :20], rcond=None)[0]
    np.testing.assert_allclose(null[0, keep], ls, rtol=1e-8)
