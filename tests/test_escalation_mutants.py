"""Tests that kill the mutants of the escalation core (the seventh mutation run, issue 16's
machinery): here ``policies/escalation/_invariant.py``, the invariant Bayes factor of the
triggers and its robust gate; ``ModelAveraging``'s are in ``test_candidates_mutants.py``.

Each test asserts a closed form or a definition that a surviving mutant broke; docs/mutation.md,
"Seventh run: the escalation core", lists the mutants and why the others are equivalent.
"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.features import InteractionFeatures
from regretlab.learners import NormalInverseGammaRegression
from regretlab.policies.escalation._invariant import _Fit, log_bayes_factors, null_columns

ALTERNATIVES = np.array([1e-2, 1.0, 100.0])


def _data(seed, r, n, x_dim=3):
    rng = np.random.default_rng(seed)
    fm = InteractionFeatures(x_dim)
    x = fm.transform(rng.uniform(-1, 1, (r, n, x_dim)))
    return fm, x, 2.0 * x[..., 1] - x[..., 2] + 0.5 * rng.standard_normal((r, n))


def _learner(fm, r, pairwise=0.0):
    prior = {"intercept": np.inf, "main": np.inf, "pairwise": pairwise}
    return NormalInverseGammaRegression(
        groups=fm, prior_variance=prior, noise_shape=1e-12, noise_scale=1e-12, n_replicates=r
    )


@pytest.mark.parametrize("n", [4, 5, 9])
def test_noise_variance_is_the_nulls_residual_variance_and_one_before_it_is_defined(n):
    """``R_0 / (n - k_0)`` from least squares on the null's columns (``k_0 = 4``); at ``n = 5``
    one residual degree of freedom, ``R_0`` itself; 1 where the fit is not yet defined."""
    fm, x, y = _data(11, 3, n)
    model = _learner(fm, 3).learn_many(x, y)
    keep = null_columns(model, "pairwise")
    fit = _Fit(model.stats, keep, model.columns["pairwise"])
    got = fit.noise_variance()
    if n <= 4:
        assert not fit.ready.any()
        np.testing.assert_array_equal(got, 1.0)
        return
    assert fit.ready.all()
    for i in range(3):
        xs = x[i][:, keep[i]]
        rss = ((y[i] - xs @ np.linalg.lstsq(xs, y[i], rcond=None)[0]) ** 2).sum()
        np.testing.assert_allclose(got[i], rss / (n - 4), rtol=1e-9)


def test_the_factor_does_not_depend_on_the_groups_own_prior():
    """The statistic reads which groups are on and the sufficient statistics, never the
    group's own prior: a learner with the group switched on gives the same factors."""
    fm, x, y = _data(12, 3, 25)
    off = log_bayes_factors(_learner(fm, 3, 0.0).learn_many(x, y), "pairwise", ALTERNATIVES)
    on = log_bayes_factors(_learner(fm, 3, 1.0).learn_many(x, y), "pairwise", ALTERNATIVES)
    assert off[1].all()
    assert on[1].all()
    np.testing.assert_allclose(on[0], off[0], rtol=1e-12)
    assert np.all(np.abs(off[0]) > 1e-3)  # a case where the factors are not trivially 0


def test_means_are_least_squares_and_the_chosen_alternatives_ridge():
    """The null's means are least squares on its columns; the alternative's, with ``group``'s
    weights ``~ N(0, v sigma^2 I)`` and flat weights elsewhere, minimise
    ``|y - X w|^2 + |w_group|^2 / v`` for the ``v`` of highest factor (the noise cancels)."""
    r, n = 3, 30
    fm, x, y = _data(13, r, n)
    y = y + 0.7 * x[..., 5]  # some interaction, so the group's weights are not ~0
    model = _learner(fm, r).learn_many(x, y)
    cols = model.columns["pairwise"]
    keep = null_columns(model, "pairwise")
    fit = _Fit(model.stats, keep, cols)
    for a, v in enumerate(ALTERNATIVES):
        log_bf = np.where(np.arange(len(ALTERNATIVES)) == a, 1.0, 0.0)[:, None] * np.ones(r)
        null, alt = fit.means(ALTERNATIVES, log_bf, cols)
        for i in range(r):
            ls = np.linalg.lstsq(x[i][:, keep[i]], y[i], rcond=None)[0]
            np.testing.assert_allclose(null[i, keep[i]], ls, rtol=1e-8)
            penalty = np.zeros((len(cols), fm.n_features))
            penalty[np.arange(len(cols)), cols] = 1.0 / np.sqrt(v)
            rows = np.concatenate([x[i], penalty])
            target = np.concatenate([y[i], np.zeros(len(cols))])
            ridge = np.linalg.lstsq(rows, target, rcond=None)[0]
            np.testing.assert_allclose(alt[i], ridge, rtol=1e-7, atol=1e-10)


# Checks at these sample sizes: the fit is defined from k_0 + 1 = 5 observations on, blocks
# before it has 2p = 14 are not scored, one block has a single observation and one (the
# repeated 15) none.
CHECKS = (3, 6, 10, 14, 15, 15, 20, 30, 45)


