"""Issue 16: the escalation default on the bandits against the acceptance's reference family.

``benchmarks/escalation.py`` scores its bandit scenarios against the best of its own fixed
priors in hindsight, chosen on the same replicates it is scored on: seven ``context:action``
variances with every other group at the weak prior 100 (and, "at any scale", at 1 and 10). The
issue's acceptance names a different comparator for every scenario: a **reference family fixed
in the benchmark** -- the escalated group's variance {0, 1e-3, ..., 1e2} x the main effects'
variance {0.1, ..., 1e3} (relative to the noise), a flat intercept: 35 fixed priors -- whose
best member is **chosen on half of the replicates and scored on the other half**. This script
runs that family beside ``ModelAveraging.recommended`` on ``escalation.py``'s bandit scenarios
(its environment seeds: the same truths, contexts and noise), every agent Thompson sampling on
one shared model over ``ActionFeatures`` with the noise learned (a_0 = b_0 = 1e-3), all in one
``run_bandit`` call (paired replicates; each agent's policy stream is its own child of the
seed, so it does not depend on the agents beside it).

Reported per scenario: the default's ratio of mean pseudo-regret at ``T`` to the family's best
member chosen on the other half (both ways; 95% paired bootstrap, the wider of the halves, as
``escalation_family.split_half``); the same over steps ``2p .. T``; the members chosen; the
ratio to ``escalation.py``'s comparator (the best of its seven weak-scale fixed priors, in
sample) on the same run, so the two comparators can be read side by side; and the floor (the
true support with the noise known, flat intercept, weak prior 100 on the groups present).

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/escalation_bandit_family.py \
        --scenarios bandit_i0 bandit_i0.5 bandit_i1 bandit_onset_i1 --replicates 100
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
from delay import markdown
from escalation_family import MAIN, PAIRWISE, nig, split_half
from regretlab.learners import BayesianLinearRegression
from regretlab.policies import ThompsonSampling
from regretlab.policies.escalation import ModelAveraging
from regretlab.simulate import Agent, run_bandit

GROUP = "context:action"
DEFAULT = "default"
WEAK = 100.0  # escalation.py's weak prior of the other groups (learned noise)


def member_name(v: float, m: float) -> str:
    return f"fixed {v:g} @ {m:g}"


def benchmark_name(v: float) -> str:
    return f"benchmark {v:g}"


def agents(features, scenario, r: int) -> list[Agent]:
    """The family, escalation.py's seven weak-scale priors, the default and the floor."""
    labels = tuple(dict.fromkeys(features.groups))
    out = []
    for v in PAIRWISE:
        for m in MAIN:
            prior = {g: (np.inf if g == "intercept" else v if g == GROUP else m) for g in labels}
            out.append(Agent(member_name(v, m), nig(features, prior, r), policy=ThompsonSampling()))
    for v in PAIRWISE:  # escalation.py's learned-noise comparator: every other group at 100
        prior = {g: (v if g == GROUP else WEAK) for g in labels}
        out.append(Agent(benchmark_name(v), nig(features, prior, r), policy=ThompsonSampling()))
    bma = ModelAveraging.recommended(features, group=GROUP, n_replicates=r)
    out.append(Agent(DEFAULT, bma, policy=ThompsonSampling()))
    present = scenario.scale > 0
    floor = BayesianLinearRegression(
        groups=features,
        prior_variance={
            g: (np.inf if g == "intercept" else 0.0 if g == GROUP and not present else WEAK)
            for g in labels
        },
        noise_precision=1.0 / scenario.noise**2,
        n_replicates=r,
    )
    out.append(Agent("floor", floor, policy=ThompsonSampling()))
    return out


