"""Sweeps: environments x agents x replicates, split into tasks, run on any executor, resumable.

A **task** is one environment x one replicate chunk (``chunk_size`` replicates, fixed by the
experiment, never by the number of workers) with every agent: the agents of a replicate face
the same draws (common random numbers), so their differences are paired.

The **seed tree** is derived in the driver before anything is sent anywhere::

    SeedSequence(seed)
    └── environment e                   children(root, n_environments)[e]
        └── chunk c                     children(environment, n_chunks)[c]
            ├── environment draws       children(chunk, 3)[0]  (base, then one per drift)
            ├── policies                children(chunk, 3)[1]  (one per agent, in run_bandit)
            ├── learners                children(chunk, 3)[2]  (one per agent)
            └── feedback delays         children(chunk, 4)[3]  (one per replicate, if any)

:func:`regretlab._random.children` derives child ``i`` without advancing its parent, so the tree
is the same on every run: a task's rows depend on the experiment alone, whatever the executor,
the number of workers, the order tasks finish in, or whether the sweep was resumed.

Results go to a :class:`~regretlab.experiments.storage.SweepStore` folder (one Parquet file per
task and table, written by local workers themselves; a manifest); reruns skip finished tasks.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import pickle
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from regretlab._random import children
from regretlab.experiments._task_files import EVENT_DTYPES, write_task_files
from regretlab.experiments.executors import InProcessExecutor
from regretlab.experiments.experiment import Experiment
from regretlab.experiments.lock import FolderLock
from regretlab.experiments.storage import SweepStore

__all__ = ["SweepSummary", "Task", "TaskFailure", "TaskOutput", "execute_task", "plan_tasks"]
__all__ += ["run_sweep", "run_task"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """One environment x replicate chunk, with its seeds (derived in the driver).

    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> task = plan_tasks(exp)[0]
    >>> task, task.id
    (Task(index=0, environment='e', chunk=0, start=0, stop=2), 'e-00000')
    """

    index: int
    environment: str
    chunk: int
    start: int
    stop: int
    environment_seed: np.random.SeedSequence = field(repr=False)
    policy_seed: np.random.SeedSequence = field(repr=False)
    learner_seed: np.random.SeedSequence = field(repr=False)

    @property
    def id(self) -> str:
        """File stem and manifest key: ``<environment>-<chunk, 5 digits>``."""
        return f"{self.environment}-{self.chunk:05d}"

    def describe(self) -> dict[str, Any]:
        """The task's parameters, as reported with a failure and stored in the manifest."""
        seed = self.environment_seed
        return {
            "environment": self.environment,
            "chunk": self.chunk,
            "replicates": [self.start, self.stop],
            "seed_entropy": int(seed.entropy),  # type: ignore[arg-type]
            "spawn_key": list(seed.spawn_key[:-1]),
        }


def plan_tasks(experiment: Experiment) -> list[Task]:
    """Every task of ``experiment`` in a fixed order (environment-major), with its seeds.

    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 3, "horizon": 20, "replicates": 5, "chunk_size": 2,
    ...     "environments": {"a": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"b": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> [(t.id, t.start, t.stop) for t in plan_tasks(exp)]
    [('a-00000', 0, 2), ('a-00001', 2, 4), ('a-00002', 4, 5)]
    >>> plan_tasks(exp)[1].describe()["spawn_key"]
    [0, 1]
    """
    tasks = []
    root = np.random.SeedSequence(experiment.seed)
    envs = experiment.environments
    for e, (spec, env_seed) in enumerate(zip(envs, children(root, len(envs)), strict=True)):
        for c, chunk_seed in enumerate(children(env_seed, experiment.n_chunks)):
            start = c * experiment.chunk_size
            stop = min(start + experiment.chunk_size, experiment.replicates)
            env_part, policy_part, learner_part = children(chunk_seed, 3)
            index = e * experiment.n_chunks + c
            seeds = (env_part, policy_part, learner_part)
            tasks.append(Task(index, spec.name, c, start, stop, *seeds))
    return tasks