def _checked(pairwise):
    from regretlab.policies.escalation._invariant import InvariantTest

    r = 3
    fm, x, y = _data(14, r, CHECKS[-1])
    y = y + 0.3 * x[..., 5] * np.abs(x[..., 1])  # a little misfit, so the inflation is not ~1
    model = _learner(fm, r, pairwise)
    test, out, seen = InvariantTest("pairwise", ALTERNATIVES), [], 0
    for n in CHECKS:
        if n > seen:
            model.learn_many(x[:, seen:n], y[:, seen:n])
            seen = n
        log_bf, robust, ready = test.update(model)
        out.append((log_bf, robust, ready, np.array(test.inflation), test.held_out_gain))
    return fm, x, y, test, out


def test_inflation_counts_the_scored_blocks_from_2p_by_its_definition():
    """The inflation from its definition, at every check: per group column,
    ``(B ratio + 1) / (B + 1)`` with ``ratio = sum_b s_b^2 / (sigma^2 sum_b h_b)`` over the
    ``B`` blocks that follow a fit with at least ``2p`` observations and hold at least one,
    ``s_b`` and ``h_b`` the previous fit's score and model variance of the block (residuals of
    its best alternative), ``sigma^2`` the current fit's noise variance; exactly 1 before any
    block is scored. The robust factors are the factors of the standardised scores."""
    from regretlab.learners.stats import from_rows

    fm, x, y, _, out = _checked(0.0)
    model = _learner(fm, 3)
    cols = model.columns["pairwise"]
    keep = null_columns(model, "pairwise")
    squares, model_var, blocks = 0.0, 0.0, 0
    for k, n in enumerate(CHECKS):
        prev = CHECKS[k - 1] if k else 0
        if prev >= 14 and n > prev:
            stats = _learner(fm, 3).learn_many(x[:, :prev], y[:, :prev]).stats
            fit = _Fit(stats, keep, cols)
            _, alt = fit.means(ALTERNATIVES, fit.log_bayes_factors(ALTERNATIVES), cols)
            score, var = fit.block_scores(from_rows(x[:, prev:n], y[:, prev:n]), alt)
            squares, model_var, blocks = squares + score**2, model_var + var, blocks + 1
        fit = _Fit(_learner(fm, 3).learn_many(x[:, :n], y[:, :n]).stats, keep, cols)
        log_bf, robust, ready, inflation, _ = out[k]
        np.testing.assert_array_equal(ready, n > 4)
        if blocks == 0:
            np.testing.assert_array_equal(inflation, 1.0)
            np.testing.assert_array_equal(robust, log_bf)
            continue
        ratio = squares / (fit.noise_variance()[:, None] * model_var)
        expected = (blocks * ratio + 1.0) / (blocks + 1.0)
        np.testing.assert_allclose(inflation, expected, rtol=1e-9)
        assert np.all(np.abs(expected - 1.0) > 1e-3)
        np.testing.assert_allclose(log_bf, fit.log_bayes_factors(ALTERNATIVES), rtol=1e-12)
        want = fit.log_bayes_factors(ALTERNATIVES, expected)
        np.testing.assert_allclose(robust, want, rtol=1e-9)
    assert blocks == 4


def test_held_out_gain_sums_the_blocks_after_a_defined_fit():
    """``held_out_gain`` by its definition: over the blocks that follow a defined fit, the
    squared error of the null's means minus the best alternative's (both fitted before the
    block); blocks before the fit is defined (``n <= k_0 = 4``) add nothing."""
    fm, x, y, _, out = _checked(0.0)
    keep = null_columns(_learner(fm, 3), "pairwise")
    cols = _learner(fm, 3).columns["pairwise"]
    gain = np.zeros(3)
    for k, n in enumerate(CHECKS):
        prev = CHECKS[k - 1] if k else 0
        if prev > 4:
            fit = _Fit(_learner(fm, 3).learn_many(x[:, :prev], y[:, :prev]).stats, keep, cols)
            means = fit.means(ALTERNATIVES, fit.log_bayes_factors(ALTERNATIVES), cols)
            xs, ys = x[:, prev:n], y[:, prev:n]
            null, alt = (((ys - np.einsum("rtp,rp->rt", xs, m)) ** 2).sum(axis=1) for m in means)
            gain = gain + null - alt
        np.testing.assert_allclose(out[k][4], gain, rtol=1e-9, atol=1e-12)
    assert np.all(gain != 0.0)


def test_the_invariant_test_does_not_depend_on_the_groups_own_prior():
    """Switched on in the learner, the group gives the same factors, robust factors and
    inflation: the test reads which *other* groups are on, never the group's prior."""
    *_, off_test, off = _checked(0.0)
    *_, on_test, on = _checked(1.0)
    for a, b in zip(off, on, strict=True):
        for u, w in zip(a, b, strict=True):
            np.testing.assert_allclose(w, u, rtol=1e-12)
    np.testing.assert_allclose(on_test.inflation, off_test.inflation, rtol=1e-12)


