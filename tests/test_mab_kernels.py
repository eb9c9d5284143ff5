"""The classic bandits' fast paths (issue 17's throughput) change no result: the compiled
kernels (numba, optional) against the numpy code bit for bit, the environment's draws against
the reward model's, and generators reused from run to run."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab._random import children
from regretlab.environments import Bernoulli, MultiArmedBandit, PiecewiseStationaryBandit, Poisson
from regretlab.features import ArmFeatures
from regretlab.learners import (
    ArmMeans,
    BetaBernoulli,
    DiscountedBetaBernoulli,
    GammaPoisson,
    SlidingWindowArmMeans,
    _arm_kernels,
)
from regretlab.policies import KLUCB, UCB1, BayesUCB, ConjugateThompsonSampling, Exp3
from regretlab.policies.arms import _index_choice
from regretlab.simulate import Agent, run_bandit

HAS_NUMBA = _arm_kernels.compiled("first_max") is not None


@pytest.fixture
def source_kernels(monkeypatch):
    """Without numba the kernels' sources run as plain Python (the same arithmetic, slowly), so
    that a run without numba (CI's) still tests them and their wiring."""
    if not HAS_NUMBA:
        monkeypatch.setattr(_arm_kernels, "compiled", lambda name: getattr(_arm_kernels, name))


uses_kernels = pytest.mark.usefixtures("source_kernels")


@pytest.fixture
def numpy_only(monkeypatch):
    """Switch the compiled kernels off (what ``REGRETLAB_NUMBA=0`` or no numba does)."""
    monkeypatch.setattr(_arm_kernels, "compiled", lambda name: None)


def _agents(k: int, r: int) -> list[Agent]:
    return [
        Agent("ucb1", ArmMeans(n_actions=k, n_replicates=r), policy=UCB1(alpha=0.7)),
        Agent("klucb", ArmMeans(n_actions=k, n_replicates=r), policy=KLUCB("bernoulli")),
        Agent("ts", BetaBernoulli(n_actions=k, n_replicates=r), policy=ConjugateThompsonSampling()),
        Agent("bayes_ucb", BetaBernoulli(n_actions=k, n_replicates=r), policy=BayesUCB()),
        Agent("exp3", ArmMeans(n_actions=k, n_replicates=r), policy=Exp3()),
        Agent(
            "sw_ucb", SlidingWindowArmMeans(n_actions=k, n_replicates=r, window=20), policy=UCB1()
        ),
        Agent(
            "d_ts",
            DiscountedBetaBernoulli(n_actions=k, n_replicates=r, forgetting=0.95),
            policy=ConjugateThompsonSampling(propensity_draws=9),
        ),
    ]


def _run(env) -> tuple:
    result = run_bandit(env, _agents(env.n_actions, env.n_replicates), seed=3, log_steps=True)
    steps = result.steps
    return (
        result.regret["pseudo_regret"].to_numpy(),
        result.regret["realised_regret"].to_numpy(),
        steps["action"].to_numpy(),
        steps["probability"].to_numpy(),
        result.choices["count"].to_numpy(),
    )


@uses_kernels
@pytest.mark.parametrize(
    "env",
    [
        MultiArmedBandit([0.2, 0.5, 0.5, 0.6], horizon=120, n_replicates=40, seed=1),
        PiecewiseStationaryBandit(
            [[0.9, 0.1, 0.3], [0.1, 0.9, 0.3]], [60], horizon=120, n_replicates=40, seed=2
        ),
    ],
)
def test_compiled_kernels_give_numpys_results_bit_for_bit(env, monkeypatch):
    # Bernoulli rewards tie UCB1's indices often (equal counts and sums): both tie-break paths
    # are exercised. Every action, propensity and regret must be the same, to the last bit.
    fast = _run(env)
    monkeypatch.setattr(_arm_kernels, "compiled", lambda name: None)
    slow = _run(env)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


@uses_kernels
def test_tie_break_kernel_draws_as_numpy():
    rng = np.random.default_rng(0)
    index = rng.integers(0, 3, (500, 6)).astype(float)  # many ties per row
    index[7] = np.arange(6.0)  # one row without a tie
    fast = _index_choice(index, np.random.default_rng(5))
    kernels = _arm_kernels.compiled
    try:
        _arm_kernels.compiled = lambda name: None  # type: ignore[assignment]
        slow = _index_choice(index, np.random.default_rng(5))
    finally:
        _arm_kernels.compiled = kernels  # type: ignore[assignment]
    np.testing.assert_array_equal(fast.actions, slow.actions)
    np.testing.assert_array_equal(fast.probability, slow.probability)
    assert fast.actions[7] == 5
    assert fast.probability[7] == 1.0
    # The choice is among the maxima, each with probability 1 / ties.
    top = index.max(axis=1)
    np.testing.assert_array_equal(index[np.arange(500), fast.actions], top)
    np.testing.assert_array_equal(fast.probability, 1.0 / (index == top[:, None]).sum(axis=1))


@uses_kernels
@pytest.mark.parametrize("make", [ArmMeans, BetaBernoulli, GammaPoisson])
def test_fused_update_keeps_numpys_statistics(make, monkeypatch):
    rng = np.random.default_rng(1)
    r, k = 30, 4
    fast, slow = make(n_actions=k, n_replicates=r), make(n_actions=k, n_replicates=r)
    for t in range(200):
        act = rng.integers(0, k, r)
        y = (rng.random(r) < 0.3).astype(float) * (1 + (make is GammaPoisson) * 3)
        prob = None if t % 3 == 0 else rng.uniform(0.1, 1.0, r)
        fast.learn_one(np.zeros((r, k)), y, action=act, probability=prob)
        monkeypatch.setattr(_arm_kernels, "compiled", lambda name: None)
        slow.learn_one(np.zeros((r, k)), y, action=act, probability=prob)
        monkeypatch.undo()
    for name in ("n_seen", "n_total", "reward_mean", "importance_weighted_sum"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name))
    for name in ("alpha", "beta", "posterior_shape", "posterior_rate"):
        if hasattr(fast, name):
            np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name))
    # And what the statistics must be: counts and sums of what was learned.
    np.testing.assert_array_equal(fast.n_seen.sum(axis=1), np.full(r, 200.0))


