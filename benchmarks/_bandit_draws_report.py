"""``escalation_bandit_draws.py --analyse``: the report on a run's tables (issue 16, seventh to
ninth sessions)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import escalation as esc


def _ci(samples: np.ndarray) -> str:
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return f"[{lo:.2f}, {hi:.2f}]"


def analyse(stem: Path, seed: int, n_boot: int = 2000) -> str:
    """Ratios to the best fixed prior in hindsight [95% paired bootstrap], the split at 2p,
    each rule against the leader rule, and the leader's candidates, changes and exploration."""
    final = pd.read_csv(f"{stem}_regret.csv")
    early = pd.read_csv(f"{stem}_regret2p.csv")
    explore = pd.read_csv(f"{stem}_explore.csv").mean()
    spread = pd.read_csv(f"{stem}_spread.csv").mean()
    extra = {
        k: pd.read_csv(f"{stem}_{k}.csv").mean()
        for k in ("noise", "error", "wrong")
        if Path(f"{stem}_{k}.csv").exists()
    }
    trace = np.load(f"{stem}_trace.npz")
    fixed = [c for c in final.columns if c.startswith("fixed")]
    others = [c for c in final.columns if c.startswith("extra")]
    rules = [c for c in final.columns if c not in fixed and c not in others]
    best = min(fixed, key=lambda c: final[c].mean())
    r = len(final)
    resample = np.random.default_rng(seed).integers(0, r, size=(n_boot, r))
    boot = {c: final[c].to_numpy()[resample].mean(axis=1) for c in final.columns}
    best_boot = np.min([boot[c] for c in fixed], axis=0)
    late = final - early
    lines = [
        f"{stem.name}: best fixed {best} ({final[best].mean():.1f}; by 2p "
        f"{early[best].mean():.1f}); fixed: "
        + ", ".join(f"{c[6:]} {final[c].mean():.1f}" for c in fixed),
        "| agent | ratio [95%] | by 2p / after | vs leader [95%] | explore | spread |"
        + "".join(f" {k} |" for k in extra),
        "| --- | ---: | ---: | ---: | ---: | ---: |" + " ---: |" * len(extra),
    ]
    for c in [*rules, *others, best]:
        vs = (
            f"{final[c].mean() / final['leader'].mean():.3f} " + _ci(boot[c] / boot["leader"])
            if "leader" in final and c != best
            else ""
        )
        lines.append(
            f"| {c} | {final[c].mean() / final[best].mean():.2f} {_ci(boot[c] / best_boot)} | "
            f"{early[c].mean() / early[best].mean():.2f} / {late[c].mean() / late[best].mean():.2f}"
            f" | {vs} | {explore[c]:.3f} | {spread[c]:.3f} |"
            + "".join(f" {v[c]:.4f} |" for v in extra.values())
        )
    if Path(f"{stem}_widths.csv").exists():
        width = pd.read_csv(f"{stem}_widths.csv")
        lines.append(
            "- on the leader's posterior after 2p, predictive scale of the draw (mean over steps, "
            "actions, replicates): "
            + ", ".join(f"{c} {width[c].mean():.4f}" for c in width.columns)
            + f"; leader weight median {width['leader weight'].median():.3f}"
        )
    if "leader" in final and len(rules) > 1:  # the split at 2p, each rule against the leader
        parts = []
        for c in (c for c in rules if c != "leader"):
            for label, part in (("by 2p", early), ("after", late)):
                b = part[c].to_numpy()[resample].mean(axis=1)
                ref = part["leader"].to_numpy()[resample].mean(axis=1)
                ratio = part[c].mean() / part["leader"].mean()
                parts.append(f"{c} {label} {ratio:.3f} {_ci(b / ref)}")
        lines.append("- against the leader, paired: " + "; ".join(parts))
    if Path(f"{stem}_curve.npz").exists():
        curve = np.load(f"{stem}_curve.npz")  # cumulative regret every 50 steps, (T / 50, R)
        steps = 50 * np.arange(1, curve[best].shape[0] + 1)
        marks = [k for k, s in enumerate(steps) if s in (100, 200, 500, 1000, 1500, 2000)]
        lines.append(
            "- excess over the best fixed prior, per step in the window ending at "
            + ", ".join(str(steps[k]) for k in marks)
            + " (window regret, agent - best; mean over replicates):"
        )
        for c in rules:
            gaps, prev = [], 0
            for k in marks:
                a = curve[c][k] - (curve[c][prev - 1] if prev else 0)
                b = curve[best][k] - (curve[best][prev - 1] if prev else 0)
                gaps.append(
                    f"{np.mean(a - b) / (steps[k] - (steps[prev - 1] if prev else 0)):+.4f}"
                )
                prev = k + 1
            lines.append(f"  - {c}: " + ", ".join(gaps))
    p = esc._n_features(next(s for s in esc.BANDITS if stem.name.startswith(f"{s.name}_R")))
    for c in rules:
        ca, scale = trace[f"{c}|ca"][2 * p :], trace[f"{c}|scale"][2 * p :]  # (T - 2p, R)
        changes = (np.diff(trace[f"{c}|drawn"][2 * p :], axis=0) != 0).sum(axis=0)
        lead_changes = (np.diff(ca, axis=0) != 0) | (np.diff(scale, axis=0) != 0)
        share = {f"{v:g}": float(np.mean(ca == v)) for v in np.unique(ca)}
        scales = {f"{v:g}": float(np.mean(scale == v)) for v in np.unique(scale)}
        last = {f"{v:g}": float(np.mean(ca[-1] == v)) for v in np.unique(ca[-1])}
        lines.append(
            f"- {c}, after 2p: leader's context:action share {share}; at T {last}; scale share "
            f"{scales}; leader (ca, scale) changes per replicate median "
            f"{np.median(lead_changes.sum(axis=0)):.0f} (max {lead_changes.sum(axis=0).max()}), "
            f"drawn ca changes median {np.median(changes):.0f}"
        )
    return "\n".join(lines)
