"""Figures people look at: convergence, cumulative regret, paired differences, coefficients.

Every plotting function takes ``ax=None`` and returns the ``Axes``; none calls ``plt.show()``.
pyplot is imported only to make a new figure when no ``ax`` is given, so code that passes its
own axes (as the seed study does, on a bare ``matplotlib.figure.Figure``) never touches a GUI
backend. :func:`save_figure` writes atomically.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.ticker import LogFormatter

from regretlab.results import summarise

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_coefficients",
    "plot_convergence",
    "plot_paired_difference",
    "plot_regret",
    "save_figure",
]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_STYLES = ("-", "--", "-.", ":")


class _PlainLogFormatter(LogFormatter):
    """``LogFormatter``'s choice of ticks to label, written as plain numbers (``0.02``, ``30``)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


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
        (:func:`~regretlab.results.summarise`). A band whose lower end is not positive cannot
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


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(7, 4.5), layout="constrained")
    return new


def _require_columns(table: pd.DataFrame, columns: set[str], name: str = "table") -> None:
    missing = columns - set(table.columns)
    if missing:
        raise ValueError(f"{name} must have columns {sorted(columns)}; missing {sorted(missing)}")
    if table.empty:
        raise ValueError(f"{name} must have at least one row")


def _band(ax: Axes, stats: pd.DataFrame, x: str, label: str, i: int) -> None:
    """A mean line with its interval band, styled by position ``i``."""
    stats = stats.sort_values(x)
    (line,) = ax.plot(
        stats[x], stats["mean"], linestyle=_STYLES[i % len(_STYLES)], linewidth=1.6, label=label
    )
    if (stats["upper"] > stats["lower"]).any():
        ax.fill_between(
            stats[x],
            stats["lower"],
            stats["upper"],
            color=line.get_color(),
            alpha=0.18,
            linewidth=0,
        )


