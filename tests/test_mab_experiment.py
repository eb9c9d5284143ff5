"""The classic multi-armed bandits in experiment files (issue 17): names in the registry, a
reward model as a nested component, resolved-file round trips and a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from regretlab.environments import MultiArmedBandit, Poisson
from regretlab.experiments import registry
from regretlab.experiments.experiment import load_experiment, parse_experiment
from regretlab.learners import GammaPoisson
from regretlab.policies import KLUCB
from regretlab.simulate import run_bandit

TEXT = """
seed = 5
horizon = 300
replicates = 4
chunk_size = 2
checkpoints = [100, 300]

[environments.counts]
type = "MultiArmedBandit"
means = [1.0, 2.0, 4.0]
reward = { type = "Poisson" }

[environments.switching]
type = "PiecewiseStationaryBandit"
means = [[0.9, 0.1], [0.1, 0.9]]
change_steps = [101]
comparator = "best_fixed"

[agents.klucb]
learner = { type = "GammaPoisson", prior_shape = 0.5 }
policy = { type = "KLUCB", family = "poisson" }

[agents.ts]
learner = { type = "GammaPoisson" }
policy = { type = "ConjugateThompsonSampling", propensity_draws = 10 }

[agents.exp3]
learner = { type = "ArmMeans" }
policy = { type = "Exp3", gamma = 0.1 }
"""


def test_every_name_is_registered():
    for role, names in {
        "environment": ("MultiArmedBandit", "PiecewiseStationaryBandit", "AdversarialBandit"),
        "noise": ("Bernoulli", "Binomial", "Poisson"),
        "learner": ("ArmMeans", "BetaBernoulli", "GammaPoisson"),
        "policy": ("UCB1", "KLUCB", "BayesUCB", "Softmax", "Exp3", "ConjugateThompsonSampling"),
    }.items():
        assert set(names) <= set(registry.names(role)), role


def test_a_file_round_trips_and_builds_what_it_says(tmp_path: Path):
    path = tmp_path / "mab.toml"
    path.write_text(TEXT)
    exp = load_experiment(path)
    assert exp.stream == "bandit"
    resolved = tmp_path / "resolved.json"
    resolved.write_text(json.dumps(exp.to_dict()))
    again = load_experiment(resolved)
    assert again == exp
    assert again.digest() == exp.digest()

    env = exp.build_environment("counts", n_replicates=4, seed=1)
    assert isinstance(env, MultiArmedBandit)
    assert env._reward == Poisson()
    assert list(env.means) == [1.0, 2.0, 4.0]
    assert env.horizon == 300
    same = exp.build_environment("counts", n_replicates=4, seed=1)
    np.testing.assert_array_equal(next(env.blocks(50)).rewards, next(same.blocks(50)).rewards)
    klucb, ts, exp3 = exp.build_agents(env, seed=2)
    assert isinstance(klucb.learner, GammaPoisson)
    assert klucb.learner.prior_shape == 0.5
    assert klucb.learner.n_actions == 3
    assert klucb.learner.n_replicates == 4
    assert isinstance(klucb.policy, KLUCB)
    assert klucb.policy.family == "poisson"
    result = run_bandit(env, [klucb, ts, exp3], seed=3, checkpoints=[300], log_steps=True)
    assert set(result.regret.agent) == {"klucb", "ts", "exp3"}
    probability = result.steps.groupby("agent").probability
    assert probability.apply(lambda p: p.between(0, 1, inclusive="right").all()).all()


def test_a_parsed_piecewise_bandit_measures_against_the_best_fixed_arm():
    exp = parse_experiment(
        {
            "seed": 1,
            "horizon": 200,
            "replicates": 2,
            "environments": {
                "s": {"type": "AdversarialBandit", "means": [[0.8, 0.4], [0.2, 0.6]]},
            },
            "agents": {"r": {"policy": {"type": "Random"}}},
        }
    )
    env = exp.build_environment("s", n_replicates=2, seed=0)
    assert list(env.change_steps) == [61]
    assert env.best_fixed_arm.shape == (2,)
