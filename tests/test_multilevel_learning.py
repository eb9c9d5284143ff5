"""Learning multilevel contributions: parity with the seed's pipeline, the sum-to-zero report,
calibrated intervals under heteroscedastic contributors, collinear designs and empirical Bayes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import BayesianRidge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from regretlab.environments import MultilevelStream
from regretlab.features import LevelFeatures, group_indices
from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression
from regretlab.multilevel import ContributorNoise, aligned_contributions, alignment_matrix
from regretlab.policies.escalation import EmpiricalBayes


@pytest.mark.parametrize(
    "kwargs",
    [
        {"contributors": "cc_01"},
        {"contributors": "cc_02"},
        {"n_contributors": [2, 3, 5, 10, 10], "contributor_sig": -1.0},
    ],
)
def test_posterior_mean_equals_bayesian_ridge(kwargs):
    env = MultilevelStream(**kwargs, horizon=3000, seed=7)
    obs = env.take(env.horizon)
    # The seed's pipeline, verbatim.
    pipe = Pipeline(
        [
            ("ohe", OneHotEncoder(sparse_output=False)),
            ("regression", BayesianRidge(fit_intercept=False)),
        ]
    ).fit(obs.x, obs.y)
    ridge = pipe[1]
    assert tuple(pipe[0].get_feature_names_out()) == env.features.names
    model = BayesianLinearRegression(
        groups=env.features, noise_precision=ridge.alpha_, prior_variance=1.0 / ridge.lambda_
    )
    design = env.features.transform(obs.x)
    model.learn_many(design, obs.y)
    # Acceptance: 1e-8. Both are exact solves of one well-conditioned system (measured 1e-12).
    np.testing.assert_allclose(model.mean, ridge.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.covariance, ridge.sigma_, rtol=0, atol=1e-8)
    online = BayesianLinearRegression(
        groups=env.features, noise_precision=ridge.alpha_, prior_variance=1.0 / ridge.lambda_
    )
    for row, y in zip(design[:500], obs.y[:500], strict=True):
        online.learn_one(row, y)
    online.learn_many(design[500:], obs.y[500:])
    np.testing.assert_allclose(online.mean, ridge.coef_, rtol=0, atol=1e-8)


# -- the sum-to-zero report --------------------------------------------------------------------
def test_alignment_is_the_seeds_and_is_identified(rng):
    fm = LevelFeatures([2, 3, 4], intercept=True, cross=[(0, 2), (1, 2)])
    matrix, labels = alignment_matrix(fm)
    w = rng.normal(size=fm.n_features)
    table = aligned_contributions(w, None, fm)
    mains = table[table.term == "main"]
    # Every level sums to zero, every cross table over rows and columns (rounding only).
    np.testing.assert_allclose(mains.groupby("level").estimate.sum(), 0.0, atol=1e-12)
    for _, group in table[table.term == "cross"].groupby("level"):
        cells = group.estimate.to_numpy().reshape(-1, 4)
        np.testing.assert_allclose(cells.sum(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(cells.sum(axis=1), 0.0, atol=1e-12)
    # The decomposition rebuilds every cell's mean exactly: it is a reparametrisation.
    cells = np.stack(np.meshgrid(range(2), range(3), range(4), indexing="ij"), -1).reshape(-1, 3)
    design = fm.transform(cells)
    est = table.estimate.to_numpy()
    grand, main = est[0], est[1:10]
    cross = est[10:]
    value = grand + main[cells[:, 0]] + main[2 + cells[:, 1]] + main[5 + cells[:, 2]]
    value += cross[cells[:, 0] * 4 + cells[:, 2]] + cross[8 + cells[:, 1] * 4 + cells[:, 2]]
    np.testing.assert_allclose(value, design @ w, atol=1e-12)
    # Directions the design cannot see (a constant moved between groups) change nothing.
    null = np.linalg.svd(design)[2][np.linalg.matrix_rank(design) :]
    np.testing.assert_allclose(matrix @ null.T, 0.0, atol=1e-12)
    assert list(labels.columns) == ["term", "level", "contributor", "name"]


def test_env_truth_is_the_alignment_of_true_weights():
    env = MultilevelStream(contributors="cc_02", baseline=4.0, horizon=5, seed=0)
    table = env.true_contributions()
    assert table.truth.tolist() == pytest.approx([4.0, 0.0, -1.0, -1.0, -1.0, 3.0])
    assert table.name.tolist() == ["grand mean", *env.features.names]


def test_intervals_are_exact_linear_transforms(rng):
    fm = LevelFeatures([3, 2])
    root = rng.normal(size=(5, 5))
    cov = root @ root.T
    mean = rng.normal(size=5)
    table = aligned_contributions(mean, cov, fm, credibility=0.9)
    # x0_1 = w1 - (w0 + w1 + w2) / 3: its variance is e'Se for that contrast.
    e = np.array([-1, 2, -1, 0, 0]) / 3
    row = table[table.name == "x0_1"].iloc[0]
    assert row.sd == pytest.approx(np.sqrt(e @ cov @ e), rel=1e-12)
    assert row.upper - row.estimate == pytest.approx(stats.norm.ppf(0.95) * row.sd, rel=1e-12)
    t_table = aligned_contributions(mean, cov, fm, credibility=0.9, dof=5.0)
    half = t_table[t_table.name == "x0_1"].iloc[0]
    scale = row.sd * np.sqrt(3 / 5)  # the t's covariance is scale^2 dof / (dof - 2)
    assert half.upper - half.estimate == pytest.approx(stats.t.ppf(0.95, 5) * scale, rel=1e-12)
    batched = aligned_contributions(np.stack([mean, mean]), np.stack([cov, cov]), fm)
    assert batched.replicate.tolist() == [0] * 6 + [1] * 6


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([0.0] * 4, None), {}, r"mean must have shape \(\.\.\., 5\)"),
        (([0.0] * 5, np.eye(4)), {}, r"covariance must have shape \(5, 5\)"),
        (([0.0] * 5, None), {"credibility": 1.0}, "credibility must be < 1"),
        (([0.0] * 5, None), {"credibility": 0.0}, "credibility must be > 0"),
        (([0.0] * 5, None), {"dof": -2.0}, "dof must be > 0"),
        (([np.nan] * 5, None), {}, "mean must be finite"),
    ],
)
def test_report_bad_inputs(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        aligned_contributions(*args, LevelFeatures([3, 2]), **kwargs)
    with pytest.raises(TypeError, match="features must be a LevelFeatures"):
        alignment_matrix([3, 2])


# -- calibration --------------------------------------------------------------------------------
def _coverage(table, truth, mask=None):
    merged = table.merge(truth, on=["replicate", "name"], suffixes=("", "_true"))
    # A level with one contributor has contribution 0 with sd 0: nothing to cover.
    merged = merged[merged.sd > 0] if mask is None else merged[mask]
    inside = (merged.lower <= merged.truth) & (merged.truth <= merged.upper)
    return inside.mean(), inside.groupby(merged.name).mean()


def test_cc_02_contributions_are_covered_at_the_nominal_rate():
    """Acceptance: cc_02, 10,000 observations, 200 replicates, 95% intervals.

    "Nominal" is per contribution and over replicates: the truth is fixed (the seed's cc_02),
    the data are redrawn, and a calibrated 95% interval covers it in 95% of replicates. The
    level means are learned online with their prior variances set by empirical Bayes.

    Tolerance: 800 intervals (4 per replicate; they are dependent since each level's sum to
    zero), binomial sd 0.008, about 0.01 allowing for the dependence: overall coverage within
    0.03 of 0.95 (3 sd). Per contribution (200 each, sd 0.015) at least 0.89 (4 sd).

    cc_02 is heteroscedastic (rows of contributor 3 have noise variance 29, the others 26),
    but mildly: one pooled noise level gives contributor 3 a theoretical coverage of 0.944. So
    the learned-noise model (NIG) and the sandwich both pass here; what fails is a known-noise
    model with the wrong noise level (the default precision 1 against a variance of 26.75).
    """
    r = 200
    env = MultilevelStream(contributors="cc_02", horizon=10_000, n_replicates=r, seed=1)
    fm = env.features
    nig = NormalInverseGammaRegression(groups=fm, n_replicates=r)
    known = BayesianLinearRegression(groups=fm, n_replicates=r)  # noise precision 1: wrong
    noise = ContributorNoise(fm, n_replicates=r)
    schedule = EmpiricalBayes(groups=fm.level_groups, every=1000)
    seen = 0
    for block in env.blocks(1000):
        design = fm.transform(block.x)
        nig.learn_many(design, block.y)
        known.learn_many(design, block.y)
        noise.learn_many(block.x, block.y)
        seen += block.y.shape[1]
        schedule.update(nig, seen)
        schedule.update(known, seen)
    truth = env.true_contributions()
    dof = 2 * nig.noise_posterior[0]
    tables = {
        "nig": aligned_contributions(nig.mean, nig.covariance, fm, dof=dof),
        "nig+sandwich": aligned_contributions(*noise.posterior(nig)[:2], fm),
        "known+sandwich": aligned_contributions(*noise.posterior(known)[:2], fm),
    }
    for name, table in tables.items():
        overall, per_name = _coverage(table, truth)
        assert abs(overall - 0.95) < 0.03, (name, overall)
        assert per_name.min() >= 0.89, (name, per_name.to_dict())
    wrong, _ = _coverage(aligned_contributions(known.mean, known.covariance, fm), truth)
    assert wrong < 0.5  # sd too small by sqrt(26.75): theoretical coverage 0.30
    # Empirical Bayes switched level 0 (one contributor, collinear with level 1) off and gave
    # level 1 about the spread of its contributors, mean(mu^2) = 3.
    assert np.median(nig.get_prior_variance("level:0")) < 0.1
    assert 1.0 < np.median(nig.get_prior_variance("level:1") * nig.noise_variance) < 10.0


def test_per_contributor_noise_restores_calibration_that_one_noise_level_loses():
    """Random settings (lognormal sigmas) are strongly heteroscedastic: with one pooled noise
    level, noisy contributors are under-covered and quiet ones over-covered; the sandwich with
    per-contributor variances covers both at the nominal rate.

    150 replicates of two levels of four contributors, 4,000 rows each: about 420 noisy and 780
    quiet intervals (binomial sd 0.011 and 0.008). Sandwich within 0.035 of 0.95 in both halves
    (about 3 sd); pooled noise below 0.925 for the noisy (measured 0.895) and above 0.965 for the
    quiet (measured 0.977).
    """
    r = 150
    env = MultilevelStream(n_contributors=[4, 4], horizon=4000, n_replicates=r, seed=0)
    obs = env.take(env.horizon)
    fm = env.features
    nig = NormalInverseGammaRegression(groups=fm, n_replicates=r).learn_many(
        fm.transform(obs.x), obs.y
    )
    noise = ContributorNoise(fm, n_replicates=r).learn_many(obs.x, obs.y)
    truth = env.true_contributions()
    main = truth[truth.term == "main"]
    rms = main.groupby(["replicate", "level"]).sd.transform(lambda s: np.sqrt((s**2).mean()))
    noisy = set(zip(main.replicate[main.sd > rms], main.name[main.sd > rms], strict=True))

    def halves(table):
        merged = table.merge(truth, on=["replicate", "name"], suffixes=("", "_true"))
        merged = merged[merged.term == "main"]
        inside = (merged.lower <= merged.truth) & (merged.truth <= merged.upper)
        loud = np.array(
            [(r, n) in noisy for r, n in zip(merged.replicate, merged.name, strict=True)]
        )
        return inside[loud].mean(), inside[~loud].mean()

    pooled = halves(
        aligned_contributions(nig.mean, nig.covariance, fm, dof=2 * nig.noise_posterior[0])
    )
    sandwich = halves(aligned_contributions(*noise.posterior(nig)[:2], fm))
    assert pooled[0] < 0.925 < 0.965 < pooled[1], pooled
    assert abs(sandwich[0] - 0.95) < 0.035, sandwich
    assert abs(sandwich[1] - 0.95) < 0.035, sandwich


# -- collinear designs ----------------------------------------------------------------------------
@pytest.mark.parametrize("prior", [1.0, 1e-30, 1e10])
def test_collinear_designs_need_no_warnings_and_give_no_nan(prior):
    """All levels plus the intercept plus a cross group: rank-deficient by construction. The
    grouped prior makes the posterior proper; nothing may warn (warnings are errors here)."""
    env = MultilevelStream(
        n_contributors=[1, 3, 4], cross_levels=[(1, 2, 1.0)], horizon=400, n_replicates=3, seed=4
    )
    fm = LevelFeatures(env.features.counts, intercept=True, cross=[(1, 2)])
    obs = env.take(env.horizon)
    design = fm.transform(obs.x)
    assert np.linalg.matrix_rank(design[0]) < fm.n_features
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        priors = {g: prior for g in group_indices(fm.groups)} | {"intercept": 1e6}
        for cls in (BayesianLinearRegression, NormalInverseGammaRegression):
            model = cls(groups=fm, n_replicates=3, prior_variance=priors)
            assert np.isfinite(model.predict_one(design[:, 0])).all()
            for t in range(50):
                model.learn_one(design[:, t], obs.y[:, t])
            model.learn_many(design[:, 50:], obs.y[:, 50:])
            EmpiricalBayes(groups=(*fm.level_groups, *fm.cross_groups), every=1).update(model, 1)
            noise = ContributorNoise(fm, n_replicates=3).learn_many(obs.x, obs.y)
            post = noise.posterior(model)
            for array in (model.mean, model.covariance, model.log_evidence(), *post[:2]):
                assert np.isfinite(array).all()
            table = aligned_contributions(model.mean, model.covariance, fm)
            assert np.isfinite(table[["estimate", "sd", "lower", "upper"]].to_numpy()).all()
            # Identified quantities agree with a fit on the full-rank (intercept-free) design.
            rmse = np.sqrt(((model.predict_one(design) - obs.mean) ** 2).mean())
            assert rmse < 1.5


def test_empirical_bayes_learns_the_random_effects_variance():
    """With many contributors per level, each level's learned prior variance is the spread of
    its contributors' means (type-II maximum likelihood of a random-effects model). At 6,000
    rows the weights are known to about 0.1, so the learned variance is the mean square of the
    25 or 40 true means to within 20% (measured within 7%).

    The grid is ten times finer than ``EmpiricalBayes``'s default: its parabola through grid
    points half a decade apart overestimates this optimum by about 20% (measured 0.83 against
    an exact 1-D optimum of 0.70), because the evidence is not symmetric in ``log v``."""
    env = MultilevelStream(
        n_contributors=[25, 40], contributor_sig=-1.0, horizon=6000, n_replicates=4, seed=3
    )
    fm = LevelFeatures(env.features.counts, intercept=True)
    model = BayesianLinearRegression(
        groups=fm,
        n_replicates=4,
        prior_variance={"intercept": 1e6},
        noise_precision=float(1.0 / np.mean(env.noise_variance)),  # pooled over replicates
    )
    schedule = EmpiricalBayes(groups=fm.level_groups, grid=np.logspace(-4, 4, 161), every=2000)
    for t, block in enumerate(env.blocks(2000), start=1):
        model.learn_many(fm.transform(block.x), block.y)
        schedule.update(model, 2000 * t)
    for level, group in zip((0, 1), fm.level_groups, strict=True):
        spread = [np.mean([mu**2 for mu, _ in c[level].values()]) for c in env.coefficients]
        np.testing.assert_allclose(model.get_prior_variance(group), spread, rtol=0.2)
