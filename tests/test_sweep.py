"""Sweeps: the seed tree, executors giving identical rows, resuming after a kill, failures."""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import tomllib

import pandas as pd
import pytest

from regretlab.experiments import components, registry
from regretlab.experiments.executors import open_executor, process_pool
from regretlab.experiments.experiment import parse_experiment
from regretlab.experiments.storage import SweepFolderError, SweepStore, load_sweep
from regretlab.experiments.sweep import plan_tasks, run_sweep
from regretlab.learners import BayesianLinearRegression

PREQUENTIAL = """
name = "tiny-stream"
seed = 11
horizon = 200
replicates = 6
chunk_size = 2
checkpoints = 8
track_coefficients = true

[environments.weak]
type = "InteractionStream"
x_dim = 2
interaction_scale = 0.1
noise_level = 1.0

[environments.strong]
type = "InteractionStream"
x_dim = 2
interaction_scale = 1.0
noise_level = 1.0

[agents.main]
learner = { type = "BayesianLinearRegression", prior_variance = { pairwise = 0.0 } }

[agents.switch]
learner = { type = "BayesianLinearRegression", prior_variance = { pairwise = 0.0 } }
scheduler = { type = "EvidenceSwitch", group = "pairwise", every = 5 }

[agents.bma.learner]
type = "ModelAveraging"
grid = [0.0, 1.0]
learner = { type = "BayesianLinearRegression" }
"""

BANDIT = """
name = "tiny-bandit"
seed = 5
horizon = 150
replicates = 5
chunk_size = 2
checkpoints = 6

[environments.personal]
type = "LinearBandit"
n_actions = 3
context_dim = 2

[agents.thompson]
learner = { type = "BayesianLinearRegression", prior_variance = { "context:action" = 0.0 } }
policy = { type = "ThompsonSampling" }
scheduler = { type = "EvidenceSwitch", group = "context:action", every = 5 }

[agents.egreedy]
learner = { type = "BayesianLinearRegression" }
policy = { type = "EpsilonGreedy", epsilon = 0.2 }

[agents.random]
policy = { type = "Random" }
"""


def experiment(text: str, **changes):
    return parse_experiment({**tomllib.loads(text), **changes})


def frames(folder):
    results = load_sweep(folder)
    return results, {
        "regret": results.regret,
        "events": results.events,
        "coefficients": results.coefficients,
    }


def assert_same(first, second) -> None:
    _, a = frames(first)
    _, b = frames(second)
    for name in a:
        if a[name] is None:
            assert b[name] is None
        else:
            pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


def expected_regret_rows(exp) -> int:
    n = len(exp.environments) * len(exp.agents) * exp.replicates
    return n * len(exp.checkpoints)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    """Both tiny experiments run in this process: the reference every executor must match."""
    out = {}
    for text in (PREQUENTIAL, BANDIT):
        exp = experiment(text)
        folder = tmp_path_factory.mktemp(exp.name)
        summary = run_sweep(exp, folder)
        assert summary.complete
        assert summary.failures == ()
        out[exp.name] = folder
    return out


def test_tasks_and_seed_tree():
    exp = experiment(PREQUENTIAL)
    tasks = plan_tasks(exp)
    assert [t.id for t in tasks[:4]] == ["weak-00000", "weak-00001", "weak-00002", "strong-00000"]
    assert [(t.start, t.stop) for t in tasks[:3]] == [(0, 2), (2, 4), (4, 6)]
    # Derived, not spawned: the same tree every time, and every seed in it distinct.
    again = plan_tasks(exp)
    keys = [s.spawn_key for t in tasks for s in (t.environment_seed, t.policy_seed, t.learner_seed)]
    assert keys == [
        s.spawn_key for t in again for s in (t.environment_seed, t.policy_seed, t.learner_seed)
    ]
    assert len(set(keys)) == len(keys)
    assert tasks[4].environment_seed.spawn_key == (1, 1, 0)
    assert {t.environment_seed.entropy for t in tasks} == {11}


