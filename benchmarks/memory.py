"""Peak memory of ``run_prequential`` against the horizon and R (issue 19, bounded memory).

Each case runs in a fresh process under ``/usr/bin/time -v`` (its "Maximum resident set size"):
``BayesianLinearRegression`` on an ``InteractionStream`` (d = 1 + x_dim + x_dim(x_dim-1)/2), R
replicates, T steps, default ``block_memory`` (64 MiB) unless ``--block-memory-mb`` is given.
Beside the peak it reports the loop's peak (``VmHWM`` when the result tables start: the
loop's arrays and learners are freed by then), the result tables' own size
(``memory_usage(deep=True)``), the agent's own state (the bytes of the learner's arrays, measured
after the run) and the process's resident size after the imports and the environment and
agent are built, before the run (the "start"), so that

    peak - state: what the run holds beyond its agents (the acceptance: <= 200 MB, flat in T)

and, from a second process that steps the same agent alone for T steps on one design row (no
environment, no runner; pandas imported at the end as a run does), the run's peak minus the
agent's own peak: what the runner and the environment hold (the blocks), beside the agent's
state and the temporaries of its steps and periodic refreshes.

Run from the repository root (shared machine: the cases run one after another)::

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/memory.py \\
        --case 1000,10,1000 --case 1000,10,10000 --case 10000,6,1000 --case 10000,6,3000
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

from _timing import machine_note

CHILD = """
import resource, sys
import numpy as np
from regretlab.environments import InteractionStream
from regretlab.learners import BayesianLinearRegression
from regretlab.simulate import Agent, run_prequential


R, x_dim, T, budget = {R}, {x_dim}, {T}, {budget}
env = InteractionStream(x_dim=x_dim, horizon=T, n_replicates=R, seed=0)
learner = BayesianLinearRegression(groups=env.features, n_replicates=R)


def state_bytes(obj, seen=None):
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return obj.nbytes if obj.base is None else 0
    if isinstance(obj, dict):
        return sum(state_bytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(state_bytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        return state_bytes(vars(obj), seen)
    return 0


def vm_hwm():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
loop_peak = tables = -1
if {alone}:
    # The agent stepped alone, T steps on one reused design row: its own peak (state and the
    # temporaries of its steps and periodic refreshes), and pandas, which a run loads at the end.
    model = learner.clone()
    x, y = np.random.default_rng(1).uniform(-1, 1, size=(R, learner.mean.shape[-1])), np.zeros(R)
    for _ in range(T):
        model.predict_one(x)
        model.learn_one(x, y)
    import pandas
    result = None
else:
    import regretlab.simulate.prequential as prequential

    build = prequential._regret_table

    def regret_table(*args):
        # The loop's peak: the tables are built after the loop's arrays and learners are freed.
        global loop_peak
        loop_peak = vm_hwm()
        return build(*args)

    prequential._regret_table = regret_table
    options = {{}} if budget is None else {{"block_memory": budget}}
    result = run_prequential(env, [Agent("bayes", learner)], **options)
    tables = sum(int(t.memory_usage(deep=True).sum()) for t in result if t is not None)
# The learner the runner stepped is a clone; its final state has the same arrays' sizes.
learner.learn_one(env.features.transform(env.take(1).x[:, 0]), np.zeros(R))
print("STATE", state_bytes(learner), "START", start, "LOOP", loop_peak, "TABLES", tables)
"""


ENV = dict(os.environ)


def run_case(
    r: int, x_dim: int, horizon: int, budget: int | None, alone: bool = False
) -> dict[str, float]:
    code = CHILD.format(R=r, x_dim=x_dim, T=horizon, budget=budget, alone=alone)
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    seconds = time.perf_counter() - start
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1]) * 1024
    fields = done.stdout.split()
    state, begin = int(fields[fields.index("STATE") + 1]), int(fields[fields.index("START") + 1])
    loop, tables = int(fields[fields.index("LOOP") + 1]), int(fields[fields.index("TABLES") + 1])
    return {
        "peak": peak,
        "state": state,
        "start": begin,
        "loop": loop,
        "tables": tables,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--case",
        action="append",
        default=None,
        help="R,x_dim,T (repeatable); default the acceptance sizes at short horizons",
    )
    parser.add_argument("--block-memory-mb", type=float, default=None)
    parser.add_argument(
        "--fixed-mmap-threshold",
        action="store_true",
        help="run the children with MALLOC_MMAP_THRESHOLD_=131072 (glibc): large arrays are "
        "mapped and unmapped, so the resident size follows the live arrays rather than the "
        "heap's fragmentation",
    )
    parser.add_argument(
        "--skip-alone",
        action="store_true",
        help="do not run the agent-alone process (it steps row by row: hours at T = 100,000)",
    )
    args = parser.parse_args()
    if args.fixed_mmap_threshold:
        ENV["MALLOC_MMAP_THRESHOLD_"] = "131072"
    cases = args.case or ["1000,10,1000", "1000,10,3000", "10000,6,300", "10000,6,1000"]
    budget = None if args.block_memory_mb is None else int(args.block_memory_mb * 2**20)
    print(machine_note())
    print(f"block_memory: {'default (64 MiB)' if budget is None else budget} bytes")
    print(f"MALLOC_MMAP_THRESHOLD_={ENV.get('MALLOC_MMAP_THRESHOLD_', 'unset (dynamic)')}")
    print()
    print(
        "| R | d | T | peak RSS MB | agents' state MB | peak - state MB | loop's peak MB "
        "| loop's peak - state MB | result tables MB | RSS before the run MB "
        "| agent alone: peak MB | run - agent alone MB | wall s (run, alone) |"
    )
    print("|" + " ---: |" * 13)
    for case in cases:
        r, x_dim, horizon = (int(v) for v in case.split(","))
        d = 1 + x_dim + x_dim * (x_dim - 1) // 2
        m = run_case(r, x_dim, horizon, budget)
        nan = {"peak": float("nan"), "seconds": float("nan")}
        a = nan if args.skip_alone else run_case(r, x_dim, horizon, budget, alone=True)
        mb = 1e6
        print(
            f"| {r} | {d} | {horizon} | {m['peak'] / mb:.0f} | {m['state'] / mb:.0f} | "
            f"{(m['peak'] - m['state']) / mb:.0f} | {m['loop'] / mb:.0f} | "
            f"{(m['loop'] - m['state']) / mb:.0f} | {m['tables'] / mb:.0f} | "
            f"{m['start'] / mb:.0f} | {a['peak'] / mb:.0f} "
            f"| {(m['peak'] - a['peak']) / mb:.0f} | {m['seconds']:.0f}, {a['seconds']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
