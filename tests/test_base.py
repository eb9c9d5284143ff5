"""The protocols of ``regretlab.base`` describe what the runners call: the package's components
conform, and a user's component written from the protocol's docstring alone runs."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from regretlab import base, environments, features, learners, policies
from regretlab.features import ActionFeatures, InteractionFeatures
from regretlab.learners import BayesianLinearRegression
from regretlab.policies import Greedy, escalation
from regretlab.simulate import Agent, run_bandit, run_prequential


def _exported(module, attribute):
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) and hasattr(obj, attribute) and obj is not base.Scheduler:
            yield obj


def test_exported_classes_have_the_protocols_methods():
    for cls in _exported(policies, "select"):
        assert callable(cls.select)
    for cls in _exported(escalation, "update"):
        assert callable(cls.update)
        assert callable(cls.clone)
    for cls in _exported(learners, "learn_one"):
        assert callable(cls.predict_one)
        assert callable(cls.clone)


def test_components_conform():
    assert isinstance(environments.LinearBandit(horizon=5, seed=0), base.BanditEnvironment)
    stream = environments.InteractionStream(horizon=5, seed=0)
    assert isinstance(stream, base.PredictionStream)
    assert isinstance(environments.MultilevelStream(horizon=5, seed=0), base.PredictionStream)
    assert isinstance(environments.AbruptChange(stream, 2, seed=1), base.PredictionStream)
    assert isinstance(features.InteractionFeatures(2), base.FeatureMap)
    assert isinstance(features.ActionFeatures(2, 3), base.FeatureMap)
    assert isinstance(BayesianLinearRegression(groups=("main",)), base.Learner)
    assert policies.Choice is base.Choice
    assert escalation.Event is base.Event


class UserBandit:
    """A bandit written from ``BanditEnvironment``'s docstring: two actions, one context."""

    n_actions = 2
    context_dim = 1
    features = ActionFeatures(1, 2)

    def __init__(self, horizon: int, n_replicates: int | None, seed: int) -> None:
        self.horizon, self.n_replicates, self.seed = horizon, n_replicates, seed

    def blocks(self, block_size=None):
        rng = np.random.default_rng(self.seed)
        lead = () if self.n_replicates is None else (self.n_replicates,)
        context = rng.uniform(-1, 1, size=(*lead, self.horizon, 1))
        means = np.concatenate([context, -context], axis=-1)
        rewards = means + rng.normal(size=means.shape)
        size = block_size or self.horizon
        for lo in range(0, self.horizon, size):
            part = (..., slice(lo, lo + size), slice(None))
            yield environments.BanditStep(context[part], rewards[part], means[part])


class UserStream:
    """A prediction stream written from ``PredictionStream``'s docstring."""

    features = InteractionFeatures(1, pairwise=False)

    def __init__(self, horizon: int, n_replicates: int | None) -> None:
        self.horizon, self.n_replicates = horizon, n_replicates

    def blocks(self, block_size=None):
        rng = np.random.default_rng(0)
        lead = () if self.n_replicates is None else (self.n_replicates,)
        x = rng.uniform(-1, 1, size=(*lead, self.horizon, 1))
        mean = 1.0 + 2.0 * x[..., 0]
        yield environments.Observations(x, mean + rng.normal(size=mean.shape), mean)


@pytest.mark.parametrize("n_replicates", [None, 3])
def test_a_docstring_faithful_user_bandit_runs(n_replicates):
    env = UserBandit(horizon=30, n_replicates=n_replicates, seed=0)
    assert isinstance(env, base.BanditEnvironment)
    model = BayesianLinearRegression(groups=env.features, n_replicates=n_replicates)
    result = run_bandit(env, [Agent("greedy", model, policy=Greedy())], seed=1)
    assert result.regret["step"].max() == 30


def test_a_docstring_faithful_user_stream_runs():
    env = UserStream(horizon=20, n_replicates=2)
    assert isinstance(env, base.PredictionStream)
    model = BayesianLinearRegression(groups=env.features, n_replicates=2)
    result = run_prequential(env, [Agent("bayes", model)], checkpoints=[20])
    assert len(result.regret) == 2
