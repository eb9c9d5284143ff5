"""A results folder cannot silently go wrong: content hashes, page checksums, the folder lock,
the size of the work, and the command line's one-line errors (issue 20)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from regretlab._io import read_parquet, write_atomically, write_parquet
from regretlab.cli import main
from regretlab.experiments import sizing
from regretlab.experiments.experiment import parse_experiment
from regretlab.experiments.lock import FolderLock, FolderLockedError
from regretlab.experiments.report import write_report
from regretlab.experiments.sizing import estimate_work
from regretlab.experiments.storage import SweepStore, load_sweep
from regretlab.experiments.sweep import run_sweep
from regretlab.simulate._budget import DEFAULT_BLOCK_MEMORY

SWEEP = """
name = "integrity"
seed = 3
horizon = 80
replicates = 4
chunk_size = 2
checkpoints = [10, 80]

[environments.personal]
type = "LinearBandit"
n_actions = 3
context_dim = 2

[agents.thompson]
learner = { type = "BayesianLinearRegression" }
policy = { type = "ThompsonSampling" }

[agents.random]
policy = { type = "Random" }
"""


def _experiment(**changes):
    return parse_experiment({**tomllib.loads(SWEEP), **changes})


def _flip(path: Path, at: float = 0.5, n: int = 64) -> None:
    """Invert ``n`` bytes from the fraction ``at`` of the file (the end marker stays intact)."""
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    data[start : start + n] = bytes(b ^ 0xFF for b in data[start : start + n])
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run that every repaired folder must reproduce exactly."""
    folder = tmp_path_factory.mktemp("reference")
    assert run_sweep(_experiment(), folder).complete
    return load_sweep(folder)


def test_manifest_records_a_hash_per_file_and_pages_carry_checksums(tmp_path):
    run_sweep(_experiment(), tmp_path)
    entries = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    for entry in entries:
        assert set(entry["sha256"]) == set(entry["files"]) == {"regret", "events", "choices"}
        assert all(len(h) == 64 for h in entry["sha256"].values())
    table = pd.DataFrame({"x": np.random.default_rng(0).normal(size=5000)})
    path = tmp_path / "t.parquet"
    write_atomically([(path, write_parquet(table))])
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    middle = start + column.total_compressed_size // 2  # inside the column's pages
    _flip(path, at=middle / path.stat().st_size, n=16)
    # Without verification the damage goes unseen; with it (as regretlab reads) it is an error.
    assert not pd.read_parquet(path)["x"].equals(table["x"])
    with pytest.raises(OSError, match=r"CRC|checksum"):
        read_parquet(path)


def test_a_damaged_file_is_redone_and_said_so(tmp_path, reference):
    exp = _experiment()
    run_sweep(exp, tmp_path)
    victim = tmp_path / "regret" / "personal-00001.parquet"
    _flip(victim)
    assert victim.read_bytes()[-4:] == b"PAR1"  # the old check (end marker) would pass it

    finished, damaged = SweepStore(tmp_path).verify()
    assert set(finished) == {"personal-00000"}
    assert damaged == {
        "personal-00001": "regret/personal-00001.parquet: its content differs from the hash "
        "in the manifest"
    }
    # report leaves the task out and says so
    write_report(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "incomplete: 1 of 2 tasks finished" in text
    assert "damaged, left out: personal-00001" in text
    assert load_sweep(tmp_path).damaged == (f"personal-00001: {damaged['personal-00001']}",)

    summary = run_sweep(exp, tmp_path)
    assert (summary.n_done, summary.n_skipped) == (1, 1)
    assert summary.damaged == (f"personal-00001: {damaged['personal-00001']}",)
    again = load_sweep(tmp_path)
    assert again.damaged == ()
    pd.testing.assert_frame_equal(again.regret, reference.regret, check_exact=True)
    pd.testing.assert_frame_equal(again.events, reference.events, check_exact=True)


def test_a_missing_file_is_redone(tmp_path, reference):
    exp = _experiment()
    run_sweep(exp, tmp_path)
    (tmp_path / "events" / "personal-00000.parquet").unlink()
    assert "personal-00000" in SweepStore(tmp_path).verify()[1]
    assert run_sweep(exp, tmp_path).n_done == 1
    pd.testing.assert_frame_equal(load_sweep(tmp_path).regret, reference.regret)


def test_cli_run_and_report_say_which_task_is_redone(tmp_path, capsys):
    path = tmp_path / "e.toml"
    path.write_text(SWEEP)
    out = tmp_path / "out"
    args = ["run", str(path), "--out", str(out), "--workers", "0", "--no-progress"]
    assert main(args) == 0
    _flip(out / "events" / "personal-00000.parquet")
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert "task personal-00000 left out: events/personal-00000.parquet" in capsys.readouterr().err
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "task personal-00000 will be redone: events/personal-00000.parquet" in captured.err
    assert "1 task run (of which 1 redone: damaged), 1 already done" in captured.out


# -- the lock ---------------------------------------------------------------------------------


def _hold_lock(folder: Path) -> subprocess.Popen:
    """Another process holding the folder's lock until its stdin closes."""
    code = (
        "import sys; from regretlab.experiments.lock import FolderLock\n"
        f"with FolderLock({str(folder)!r}):\n"
        "    print('held', flush=True); sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_concurrent_run_stops_naming_the_holder(tmp_path, capsys):
    holder = _hold_lock(tmp_path / "out")
    try:
        with pytest.raises(
            FolderLockedError, match=f"process {holder.pid} on {socket.gethostname()}"
        ):
            run_sweep(_experiment(), tmp_path / "out")
        path = tmp_path / "e.toml"
        path.write_text(SWEEP)
        assert main(["run", str(path), "--out", str(tmp_path / "out"), "--workers", "0"]) == 2
        err = capsys.readouterr().err
        assert f"in use by process {holder.pid} on {socket.gethostname()}" in err
        assert "Traceback" not in err
        assert not (tmp_path / "out" / "manifest.jsonl").exists()
    finally:
        holder.communicate("")
    assert not (tmp_path / "out" / ".lock").exists()  # released by its holder
    assert run_sweep(_experiment(), tmp_path / "out").complete


def test_a_dead_process_lock_is_taken_over_and_another_host_needs_break_lock(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    lock = tmp_path / ".lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": pid, "started": "then"}))
    assert run_sweep(_experiment(), tmp_path).complete
    assert not lock.exists()

    lock.write_text(json.dumps({"host": "elsewhere.example", "pid": os.getpid(), "started": "x"}))
    with pytest.raises(FolderLockedError, match=r"on elsewhere\.example .*--break-lock"):
        run_sweep(_experiment(), tmp_path)
    assert run_sweep(_experiment(), tmp_path, break_lock=True).complete
    assert not lock.exists()


