"""Hardening (issue 20): what the content hashes and fsyncs cost a sweep per task.

A sweep of ``--tasks`` tiny tasks (one replicate, ``--horizon`` steps, one agent), so that the
time per task is mostly the driver's bookkeeping, runs in this process into fresh folders,
alternately as shipped (SHA-256 of each file in the manifest, each file and its folder synced
before and after the rename, page checksums on) and with the hashes and syncs switched off
(monkeypatched to no-ops, page checksums kept), best of ``--repeats``. Reported: seconds per
task of each and their ratio; the verification on resume (hashing every file) is timed too.

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/integrity_overhead.py     # --tasks 200
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _timing import machine_note
from regretlab import _io
from regretlab.experiments import storage
from regretlab.experiments.experiment import parse_experiment
from regretlab.experiments.storage import SweepStore
from regretlab.experiments.sweep import run_sweep


def _experiment(tasks: int, horizon: int):
    return parse_experiment(
        {
            "seed": 1, "horizon": horizon, "replicates": tasks, "chunk_size": 1,
            "checkpoints": [horizon],
            "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
            "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}},
        }
    )  # fmt: skip


def _time(exp, root: Path, plain: bool) -> float:
    folder = root / ("plain" if plain else "shipped")
    shutil.rmtree(folder, ignore_errors=True)
    saved = (_io._sync, storage.sha256)
    if plain:
        _io._sync = lambda path: None
        storage.sha256 = lambda path: "0" * 64
    try:
        start = time.perf_counter()
        run_sweep(exp, folder)
        return time.perf_counter() - start
    finally:
        _io._sync, storage.sha256 = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    exp = _experiment(args.tasks, args.horizon)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _time(exp, root, plain=False)  # warm-up: imports, caches
        shipped, plain = [], []
        for _ in range(args.repeats):
            shipped.append(_time(exp, root, plain=False))
            plain.append(_time(exp, root, plain=True))
        start = time.perf_counter()
        finished, damaged = SweepStore(root / "shipped").verify()
        verify = time.perf_counter() - start
        assert len(finished) == args.tasks
        assert not damaged
    a, b = min(shipped) / args.tasks, min(plain) / args.tasks
    print(f"machine: {machine_note()} (shared with other jobs)")
    print(f"{args.tasks} tasks of 1 replicate x {args.horizon} steps, in this process, best of "
          f"{args.repeats}")  # fmt: skip
    print(f"  with hashes and fsyncs:    {1000 * a:.2f} ms per task")
    print(f"  without (monkeypatched):   {1000 * b:.2f} ms per task")
    print(f"  ratio:                     {a / b:.2f}")
    print(f"  verify on resume (hash every file): {1000 * verify / args.tasks:.3f} ms per task")


if __name__ == "__main__":
    main()
