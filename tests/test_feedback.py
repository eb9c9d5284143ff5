"""Delayed and batched feedback: options off reproduce the runners bit for bit; a reward with
delay D is first learned at step t + D (then the next batch boundary); one posterior per batch;
delays come from their own stream; bad values fail clearly."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from regretlab._random import replicate_seeds
from regretlab.environments import InteractionStream, LinearBandit
from regretlab.features import InteractionFeatures
from regretlab.learners import BayesianLinearRegression, DisjointBayesianLinearRegression
from regretlab.policies import Choice, LinUCB, Random, ThompsonSampling
from regretlab.policies.escalation import EvidenceSwitch
from regretlab.simulate import Agent, Feedback, run_bandit, run_prequential

R = 6


def _bandit_agents(env):
    fm = InteractionFeatures(env.context_dim, pairwise=False)
    disjoint = DisjointBayesianLinearRegression(
        groups=fm, n_actions=env.n_actions, n_replicates=env.n_replicates
    )
    blr = BayesianLinearRegression(groups=env.features, n_replicates=env.n_replicates)
    switched = BayesianLinearRegression(
        groups=env.features, n_replicates=env.n_replicates, prior_variance={"context:action": 0}
    )
    return [
        Agent("ts", blr, policy=ThompsonSampling()),
        Agent("ucb", blr, policy=LinUCB()),
        Agent("disjoint", disjoint, features=fm, policy=ThompsonSampling()),
        Agent(
            "switch",
            switched,
            policy=ThompsonSampling(),
            scheduler=EvidenceSwitch("context:action", every=5),
        ),
        Agent("random", policy=Random()),
    ]


@pytest.mark.parametrize("n_replicates", [None, R])
def test_immediate_feedback_reproduces_bandit_runs_bit_for_bit(n_replicates):
    env = LinearBandit(n_actions=3, context_dim=2, horizon=150, n_replicates=n_replicates, seed=2)
    plain = run_bandit(env, _bandit_agents(env), seed=9, log_steps=True)
    same = run_bandit(env, _bandit_agents(env), seed=9, log_steps=True, feedback=Feedback())
    for a, b in zip(plain, same, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    if n_replicates:
        assert len(plain.events) > 0  # the scheduler ran and its events match too
    delayed = run_bandit(env, _bandit_agents(env), seed=9, feedback=Feedback(delay=1))
    assert not delayed.regret.equals(plain.regret)  # the option does something


def test_immediate_feedback_reproduces_prequential_runs_bit_for_bit():
    env = InteractionStream(x_dim=2, horizon=120, n_replicates=R, seed=4)
    agents = [
        Agent("bayes", BayesianLinearRegression(groups=env.features, n_replicates=R)),
        Agent(
            "forget", BayesianLinearRegression(groups=env.features, n_replicates=R, forgetting=0.97)
        ),
    ]
    # A run with feedback goes step by step, so it is compared with the step-by-step run
    # (time blocking agrees with it to about 1e-12, tests/test_lockstep.py).
    plain = run_prequential(env, agents, track_coefficients=True, time_blocking=False)
    same = run_prequential(env, agents, track_coefficients=True, feedback=Feedback())
    for a, b in zip(plain, same, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


# -- when a reward is learned ----------------------------------------------------------------


class _StepStream:
    """Input of step ``t`` is ``t`` itself, so a learner can tell which step it is taught."""

    def __init__(self, horizon: int, n_replicates: int | None) -> None:
        self.horizon, self.n_replicates = horizon, n_replicates
        self.features = SimpleNamespace(transform=lambda x: x, n_features=1, groups=("main",))

    def blocks(self, block_size=None):
        steps = np.arange(1, self.horizon + 1, dtype=float)
        shape = (self.horizon,) if self.n_replicates is None else (self.n_replicates, self.horizon)
        y = np.broadcast_to(steps, shape).copy()
        yield SimpleNamespace(x=y[..., None], y=y, mean=y)


class _Recorder:
    """Records at which step (counted by ``predict_one``) each step's observation is learned."""

    def __init__(self, horizon: int, n_replicates: int | None) -> None:
        self.horizon, self.n_replicates = horizon, n_replicates
        self.now = 0
        self.learned_at = np.zeros((1 if n_replicates is None else n_replicates, horizon), int)

    def predict_one(self, x):
        self.now += 1
        return np.zeros(np.shape(x)[:-1]) if self.n_replicates else 0.0

    def learn_one(self, x, y):
        origin = np.atleast_1d(np.asarray(y)).astype(int)
        for r, s in enumerate(origin):
            if s > 0:
                assert self.learned_at[r, s - 1] == 0, "an observation was learned twice"
                self.learned_at[r, s - 1] = self.now
        return self

    def clone(self):
        return _Recorder(self.horizon, self.n_replicates)

    def get_state(self):
        return {"learned_at": self.learned_at.copy()}

    def set_state(self, state):
        self.learned_at = state["learned_at"].copy()
        return self


