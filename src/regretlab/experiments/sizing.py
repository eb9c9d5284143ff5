"""The size of a sweep before it runs: replicate-steps, and each task's peak memory, estimated.

A task's memory does not grow with the horizon (environments draw in blocks of a few MiB,
learners keep sufficient statistics), but with its replicates, the design's dimension and the
rows it records. The estimate measures rather than models it: each environment's task is run
for a few steps at 8 and at ``probe`` replicates under :mod:`tracemalloc` (numpy reports its
arrays there), the peak is extrapolated linearly to ``chunk_size`` replicates, the recorded
rows are scaled from the probe's to the experiment's checkpoints, and the resident size of this
process (interpreter, numpy, pandas, regretlab: what a worker loads too) is added, with the
environments' block buffers. ``benchmarks/memory_estimate.py`` compares it with the peak
resident size of a worker.

A learner so large that one replicate's state cannot fit in memory is refused by the learner
itself, before allocating (:func:`regretlab._validation.check_allocation`).
"""

from __future__ import annotations

import dataclasses
import tracemalloc
from pathlib import Path
from typing import NamedTuple

from regretlab._validation import physical_memory
from regretlab.experiments.experiment import Experiment
from regretlab.simulate._budget import DEFAULT_BLOCK_MEMORY

__all__ = ["WorkSize", "estimate_work"]

# The environments' block buffers are not reached by a probe of a few steps: the runners hold at
# most the experiment's block budget of them (``block_memory_mb``, by default the runners'
# DEFAULT_BLOCK_MEMORY, 64 MiB: the block being read and the next one), so that is allowed.
# A recorded table exists about three times at its peak: the runner's arrays, the DataFrame,
# and the Arrow table written to Parquet.
_TABLE_COPIES = 3
_PROBE_STEPS = 16
_TASK_BYTES = 2_000  # the driver's Task object with its three SeedSequences, measured ~1.5 kB


class WorkSize(NamedTuple):
    """What a sweep will do and hold (from :func:`estimate_work`).

    >>> size = WorkSize(10**6, 4, 200 * 2**20, 8 * 2**30, 8_000)
    >>> size.too_large, size.describe()
    (False, '1,000,000 replicate-steps in 4 tasks; estimated peak memory 200 MiB per task')
    """

    #: environments x replicates x horizon x agents: one agent's step of one replicate each
    replicate_steps: int
    n_tasks: int
    #: estimated peak resident memory of a process running one task, in bytes
    task_bytes: int
    #: this machine's physical memory, in bytes
    machine_bytes: int
    #: the driver's memory for the list of tasks, in bytes
    plan_bytes: int

    @property
    def too_large(self) -> bool:
        """A task, or the driver's list of tasks, needs more than half of this machine."""
        return max(self.task_bytes, self.plan_bytes) > self.machine_bytes / 2

    def describe(self) -> str:
        """One line: the work and the memory per task."""
        return (
            f"{self.replicate_steps:,} replicate-steps in {self.n_tasks:,} "
            f"task{'s' if self.n_tasks != 1 else ''}; estimated peak memory "
            f"{_bytes(self.task_bytes)} per task"
        )


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit != "GiB" else f"{value:,.1f} GiB"
        value /= 1024
    raise AssertionError  # pragma: no cover


def _resident() -> int:
    """This process's resident size (Linux), else its peak so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    import resource  # pragma: no cover

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # pragma: no cover


def _probe(experiment: Experiment, environment: int, replicates: int) -> tuple[int, int]:
    """Traced peak bytes of a short task at ``replicates``, and the rows' bytes it recorded."""
    from regretlab.experiments.sweep import plan_tasks, run_task

    steps = min(experiment.horizon, _PROBE_STEPS)
    short = dataclasses.replace(
        experiment,
        horizon=steps,
        replicates=replicates,
        chunk_size=replicates,
        checkpoints=(steps,),
        # Without drift wrappers, whose change steps may lie past the probe's few steps.
        environments=(dataclasses.replace(experiment.environments[environment], drift=()),),
    )
    tracemalloc.start()
    try:
        tables = run_task(short, plan_tasks(short)[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rows = sum(int(t.memory_usage(deep=True).sum()) for t in tables.values())
    return peak, rows


def _block_allowance(experiment: Experiment) -> int:
    """The environments' block buffers a task may hold: the experiment's block budget."""
    budget = experiment.block_memory
    return DEFAULT_BLOCK_MEMORY if budget is None else int(budget)


def estimate_work(experiment: Experiment, *, probe: int = 64) -> WorkSize:
    """Size ``experiment``: its replicate-steps and each task's estimated peak memory.

    Runs every environment's task for a few steps at 8 and ``probe`` replicates (at most
    ``chunk_size``) in this process (about a second for the examples); see the module notes.

    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 1, "horizon": 1000, "replicates": 40, "chunk_size": 20,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 3}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> size = estimate_work(exp)
    >>> size.replicate_steps, size.n_tasks, 2**20 < size.task_bytes < 2**30, size.too_large
    (40000, 2, True, False)
    """
    chunk = experiment.chunk_size
    # Two probes past the smallest batches: learners switch to their batched paths at 8
    # replicates, and their buffers stop growing with the batch by about 64.
    low, high = min(8, chunk), min(probe, chunk)
    n_agents = len(experiment.agents)
    n_envs = len(experiment.environments)
    n_checkpoints = len(experiment.checkpoints)
    worst = 0
    for e in range(n_envs):
        small, small_rows = _probe(experiment, e, low)
        if high > low:
            large, large_rows = _probe(experiment, e, high)
            slope = max(0.0, (large - small) / (high - low))
        else:
            large_rows, slope = small_rows, 0.0
        arrays = small + slope * (chunk - low)
        rows = large_rows / high * chunk * n_checkpoints * _TABLE_COPIES
        worst = max(worst, int(arrays + rows))
    n_tasks = n_envs * experiment.n_chunks
    return WorkSize(
        replicate_steps=n_envs * experiment.replicates * experiment.horizon * n_agents,
        n_tasks=n_tasks,
        task_bytes=_resident() + _block_allowance(experiment) + worst,
        machine_bytes=physical_memory(),
        plan_bytes=n_tasks * _TASK_BYTES,
    )
