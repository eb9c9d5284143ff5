"""Unavailable actions (an ``available`` mask on the bandit step): no policy ever picks one,
propensities are over the available actions, regret is against the best available action, and
a run without a mask is unchanged. (Every registered policy also passes
``checks.check_policy_honours_availability`` in test_checks.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab import checks
from regretlab.base import Choice
from regretlab.environments import AbruptChange, ArmAppears, LinearBandit
from regretlab.learners import BayesianLinearRegression, BetaBernoulli
from regretlab.policies import (
    UCB1,
    ConjugateThompsonSampling,
    EpsilonGreedy,
    Exp3,
    Oracle,
    Random,
    Softmax,
    SquareCB,
    ThompsonSampling,
    inverse_gap_weights,
)
from regretlab.policies.availability import (
    check_available,
    draw_available,
    masked_probabilities,
    uniform_available,
)
from regretlab.simulate import Agent, run_bandit

R, K, T = 6, 4, 80


def _env(at_step=40):
    base = LinearBandit(n_actions=K, context_dim=2, horizon=T, n_replicates=R, seed=0)
    return ArmAppears(base, at_step, actions=(1, 3))


def _agents(env):
    def blr():
        return BayesianLinearRegression(groups=env.features, n_replicates=R)

    return [
        Agent("ts", blr(), policy=ThompsonSampling(propensity_draws=200)),
        Agent("eg", blr(), policy=EpsilonGreedy(0.5)),
        Agent("squarecb", blr(), policy=SquareCB()),
        Agent("softmax", blr(), policy=Softmax(0.5)),
        Agent("random", policy=Random()),
        Agent("oracle", policy=Oracle()),
    ]


def test_no_policy_picks_an_unavailable_action_in_a_run():
    env = _env()
    steps = run_bandit(env, _agents(env), seed=1, log_steps=True).steps
    early = steps[steps.step < 40]
    assert not early.action.isin([1, 3]).any()
    late = steps[steps.step >= 40]
    assert late.action.isin([1, 3]).any()  # once they appear they are chosen
    # Propensities of the stochastic rules are over the two available actions.
    assert (early.loc[early.agent == "random", "probability"] == 0.5).all()
    eg = early.loc[early.agent == "eg", "probability"]
    assert set(np.round(eg, 12)) <= {0.25, 0.75, 0.5}  # eps / 2, + (1 - eps) on greedy or tied


def test_regret_is_against_the_best_available_action():
    env = _env()
    result = run_bandit(env, _agents(env), seed=1, log_steps=True, checkpoints=[T])
    block = env.take(T)
    best = np.where(block.available, block.means, -np.inf).max(axis=-1)  # (R, T)
    steps = result.steps
    for agent, rows in steps.groupby("agent"):
        got = rows.pivot(index="replicate", columns="step", values="best_mean").to_numpy()
        np.testing.assert_array_equal(got, best, err_msg=agent)
    final = result.regret.set_index("agent").pseudo_regret
    np.testing.assert_array_equal(final["oracle"], 0.0)
    # Against the best of all actions, the oracle restricted to the available ones would lose.
    assert (block.means.max(axis=-1) > best).any()


def test_a_run_without_a_mask_is_unchanged_and_the_step_type_is_plain():
    base = LinearBandit(n_actions=K, context_dim=2, horizon=T, n_replicates=R, seed=0)
    env = ArmAppears(base, 1, actions=(1,))  # available from the first step: an all-True mask
    plain = run_bandit(base, _agents(base), seed=3, log_steps=True).steps
    masked = run_bandit(env, _agents(env), seed=3, log_steps=True).steps
    keep = ["agent", "replicate", "step", "action", "reward"]
    # EpsilonGreedy and Random draw their uniform action otherwise under a mask; the rest match.
    same = ~plain.agent.isin(["eg", "random"])
    np.testing.assert_array_equal(plain.loc[same, keep], masked.loc[same, keep])
    np.testing.assert_allclose(plain.probability[same], masked.probability[same])


@pytest.mark.parametrize(
    "policy", [EpsilonGreedy(0.4), Random(), Softmax(0.3), SquareCB(reward_range=(-9, 9))]
)
def test_logged_propensity_is_the_frequency_over_available_actions(policy):
    """The probability a stochastic rule logs is the frequency with which it picks the action
    (checked over 20,000 seeds at one state; binomial bound 5 sd: false failure ~1e-6)."""
    model = BayesianLinearRegression(groups=("main",) * 3)
    rng = np.random.default_rng(0)
    for _ in range(10):
        model.learn_one(rng.normal(size=3), rng.normal())
    designs = rng.normal(size=(K, 3))
    mask = np.array([True, False, True, True])
    n, counts, logged = 20_000, np.zeros(K), {}
    for seed in range(n):
        choice = policy.select(model, designs, np.random.default_rng(seed), step=9, available=mask)
        a = int(choice.actions)
        counts[a] += 1
        logged[a] = float(choice.probability)
    assert counts[1] == 0
    prob = np.zeros(K)
    prob[list(logged)] = list(logged.values())
    np.testing.assert_allclose(prob.sum(), 1.0, atol=1e-12)
    sd = np.sqrt(prob * (1 - prob) / n)
    assert np.all(np.abs(counts / n - prob) <= 5 * sd + 1e-12)


def test_closed_form_probabilities_put_no_mass_on_unavailable_arms():
    mask = np.array([[True, False, True], [False, False, True]])
    model = BetaBernoulli(n_actions=3, n_replicates=2, prior_alpha=1.0, prior_beta=1.0)
    for a, y in [(0, 1.0), (1, 0.0), (2, 1.0), (0, 0.0)]:
        model.learn_one(
            np.zeros((2, 3)), np.full(2, y), action=np.full(2, a), probability=np.full(2, 0.5)
        )
    prob = Exp3(gamma=0.3).probabilities(model, 5, mask)
    np.testing.assert_array_equal(prob[~mask], 0.0)
    np.testing.assert_allclose(prob.sum(axis=-1), 1.0, atol=1e-15)
    # The EXP3 mixture over the available arms: gamma / K_available at least on each.
    assert prob[0, 0] >= 0.3 / 2
    assert prob[1, 2] == pytest.approx(1.0)
    scores = np.array([[0.9, 0.95, 0.1], [0.2, 0.9, 0.5]])
    weights = inverse_gap_weights(scores, np.array([0, 2]), 10.0, mask)
    np.testing.assert_array_equal(weights[~mask], 0.0)
    np.testing.assert_allclose(weights[0], [1 - 1 / (2 + 8.0), 0.0, 1 / (2 + 8.0)])
    np.testing.assert_allclose(weights[1], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(masked_probabilities(np.full((2, 3), 1 / 3), mask).sum(-1), 1.0)
    np.testing.assert_array_equal(uniform_available((2, 3), mask), mask / mask.sum(-1)[:, None])


def test_index_rules_and_conjugate_ts_skip_unpulled_unavailable_arms():
    model = BetaBernoulli(n_actions=3, n_replicates=2)  # nothing pulled: every UCB1 index inf
    mask = np.array([[False, True, False], [False, False, True]])
    rng = np.random.default_rng(0)
    for policy in (UCB1(), ConjugateThompsonSampling(propensity_draws=50)):
        choice = policy.select(model, np.zeros((2, 3, 3)), rng, step=1, available=mask)
        np.testing.assert_array_equal(choice.actions, [1, 2])
        np.testing.assert_allclose(choice.probability, 1.0)


def test_draw_available_without_a_mask_is_the_plain_integer_draw():
    a = draw_available(np.random.default_rng(5), (7, 4))
    np.testing.assert_array_equal(a, np.random.default_rng(5).integers(0, 4, size=7))


class _Deaf:
    def select(self, model, designs, rng, *, step, means=None):
        return Choice(np.zeros(designs.shape[:-2], dtype=int), None)


class _Ignores(_Deaf):
    def select(self, model, designs, rng, *, step, means=None, available=None):
        return Choice(np.ones(designs.shape[:-2], dtype=int), None)  # action 1, unavailable


def test_policies_that_cannot_honour_the_mask_are_refused():
    env = _env()
    with pytest.raises(TypeError, match=r"\['deaf'\] take no available= keyword"):
        run_bandit(env, [Agent("deaf", policy=_Deaf())], seed=0)
    with pytest.raises(ValueError, match="not available at this step"):
        run_bandit(env, [Agent("ignores", policy=_Ignores())], seed=0)
    with pytest.raises(AssertionError, match="chose an unavailable action"):
        checks.check_policy_honours_availability(_Ignores())
    # Without a mask both run as before.
    base = LinearBandit(n_actions=K, context_dim=2, horizon=5, n_replicates=R, seed=0)
    run_bandit(base, [Agent("deaf", policy=_Deaf())], seed=0)


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        (np.array([1, 0, 1]), TypeError, "available must be booleans"),
        (np.ones((2, 4), dtype=bool), ValueError, "shape of the step's actions"),
        (np.array([[True, False, True], [False, False, False]]), ValueError, r"row\(s\) \[1\]"),
    ],
)
def test_bad_masks_are_named(mask, error, match):
    with pytest.raises(error, match=match):
        check_available(mask, (2, 3))


def test_the_mask_survives_an_outer_weight_change():
    env = AbruptChange(_env(), 60, seed=2)
    steps = run_bandit(env, [Agent("oracle", policy=Oracle())], seed=0, log_steps=True).steps
    assert not steps[steps.step < 40].action.isin([1, 3]).any()
