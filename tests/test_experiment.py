"""Experiment files: parsing, resolution of defaults, the registry, and one clear error per file."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest

from regretlab.experiments import registry
from regretlab.experiments.experiment import (
    Experiment,
    ExperimentError,
    load_experiment,
    parse_experiment,
)

EXAMPLES = sorted((Path(__file__).parents[1] / "src" / "regretlab" / "examples").glob("*.toml"))

GOOD = """
seed = 3
horizon = 100
replicates = 4
chunk_size = 2
checkpoints = [10, 100]

[environments.stream]
type = "InteractionStream"
x_dim = 2

[agents.bayes]
learner = { type = "BayesianLinearRegression", prior_variance = { pairwise = 0.0 } }
scheduler = { type = "EvidenceSwitch", every = 5 }

[agents.sgd]
features = { type = "InteractionFeatures", pairwise = false }
learner = { type = "SGDLinearRegression", learning_rate = 0.05 }
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_examples_load_and_are_small():
    assert {p.name for p in EXAMPLES} >= {"prediction_escalation.toml", "bandit_escalation.toml"}
    for path in EXAMPLES:
        exp = load_experiment(path)
        steps = exp.horizon * exp.replicates * len(exp.environments) * len(exp.agents)
        assert steps <= 300_000, f"{path.name} should run in well under a minute"


def test_defaults_are_resolved_and_the_json_round_trips(tmp_path):
    exp = load_experiment(write(tmp_path, GOOD, "my-sweep.toml"))
    assert exp.name == "my-sweep"
    assert exp.stream == "prequential"
    assert exp.reference == "bayes"
    learner = dict(exp.agents[0].learner.params.items)
    assert learner["noise_precision"] == 1.0  # the constructor's default, written out
    scheduler = exp.agents[0].scheduler.to_python()
    assert scheduler["ladder"] == [0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]
    resolved = write(tmp_path, json.dumps(exp.to_dict()), "resolved.json")
    again = load_experiment(resolved)
    assert again == exp
    assert again.digest() == exp.digest()


def test_the_hash_follows_the_content_not_the_formatting(tmp_path):
    named = 'name = "same"\n' + GOOD
    exp = load_experiment(write(tmp_path, named, "a.toml"))
    reformatted = named.replace("x_dim = 2", "x_dim = 2   # a comment")
    assert load_experiment(write(tmp_path, reformatted, "b.toml")).digest() == exp.digest()
    changed = named.replace("learning_rate = 0.05", "learning_rate = 0.06")
    assert load_experiment(write(tmp_path, changed, "c.toml")).digest() != exp.digest()


def test_default_checkpoints_and_chunks():
    exp = parse_experiment(
        {
            "seed": 0,
            "horizon": 1000,
            "replicates": 25,
            "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
            "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}},
        }
    )
    assert exp.chunk_size == 10
    assert exp.n_chunks == 3
    assert exp.checkpoints[0] == 1
    assert exp.checkpoints[-1] == 1000
    assert isinstance(exp, Experiment)


def test_agents_are_built_for_the_environment(tmp_path):
    exp = load_experiment(write(tmp_path, GOOD))
    env = exp.build_environment("stream", n_replicates=3, seed=1)
    bayes, sgd = exp.build_agents(env, seed=2)
    assert bayes.learner.n_replicates == 3
    assert bayes.learner.n_features == env.features.n_features
    assert sgd.features.n_features == 3  # intercept and two main effects
    same = exp.build_environment("stream", n_replicates=3, seed=1)
    np.testing.assert_array_equal(env.true_weights, same.true_weights)


def test_every_registered_name_has_plain_defaults():
    for role in registry.ROLES:
        assert registry.names(role), role
        for name in registry.names(role):
            for default in registry.entry(role, name).parameters().values():
                if default is not inspect.Parameter.empty:
                    registry.freeze(default, name)  # raises on a value TOML cannot hold


def test_a_bandit_experiment():
    exp = parse_experiment(
        {
            "seed": 1,
            "horizon": 20,
            "replicates": 2,
            "environments": {
                "b": {"type": "LinearBandit", "n_actions": 3, "context_dim": 2},
                "drifting": {
                    "type": "LinearBandit",
                    "drift": [{"type": "AbruptChange", "at_step": 10}],
                },
            },
            "agents": {
                "ucb": {
                    "features": {"type": "InteractionFeatures", "pairwise": False},
                    "learner": {"type": "DisjointBayesianLinearRegression"},
                    "policy": {"type": "LinUCB", "alpha": 2.0},
                },
                "oracle": {"policy": {"type": "Oracle"}},
            },
        }
    )
    assert exp.stream == "bandit"
    env = exp.build_environment("drifting", n_replicates=2, seed=0)
    assert type(env).__name__ == "AbruptChange"


