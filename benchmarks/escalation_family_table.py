"""The table of ``escalation_family.py`` runs (issue 16), assembled from their saved totals.

``escalation_family.py`` saves every scenario's per-replicate regret, over the whole run
(``totals_<scenario>.npz``) and over steps ``2p .. T`` (``late_<scenario>.npz``), so runs made
in parts (``--scenarios``, one ``--out`` each) make one table. Per scenario and default: the
ratio to the reference family's best member chosen on the other half [95% paired bootstrap
interval] (``escalation_family.split_half``, the same seed), the same ratio over steps
``2p .. T``, the share of the excess over that member paid before ``2p`` (the start-up), and a
source for every miss (point estimate above 1.05):

- ``start-up``: half the excess or more comes before ``2p``;
- ``price of averaging``: the model average over the reference family itself (uniform prior:
  the Bayes rule when the stream's prior is one of the family's members, drawn uniformly; see
  ``escalation_bound.py``), ``family_ratio`` (from the run or ``--family-csv``), is above 1.05
  too, and within 0.03 of the default or above it;
- ``noise model``: Student-t or heteroscedastic noise, which no candidate models;
- ``after 2p``: the rest; the excess accrues while the data identify the model.

    python benchmarks/escalation_family_table.py benchmarks/out/fifth_* --defaults recommended \\
        "recommended, partial" family
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from escalation_family import scenarios, split_half


def _late_ratio(total, late, name):
    """Ratio over ``2p .. T`` to the member chosen on the other half (by whole-run regret), and
    the share of the excess (default minus that member) paid before ``2p``."""
    members = [n for n in total if n.startswith("fixed")]
    r = len(total[name])
    halves = (np.arange(r) < r // 2, np.arange(r) >= r // 2)
    ratios, excess, excess_late = [], 0.0, 0.0
    for choose, score in (halves, halves[::-1]):
        best = min(members, key=lambda n: total[n][choose].mean())
        ratios.append(late[name][score].mean() / late[best][score].mean())
        excess += total[name][score].sum() - total[best][score].sum()
        excess_late += late[name][score].sum() - late[best][score].sum()
    startup = (excess - excess_late) / excess if excess > 0 else np.nan
    return float(np.mean(ratios)), float(startup)


def _source(row, family_ratio):
    if row["ratio"] <= 1.05:
        return ""
    if row["startup_share"] >= 0.5:
        return "start-up"
    if family_ratio > 1.05 and family_ratio >= row["ratio"] - 0.03:
        return "price of averaging"
    if "_t" in row["scenario"] or "_het" in row["scenario"]:
        return "noise model"
    return "after 2p"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--defaults", nargs="+", default=["recommended"])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--csv", type=Path)
    parser.add_argument(
        "--family-csv",
        type=Path,
        help="ratios.csv of a run with the 'family' mixture, for scenarios run without it",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    p_of = {s.name: 1 + s.x_dim + s.x_dim * (s.x_dim - 1) // 2 for s in scenarios()}
    rows = []
    for s in scenarios():
        found = [d for d in args.dirs if (d / f"totals_{s.name}.npz").exists()]
        if not found:
            continue
        total = dict(np.load(found[-1] / f"totals_{s.name}.npz"))
        late = dict(np.load(found[-1] / f"late_{s.name}.npz"))
        for row in split_half(total, rng, [d for d in args.defaults if d in total]):
            late_ratio, startup = _late_ratio(total, late, row["agent"])
            rows.append(
                {
                    "scenario": s.name,
                    "p": p_of[s.name],
                    **row,
                    "ratio_after_2p": late_ratio,
                    "startup_share": startup,
                }
            )
    table = pd.DataFrame(rows)
    family = table[table.agent == "family"].set_index("scenario")["ratio"]
    if args.family_csv is not None:
        earlier = pd.read_csv(args.family_csv)
        earlier = earlier[earlier.agent == "family"].set_index("scenario")["ratio"]
        family = pd.concat([family, earlier[~earlier.index.isin(family.index)]])
    table["family_ratio"] = table.scenario.map(family)
    table["source"] = [
        _source(row, family.get(row["scenario"], np.nan)) for _, row in table.iterrows()
    ]
    if args.csv:
        table.to_csv(args.csv, index=False)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_rows", 500)
    for name in args.defaults:
        part = table[table.agent == name].set_index("scenario")
        if part.empty:
            continue
        print(f"\n{name}: ratio [95%], after 2p, share of the excess before 2p, source")
        print(
            part[
                [
                    "ratio",
                    "ci_low",
                    "ci_high",
                    "ratio_after_2p",
                    "startup_share",
                    "family_ratio",
                    "source",
                ]
            ]
            .round(3)
            .to_string()
        )
        print(
            f"  {len(part)} scenarios: worst {part.ratio.max():.3f} ({part.ratio.idxmax()}), "
            f"{(part.ratio <= 1.05).sum()} within 1.05, {(part.ci_high < 1.10).sum()} with the "
            f"upper bound below 1.10 (max {part.ci_high.max():.3f}); misses by source: "
            f"{part.source[part.source != ''].value_counts().to_dict()}"
        )


if __name__ == "__main__":
    main()
