"""Index and sampling rules of the classic multi-armed bandit (issue 17): indices against hand
computations, KL-UCB solving its equation, closed-form and Monte Carlo propensities, small
statistical checks at fixed seeds, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from regretlab.environments import MultiArmedBandit
from regretlab.learners import ArmMeans, BayesianLinearRegression, BetaBernoulli, GammaPoisson
from regretlab.policies import (
    KLUCB,
    UCB1,
    BayesUCB,
    ConjugateThompsonSampling,
    Exp3,
    Random,
    Softmax,
)
from regretlab.policies._kl import kl_divergence, kl_index
from regretlab.simulate import Agent, run_bandit


def trained(model, pulls):
    """``model`` taught ``pulls``: (arm, reward) pairs of one stream."""
    k = model.n_actions
    for arm, y in pulls:
        model.learn_one(np.zeros(k), y, action=arm)
    return model


PULLS = [(0, 1.0), (0, 0.0), (0, 1.0), (1, 1.0), (2, 0.0), (2, 0.0), (2, 1.0), (2, 0.0)]


def test_ucb1_index_by_hand():
    model = trained(ArmMeans(n_actions=3), PULLS)
    # N = 8 pulls; means 2/3, 1, 1/4; counts 3, 1, 4.
    hand = [
        2 / 3 + math.sqrt(2 * math.log(8) / 3),
        1 + math.sqrt(2 * math.log(8)),
        0.25 + math.sqrt(2 * math.log(8) / 4),
    ]
    np.testing.assert_allclose(UCB1().index(model), hand, rtol=1e-14)
    np.testing.assert_allclose(
        UCB1(alpha=0.5).index(model),
        [
            2 / 3 + 0.5 * math.sqrt(2 * math.log(8) / 3),
            1 + 0.5 * math.sqrt(2 * math.log(8)),
            0.25 + 0.5 * math.sqrt(2 * math.log(8) / 4),
        ],
        rtol=1e-14,
    )
    choice = UCB1().select(model, np.eye(3), np.random.default_rng(0), step=9)
    assert choice.actions == 1
    assert choice.probability == 1.0


def test_unpulled_arms_come_first_and_ties_are_reported():
    model = trained(ArmMeans(n_actions=4), [(2, 1.0)])
    index = UCB1().index(model)
    assert np.isinf(index[[0, 1, 3]]).all()
    assert np.isfinite(index[2])
    picks = {
        int(UCB1().select(model, np.eye(4), np.random.default_rng(s), step=2).actions)
        for s in range(40)
    }
    assert picks == {0, 1, 3}  # a uniform pick among the three tied arms
    choice = UCB1().select(model, np.eye(4), np.random.default_rng(0), step=2)
    assert choice.probability == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("family", "model", "pulls"),
    [
        ("bernoulli", ArmMeans(n_actions=3), [*PULLS, (1, 0.0)]),
        ("poisson", GammaPoisson(n_actions=3), [(0, 3.0), (1, 0.0), (2, 7.0), (2, 1.0), (0, 0.0)]),
        ("gaussian", ArmMeans(n_actions=3), [(0, -0.3), (1, 2.5), (2, 0.1), (2, 1.7), (0, 0.4)]),
    ],
)
def test_klucb_index_solves_its_equation(family, model, pulls):
    model = trained(model, pulls)
    n, mean = model.n_seen, model.reward_mean
    variance = 0.7
    index = KLUCB(family, variance=variance).index(model)
    residual = n * kl_divergence(mean, index, family, variance) - math.log(n.sum())
    np.testing.assert_array_less(np.abs(residual), 1e-9)
    assert np.all(index >= mean)
    c_index = KLUCB(family, c=3.0, variance=variance).index(model)
    level = math.log(n.sum()) + 3.0 * math.log(math.log(n.sum()))
    residual = n * kl_divergence(mean, c_index, family, variance) - level
    np.testing.assert_array_less(np.abs(residual), 1e-9)


@pytest.mark.parametrize("family", ["bernoulli", "poisson"])
def test_kl_index_on_a_grid_of_means_and_bounds(family):
    rng = np.random.default_rng(1)
    p = rng.random(20_000) if family == "bernoulli" else rng.exponential(3.0, 20_000)
    p[:50] = 0.0
    delta = np.log(rng.integers(2, 10**6, p.size)) / rng.integers(1, 10**4, p.size)
    delta[50:100] = rng.uniform(5, 40, 50)  # large bounds: Bernoulli indices within 1e-12 of 1
    q = kl_index(p, delta, family)
    assert np.all(q >= p)
    inside = q < 1 - 1e-6 if family == "bernoulli" else np.ones(p.size, bool)
    residual = np.abs(kl_divergence(p, q, family) - delta)
    np.testing.assert_array_less(residual[inside], 1e-9)
    if family == "bernoulli":
        # Near 1 the index is the root to within 1e-9: just below it the divergence is short.
        near = ~inside
        assert near.sum() > 10
        assert np.all(q[near] <= 1.0)
        assert np.all(kl_divergence(p[near], q[near] - 1e-9, family) < delta[near])
    np.testing.assert_array_equal(kl_index(np.array([1.0]), np.array([2.0]), "bernoulli"), [1.0])


def test_bayes_ucb_reads_posterior_quantiles():
    model = trained(BetaBernoulli(n_actions=3), PULLS)
    q = BayesUCB().level(9)
    assert q == pytest.approx(0.9)
    expected = stats.beta.ppf(q, model.alpha, model.beta)
    choice = BayesUCB().select(model, np.eye(3), np.random.default_rng(0), step=9)
    assert choice.actions == int(np.argmax(expected))
    # A Gaussian learner on the one-hot design: loc + z_q sd.
    gauss = BayesianLinearRegression(groups=("action",) * 3)
    for arm, y in PULLS:
        gauss.learn_one(np.eye(3)[arm], y)
    loc, sd = gauss.predict_one(np.eye(3), return_sd=True, include_noise=False)
    choice = BayesUCB().select(gauss, np.eye(3), np.random.default_rng(0), step=9)
    assert choice.actions == int(np.argmax(loc + stats.norm.ppf(q) * sd))


def test_softmax_probabilities_are_the_boltzmann_formula():
    model = trained(ArmMeans(n_actions=3, n_replicates=None), PULLS)
    prob = Softmax(temperature=0.3).probabilities(model, np.eye(3))
    weights = np.exp(model.reward_mean / 0.3)
    np.testing.assert_allclose(prob, weights / weights.sum(), rtol=1e-14)
    assert prob.sum() == pytest.approx(1.0, abs=1e-15)
    choice = Softmax(temperature=0.3).select(model, np.eye(3), np.random.default_rng(2), step=9)
    assert choice.probability == pytest.approx(prob[choice.actions], rel=1e-15)


def test_exp3_probabilities_and_gamma_rule():
    model = ArmMeans(n_actions=3)
    for arm, y, p in [(0, 1.0, 0.5), (1, 0.0, 0.25), (2, 1.0, 0.2), (0, 1.0, 0.4)]:
        model.learn_one(np.zeros(3), y, action=arm, probability=p)
    weighted = np.array([1 / 0.5 + 1 / 0.4, 0.0, 1 / 0.2])
    np.testing.assert_allclose(model.importance_weighted_sum, weighted)
    for policy, gamma in [
        (Exp3(gamma=0.3), 0.3),
        (Exp3(), min(1, math.sqrt(3 * math.log(3) / ((math.e - 1) * 50)))),
    ]:
        prob = policy.probabilities(model, step=50)
        w = np.exp(gamma / 3 * weighted)
        np.testing.assert_allclose(prob, (1 - gamma) * w / w.sum() + gamma / 3, rtol=1e-14)
        assert prob.sum() == pytest.approx(1.0, abs=1e-14)
    assert Exp3().gamma_at(1, 3) == 1.0  # the rule caps at 1: uniform at the start


def test_sampled_actions_follow_the_stated_probabilities():
    # 20 000 replicates in one step: each frequency has a standard error below 0.0036, so a
    # bound of 0.02 (5.6 standard errors) fails with probability < 1e-7 per arm.
    r = 20_000
    model = ArmMeans(n_actions=3, n_replicates=r)
    for arm, y in PULLS:
        model.learn_one(
            np.zeros((r, 3)), np.full(r, y), action=np.full(r, arm), probability=np.full(r, 0.5)
        )
    designs = np.broadcast_to(np.eye(3), (r, 3, 3))
    for policy in (Softmax(temperature=0.5), Exp3(gamma=0.2)):
        choice = policy.select(model, designs, np.random.default_rng(3), step=9)
        prob = (
            policy.probabilities(model, designs)
            if isinstance(policy, Softmax)
            else policy.probabilities(model, 9)
        )[0]
        freq = np.bincount(choice.actions, minlength=3) / r
        np.testing.assert_allclose(freq, prob, atol=0.02)
        np.testing.assert_allclose(choice.probability, prob[choice.actions], rtol=1e-14)


def exact_two_arm(a, b):
    """P(theta_0 > theta_1) for independent Beta(a[0], b[0]) and Beta(a[1], b[1])."""
    value, _ = integrate.quad(
        lambda x: stats.beta.pdf(x, a[0], b[0]) * stats.beta.cdf(x, a[1], b[1]),
        0,
        1,
        epsabs=1e-12,
    )
    return value


def test_thompson_propensities_match_the_exact_two_arm_probability():
    model = trained(BetaBernoulli(n_actions=2), [(0, 1.0), (0, 0.0), (0, 1.0), (1, 1.0), (1, 0.0)])
    exact = exact_two_arm(model.alpha, model.beta)
    policy = ConjugateThompsonSampling(propensity_draws=40_000)
    rng = np.random.default_rng(5)
    for action, target in [(0, exact), (1, 1 - exact)]:
        estimate = policy.propensity(model, np.asarray(action), rng)
        # Binomial standard error <= 0.0025; the (hits + 1) / (n + 1) bias <= 2.5e-5; a bound of
        # 0.0125 is 5 standard errors (false failure rate < 1e-6).
        assert abs(estimate - target) < 0.0125
    choice = policy.select(model, np.eye(2), rng, step=6)
    assert 0 < choice.probability <= 1
    assert ConjugateThompsonSampling().select(model, np.eye(2), rng, step=6).probability is None


def final_regret(env, agents):
    regret = run_bandit(env, agents, seed=11, checkpoints=[250, 1000, 4000]).regret
    return regret.groupby(["agent", "step"]).pseudo_regret.mean().unstack()


def test_ucb1_and_thompson_sampling_learn_a_two_arm_instance():
    # Arms 0.4 and 0.6, 100 replicates. Uniform play loses 0.1 per step (400 at T = 4000);
    # UCB1 and TS lose O(log T). Fixed seeds; the margins are several times the run-to-run
    # spread (the means over 100 replicates move by a few units between seeds).
    r = 100
    env = MultiArmedBandit([0.4, 0.6], horizon=4000, n_replicates=r, seed=7)
    agents = [
        Agent("ucb1", ArmMeans(n_actions=2, n_replicates=r), policy=UCB1()),
        Agent("klucb", ArmMeans(n_actions=2, n_replicates=r), policy=KLUCB()),
        Agent("ts", BetaBernoulli(n_actions=2, n_replicates=r), policy=ConjugateThompsonSampling()),
        Agent("random", policy=Random()),
    ]
    table = final_regret(env, agents)
    assert table.loc["random", 4000] > 350
    for name in ("ucb1", "klucb", "ts"):
        assert table.loc[name, 4000] < 0.25 * table.loc["random", 4000], name
        # Logarithmic growth: from T = 1000 to 4000 the regret grows by far less than 4x
        # (log 4000 / log 1000 = 1.2; linear growth would be 4).
        assert table.loc[name, 4000] < 1.8 * table.loc[name, 1000], name


def test_exp3_beats_uniform_play_on_an_adversarial_instance():
    from regretlab.environments import AdversarialBandit

    r = 50
    env = AdversarialBandit(horizon=4000, n_replicates=r, seed=3)
    table = final_regret(
        env,
        [
            Agent("exp3", ArmMeans(n_actions=2, n_replicates=r), policy=Exp3()),
            Agent("random", policy=Random()),
        ],
    )
    # Uniform play: 0.5 * |0.38 - 0.54| * 4000 = 320 against the best fixed arm.
    assert table.loc["random", 4000] > 280
    assert table.loc["exp3", 4000] < 0.5 * table.loc["random", 4000]


@pytest.mark.parametrize(
    ("make", "error", "fragment"),
    [
        (lambda: Softmax(temperature=0.0), ValueError, "temperature must be > 0"),
        (lambda: Softmax(temperature=-1.0), ValueError, "temperature must be > 0"),
        (lambda: Exp3(gamma=0.0), ValueError, "gamma must be > 0"),
        (lambda: Exp3(gamma=1.5), ValueError, "gamma must be <= 1"),
        (lambda: UCB1(alpha=-1.0), ValueError, "alpha must be >= 0"),
        (lambda: KLUCB("beta"), ValueError, "family must be one of"),
        (lambda: KLUCB(variance=0.0), ValueError, "variance must be > 0"),
        (lambda: ConjugateThompsonSampling(-1), ValueError, "propensity_draws must be >= 0"),
        (
            lambda: UCB1().select(
                BayesianLinearRegression(groups=("a", "a")),
                np.eye(2),
                np.random.default_rng(0),
                step=1,
            ),
            TypeError,
            "needs a per-arm learner",
        ),
        (
            lambda: ConjugateThompsonSampling().select(
                ArmMeans(n_actions=2), np.eye(2), np.random.default_rng(0), step=1
            ),
            TypeError,
            "sample_means",
        ),
    ],
)
def test_bad_settings_get_a_clear_error(make, error, fragment):
    with pytest.raises(error, match=fragment):
        make()


@pytest.mark.parametrize("compiled", [True, False])
def test_only_tied_replicates_draw_tie_break_keys(compiled, monkeypatch):
    from regretlab.learners import _arm_kernels
    from regretlab.policies.arms import _index_choice

    if not compiled:
        monkeypatch.setattr(_arm_kernels, "compiled", lambda name: None)
    index = np.array([[1.0, 3.0, 2.0], [2.0, 2.0, 0.0], [0.0, 1.0, 5.0], [4.0, 4.0, 4.0]])
    # No tie anywhere: the generator is not touched.
    rng = np.random.default_rng(3)
    choice = _index_choice(index[[0, 2]], rng)
    np.testing.assert_array_equal(choice.actions, [1, 2])
    assert rng.random() == np.random.default_rng(3).random()
    # Ties in rows 1 and 3: one key per arm for those two rows, in row order, nothing more.
    rng = np.random.default_rng(4)
    keys = np.random.default_rng(4).random((2, 3))
    choice = _index_choice(index, rng)
    assert rng.random() == np.random.default_rng(4).random(7)[-1]
    np.testing.assert_array_equal(choice.probability, [1, 1 / 2, 1, 1 / 3])
    assert choice.actions[1] == np.argmax(keys[0] * [1, 1, 0])
    assert choice.actions[3] == np.argmax(keys[1])
    # Uniform among the tied arms: 3000 picks of row 3 (each count within 5 sd of 1000).
    picks = np.concatenate(
        [_index_choice(index, np.random.default_rng(s)).actions[[3]] for s in range(3000)]
    )
    counts = np.bincount(picks, minlength=3)
    assert np.all(np.abs(counts - 1000) < 5 * math.sqrt(3000 * (1 / 3) * (2 / 3)))