def run(name: str, r: int, horizon: int, seed: int, out: Path) -> dict[str, np.ndarray]:
    """Pseudo-regret at ``2p`` and ``T`` per agent and replicate, saved to ``out``."""
    scenario = next(s for s in esc.BANDITS if s.name == name)
    index = (esc.SCENARIOS + esc.BANDITS).index(scenario)
    env = esc.make_env(scenario, index, r, horizon, seed)
    p = env.features.n_features
    start = time.process_time()
    result = run_bandit(
        env,
        agents(env.features, scenario, r),
        seed=esc.child(seed, esc.POLICY, index, 99),
        checkpoints=np.array([2 * p, horizon]),
        environment=name,
    )
    table = result.regret
    value = "pseudo_regret" if "pseudo_regret" in table else "regret"
    totals = {}
    for agent, rows in table.groupby("agent", sort=False):
        wide = rows.pivot(index="replicate", columns="step", values=value)
        totals[f"{agent}|T"] = wide[horizon].to_numpy()
        totals[f"{agent}|2p"] = wide[2 * p].to_numpy()
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / f"totals_{name}.npz", **totals)
    print(f"{name}: {time.process_time() - start:.0f} s CPU", file=sys.stderr)
    return totals


def report(name: str, totals: dict[str, np.ndarray], seed: int) -> dict[str, object]:
    """The default against the family (split half) and against escalation.py's comparator."""
    at_t = {k[:-2]: v for k, v in totals.items() if k.endswith("|T")}
    after = {k[:-2]: v - totals[f"{k[:-2]}|2p"] for k, v in totals.items() if k.endswith("|T")}
    family = [member_name(v, m) for v in PAIRWISE for m in MAIN]
    rng = np.random.default_rng(seed)
    whole = split_half({n: at_t[n] for n in [*family, DEFAULT]}, rng, [DEFAULT])[0]
    late = split_half({n: after[n] for n in [*family, DEFAULT]}, rng, [DEFAULT])[0]
    r = len(at_t[DEFAULT])
    halves = (np.arange(r) < r // 2, np.arange(r) >= r // 2)
    chosen = [min(family, key=lambda n: at_t[n][h].mean()) for h in halves]
    bench = min((benchmark_name(v) for v in PAIRWISE), key=lambda n: at_t[n].mean())
    idx = rng.integers(0, r, (2000, r))
    boot = at_t[DEFAULT][idx].mean(axis=1) / at_t[bench][idx].mean(axis=1)
    best_in_sample = min(family, key=lambda n: at_t[n].mean())
    return {
        "scenario": name,
        "ratio": round(whole["ratio"], 3),
        "ci_low": round(whole["ci_low"], 3),
        "ci_high": round(whole["ci_high"], 3),
        "after 2p": round(late["ratio"], 3),
        "chosen (halves)": " / ".join(c.removeprefix("fixed ") for c in chosen),
        "family best in sample / benchmark's": round(
            at_t[best_in_sample].mean() / at_t[bench].mean(), 3
        ),
        "vs benchmark's comparator": (
            f"{at_t[DEFAULT].mean() / at_t[bench].mean():.3f} "
            f"[{np.percentile(boot, 2.5):.2f}, {np.percentile(boot, 97.5):.2f}] "
            f"({bench.removeprefix('benchmark ')})"
        ),
        "floor / family best": round(at_t["floor"].mean() / at_t[best_in_sample].mean(), 3),
        "default regret": round(float(at_t[DEFAULT].mean()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [s.name for s in esc.BANDITS]
    parser.add_argument("--scenarios", nargs="+", default=names, choices=names)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=5)  # escalation.py's
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bandit_family"))
    parser.add_argument("--analyse", action="store_true", help="report on saved totals")
    args = parser.parse_args()
    rows = []
    for name in args.scenarios:
        path = args.out / f"totals_{name}.npz"
        if args.analyse:
            totals = dict(np.load(path))
        else:
            totals = run(name, args.replicates, args.horizon, args.seed, args.out)
        rows.append(report(name, totals, args.seed))
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "ratios.csv", index=False)
    print(markdown(table))


if __name__ == "__main__":
    main()