def run_task(experiment: Experiment, task: Task) -> dict[str, pd.DataFrame]:
    """Run one task: ``regret``, ``events`` (and ``coefficients``, or a bandit's ``choices``),
    replicates numbered globally (the task's ``start`` added).

    The experiment's plugin modules are imported first, by name: a pool or dask worker builds
    the components from the resolved experiment, as the driver did.

    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> tables = run_task(exp, plan_tasks(exp)[0])
    >>> sorted(tables), tables["regret"].shape
    (['events', 'regret'], (40, 6))
    """
    from regretlab.simulate import run_bandit, run_prequential

    experiment.import_plugins()

    env = experiment.build_environment(
        task.environment, n_replicates=task.stop - task.start, seed=task.environment_seed
    )
    agents = experiment.build_agents(env, seed=task.learner_seed)
    checkpoints = np.asarray(experiment.checkpoints)
    options: dict[str, Any] = {"checkpoints": checkpoints, "environment": task.environment}
    options["feedback"] = experiment.build_feedback(task.environment_seed)
    if experiment.block_memory is not None:
        options["block_memory"] = experiment.block_memory
    if experiment.stream == "prequential":
        track = experiment.track_coefficients
        result = run_prequential(env, agents, track_coefficients=track, **options)
        tables = {"regret": result.regret, "events": result.events}
        if experiment.track_coefficients:
            tables["coefficients"] = result.coefficients
    else:
        outcome = run_bandit(env, agents, seed=task.policy_seed, **options)
        tables = {"regret": outcome.regret, "events": outcome.events, "choices": outcome.choices}
    tables["events"] = tables["events"].astype(EVENT_DTYPES)
    for table in tables.values():
        if "replicate" in table:
            table["replicate"] = table["replicate"].astype(np.int64) + task.start
    return tables


@dataclass(frozen=True)
class TaskOutput:
    """A finished task's tables and its run time in the worker (see :func:`execute_task`).

    >>> TaskOutput("e-00000", {"regret": pd.DataFrame()}, seconds=0.5).task_id
    'e-00000'
    """

    task_id: str
    tables: dict[str, pd.DataFrame]
    seconds: float
    written: dict[str, Any] | None = None  # the files' manifest fields, if the worker wrote them


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised (or whose worker died): its parameters, the error and traceback.

    >>> import dataclasses
    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> task = dataclasses.replace(plan_tasks(exp)[0], environment="nope")
    >>> failure = execute_task(exp, task)
    >>> print(failure.error, failure.describe()["replicates"])
    KeyError: "no environment 'nope'; environments: ['e']" [0, 2]
    """

    task: Task
    error: str
    traceback: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "task": self.task.id,
            **self.task.describe(),
            "error": self.error,
            "traceback": self.traceback,
        }


def execute_task(
    experiment: Experiment, task: Task, folder: Path | None = None
) -> TaskOutput | TaskFailure:
    """:func:`run_task` in a worker; an exception comes back as a :class:`TaskFailure`. With a
    results ``folder`` the worker writes the task's files there and returns no tables.

    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> output = execute_task(exp, plan_tasks(exp)[0])
    >>> type(output).__name__, output.task_id, sorted(output.tables)
    ('TaskOutput', 'e-00000', ['events', 'regret'])
    """
    start = time.perf_counter()
    try:
        tables = run_task(experiment, task)
        seconds = time.perf_counter() - start
        if folder is not None:
            return TaskOutput(task.id, {}, seconds, write_task_files(folder, task.id, tables))
    except Exception as exc:
        return TaskFailure(task, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return TaskOutput(task.id, tables, seconds)


@dataclass(frozen=True)
class SweepSummary:
    """What a call to :func:`run_sweep` did (its example runs one).

    >>> SweepSummary(Path("out"), 4, n_skipped=1, n_done=3, failures=(), n_not_run=0,
    ...              seconds=1.0).complete
    True
    """

    out_dir: Path
    n_tasks: int
    n_skipped: int
    n_done: int
    failures: tuple[TaskFailure, ...]
    n_not_run: int
    seconds: float
    #: ``"<task>: <file>: <reason>"`` for each finished task whose files differed from the
    #: manifest's hashes, and that this run therefore redid
    damaged: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every task of the experiment is finished (now or by an earlier run)."""
        return self.n_skipped + self.n_done == self.n_tasks


def _outcome(future: cf.Future, task: Task) -> TaskOutput | TaskFailure:
    try:
        return future.result()
    except Exception as exc:  # the executor failed, not the task: a dead worker, a lost cluster
        return TaskFailure(task, f"{type(exc).__name__}: {exc} (the worker running it failed)")


_UNPICKLED: dict[bytes, Experiment] = {}  # a worker's experiment, unpickled once


def _execute_pickled(blob: bytes, task: Task, folder: Path | None) -> TaskOutput | TaskFailure:
    """:func:`execute_task` on the experiment the driver pickled once for all its tasks."""
    experiment = _UNPICKLED.get(blob) or _UNPICKLED.setdefault(blob, pickle.loads(blob))
    return execute_task(experiment, task, folder)


