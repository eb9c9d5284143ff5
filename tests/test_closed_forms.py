"""Tests that catch plausible one-line bugs in the core, each against an independent oracle
(issue 20): the model-averaging mixture against the law of total variance, its draws against
its weights, the batched learners against a direct solve at 1, 8 and 64 replicates, Thompson
sampling against its Gaussian scores, and the bandit runner against a loop over ``env.take``.

Statistical checks use fixed seeds; each states its false-failure rate under a correct
implementation (what the bound would reject by chance with a fresh seed).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from regretlab._random import children
from regretlab.environments import LinearBandit
from regretlab.learners import (
    BayesianLinearRegression,
    DisjointBayesianLinearRegression,
    NormalInverseGammaRegression,
)
from regretlab.policies import Greedy, ThompsonSampling
from regretlab.policies.escalation import ModelAveraging
from regretlab.simulate import Agent, run_bandit

GROUPS = ("main", "main", "main", "pairwise", "pairwise")
GRID = (0.0, 0.05, 1.0, 20.0)


def _data(r: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, r, len(GROUPS)))
    w = np.array([1.0, -0.5, 0.3, 0.4, -0.3])
    return x, x @ w + 0.7 * rng.normal(size=(n, r))


def _direct(x: np.ndarray, y: np.ndarray, prior: np.ndarray, beta: float):
    """Posterior mean and covariance of every replicate by a dense solve (no shared code)."""
    _n, r, p = x.shape
    means, covs = [], []
    for i in range(r):
        keep = prior[i] > 0  # variance 0: the weight is exactly 0
        xi = x[:, i, keep]
        precision = np.diag(1.0 / prior[i, keep]) + beta * xi.T @ xi
        cov = np.zeros((p, p))
        cov[np.ix_(keep, keep)] = np.linalg.inv(precision)
        means.append(cov @ (beta * x[:, i].T @ y[:, i]))
        covs.append(cov)
    return np.array(means), np.array(covs)


def _log_evidence(x: np.ndarray, y: np.ndarray, prior: np.ndarray, beta: float) -> np.ndarray:
    """log N(y; 0, X V X' + I / beta) per replicate (Bishop eq. 3.86), directly."""
    n, r, _ = x.shape
    out = []
    for i in range(r):
        xi = x[:, i]
        cov = xi @ np.diag(prior[i]) @ xi.T + np.eye(n) / beta
        out.append(stats.multivariate_normal(np.zeros(n), cov).logpdf(y[:, i]))
    return np.array(out)


# -- the model-averaging mixture ----------------------------------------------------------------


@pytest.mark.parametrize("r", [1, 8, 64])
def test_model_averaging_moments_follow_the_law_of_total_variance(r):
    beta = 2.0
    x, y = _data(r, 12, seed=r)
    inner = BayesianLinearRegression(groups=GROUPS, noise_precision=beta, n_replicates=r)
    bma = ModelAveraging(learner=inner, grid=GRID)
    for xt, yt in zip(x, y, strict=True):
        bma.learn_one(xt, yt)

    log_w, means, covs = [], [], []
    for v in GRID:
        prior = np.tile([1.0, 1.0, 1.0, v, v], (r, 1))
        log_w.append(_log_evidence(x, y, prior, beta))
        m, c = _direct(x, y, prior, beta)
        means.append(m)
        covs.append(c)
    log_w = np.array(log_w)  # (G, R); the uniform prior over the grid cancels
    w = np.exp(log_w - log_w.max(axis=0))
    w /= w.sum(axis=0)
    np.testing.assert_allclose(bma.weights, w, rtol=1e-7, atol=1e-12)

    means, covs = np.array(means), np.array(covs)  # (G, R, p), (G, R, p, p)
    var = np.einsum("grii->gri", covs)
    mean = np.einsum("gr,grp->rp", w, means)
    # Law of total variance: E[Var] + Var[E], the second the spread between candidates.
    within = np.einsum("gr,grp->rp", w, var)
    between = np.einsum("gr,grp->rp", w, (means - mean) ** 2)
    np.testing.assert_allclose(bma.mean, mean, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(bma.sd, np.sqrt(within + between), rtol=1e-8, atol=1e-12)
    assert (between[:, 3:] > 0.05 * within[:, 3:]).any()  # the spread matters in this setting

    # The predictive mixture for a new row: the same law, with the noise inside every candidate.
    z = np.random.default_rng(99).normal(size=(r, len(GROUPS)))
    loc_g = np.einsum("grp,rp->gr", means, z)
    var_g = np.einsum("rp,grpq,rq->gr", z, covs, z) + 1.0 / beta
    loc = (w * loc_g).sum(axis=0)
    sd = np.sqrt((w * (var_g + loc_g**2)).sum(axis=0) - loc**2)
    got_loc, got_sd = bma.predict_one(z, return_sd=True)
    np.testing.assert_allclose(got_loc, loc, rtol=1e-8)
    np.testing.assert_allclose(got_sd, sd, rtol=1e-8)


def test_model_averaging_draws_candidates_with_their_weights():
    """Candidates 'off' (pairwise exactly 0) and 'on': a draw tells which one it came from.

    Chi-square test of 10,000 draws per replicate against the weights: false-failure rate 1e-6
    per replicate under a correct sampler; reversing the draw moves the frequencies from w to
    1 - w, which the weights here (|w - 1/2| > 0.1) make a shift of over 40 sd.
    """
    r = 6
    inner = BayesianLinearRegression(groups=GROUPS, n_replicates=r)
    bma = ModelAveraging(learner=inner, grid=(0.0, 4.0), off_weight=0.1)
    x, y = _data(r, 1, seed=5)
    for xt, yt in zip(x, y, strict=True):
        bma.learn_one(xt, yt)
    w_off = bma.weights[0]
    assert (np.abs(w_off - 0.5) > 0.1).all()
    rng = np.random.default_rng(2024)
    n = 10_000
    off = np.zeros(r)
    for _ in range(n):
        off += bma.sample(rng)[:, 3] == 0.0
    chi2 = (off - n * w_off) ** 2 / (n * w_off) + (off - n * w_off) ** 2 / (n * (1 - w_off))
    assert (stats.chi2.sf(chi2, df=1) > 1e-6).all(), (off / n, w_off)


# -- the learners at 1, 8 and 64 replicates -----------------------------------------------------


@pytest.mark.parametrize("r", [None, 1, 8, 64])
@pytest.mark.parametrize("n", [5, 20, 40])  # before, at and after absorbing 16 deferred rows
def test_bayesian_regression_matches_a_direct_solve(r, n):
    beta = 1.5
    prior = np.array([2.0, 2.0, 2.0, 0.3, 0.3])
    rr = 1 if r is None else r
    x, y = _data(rr, n, seed=n)
    model = BayesianLinearRegression(
        groups=GROUPS, prior_variance={"main": 2.0, "pairwise": 0.3}, noise_precision=beta,
        n_replicates=r,
    )  # fmt: skip
    for xt, yt in zip(x, y, strict=True):
        model.learn_one(xt[0] if r is None else xt, yt[0] if r is None else yt)
    mean, cov = _direct(x, y, np.tile(prior, (rr, 1)), beta)
    z = np.random.default_rng(n).normal(size=(rr, 3, len(GROUPS)))  # three actions' rows
    loc, sd = model.predict_one(z[0] if r is None else z, return_sd=True, include_noise=False)
    # Read before anything absorbs the pending corrections: the deferred path (R >= 8).
    want_loc = np.einsum("rkp,rp->rk", z, mean)
    want_sd = np.sqrt(np.einsum("rkp,rpq,rkq->rk", z, cov, z))
    np.testing.assert_allclose(np.reshape(loc, want_loc.shape), want_loc, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.reshape(sd, want_sd.shape), want_sd, rtol=1e-8)
    _, with_noise = model.predict_one(z[0] if r is None else z, return_sd=True)
    np.testing.assert_allclose(
        np.reshape(with_noise, want_sd.shape), np.sqrt(want_sd**2 + 1 / beta), rtol=1e-8
    )
    np.testing.assert_allclose(np.reshape(model.mean, mean.shape), mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.reshape(model.covariance, cov.shape), cov, atol=1e-12)


@pytest.mark.parametrize("r", [8, 64])
def test_learned_noise_batches_match_single_streams(r):
    """Replicate i of a batched model equals a one-stream model on replicate i's data."""
    x, y = _data(r, 25, seed=r)
    batched = NormalInverseGammaRegression(groups=GROUPS, n_replicates=r)
    singles = [NormalInverseGammaRegression(groups=GROUPS) for _ in range(r)]
    z = np.random.default_rng(1).normal(size=(r, len(GROUPS)))
    for t, (xt, yt) in enumerate(zip(x, y, strict=True)):
        batched.learn_one(xt, yt)
        for i, single in enumerate(singles):
            single.learn_one(xt[i], yt[i])
        if t in (6, 24):  # with deferred corrections pending
            loc, sd = batched.predict_one(z, return_sd=True, include_noise=False)
            for i, single in enumerate(singles):
                s_loc, s_sd = single.predict_one(z[i], return_sd=True, include_noise=False)
                assert loc[i] == pytest.approx(s_loc, rel=1e-9)
                assert sd[i] == pytest.approx(s_sd, rel=1e-8)


# -- Thompson sampling --------------------------------------------------------------------------


def _trained(r: int | None, n: int = 6) -> BayesianLinearRegression:
    rr = 1 if r is None else r
    x, y = _data(rr, n, seed=11)
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=r)
    for xt, yt in zip(x, y, strict=True):
        model.learn_one(xt[0] if r is None else xt, yt[0] if r is None else yt)
    return model


def test_posterior_draws_have_the_posterior_moments():
    """Scores x'w of 20,000 draws: mean x'm and variance x'Sx.

    The standardised mean is N(0, 1/N) and the variance ratio ~ chi2(N-1)/(N-1): bounds at
    5 sd, false-failure rate below 1e-5 for the pair.
    """
    model = _trained(None)
    rng = np.random.default_rng(7)
    x = np.array([0.5, -1.0, 0.2, 1.5, 0.3])
    n = 20_000
    scores = np.array([model.sample(rng) @ x for _ in range(n)])
    loc = x @ model.mean
    var = x @ model.covariance @ x
    assert abs(scores.mean() - loc) < 5 * np.sqrt(var / n)
    assert abs(scores.var(ddof=1) / var - 1.0) < 5 * np.sqrt(2.0 / (n - 1))


@pytest.mark.parametrize("scale", [1.0, 0.3])
def test_thompson_sampling_picks_an_action_with_its_closed_form_probability(scale):
    """Two actions: P(choose 1) = Phi(d'm / (scale sqrt(d'Sd))), d = x_1 - x_0, for a shared
    model; for per-action models the difference of two independent Gaussians.

    64 replicates x 400 steps = 25,600 binomial draws per replicate set; the mean frequency is
    checked against the mean probability within 5 sd (false-failure rate below 1e-6).
    """
    r = 64
    model = _trained(r)
    rng = np.random.default_rng(3)
    designs = np.random.default_rng(4).normal(size=(r, 2, len(GROUPS)))
    d = designs[:, 1] - designs[:, 0]
    sd = np.sqrt(np.einsum("rp,rpq,rq->r", d, model.covariance, d))
    p_shared = stats.norm.cdf(np.einsum("rp,rp->r", d, model.mean) / (scale * sd))

    disjoint = DisjointBayesianLinearRegression(groups=GROUPS, n_actions=2, n_replicates=r)
    x, y = _data(r, 8, seed=12)
    for t, (xt, yt) in enumerate(zip(x, y, strict=True)):
        disjoint.learn_one(xt, yt, action=np.full(r, t % 2))
    loc_k, sd_k = disjoint.predict_one(designs, return_sd=True, include_noise=False)
    gap = (loc_k[:, 1] - loc_k[:, 0]) / (scale * np.hypot(sd_k[:, 0], sd_k[:, 1]))
    p_disjoint = stats.norm.cdf(gap)

    policy = ThompsonSampling(scale=scale)
    steps = 400
    for learner, p in ((model, p_shared), (disjoint, p_disjoint)):
        assert ((p > 0.1) & (p < 0.9)).mean() > 0.15  # informative: not all near-certain
        chosen = np.zeros(r)
        for t in range(steps):
            chosen += policy.select(learner, designs, rng, step=t + 1).actions
        n = r * steps
        se = np.sqrt((p * (1 - p)).sum() * steps) / n
        assert abs(chosen.sum() / n - p.mean()) < 5 * se
        # and replicate by replicate, within 5 sd each (64 checks: rate below 4e-5)
        assert (np.abs(chosen / steps - p) < 5 * np.sqrt(p * (1 - p) / steps) + 1e-9).all()


# -- the bandit runner against an independent loop ----------------------------------------------


@pytest.mark.parametrize("policy", [Greedy(), ThompsonSampling()], ids=repr)
def test_bandit_regret_equals_an_independent_loop_over_env_take(policy):
    r, k, horizon, seed = 4, 3, 60, 17
    checkpoints = [1, 10, 30, 60]
    make = lambda: LinearBandit(  # noqa: E731
        n_actions=k, context_dim=2, horizon=horizon, n_replicates=r, seed=5
    )
    learner = BayesianLinearRegression(groups=make().features, n_replicates=r)
    agents = [Agent("a", learner, policy=policy)]
    result = run_bandit(make(), agents, seed=seed, checkpoints=checkpoints, log_steps=True)

    env = make()
    block = env.take(horizon)  # (R, T, ...): the whole run at once, not the runner's blocks
    model = learner.clone()
    rng = np.random.default_rng(children(seed, 1)[0])
    rows = np.arange(r)
    pseudo = np.zeros(r)
    realised = np.zeros(r)
    expected, chosen, propensity = [], [], []
    for t in range(horizon):
        designs = env.features.transform(block.context[:, t])  # (R, K, p)
        choice = policy.select(model, designs, rng, step=t + 1)
        actions = choice.actions
        reward = block.rewards[rows, t, actions]
        model.learn_one(designs[rows, actions], reward)
        best = block.means[:, t].max(axis=1)
        pseudo += best - block.means[rows, t, actions]
        realised += best - reward
        chosen.append(actions)
        p = np.nan if choice.probability is None else choice.probability
        propensity.append(np.broadcast_to(p, (r,)))
        if t + 1 in checkpoints:
            expected.append((t + 1, pseudo.copy(), realised.copy()))
    table = result.regret.sort_values(["step", "replicate"])
    assert table.columns.tolist() == [
        "environment", "agent", "replicate", "step", "pseudo_regret", "realised_regret"
    ]  # fmt: skip
    assert table["step"].unique().tolist() == checkpoints
    for step, want_pseudo, want_realised in expected:
        rows_t = table[table["step"] == step]
        np.testing.assert_allclose(rows_t["pseudo_regret"], want_pseudo, rtol=1e-12)
        np.testing.assert_allclose(rows_t["realised_regret"], want_realised, rtol=1e-12)
    assert (pseudo > 0).all()  # the loop did learn something imperfectly: a real comparison
    log = result.steps.sort_values(["step", "replicate"])
    np.testing.assert_array_equal(log["action"], np.concatenate(chosen))
    np.testing.assert_array_equal(log["probability"], np.concatenate(propensity))


# -- surviving mutants of the first mutation run, killed (docs/mutation.md) ---------------------


def test_mixture_moments_survive_extreme_log_weights_and_ignore_weightless_candidates():
    from regretlab.policies.escalation._grids import _moments

    # Log evidence of thousands of observations, very different between replicates: the
    # weights are normalised per replicate, without overflow or underflow.
    log_weight = np.array([[-5000.0, 10.0], [-5001.0, 2000.0]])  # (G=2, R=2)
    loc = np.array([[1.0, 1.0], [3.0, 3.0]])
    sd = np.array([[1.0, 1.0], [1.0, 1.0]])
    mean, spread = _moments(log_weight, loc, sd)
    w = 1.0 / (1.0 + np.exp(-1.0))  # replicate 0: weights e^0 : e^-1
    np.testing.assert_allclose(mean, [w * 1 + (1 - w) * 3, 3.0])
    np.testing.assert_allclose(spread, [np.sqrt(1 + 4 * w * (1 - w)), 1.0])
    # A candidate of weight exactly 0 with an infinite sd (learned noise before the data
    # bound it) adds nothing.
    mean, spread = _moments(np.array([[0.0], [-np.inf]]), np.array([[2.0], [0.0]]),
                            np.array([[0.5], [np.inf]]))  # fmt: skip
    np.testing.assert_allclose([mean[0], spread[0]], [2.0, 0.5])


@pytest.mark.parametrize("off_weight", [0.0, -0.1, 1.5])
def test_off_weight_outside_its_range_is_refused(off_weight):
    inner = BayesianLinearRegression(groups=GROUPS)
    with pytest.raises(ValueError, match=r"^off_weight must be"):
        ModelAveraging(learner=inner, grid=(0.0, 1.0), off_weight=off_weight)


def test_exploration_propensities_and_uniform_draws_cover_every_action():
    """Logged propensities (what off-policy estimators divide by) and uniform choices over all
    K actions, action 0 included. 20,000 draws over 4 actions: each share within 5 sd of 1/4
    (false-failure rate below 1e-5)."""
    from regretlab.policies import EpsilonGreedy, LinUCB, Random

    rng = np.random.default_rng(0)
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=2)
    designs = np.zeros((2, 4, len(GROUPS)))  # every action tied
    greedy = EpsilonGreedy(0.0).select(model, designs, rng, step=1)
    np.testing.assert_allclose(greedy.probability, [0.25, 0.25])
    random = Random().select(None, designs, rng, step=1)
    np.testing.assert_allclose(random.probability, [0.25, 0.25])
    n = 20_000
    counts = np.bincount(
        np.concatenate(
            [Random().select(None, designs, rng, step=1).actions for _ in range(n // 2)]
        ),
        minlength=4,
    )
    explore = np.bincount(
        np.concatenate(
            [EpsilonGreedy(1.0).select(model, designs, rng, step=1).actions for _ in range(n // 2)]
        ),
        minlength=4,
    )
    for c in (counts, explore):
        assert (np.abs(c / n - 0.25) < 5 * np.sqrt(0.25 * 0.75 / n)).all(), c
    with pytest.raises(ValueError, match=r"^alpha must be >= 0"):
        LinUCB(alpha=-1.0)
    # With a clear greedy action (3): 0.2 / 4 + 0.8 for it, 0.2 / 4 for the others.
    x = np.zeros(len(GROUPS))
    x[0] = 1.0
    model.learn_one(np.tile(x, (2, 1)), np.ones(2))
    ranked = np.zeros((2, 4, len(GROUPS)))
    ranked[:, :, 0] = np.arange(4)
    for _ in range(50):
        choice = EpsilonGreedy(0.2).select(model, ranked, rng, step=1)
        want = np.where(choice.actions == 3, 0.05 + 0.8, 0.05)
        np.testing.assert_allclose(choice.probability, want)


@pytest.mark.parametrize("r", [None, 1, 8, 64])
def test_rank_one_updates_between_reads_match_a_direct_solve(r):
    """Read after every step, so that the posterior is carried by rank-one updates (in place
    for one stream, deferred columns for 8 or more replicates) rather than re-solved."""
    beta = 1.5
    prior = np.array([2.0, 2.0, 2.0, 0.3, 0.3])
    rr = 1 if r is None else r
    x, y = _data(rr, 30, seed=3)
    model = BayesianLinearRegression(
        groups=GROUPS, prior_variance={"main": 2.0, "pairwise": 0.3}, noise_precision=beta,
        n_replicates=r, refresh_every=10_000,
    )  # fmt: skip
    z = np.random.default_rng(8).normal(size=(rr, len(GROUPS)))
    for t, (xt, yt) in enumerate(zip(x, y, strict=True)):
        model.learn_one(xt[0] if r is None else xt, yt[0] if r is None else yt)
        loc, sd = model.predict_one(z[0] if r is None else z, return_sd=True, include_noise=False)
        if t in (0, 9, 29):
            mean, cov = _direct(x[: t + 1], y[: t + 1], np.tile(prior, (rr, 1)), beta)
            want_sd = np.sqrt(np.einsum("rp,rpq,rq->r", z, cov, z))
            np.testing.assert_allclose(np.reshape(sd, (rr,)), want_sd, rtol=1e-8)
            np.testing.assert_allclose(
                np.reshape(loc, (rr,)), np.einsum("rp,rp->r", z, mean), rtol=1e-8, atol=1e-12
            )
    np.testing.assert_allclose(np.reshape(model.covariance, cov.shape), cov, atol=1e-12)


@pytest.mark.parametrize("order", ["C", "F"])
def test_the_in_place_rank_one_update_in_either_memory_order(order):
    """Sherman-Morrison: S' = S - beta S x x' S / (1 + beta x'S x), m' = m + S' x beta (y - x'm)
    written in place by BLAS, through the transpose for a C-ordered matrix."""
    from regretlab.learners import gaussian

    rng = np.random.default_rng(1)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + np.eye(5)
    mean = rng.normal(size=5)
    x, y, beta = rng.normal(size=5), 0.7, 2.0
    post = gaussian.GaussianPosterior(mean.copy(), np.array(cov, order=order), True)
    gaussian.rank_one_update(post, x, np.float64(y), beta)
    sx = cov @ x
    want_cov = cov - beta * np.outer(sx, sx) / (1 + beta * x @ sx)
    want_mean = mean + beta * (y - x @ mean) * sx / (1 + beta * x @ sx)
    np.testing.assert_allclose(post.covariance, want_cov, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(post.mean, want_mean, rtol=1e-12)
