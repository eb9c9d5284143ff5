"""Plugins: user components in experiment files, imported by name in the driver and every worker.

A plugin module is written to a temporary folder that is on ``sys.path`` (for the driver) and on
``PYTHONPATH`` (for process-pool and dask workers); the same experiment run through ``regretlab
run`` with a pool and with a dask cluster must give the Python API's rows exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata

import pandas as pd
import pytest

from regretlab.cli import main
from regretlab.experiments import components, plugins
from regretlab.experiments.executors import process_pool
from regretlab.experiments.experiment import ExperimentError, parse_experiment
from regretlab.experiments.storage import load_sweep
from regretlab.experiments.sweep import run_sweep

PLUGIN = '''
"""Custom components: an environment and a policy named 'module:Name', a registered learner."""

import numpy as np

from regretlab.environments import LinearBandit
from regretlab.experiments.registry import register
from regretlab.learners import BayesianLinearRegression
from regretlab.policies import Choice


class SmallBandit(LinearBandit):
    stream = "bandit"

    def __init__(self, *, n_actions=3, context_dim=2, horizon=100, n_replicates=None, seed=None):
        super().__init__(
            n_actions=n_actions,
            context_dim=context_dim,
            horizon=horizon,
            n_replicates=n_replicates,
            seed=seed,
        )


class Softmax:
    def __init__(self, *, temperature=1.0):
        self.temperature = temperature

    def select(self, model, designs, rng, *, step, means=None):
        scores = np.asarray(model.predict_one(designs)) / self.temperature
        p = np.exp(scores - scores.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        u = rng.random(p.shape[:-1])
        actions = np.minimum((np.cumsum(p, axis=-1) < u[..., None]).sum(axis=-1), p.shape[-1] - 1)
        return Choice(actions, np.take_along_axis(p, actions[..., None], axis=-1)[..., 0])


def tight_bayes(*, scale=0.5, groups=None, n_replicates=None):
    return BayesianLinearRegression(groups=groups, n_replicates=n_replicates, prior_variance=scale)


register(
    "learner",
    "TightBayes",
    tight_bayes,
    auto=lambda c: {"groups": c["features"], "n_replicates": c["n_replicates"]},
    auto_names=("groups", "n_replicates"),
)
'''

MODULE = "regretlab_test_plugin"
# Importing it leaves a mark: a refused file must not have imported it.
MARKER_MODULE = "regretlab_test_marker"

EXPERIMENT = f"""
name = "plugin-sweep"
seed = 4
horizon = 80
replicates = 4
chunk_size = 2
checkpoints = [10, 80]

[environments.small]
type = "{MODULE}:SmallBandit"
context_dim = 2

[agents.tight]
learner = {{ type = "TightBayes", scale = 0.3 }}
policy = {{ type = "{MODULE}:Softmax", temperature = 0.5 }}

[agents.thompson]
learner = {{ type = "BayesianLinearRegression" }}
policy = {{ type = "ThompsonSampling" }}
"""


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """A folder holding the plugin modules, on sys.path and on the workers' PYTHONPATH."""
    folder = tmp_path_factory.mktemp("plugins")
    (folder / f"{MODULE}.py").write_text(PLUGIN)
    marker = folder / "imported.txt"
    (folder / f"{MARKER_MODULE}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(folder))
        paths = [str(folder), os.environ.get("PYTHONPATH", "")]
        patch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
        yield folder


@pytest.fixture(scope="module")
def api_run(plugin_path, tmp_path_factory):
    """The Python API's run in this process: the rows every CLI run must reproduce."""
    exp = parse_experiment(tomllib.loads(EXPERIMENT), imports=[MODULE])
    out = tmp_path_factory.mktemp("api")
    assert run_sweep(exp, out).complete
    return exp, load_sweep(out, imports=[MODULE])


def _same_rows(first, second):
    for name in ("regret", "events"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name), check_exact=True)


def test_the_resolved_experiment_records_the_plugin_modules(api_run):
    exp, results = api_run
    assert exp.imports == (MODULE,)
    assert exp.to_dict()["imports"] == [MODULE]
    assert exp.environments[0].source.type == f"{MODULE}:SmallBandit"
    assert exp.stream == "bandit"
    # Defaults of the plugin's factories are resolved like regretlab's own.
    assert exp.agents[0].policy.to_python() == {"type": f"{MODULE}:Softmax", "temperature": 0.5}
    assert parse_experiment(exp.to_dict(), imports=[MODULE]) == exp
    assert set(results.regret["agent"]) == {"tight", "thompson"}
    # A file without plugins keeps its schema (and so its digest).
    plain = tomllib.loads(EXPERIMENT.split("[environments.small]")[0])
    plain["environments"] = {"s": {"type": "LinearBandit"}}
    plain["agents"] = {
        "t": {"learner": {"type": "BayesianLinearRegression"}, "policy": {"type": "Greedy"}}
    }
    assert "imports" not in parse_experiment(plain).to_dict()


