"""``regretlab run``: size the work, lock the folder, run or resume the sweep, say what happened.

Part of the command line (it prints); split from :mod:`regretlab.cli` to keep modules small.
Nothing heavy is imported at the top, as in :mod:`regretlab.cli`. Every failure of the inputs
or the folder is one line naming the file or argument, with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

__all__ = ["import_plugins", "run"]


def _error(message: object) -> int:
    print(f"regretlab run: error: {message}", file=sys.stderr)
    return 2


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def import_plugins(command: str, modules: list[str]) -> bool:
    """Import the ``--import`` modules; print the error and return False if one fails."""
    from regretlab.experiments.plugins import PluginError, import_plugin

    for module in modules:
        try:
            import_plugin(module)
        except PluginError as exc:
            print(f"regretlab {command}: error: argument --import: {exc}", file=sys.stderr)
            return False
    return True


def run(args: argparse.Namespace) -> int:
    """Run the sweep as ``regretlab run`` parsed it; return the exit code."""
    from regretlab.experiments.executors import BLAS_VARIABLES

    # Before numpy loads: tasks run in this process match pool workers' single BLAS thread.
    for name in BLAS_VARIABLES:
        os.environ.setdefault(name, "1")
    from regretlab.experiments.executors import open_executor
    from regretlab.experiments.experiment import ExperimentError, load_experiment
    from regretlab.experiments.lock import FolderLock, FolderLockedError
    from regretlab.experiments.sizing import estimate_work
    from regretlab.experiments.storage import SweepFolderError, SweepStore
    from regretlab.experiments.sweep import plan_tasks, run_sweep

    if not import_plugins("run", args.imports):
        return 2
    try:
        experiment = load_experiment(args.experiment, imports=args.imports)
        if getattr(args, "block_memory_mb", None) is not None:
            memory = max(1, int(args.block_memory_mb * 2**20))
            experiment = dataclasses.replace(experiment, block_memory=memory)
        out = Path("regretlab-out") / experiment.name if args.out is None else args.out
        resuming = SweepStore(out).check(experiment)
        size = estimate_work(experiment)
    except (ExperimentError, SweepFolderError) as exc:
        return _error(exc)
    except (ValueError, TypeError) as exc:  # a component refusing its size or arguments
        return _error(f"{args.experiment}: {exc}")
    except Exception as exc:  # a plugin component failing to build or step: the run would too
        return _error(f"{args.experiment}: cannot size the work: {type(exc).__name__}: {exc}")
    print(f"regretlab run: {experiment.name}: {size.describe()}", file=sys.stderr)
    if size.too_large and not args.allow_large:
        gib = size.machine_bytes / 2**30
        return _error(
            f"{args.experiment}: the estimate exceeds half of this machine's memory "
            f"({gib:.1f} GiB): lower chunk_size or replicates, or rerun with --allow-large"
        )
    tasks = plan_tasks(experiment)
    try:
        finished, damaged = SweepStore(out).verify() if resuming else ({}, {})
    except OSError as exc:
        return _error(exc)
    n_tasks, pending = len(tasks), sum(t.id not in finished for t in tasks)
    where = {"workers": args.workers, "scheduler": args.scheduler, "dask_local": args.dask_local}
    if pending == 0:
        where = {"workers": 0}  # nothing to run: start no workers and no cluster
    for task, reason in damaged.items():
        print(f"regretlab run: task {task} will be redone: {reason}", file=sys.stderr)
    try:
        # Locked before any worker or cluster starts; run_sweep takes the same lock, nested.
        with FolderLock(out, break_lock=args.break_lock), open_executor(**where) as info:
            on = (
                info.description
                if info.description.startswith("in ")
                else (f"on {info.description}")
            )
            print(
                f"regretlab run: {experiment.name}: {pending} of {_plural(n_tasks, 'task')} "
                f"to run {on} -> {out.resolve()}",
                file=sys.stderr,
            )
            summary = run_sweep(
                experiment,
                out,
                executor=info.executor,
                max_pending=info.capacity,
                progress=not args.no_progress,
                break_lock=args.break_lock,
            )
    except KeyboardInterrupt:
        print(
            f"regretlab run: interrupted; finished tasks are kept in {out}: run the same "
            "command again to resume",
            file=sys.stderr,
        )
        return 130
    except (FolderLockedError, SweepFolderError, OSError) as exc:
        return _error(exc)
    for failure in summary.failures:
        print(
            f"regretlab run: task {failure.task.id} failed ({failure.task.describe()}): "
            f"{failure.error}",
            file=sys.stderr,
        )
    redone = f" (of which {len(summary.damaged)} redone: damaged)" if summary.damaged else ""
    print(
        f"regretlab run: {_plural(summary.n_done, 'task')} run{redone}, "
        f"{summary.n_skipped} already done, {len(summary.failures)} failed, "
        f"{summary.n_not_run} not run ({summary.seconds:.1f} s); results in {out.resolve()}"
    )
    if not summary.complete:
        print(
            "  unfinished: see failures.json; run the same command again to retry",
            file=sys.stderr,
        )
        return 1
    print(f"  next: regretlab report {out}")
    return 0
