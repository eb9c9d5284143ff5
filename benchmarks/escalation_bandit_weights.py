"""Issue 16, sixth session: where the default's weight goes on the escalation benchmark's bandits.

Runs ``ModelAveraging.recommended`` on one of ``benchmarks/escalation.py``'s bandit scenarios
(the same environment seeds) with a hand-written lockstep loop that records, every step and
replicate, the mixture's weight on the escalated group's values and which candidate the
Thompson draw came from. Three ways of choosing the actions, so that the weights can be told
apart from the exploration they steer:

- ``mixture``: Thompson sampling on the mixture (what the benchmark runs: a candidate drawn by
  weight per replicate, then weights from its posterior; ``--draw leader``: the candidate of
  highest weight);
- ``fixed``: Thompson sampling on the benchmark's fixed prior with the group off (other groups
  at 100); the mixture only watches the same adaptively collected data;
- ``uniform``: actions uniformly at random (a passive design on the same contexts); the
  mixture watches.

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/escalation_bandit_weights.py --scenario bandit_i0 \
        --driver mixture fixed uniform --replicates 100 --horizon 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import escalation as esc
from regretlab.policies.escalation import ModelAveraging
from regretlab.policies.escalation._grids import _pick

GROUP = "context:action"


def _draw(bma: ModelAveraging, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The Thompson draw ``(R, p)`` and the candidate it came from ``(R,)``
    (``ModelAveraging.sample`` itself, with the pick kept; the same generator calls).
    """
    pick = _pick(bma.weights, bma.draw, rng)
    draws = bma._split(bma._inner.sample(rng))
    return draws[pick, np.arange(bma._r)], pick


def run(
    scenario: str, driver: str, replicates: int, horizon: int, seed: int, draw_rule: str
) -> pd.DataFrame:
    """One row per step: regret, weight on the group's values, the drawn candidate's value."""
    sc = next(s for s in esc.BANDITS if s.name == scenario)
    index = (esc.SCENARIOS + esc.BANDITS).index(sc)
    env = esc.make_env(sc, index, replicates, horizon, seed)
    features = env.features
    bma = ModelAveraging.recommended(features, group=GROUP, n_replicates=replicates, draw=draw_rule)
    fixed = esc.MODES["learned"].learner(features, GROUP, 0.0, sc.noise, replicates)
    values = bma.candidates[GROUP]
    levels = np.unique(values)
    rng = np.random.default_rng(esc.child(seed, esc.POLICY, index, 999))
    block = env.take(horizon)
    rows = []
    regret = np.zeros(replicates)
    every = np.arange(replicates)
    for t in range(horizon):
        designs = features.transform(block.context[:, t])  # (R, K, p)
        means = block.means[:, t]
        picked_value = np.full(replicates, np.nan)
        if driver == "mixture":
            draw, pick = _draw(bma, rng)
            picked_value = values[pick]
            action = np.argmax(np.einsum("rkp,rp->rk", designs, draw), axis=1)
        elif driver == "fixed":
            action = np.argmax(np.einsum("rkp,rp->rk", designs, fixed.sample(rng)), axis=1)
        else:
            action = rng.integers(0, features.n_actions, replicates)
        x = designs[every, action]
        y = block.rewards[:, t][every, action]
        regret += means.max(axis=1) - means[every, action]
        w = bma.weights  # (G, R), before learning step t's reward: what the draw used
        by_level = np.stack([w[values == v].sum(axis=0) for v in levels])  # (L, R)
        rows.append(
            {
                "step": t + 1,
                "regret": regret.mean(),
                **{f"w_{v:g}": by_level[k].mean() for k, v in enumerate(levels)},
                "w_large": by_level[levels >= 1.0].sum(axis=0).mean(),
                "w_large_max_r": by_level[levels >= 1.0].sum(axis=0).max(),
                "drawn_large": np.nanmean(picked_value >= 1.0),
                **{f"drawn_{v:g}": np.nanmean(picked_value == v) for v in levels},
                "leader_large": np.mean(values[np.argmax(w, axis=0)] >= 1.0),
            }
        )
        bma.learn_one(x, y)
        if driver == "fixed":
            fixed.learn_one(x, y)
    out = pd.DataFrame(rows)
    out.insert(0, "driver", driver)
    out.insert(0, "scenario", scenario)
    out.insert(2, "draw", draw_rule)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="bandit_i0")
    parser.add_argument("--driver", nargs="+", default=["mixture", "fixed", "uniform"])
    parser.add_argument("--draw", default="mixture")
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bandit_weights"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for driver in args.driver:
        start = time.process_time()
        table = run(args.scenario, driver, args.replicates, args.horizon, args.seed, args.draw)
        name = f"{args.scenario}_{driver}_{args.draw}.csv"
        table.to_csv(args.out / name, index=False)
        steps = [s for s in (10, 36, 72, 200, 500, 1000, 2000) if s <= args.horizon]
        print(f"{args.scenario}, actions by {driver}, draw {args.draw}", end="")
        print(f" ({time.process_time() - start:.0f} s CPU)")
        cols = ["step", "regret", "w_0", "w_large", "w_large_max_r", "drawn_large", "leader_large"]
        print(table.set_index("step").loc[steps].reset_index()[cols].round(4).to_string())


if __name__ == "__main__":
    main()
