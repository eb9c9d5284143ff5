"""ContributorNoise: per-contributor noise variances and the sandwich covariance, against
brute-force formulas on the raw rows."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import MultilevelStream
from regretlab.features import LevelFeatures
from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression
from regretlab.multilevel import ContributorNoise


def _data(n=400, r=None, seed=0):
    env = MultilevelStream(
        n_contributors=[2, 3, 4], cross_levels=[(0, 2, 1.0)], horizon=n, n_replicates=r, seed=seed
    )
    fm = LevelFeatures(env.features.counts, intercept=True, cross=[(0, 2)])
    obs = env.take(n)
    return fm, obs


def _brute_force(fm, x, y, model):
    """Everything from the rows: residual regression, leverage correction and sandwich."""
    design = fm.transform(x)
    z = LevelFeatures(fm.counts).transform(x)
    m, s, beta = model.mean, model.covariance, model.noise_precision
    t = np.einsum("ij,ia,ib->jab", z, design, design)
    resid = y - design @ m
    gram = z.T @ z
    rough = np.linalg.pinv(gram) @ (z.T @ resid**2)
    v_bar = (z @ rough).mean()
    c = np.linalg.pinv(gram) @ (z.T @ resid**2 + beta * v_bar * np.einsum("ab,jba->j", s, t))
    prior = np.empty(fm.n_features)
    for group, cols in model.columns.items():
        prior[cols] = model.get_prior_variance(group)
    live = prior > 0
    precision = np.diag(np.where(live, 1 / np.where(live, prior, 1), 0.0))
    middle = beta**2 * design.T @ ((z @ c)[:, None] * design) + precision
    return c, s @ middle @ s


@pytest.mark.parametrize("prior", [{}, {"level:0x2": 0.0, "intercept": 100.0}])
def test_equals_brute_force(prior):
    fm, obs = _data()
    model = BayesianLinearRegression(groups=fm, noise_precision=0.4, prior_variance=prior)
    model.learn_many(fm.transform(obs.x), obs.y)
    noise = ContributorNoise(fm).learn_many(obs.x, obs.y)
    c, sandwich = _brute_force(fm, obs.x, obs.y, model)
    # Different summation orders of the same few hundred terms; pinv and eigh agree to ~1e-12.
    np.testing.assert_allclose(noise.variances(model), c, rtol=1e-9, atol=1e-10)
    post = noise.posterior(model)
    np.testing.assert_allclose(post.covariance, sandwich, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(post.mean, model.mean)


def test_homoscedastic_noise_at_the_models_level_gives_back_the_posterior():
    """``S (beta^2 X'VX + P) S = S`` when every row's variance is ``1 / beta``: the sandwich
    only changes the posterior where the noise differs from what the model assumed."""
    _, obs = _data()
    model = BayesianLinearRegression(groups=LevelFeatures([1, 3]), noise_precision=0.25)
    x = np.column_stack([np.zeros(len(obs.y), int), obs.x[:, 1]])
    model.learn_many(model.groups.transform(x), obs.y)
    noise = ContributorNoise(model.groups).learn_many(x, obs.y)
    # Level 0 has one contributor, in every row: c = (4, 0, 0, 0) gives v = 4 = 1 / beta.
    noise._components = lambda *_: np.array([[4.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(noise.posterior(model).covariance, model.covariance, atol=1e-14)


def test_learn_one_equals_learn_many_and_replicates_equal_single_streams():
    fm, obs = _data(n=120, r=3, seed=2)
    batched = ContributorNoise(fm, n_replicates=3).learn_many(obs.x, obs.y)
    stepped = ContributorNoise(fm, n_replicates=3)
    for t in range(120):
        stepped.learn_one(obs.x[:, t], obs.y[:, t])
    model = BayesianLinearRegression(groups=fm, n_replicates=3).learn_many(
        fm.transform(obs.x), obs.y
    )
    # Integer counts are exact; sums of y in another order agree to rounding.
    np.testing.assert_allclose(stepped.variances(model), batched.variances(model), rtol=1e-10)
    for r in range(3):
        single = ContributorNoise(fm).learn_many(obs.x[r], obs.y[r])
        alone = BayesianLinearRegression(groups=fm).learn_many(fm.transform(obs.x[r]), obs.y[r])
        np.testing.assert_allclose(
            single.posterior(alone).covariance,
            batched.posterior(model).covariance[r],
            rtol=1e-9,
            atol=1e-13,
        )


def test_nig_is_the_known_noise_model_at_its_noise_estimate():
    fm, obs = _data(n=300, r=2, seed=1)
    nig = NormalInverseGammaRegression(groups=fm, n_replicates=2, prior_variance={"level:0": 0.5})
    nig.learn_many(fm.transform(obs.x), obs.y)
    noise = ContributorNoise(fm, n_replicates=2).learn_many(obs.x, obs.y)
    for r, s2 in enumerate(nig.noise_variance):
        prior = {g: s2 * nig.get_prior_variance(g)[r] for g in fm.level_groups}
        prior |= {"intercept": s2, "level:0x2": s2}
        known = BayesianLinearRegression(
            groups=fm, noise_precision=float(1 / s2), prior_variance=prior
        )
        known.learn_many(fm.transform(obs.x[r]), obs.y[r])
        single = ContributorNoise(fm).learn_many(obs.x[r], obs.y[r])
        np.testing.assert_allclose(
            noise.posterior(nig).covariance[r], single.posterior(known).covariance, rtol=1e-9
        )


def test_recovers_the_seeds_per_contributor_noise():
    """cc_02: rows of contributor k have variance 25 + sigma_k^2 (26, 26, 26, 29). With 10,000
    rows per contributor a variance is estimated to 1.4% (sd), so 5% is 3.5 sd."""
    env = MultilevelStream(contributors="cc_02", horizon=40_000, seed=6)
    obs = env.take(env.horizon)
    model = BayesianLinearRegression(groups=env.features, noise_precision=1 / env.noise_variance)
    model.learn_many(env.features.transform(obs.x), obs.y)
    noise = ContributorNoise(env.features).learn_many(obs.x, obs.y)
    table = noise.misfit(model).set_index("name")
    expected = {"x1_0": 26.0, "x1_1": 26.0, "x1_2": 26.0, "x1_3": 29.0, "grand mean": 26.75}
    for name, value in expected.items():
        assert table.loc[name, "row_variance"] == pytest.approx(value, rel=0.05)
        assert table.loc[name, "ratio"] == pytest.approx(value / 26.75, rel=0.05)
    # The aligned variance components: contributor 3 is 2.25 above its level's average.
    assert table.loc["x1_3", "variance"] == pytest.approx(2.25, abs=1.2)
    assert table.loc["x0_0", "variance"] == 0.0


def test_bad_inputs_name_the_argument():
    fm, obs = _data(n=50)
    noise = ContributorNoise(fm)
    with pytest.raises(TypeError, match="features must be a LevelFeatures"):
        ContributorNoise([2, 3])
    with pytest.raises(ValueError, match="n_replicates must be >= 1"):
        ContributorNoise(fm, n_replicates=0)
    with pytest.raises(ValueError, match=r"indices\[\.\.\., 0\] \(level .0.\) must be in"):
        noise.learn_many(np.full((3, 3), 5), np.zeros(3))
    with pytest.raises(ValueError, match="y must be finite"):
        noise.learn_many(obs.x[:2], np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="same m"):
        noise.learn_many(obs.x[:3], np.zeros(2))
    with pytest.raises(ValueError, match=r"y must have shape \(\)"):
        noise.learn_one(obs.x[0], np.zeros(2))
    noise.learn_many(obs.x, obs.y)
    with pytest.raises(ValueError, match="feed both the same stream"):
        noise.posterior(BayesianLinearRegression(groups=fm))
    with pytest.raises(TypeError, match="model must be a BayesianLinearRegression"):
        noise.posterior(object())
    with pytest.raises(ValueError, match="model has 3 features"):
        noise.posterior(BayesianLinearRegression(groups=("a", "b", "c")))
    assert "ContributorNoise(LevelFeatures" in repr(noise)
