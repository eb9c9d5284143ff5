"""The bandit runner's fast paths keep what they replace: action checks, and shared-model
Thompson sampling through the kept Cholesky factor against the fresh factorisation per draw."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.base import Choice
from regretlab.environments import LinearBandit
from regretlab.learners import BayesianLinearRegression
from regretlab.policies import ThompsonSampling
from regretlab.simulate import Agent, run_bandit


class Fixed:
    """Always the same actions (to feed the runner bad ones)."""

    def __init__(self, actions: np.ndarray) -> None:
        self.actions = actions

    def select(self, model, designs, rng, *, step, means=None) -> Choice:
        return Choice(self.actions, None)


@pytest.mark.parametrize(
    "actions",
    [np.array([0, -1, 2]), np.array([0, 3, 1]), np.array([-2, 0, 0], dtype=np.int32)],
)
def test_the_runner_rejects_actions_out_of_range(actions):
    env = LinearBandit(n_actions=3, context_dim=2, horizon=5, n_replicates=3, seed=0)
    with pytest.raises(ValueError, match=r"actions must lie in \[0, 3\)"):
        run_bandit(env, [Agent("bad", policy=Fixed(actions))])


def test_actions_in_range_pass():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=5, n_replicates=3, seed=0)
    result = run_bandit(env, [Agent("ok", policy=Fixed(np.array([0, 2, 1])))])
    assert len(result.regret) > 0


class FreshFactor(BayesianLinearRegression):
    """Factorises the covariance afresh at every draw (the path before the kept factor)."""

    def _init_pending(self, n_features: int) -> None:
        super()._init_pending(n_features)
        self._sampling = None


def _shared_ts_actions(keep_factor: bool) -> tuple[np.ndarray, np.ndarray]:
    env = LinearBandit(n_actions=4, context_dim=3, horizon=300, n_replicates=10, seed=1)
    kind = BayesianLinearRegression if keep_factor else FreshFactor
    model = kind(groups=env.features, n_replicates=10)  # run_bandit trains a clone
    result = run_bandit(
        env, [Agent("ts", model, policy=ThompsonSampling())], seed=2, log_steps=True
    )
    assert result.steps is not None
    actions = result.steps["action"].to_numpy()
    return actions, result.regret["pseudo_regret"].to_numpy()


def test_shared_ts_with_the_kept_factor_takes_the_fresh_factors_actions():
    # The two differ by rounding (about 1e-13), which could flip an argmax only where two
    # sampled scores tie to that precision: the seeds' trajectories agree (3000 decisions).
    # The first 50 steps, where the draws' spread decides most, must agree exactly; later a
    # share of 99% leaves room for a rare flip on another platform's BLAS.
    kept, kept_regret = _shared_ts_actions(True)
    fresh, fresh_regret = _shared_ts_actions(False)
    np.testing.assert_array_equal(kept[:500], fresh[:500])  # step-major: 50 steps x 10
    assert np.mean(kept == fresh) >= 0.99
    if np.array_equal(kept, fresh):
        np.testing.assert_allclose(kept_regret, fresh_regret, rtol=1e-12)


def _plain_loop(env, agent, seed, horizon):
    """The agent stepped by hand as the runner did before its flat-cell gather: feature map,
    ``select``, the chosen rows by two index arrays (``rows[r, a_r]``), ``learn_one``."""
    from regretlab._random import children

    (rng_seed,) = children(seed, 1)
    rng = np.random.default_rng(rng_seed)
    learner, fm = agent.learner.clone(), agent.features or env.features
    r = env.n_replicates
    replicates = np.arange(r)
    actions, rewards = [], []
    t = 0
    for block in env.blocks():
        for i in range(block.context.shape[1]):
            t += 1
            design = fm.transform(block.context[:, i])
            rows = design if design.ndim == 3 else np.broadcast_to(
                design[:, None, :], (r, env.n_actions, design.shape[-1]))  # fmt: skip
            a = np.asarray(agent.policy.select(learner, rows, rng, step=t).actions)
            reward = block.rewards[:, i][replicates, a]
            chosen = rows[replicates, a] if design.ndim == 3 else design
            if getattr(learner, "n_actions", None) is None:
                learner.learn_one(chosen, reward)
            else:
                learner.learn_one(chosen, reward, action=a)
            actions.append(a)
            rewards.append(reward)
            if t == horizon:
                return np.concatenate(actions), np.concatenate(rewards)
    raise AssertionError("the environment ended early")


@pytest.mark.parametrize("case", ["shared", "disjoint"])
def test_run_bandit_takes_the_plain_loops_actions_and_rewards(case):
    # The runner's bookkeeping (flat-cell gathers, compiled accounting) copies numbers and
    # never changes the arithmetic: every action and reward is the same to the last bit.
    from regretlab.features import InteractionFeatures
    from regretlab.learners import DisjointBayesianLinearRegression

    r, horizon = 40, 300
    env = LinearBandit(n_actions=4, context_dim=3, horizon=horizon, n_replicates=r, seed=3)
    if case == "shared":
        agent = Agent("ts", BayesianLinearRegression(groups=env.features, n_replicates=r),
                      policy=ThompsonSampling())  # fmt: skip
    else:
        fm = InteractionFeatures(3, pairwise=False)
        model = DisjointBayesianLinearRegression(groups=fm, n_actions=4, n_replicates=r)
        agent = Agent("ts", model, fm, ThompsonSampling())
    steps = run_bandit(env, [agent], seed=4, log_steps=True, checkpoints=[horizon]).steps
    assert steps is not None
    actions, rewards = _plain_loop(env, agent, 4, horizon)
    np.testing.assert_array_equal(steps["action"].to_numpy(), actions)
    np.testing.assert_array_equal(steps["reward"].to_numpy(), rewards)
