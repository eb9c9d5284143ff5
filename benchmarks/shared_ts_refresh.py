"""Shared-model Thompson sampling past a refresh, with the kept factor's pattern carried over
and without (issue 19, eighth session).

The compiled step of the kept sampling factor visits only the entries of the factor that may be
nonzero (with ``ActionFeatures`` rows, 306 of the 666 of d = 36). A refresh recomputes the
posterior, and its fresh factor holds entries of the order of ``sampling_factor``'s 1e-12
diagonal shift where the exact factor is zero; ``learners._factor._carry`` sets them to zero
and keeps the pattern. This script runs ``run_bandit`` on the benchmark's kind of bandit
(``LinearBandit(n_actions=5, context_dim=5)``) past refreshes, alternating the two versions in
one process (CPU time), and compares their actions and regret.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/shared_ts_refresh.py \\
        --horizon 2048 --replicates 1000 --refresh-every 1024
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from regretlab.environments import LinearBandit
from regretlab.learners import BayesianLinearRegression, _factor
from regretlab.policies import ThompsonSampling
from regretlab.simulate import Agent, run_bandit

CARRY = _factor._carry


def run(carry: bool, horizon: int, replicates: int, refresh_every: int):
    """One run: seconds of CPU, the actions and the final pseudo-regret per replicate."""
    _factor._carry = CARRY if carry else (lambda upper, pattern: False)
    env = LinearBandit(n_actions=5, context_dim=5, horizon=horizon, n_replicates=replicates,
                       seed=1)  # fmt: skip
    model = BayesianLinearRegression(groups=env.features, n_replicates=replicates,
                                     refresh_every=refresh_every)  # fmt: skip
    start = time.process_time()
    result = run_bandit(env, [Agent("ts", model, policy=ThompsonSampling())], seed=2,
                        checkpoints=np.array([horizon]), log_steps=True)  # fmt: skip
    seconds = time.process_time() - start
    assert result.steps is not None
    return seconds, result.steps["action"].to_numpy(), result.regret["pseudo_regret"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=int, default=2048)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--refresh-every", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = (args.horizon, args.replicates, args.refresh_every)
    run(True, *sizes)  # warm-up: kernels loaded, memory touched
    seconds: dict[bool, list[float]] = {True: [], False: []}
    runs = {}
    for _ in range(args.rounds):
        for carry in (True, False):
            elapsed, actions, regret = run(carry, *sizes)
            seconds[carry].append(elapsed)
            runs[carry] = actions, regret
    _factor._carry = CARRY
    (a1, r1), (a0, r0) = runs[True], runs[False]
    print(f"T = {args.horizon}, R = {args.replicates}, refresh every {args.refresh_every}; "
          f"CPU s per run, {args.rounds} rounds alternated")  # fmt: skip
    print(f"  carried: {' '.join(f'{s:.2f}' for s in seconds[True])}")
    print(f"  not carried: {' '.join(f'{s:.2f}' for s in seconds[False])}")
    print(f"  not carried / carried (best): {min(seconds[False]) / min(seconds[True]):.3f}x")
    print(f"  actions that differ: {np.count_nonzero(a1 != a0)} of {a1.size}; "
          f"mean final pseudo-regret {r1.mean():.4f} / {r0.mean():.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
