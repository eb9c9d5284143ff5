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
from typing import TYPE_CHECKING, Any

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
    "plot_escalation_steps",
    "plot_escalation_timeline",
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


def _loosened_share(part: pd.DataFrame, steps: np.ndarray, replicates: np.ndarray) -> np.ndarray:
    """Share of ``replicates`` whose variance is above its value before their first change.

    ``part`` holds one agent's events for one group; a replicate without events never loosened.
    """
    part = part.sort_values("step", kind="stable")
    share = np.zeros(len(steps))
    for _, mine in part.groupby("replicate", sort=False):
        start = float(mine["old"].iloc[0])
        at = np.searchsorted(mine["step"].to_numpy(dtype=np.int64), steps, side="right")
        current = np.concatenate([[start], mine["new"].to_numpy(dtype=float)])[at]
        share += current > start
    return share / max(len(replicates), 1)


def _first_loosening(events: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The first step at which each unit of ``keys`` raised a prior variance (``new > old``)."""
    up = events[events["new"] > events["old"]]
    return up.groupby(keys, sort=False)["step"].min().reset_index()


def _one_environment(table: pd.DataFrame, environment: str | None, name: str) -> pd.DataFrame:
    if "environment" not in table.columns:
        return table
    if environment is None:
        found = list(dict.fromkeys(table["environment"]))
        if len(found) > 1:
            raise ValueError(
                f"{name} holds several environments {found}; pass environment= to pick one"
            )
        return table
    return table[table["environment"] == environment]


def plot_escalation_timeline(
    events: pd.DataFrame,
    regret: pd.DataFrame,
    *,
    environment: str | None = None,
    group: str | None = None,
    ax: Axes | None = None,
    value: str | None = None,
    level: float = 0.95,
    title: str | None = None,
) -> Axes:
    """Cumulative regret with, overlaid, when the replicates loosened a group's prior.

    On ``ax`` (log x): each agent's cumulative regret, mean and band over replicates. On a twin
    axis (right, 0 to 1): for every agent with events, the share of its replicates whose prior
    variance of ``group`` is looser than before its first change, a shaded step curve in the
    agent's colour behind the regret curves, and a rug of each replicate's first loosening along
    the bottom. For candidate
    learners (:class:`~regretlab.policies.escalation.ModelAveraging`,
    :class:`~regretlab.policies.escalation.ChampionChallenger`) the events are changes of the
    leading candidate.

    Parameters
    ----------
    events
        Columns ``agent, replicate, step, group, old, new`` (``environment`` optional), as in
        the ``events`` table of :func:`~regretlab.simulate.run_prequential` or
        :func:`~regretlab.simulate.run_bandit`; may have no rows.
    regret
        The matching regret table; its replicates are the denominator of the share.
    environment
        The environment to draw, required when the tables hold several.
    group
        The feature group whose loosening is shown; ``None`` draws every group in ``events``.
    ax
        Axes for the regret curves; a new figure's axes if ``None``. The twin axis is
        ``ax.figure.axes[-1]`` after the call.
    value
        Regret column; default the first of ``expected_regret``, ``pseudo_regret`` present.
    level, title
        Band coverage (Student-t over replicates) and axes title.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> regret = pd.DataFrame({"agent": "a", "replicate": [0, 1, 0, 1], "step": [1, 1, 9, 9],
    ...                        "expected_regret": [1.0, 1.2, 3.0, 4.0]})
    >>> events = pd.DataFrame({"agent": "a", "replicate": [0], "step": [4],
    ...                        "group": "pairwise", "old": [0.0], "new": [1.0]})
    >>> ax = plot_escalation_timeline(events, regret, ax=Figure().subplots())
    >>> share = ax.figure.axes[-1].get_lines()[0]
    >>> share.get_xdata().tolist(), share.get_ydata().tolist()
    ([1, 4, 9], [0.0, 0.5, 0.5])
    """
    missing = {"agent", "replicate", "step", "group", "old", "new"} - set(events.columns)
    if missing:
        raise ValueError(
            "events must have columns agent, replicate, step, group, old and new; "
            f"missing {sorted(missing)}"
        )
    if value is None:
        present = [c for c in ("expected_regret", "pseudo_regret") if c in regret.columns]
        if not present:
            raise ValueError(
                "regret must have an expected_regret or pseudo_regret column (or pass value=)"
            )
        value = present[0]
    _require_columns(regret, {"agent", "replicate", "step", value}, "regret")
    regret = _one_environment(regret, environment, "regret")
    events = _one_environment(events, environment, "events")
    if regret.empty:
        raise ValueError(f"regret has no rows for environment {environment!r}")
    if group is not None:
        if not events.empty and group not in set(events["group"]):
            raise ValueError(
                f"group {group!r} is not in events; groups: {sorted(set(events['group']))}"
            )
        events = events[events["group"] == group]
    ax = _axes(ax)
    stats = summarise(regret, ["agent", "step"], value, level=level)
    colours: dict[str, Any] = {}
    for i, (agent, part) in enumerate(stats.groupby("agent", sort=False)):
        _band(ax, part, "step", str(agent), i)
        colours[str(agent)] = ax.get_lines()[-1].get_color()
    last = int(regret["step"].max())
    share_ax = ax.twinx()
    for agent, colour in colours.items():
        mine = events[events["agent"] == agent]
        if mine.empty:
            continue
        replicates = regret.loc[regret["agent"] == agent, "replicate"].unique()
        for j, (name, part) in enumerate(mine.groupby("group", sort=False)):
            steps = np.unique(np.concatenate([[1], part["step"].to_numpy(dtype=np.int64), [last]]))
            share = _loosened_share(part, steps, replicates)
            share_ax.step(
                steps,
                share,
                where="post",
                color=colour,
                linestyle=("-", "--", ":")[j % 3],
                linewidth=1.0,
                alpha=0.9,
                label=f"{agent}: share with {name} loosened",
            )
            share_ax.fill_between(steps, share, step="post", color=colour, alpha=0.12, linewidth=0)
            first = _first_loosening(part, ["replicate"])["step"].to_numpy()
            share_ax.plot(
                first,
                np.zeros(len(first)),
                linestyle="none",
                marker="|",
                markersize=12,
                alpha=0.35,
                color=colour,
            )
    share_ax.set_ylim(-0.03, 1.03)
    # The shaded shares go behind the regret curves: the twin axes is drawn under ``ax``.
    share_ax.set_zorder(ax.get_zorder() - 1)
    ax.patch.set_visible(False)
    share_ax.set_ylabel("share of replicates loosened")
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"cumulative {value.replace('_', ' ')} (mean, {level:.0%} band)")
    ax.grid(True, alpha=0.4)
    handles = ax.get_legend_handles_labels()
    more = share_ax.get_legend_handles_labels()
    share_ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize="small", loc="upper left")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_escalation_steps(
    events: pd.DataFrame,
    *,
    by: str = "environment",
    ax: Axes | None = None,
    order: list[str] | None = None,
    n_replicates: int | None = None,
    title: str | None = None,
) -> Axes:
    """When the replicates first loosened a prior: one row per ``by`` value, log-x steps.

    A replicate's first escalation is its first event with ``new > old``, per environment and
    agent where those columns exist (pass one agent's events to compare environments, or one
    environment's to compare agents with ``by="agent"``). Each row shows the replicates' first
    escalation steps as jittered points, their interquartile range as a bar and their median as
    a white diamond; the label counts the replicates that escalated.

    Parameters
    ----------
    events
        An events table (:func:`~regretlab.simulate.run_prequential`,
        :func:`~regretlab.simulate.run_bandit`).
    by
        Column whose values make the rows.
    ax
        Axes to draw on; a new figure's axes if ``None``.
    order
        Row values top to bottom, including values without any escalation (drawn empty with
        a count of 0); default the order of first appearance in ``events``.
    n_replicates
        Replicates per row, to label the counts as ``k/n``.
    title
        Axes title.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> events = pd.DataFrame({"environment": ["e1", "e1", "e2"], "replicate": [0, 1, 0],
    ...                        "step": [10, 100, 30], "old": 0.0, "new": 1.0})
    >>> ax = plot_escalation_steps(events, ax=Figure().subplots(), order=["e1", "e2", "e3"],
    ...                            n_replicates=2)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['e1 (2/2)', 'e2 (1/2)', 'e3 (0/2)']
    """
    missing = {by, "replicate", "step", "old", "new"} - set(events.columns)
    if missing:
        raise ValueError(
            f"events must have columns {by}, replicate, step, old and new; "
            f"missing {sorted(missing)}"
        )
    keys = list(dict.fromkeys([by, *(c for c in ("environment", "agent") if c in events.columns)]))
    first = _first_loosening(events, [*keys, "replicate"])
    rows = list(dict.fromkeys(events[by])) if order is None else list(order)
    if not rows:
        raise ValueError("events must have at least one row, or pass order=")
    ax = _axes(ax)
    rng = np.random.default_rng(0)  # jitter only: fixed so a figure redraws identically
    labels = []
    for i, row in enumerate(rows):
        steps = first.loc[first[by] == row, "step"].to_numpy(dtype=float)
        count = f"{len(steps)}/{n_replicates}" if n_replicates is not None else f"{len(steps)}"
        labels.append(f"{row} ({count})")
        if len(steps) == 0:
            continue
        ax.plot(
            steps,
            i + rng.uniform(-0.22, 0.22, len(steps)),
            linestyle="none",
            marker="o",
            markersize=2.5,
            alpha=0.35,
            color="C0",
        )
        q1, median, q3 = np.percentile(steps, [25, 50, 75])
        ax.plot([q1, q3], [i, i], color="0.15", linewidth=5, solid_capstyle="butt", alpha=0.7)
        ax.plot([median], [i], marker="D", markersize=6, color="white", markeredgecolor="0.1")
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_PlainLogFormatter())
    ax.xaxis.set_minor_formatter(_PlainLogFormatter(minor_thresholds=(2, 0.4)))
    ax.set_xlabel("first escalation step (points: replicates; bar: quartiles; diamond: median)")
    ax.grid(True, axis="x", alpha=0.4)
    if title is not None:
        ax.set_title(title)
    return ax
