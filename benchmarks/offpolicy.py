"""Off-policy evaluation against the truth (issue 18): simulated logs, bundled data sets, memory.

1. ``simulated``: ``LinearBandit(n_actions=3, context_dim=2, interaction_scale=1,
   noise_level=1)``, ``--replicates`` replicates of ``--horizon`` steps logged by a uniform, an
   epsilon-greedy (0.2) and a Thompson-sampling policy (both learning with
   ``BayesianLinearRegression``; Thompson sampling's propensities by ``--draws`` Monte Carlo
   draws per decision). Targets: uniform, and epsilon-greedy (0.1) on the true means. Every
   estimator's bias (with its standard error), RMSE, 95%-interval coverage and ESS against the
   log's prefix length, as a table and a PNG figure per logger x target.
2. ``supervised``: classification sets bundled with scikit-learn (iris, wine, breast_cancer)
   and river (ImageSegments) by the bake-off protocol (Bietti, Agarwal & Langford 2021): each
   replicate shuffles the rows once and logs one pass uniformly at random (propensity 1/K);
   the reward is 1 for the true class, so every target's value is exact. Target: epsilon-greedy
   (0.1) on a ridge model fitted with full information on the whole set (a fixed, good policy).
3. ``memory``: a 10^6-step run (one stream, 5 actions, 6 context inputs) with and without a
   ``ParquetLog`` (blocks of 65536 rows), each in its own process: the rise of the peak
   resident memory during the run above the memory before it (Linux ``VmHWM``, reset after the
   imports), the whole process's peak by ``/usr/bin/time -v`` (imports included), the wall time
   and the file size; at a tenth of the steps too, to show that the log's share does not grow.

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/offpolicy.py --out /tmp/offpolicy
    OPENBLAS_NUM_THREADS=1 python benchmarks/offpolicy.py --parts simulated --replicates 50
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from regretlab.environments import LinearBandit, SupervisedBandit
from regretlab.learners import BayesianLinearRegression
from regretlab.offpolicy import (
    IPS,
    SNIPS,
    DirectMethod,
    DoublyRobust,
    MemoryLog,
    RidgeRewardModel,
    SwitchDR,
    error_table,
    summarise_errors,
    target_probabilities,
)
from regretlab.plots import offpolicy_figure, save_figure
from regretlab.policies import EpsilonGreedy, Random, ThompsonSampling
from regretlab.simulate import Agent, run_bandit

sys.path.insert(0, str(Path(__file__).parent))
from _timing import machine_note

MAIN_EFFECTS = ("intercept", "context", "action")


def estimators() -> dict[str, object]:
    main = RidgeRewardModel(groups=MAIN_EFFECTS)
    return {
        "DM": DirectMethod(),
        "DM (main effects)": DirectMethod(reward_model=main),
        "IPS": IPS(),
        "IPS clip 10": IPS(clip=10.0),
        "SNIPS": SNIPS(),
        "DR": DoublyRobust(),
        "DR (main effects)": DoublyRobust(reward_model=main),
        "switch-DR tau 10": SwitchDR(tau=10.0),
    }


def markdown(table: pd.DataFrame, columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in table[columns].itertuples(index=False):
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def simulated(args: argparse.Namespace, out: Path) -> pd.DataFrame:
    r = args.replicates
    env = LinearBandit(
        n_actions=3,
        context_dim=2,
        interaction_scale=1.0,
        noise_level=1.0,
        horizon=args.horizon,
        n_replicates=r,
        seed=args.seed,
    )

    def blr():
        return BayesianLinearRegression(groups=env.features.groups, n_replicates=r)

    agents = [
        Agent("uniform", policy=Random()),
        Agent("epsilon-greedy", blr(), policy=EpsilonGreedy(0.2)),
        Agent("thompson", blr(), policy=ThompsonSampling(propensity_draws=args.draws)),
    ]
    start = time.perf_counter()
    log = MemoryLog()
    run_bandit(env, agents, seed=args.seed + 1, log_to=log)
    print(f"simulated: logged {len(agents)} agents in {time.perf_counter() - start:.1f} s")
    sizes = [n for n in (100, 300, 1000, 3000, 10000) if n <= args.horizon]
    frames = []
    for agent in agents:
        logged = log.logged(agent.name)
        targets = {
            "uniform": target_probabilities(Random(), logged),
            "epsilon-oracle": target_probabilities(EpsilonGreedy(0.1), logged, model="truth"),
        }
        table = summarise_errors(error_table(logged, targets, estimators(), sizes))
        frames.append(table.assign(logger=agent.name))
        for target in targets:
            fig = offpolicy_figure(table, target, f"log: {agent.name}, target: {target}")
            save_figure(fig, out / f"offpolicy_{agent.name}_{target}.png")
    return pd.concat(frames, ignore_index=True)


def _target_model(env: SupervisedBandit) -> BayesianLinearRegression:
    """Ridge (prior variance 1) fitted on every row x action with its known reward."""
    block = env.take(env.n_rows)
    rows = env.features.transform(block.context)  # (n, K, p)
    model = BayesianLinearRegression(groups=env.features.groups)
    return model.learn_many(rows.reshape(-1, rows.shape[-1]), block.rewards.reshape(-1))


def supervised(args: argparse.Namespace) -> pd.DataFrame:
    sets = [
        ("sklearn", "iris"),
        ("sklearn", "wine"),
        ("sklearn", "breast_cancer"),
        ("river", "ImageSegments"),
    ]
    frames = []
    for source, name in sets:
        loader = (
            SupervisedBandit.from_sklearn if source == "sklearn" else SupervisedBandit.from_river
        )
        env = loader(name, n_replicates=args.supervised_replicates, seed=args.seed)
        log = MemoryLog()
        start = time.perf_counter()
        run_bandit(env, [Agent("uniform", policy=Random())], seed=args.seed + 1, log_to=log)
        logged = log.logged("uniform")
        model = _target_model(
            SupervisedBandit.from_sklearn(name)
            if source == "sklearn"
            else SupervisedBandit.from_river(name)
        )
        pi = target_probabilities(EpsilonGreedy(0.1), logged, model=model, features=env.features)
        chosen = {k: v for k, v in estimators().items() if "main" not in k}
        table = summarise_errors(error_table(logged, {"eps-ridge": pi}, chosen))
        truth = float((pi * logged.means).sum(-1).mean())
        frames.append(
            table.assign(dataset=f"{source}:{name}", rows=env.n_rows, K=env.n_actions, truth=truth)
        )
        print(f"supervised {name}: {time.perf_counter() - start:.1f} s")
    return pd.concat(frames, ignore_index=True)


_CHILD = """
import os, tempfile, time
import pyarrow as pa, pyarrow.parquet as pq
from regretlab.environments import LinearBandit
from regretlab.offpolicy import ParquetLog
from regretlab.policies import Random
from regretlab.simulate import Agent, run_bandit