def test_the_learner_rejects_bad_actions_and_probabilities_with_either_path():
    model = ArmMeans(n_actions=3, n_replicates=2)
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"action must lie in \[0, 3\)"):
        model.learn_one(x, np.zeros(2), action=np.array([0, -1]))
    with pytest.raises(ValueError, match=r"action must lie in \[0, 3\)"):
        model.learn_one(x, np.zeros(2), action=np.array([3, 0]))
    for bad in ([0.5, 0.0], [1.5, 0.5], [np.nan, 0.5]):
        with pytest.raises(ValueError, match=r"probability must be numbers in \(0, 1\]"):
            model.learn_one(x, np.zeros(2), action=np.array([0, 1]), probability=np.array(bad))
    np.testing.assert_array_equal(model.n_seen, np.zeros((2, 3)))


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize(
    ("make", "x", "y", "action", "prob", "fragment"),
    [
        (ArmMeans, [[0, np.nan, 0], [0, 0, 0]], [0, 1], [0, 1], None, "x must be finite"),
        (ArmMeans, [[0, 0, 0], [np.inf, 0, 0]], [0, 1], [0, 1], None, "x must be finite"),
        (ArmMeans, [[0, 0, 0]] * 2, [0, np.nan], [0, 1], None, "y must be finite"),
        (ArmMeans, [[0, 0, 0]] * 2, [0, 1], [0, 3], None, r"action must lie in \[0, 3\)"),
        (ArmMeans, [[0, 0, 0]] * 2, [0, 1], [0, 1], [1.0, 0.0], "probability must be"),
        (ArmMeans, [[0, 0, 0]] * 2, [0, 1], [0, 1], [np.nan, 1.0], "probability must be"),
        (ArmMeans, [[0, 0, 0]] * 2, [0, 1], [0, 1], [1.0, 1.5], "probability must be"),
        (BetaBernoulli, [[0, 0, 0]] * 2, [1, 0.5], [0, 1], None, "y must be 0 or 1"),
        (BetaBernoulli, [[0, 0, 0]] * 2, [1, -1], [0, 1], [1.0, 0.5], "y must be 0 or 1"),
        (GammaPoisson, [[0, 0, 0]] * 2, [2, 1.5], [0, 1], None, "y must be a count"),
        (GammaPoisson, [[0, 0, 0]] * 2, [-1, 1], [0, 1], None, "y must be a count"),
    ],
)
def test_a_bad_input_gets_the_numpy_paths_error_and_changes_nothing(
    make, x, y, action, prob, fragment, compiled, monkeypatch
):
    # The compiled update checks the values itself; where it finds a wrong one the numpy
    # checks name it. Replicate 0's inputs are valid: nothing of them may be learned either.
    if not compiled:
        monkeypatch.setattr(_arm_kernels, "compiled", lambda name: None)
    model = make(n_actions=3, n_replicates=2)
    model.learn_one(np.zeros((2, 3)), np.array([1.0, 0.0]), action=np.array([2, 2]))
    before = model.get_state()
    probability = None if prob is None else np.array(prob)
    with pytest.raises(ValueError, match=fragment):
        model.learn_one(np.array(x, float), np.array(y, float), action=np.array(action),
                        probability=probability)  # fmt: skip
    for key, value in model.get_state().items():
        np.testing.assert_array_equal(value, before[key])
    np.testing.assert_array_equal(model.n_total, [1.0, 1.0])


