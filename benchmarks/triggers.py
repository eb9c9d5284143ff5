"""Escalation triggers (issue 16): false alarms without interactions, power and delay with them.

``EvidenceSwitch`` (threshold 20) and ``UncertaintyTrigger`` (level 0.95) with their defaults:
the Bayes factor with reference priors on the shared weights and noise scale, defined from
k_0 + 1 observations (an e-value: P(ever) <= 5% under any constant-variance Gaussian linear
model without interactions), gated by the same factor with heteroscedasticity-robust scores.
Both run on a learned-noise model with a flat intercept and weak main-effect prior, checked
every 10 steps, against the **oracle**: the Bayes factor of the same alternatives with the
noise known and evidence counted from the first observation, firing at posterior probability
0.95 (prior mass 1/2 on "off"). ``--ablation`` adds the factor alone and the factor with the
held-out (prequential squared error) check instead of the robust gate.

Streams from ``escalation_family.draw`` (the seed's generator and its variations). Reported per
scenario: the share of replicates that escalated by T with a Clopper-Pearson 95% upper bound
(interaction-free scenarios: false alarms), and the median first-escalation step against the
oracle's (scenarios with interactions).

    OPENBLAS_NUM_THREADS=1 python benchmarks/triggers.py        # R = 400, T = 3000
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import re
import time

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from scipy.stats import beta

from _timing import machine_note
from escalation_family import Scenario, draw
from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression
from regretlab.policies.escalation import EvidenceSwitch, UncertaintyTrigger
from regretlab.policies.escalation.evidence import LADDER

EVERY = 10
TRIGGERS = ("EvidenceSwitch", "UncertaintyTrigger", "BF alone", "BF + held-out")
POSITIVE = np.array([v for v in LADDER if v > 0])


def scenarios() -> list[Scenario]:
    null = [Scenario(d, 0.0, n) for d in (2, 4, 6) for n in (0.1, 0.5, 1.0, 2.0)]
    null += [Scenario(4, 0.0, 0.2, main=3.0, intercept=5.0), Scenario(10, 0.0, 0.5)]
    null += [Scenario(4, 0.0, 1.0, tails=3.0), Scenario(4, 0.0, 1.0, hetero=True)]
    power = [Scenario(d, s, n) for d in (4, 6) for s in (0.5, 1.0, 3.0) for n in (0.1, 0.5, 1.0)]
    return null + power


def run(args):
    index, s, r, horizon, seed, ablation = args
    fm, x, y, _ = draw(s, r, horizon, np.random.SeedSequence(seed, spawn_key=(index,)))
    prior = {"intercept": np.inf, "main": 100.0, "pairwise": 0.0}

    def learned():
        return NormalInverseGammaRegression(
            groups=fm, prior_variance=prior, noise_shape=1e-3, noise_scale=1e-3, n_replicates=r
        )

    triggers = {
        "EvidenceSwitch": EvidenceSwitch(every=EVERY),
        "UncertaintyTrigger": UncertaintyTrigger(every=EVERY),
    }
    if ablation:  # the Bayes factor alone: what the held-out check buys and costs
        triggers["BF alone"] = EvidenceSwitch(every=EVERY, held_out=False, robust=False)
        triggers["BF + held-out"] = EvidenceSwitch(every=EVERY, held_out=True, robust=False)
    models = {name: learned() for name in triggers}
    oracle = BayesianLinearRegression(
        groups=fm, prior_variance=prior, noise_precision=1 / s.noise**2, n_replicates=r
    )
    first = {name: np.full(r, np.inf) for name in [*triggers, "oracle"]}
    for step in range(EVERY, horizon + 1, EVERY):
        rows = slice(step - EVERY, step)
        for name, model in models.items():
            model.learn_many(x[:, rows], y[:, rows])
            for event in triggers[name].update(model, step):
                first[name][event.replicate] = min(first[name][event.replicate], step)
        oracle.learn_many(x[:, rows], y[:, rows])
        log_bf = oracle.log_evidence({"pairwise": POSITIVE}) - oracle.log_evidence()
        prob = 1 / (1 + np.exp(-(logsumexp(log_bf, axis=0) - np.log(len(POSITIVE)))))
        first["oracle"] = np.where(
            np.isinf(first["oracle"]) & (prob >= 0.95), step, first["oracle"]
        )
    return s, fm.n_features, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=400)
    parser.add_argument("--horizon", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ablation", action="store_true", help="add two ablations")
    parser.add_argument("--only", default="", help="run scenarios whose name matches this regex")
    args = parser.parse_args()
    todo = [s for s in scenarios() if re.search(args.only, s.name)]
    r = args.replicates
    print(machine_note(), f"| {len(todo)} scenarios, R={r}, T={args.horizon}", flush=True)
    start = time.perf_counter()
    rows = []
    jobs = [(i, s, r, args.horizon, args.seed, args.ablation) for i, s in enumerate(todo)]
    with cf.ProcessPoolExecutor(args.workers) as pool:
        for s, p, first in pool.map(run, jobs):
            for name, steps in first.items():
                fired = int(np.isfinite(steps).sum())
                upper = 1.0 if fired == r else float(beta.ppf(0.975, fired + 1, r - fired))
                rows.append(
                    {
                        "scenario": s.name,
                        "interactions": s.scale > 0,
                        "p": p,
                        "trigger": name,
                        "escalated": fired / r,
                        "cp_upper_95": upper,
                        "median_step": float(np.median(steps)),
                    }
                )
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    null = table[~table.interactions]
    print("\nfalse escalation (interaction-free scenarios): share escalated by T [CP upper 95%]")
    print(null.pivot(index="scenario", columns="trigger", values="escalated").round(4).to_string())
    print(
        null.pivot(index="scenario", columns="trigger", values="cp_upper_95").round(4).to_string()
    )
    names = [n for n in TRIGGERS if n in set(table.trigger)]
    for name in names:
        part = null[null.trigger == name]
        clean = part[~part.scenario.str.contains("_t3|_het")]
        print(
            f"  {name}: pooled {part.escalated.mean():.4f} (Gaussian only "
            f"{clean.escalated.mean():.4f}); worst CP upper {part.cp_upper_95.max():.4f}"
        )
    power = table[table.interactions]
    if power.empty:
        print(f"\nwall time {time.perf_counter() - start:.0f} s")
        return
    wide = power.pivot(index="scenario", columns="trigger", values="escalated")
    delay = power.pivot(index="scenario", columns="trigger", values="median_step")
    print("\npower (share escalated by T) and median first step; delay = median / oracle's")
    out = pd.concat(
        {
            "power": wide,
            "median": delay,
            "delay": delay[names].div(delay["oracle"], axis=0),
        },
        axis=1,
    )
    print(out.round(3).to_string())
    print(f"\nwall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
