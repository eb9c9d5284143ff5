"""Off-policy estimators against the truth: bias, RMSE, coverage and ESS against log size."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

from regretlab.plots._common import _axes, _require_columns

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["offpolicy_figure", "plot_offpolicy"]

_LABELS = {
    "bias": "bias (mean error, 95% band)",
    "rmse": "RMSE",
    "coverage": "coverage of 95% intervals",
    "ess": "effective sample size",
}


def plot_offpolicy(
    summary: pd.DataFrame,
    metric: str = "rmse",
    *,
    target: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """One line per estimator of ``metric`` against log size ``n`` (log x), for ``target``.

    ``summary`` is :func:`~regretlab.offpolicy.summarise_errors`'s table; ``metric`` one of
    ``bias`` (with a 95% band from ``bias_se``), ``rmse``, ``coverage`` (a line at 0.95) or
    ``ess``. ``target`` defaults to the table's only (or first) target.

    >>> s = pd.DataFrame({"target": "t", "estimator": ["IPS", "IPS"], "n": [10, 100],
    ...                   "rmse": [0.3, 0.1]})
    >>> plot_offpolicy(s, ax=Figure().subplots()).get_xscale()
    'log'
    """
    if metric not in _LABELS:
        raise ValueError(f"metric must be one of {list(_LABELS)}, got {metric!r}")
    _require_columns(summary, {"target", "estimator", "n", metric}, "summary")
    ax = _axes(ax)
    target = summary["target"].iloc[0] if target is None else target
    part = summary[summary["target"] == target]
    for estimator, rows in part.groupby("estimator", sort=False):
        rows = rows.sort_values("n")
        (line,) = ax.plot(rows["n"], rows[metric], marker="o", label=str(estimator))
        if metric == "bias" and "bias_se" in rows:
            half = 1.96 * rows["bias_se"]
            ax.fill_between(
                rows["n"],
                rows[metric] - half,
                rows[metric] + half,
                color=line.get_color(),
                alpha=0.15,
            )
    if metric == "bias":
        ax.axhline(0.0, color="black", lw=0.8)
    if metric == "coverage":
        ax.axhline(0.95, color="black", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("log size n (rows per replicate)")
    ax.set_ylabel(_LABELS[metric])
    ax.grid(True, alpha=0.4)
    ax.legend(title="estimator", fontsize="x-small", title_fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


def offpolicy_figure(summary: pd.DataFrame, target: str, title: str) -> Figure:
    """Four panels for ``target``: bias, RMSE, coverage and ESS against log size.

    >>> s = pd.DataFrame({"target": "t", "estimator": "IPS", "n": [10, 100], "bias": 0.0,
    ...                   "bias_se": 0.1, "rmse": [0.3, 0.1], "coverage": 0.9, "ess": [9, 90]})
    >>> len(offpolicy_figure(s, "t", "t").axes)
    4
    """
    fig = Figure(figsize=(11, 8), layout="constrained")
    for ax, metric in zip(fig.subplots(2, 2).ravel(), _LABELS, strict=True):
        plot_offpolicy(summary, metric, target=target, ax=ax)
    fig.suptitle(title)
    return fig
