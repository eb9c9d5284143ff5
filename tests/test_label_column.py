"""The ``environment`` column of run_prequential's tables stores its label once (issue 19,
sixth session): a categorical of one category, with the values of the old string column,
through every reader: Parquet files, sweep folders (old string files among new ones), reports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from regretlab._io import read_parquet
from regretlab.environments import InteractionStream
from regretlab.experiments import storage
from regretlab.experiments._task_files import write_task_files
from regretlab.learners import BayesianLinearRegression
from regretlab.simulate import Agent, run_prequential

LABEL = "a long environment label, " * 4


def _run(n_rep=50, label=LABEL):
    env = InteractionStream(x_dim=2, horizon=30, n_replicates=n_rep, seed=0)
    agents = [
        Agent(name, BayesianLinearRegression(groups=env.features, n_replicates=n_rep))
        for name in ("a", "b")
    ]
    return run_prequential(
        env, agents, checkpoints=[3, 30], environment=label, track_coefficients=True
    )


def test_the_label_is_one_category_with_the_string_columns_values():
    result = _run()
    for table in (result.regret, result.coefficients):
        column = table["environment"]
        assert isinstance(column.dtype, pd.CategoricalDtype)
        assert list(column.cat.categories) == [LABEL]
        assert (column.astype(str) == LABEL).all()
        # One byte a row for the codes (a string column: the label's bytes on every row).
        assert column.memory_usage(deep=True, index=False) < len(column) + 2 * len(LABEL) + 1000
    assert len(result.regret) == 2 * 2 * 50
    # Filters and groups see the label as before.
    assert len(result.regret[result.regret["environment"] == LABEL]) == len(result.regret)
    final = result.regret.groupby(["environment", "agent"])["expected_regret"].mean()
    assert final.index.get_level_values(0).tolist() == [LABEL, LABEL]


def test_parquet_round_trip_and_old_string_files_among_new_ones(tmp_path):
    new = _run(n_rep=4).regret
    other = _run(n_rep=4, label="other").regret
    old = new.astype({"environment": str})  # a file written before this change
    old["replicate"] += 4
    names = {"new": new, "old": old, "other": other}
    for task, table in names.items():
        write_task_files(tmp_path, task, {"regret": table})
    back = read_parquet(tmp_path / "regret" / "new.parquet")
    assert isinstance(back["environment"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(back, new)
    paths = [f"regret/{task}.parquet" for task in names]
    table = storage._read(tmp_path, paths, ["other", LABEL], ["a", "b"])
    assert table["environment"].astype(str).tolist() == ["other"] * len(other) + [LABEL] * (
        len(new) + len(old)
    )
    mine = table[table["environment"] == LABEL]
    np.testing.assert_array_equal(np.unique(mine["replicate"]), np.arange(8))
    expected = pd.concat([new, old]).sort_values(["agent", "replicate", "step"], kind="stable")
    np.testing.assert_array_equal(mine["expected_regret"], expected["expected_regret"])


def test_the_report_reads_the_categorical_as_it_read_strings():
    from regretlab.experiments import report

    regret = _run(n_rep=6).regret
    old = regret.astype({"environment": str})
    for make in (
        lambda t: report.final_regret(t, ["expected_regret", "excess_loss"]),
        lambda t: report.paired_differences(t, ["expected_regret"], "a"),
        lambda t: report.ranks(t, "expected_regret"),
    ):
        new_table, old_table = make(regret), make(old)
        pd.testing.assert_frame_equal(
            new_table.astype({"environment": str}), old_table.astype({"environment": str})
        )
