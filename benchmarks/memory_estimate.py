"""Hardening (issue 20): ``estimate_work``'s peak memory per task against a worker's measured peak.

For three task sizes (replicates per task x design dimension), a fresh Python process does what
``regretlab run`` does before starting workers (loads the experiment and calls
:func:`regretlab.experiments.sizing.estimate_work`), and another fresh process does what a pool
worker does (imports regretlab, runs one task with :func:`run_task`) and reports its peak
resident size (``ru_maxrss``). The acceptance is a ratio estimate / measured within [0.5, 2].

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/memory_estimate.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from _timing import machine_note

# (label, replicates per task, InteractionStream x_dim -> features 1 + d + d(d-1)/2, horizon)
SIZES = [
    ("small", 4, 3, 200),
    ("medium", 200, 10, 200),
    ("large", 400, 18, 100),
]

_EXPERIMENT = """
import json, sys
from regretlab.experiments.experiment import parse_experiment
replicates, x_dim, horizon = {replicates}, {x_dim}, {horizon}
exp = parse_experiment({{"seed": 1, "horizon": horizon, "replicates": replicates,
    "chunk_size": replicates, "checkpoints": 30,
    "environments": {{"e": {{"type": "InteractionStream", "x_dim": x_dim}}}},
    "agents": {{"main": {{"learner": {{"type": "BayesianLinearRegression",
                                      "prior_variance": {{"pairwise": 0.0}}}}}},
               "full": {{"learner": {{"type": "BayesianLinearRegression"}}}}}}}})
"""

_ESTIMATE = """
from regretlab.experiments.sizing import estimate_work
print(json.dumps(estimate_work(exp)._asdict()))
"""

_MEASURE = """
import resource
from regretlab.experiments.sweep import plan_tasks, run_task
run_task(exp, plan_tasks(exp)[0])
print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def _python(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"machine: {machine_note()} (shared with other jobs)")
    print("| size | replicates/task | features | estimate MiB | measured peak RSS MiB | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, replicates, x_dim, horizon in SIZES:
        setup = _EXPERIMENT.format(replicates=replicates, x_dim=x_dim, horizon=horizon)
        estimate = _python(setup + _ESTIMATE)["task_bytes"]
        measured = _python(setup + _MEASURE)["peak"]
        features = 1 + x_dim + x_dim * (x_dim - 1) // 2
        print(
            f"| {label} | {replicates} | {features} | {estimate / 2**20:,.0f} | "
            f"{measured / 2**20:,.0f} | {estimate / measured:.2f} |"
        )


if __name__ == "__main__":
    main()