def test_rows_are_complete_and_global(in_process):
    exp = experiment(PREQUENTIAL)
    results, tables = frames(in_process["tiny-stream"])
    regret = tables["regret"]
    assert len(regret) == expected_regret_rows(exp)
    assert not regret.duplicated(["environment", "agent", "replicate", "step"]).any()
    assert sorted(regret["replicate"].unique()) == list(range(6))
    assert set(tables["events"]["agent"]) <= {"switch", "bma"}
    assert len(tables["coefficients"]) > 0
    assert results.n_finished == results.n_tasks == 6
    # Different chunks are different data.
    final = regret[(regret["step"] == 200) & (regret["agent"] == "main")]
    assert final["expected_regret"].nunique() == len(final)


def test_metadata_records_the_machine(in_process):
    """Results can depend on the BLAS kernel: the CPU, the BLAS and its kernel are recorded."""
    meta = SweepStore(in_process[experiment(PREQUENTIAL).name]).metadata()
    machine = meta["machine"]
    assert machine["cpu"]
    assert any(lib["internal_api"] for lib in machine["blas"])
    assert {"numpy", "scipy", "threadpoolctl"} <= set(meta["versions"])


def test_process_pool_equals_in_process(in_process, tmp_path):
    with process_pool(2) as pool:
        for text in (PREQUENTIAL, BANDIT):
            exp = experiment(text)
            summary = run_sweep(exp, tmp_path / exp.name, executor=pool, max_pending=3)
            assert summary.complete
            assert_same(in_process[exp.name], tmp_path / exp.name)