class _InPlace:
    """A model whose statistics arrays are updated in place (as a compiled learner may)."""

    def __init__(self, model):
        self._model = model
        self.columns = model.columns
        self.get_prior_variance = model.get_prior_variance
        self.stats = tuple(np.array(a, dtype=float) for a in model.stats)

    def learn_many(self, x, y):
        before = self._model.stats
        after = self._model.learn_many(x, y).stats
        for mine, a, b in zip(self.stats, after, before, strict=True):
            mine += a - b
        return self


def test_the_invariant_test_keeps_its_own_copy_of_the_statistics():
    """With statistics updated in place, blocks are still the differences between checks."""
    from regretlab.learners.stats import SufficientStats
    from regretlab.policies.escalation._invariant import InvariantTest

    *_, expected = _checked(0.0)
    fm, x, y = _data(14, 3, CHECKS[-1])
    y = y + 0.3 * x[..., 5] * np.abs(x[..., 1])
    model = _InPlace(_learner(fm, 3).learn_many(x[:, :0], y[:, :0]))
    test, seen = InvariantTest("pairwise", ALTERNATIVES), 0
    for n, want in zip(CHECKS, expected, strict=True):
        if n > seen:
            model.learn_many(x[:, seen:n], y[:, seen:n])
            seen = n
        view = _InPlace.__new__(_InPlace)
        view.columns, view.get_prior_variance = model.columns, model.get_prior_variance
        view.stats = SufficientStats(*model.stats)
        test.update(view)
        np.testing.assert_allclose(test.held_out_gain, want[4], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(test.inflation, want[3], rtol=1e-9)


def test_null_columns_leave_out_every_group_that_is_off():
    """The null keeps the active columns of the other groups: a group switched off (variance
    0) is out, as is ``group`` itself, whatever their priors."""
    fm = InteractionFeatures(3)
    prior = {"intercept": np.inf, "main": 0.0, "pairwise": 1.0}
    model = NormalInverseGammaRegression(groups=fm, prior_variance=prior, n_replicates=2)
    keep = null_columns(model, "pairwise")
    np.testing.assert_array_equal(
        keep, np.array([g == "intercept" for g in fm.groups])[None] & [[True], [True]]
    )


@pytest.mark.parametrize("twin", [1e-6, 1.0, 1e6])
def test_the_null_is_a_column_space_whatever_the_scale_of_its_columns(twin):
    """Flat weights make the null a column space: rescaling a null column, or adding a
    rescaled copy of one (collinear), changes no factor. The rank decision works on the
    equilibrated Gram matrix, so it holds from ``1e-6`` to ``1e6``."""
    fm, x, y = _data(15, 3, 30)
    reference = log_bayes_factors(_learner(fm, 3).learn_many(x, y), "pairwise", ALTERNATIVES)
    scaled = x.copy()
    scaled[..., 1] *= 1e-5
    scaled[..., 2] *= 1e5
    wide = np.concatenate([scaled[..., :4], twin * scaled[..., 3:4], scaled[..., 4:]], axis=-1)
    groups = ("intercept", "main", "main", "main", "main", "pairwise", "pairwise", "pairwise")
    model = NormalInverseGammaRegression(
        groups=groups,
        prior_variance={"intercept": np.inf, "main": np.inf, "pairwise": 0.0},
        noise_shape=1e-12,
        noise_scale=1e-12,
        n_replicates=3,
    ).learn_many(wide, y)
    log_bf, ready = log_bayes_factors(model, "pairwise", ALTERNATIVES)
    assert ready.all()
    np.testing.assert_allclose(log_bf, reference[0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("scale", [1e-9, 1e6])
def test_the_factor_does_not_depend_on_the_scale_of_y(scale):
    """With ``1 / sigma`` on the noise scale the factor is invariant to the unit of ``y``
    (the readiness guard is relative to ``y'y``)."""
    fm, x, y = _data(16, 3, 25)
    reference = log_bayes_factors(_learner(fm, 3).learn_many(x, y), "pairwise", ALTERNATIVES)
    model = _learner(fm, 3).learn_many(x, scale * y)
    log_bf, ready = log_bayes_factors(model, "pairwise", ALTERNATIVES)
    assert ready.all()
    np.testing.assert_allclose(log_bf, reference[0], rtol=1e-7)


@pytest.mark.parametrize("exact", ["zero", "linear"])
def test_no_factor_where_the_null_fits_exactly(exact):
    """Where the null's columns fit ``y`` exactly (no residual to scale the noise by), the
    factor is not defined: not ready, 0."""
    fm, x, _ = _data(17, 3, 25)
    y = np.zeros(x.shape[:2]) if exact == "zero" else 1.0 + 2.0 * x[..., 1] - x[..., 3]
    log_bf, ready = log_bayes_factors(_learner(fm, 3).learn_many(x, y), "pairwise", ALTERNATIVES)
    assert not ready.any()
    np.testing.assert_array_equal(log_bf, 0.0)