def kb(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field))

env = LinearBandit(n_actions=5, context_dim=6, horizon={steps}, seed=0)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "log.parquet")
    log = ParquetLog(path, block_rows={block}) if {logged} else None
    # Parquet's code: a first write pages in ~50 MB of pyarrow's shared libraries (file-backed,
    # once per process, whatever is written), so both modes write a one-row file first, and a
    # two-step logged run (the log's own code path: dictionary column, cast, row groups).
    pq.write_table(pa.table({{"x": [1.0], "s": ["a"], "b": [True]}}), path + ".warm")
    warm = LinearBandit(n_actions=5, context_dim=6, horizon=2, seed=0)
    run_bandit(warm, [Agent("uniform", policy=Random())], seed=1, log_to=ParquetLog(path + ".w2"))
    # Reset the peak (Linux: VmHWM) after the imports, whose own peak is larger than a run's.
    open("/proc/self/clear_refs", "w").write("5")
    before = kb("VmRSS:")
    start = time.perf_counter()
    run_bandit(env, [Agent("uniform", policy=Random())], seed=1, log_to=log)
    took = time.perf_counter() - start
    size = os.path.getsize(path) if {logged} else 0
    print(before, kb("VmHWM:"), took, size)
"""


def memory(args: argparse.Namespace) -> pd.DataFrame:
    """Peak resident memory of the run above the process's memory before it (Linux), at a
    tenth of ``--memory-steps`` and at all of them: a log held in memory would grow 10x."""
    rows = []
    block = 1 << 16
    # Pairs alternated, repeated: the peak of one run varies by several MB between runs.
    for repeat, steps, logged in [
        (i, n, logged)
        for i in range(args.memory_repeats)
        for n in (args.memory_steps // 10, args.memory_steps)
        for logged in (0, 1)
    ]:
        code = _CHILD.format(steps=steps, block=block, logged=bool(logged))
        # Also the whole process's peak by /usr/bin/time -v (imports included), where there.
        timed = ["/usr/bin/time", "-v"] if os.path.exists("/usr/bin/time") else []
        done = subprocess.run(
            [*timed, sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ},
        )
        before, peak, took, size = done.stdout.split()
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        rows.append(
            {
                "repeat": repeat,
                "steps": steps,
                "log": "ParquetLog" if logged else "none",
                "rss_before_mb": int(before) / 1024,
                "peak_rise_mb": (int(peak) - int(before)) / 1024,
                "seconds": float(took),
                "time_v_max_rss_mb": int(found[1]) / 1024 if found else float("nan"),
                "file_mb": int(size) / 2**20,
            }
        )
    table = pd.DataFrame(rows)
    # One block: agent (4 bytes), replicate, step, action, propensity, reward (8), flag (1),
    # 6 context and 5 mean columns (8 each).
    table["block_mb"] = block * (4 + 5 * 8 + 1 + 11 * 8) / 2**20
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["simulated", "supervised", "memory"])
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--supervised-replicates", type=int, default=50)
    parser.add_argument("--memory-steps", type=int, default=10**6)
    parser.add_argument("--memory-repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "offpolicy")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(machine_note())
    if "simulated" in args.parts:
        table = simulated(args, args.out)
        table.to_csv(args.out / "simulated.csv", index=False)
        cols = [
            "logger",
            "target",
            "estimator",
            "n",
            "bias",
            "bias_se",
            "rmse",
            "coverage",
            "ess",
            "max_weight",
            "refused",
        ]
        print(markdown(table, cols))
    if "supervised" in args.parts:
        table = supervised(args)
        table.to_csv(args.out / "supervised.csv", index=False)
        cols = [
            "dataset",
            "rows",
            "K",
            "truth",
            "estimator",
            "bias",
            "bias_se",
            "rmse",
            "coverage",
            "ess",
        ]
        print(markdown(table, cols))
    if "memory" in args.parts:
        table = memory(args)
        cols = [
            "repeat",
            "steps",
            "log",
            "rss_before_mb",
            "peak_rise_mb",
            "block_mb",
            "time_v_max_rss_mb",
            "seconds",
            "file_mb",
        ]
        print(markdown(table, cols))
        rise = table.pivot_table(
            index=["repeat", "steps"], columns="log", values="peak_rise_mb"
        ).reset_index()
        rise["log_adds_mb"] = rise["ParquetLog"] - rise["none"]
        rise["log_adds_blocks"] = rise["log_adds_mb"] / table["block_mb"].iloc[0]
        print(markdown(rise, list(rise.columns)))


if __name__ == "__main__":
    main()
