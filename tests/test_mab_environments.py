"""K-armed bandits without context (issue 17): draws through the reward models, common random
numbers, piecewise means, the best-fixed-arm comparator, and errors."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab._random import children
from regretlab.environments import (
    AdversarialBandit,
    Bernoulli,
    Gaussian,
    MultiArmedBandit,
    PiecewiseStationaryBandit,
    Poisson,
)
from regretlab.features import ArmFeatures
from regretlab.learners import ArmMeans
from regretlab.policies import UCB1, Random
from regretlab.simulate import Agent, run_bandit

MEANS = [0.1, 0.5, 0.9]


def table(env):
    """The whole run's rewards, means and comparator, ``(R, T, K)`` and ``(R, T)``."""
    blocks = list(env.blocks(7))
    return tuple(
        np.concatenate([getattr(b, f) for b in blocks], axis=1)
        for f in ("rewards", "means", "best")
    )


def test_bernoulli_arms_draw_what_the_reward_model_draws():
    env = MultiArmedBandit(MEANS, horizon=50, n_replicates=3, seed=4)
    rewards, means, best = table(env)
    for r, child in enumerate(children(4, 3)):
        rng = np.random.Generator(np.random.PCG64(child))
        expected = Bernoulli().observe(rng, np.broadcast_to(MEANS, (50, 3)))
        np.testing.assert_array_equal(rewards[r], expected)
    np.testing.assert_array_equal(means, np.broadcast_to(MEANS, (3, 50, 3)))
    np.testing.assert_array_equal(best, np.full((3, 50), 0.9))


def test_poisson_and_gaussian_arms_go_through_their_models():
    poisson = MultiArmedBandit([1.0, 4.0], reward=Poisson(), horizon=20, n_replicates=2, seed=1)
    rewards = table(poisson)[0]
    rng = np.random.Generator(np.random.PCG64(children(1, 2)[1]))
    np.testing.assert_array_equal(rewards[1], Poisson().observe(rng, np.tile([1.0, 4.0], (20, 1))))
    gauss = MultiArmedBandit([0.0, 1.0], reward=Gaussian(0.5), horizon=20, seed=2)
    rng = np.random.default_rng(2)
    expected = Gaussian(0.5).observe(rng, np.tile([0.0, 1.0], (20, 1)))
    np.testing.assert_allclose(next(gauss.blocks()).rewards, expected, rtol=0, atol=1e-15)


def test_long_run_frequencies_match_the_means():
    # 20 000 draws per arm: the standard error of a Bernoulli(0.5) frequency is 0.0035, so a
    # bound of 0.02 (5.6 standard errors) fails with probability < 1e-7.
    env = MultiArmedBandit(MEANS, horizon=20_000, seed=0)
    rewards = np.concatenate([b.rewards for b in env.blocks()])
    np.testing.assert_allclose(rewards.mean(axis=0), MEANS, atol=0.02)


def test_a_replicate_does_not_depend_on_how_many_run_beside_it():
    three = table(MultiArmedBandit(MEANS, horizon=30, n_replicates=3, seed=9))[0]
    five = table(MultiArmedBandit(MEANS, horizon=30, n_replicates=5, seed=9))[0]
    np.testing.assert_array_equal(three, five[:3])


def test_context_is_empty_and_the_design_is_one_hot():
    env = MultiArmedBandit(MEANS, horizon=5, n_replicates=2, seed=0)
    block = next(env.blocks())
    assert env.context_dim == 0
    assert block.context.shape == (2, 5, 0)
    design = env.features.transform(block.context[:, 0])
    np.testing.assert_array_equal(design, np.broadcast_to(np.eye(3), (2, 3, 3)))
    assert not design.flags.writeable
    assert ArmFeatures(3).groups == ("action",) * 3
    with pytest.raises(ValueError, match="context must have shape"):
        ArmFeatures(3).transform(np.zeros((2, 1)))