@pytest.mark.parametrize("where", [["--workers", "2"], ["--dask-local", "2"]])
def test_cli_runs_plugins_on_every_executor_as_the_api_does(api_run, tmp_path, where, capsys):
    _, expected = api_run
    experiment = tmp_path / "plugin.toml"
    experiment.write_text(EXPERIMENT)
    out = tmp_path / "out"
    args = ["run", str(experiment), "--out", str(out), "--import", MODULE, *where, "--no-progress"]
    assert main(args) == 0
    assert "2 tasks run, 0 already done, 0 failed" in capsys.readouterr().out
    _same_rows(expected, load_sweep(out, imports=[MODULE]))
    assert json.loads((out / "experiment.json").read_text())["imports"] == [MODULE]
    # Resumed: the same command finds everything done.
    assert (
        main(["run", str(experiment), "--out", str(out), "--import", MODULE, "--workers", "0"]) == 0
    )
    assert "0 tasks run, 2 already done" in capsys.readouterr().out


def test_report_needs_the_plugin_allowed_too(api_run, tmp_path, capsys):
    experiment = tmp_path / "plugin.toml"
    experiment.write_text(EXPERIMENT)
    out = tmp_path / "out"
    assert (
        main(["run", str(experiment), "--out", str(out), "--import", MODULE, "--workers", "0"]) == 0
    )
    capsys.readouterr()
    # A fresh process, as the command line is: this one has imported the module already.
    refused = subprocess.run(
        [sys.executable, "-m", "regretlab", "report", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert f"pass --import {MODULE}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert main(["report", str(out), "--import", MODULE]) == 0
    assert (out / "report.md").exists()


def _refused(tmp_path, capsys, text, *extra):
    experiment = tmp_path / "exp.toml"
    experiment.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(experiment), "--out", str(out), "--workers", "0", *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert not out.exists()  # refused before any task, or the folder, was written
    return captured.err


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ((f'"{MODULE}:Softmax"', f'"{MARKER_MODULE}:Softmax"'), "agents.tight.policy.type"),
        (("name = ", f'imports = ["{MARKER_MODULE}"]\nname = '), "imports"),
    ],
)
def test_a_file_cannot_import_a_module_nobody_allowed(plugin_path, tmp_path, capsys, change, key):
    err = _refused(tmp_path, capsys, EXPERIMENT.replace(*change), "--import", MODULE)
    assert f"{key}: module {MARKER_MODULE!r} is not allowed" in err
    assert f"pass --import {MARKER_MODULE}" in err
    assert not (plugin_path / "imported.txt").exists()


def test_without_import_a_plugin_module_is_refused(plugin_path, tmp_path, capsys):
    err = _refused(tmp_path, capsys, EXPERIMENT)
    assert f"environments.small.type: module {MODULE!r} is not allowed" in err


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        (
            None,
            ["--import", "no_such_plugin_xyz"],
            "cannot import plugin module 'no_such_plugin_xyz'",
        ),
        (
            (f"{MODULE}:Softmax", f"{MODULE}:Softmin"),
            ["--import", MODULE],
            f"agents.tight.policy.type: '{MODULE}:Softmin': module {MODULE!r} has no "
            "attribute 'Softmin'",
        ),
        (
            ('"TightBayes"', '"LooseBayes"'),
            ["--import", MODULE],
            "agents.tight.learner.type: unknown learner 'LooseBayes'",
        ),
        (
            (f"{MODULE}:Softmax", "Soft max:x"),
            ["--import", MODULE],
            "must be a registered name or 'module:Name', got 'Soft max:x'",
        ),
    ],
)
def test_missing_modules_and_names_are_clear_errors(
    plugin_path, tmp_path, capsys, change, extra, message
):
    text = EXPERIMENT if change is None else EXPERIMENT.replace(*change)
    assert message in _refused(tmp_path, capsys, text, *extra)


def test_a_worker_without_the_module_fails_its_tasks_naming_it(plugin_path, tmp_path):
    # The driver imports a copy of the plugin that the (spawned) workers cannot find.
    name = "regretlab_test_vanishing"
    folder = tmp_path / "vanishing"
    folder.mkdir()
    (folder / f"{name}.py").write_text(PLUGIN.replace("TightBayes", "VanishingBayes"))
    text = EXPERIMENT.replace(MODULE, name).replace("TightBayes", "VanishingBayes")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(folder))
        exp = parse_experiment(tomllib.loads(text), imports=[name], check=False)
    shutil.rmtree(folder)
    with process_pool(1) as pool:
        summary = run_sweep(exp, tmp_path / "out", executor=pool)
    assert (summary.n_done, len(summary.failures)) == (0, 2)
    error = summary.failures[0].error
    assert f"cannot import plugin module {name!r}" in error
    assert "every worker needs the experiment's plugin modules" in error


def test_entry_points_are_allowed_without_import(plugin_path, monkeypatch, tmp_path, capsys):
    point = metadata.EntryPoint(name="demo", value=MODULE, group=plugins.ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        plugins.metadata, "entry_points", lambda group: [point] if group == point.group else []
    )
    monkeypatch.setattr(plugins, "_ENTRY_POINTS_LOADED", False)
    exp = parse_experiment(tomllib.loads(EXPERIMENT))
    assert exp.imports == (MODULE,)
    experiment = tmp_path / "exp.toml"
    experiment.write_text(EXPERIMENT)
    assert main(["run", str(experiment), "--out", str(tmp_path / "out"), "--workers", "0"]) == 0


def test_a_name_registered_from_main_is_unknown_in_workers_with_a_hint():
    with pytest.raises(ExperimentError, match="unknown learner 'Nowhere' in this process"):
        components.entry("learner", "Nowhere")
    assert plugins.registering_module("__main__") is None
    assert plugins.registering_module("mypkg.components") == "mypkg.components"