def test_bernoulli_draws_across_replicate_groups_and_segments():
    # 700 replicates x 60 steps x 3 arms: the draws are made a group of replicates at a time
    # (groups of 145 here), compared replicate-major and moved to time-major as whole rows.
    env = PiecewiseStationaryBandit(
        [[0.9, 0.1, 0.5], [0.2, 0.7, 0.4]], [25], horizon=60, n_replicates=700, seed=6
    )
    block = next(env.blocks(60))
    means = np.array([[0.9, 0.1, 0.5]] * 24 + [[0.2, 0.7, 0.4]] * 36)
    for r in (0, 144, 145, 699):
        rng = np.random.Generator(np.random.PCG64(children(6, 700)[r]))
        np.testing.assert_array_equal(block.rewards[r], Bernoulli().observe(rng, means))
    stationary = MultiArmedBandit([0.3, 0.6], horizon=40, n_replicates=300, seed=2)
    rewards = next(stationary.blocks(40)).rewards
    rng = np.random.Generator(np.random.PCG64(children(2, 300)[299]))
    np.testing.assert_array_equal(rewards[299], rng.random((40, 2)) < [0.3, 0.6])


def test_generators_are_reused_without_sharing_between_iterations():
    env = MultiArmedBandit([0.2, 0.8], reward=Poisson(), horizon=30, n_replicates=4, seed=8)
    first = [b.rewards.copy() for b in env.blocks(10)]
    # Two iterations at once, interleaved: each has its own generators.
    a, b = env.blocks(10), env.blocks(10)
    for expected in first:
        np.testing.assert_array_equal(next(a).rewards, expected)
        np.testing.assert_array_equal(next(b).rewards, expected)
    # An iteration abandoned half way leaves nothing behind for the next one.
    partial = env.blocks(10)
    next(partial)
    del partial
    np.testing.assert_array_equal(np.concatenate(list(b.rewards for b in env.blocks(10)), axis=1),
                                  np.concatenate(first, axis=1))  # fmt: skip


@uses_kernels
def test_compiled_ucb_index_rounds_as_numpy():
    rng = np.random.default_rng(2)
    model = ArmMeans(n_actions=5, n_replicates=50)
    for _ in range(300):
        model.learn_one(np.zeros((50, 5)), rng.random(50), action=rng.integers(0, 4, 50))
    fast = UCB1(alpha=0.3).index(model)  # arm 4 never pulled: infinite
    kernels = _arm_kernels.compiled
    try:
        _arm_kernels.compiled = lambda name: None  # type: ignore[assignment]
        slow = UCB1(alpha=0.3).index(model)
    finally:
        _arm_kernels.compiled = kernels  # type: ignore[assignment]
    np.testing.assert_array_equal(fast, slow)
    assert np.isinf(fast[:, 4]).all()


def test_arm_features_reuse_one_view_and_pickle_without_it():
    import pickle

    fm = ArmFeatures(4)
    rows = fm.transform(np.empty((500, 0)))
    assert fm.transform(np.empty((500, 0))) is rows
    assert not rows.flags.writeable
    np.testing.assert_array_equal(
        fm.transform(np.empty((2, 0))), np.broadcast_to(np.eye(4), (2, 4, 4))
    )
    copy = pickle.loads(pickle.dumps(fm))
    assert len(pickle.dumps(fm)) < 2000  # not the (500, 4, 4) rows
    np.testing.assert_array_equal(
        copy.transform(np.empty((3, 0))), np.broadcast_to(np.eye(4), (3, 4, 4))
    )


@uses_kernels
@pytest.mark.parametrize(
    "env",
    [
        MultiArmedBandit([0.1, 0.5, 0.5, 0.95], horizon=130, n_replicates=7, seed=4),
        MultiArmedBandit([0.3, 0.6], horizon=40, seed=5),  # one stream
        PiecewiseStationaryBandit(
            [[0.9, 0.1, 0.3], [0.1, 0.9, 0.3]], [50], horizon=110, n_replicates=5, seed=6
        ),
    ],
)
def test_compiled_bernoulli_draws_are_numpys(env, monkeypatch):
    from regretlab.learners import _pcg64_kernel

    fast = [b.rewards.copy() for b in env.blocks(33)]
    fast_again = [b.rewards.copy() for b in env.blocks(17)]  # a new iteration starts over
    monkeypatch.setattr(_pcg64_kernel, "compiled_bernoulli", lambda: None)
    slow = np.concatenate([b.rewards for b in env.blocks(33)], axis=-2)
    np.testing.assert_array_equal(np.concatenate(fast, axis=-2), slow)
    np.testing.assert_array_equal(np.concatenate(fast_again, axis=-2), slow)
    assert set(np.unique(slow)) <= {0.0, 1.0}
