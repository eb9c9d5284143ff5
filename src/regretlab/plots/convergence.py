"""Convergence curves: log-log test MSE against data size."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from regretlab.simulate.results import summarise

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from regretlab.plots._common import _MARKERS, _STYLES, _PlainLogFormatter

__all__ = ["plot_convergence"]


def plot_convergence(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    noise_floor: float | None = None,
    level: float = 0.95,
) -> Axes:
    """Test MSE against training size on log-log axes: the mean per model and its 95% band.

    Parameters
    ----------
    table
        Tidy rows with columns ``model``, ``data_size`` and ``mse`` (one per replicate), as
        returned by :func:`~regretlab.studies.convergence_study`.
    ax
        Axes to draw on; a new figure's axes if ``None``.
    title
        Axes title.
    noise_floor
        Draw the irreducible error (``noise_level ** 2``) as a dotted line.
    level
        Coverage of the band, a Student-t interval over replicates
        (:func:`~regretlab.simulate.summarise`). A band whose lower end is not positive cannot
        be drawn on a log axis; it is drawn down to the bottom of the axes instead.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> t = pd.DataFrame({"model": ["a"] * 4, "data_size": [10, 10, 100, 100],
    ...                   "replicate": [0, 1, 0, 1], "mse": [3.0, 5.0, 1.5, 1.7]})
    >>> ax = plot_convergence(t, ax=Figure().subplots(), title="demo")
    >>> ax.get_xscale(), ax.get_yscale(), [line.get_label() for line in ax.get_lines()]
    ('log', 'log', ['a'])
    """
    missing = {"model", "data_size", "mse"} - set(table.columns)
    if missing:
        raise ValueError(
            f"table must have columns model, data_size and mse; missing {sorted(missing)}"
        )
    if table.empty:
        raise ValueError("table must have at least one row")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    stats = summarise(table, ["model", "data_size"], "mse", level=level)
    positive = np.concatenate(
        [stats["mean"].to_numpy(), stats["lower"].to_numpy(), table["mse"].to_numpy()]
    )
    positive = positive[np.isfinite(positive) & (positive > 0)]
    bottom = positive.min() / 1.5 if len(positive) else 1e-12
    banded = False
    for i, (model, part) in enumerate(stats.groupby("model", sort=False)):
        part = part.sort_values("data_size")
        x = part["data_size"].to_numpy()
        (line,) = ax.plot(
            x,
            part["mean"].to_numpy(),
            marker=_MARKERS[i % len(_MARKERS)],
            linestyle=_STYLES[(i // len(_MARKERS)) % len(_STYLES)],
            markersize=4,
            linewidth=1.5,
            label=str(model),
        )
        if (part["upper"] > part["lower"]).any():
            banded = True
            lower = np.where(part["lower"] > 0, part["lower"], bottom)
            ax.fill_between(x, lower, part["upper"].to_numpy(), color=line.get_color(), alpha=0.18)
    if noise_floor is not None:
        ax.axhline(
            noise_floor,
            color="0.35",
            linestyle=":",
            linewidth=1.2,
            label=f"noise floor {noise_floor:g}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=bottom)
    # Plain numbers on the MSE axis: its range is often under a decade, read off minor ticks.
    ax.yaxis.set_major_formatter(_PlainLogFormatter())
    ax.yaxis.set_minor_formatter(_PlainLogFormatter(minor_thresholds=(2, 0.4)))
    ax.set_xlabel("training rows (data size)")
    band = f", {level:.0%} band" if banded else ""
    ax.set_ylabel(f"test MSE (mean{band})")
    ax.grid(True, which="major", alpha=0.5)
    ax.grid(True, which="minor", alpha=0.15)
    ax.legend(title="model", fontsize="small", title_fontsize="small", loc="upper right")
    if title is not None:
        ax.set_title(title)
    return ax
