"""Estimators against the truth: every estimate of every target on every log prefix, and its
error summary (bias, RMSE, interval coverage, effective sample size).

What the benchmark (``benchmarks/offpolicy.py``) and ``regretlab report`` (an experiment's
``[offpolicy]`` table) tabulate. Replicates are independent logs, so the bias's standard error
is the sd of the errors over ``sqrt(R)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from regretlab.offpolicy.table import LoggedBandit
from regretlab.offpolicy.targets import true_value

__all__ = ["error_table", "prefix", "summarise_errors"]


def prefix(log: LoggedBandit, n: int) -> LoggedBandit:
    """The first ``n`` rows of every replicate of ``log``.

    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> log = from_frame(pd.DataFrame({"action": [0, 1, 1], "reward": [1.0, 2.0, 3.0]}))
    >>> prefix(log, 2).rewards
    array([[1., 2.]])
    """
    if not 1 <= n <= log.n_rows:
        raise ValueError(f"n must lie in [1, {log.n_rows}], got {n}")
    cut: dict[str, Any] = {
        field: None if getattr(log, field) is None else getattr(log, field)[:, :n]
        for field in (
            "context",
            "actions",
            "propensity",
            "rewards",
            "means",
            "deterministic",
            "available",
        )
    }
    return log._replace(**cut)


def error_table(
    log: LoggedBandit,
    targets: Mapping[str, Any],
    estimators: Mapping[str, Any],
    sizes: Iterable[int] | None = None,
) -> pd.DataFrame:
    """One row per target x estimator x log size x replicate: estimate, ``se``, ``truth``,
    ``error``, ``covered`` (by the 95% interval), ``ess``, ``max_weight``, ``deficiency``.

    ``targets`` maps names to action probabilities ``(R, n, K)`` on the whole log; an
    estimator that refuses a log (IPS under support deficiency) gets NaN estimates and its
    message in ``refused``.

    >>> import pandas as pd
    >>> from regretlab.offpolicy import IPS, from_frame
    >>> log = from_frame(pd.DataFrame({"action": [0, 1, 1, 0], "propensity": 0.5,
    ...     "reward": [1.0, 0.0, 0.0, 1.0], "mean_0": 0.9, "mean_1": 0.1}))
    >>> table = error_table(log, {"first": np.tile([1.0, 0.0], (1, 4, 1))}, {"IPS": IPS()})
    >>> table[["n", "estimate", "truth", "error"]].round(3).to_dict("records")
    [{'n': 4, 'estimate': 1.0, 'truth': 0.9, 'error': 0.1}]
    """
    sizes = [log.n_rows] if sizes is None else sorted({int(n) for n in sizes})
    frames = []
    for n in sizes:
        part = prefix(log, n)
        for target, probabilities in targets.items():
            pi = np.asarray(probabilities)[:, :n]
            truth = true_value(part, pi)
            for name, estimator in estimators.items():
                refused = ""
                try:
                    est = estimator.estimate(part, pi)
                    values = {
                        "estimate": est.value,
                        "se": est.se,
                        "ess": est.ess,
                        "max_weight": est.max_weight,
                        "deficiency": est.support_deficiency,
                    }
                except ValueError as exc:
                    refused = str(exc)
                    values = {key: np.full(len(truth), np.nan) for key in ("estimate", "se")}
                    values.update(ess=np.nan, max_weight=np.nan, deficiency=np.nan)
                error = values["estimate"] - truth
                frames.append(
                    pd.DataFrame(
                        {
                            "target": target,
                            "estimator": name,
                            "n": n,
                            "replicate": np.arange(len(truth)),
                            **values,
                            "truth": truth,
                            "error": error,
                            "covered": np.abs(error) <= 1.96 * values["se"],
                            "refused": refused,
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


def summarise_errors(table: pd.DataFrame) -> pd.DataFrame:
    """Per target x estimator x log size: ``bias`` and its ``bias_se``, ``rmse``,
    ``coverage`` of the 95% intervals, mean ``ess``, largest ``max_weight``, mean
    ``deficiency`` and the replicates ``refused``.

    >>> frame = pd.DataFrame({"target": "t", "estimator": "e", "n": 10,
    ...     "error": [0.1, -0.1, 0.3], "covered": [True, True, False], "ess": 5.0,
    ...     "max_weight": [1.0, 2.0, 3.0], "deficiency": 0.0, "refused": ""})
    >>> summarise_errors(frame)[["bias", "rmse", "coverage"]].round(3).to_dict("records")
    [{'bias': 0.1, 'rmse': 0.191, 'coverage': 0.667}]
    """
    rows = []
    for (target, estimator, n), group in table.groupby(["target", "estimator", "n"], sort=False):
        ok = group[group["refused"] == ""]
        error = ok["error"].to_numpy(dtype=float)
        count = len(error)
        rows.append(
            {
                "target": target,
                "estimator": estimator,
                "n": n,
                "replicates": count,
                "bias": error.mean() if count else np.nan,
                "bias_se": error.std(ddof=1) / np.sqrt(count) if count > 1 else np.nan,
                "rmse": np.sqrt((error**2).mean()) if count else np.nan,
                "coverage": ok["covered"].mean() if count else np.nan,
                "ess": ok["ess"].mean() if count else np.nan,
                "max_weight": ok["max_weight"].max() if count else np.nan,
                "deficiency": group["deficiency"].mean(),
                "refused": int((group["refused"] != "").sum()),
            }
        )
    return pd.DataFrame(rows)