def test_agents_of_a_replicate_share_the_reward_table():
    env = MultiArmedBandit(MEANS, horizon=200, n_replicates=4, seed=3)
    rewards = table(env)[0]
    agents = [Agent("a", policy=Random()), Agent("b", policy=Random())]
    steps = run_bandit(env, agents, seed=5, log_steps=True).steps
    for _, row in steps.iterrows():
        assert row.reward == rewards[row.replicate, row.step - 1, row.action]
    # Same seeds, same run.
    again = run_bandit(env, agents, seed=5, log_steps=True).steps
    assert steps.equals(again)


def test_piecewise_means_change_at_the_stated_steps():
    env = PiecewiseStationaryBandit(
        [[0.9, 0.1], [0.1, 0.9], [0.5, 0.6]], [4, 8], horizon=10, n_replicates=2, seed=0
    )
    _, means, best = table(env)
    expected = [[0.9, 0.1]] * 3 + [[0.1, 0.9]] * 4 + [[0.5, 0.6]] * 3
    np.testing.assert_array_equal(means[1], expected)
    np.testing.assert_array_equal(best[0], np.max(expected, axis=1))
    np.testing.assert_array_equal(env.means_at(8), [[0.5, 0.6]] * 2)
    assert env.best_fixed_arm is None


def test_adversarial_regret_is_against_the_best_fixed_arm():
    env = AdversarialBandit([[0.8, 0.4], [0.2, 0.6]], [31], horizon=100, n_replicates=6, seed=1)
    _, means, best = table(env)
    totals = means.sum(axis=1)
    np.testing.assert_array_equal(env.best_fixed_arm, totals.argmax(axis=1))
    arm = env.best_fixed_arm
    np.testing.assert_array_equal(best, means[np.arange(6), :, arm])
    # Arm labels are shuffled per replicate: both orders occur among six replicates here.
    assert set(arm.tolist()) == {0, 1}
    result = run_bandit(
        env,
        [Agent("ucb", ArmMeans(n_actions=2, n_replicates=6), policy=UCB1())],
        seed=2,
        checkpoints=[100],
        log_steps=True,
    )
    steps = result.steps
    rep, t, a = (steps[c].to_numpy() for c in ("replicate", "step", "action"))
    gaps = best[rep, t - 1] - means[rep, t - 1, a]
    by_hand = np.bincount(rep, weights=gaps, minlength=6)
    np.testing.assert_allclose(result.regret.pseudo_regret, by_hand, rtol=1e-12)
    # Against the best arm of each step it would be larger: the comparator is really used.
    assert by_hand.sum() < (means.max(axis=2)[rep, t - 1] - means[rep, t - 1, a]).sum()


@pytest.mark.parametrize(
    ("make", "error", "fragment"),
    [
        (lambda: MultiArmedBandit([0.5]), ValueError, "at least K = 2"),
        (lambda: MultiArmedBandit([0.5, 1.5]), ValueError, "means must lie in [0, 1]"),
        (lambda: MultiArmedBandit([-1.0, 2.0], reward=Poisson()), ValueError, "[0, inf]"),
        (lambda: MultiArmedBandit([0.1, np.nan]), ValueError, "means must be finite"),
        (lambda: MultiArmedBandit([0.1, 0.2], reward="normal"), TypeError, "reward must be"),
        (lambda: MultiArmedBandit([[0.1, 0.2]] * 3, n_replicates=2), ValueError, "n_replicates=2"),
        (lambda: PiecewiseStationaryBandit([[0.1, 0.2]] * 2, [5, 9]), ValueError, "change_steps"),
        (lambda: PiecewiseStationaryBandit([[0.1, 0.2]] * 2, [1]), ValueError, "change_steps"),
        (lambda: PiecewiseStationaryBandit([[0.1, 0.2]] * 2, 5), TypeError, "change_steps"),
        (
            lambda: PiecewiseStationaryBandit([[0.1, 0.2]] * 2, [5], comparator="best"),
            ValueError,
            "comparator must be one of",
        ),
    ],
)
def test_bad_arms_get_a_clear_error(make, error, fragment):
    with pytest.raises(error, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        make()