def test_a_lock_is_reentrant_in_its_process_and_released_by_the_outer_holder(tmp_path):
    with FolderLock(tmp_path):
        with FolderLock(tmp_path):
            pass
        assert (tmp_path / ".lock").exists()
    assert not (tmp_path / ".lock").exists()


# -- the size of the work ---------------------------------------------------------------------


def test_the_estimate_allows_the_block_budget_for_the_environments_blocks():
    # The runners hold up to the block budget of environment data; a probe of a few steps
    # does not reach it, so the estimate adds the budget itself (it assumed 16 MiB once).
    assert sizing._block_allowance(_experiment()) == DEFAULT_BLOCK_MEMORY == 64 * 2**20
    assert sizing._block_allowance(_experiment(block_memory_mb=8)) == 8 * 2**20
    assert estimate_work(_experiment()).task_bytes > DEFAULT_BLOCK_MEMORY


def test_the_size_of_the_work_is_printed_and_a_too_large_run_refused(tmp_path, capsys):
    size = estimate_work(_experiment())
    assert size.replicate_steps == 1 * 4 * 80 * 2
    assert size.n_tasks == 2
    assert not size.too_large
    bigger = estimate_work(_experiment(replicates=400, chunk_size=400))
    assert bigger.task_bytes > size.task_bytes  # more replicates per task, more memory

    path = tmp_path / "e.toml"
    path.write_text(SWEEP)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--workers", "0", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "integrity: 640 replicate-steps in 2 tasks; estimated peak memory" in err
    assert "MiB per task" in err

    huge = tmp_path / "huge.toml"
    huge.write_text(SWEEP.replace("replicates = 4", f"replicates = {10**12}"))
    assert main(["run", str(huge), "--out", str(tmp_path / "huge"), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "replicate-steps in 500,000,000,000 tasks" in err
    assert "exceeds half of this machine's memory" in err
    assert "--allow-large" in err
    assert not (tmp_path / "huge").exists()


def test_an_impossible_learner_size_is_refused_naming_the_size(tmp_path, capsys):
    path = tmp_path / "wide.toml"
    path.write_text(
        SWEEP.replace("context_dim = 2", "context_dim = 40000").replace(
            "n_actions = 3", "n_actions = 2"
        )
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert "of shape" in err
    assert "GiB, more than this machine's memory" in err


# -- one-line errors naming the file ------------------------------------------------------------


def _one_line_error(capsys, *names: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


def test_a_non_utf8_experiment_file(tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes(SWEEP.replace("integrity", "intégrité").encode("latin-1"))
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, str(path), "UTF-8")


@pytest.mark.parametrize(
    "content", [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"experiment_hash": "x"}']
)
@pytest.mark.parametrize("command", ["run", "report"])
def test_a_corrupt_metadata_file_is_named(tmp_path, capsys, content, command):
    path = tmp_path / "e.toml"
    path.write_text(SWEEP)
    out = tmp_path / "out"
    run_sweep(_experiment(name="e"), out)
    (out / "metadata.json").write_bytes(content)
    args = (
        ["run", str(path), "--out", str(out), "--workers", "0"]
        if command == "run"
        else ["report", str(out)]
    )
    assert main(args) == 2
    _one_line_error(capsys, str(out / "metadata.json"))


def test_a_full_disk_names_the_file(tmp_path):
    """A file-size limit makes every write past it fail with EFBIG, as a full disk would."""
    path = tmp_path / "e.toml"
    path.write_text(SWEEP)
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))\n"
        "from regretlab.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "run",
            str(path),
            "--out",
            str(tmp_path / "out"),
            "--workers",
            "0",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1
    assert "File too large" in lines[0]
    assert str(tmp_path / "out") in lines[0]  # the file that could not be written


def test_an_unreadable_lock_is_taken_over_once_it_is_old(tmp_path):
    lock = tmp_path / ".lock"
    lock.write_text("")  # a holder killed between creating the file and writing its record
    with pytest.raises(FolderLockedError, match="being written or was left unreadable"):
        FolderLock(tmp_path).acquire()  # it may be being written right now
    old = lock.stat().st_mtime - 60
    os.utime(lock, (old, old))
    with FolderLock(tmp_path):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
