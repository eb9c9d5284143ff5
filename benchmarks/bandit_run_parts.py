"""Where ``run_bandit``'s end-to-end time goes beyond the agent (issue 19, seventh session).

Two measurements on the cases of ``bandit_throughput.py`` (R = 1000):

- ``parts`` (default): ``run_bandit`` end to end with its parts timed from inside the same
  runs (CPU time, per step, best and median of ``--runs`` warm runs): the environment's
  blocks, the comparator (``best_available``), the feature map, ``policy.select``, the
  accounting, the chosen rows + ``learn_one``; the rest is the runner's own loop, its tables
  and the learner's clone.
- ``--processes N``: N fresh processes of the same code, each timing its cold first run, then
  three alternations of end to end (the environment timed inside), replayed and the agent
  alone, with each mode's minor page faults and the process's transparent huge pages: how much
  the "environment's share" estimated as e2e - replayed moves between processes, against the
  environment's own time measured inside the runs. ``--second-agent`` keeps a second, unused
  environment and agent alive during the end-to-end runs (a different memory placement).

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bandit_run_parts.py --case shared_ts
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bandit_run_parts.py --processes 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bandit_throughput as bt
import regretlab.simulate.bandit as runner
from regretlab.simulate import run_bandit

CLOCK = time.process_time
SPENT: dict[str, float] = {}
# The runner's helpers timed where run_bandit looks them up (its module's globals).
RUNNER_PARTS = {"account": "accounting", "_learn": "learn_one", "best_available": "comparator"}


def _timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        began = CLOCK()
        out = function(*args, **kwargs)
        SPENT[name] = SPENT.get(name, 0.0) + CLOCK() - began
        return out

    return run


class TimedEnvironment:
    """``env`` whose ``blocks()`` adds the time spent making each block to ``SPENT``."""

    def __init__(self, env: Any) -> None:
        self._env = env

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    def blocks(self, block_size: int | None = None) -> Iterator[Any]:
        made = self._env.blocks(block_size)
        while True:
            began = CLOCK()
            block = next(made, None)
            SPENT["environment"] = SPENT.get("environment", 0.0) + CLOCK() - began
            if block is None:
                return
            yield block


def _e2e(case: str, horizon: int, timed_agent: bool, made: Any = None) -> float:
    env, agent = bt._make(case, horizon) if made is None else made
    if timed_agent:
        fm = env.features if agent.features is None else agent.features
        fm.transform = _timed("feature map", fm.transform)
        agent.policy.select = _timed("policy.select", agent.policy.select)
    SPENT.clear()
    began = CLOCK()
    run_bandit(TimedEnvironment(env), [agent], seed=5, checkpoints=np.array([horizon]))
    return CLOCK() - began


def parts(case: str, runs: int) -> None:
    horizon = bt.HORIZON[case]
    for name, label in RUNNER_PARTS.items():
        setattr(runner, name, _timed(label, getattr(runner, name)))
    _e2e(case, horizon, True)  # warm: kernels loaded, memory touched
    totals, spent = [], []
    for _ in range(runs):
        totals.append(_e2e(case, horizon, True))
        spent.append(dict(SPENT))
    per_step = 1e3 / horizon
    print(f"{case} (R = {bt.R}, T = {horizon}), ms a step, best / median of {runs} runs")
    rest = [t - sum(s.values()) for t, s in zip(totals, spent, strict=True)]
    rows = {**{k: [s[k] for s in spent] for k in spent[0]}, "runner's own (rest)": rest}
    rows["end to end"] = totals
    middle = float(np.median(totals))
    for name, values in rows.items():
        best, median = min(values) * per_step, float(np.median(values)) * per_step
        print(f"  {name:22s} {best:7.3f} {median:7.3f}  {np.median(values) / middle:6.1%}")


def _huge_pages_kb() -> int:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("AnonHugePages"):
            return int(line.split()[1])
    return 0


def one_process(case: str, second_agent: bool) -> dict[str, Any]:
    """Cold first run, then 3 alternations of e2e / replay / alone (ms a step, faults)."""
    horizon = bt.HORIZON[case]
    per_step = 1e3 / horizon
    out: dict[str, Any] = {"cold": round(_e2e(case, horizon, False) * per_step, 3)}
    times: dict[str, list[float]] = {"e2e": [], "replay": [], "alone": [], "environment": []}
    faults: dict[str, list[int]] = {"e2e": [], "replay": [], "alone": []}
    replay = None
    for _ in range(3):
        for mode in faults:
            env, agent = bt._make(case, horizon)
            replay = bt._replay(case, env) if replay is None else replay
            # --second-agent: the end-to-end run makes its own environment and agent while these
            # stay alive unused (the memory placement the script had at first).
            made = None if second_agent else (env, agent)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            began = CLOCK()
            if mode == "e2e":
                _e2e(case, horizon, False, made)
                times["environment"].append(SPENT["environment"])
            elif mode == "replay":
                run_bandit(replay, [agent], seed=5, checkpoints=np.array([horizon]))
            else:
                bt._alone(env, replay, agent, 5)
            times[mode].append(CLOCK() - began)
            faults[mode].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    out.update({k: round(min(v) * per_step, 3) for k, v in times.items()})
    out["e2e - replay"] = round(out["e2e"] - out["replay"], 3)
    out["faults"] = {k: int(np.median(v)) for k, v in faults.items()}
    out["huge pages kB"] = _huge_pages_kb()
    out["load"] = round(os.getloadavg()[0], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="shared_ts", choices=["shared_ts", "disjoint_ts"])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--processes", type=int, default=0)
    parser.add_argument(
        "--second-agent", action="store_true", help="a second, unused agent alive in e2e runs"
    )
    parser.add_argument("--one-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_process:
        print(json.dumps(one_process(args.case, args.second_agent)))
    elif args.processes:
        command = [sys.executable, __file__, "--case", args.case, "--one-process"]
        command += ["--second-agent"] if args.second_agent else []
        print(f"{args.case}: {args.processes} processes, ms a step (minima of 3 warm runs)")
        for _ in range(args.processes):
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            print(" ", done.stdout.strip().splitlines()[-1], flush=True)
    else:
        parts(args.case, args.runs)


if __name__ == "__main__":
    main()