def run_sweep(
    experiment: Experiment,
    out_dir: str | os.PathLike[str],
    *,
    executor: cf.Executor | None = None,
    max_pending: int = 64,
    progress: bool = False,
    break_lock: bool = False,
) -> SweepSummary:
    """Run every unfinished task of ``experiment`` on ``executor`` and store it in ``out_dir``.

    Parameters
    ----------
    experiment
        From :func:`~regretlab.experiments.experiment.load_experiment`.
    out_dir
        Results folder: created if missing; an earlier run of the same experiment is resumed;
        a folder of another experiment is refused
        (:class:`~regretlab.experiments.storage.SweepFolderError`) before anything is written.
    executor
        Any :class:`concurrent.futures.Executor` (see
        :func:`regretlab.experiments.executors.open_executor`); ``None`` runs in this process.
        The caller owns it and shuts it down.
    max_pending
        Tasks submitted ahead of the finished ones (bounds the driver's memory).
    progress
        Show a progress bar on stderr.
    break_lock
        Remove another run's lock on ``out_dir``
        (:class:`~regretlab.experiments.lock.FolderLock`; a stale one of this host is taken
        over without it); otherwise a folder in use raises
        :class:`~regretlab.experiments.lock.FolderLockedError`.

    Returns
    -------
    A :class:`SweepSummary`. A task that raises is logged with its parameters, listed in
    ``failures`` (and ``failures.json``) and left unfinished for the next run; the others go on.

    Examples
    --------
    >>> import tempfile
    >>> from regretlab.experiments.experiment import parse_experiment
    >>> from regretlab.experiments.storage import load_sweep
    >>> exp = parse_experiment({"seed": 3, "horizon": 20, "replicates": 4, "chunk_size": 2,
    ...     "checkpoints": [10, 20],
    ...     "environments": {"a": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"b": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     first = run_sweep(exp, tmp)
    ...     again = run_sweep(exp, tmp)
    ...     rows = len(load_sweep(tmp).regret)
    >>> first.n_done, again.n_skipped, again.n_done, rows
    (2, 2, 0, 8)
    """
    store = SweepStore(out_dir)
    store.check(experiment)  # refuse another experiment's folder before taking its lock
    with FolderLock(store.root, break_lock=break_lock):
        return _run_locked(experiment, store, executor, max_pending, progress)


def _run_locked(
    experiment: Experiment, store: SweepStore, executor: cf.Executor | None, *options: Any
) -> SweepSummary:
    max_pending, progress = options
    started = time.perf_counter()
    tasks = plan_tasks(experiment)
    store.prepare(experiment, len(tasks))
    finished, damaged = store.verify()
    for task_id, reason in damaged.items():
        logger.warning("%s: redoing task %s: %s", store.root, task_id, reason)
    todo = deque(t for t in tasks if t.id not in finished)
    n_skipped = len(tasks) - len(todo)
    if n_skipped:
        logger.info("%s: %d of %d tasks already finished", store.root, n_skipped, len(tasks))
    executor = InProcessExecutor() if executor is None else executor
    local = isinstance(executor, InProcessExecutor | cf.ProcessPoolExecutor)
    folder = store.root if local else None  # remote workers may not see the folder
    blob = pickle.dumps(experiment)  # once, not once per task
    running: dict[cf.Future, Task] = {}
    failures: list[TaskFailure] = []
    n_done = 0
    bar = tqdm(
        total=len(tasks),
        initial=n_skipped,
        desc=experiment.name,
        unit="task",
        disable=not progress,
        file=sys.stderr,
    )
    stopped = False
    try:
        while running or (todo and not stopped):
            while todo and not stopped and len(running) < max(1, max_pending):
                try:
                    future = executor.submit(_execute_pickled, blob, todo[0], folder)
                except RuntimeError as exc:  # a broken or shut-down executor takes no more
                    logger.error("%s: the executor stopped taking tasks: %s", store.root, exc)
                    stopped = True
                    break
                running[future] = todo.popleft()
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: running[f].index):
                task = running.pop(future)
                outcome = _outcome(future, task)
                if isinstance(outcome, TaskFailure):
                    failures.append(outcome)
                    logger.error("task %s failed (%s): %s", task.id, task.describe(), outcome.error)
                else:
                    info = {**task.describe(), "seconds": round(outcome.seconds, 6)}
                    store.save(task.id, outcome.tables, info, outcome.written)
                    n_done += 1
                bar.update()
    finally:
        bar.close()
        for future in running:
            future.cancel()
    store.write_failures([f.describe() for f in failures])
    redone = tuple(f"{task}: {reason}" for task, reason in damaged.items())
    seconds = time.perf_counter() - started
    summary = SweepSummary(
        store.root, len(tasks), n_skipped, n_done, tuple(failures), len(todo), seconds, redone
    )
    counts = (n_done, n_skipped, len(failures), len(todo), summary.seconds)
    logger.info("%s: %d tasks run, %d skipped, %d failed, %d not run, %.1f s", store.root, *counts)
    return summary
