"""Cumulative regret, paired differences and coefficient trajectories."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from regretlab.simulate.results import summarise

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from regretlab.plots._common import (
    METRIC_TEXT,
    _axes,
    _band,
    _log_if_wide,
    _metric,
    _require_columns,
    _run_title,
)

__all__ = ["plot_coefficients", "plot_paired_difference", "plot_regret"]


def plot_regret(
    table: pd.DataFrame,
    value: str | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    level: float = 0.95,
) -> Axes:
    """Cumulative regret against step (log x): the mean per agent and its band over replicates.

    ``table`` is a regret table from :func:`~regretlab.simulate.run_prequential` (``value``
    ``expected_regret`` or ``excess_loss``) or :func:`~regretlab.simulate.run_bandit`
    (``pseudo_regret`` or ``realised_regret``); by default the first of these it has. The
    title defaults to the environment, the horizon and the number of replicates. When the
    agents' final means span more than 100x (a random policy beside learning ones), the y-axis
    is logarithmic (symmetric-log if some are <= 0), so that no curve is squashed flat. Several
    environments in one table get one curve per environment and agent.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> t = pd.DataFrame({"agent": ["a"] * 4, "replicate": [0, 1, 0, 1], "step": [1, 1, 9, 9],
    ...                   "pseudo_regret": [0.5, 0.7, 2.0, 3.0]})
    >>> ax = plot_regret(t, ax=Figure().subplots())
    >>> ax.get_xscale(), ax.get_title()
    ('log', 'horizon 9, 2 replicates')
    """
    value = _metric(table, value)
    _require_columns(table, {"agent", "step", value})
    ax = _axes(ax)
    several = "environment" in table and table["environment"].nunique() > 1
    keys = ["environment", "agent"] if several else ["agent"]
    stats = summarise(table, [*keys, "step"], value, level=level)
    for i, (key, part) in enumerate(stats.groupby(keys, sort=False)):
        _band(ax, part, "step", ": ".join(map(str, key)) if several else str(key[0]), i)
    last = stats.sort_values("step").groupby(keys, sort=False)["mean"].last()
    _log_if_wide(ax, last)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    text = METRIC_TEXT.get(value, value.replace("_", " "))
    ax.set_ylabel(f"cumulative {text}\n(mean over replicates, {level:.0%} band)", fontsize="small")
    ax.grid(True, alpha=0.4)
    ax.legend(title="agent", fontsize="small", title_fontsize="small")
    ax.set_title(_run_title(table) if title is None else title)
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
