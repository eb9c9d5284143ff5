"""The ``regretlab`` command line: the demo's outputs and its usage errors."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from regretlab.cli import main
from regretlab.studies import seed_experiments


def test_demo_writes_every_experiment(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--replicates", "3", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert str(out.resolve()) in captured.out
    assert "summary.md" in captured.out
    names = [e.name for e in seed_experiments(1)]
    for name in names:
        for suffix in ("csv", "parquet", "png"):
            assert (out / f"{name}.{suffix}").stat().st_size > 0
    table = pd.read_parquet(out / "low_interaction.parquet")
    assert sorted(table["replicate"].unique()) == [0, 1, 2]
    summary = (out / "summary.md").read_text()
    assert all(f"## {name}:" in summary for name in names)
    assert "| 26 | 4.395080 | 35.045385 |" in summary  # the notebook's table, seed 0
    # Beside the seed study: a small bandit escalation sweep with its report.
    bandit = out / "bandit_escalation"
    assert str((bandit / "report.md").resolve()) in captured.out
    assert (bandit / "report" / "final_regret.csv").stat().st_size > 0
    assert (bandit / "report" / "escalation_personal.png").stat().st_size > 0
    assert len((bandit / "manifest.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--replicates", "0"], "argument --replicates: must be an integer >= 1, got 0"),
        (["demo", "--replicates", "many"], "argument --replicates: must be an integer"),
        (["demo", "--seed", "-1"], "argument --seed: must be an integer >= 0, got -1"),
        (["demo", "--colour"], "unrecognized arguments: --colour"),
        ([], "a command is required"),
    ],
)
def test_usage_errors_exit_2_naming_the_option(args, message, capsys):
    assert main(args) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_out_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    a_file = tmp_path / "results.txt"
    a_file.write_text("precious")
    assert main(["demo", "--out", str(a_file), "--no-progress"]) == 2
    assert "argument --out" in capsys.readouterr().err
    assert a_file.read_text() == "precious"


def test_help_exits_0(capsys):
    assert main(["demo", "--help"]) == 0
    assert "--replicates" in capsys.readouterr().out


def test_python_dash_m_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "regretlab", "demo", "--replicates", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "--replicates" in done.stderr


SWEEP = """
name = "cli-sweep"
seed = 1
horizon = 60
replicates = 4
chunk_size = 2
checkpoints = [10, 60]

[environments.stream]
type = "InteractionStream"
x_dim = 2

[agents.main]
learner = { type = "BayesianLinearRegression", prior_variance = { pairwise = 0.0 } }

[agents.full]
learner = { type = "BayesianLinearRegression" }
"""


def _snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def finished_sweep(tmp_path, capsys):
    experiment = tmp_path / "sweep.toml"
    experiment.write_text(SWEEP)
    out = tmp_path / "out"
    assert main(["run", str(experiment), "--out", str(out), "--workers", "0", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "2 tasks run, 0 already done, 0 failed" in captured.out
    assert f"regretlab report {out}" in captured.out
    return experiment, out


def test_run_resume_and_report(finished_sweep, capsys):
    experiment, out = finished_sweep
    assert main(["run", str(experiment), "--out", str(out), "--no-progress"]) == 0
    assert "0 tasks run, 2 already done" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    captured = capsys.readouterr()
    assert str((out / "report.md").resolve()) in captured.out
    assert "final_regret.csv" in captured.out
    table = pd.read_csv(out / "report" / "final_regret.csv")
    assert set(table["agent"]) == {"main", "full"}
    assert set(table["n"]) == {4}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("horizon = 60", "horizon = -60"), "horizon: must be an integer >= 1, got -60"),
        (
            ('{ type = "BayesianLinearRegression" }', '{ type = "Bayes" }'),
            "agents.full.learner.type: unknown learner 'Bayes'; choose one of",
        ),
        (("seed = 1\n", ""), "missing required key 'seed'"),
        (("x_dim = 2", 'x_dim = "two"'), "x_dim must be an integer, got 'two'"),
        (("horizon = 60", "horizon = 80"), "holds results of a different experiment"),
    ],
)
def test_a_bad_or_changed_file_leaves_the_results_untouched(
    finished_sweep, tmp_path, capsys, change, message
):
    _, out = finished_sweep
    before = _snapshot(out)
    bad = tmp_path / "bad.toml"
    bad.write_text(SWEEP.replace(*change))
    assert main(["run", str(bad), "--out", str(out), "--workers", "0"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.err.count("error:") == 1
    assert _snapshot(out) == before


def test_run_options_are_exclusive(tmp_path, capsys):
    args = ["run", "x.toml", "--workers", "2", "--dask-local", "2"]
    assert main(args) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_report_of_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a regretlab sweep folder" in capsys.readouterr().err


def test_run_on_a_local_dask_cluster_matches_the_in_process_run(finished_sweep, tmp_path, capsys):
    from regretlab.experiments.storage import load_sweep

    experiment, out = finished_sweep
    dask_out = tmp_path / "dask"
    args = ["run", str(experiment), "--out", str(dask_out), "--dask-local", "1", "--no-progress"]
    assert main(args) == 0
    assert "dask LocalCluster, 1 worker on 127.0.0.1" in capsys.readouterr().err
    pd.testing.assert_frame_equal(
        load_sweep(out).regret, load_sweep(dask_out).regret, check_exact=True
    )


def test_example_lists_the_packaged_examples(capsys):
    assert main(["example"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == sorted(listed)
    expected = {"bandit_drift", "bandit_escalation", "glm_bandit", "multi_armed_bandit"}
    assert expected | {"offpolicy", "prediction_escalation"} <= set(listed)


def test_example_prints_a_file_that_runs_as_written(tmp_path, capsys):
    from regretlab.experiments import load_experiment

    assert main(["example", "prediction_escalation"]) == 0
    text = capsys.readouterr().out
    assert "regretlab example prediction_escalation > prediction_escalation.toml" in text
    path = tmp_path / "prediction_escalation.toml"
    path.write_text(text)
    assert load_experiment(path).name == "prediction-escalation"


def test_example_with_an_unknown_name_exits_2(capsys):
    assert main(["example", "nope"]) == 2
    assert "bandit_escalation" in capsys.readouterr().err
