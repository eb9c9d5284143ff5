"""Properness of the Gaussian posterior: the scaled rank test of ``learners.rank`` (issue 14).

The oracle is the same posterior in 100-digit arithmetic (mpmath), built from the raw rows, with
the flat prior taken as its limit: variance ``1e50`` on every flat column. A ridge penalty that
vanishes equally on every flat column converges to the minimum-norm (Euclidean) solution among
the posterior's maximisers, so the oracle's mean is the minimum-norm mean to about ``1e-30``.

Cases are built so that no verdict depends on rounding (acceptance: 100x from the tolerance):
column scales are powers of two, so scaling is exact and an exactly rank-deficient design stays
exactly rank-deficient in floating point; rounding then leaves eigenvalues below ``3e-15`` in
the equilibrated flat-block Schur complement (measured over 9,000 such cases), 300x below the
default tolerance ``1e-12``, and every full-rank case is checked to keep its smallest
eigenvalue 100x above it. Finite prior variances are stated in their column's units.

Scales: a common factor from about 1e-6 to 1e6 times a per-column factor ``2^-6 .. 2^6``. The
verdict is also checked with per-column factors over the whole ``2^-20 .. 2^20``, but not the
mean there: the Euclidean minimum-norm choice is then ill-posed in double precision (a null
direction's component is fixed by weights 1e12 apart; measured: the solve from exactly rounded
``X'X`` is off by as much as ours, up to 1e-2 relative), while at ``2^-10 .. 2^10`` it still
holds to 1e-8.
"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression, gaussian
from regretlab.learners.rank import DEFAULT_RANK_TOL, solve_flat
from regretlab.learners.stats import from_rows

mpmath = pytest.importorskip("mpmath")
EPS = np.finfo(float).eps
N_CASES = 24  # per kind; each case costs one 100-digit solve of up to 30 unknowns


def _scales(rng, p, spread):
    """Powers of two: one common factor in ``2^-20 .. 2^20`` (about 1e-6 .. 1e6) times a
    per-column factor in ``2^-spread .. 2^spread``."""
    return 2.0 ** (rng.integers(-20, 21) + rng.integers(-spread, spread + 1, size=p))


def _priors(rng, kinds, scales):
    """Flat, zero or finite; a finite variance is stated in its column's units (``/ scale^2``),
    as for standardised data, so a column scaled by 1e6 is not made nearly flat by its prior."""
    finite = 10.0 ** rng.uniform(-3, 3, size=len(kinds)) / scales**2
    return np.where(kinds == "flat", np.inf, np.where(kinds == "zero", 0.0, finite))


def make_case(seed: int, kind: str, spread: int = 6):
    """Rows ``x``, targets ``y``, prior variances and the expected verdict for one case."""
    rng = np.random.default_rng([20240607, seed, len(kind)])
    p = int(rng.integers(3, 31))
    kinds = rng.choice(["flat", "finite", "zero"], size=p, p=[0.5, 0.35, 0.15])
    kinds[:2] = "flat"
    n_flat = int((kinds == "flat").sum())
    if kind == "under":  # fewer rows than flat columns: rank-deficient, n from 1 to p - 1
        n = int(rng.integers(1, n_flat))
        x = rng.standard_normal((n, p))
    elif kind == "few":  # fewer rows than columns, but enough for the flat ones: proper
        n = int(rng.integers(n_flat, max(n_flat + 1, p)))
        x = rng.standard_normal((n, p))
    elif kind == "collinear":  # n from p to 3p, one flat column a power-of-two multiple of another
        n = int(rng.integers(p, 3 * p + 1))
        x = rng.standard_normal((n, p))
        x[:, 1] = x[:, 0] * 2.0 ** rng.integers(-3, 4)
    else:  # full rank, cond(X) up to 1e5 before the column scales
        n = int(rng.integers(p, 3 * p + 1))
        u = np.linalg.qr(rng.standard_normal((n, p)))[0]
        v = np.linalg.qr(rng.standard_normal((p, p)))[0]
        x = (u * np.geomspace(1.0, 10.0 ** -rng.uniform(0, 5), p)) @ v.T
    scales = _scales(rng, p, spread)
    y = rng.standard_normal(n)
    return x * scales, y, _priors(rng, kinds, scales), kind in ("full", "few")


def oracle(x, y, variance, beta=1.0, flat_variance="1e50"):
    """Posterior mean and covariance in 100-digit arithmetic from the raw rows."""
    with mpmath.workdps(100):
        on = [j for j in range(len(variance)) if variance[j] != 0.0]
        xm = mpmath.matrix([[mpmath.mpf(float(x[i, j])) for j in on] for i in range(len(x))])
        ym = mpmath.matrix([mpmath.mpf(float(v)) for v in y])
        prior = [mpmath.mpf(flat_variance) if np.isinf(variance[j]) else variance[j] for j in on]
        prec = beta * (xm.T * xm)
        for i, v in enumerate(prior):
            prec[i, i] += 1 / mpmath.mpf(v)
        mean_on = mpmath.lu_solve(prec, beta * (xm.T * ym))
        cov_on = mpmath.inverse(prec)
        mean = np.zeros(len(variance))
        cov = np.zeros((len(variance), len(variance)))
        for a, j in enumerate(on):
            mean[j] = float(mean_on[a])
            for b, k in enumerate(on):
                cov[j, k] = float(cov_on[a, b])
    return mean, cov


def schur_eigenvalues(x, variance):
    """Eigenvalues of the equilibrated flat-block Schur complement, assembled independently."""
    on = variance != 0.0
    xs, v = x[:, on], variance[on]
    prec = xs.T @ xs + np.diag(np.where(np.isinf(v), 0.0, 1.0 / np.where(np.isinf(v), 1.0, v)))
    d = 1.0 / np.sqrt(np.diag(prec))
    e = prec * d[:, None] * d
    flat = np.isinf(v)
    e_ff, e_fn, e_nn = e[np.ix_(flat, flat)], e[np.ix_(flat, ~flat)], e[np.ix_(~flat, ~flat)]
    schur = e_ff - e_fn @ np.linalg.solve(e_nn, e_fn.T) if (~flat).any() else e_ff
    return np.linalg.eigvalsh(schur)


def rel_err(actual, expected):
    return np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), np.finfo(float).tiny)


@pytest.mark.parametrize("kind", ["under", "collinear"])
@pytest.mark.parametrize("seed", range(N_CASES))
def test_rank_deficient_is_improper_with_minimum_norm_mean(seed, kind):
    x, y, variance, _ = make_case(seed, kind)
    model = BayesianLinearRegression(
        groups=[f"c{j}" for j in range(len(variance))],
        prior_variance={f"c{j}": v for j, v in enumerate(variance)},
    )
    for row, target in zip(x, y, strict=True):
        model.learn_one(row, target)
    post = model.posterior
    assert not post.proper
    mean, _cov = oracle(x, y, variance)
    assert rel_err(post.mean, mean) <= 1e-8
    assert np.all(np.isfinite(post.covariance))
    # The pseudo-inverse C of P over the active columns: P C P = P and C P C = C, checked
    # with every column scaled to unit precision, so the check does not depend on the scales.
    on = variance != 0.0
    assert np.all(post.covariance[~on] == 0.0)
    xs, v = x[:, on], variance[on]
    prec = xs.T @ xs + np.diag(np.where(np.isinf(v), 0.0, 1.0 / np.where(np.isinf(v), 1.0, v)))
    d = 1.0 / np.sqrt(np.diag(prec))
    e, c = prec * d[:, None] * d, post.covariance[np.ix_(on, on)] / d[:, None] / d
    assert rel_err(e @ c @ e, e) <= 1e-9
    assert rel_err(c @ e @ c, c) <= 1e-9


@pytest.mark.parametrize("kind", ["under", "collinear", "full", "few"])
@pytest.mark.parametrize("seed", range(N_CASES))
def test_verdict_with_columns_scaled_apart_by_1e12(seed, kind):
    x, y, variance, full = make_case(seed, kind, spread=20)
    if full:
        assert schur_eigenvalues(x, variance).min() >= 100 * DEFAULT_RANK_TOL
    post = gaussian.posterior(from_rows(x, y), variance, 2.0)
    assert post.proper == full
    assert np.all(np.isfinite(post.mean))
    assert np.all(np.isfinite(post.covariance))


@pytest.mark.parametrize("kind", ["full", "few"])
@pytest.mark.parametrize("seed", range(N_CASES))
def test_full_rank_is_proper_with_the_right_mean(seed, kind):
    x, y, variance, _ = make_case(seed, kind)
    eig = schur_eigenvalues(x, variance)
    assert eig.min() >= 100 * DEFAULT_RANK_TOL  # the case sits 100x from the tolerance
    model = BayesianLinearRegression(
        groups=[f"c{j}" for j in range(len(variance))],
        prior_variance={f"c{j}": v for j, v in enumerate(variance)},
    )
    for row, target in zip(x, y, strict=True):
        model.learn_one(row, target)
    post = model.posterior
    assert post.proper
    mean, _ = oracle(x, y, variance)
    # Normal equations: the forward error of the mean grows like cond(E) * eps.
    assert rel_err(post.mean, mean) <= max(1e-8, 100 * EPS / eig.min())


@pytest.mark.parametrize("variance", [(1e-30, 1e10), (1e10, 1e-30)])
def test_seed_extremes_stay_proper(rng, variance):
    """The notebook's 1e-30 / 1e10 priors beside a flat intercept: proper, and the right mean."""
    x = np.column_stack([np.ones(12), rng.uniform(-1, 1, (12, 4))])
    y = rng.standard_normal(12)
    prior = np.array([np.inf, variance[0], variance[0], variance[1], variance[1]])
    post = gaussian.posterior(from_rows(x, y), prior, 1.0)
    assert post.proper
    mean, cov = oracle(x, y, prior)
    assert rel_err(post.mean, mean) <= 1e-9
    d = np.sqrt(np.diag(cov))
    assert rel_err(post.covariance / d[:, None] / d, cov / d[:, None] / d) <= 1e-9


