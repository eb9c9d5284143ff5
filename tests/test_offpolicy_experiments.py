"""The [offpolicy] table of experiment files: estimators in the registry, clear errors, the
report's section."""

from __future__ import annotations

import tomllib

import pandas as pd
import pytest

from regretlab.experiments import registry
from regretlab.experiments.experiment import ExperimentError, parse_experiment
from regretlab.experiments.report import write_report
from regretlab.experiments.sweep import run_sweep
from regretlab.offpolicy import IPS, DoublyRobust, SwitchDR

EXPERIMENT = """
seed = 5
horizon = 200
replicates = 8
chunk_size = 4
checkpoints = 4

[environments.personal]
type = "LinearBandit"
n_actions = 3
context_dim = 2

[agents.eps]
learner = { type = "BayesianLinearRegression" }
policy = { type = "EpsilonGreedy", epsilon = 0.3 }

[agents.ts]
learner = { type = "BayesianLinearRegression" }
policy = { type = "ThompsonSampling" }

[offpolicy]
logger = "eps"
sizes = [50, 200]
targets = { uniform = { type = "Random" }, best = { type = "EpsilonGreedy", epsilon = 0.1 } }

[offpolicy.estimators]
IPS = { type = "IPS" }
SNIPS = { type = "SNIPS" }
DR = { type = "DoublyRobust", folds = 4 }
"""


def _raw(**offpolicy):
    raw = tomllib.loads(EXPERIMENT)
    raw["offpolicy"] = {**raw["offpolicy"], **offpolicy}
    return raw


def test_estimators_are_registered_with_flat_reward_model_parameters():
    assert {"DirectMethod", "IPS", "SNIPS", "DoublyRobust", "SwitchDR"} <= set(
        registry.names("estimator")
    )
    built = registry.build(
        registry.parse_component(
            {"type": "SwitchDR", "tau": 3.0, "folds": 3, "groups": ["action"]}, "estimator", "k"
        ),
        {},
    )
    assert isinstance(built, SwitchDR)
    assert (built.tau, built.reward_model.folds, built.reward_model.groups) == (3.0, 3, ("action",))
    assert isinstance(
        registry.build(registry.parse_component({"type": "IPS"}, "estimator", "k"), {}), IPS
    )
    dr = registry.build(registry.parse_component({"type": "DoublyRobust"}, "estimator", "k"), {})
    assert isinstance(dr, DoublyRobust)


def test_the_offpolicy_table_round_trips():
    exp = parse_experiment(tomllib.loads(EXPERIMENT))
    assert exp.offpolicy.logger == "eps"
    assert exp.offpolicy.sizes == (50, 200)
    assert parse_experiment(exp.to_dict()) == exp
    # An experiment without the table keeps its resolved form (and digest) as before.
    plain = tomllib.loads(EXPERIMENT)
    del plain["offpolicy"]
    assert "offpolicy" not in parse_experiment(plain).to_dict()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"logger": "nobody"}, r"offpolicy.logger: must be one of the agents \['eps', 'ts'\]"),
        ({"logger": "ts"}, r"offpolicy.logger: .*propensity_draws"),
        ({"sizes": [0]}, r"offpolicy.sizes: must be a list of integers in \[1, 200\]"),
        ({"sizes": [500]}, r"offpolicy.sizes"),
        ({"bogus": 1}, r"offpolicy.bogus: unknown key"),
        ({"estimators": {"x": {"type": "Magic"}}}, r"offpolicy.estimators.x.type: .*Magic"),
        ({"estimators": {"x": {"type": "IPS", "clip": -1.0}}}, r"offpolicy.estimators.x: clip"),
        ({"estimators": {"x": {"type": "DoublyRobust", "folds": 1}}}, r"estimators.x: folds"),
        ({"targets": {}}, r"offpolicy.targets: must be a non-empty table"),
        ({"targets": {"t": {"type": "EpsilonGreedy", "epsilon": -1}}}, r"targets.t: epsilon"),
    ],
)
def test_bad_offpolicy_tables_name_the_key(change, match):
    with pytest.raises(ExperimentError, match=match):
        parse_experiment(_raw(**change))


def test_offpolicy_needs_a_bandit():
    raw = {
        "seed": 1,
        "horizon": 20,
        "replicates": 2,
        "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
        "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}},
        "offpolicy": {"logger": "a", "targets": {}, "estimators": {}},
    }
    with pytest.raises(ExperimentError, match="needs bandit environments"):
        parse_experiment(raw)


def test_report_writes_the_offpolicy_section(tmp_path):
    exp = parse_experiment(tomllib.loads(EXPERIMENT))
    run_sweep(exp, tmp_path)
    written = {path.name for path in write_report(tmp_path)}
    assert {
        "offpolicy.csv",
        "offpolicy_personal_uniform.png",
        "offpolicy_personal_best.png",
    } <= written
    table = pd.read_csv(tmp_path / "report" / "offpolicy.csv")
    assert len(table) == 2 * 3 * 2  # targets x estimators x sizes
    assert set(table["n"]) == {50, 200}
    assert (table["replicates"] == 8).all()
    text = (tmp_path / "report.md").read_text()
    assert "## Off-policy evaluation" in text
    assert "report/offpolicy_personal_best.png" in text
    # Reproducible: the section's rerun of the logger is seeded from the experiment's seed.
    write_report(tmp_path)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "report" / "offpolicy.csv"), table)
