"""Summaries of tidy result tables: means with 95% intervals and paired differences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from regretlab._lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd
    from scipy import stats as sps
else:
    pd = lazy_module("pandas")
    sps = lazy_module("scipy.stats")

__all__ = ["escalation_timeline", "ratio_to_best_fixed", "summarise"]


def summarise(
    table: pd.DataFrame, by: Sequence[str], value: str, *, level: float = 0.95
) -> pd.DataFrame:
    """Mean of ``value`` per group of ``by`` with a Student-t interval over the rows.

    Returns columns ``*by, n, mean, sd, lower, upper``; with one row in a group the interval is
    the mean itself.

    >>> t = pd.DataFrame({"model": ["a", "a", "b"], "mse": [1.0, 3.0, 2.0]})
    >>> summarise(t, ["model"], "mse")[["model", "n", "mean", "lower"]]
      model  n  mean     lower
    0     a  2   2.0 -10.706205
    1     b  1   2.0   2.000000
    """
    grouped = table.groupby(list(by), sort=False)[value]
    out = grouped.agg(n="count", mean="mean", sd="std").reset_index()
    sd = out["sd"].fillna(0.0).to_numpy()
    n = out["n"].to_numpy()
    half = np.zeros(len(out))
    many = n > 1
    half[many] = sps.t.ppf(0.5 + level / 2, n[many] - 1) * sd[many] / np.sqrt(n[many])
    out["sd"] = sd
    out["lower"] = out["mean"] - half
    out["upper"] = out["mean"] + half
    return out


def escalation_timeline(
    events: pd.DataFrame, steps: np.ndarray, replicates: np.ndarray
) -> pd.DataFrame:
    """Per agent, group and step: the share of replicates whose prior variance is looser than
    at its first change, and the mean number of changes so far, each with a 95% interval over
    replicates (``loosened_lower/upper``: Wilson's score interval for a proportion;
    ``changes_lower/upper``: Student-t). The share falls when replicates tighten the prior
    again (a model-averaging leader returning to "off", say).

    >>> ev = pd.DataFrame({"agent": "a", "replicate": [0, 0, 1], "step": [2, 5, 4],
    ...                    "group": "g", "old": [0.0, 1.0, 0.0], "new": [1.0, 0.0, 1.0]})
    >>> escalation_timeline(ev, np.array([1, 3, 5]), np.array([0, 1]))[["step", "loosened"]]
       step  loosened
    0     1       0.0
    1     3       0.5
    2     5       0.5
    """
    rows = []
    for (agent, group), part in events.groupby(["agent", "group"], sort=False):
        part = part.sort_values("step", kind="stable")
        loosened = np.zeros((len(steps), len(replicates)))
        changes = np.zeros((len(steps), len(replicates)))
        for j, rep in enumerate(replicates):
            mine = part[part["replicate"] == rep]
            if mine.empty:
                continue
            start = mine["old"].iloc[0]
            at = np.searchsorted(mine["step"].to_numpy(), steps, side="right")
            current = np.concatenate([[start], mine["new"].to_numpy()])[at]
            loosened[:, j] = current > start
            changes[:, j] = at
        n = len(replicates)
        share = loosened.mean(axis=1)
        z = sps.norm.ppf(0.975)
        centre = (share + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(share * (1 - share) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
        mean = changes.mean(axis=1)
        spread = (
            sps.t.ppf(0.975, n - 1) * changes.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else 0.0
        )
        rows.append(
            pd.DataFrame(
                {
                    "agent": agent,
                    "group": group,
                    "step": steps,
                    "loosened": share,
                    "loosened_lower": np.clip(centre - half, 0.0, 1.0),
                    "loosened_upper": np.clip(centre + half, 0.0, 1.0),
                    "changes": mean,
                    "changes_lower": mean - spread,
                    "changes_upper": mean + spread,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def ratio_to_best_fixed(
    final: pd.DataFrame,
    agents: Sequence[str],
    fixed: Sequence[str],
    value: str,
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Each of ``agents``' mean ``value`` over the best of ``fixed``, chosen out of sample.

    ``final`` has one row per environment, agent and replicate. The replicates are split in
    two halves (even and odd ids); the fixed agent with the lowest mean on one half is scored
    against each agent on the other half, and the two ratios are averaged: choosing the best
    in hindsight on the same replicates would flatter the comparator. The 95% interval is a
    paired bootstrap over replicates (within each half), the widest of the two halves'.

    >>> t = pd.DataFrame({"environment": "e", "agent": ["a"] * 4 + ["f"] * 4 + ["g"] * 4,
    ...                   "replicate": [0, 1, 2, 3] * 3,
    ...                   "r": [2.0, 2, 2, 2, 1, 1, 1, 1, 3, 3, 3, 3]})
    >>> ratio_to_best_fixed(t, ["a"], ["f", "g"], "r")[["environment", "agent", "ratio", "best"]]
      environment agent  ratio best
    0           e     a    2.0    f
    """
    rng = np.random.default_rng(seed)
    rows = []
    for env, part in final.groupby("environment", sort=False):
        wide = part.pivot(index="replicate", columns="agent", values=value)
        halves = (wide.index.to_numpy() % 2 == 0, wide.index.to_numpy() % 2 == 1)
        for agent in agents:
            ratios, lows, highs, bests = [], [], [], []
            for choose, score in (halves, halves[::-1]):
                if not choose.any() or not score.any():
                    continue
                best = min(fixed, key=lambda f: wide.loc[choose, f].mean())
                a, b = wide.loc[score, agent].to_numpy(), wide.loc[score, best].to_numpy()
                ratios.append(a.mean() / b.mean())
                idx = rng.integers(0, len(a), (n_boot, len(a)))
                with np.errstate(divide="ignore", invalid="ignore"):
                    boot = a[idx].mean(axis=1) / b[idx].mean(axis=1)
                lows.append(np.nanpercentile(boot, 2.5))
                highs.append(np.nanpercentile(boot, 97.5))
                bests.append(best)
            if ratios:
                rows.append(
                    {
                        "environment": env,
                        "agent": agent,
                        "ratio": float(np.mean(ratios)),
                        "lower": float(min(lows)),
                        "upper": float(max(highs)),
                        "best": " / ".join(dict.fromkeys(bests)),
                    }
                )
    return pd.DataFrame(rows, columns=["environment", "agent", "ratio", "lower", "upper", "best"])
