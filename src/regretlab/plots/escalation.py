"""Escalation: when replicates loosened a group's prior, over the regret curve."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from regretlab.simulate.results import escalation_timeline, summarise

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from regretlab.plots._common import _axes, _band, _PlainLogFormatter, _require_columns

__all__ = ["plot_escalation_steps", "plot_escalation_timeline"]


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
            share = escalation_timeline(part, steps, replicates)["loosened"].to_numpy()
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
