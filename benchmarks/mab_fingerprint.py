"""Every action, propensity and regret of the classic bandit rules on fixed seeds, saved to a
file, to compare two checkouts (or numba against numpy) bit for bit (issue 17's throughput work
must not change a result).

UCB1, KL-UCB and Beta-TS (``benchmarks/mab.py``'s agents) on ``MultiArmedBandit`` (K = 10,
R = 400, T = 500) and on a ``PiecewiseStationaryBandit`` (K = 3, R = 300, T = 500).

Run from the repository root, once per checkout or setting, then compare::

    PYTHONPATH=/work/main/src python benchmarks/mab_fingerprint.py today.npz
    PYTHONPATH=src python benchmarks/mab_fingerprint.py now.npz
    REGRETLAB_NUMBA=0 PYTHONPATH=src python benchmarks/mab_fingerprint.py now_numpy.npz
    python benchmarks/mab_fingerprint.py --compare today.npz now.npz now_numpy.npz
"""

from __future__ import annotations

import sys

import numpy as np

import mab
from regretlab.environments import MultiArmedBandit, PiecewiseStationaryBandit
from regretlab.simulate import run_bandit


def fingerprint(path: str) -> None:
    envs = {
        "mab": MultiArmedBandit(mab.THROUGHPUT_MEANS, horizon=500, n_replicates=400, seed=3),
        "piecewise": PiecewiseStationaryBandit(
            [[0.2, 0.5, 0.7], [0.8, 0.3, 0.1]], [200], horizon=500, n_replicates=300, seed=4
        ),
    }
    out = {}
    for name, env in envs.items():
        agents = list(mab.agents(env.n_actions, env.n_replicates).values())
        result = run_bandit(env, agents, seed=5, log_steps=True)
        out[f"{name}_regret"] = result.regret[["pseudo_regret", "realised_regret"]].to_numpy()
        for column in ("action", "probability", "reward"):
            out[f"{name}_{column}"] = result.steps[column].to_numpy()
    np.savez(path, **out)


def compare(paths: list[str]) -> None:
    first = np.load(paths[0])
    for other in paths[1:]:
        second = np.load(other)
        for key in first.files:
            same = np.array_equal(first[key], second[key], equal_nan=True)
            print(f"{paths[0]} vs {other}: {key} {first[key].shape} identical: {same}")


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(sys.argv[2:])
    else:
        fingerprint(sys.argv[1])
