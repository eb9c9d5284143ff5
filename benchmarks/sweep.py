"""Sweeps (issue 7): throughput of a 1,000-task sweep on 1 and 2 workers, and overhead per task.

Two experiments of ``--tasks`` tasks each (``--environments`` environments x chunks):

- **work**: every task is ``chunk_size=4`` replicates of ``InteractionStream(x_dim=4)`` for
  ``--horizon`` steps with two agents (main effects, and an evidence switch on the pairwise
  group): a few tens of milliseconds of simulation.
- **tiny**: every task is one replicate, one step, one agent: the time per task is then almost
  all overhead (planning, pickling, the executor's round trip, the two Parquet files and the
  manifest line written by the driver).

Each is run by ``run_sweep`` into a fresh folder on: this process (``--workers 0``), a process
pool of 1 and 2 workers, and a dask ``LocalCluster`` of 1 and 2 workers on 127.0.0.1. Workers
are started and warmed up before the clock starts. Reported: wall time, tasks/s, the scaling
ratio (2 workers / 1 worker), and for the tiny sweep the overhead per task (wall time / tasks
minus the in-worker compute time recorded in the manifest). Every run's rows are checked to be
identical to the in-process run's.

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/sweep.py            # --tasks 1000 --out DIR
"""

from __future__ import annotations

# Nothing heavy at the top: spawned pool workers import this script as their main module.
import argparse
import os
import time


def _warm(_: object = None) -> int:
    import regretlab.experiments.sweep  # noqa: F401  (loaded once per worker, before the clock)

    return os.getpid()


def _experiment(kind: str, n_tasks: int, n_envs: int, horizon: int) -> object:
    from regretlab.experiments.experiment import parse_experiment

    per_env = n_tasks // n_envs
    if kind == "work":
        chunk, env_horizon = 4, horizon
        agents = {
            "main": {
                "learner": {
                    "type": "BayesianLinearRegression",
                    "prior_variance": {"pairwise": 0.0},
                }
            },
            "switch": {
                "learner": {
                    "type": "BayesianLinearRegression",
                    "prior_variance": {"pairwise": 0.0},
                },
                "scheduler": {"type": "EvidenceSwitch", "every": 10},
            },
        }
    else:
        chunk, env_horizon = 1, 1
        agents = {"main": {"learner": {"type": "BayesianLinearRegression"}}}
    environments = {
        f"env{e:02d}": {
            "type": "InteractionStream",
            "x_dim": 4,
            "interaction_scale": 0.1 * e,
            "noise_level": 1.0,
        }
        for e in range(n_envs)
    }
    return parse_experiment(
        {
            "name": f"bench-{kind}",
            "seed": 1,
            "horizon": env_horizon,
            "replicates": per_env * chunk,
            "chunk_size": chunk,
            "checkpoints": 10 if env_horizon > 1 else [1],
            "environments": environments,
            "agents": agents,
        }
    )


def _measure(experiment, folder, **where) -> dict:
    import json
    import shutil

    from regretlab.experiments.executors import open_executor
    from regretlab.experiments.sweep import run_sweep

    shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()[0]
    with open_executor(**where) as info:
        workers = max(1, info.capacity // 4)
        list(info.executor.map(_warm, range(4 * workers)))  # start and import before the clock
        start, cpu = time.perf_counter(), time.process_time()
        summary = run_sweep(experiment, folder, executor=info.executor, max_pending=info.capacity)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        description = info.description
    assert summary.complete, summary.failures
    lines = (folder / "manifest.jsonl").read_text().splitlines()
    compute = sum(json.loads(line)["seconds"] for line in lines)
    return {
        "executor": description,
        "tasks": summary.n_tasks,
        "wall_s": wall,
        "tasks_per_s": summary.n_tasks / wall,
        "compute_per_task_ms": 1e3 * compute / summary.n_tasks,
        "wall_per_task_ms": 1e3 * wall / summary.n_tasks,
        # The driver process's own CPU time (workers are other processes): its cost per task.
        "driver_cpu_per_task_ms": 1e3 * cpu / summary.n_tasks,
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--environments", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/out/sweep")
    parser.add_argument("--sweeps", nargs="+", default=["work", "tiny"], choices=["work", "tiny"])
    parser.add_argument(
        "--setups",
        nargs="+",
        default=["in this process", "pool 1", "pool 2", "dask 1", "dask 2"],
        help="a subset of the setups (the first one run is the rows' reference)",
    )
    args = parser.parse_args()

    from pathlib import Path

    import pandas as pd

    from _timing import machine_note
    from regretlab.experiments.storage import load_sweep

    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    setups = [
        ("in this process", {"workers": 0}),
        ("pool 1", {"workers": 1}),
        ("pool 2", {"workers": 2}),
        ("dask 1", {"dask_local": 1}),
        ("dask 2", {"dask_local": 2}),
    ]
    setups = [(label, where) for label, where in setups if label in args.setups]
    rows = []
    for kind in args.sweeps:
        experiment = _experiment(kind, args.tasks, args.environments, args.horizon)
        reference = None
        for label, where in setups:
            folder = root / f"{kind}-{label.replace(' ', '_')}"
            row = {"sweep": kind, "setup": label, **_measure(experiment, folder, **where)}
            regret = load_sweep(folder).regret
            if reference is None:
                reference = regret
            row["identical_rows"] = bool(regret.equals(reference))
            rows.append(row)
            print(
                f"{kind:5s} {label:16s} {row['wall_s']:7.2f} s {row['tasks_per_s']:8.1f} tasks/s "
                f"compute {row['compute_per_task_ms']:6.2f} ms/task "
                f"driver CPU {row['driver_cpu_per_task_ms']:5.2f} ms/task "
                f"identical={row['identical_rows']} "
                f"load {row['load_before']:.1f}-{row['load_after']:.1f}",
                flush=True,
            )
    table = pd.DataFrame(rows)
    for kind in args.sweeps:
        part = table[table["sweep"] == kind].set_index("setup")
        for engine in ("pool", "dask"):
            if f"{engine} 2" not in part.index or f"{engine} 1" not in part.index:
                continue
            ratio = part.loc[f"{engine} 2", "tasks_per_s"] / part.loc[f"{engine} 1", "tasks_per_s"]
            print(f"{kind}: {engine} scaling 2 workers / 1 worker = {ratio:.2f}x")
    tiny = table[table["sweep"] == "tiny"]
    for _, row in tiny.iterrows():
        overhead = row["wall_per_task_ms"] - row["compute_per_task_ms"] / (
            2 if row["setup"].endswith("2") else 1
        )
        print(f"tiny: {row['setup']:16s} overhead per task {overhead:.2f} ms")
    table.to_csv(root / "sweep_benchmark.csv", index=False)
    print(machine_note())


if __name__ == "__main__":
    main()