def test_dask_local_cluster_equals_in_process(in_process, tmp_path):
    from distributed import LocalCluster

    # processes=True: two single-threaded worker processes on loopback (about 2 s to start);
    # the sweep reaches them by address, as `regretlab run --scheduler ADDR` does.
    with LocalCluster(
        host="127.0.0.1",
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        with open_executor(scheduler=address) as info:
            assert info.capacity == 8
            for text in (BANDIT, PREQUENTIAL):
                exp = experiment(text)
                summary = run_sweep(exp, tmp_path / exp.name, executor=info.executor)
                assert summary.complete
                assert_same(in_process[exp.name], tmp_path / exp.name)


def test_resume_skips_finished_tasks_and_redoes_unrecorded_ones(in_process, tmp_path):
    exp = experiment(PREQUENTIAL)
    folder = tmp_path / "resume"
    run_sweep(exp, folder)
    manifest = folder / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    # Two tasks whose files were written but whose manifest lines never made it, and a line
    # cut short by a kill.
    manifest.write_text("\n".join(lines[:4]) + "\n" + lines[4][:25])
    # And a recorded task whose file was cut short (an operating-system crash).
    damaged = folder / "events" / "weak-00001.parquet"
    damaged.write_bytes(damaged.read_bytes()[:100])
    summary = run_sweep(exp, folder)
    assert (summary.n_skipped, summary.n_done) == (3, 3)
    assert len(manifest.read_text().splitlines()) == 7  # weak-00001 twice: the last one counts
    assert_same(in_process["tiny-stream"], folder)
    assert run_sweep(exp, folder).n_done == 0


def test_a_changed_experiment_is_refused_before_writing(in_process, tmp_path):
    exp = experiment(PREQUENTIAL)
    folder = tmp_path / "kept"
    run_sweep(exp, folder)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    changed = experiment(PREQUENTIAL, horizon=300)
    with pytest.raises(SweepFolderError, match=r"different experiment.*changed: horizon"):
        run_sweep(changed, folder)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_a_foreign_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SweepFolderError, match="not a regretlab sweep folder"):
        run_sweep(experiment(BANDIT), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_killed_driver_then_rerun_gives_exactly_the_expected_rows(in_process, tmp_path):
    text = PREQUENTIAL.replace("horizon = 200", "horizon = 1000").replace(
        "replicates = 6", "replicates = 8"
    )
    path = tmp_path / "slow.toml"
    path.write_text(text)
    folder = tmp_path / "killed"
    command = [sys.executable, "-m", "regretlab", "run", str(path), "--out", str(folder)]
    driver = subprocess.Popen(
        [*command, "--workers", "0", "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    manifest = folder / "manifest.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and driver.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    finished = len(manifest.read_text().splitlines())
    exp = experiment(text)
    assert 2 <= finished < len(plan_tasks(exp)), "the driver must be killed part-way"
    summary = run_sweep(exp, folder)
    assert summary.complete
    assert summary.n_skipped == finished
    _, tables = frames(folder)
    assert len(tables["regret"]) == expected_regret_rows(exp)
    assert not tables["regret"].duplicated(["environment", "agent", "replicate", "step"]).any()
    clean = tmp_path / "clean"
    run_sweep(exp, clean)
    assert_same(clean, folder)


class Exploding(BayesianLinearRegression):
    """Raises (or kills its process) when run with a single replicate: the last, short chunk."""

    mode = "raise"

    def learn_one(self, x, y):
        if self.n_replicates == 1 and Exploding.mode == "raise":
            raise FloatingPointError("boom")
        if self.n_replicates == 1 and Exploding.mode == "exit":
            os._exit(3)
        return super().learn_one(x, y)


@pytest.fixture
def exploding():
    registry.register(
        "learner",
        "Exploding",
        Exploding,
        auto=lambda c: {"groups": c["features"], "n_replicates": c["n_replicates"]},
        auto_names=("groups", "n_replicates"),
    )
    yield Exploding
    Exploding.mode = "raise"
    components._REGISTRY["learner"].pop("Exploding")


FAILING = PREQUENTIAL.replace(
    "[agents.bma.learner]",
    '[agents.boom]\nlearner = { type = "Exploding" }\n\n[agents.bma.learner]',
).replace("replicates = 6", "replicates = 5")


def test_a_failing_task_is_reported_and_the_others_finish(exploding, tmp_path, caplog):
    exp = experiment(FAILING)
    summary = run_sweep(exp, tmp_path)
    assert not summary.complete
    assert (summary.n_done, len(summary.failures)) == (4, 2)
    failure = summary.failures[0].describe()
    assert failure["task"] == "weak-00002"
    assert failure["replicates"] == [4, 5]
    assert "FloatingPointError: boom" in failure["error"]
    assert "learn_one" in failure["traceback"]
    assert "weak-00002" in caplog.text
    assert "boom" in caplog.text
    saved = json.loads((tmp_path / "failures.json").read_text())
    assert [f["task"] for f in saved] == ["weak-00002", "strong-00002"]
    assert load_sweep(tmp_path).n_finished == 4
    exploding.mode = "fixed"
    again = run_sweep(exp, tmp_path)
    assert (again.n_skipped, again.n_done, again.complete) == (4, 2, True)
    assert not (tmp_path / "failures.json").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="needs the fork start method")
def test_a_dead_worker_is_reported_and_the_rerun_completes(exploding, tmp_path):
    exp = experiment(FAILING)
    exploding.mode = "exit"
    # fork, so that the workers inherit the test's registry entry.
    pool = cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
    with pool:
        summary = run_sweep(exp, tmp_path, executor=pool, max_pending=2)
    assert not summary.complete
    assert any("BrokenProcessPool" in f.error for f in summary.failures)
    exploding.mode = "fixed"
    again = run_sweep(exp, tmp_path)
    assert again.complete
    assert again.n_skipped == summary.n_done
    results = load_sweep(tmp_path)
    assert len(results.regret) == expected_regret_rows(exp)
    assert not results.regret.duplicated(["environment", "agent", "replicate", "step"]).any()
