"""Off-policy logs of runs with unavailable actions: the mask is logged, read back, and used.

A log records which actions could be chosen at each row (``available_<a>``); a target's
probabilities are read with that mask, so the estimators and the truth are those of the target
restricted to the available actions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regretlab.base import Choice
from regretlab.environments import ArmAppears, AvailableStep, LinearBandit
from regretlab.features import ActionFeatures
from regretlab.learners import BayesianLinearRegression
from regretlab.offpolicy import (
    IPS,
    SNIPS,
    DoublyRobust,
    MemoryLog,
    ParquetLog,
    check_availability,
    check_probabilities,
    from_frame,
    read_log,
    target_probabilities,
    to_frame,
    true_value,
)
from regretlab.policies import EpsilonGreedy, Random
from regretlab.simulate import Agent, run_bandit

R, T, K, C = 200, 120, 3, 2
FEATURES = ActionFeatures(C, K)
FIELDS = ("context", "actions", "propensity", "rewards", "means", "deterministic", "available")


def _same(a, b):
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert a.n_actions == b.n_actions


def test_an_arm_appears_run_logs_its_mask_and_reads_it_back(tmp_path):
    base = LinearBandit(n_actions=K, context_dim=C, horizon=40, n_replicates=3, seed=0)
    env = ArmAppears(base, 11, actions=(2,))

    def agents():
        model = BayesianLinearRegression(groups=env.features.groups, n_replicates=3)
        return [Agent("uniform", policy=Random()), Agent("eps", model, policy=EpsilonGreedy(0.2))]

    memory = MemoryLog()
    run_bandit(env, agents(), seed=1, log_to=memory)
    path = tmp_path / "log.parquet"
    run_bandit(env, agents(), seed=1, log_to=ParquetLog(path, block_rows=30))
    for agent in ("uniform", "eps"):
        ours = memory.logged(agent)
        assert ours.available.shape == (3, 40, K)
        assert not ours.available[:, :10, 2].any()
        assert ours.available[:, 10:].all()
        assert ours.available[..., :2].all()
        assert (ours.actions[:, :10] != 2).all()
        _same(read_log(path, agent=agent), ours)
        csv = tmp_path / f"{agent}.csv"
        to_frame(ours).to_csv(csv, index=False)
        _same(read_log(csv), ours)
    # Uniform over the available actions: 1/2 before the third action appears, 1/3 after.
    uniform = memory.logged("uniform").propensity
    np.testing.assert_allclose(uniform[:, :10], 0.5)
    np.testing.assert_allclose(uniform[:, 10:], 1 / 3)
    # A run without unavailable actions writes no mask column.
    plain = MemoryLog()
    run_bandit(base, agents(), seed=1, log_to=plain)
    assert plain.logged("uniform").available is None
    assert not any(c.startswith("available_") for c in to_frame(plain.logged("uniform")))


class MaskedTruth:
    """A linear bandit with the same weights in every replicate (as in test_offpolicy.py) whose
    steps each make every action unavailable with probability 0.4 (action 0 stays available
    when none would be): a mask that changes every step and replicate."""

    def __init__(self, weights, *, horizon, n_replicates, seed):
        self.weights = np.asarray(weights)
        self.horizon, self.n_replicates, self.seed = horizon, n_replicates, seed
        self.n_actions, self.context_dim = K, C
        self.features = FEATURES

    def blocks(self, block_size=None):
        rng = np.random.default_rng(self.seed)
        x = rng.uniform(-1, 1, (self.n_replicates, self.horizon, C))
        means = FEATURES.transform(x) @ self.weights
        noise = rng.standard_normal(means.shape)
        available = rng.random(means.shape) > 0.4
        available[..., 0] |= ~available.any(axis=-1)
        yield AvailableStep(x, means + noise, means, available)


class FixedModel:
    def __init__(self, weights):
        self.weights = np.asarray(weights)

    def predict_one(self, x):
        return np.asarray(x) @ self.weights


@pytest.fixture(scope="module")
def masked_logs():
    rng = np.random.default_rng(18)
    weights = rng.uniform(-1, 1, FEATURES.n_features)
    weights[0] = 2.0
    env = MaskedTruth(weights, horizon=T, n_replicates=R, seed=3)
    model = BayesianLinearRegression(groups=FEATURES.groups, n_replicates=R)
    agents = [
        Agent("uniform", policy=Random()),
        Agent("epsilon-greedy", model, policy=EpsilonGreedy(0.3)),
    ]
    log = MemoryLog()
    run_bandit(env, agents, seed=2, log_to=log)
    # The target: epsilon-greedy on a perturbed copy of the truth, the best action among the
    # available ones most of the time.
    target = FixedModel(weights + rng.normal(0.0, 0.5, FEATURES.n_features))
    out = {}
    for agent in agents:
        logged = log.logged(agent.name)
        pi = target_probabilities(EpsilonGreedy(0.2), logged, model=target, features=FEATURES)
        out[agent.name] = (logged, pi, true_value(logged, pi), target)
    return out


def _z(estimator, log, pi, truth) -> float:
    """Mean error over the replicates in units of its standard error."""
    error = estimator.estimate(log, pi).value - truth
    return float(error.mean() / (error.std(ddof=1) / np.sqrt(len(error))))


ESTIMATORS = {"IPS": IPS(), "SNIPS": SNIPS(), "DR": DoublyRobust()}


def test_estimators_cover_the_truth_on_logs_with_unavailable_actions(masked_logs):
    # 2 loggers x 3 estimators, each |z| <= 3: under unbiasedness a false failure has
    # probability <= 6 x 0.0027 = 1.6% (fixed seeds: it either passes or not, for good).
    bad = []
    for logger, (log, pi, truth, _) in masked_logs.items():
        assert 0.35 < (~log.available).mean() < 0.45  # the mask matters on most rows
        assert (pi[~log.available] == 0).all()
        for name, estimator in ESTIMATORS.items():
            z = _z(estimator, log, pi, truth)
            if abs(z) > 3:
                bad.append((logger, name, round(z, 2)))
    assert bad == []


def test_ignoring_the_mask_is_caught(masked_logs):
    for logger, (log, _, truth, target) in masked_logs.items():
        blind = log._replace(available=None)
        pi_blind = target_probabilities(EpsilonGreedy(0.2), blind, model=target, features=FEATURES)
        # A target read without the mask puts mass on actions that were unavailable: refused.
        with pytest.raises(ValueError, match="not available"):
            check_probabilities(pi_blind, log)
        # And estimated without it, it is another policy: far from the truth.
        for estimator in ESTIMATORS.values():
            assert abs(_z(estimator, blind, pi_blind, truth)) > 10, (logger, estimator)
        # The truth from the means over the available actions differs from the blind one.
        assert abs(true_value(blind, pi_blind).mean() - truth.mean()) > 0.05


def _frame(available):
    frame = pd.DataFrame({"action": [0, 1, 2], "propensity": 0.5, "reward": 1.0})
    for a in range(3):
        frame[f"available_{a}"] = available[:, a]
    return frame


def test_bad_masks_are_refused():
    good = np.array([[True, True, False], [False, True, True], [True, True, True]])
    assert from_frame(_frame(good)).available.tolist() == [good.tolist()]
    ints = from_frame(_frame(good.astype(int)))
    np.testing.assert_array_equal(ints.available[0], good)
    with pytest.raises(ValueError, match=r"2 availability columns .* for 3 actions"):
        from_frame(_frame(good).drop(columns="available_2"), n_actions=3)
    empty = good.copy()
    empty[1] = False
    with pytest.raises(ValueError, match=r"at least one action available .* \(0, 1\)"):
        from_frame(_frame(empty))
    unavailable = good.copy()
    unavailable[2, 2] = False
    with pytest.raises(ValueError, match=r"logged action 2 at \(replicate, row\) \(0, 2\)"):
        from_frame(_frame(unavailable))
    with pytest.raises(TypeError, match="available must hold booleans"):
        from_frame(_frame(np.where(good, 2, 0)))
    actions = np.array([[0, 1, 2]])
    with pytest.raises(ValueError, match=r"shape \(replicates, rows, n_actions\) = \(1, 3, 3\)"):
        check_availability(good, actions, 3)
    log = from_frame(_frame(good))
    with pytest.raises(ValueError, match=r"mass 0.3 on action 2 at \(replicate, row\) \(0, 0\)"):
        check_probabilities([[[0.3, 0.4, 0.3], [0.0, 0.5, 0.5], [0.2, 0.4, 0.4]]], log)


def test_step_logs_check_the_mask_they_are_given(tmp_path):
    choice = Choice(actions=np.array([0, 2]), probability=np.array([0.5, 0.5]))
    args = ("a", 1, np.zeros((2, C)), choice, np.zeros(2), np.zeros((2, K)))
    for log in (MemoryLog(), ParquetLog(tmp_path / "x.parquet")):
        with pytest.raises(ValueError, match=r"available must be booleans .* \(2, 3\)"):
            log.record(*args, available=np.ones((2, 2), bool))
    # Chosen while unavailable, or no action available: refused when the block is written.
    for mask, message in (
        ([[True, True, True], [True, True, False]], "the logged action 2 was not available"),
        ([[True, True, True], [False, False, False]], "available leaves no action available"),
    ):
        log = ParquetLog(tmp_path / "y.parquet")
        log.record(*args, available=np.array(mask))
        with pytest.raises(ValueError, match=f"step 1, agent 'a', replicate 1: {message}"):
            log.close()
    memory = MemoryLog()
    memory.record(*args, available=np.array([[True, True, True], [True, True, False]]))
    with pytest.raises(ValueError, match="was not available"):
        memory.logged("a")
    with pytest.raises(ValueError, match="at every step or at none"):
        memory.record(*args)


class _Blind:
    """A step log whose record takes no mask."""

    def record(self, agent, step, context, choice, rewards, means):
        pass

    def close(self):
        pass


def test_a_run_with_unavailable_actions_refuses_a_log_without_the_mask():
    env = ArmAppears(LinearBandit(n_actions=K, context_dim=C, horizon=5, seed=0), 3)
    with pytest.raises(TypeError, match=r"_Blind\.record takes no available= keyword"):
        run_bandit(env, [Agent("uniform", policy=Random())], log_to=_Blind())