def _learned_at(feedback, n_replicates=R, horizon=300):
    env = _StepStream(horizon, n_replicates)
    agent = Agent("rec", _Recorder(horizon, n_replicates))
    # The runner clones; reach the clone through the scheduler hook.
    seen = {}

    class Grab:
        def update(self, model, step):
            seen["model"] = model
            return []

        def clone(self):
            return self

    agent = Agent("rec", agent.learner, scheduler=Grab())
    run_prequential(env, [agent], checkpoints=np.array([horizon]), feedback=feedback)
    return seen["model"].learned_at


def _expected(delays, batch, horizon):
    steps = np.arange(1, horizon + 1)
    due = -(-(steps + delays) // batch) * batch
    return np.where(due <= horizon, due, 0)


@pytest.mark.parametrize(("delay", "batch"), [(0, 1), (4, 1), (0, 7), (3, 5)])
@pytest.mark.parametrize("n_replicates", [None, R])
def test_fixed_delay_is_learned_at_t_plus_delay_then_the_batch_boundary(delay, batch, n_replicates):
    got = _learned_at(Feedback(delay=delay, batch_size=batch), n_replicates)
    expected = _expected(np.full(300, delay), batch, 300)
    assert (got == expected).all()


@pytest.mark.parametrize(("kind", "batch"), [("geometric", 1), ("poisson", 1), ("geometric", 4)])
def test_random_delays_per_replicate_are_learned_at_their_step(kind, batch):
    horizon, mean = 300, 6.0
    got = _learned_at(Feedback(delay=kind, mean_delay=mean, batch_size=batch, seed=11), R, horizon)
    # The delays drawn independently here: replicate r's own generator, the first block.
    for r, seed in enumerate(replicate_seeds(11, R)):
        rng = np.random.default_rng(seed)
        if kind == "poisson":
            d = rng.poisson(mean, 1024)[:horizon]
        else:
            d = rng.geometric(1 / (1 + mean), 1024)[:horizon] - 1
        assert (got[r] == _expected(d, batch, horizon)).all()
    assert len({tuple(row) for row in got}) == R  # replicates differ


def test_random_delays_have_the_stated_mean():
    # Geometric delays with mean 4 over 6 x 300 draws: sd of the mean ~ 4.5 / sqrt(1800) ~ 0.11;
    # 0.5 is about 4.7 sd (false-failure rate < 1e-5; the seed is fixed anyway).
    got = _learned_at(Feedback(delay="geometric", mean_delay=4.0, seed=3), R, 2000)[:, :300]
    delays = got - np.arange(1, 301)
    assert abs(delays.mean() - 4.0) < 0.5


def test_delays_do_not_move_the_environment_or_the_policies():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=200, n_replicates=R, seed=1)
    agents = [Agent("random", policy=Random())]
    plain = run_bandit(env, agents, seed=3, log_steps=True)
    feedback = Feedback(delay="geometric", mean_delay=5.0, batch_size=3, seed=8)
    delayed = run_bandit(env, agents, seed=3, log_steps=True, feedback=feedback)
    pd.testing.assert_frame_equal(plain.steps, delayed.steps, check_exact=True)


def test_same_feedback_seed_same_run_and_another_seed_another():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=200, n_replicates=R, seed=1)

    def run(seed):
        feedback = Feedback(delay="poisson", mean_delay=4.0, seed=seed)
        return run_bandit(env, _bandit_agents(env)[:1], seed=3, feedback=feedback).regret

    pd.testing.assert_frame_equal(run(5), run(5), check_exact=True)
    assert not run(5).equals(run(6))


# -- batches -----------------------------------------------------------------------------------


class _Watch:
    """Thompson sampling that records the posterior mean it was given and the score it drew."""

    def __init__(self):
        self.means, self.draws = [], []

    def select(self, model, designs, rng, *, step, means=None):
        self.means.append(model.mean)
        weights = model.sample(rng)
        self.draws.append(weights)
        scores = np.einsum("...kp,...p->...k", designs, weights)
        return Choice(scores.argmax(axis=-1), None)