def plot_regret(
    table: pd.DataFrame,
    value: str = "expected_regret",
    *,
    ax: Axes | None = None,
    title: str | None = None,
    level: float = 0.95,
) -> Axes:
    """Cumulative regret against step (log x): the mean per agent and its band over replicates.

    ``table`` is a regret table from :func:`~regretlab.simulate.run_prequential` (``value``
    ``expected_regret`` or ``excess_loss``) or :func:`~regretlab.simulate.run_bandit`
    (``pseudo_regret`` or ``realised_regret``).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> t = pd.DataFrame({"agent": ["a"] * 4, "replicate": [0, 1, 0, 1], "step": [1, 1, 9, 9],
    ...                   "pseudo_regret": [0.5, 0.7, 2.0, 3.0]})
    >>> plot_regret(t, "pseudo_regret", ax=Figure().subplots()).get_xscale()
    'log'
    """
    _require_columns(table, {"agent", "step", value})
    ax = _axes(ax)
    stats = summarise(table, ["agent", "step"], value, level=level)
    for i, (agent, part) in enumerate(stats.groupby("agent", sort=False)):
        _band(ax, part, "step", str(agent), i)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"cumulative {value.replace('_', ' ')} (mean, {level:.0%} band)")
    ax.grid(True, alpha=0.4)
    ax.legend(title="agent", fontsize="small", title_fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_paired_difference(
    table: pd.DataFrame,
    first: str,
    second: str,
    value: str = "expected_regret",
    *,
    ax: Axes | None = None,
    title: str | None = None,
    level: float = 0.95,
) -> Axes:
    """Regret of ``first`` minus ``second``, paired by replicate, with its band (log x).

    Agents of a replicate share the environment's draws, so the paired difference has a much
    narrower interval than the difference of two means; below zero, ``first`` is ahead.

    >>> from matplotlib.figure import Figure
    >>> t = pd.DataFrame({"agent": ["a", "b"] * 2, "replicate": [0, 0, 1, 1], "step": 5,
    ...                   "pseudo_regret": [1.0, 2.0, 1.5, 2.0]})
    >>> ax = plot_paired_difference(t, "a", "b", "pseudo_regret", ax=Figure().subplots())
    >>> ax.get_lines()[0].get_ydata().tolist()
    [-0.75]
    """
    _require_columns(table, {"agent", "replicate", "step", value})
    agents = set(table["agent"])
    for name in (first, second):
        if name not in agents:
            raise ValueError(f"agent {name!r} is not in the table; agents: {sorted(agents)}")
    keys = [c for c in ("environment", "replicate", "step") if c in table.columns]
    wide = (
        table[table["agent"].isin([first, second])]
        .pivot_table(index=keys, columns="agent", values=value)
        .reset_index()
    )
    wide["difference"] = wide[first] - wide[second]
    stats = summarise(wide, ["step"], "difference", level=level)
    ax = _axes(ax)
    _band(ax, stats, "step", f"{first} - {second}", 0)
    ax.axhline(0.0, color="0.3", linewidth=1.0)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"paired difference in {value.replace('_', ' ')}")
    ax.grid(True, alpha=0.4)
    ax.legend(fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_coefficients(
    coefficients: pd.DataFrame,
    *,
    agent: str,
    replicate: int = 0,
    features: list[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """One replicate's coefficient estimates against step with 95% credible bands and the truth.

    ``coefficients`` is the table from ``run_prequential(..., track_coefficients=True)``; the
    true weights are dashed lines in the same colour. ``features`` picks the names to draw
    (default: the first eight).

    >>> from matplotlib.figure import Figure
    >>> t = pd.DataFrame({"agent": "b", "replicate": 0, "step": [1, 10], "feature": "x0",
    ...                   "estimate": [0.1, 0.9], "sd": [1.0, 0.1], "truth": 1.0})
    >>> len(plot_coefficients(t, agent="b", ax=Figure().subplots()).get_lines())
    2
    """
    _require_columns(
        coefficients,
        {"agent", "replicate", "step", "feature", "estimate", "sd", "truth"},
        "coefficients",
    )
    rows = coefficients[(coefficients["agent"] == agent) & (coefficients["replicate"] == replicate)]
    if rows.empty:
        raise ValueError(f"no coefficients for agent {agent!r}, replicate {replicate}")
    names = list(dict.fromkeys(rows["feature"]))
    chosen = names[:8] if features is None else features
    unknown = [f for f in chosen if f not in names]
    if unknown:
        raise ValueError(f"features {unknown} are not in the table; features: {names}")
    ax = _axes(ax)
    for name in chosen:
        part = rows[rows["feature"] == name].sort_values("step")
        (line,) = ax.plot(part["step"], part["estimate"], linewidth=1.5, label=name)
        half = 1.959964 * part["sd"].fillna(0.0)
        ax.fill_between(
            part["step"],
            part["estimate"] - half,
            part["estimate"] + half,
            color=line.get_color(),
            alpha=0.15,
            linewidth=0,
        )
        ax.axhline(part["truth"].iloc[0], color=line.get_color(), linestyle="--", linewidth=1.0)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("coefficient (estimate, 95% band; truth dashed)")
    ax.grid(True, alpha=0.4)
    ax.legend(fontsize="small", ncol=2)
    if title is not None:
        ax.set_title(title)
    return ax


def save_figure(fig: Figure, path: str | os.PathLike[str], **savefig_kwargs: object) -> Path:
    """Save ``fig`` to ``path`` atomically: a temporary file beside it, then ``os.replace``.

    The format is ``format`` if given, else the suffix of ``path`` (PNG if it has none); other
    keywords go to ``Figure.savefig``. An error leaves any existing
    file at ``path`` untouched and no temporary file behind.

    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_figure(Figure(), Path(tmp) / "empty.png").name
    'empty.png'
    """
    target = Path(path)
    fmt = savefig_kwargs.pop("format", None) or target.suffix.lstrip(".").lower() or "png"
    # Not mkstemp: savefig creates the file, so it gets the usual (umask) permissions.
    name = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        fig.savefig(name, format=fmt, **savefig_kwargs)  # type: ignore[arg-type]
        os.replace(name, target)
    except BaseException:
        name.unlink(missing_ok=True)
        raise
    return target
