"""Bandit runs: regret definitions, common random numbers, seeds, and policies that learn."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import LinearBandit, SupervisedBandit
from regretlab.features import ActionFeatures, InteractionFeatures
from regretlab.learners import BayesianLinearRegression, DisjointBayesianLinearRegression
from regretlab.policies import (
    Choice,
    EpsilonGreedy,
    Greedy,
    LinUCB,
    Oracle,
    Random,
    ThompsonSampling,
)
from regretlab.simulate import Agent, run_bandit

R = 8


def _env(**kwargs):
    base = {
        "n_actions": 3,
        "context_dim": 2,
        "horizon": 400,
        "n_replicates": R,
        "seed": 5,
        "noise_level": 0.3,
    }
    return LinearBandit(**{**base, **kwargs})


def _disjoint(env, policy, name="agent"):
    fm = InteractionFeatures(env.context_dim, pairwise=False)
    model = DisjointBayesianLinearRegression(
        groups=fm,
        n_actions=env.n_actions,
        n_replicates=env.n_replicates,
        noise_precision=1 / 0.3**2,
    )
    return Agent(name, model, features=fm, policy=policy)


def _shared(env, policy, name="shared"):
    model = BayesianLinearRegression(
        groups=env.features, n_replicates=env.n_replicates, noise_precision=1 / 0.3**2
    )
    return Agent(name, model, policy=policy)


def _final(result, agent):
    table = result.regret
    last = table[(table.agent == agent) & (table.step == table.step.max())]
    return last.sort_values("replicate")


def test_regret_matches_a_hand_written_loop():
    env = _env()
    agent = _disjoint(env, LinUCB(alpha=1.0))
    result = run_bandit(env, [agent], seed=11, log_steps=True)
    steps = result.steps
    for r in range(R):
        mine = steps[steps.replicate == r].sort_values("step")
        pseudo = np.sum(mine.best_mean - mine.chosen_mean)
        realised = np.sum(mine.best_mean - mine.reward)
        row = _final(result, "agent").iloc[r]
        assert row.pseudo_regret == pytest.approx(pseudo, rel=1e-12)
        assert row.realised_regret == pytest.approx(realised, rel=1e-12)
    obs = env.take(env.horizon)
    first = steps[steps.step == 1].sort_values("replicate")
    chosen = obs.rewards[np.arange(R), 0, first.action.to_numpy()]
    np.testing.assert_array_equal(first.reward.to_numpy(), chosen)


def test_common_random_numbers_and_agent_independence():
    env = _env()
    a = _disjoint(env, ThompsonSampling(), "a")
    alone = run_bandit(env, [a], seed=3)
    together = run_bandit(env, [a, _shared(env, Greedy(), "other")], seed=3)
    # The first agent's generator is the first child of the seed either way.
    np.testing.assert_array_equal(
        _final(alone, "a").pseudo_regret, _final(together, "a").pseudo_regret
    )
    twice = run_bandit(
        env, [a, _disjoint(env, Oracle(), "o1"), _disjoint(env, Oracle(), "o2")], seed=3
    )
    np.testing.assert_array_equal(
        _final(twice, "o1").realised_regret, _final(twice, "o2").realised_regret
    )


def test_oracle_has_zero_pseudo_regret_and_random_is_linear():
    env = _env(horizon=2000)
    result = run_bandit(
        env,
        [Agent("oracle", policy=Oracle()), Agent("random", policy=Random())],
        seed=0,
        checkpoints=[1000, 2000],
    )
    assert np.all(_final(result, "oracle").pseudo_regret == 0.0)
    table = result.regret[result.regret.agent == "random"]
    half = table[table.step == 1000].pseudo_regret.mean()
    full = table[table.step == 2000].pseudo_regret.mean()
    # Uniform play has a constant expected gap per step: the second half costs as much as the
    # first (within 10%: 8 replicates x 1000 steps of a bounded gap).
    assert full - half == pytest.approx(half, rel=0.1)


@pytest.mark.parametrize(
    "make",
    [
        lambda env: _disjoint(env, LinUCB(alpha=1.0)),
        lambda env: _disjoint(env, ThompsonSampling()),
        lambda env: _shared(env, ThompsonSampling()),
        lambda env: _shared(env, LinUCB(alpha=1.0)),
        lambda env: _disjoint(env, EpsilonGreedy(epsilon=1.0, decay=1.0)),
    ],
    ids=["disjoint-linucb", "disjoint-ts", "shared-ts", "shared-linucb", "eps-decay"],
)
def test_learning_policies_have_sublinear_regret(make):
    """On an easy bandit the second half of the run costs far less than the first.

    Greedy is left out on purpose: with per-action models it can lock onto an action whose
    first estimate happened to be best and never try the others (linear regret).
    """
    env = _env(horizon=2000)
    agent = make(env)
    result = run_bandit(env, [agent], seed=2, checkpoints=[1000, 2000])
    table = result.regret
    half = table[table.step == 1000].pseudo_regret.mean()
    full = table[table.step == 2000].pseudo_regret.mean()
    # Linear regret would make the second half cost as much as the first; logarithmic-like
    # regret makes it a small fraction. 0.5 leaves a wide margin for 8 replicates.
    assert full - half < 0.5 * half


def test_epsilon_zero_is_greedy():
    env = _env()
    greedy = run_bandit(env, [_disjoint(env, Greedy(), "g")], seed=9, log_steps=True)
    eps = run_bandit(env, [_disjoint(env, EpsilonGreedy(epsilon=0.0), "g")], seed=9, log_steps=True)
    np.testing.assert_array_equal(greedy.steps.action, eps.steps.action)


def test_same_seed_same_result_and_single_stream():
    env = _env()
    agent = _disjoint(env, ThompsonSampling())
    a = run_bandit(env, [agent], seed=4)
    b = run_bandit(env, [agent], seed=4)
    np.testing.assert_array_equal(a.regret.pseudo_regret, b.regret.pseudo_regret)
    single = _env(n_replicates=None)
    result = run_bandit(single, [_disjoint(single, LinUCB())], seed=1)
    assert result.regret.replicate.unique().tolist() == [0]


def test_supervised_bandit_on_bundled_data_learns():
    env = SupervisedBandit.from_river("ImageSegments", n_replicates=2, seed=0, horizon=1500)
    fm = InteractionFeatures(env.context_dim, pairwise=False)
    model = DisjointBayesianLinearRegression(groups=fm, n_actions=env.n_actions, n_replicates=2)
    agents = [
        Agent("ts", model, features=fm, policy=ThompsonSampling()),
        Agent("random", policy=Random()),
    ]
    result = run_bandit(env, agents, seed=0)
    ts, rnd = (
        _final(result, "ts").pseudo_regret.mean(),
        _final(result, "random").pseudo_regret.mean(),
    )
    # Random play on 7 classes errs 6/7 of the time; a linear policy learns most classes.
    assert ts < 0.5 * rnd


class _Fixed:
    """A policy that always returns the same actions (valid or not)."""

    def __init__(self, actions):
        self.actions = actions

    def select(self, model, designs, rng, *, step, means=None):
        return Choice(np.asarray(self.actions), None)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.full(R, 3), r"lie in \[0, 3\)"),
        (np.full(R, -1), "lie in"),
        (np.zeros(2, int), "be integers of shape"),
    ],
)
def test_invalid_actions_name_the_step_and_agent(actions, message):
    env = _env()
    with pytest.raises(ValueError, match=f"step 1, agent 'bad': actions must {message}"):
        run_bandit(env, [Agent("bad", policy=_Fixed(actions))], seed=0)


def test_bad_arguments():
    env = _env()
    with pytest.raises(ValueError, match="policy"):
        run_bandit(env, [Agent("x", BayesianLinearRegression(groups=env.features, n_replicates=R))])
    with pytest.raises(TypeError, match="select"):
        Agent("x", policy=object())
    with pytest.raises(ValueError, match="checkpoints"):
        run_bandit(env, [Agent("r", policy=Random())], checkpoints=[0])
    assert isinstance(env.features, ActionFeatures)


def _trained(make):
    """A model after 30 steps of uniform play, and the designs of 30 fresh contexts."""
    env = _env(horizon=60, n_replicates=None)
    agent = make(env, Random())
    fm = agent.features or env.features
    model = agent.learner
    obs = env.take(60)
    actions = np.random.default_rng(1).integers(0, env.n_actions, size=30)
    for t, a in enumerate(actions):
        design = fm.transform(obs.context[t])
        if getattr(model, "n_actions", None) is None:
            model.learn_one(design[a], obs.rewards[t, a])
        else:
            model.learn_one(design, obs.rewards[t, a], action=a)
    return model, [fm.transform(obs.context[t]) for t in range(30, 60)]


@pytest.mark.parametrize("make", [_disjoint, _shared], ids=["disjoint", "shared"])
def test_thompson_sampling_scale_interpolates_between_greedy_and_posterior_draws(make):
    model, designs = _trained(make)
    rng = np.random.default_rng(0)
    greedy = np.array([Greedy().select(model, d, rng, step=31).actions for d in designs])
    off_greedy = {}
    for scale in (0.0, 0.25, 1.0):
        policy = ThompsonSampling(scale=scale)
        picks = np.array(
            [[policy.select(model, d, rng, step=31).actions for d in designs] for _ in range(200)]
        )
        off_greedy[scale] = np.mean(picks != greedy)
    # Scale 0 is greedy on the posterior mean; wider draws leave the greedy action more often.
    assert off_greedy[0.0] == 0.0
    assert 0.0 < off_greedy[0.25] < off_greedy[1.0]


def test_thompson_sampling_scale_is_checked():
    with pytest.raises(ValueError, match="scale"):
        ThompsonSampling(scale=-1.0)
    assert repr(ThompsonSampling(0.5)) == "ThompsonSampling(scale=0.5)"
