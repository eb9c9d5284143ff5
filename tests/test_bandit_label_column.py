"""The ``environment`` column of run_bandit's tables (regret, steps, events, choices) and of
every runner's events table stores its label once (issue 19, seventh session), as
run_prequential's regret and coefficient tables do: a categorical of one category with the
values of the old string column, through Parquet files, sweep folders (old string files among
new ones) and the reports that read them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regretlab._io import read_parquet
from regretlab.environments import InteractionStream, LinearBandit
from regretlab.experiments import storage
from regretlab.experiments._task_files import write_task_files
from regretlab.learners import BayesianLinearRegression
from regretlab.policies import ThompsonSampling
from regretlab.policies.escalation import Fixed
from regretlab.simulate import Agent, run_bandit, run_prequential

LABEL = "a long bandit label, " * 4
TABLES = ("regret", "steps", "events", "choices")


def _run(n_rep=6, label=LABEL):
    env = LinearBandit(n_actions=3, context_dim=2, horizon=20, n_replicates=n_rep, seed=0)
    agents = [
        Agent(
            name,
            BayesianLinearRegression(groups=env.features, n_replicates=n_rep),
            policy=ThompsonSampling(),
            # One prior change per replicate at the first step: an events table with rows.
            scheduler=Fixed({"context:action": 0.5}),
        )
        for name in ("a", "b")
    ]
    return run_bandit(env, agents, seed=1, checkpoints=[5, 20], log_steps=True, environment=label)


@pytest.mark.parametrize("name", TABLES)
def test_each_bandit_table_holds_the_label_as_one_category(name):
    table = getattr(_run(), name)
    column = table["environment"]
    assert len(table) > 0
    assert isinstance(column.dtype, pd.CategoricalDtype)
    assert list(column.cat.categories) == [LABEL]
    assert (column.astype(str) == LABEL).all()
    # One byte a row for the codes (a string column: the label's bytes on every row).
    assert column.memory_usage(deep=True, index=False) < len(column) + 2 * len(LABEL) + 1000


def test_the_other_columns_are_those_of_the_string_label():
    result = _run()
    assert len(result.regret) == 2 * 2 * 6
    assert len(result.steps) == 2 * 20 * 6
    assert len(result.events) == 2 * 6
    assert result.events["step"].tolist() == [1] * 12
    # Filters and groups see the label as before.
    regret = result.regret
    assert len(regret[regret["environment"] == LABEL]) == len(regret)
    final = regret.groupby(["environment", "agent"])["pseudo_regret"].mean()
    assert final.index.get_level_values(0).tolist() == [LABEL, LABEL]


def test_run_prequentials_events_hold_the_label_as_one_category():
    env = InteractionStream(x_dim=2, horizon=10, n_replicates=3, seed=0)
    model = BayesianLinearRegression(groups=env.features, n_replicates=3)
    agent = Agent("fixed", model, scheduler=Fixed({"pairwise": 0.5}))
    events = run_prequential(env, [agent], checkpoints=[10], environment=LABEL).events
    assert len(events) == 3
    assert isinstance(events["environment"].dtype, pd.CategoricalDtype)
    assert (events["environment"].astype(str) == LABEL).all()


@pytest.mark.parametrize("name", ["regret", "events", "choices"])
def test_parquet_round_trip_and_old_string_files_among_new_ones(tmp_path, name):
    new = getattr(_run(n_rep=4), name)
    other = getattr(_run(n_rep=4, label="other"), name)
    old = new.astype({"environment": str})  # a file written before this change
    old["replicate"] += 4
    tasks = {"new": new, "old": old, "other": other}
    for task, table in tasks.items():
        write_task_files(tmp_path, task, {name: table})
    back = read_parquet(tmp_path / name / "new.parquet")
    assert isinstance(back["environment"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(back, new)
    paths = [f"{name}/{task}.parquet" for task in tasks]
    table = storage._read(tmp_path, paths, ["other", LABEL], ["a", "b"])
    labels = table["environment"].astype(str).tolist()
    assert labels == ["other"] * len(other) + [LABEL] * (len(new) + len(old))
    mine = table[table["environment"] == LABEL]
    np.testing.assert_array_equal(np.unique(mine["replicate"]), np.arange(8))
    value = {"regret": "pseudo_regret", "events": "new", "choices": "count"}[name]
    expected = pd.concat([new, old]).sort_values(["agent", "replicate", "step"], kind="stable")
    np.testing.assert_array_equal(mine[value], expected[value])


def test_the_choices_report_reads_the_categorical_as_it_read_strings():
    from regretlab.experiments.choices_report import oracle_summary

    result = _run()
    new = oracle_summary(result.regret, result.choices)
    old = oracle_summary(
        result.regret.astype({"environment": str}), result.choices.astype({"environment": str})
    )
    pd.testing.assert_frame_equal(
        new.astype({"environment": str}), old.astype({"environment": str})
    )