def test_singular_precision_where_cholesky_succeeds():
    """Two rows, three flat columns, one at variance 1: the issue's case, improper everywhere."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((2, 4)), rng.standard_normal(2)
    prior = np.array([np.inf, np.inf, np.inf, 1.0])
    post = gaussian.posterior(from_rows(x, y), prior, 1.0)
    assert not post.proper
    assert rel_err(post.mean, oracle(x, y, prior)[0]) <= 1e-9


def test_huge_diagonal_is_not_mistaken_for_singular():
    """One 1e30 diagonal entry beside a flat block: positive definite, so proper."""
    precision = np.array([[1e30, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    out = solve_flat(precision, np.array([1.0, 1.0, 1.0]), np.array([False, True, True]))
    assert bool(out.proper)
    np.testing.assert_allclose(precision @ out.mean, [1.0, 1.0, 1.0], rtol=1e-12)


def test_batch_items_get_their_own_verdict(rng):
    """Replicates with different flat columns and ranks, solved together, as one at a time."""
    x = rng.standard_normal((3, 4, 5))
    x[1, :, 1] = 2.0 * x[1, :, 0]  # replicate 1 rank-deficient in its flat block
    y = rng.standard_normal((3, 4))
    prior = np.array([[np.inf, np.inf, 1.0, 1.0, 1.0]] * 2 + [[1.0, 1.0, np.inf, 0.0, 2.0]])
    stats = from_rows(x, y)
    precision, rhs, _ = gaussian._precision_system(stats, prior, 1.0)
    batch = solve_flat(precision, rhs, np.isinf(prior))
    assert batch.proper.tolist() == [True, False, True]
    for r in range(3):
        alone = solve_flat(precision[r], rhs[r], np.isinf(prior[r]))
        np.testing.assert_allclose(batch.mean[r], alone.mean, rtol=1e-13, atol=0)
        np.testing.assert_allclose(batch.covariance[r], alone.covariance, rtol=1e-13, atol=1e-300)


def test_rank_tol_is_the_users(rng):
    """cond(X) = 1e5 is full rank at the default and rank-deficient at rank_tol = 1e-9."""
    u = np.linalg.qr(rng.standard_normal((20, 3)))[0]
    x = (u * [1.0, 1e-1, 1e-5]) @ np.linalg.qr(rng.standard_normal((3, 3)))[0].T
    y = rng.standard_normal(20)
    groups = ("a", "b", "c")
    loose = BayesianLinearRegression(groups=groups, prior_variance=np.inf)
    strict = BayesianLinearRegression(groups=groups, prior_variance=np.inf, rank_tol=1e-9)
    for row, target in zip(x, y, strict=True):
        loose.learn_one(row, target)
        strict.learn_one(row, target)
    assert loose.posterior.proper
    assert not strict.posterior.proper
    with pytest.raises(ValueError, match="rank_tol"):
        BayesianLinearRegression(groups=groups, rank_tol=0.0)


def test_nig_uses_the_same_rule(rng):
    x, y = rng.standard_normal((2, 4)), rng.standard_normal(2)
    model = NormalInverseGammaRegression(groups=("a", "b", "c", "d"), prior_variance=np.inf)
    for row, target in zip(x, y, strict=True):
        model.learn_one(row, target)
    assert not model.posterior.proper
    assert rel_err(model.mean, np.linalg.pinv(x) @ y) <= 1e-9
