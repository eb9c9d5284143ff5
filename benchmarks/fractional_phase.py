"""What the fractional comparison of ``ModelAveraging.recommended`` costs, before and after
issue 16's seventh session, measured in one run on the same data.

The fractional Bayes factors are recomputed at every step up to 2p. Before: reading the
statistics dropped the cached posterior (so the next prediction re-solved every candidate from
the statistics), and every candidate's fractional evidence took its own ``p x p``
factorisation. Now: the posterior is brought up to date first, and the candidates are scored
from one eigendecomposition of the pairwise block per replicate
(``regretlab.learners._pivot_evidence``). Variants, each on the same stream:

- ``before``: the old computation (patched back in);
- ``posterior kept``: the posterior kept, one factorisation per candidate;
- ``now``: both changes;
- ``partial``: ``comparison="partial"`` (no fractional evidence at all), the floor.

CPU time of this process per phase (``time.process_time``), ratios to ``before`` measured in
this run; the largest difference of the weights and predictions from ``before``.

    OPENBLAS_NUM_THREADS=1 python benchmarks/fractional_phase.py --replicates 10
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _timing import machine_note
from escalation_family import draw, scenarios
from regretlab.features import InteractionFeatures
from regretlab.policies.escalation import ModelAveraging, candidates


def _before(inner, n_candidates, pivot, fraction):
    return np.asarray(inner.log_evidence(fraction=fraction)).reshape(n_candidates, -1)


def _posterior_kept(inner, n_candidates, pivot, fraction):
    inner._sync()
    return _before(inner, n_candidates, pivot, fraction)


def run(variant, fm, x, y, r, horizon):
    rule = ModelAveraging.recommended(fm, n_replicates=r)
    if variant == "partial":
        rule = ModelAveraging(**{**rule.get_params(), "comparison": "partial"})
    patched = {"before": _before, "posterior kept": _posterior_kept}.get(variant)
    original = candidates.fractional_evidence
    if patched is not None:
        candidates.fractional_evidence = patched
    cpu, preds, weights = [], [], []
    try:
        start = time.process_time()
        for t in range(horizon):
            preds.append(rule.predict_one(x[:, t]))
            rule.learn_one(x[:, t], y[:, t])
            weights.append(rule.weights)
            cpu.append(time.process_time() - start)
    finally:
        candidates.fractional_evidence = original
    return np.diff(np.concatenate([[0.0], cpu])), np.array(preds), np.array(weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--scenario", default="x10_i1_n0.5")
    parser.add_argument("--extra", type=int, default=20, help="steps run after 2p")
    args = parser.parse_args()
    every = scenarios()
    s = next(s for s in every if s.name == args.scenario)
    seed = np.random.SeedSequence(2026, spawn_key=(every.index(s),))
    p = InteractionFeatures(s.x_dim).n_features
    horizon = 2 * p + args.extra
    fm, x, y, _ = draw(s, args.replicates, horizon, seed)
    print(machine_note(), f"| {s.name}, p={p}, R={args.replicates}, T={horizon}", flush=True)
    phases = {"steps 1..2p": slice(0, 2 * p), f"steps 2p+1..{horizon}": slice(2 * p, horizon)}
    run("now", fm, x[:1], y[:1], 1, horizon)  # warm-up (imports, lazy modules), not timed
    out = {v: run(v, fm, x, y, args.replicates, horizon) for v in VARIANTS}
    base = out["before"]
    for phase, rows in phases.items():
        print(f"\n{phase}: CPU s (ratio to before)")
        for v, (cpu, _, _) in out.items():
            print(
                f"  {v:15s} {cpu[rows].sum():8.2f}  ({cpu[rows].sum() / base[0][rows].sum():.3f})"
            )
    for v, (_, pred, w) in out.items():
        if v != "partial":
            print(
                f"{v:15s} max |weights - before| {np.abs(w - base[2]).max():.1e}, "
                f"max |predictions - before| {np.abs(pred - base[1]).max():.1e}"
            )


VARIANTS = ("before", "posterior kept", "now", "partial")

if __name__ == "__main__":
    main()
