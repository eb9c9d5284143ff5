"""Summaries of tidy result tables: means with 95% intervals and paired differences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = ["escalation_timeline", "summarise"]


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
    at its first change, and the mean number of changes so far.

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
        rows.append(
            pd.DataFrame(
                {
                    "agent": agent,
                    "group": group,
                    "step": steps,
                    "loosened": loosened.mean(axis=1),
                    "changes": changes.mean(axis=1),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
