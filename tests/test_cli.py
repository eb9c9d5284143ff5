"""The ``regretlab`` command line: the demo's outputs and its usage errors."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from regretlab.cli import main
from regretlab.seed_study import seed_experiments


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