# One bad file per row: the message must name the key, the value and the allowed choices.
BAD = [
    (
        "unknown learner",
        GOOD.replace('type = "SGDLinearRegression"', 'type = "SGDRegressor"'),
        [
            "agents.sgd.learner.type",
            "'SGDRegressor'",
            "choose one of ['BayesianGLM', 'BayesianLinearRegression'",
        ],
    ),
    (
        "unknown reference agent",
        "reference = 'ols'\n" + GOOD,
        ["reference", "'ols'", "choose one of ['bayes', 'sgd']"],
    ),
    ("negative horizon", GOOD.replace("horizon = 100", "horizon = -5"), ["horizon", ">= 1", "-5"]),
    ("missing field", GOOD.replace("seed = 3\n", ""), ["missing required key 'seed'"]),
    (
        "wrong type",
        GOOD.replace("replicates = 4", 'replicates = "4"'),
        ["replicates", "integer", "'4'"],
    ),
    (
        "wrong parameter type",
        GOOD.replace("learning_rate = 0.05", 'learning_rate = "fast"'),
        ["agents.sgd.learner", "learning_rate", "'fast'"],
    ),
    (
        "unknown parameter",
        GOOD.replace("learning_rate = 0.05", "learning_rat = 0.05"),
        ["agents.sgd.learner.learning_rat", "allowed: ['average'", "'learning_rate'"],
    ),
    (
        "a size the sweep sets",
        GOOD.replace("x_dim = 2", "x_dim = 2\nn_replicates = 3"),
        ["environments.stream.n_replicates", "set by the sweep"],
    ),
    (
        "unknown environment",
        GOOD.replace('type = "InteractionStream"', 'type = "Stream"'),
        ["environments.stream.type", "'Stream'", "'InteractionStream', 'LinearBandit'"],
    ),
    (
        "scheduler group",
        GOOD.replace('type = "EvidenceSwitch"', 'type = "EvidenceSwitch", group = "pair"'),
        ["agents.bayes.scheduler", "'pair'", "['intercept', 'main', 'pairwise']"],
    ),
    (
        "policy on a stream",
        GOOD.replace("[agents.sgd]", '[agents.sgd]\npolicy = { type = "Greedy" }'),
        ["agents.sgd.policy", "no policy"],
    ),
    ("bad checkpoints", GOOD.replace("[10, 100]", "[10, 200]"), ["checkpoints", "[10, 200]"]),
    ("not TOML", GOOD.replace("seed = 3", "seed = = 3"), ["not a valid experiment file"]),
    (
        "bad value",
        GOOD.replace("x_dim = 2", "x_dim = 0"),
        ["environments.stream", "x_dim must be >= 1, got 0"],
    ),
]


@pytest.mark.parametrize(("what", "text", "fragments"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_gives_one_clear_error(tmp_path, what, text, fragments):
    path = write(tmp_path, text)
    with pytest.raises(ExperimentError) as caught:
        load_experiment(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{what}: {fragment!r} not in {message!r}"


def test_bandit_agents_need_a_policy_and_a_model():
    raw = {
        "seed": 1,
        "horizon": 20,
        "replicates": 2,
        "environments": {"b": {"type": "LinearBandit"}},
        "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}},
    }
    with pytest.raises(ExperimentError, match=r"agents.a: missing required key 'policy'"):
        parse_experiment(raw)
    raw["agents"] = {"a": {"policy": {"type": "ThompsonSampling"}}}
    with pytest.raises(ExperimentError, match=r"policy ThompsonSampling needs a model"):
        parse_experiment(raw)
    raw["environments"]["s"] = {"type": "InteractionStream"}
    with pytest.raises(ExperimentError, match="mix prediction streams and bandits"):
        parse_experiment(raw)


FILE_ONLY_PARTS = """
seed = 4
horizon = 30
replicates = 2
chunk_size = 2

[environments.stream]
type = "InteractionStream"
x_dim = 2

[agents.default]
learner = { type = "ModelAveraging.recommended" }

[agents.tied.learner]
type = "ModelAveraging"
grid = [0.0, 1.0]
other_grids = { "intercept+main" = [1.0, 10.0] }
learner = { type = "NormalInverseGammaRegression" }

[agents.ramp]
learner = { type = "BayesianLinearRegression", prior_variance = { pairwise = 0.0 } }
scheduler = { type = "DataSchedule", top = 2.0, steps = 20, every = 5 }
"""


def test_the_default_escalation_tied_groups_and_a_ramp_can_be_written_in_a_file(tmp_path):
    from regretlab.policies.escalation import ModelAveraging
    from regretlab.simulate import run_prequential

    exp = load_experiment(write(tmp_path, FILE_ONLY_PARTS))
    env = exp.build_environment("stream", n_replicates=2, seed=1)
    default, tied, ramp = exp.build_agents(env, seed=2)
    assert repr(default.learner) == repr(ModelAveraging.recommended(env.features, n_replicates=2))
    np.testing.assert_array_equal(tied.learner.candidates["intercept"], [1.0, 10.0, 1.0, 10.0])
    np.testing.assert_array_equal(tied.learner.candidates["main"], [1.0, 10.0, 1.0, 10.0])
    result = run_prequential(env, [default, tied, ramp], checkpoints=[30])
    assert np.isfinite(result.regret.expected_regret).all()
    ramped = result.events[result.events.agent == "ramp"]
    # Checked every 5 steps, rising linearly to 2 at step 20, then held.
    assert sorted(ramped.step.unique()) == [5, 10, 15, 20]
    np.testing.assert_allclose(sorted(ramped.new.unique()), [0.5, 1.0, 1.5, 2.0])


LEVELS = """
seed = 4
horizon = 30
replicates = 2

[environments.levels]
type = "MultilevelStream"
n_contributors = [2, 3]

[agents.levels]
features = { type = "LevelFeatures", intercept = true }
learner = { type = "BayesianLinearRegression" }
"""


def test_level_features_take_their_levels_from_a_multilevel_environment(tmp_path):
    exp = load_experiment(write(tmp_path, LEVELS))
    env = exp.build_environment("levels", n_replicates=2, seed=1)
    (agent,) = exp.build_agents(env, seed=2)
    assert agent.features.names == ("1", *env.features.names)
    stream = LEVELS + '[environments.stream]\ntype = "InteractionStream"\nx_dim = 2\n'
    with pytest.raises(ExperimentError, match="LevelFeatures needs a multilevel environment"):
        load_experiment(write(tmp_path, stream, "mixed.toml"))
