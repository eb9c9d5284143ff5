"""The prequential runner: regret definitions, common random numbers, coefficient coverage."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import InteractionStream
from regretlab.learners import (
    BayesianLinearRegression,
    NormalInverseGammaRegression,
    SGDLinearRegression,
)
from regretlab.simulate import Agent, log_checkpoints, run_prequential


def _env(**kwargs):
    base = {"x_dim": 3, "horizon": 300, "n_replicates": 5, "seed": 3, "noise_level": 0.5}
    return InteractionStream(**{**base, **kwargs})


def test_regret_matches_a_hand_written_loop():
    env = _env()
    learner = BayesianLinearRegression(groups=env.features, n_replicates=5, noise_precision=4.0)
    result = run_prequential(env, [Agent("bayes", learner)], checkpoints=[1, 17, 300])
    manual = learner.clone()
    obs = env.take(env.horizon)
    design = env.features.transform(obs.x)
    expected = np.zeros(5)
    excess = np.zeros(5)
    rows = {}
    for t in range(env.horizon):
        yhat = manual.predict_one(design[:, t])
        manual.learn_one(design[:, t], obs.y[:, t])
        expected += (yhat - obs.mean[:, t]) ** 2
        excess += (yhat - obs.y[:, t]) ** 2 - (obs.mean[:, t] - obs.y[:, t]) ** 2
        rows[t + 1] = (expected.copy(), excess.copy())
    for step in (1, 17, 300):
        got = result.regret[result.regret.step == step].sort_values("replicate")
        np.testing.assert_allclose(got.expected_regret, rows[step][0], rtol=1e-12)
        np.testing.assert_allclose(got.excess_loss, rows[step][1], rtol=1e-12)


def test_identical_agents_get_identical_regret():
    """Common random numbers: agents in a replicate see the same inputs and noise."""
    env = _env()
    learner = SGDLinearRegression(groups=env.features, n_replicates=5, learning_rate=0.05)
    result = run_prequential(env, [Agent("a", learner), Agent("b", learner)])
    a = result.regret[result.regret.agent == "a"].expected_regret.to_numpy()
    b = result.regret[result.regret.agent == "b"].expected_regret.to_numpy()
    assert np.array_equal(a, b)


def test_table_shape_and_checkpoints():
    env = _env()
    agents = [
        Agent("bayes", BayesianLinearRegression(groups=env.features, n_replicates=5)),
        Agent("nig", NormalInverseGammaRegression(groups=env.features, n_replicates=5)),
    ]
    result = run_prequential(env, agents)
    steps = log_checkpoints(300)
    assert len(result.regret) == 2 * 5 * len(steps)
    assert result.regret.step.max() == 300
    assert set(result.regret.columns) >= {
        "environment",
        "agent",
        "replicate",
        "step",
        "expected_regret",
        "excess_loss",
    }
    assert result.coefficients is None


def test_single_stream_runs():
    env = InteractionStream(x_dim=2, horizon=50, seed=0)
    result = run_prequential(env, [Agent("b", BayesianLinearRegression(groups=env.features))])
    assert result.regret.replicate.unique().tolist() == [0]


def test_credible_intervals_cover_truth_at_nominal_rate():
    """On a long stream the 95% intervals cover the true weights about 95% of the time."""
    r, noise = 200, 0.5
    env = InteractionStream(
        x_dim=6, horizon=3000, n_replicates=r, seed=11, noise_level=noise, interaction_scale=1.0
    )
    learner = BayesianLinearRegression(
        groups=env.features, n_replicates=r, noise_precision=1 / noise**2, prior_variance=10.0
    )
    result = run_prequential(
        env, [Agent("b", learner)], checkpoints=[3000], track_coefficients=True
    )
    coef = result.coefficients
    covered = (np.abs(coef.estimate - coef.truth) <= 1.959964 * coef.sd).mean()
    # 4,400 intervals (200 replicates x 22 weights); independent ones would give a standard error
    # of 0.0033 on the rate; 0.015 allows for the correlation within a replicate.
    assert covered == pytest.approx(0.95, abs=0.015)


def test_errors_name_the_step_and_agent():
    env = _env()

    class Exploding(BayesianLinearRegression):
        def learn_one(self, x, y):
            if np.atleast_1d(self.n_seen).max() >= 6:
                x = np.full_like(x, np.nan)
            return super().learn_one(x, y)

    agent = Agent("boom", Exploding(groups=env.features, n_replicates=5))
    with pytest.raises(ValueError, match=r"step 7, agent 'boom': x must be finite"):
        run_prequential(env, [agent])


def test_bad_arguments():
    env = _env()
    good = BayesianLinearRegression(groups=env.features, n_replicates=5)
    with pytest.raises(ValueError, match="unique"):
        run_prequential(env, [Agent("a", good), Agent("a", good)])
    with pytest.raises(ValueError, match="n_replicates"):
        run_prequential(env, [Agent("a", BayesianLinearRegression(groups=env.features))])
    with pytest.raises(ValueError, match="checkpoints"):
        run_prequential(env, [Agent("a", good)], checkpoints=[5, 3])
    with pytest.raises(ValueError, match="checkpoints"):
        run_prequential(env, [Agent("a", good)], checkpoints=[0, 400])
    with pytest.raises(ValueError, match="agents"):
        run_prequential(env, [])
    with pytest.raises(TypeError, match="learn_one"):
        Agent("a", object())