def test_one_posterior_per_batch_and_thompson_draws_per_decision():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=60, n_replicates=R, seed=1)
    watch = _Watch()
    model = BayesianLinearRegression(groups=env.features, n_replicates=R)
    run_bandit(env, [Agent("w", model, policy=watch)], seed=0, feedback=Feedback(batch_size=10))
    means = np.stack(watch.means)  # step t is row t - 1
    for start in range(0, 60, 10):
        block = means[start : start + 10]
        assert (block == block[0]).all()  # one posterior in the batch
        if start:
            assert not (block[0] == means[start - 1]).all()  # updated at the boundary
    draws = np.stack(watch.draws)
    assert not (draws[1] == draws[0]).any()  # a fresh draw per decision


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"delay": -1}, ValueError, "delay must be >= 0, got -1"),
        ({"delay": 1.5}, TypeError, "delay must be a non-negative integer or one of"),
        ({"delay": "uniform", "mean_delay": 1.0}, ValueError, "delay must be one of"),
        ({"delay": "geometric"}, ValueError, "mean_delay is needed"),
        ({"delay": "poisson", "mean_delay": -2.0}, ValueError, "mean_delay must be >= 0"),
        ({"delay": 2, "mean_delay": 2.0}, ValueError, "mean_delay is only for a random delay"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"batch_size": 2.0}, TypeError, "batch_size must be an integer"),
        ({"seed": -3}, ValueError, "seed must be a non-negative integer"),
    ],
)
def test_bad_feedback_values_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        Feedback(**kwargs)


def test_runner_rejects_other_feedback_objects_and_stateless_learners():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=20, n_replicates=R, seed=1)
    with pytest.raises(TypeError, match="feedback must be a Feedback, got dict"):
        run_bandit(env, [Agent("r", policy=Random())], feedback={"delay": 1})

    class Stateless(_Recorder):
        get_state = None

        def clone(self):
            return Stateless(self.horizon, self.n_replicates)

    stream = _StepStream(50, R)
    feedback = Feedback(delay="geometric", mean_delay=3.0, seed=0)
    with pytest.raises(TypeError, match="need a learner with get_state"):
        run_prequential(stream, [Agent("s", Stateless(50, R))], feedback=feedback)


# -- rounds in which only some replicates learn -------------------------------------------------


def _partial_learners(r):
    from regretlab.learners import (
        ChangepointBayesianLinearRegression,
        NormalInverseGammaRegression,
        SlidingWindowBayesianLinearRegression,
    )

    groups = ("intercept", "main", "main")
    return [
        BayesianLinearRegression(groups=groups, n_replicates=r),
        BayesianLinearRegression(groups=groups, n_replicates=r, forgetting=0.9),
        NormalInverseGammaRegression(groups=groups, n_replicates=r),
        SlidingWindowBayesianLinearRegression(groups=groups, window=4, n_replicates=r),
        ChangepointBayesianLinearRegression(groups=groups, hazard=0.1, max_run=6, n_replicates=r),
        DisjointBayesianLinearRegression(groups=groups, n_actions=2, n_replicates=r),
    ]


@pytest.mark.parametrize("index", range(6))
def test_a_partial_round_teaches_exactly_the_replicates_that_are_due(index):
    from regretlab.simulate.feedback import _teach, _teach_some

    r = 4
    batched = _partial_learners(r)[index]
    singles = [_partial_learners(None)[index] for _ in range(r)]
    rng = np.random.default_rng(index)
    disjoint = getattr(batched, "n_actions", None) is not None
    for _ in range(25):
        x = np.column_stack([np.ones(r), rng.normal(size=(r, 2))])
        y = rng.normal(size=r)
        actions = rng.integers(0, 2, size=r) if disjoint else None
        mask = rng.random(r) < 0.5
        _teach_some(batched, x, y, actions, mask)
        for i in np.flatnonzero(mask):
            _teach(singles[i], x[i], y[i], None if actions is None else actions[i])
        probe = np.column_stack([np.ones(r), rng.normal(size=(r, 2))])
        together = np.asarray(batched.predict_one(probe))
        apart = np.array([m.predict_one(probe[i]) for i, m in enumerate(singles)])
        np.testing.assert_allclose(together, apart, rtol=1e-9, atol=1e-12)
