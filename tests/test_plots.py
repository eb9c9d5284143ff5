"""Convergence figures and atomic figure writing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from regretlab.plots import (
    plot_coefficients,
    plot_convergence,
    plot_escalation_steps,
    plot_escalation_timeline,
    plot_paired_difference,
    plot_regret,
    save_figure,
)


def _table() -> pd.DataFrame:
    # Model "b" has a wide spread at size 10: its t-interval's lower end is negative.
    return pd.DataFrame(
        {
            "model": ["a"] * 4 + ["b"] * 4,
            "data_size": [10, 10, 100, 100] * 2,
            "replicate": [0, 1, 0, 1] * 2,
            "mse": [3.0, 5.0, 1.5, 1.7, 1.0, 90.0, 1.1, 1.3],
        }
    )


def test_plot_convergence_draws_means_and_bands_on_log_axes():
    ax = plot_convergence(_table(), ax=Figure().subplots(), title="t", noise_floor=1.0)
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert ax.get_title() == "t"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"a", "b", "noise floor 1"}
    np.testing.assert_allclose(lines["a"].get_ydata(), [4.0, 1.6])
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    # The negative lower end is drawn at the bottom of the axes, which stays positive.
    assert ax.get_ylim()[0] > 0
    assert all(np.isfinite(b.get_paths()[0].vertices).all() for b in bands)


def test_plot_convergence_rejects_tables_without_the_columns():
    with pytest.raises(ValueError, match="missing"):
        plot_convergence(pd.DataFrame({"model": ["a"], "mse": [1.0]}), ax=Figure().subplots())


def test_save_figure_keeps_the_old_file_when_saving_fails(tmp_path):
    target = tmp_path / "figure.png"
    save_figure(Figure(), target)
    before = target.read_bytes()
    reference = tmp_path / "reference"
    reference.write_text("")
    assert target.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777
    with pytest.raises(ValueError, match="not-a-format"):
        save_figure(Figure(), target, format="not-a-format")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.png", "reference"]


def _regret_table():
    rows = []
    for agent, slope in (("a", 1.0), ("b", 2.0)):
        for rep in range(3):
            for step in (1, 10, 100):
                rows.append(
                    {
                        "agent": agent,
                        "replicate": rep,
                        "step": step,
                        "expected_regret": slope * np.log1p(step) + 0.1 * rep,
                    }
                )
    return pd.DataFrame(rows)


def test_regret_and_paired_difference_plots():
    table = _regret_table()
    ax = plot_regret(table, ax=Figure().subplots(), title="t")
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    ax = plot_paired_difference(table, "a", "b", ax=Figure().subplots())
    # Paired by replicate, the 0.1 * rep offsets cancel: the difference is exact.
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), -np.log1p([1, 10, 100]))
    with pytest.raises(ValueError, match="agent 'c'"):
        plot_paired_difference(table, "a", "c")
    with pytest.raises(ValueError, match="missing"):
        plot_regret(table, "pseudo_regret")


def test_coefficient_plot_errors():
    table = pd.DataFrame(
        {
            "agent": "b",
            "replicate": 0,
            "step": [1, 10],
            "feature": "x0",
            "estimate": [0.1, 0.9],
            "sd": [1.0, 0.1],
            "truth": 1.0,
        }
    )
    with pytest.raises(ValueError, match="no coefficients"):
        plot_coefficients(table, agent="zzz")
    with pytest.raises(ValueError, match="features"):
        plot_coefficients(table, agent="b", features=["x9"])


def _escalation_tables():
    regret = pd.DataFrame(
        [
            {
                "environment": env,
                "agent": agent,
                "replicate": rep,
                "step": step,
                "expected_regret": np.log1p(step) * (1 + rep),
            }
            for env in ("e1", "e2")
            for agent in ("fixed", "esc")
            for rep in range(4)
            for step in (1, 10, 100)
        ]
    )
    # Replicate 0 loosens at 5 and is back at 0 from 50 (a leader that changes its mind);
    # replicate 1 loosens at 20 in two moves; replicate 2 loosens another group only.
    events = pd.DataFrame(
        {
            "environment": "e1",
            "agent": "esc",
            "replicate": [0, 0, 1, 1, 2],
            "step": [5, 50, 20, 30, 8],
            "group": ["pairwise"] * 4 + ["main"],
            "old": [0.0, 1.0, 0.0, 0.1, 1.0],
            "new": [1.0, 0.0, 0.1, 10.0, 5.0],
        }
    )
    return events, regret


def test_escalation_timeline_overlays_the_share_of_loosened_replicates():
    events, regret = _escalation_tables()
    ax = plot_escalation_timeline(
        events, regret, environment="e1", group="pairwise", ax=Figure().subplots(), title="t"
    )
    assert ax.get_xscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["fixed", "esc"]
    twin = ax.figure.axes[-1]
    share, rug = twin.get_lines()
    assert share.get_label() == "esc: share with pairwise loosened"
    # Of 4 replicates: 0 is loose on [5, 50), 1 from 20 on; 2 and 3 never (for this group).
    assert share.get_xdata().tolist() == [1, 5, 20, 30, 50, 100]
    np.testing.assert_allclose(share.get_ydata(), [0, 0.25, 0.5, 0.5, 0.25, 0.25])
    np.testing.assert_array_equal(np.sort(rug.get_xdata()), [5, 20])
    assert share.get_color() == ax.get_lines()[1].get_color()
    # Every group when none is named: one step line and one rug per group.
    ax = plot_escalation_timeline(events, regret, environment="e1", ax=Figure().subplots())
    assert len(ax.figure.axes[-1].get_lines()) == 4


def test_escalation_timeline_without_events_and_its_errors():
    events, regret = _escalation_tables()
    ax = plot_escalation_timeline(events.iloc[:0], regret, environment="e2", ax=Figure().subplots())
    assert len(ax.get_lines()) == 2
    assert ax.figure.axes[-1].get_lines() == []
    with pytest.raises(ValueError, match="several environments"):
        plot_escalation_timeline(events, regret)
    with pytest.raises(ValueError, match="group 'nope'"):
        plot_escalation_timeline(events, regret, environment="e1", group="nope")
    with pytest.raises(ValueError, match="missing"):
        plot_escalation_timeline(events.drop(columns="new"), regret, environment="e1")
    with pytest.raises(ValueError, match="pseudo_regret"):
        plot_escalation_timeline(events, regret.drop(columns="expected_regret"))


def test_escalation_steps_rows_medians_and_counts():
    events, _ = _escalation_tables()
    more = events.assign(environment="e2", step=events["step"] * 10)
    table = pd.concat([events, more], ignore_index=True)
    ax = plot_escalation_steps(
        table, ax=Figure().subplots(), order=["e2", "e1", "e3"], n_replicates=4, title="t"
    )
    assert ax.get_xscale() == "log"
    # First loosening per replicate (any group; the move back to 0 does not count):
    # replicate 0 at 5, 1 at 20, 2 at 8.
    assert [t.get_text() for t in ax.get_yticklabels()] == ["e2 (3/4)", "e1 (3/4)", "e3 (0/4)"]
    medians = [line for line in ax.get_lines() if line.get_marker() == "D"]
    assert [m.get_xdata()[0] for m in medians] == [80.0, 8.0]
    assert [m.get_ydata()[0] for m in medians] == [0, 1]
    by_agent = plot_escalation_steps(events, by="agent", ax=Figure().subplots())
    assert [t.get_text() for t in by_agent.get_yticklabels()] == ["esc (3)"]
    with pytest.raises(ValueError, match="missing"):
        plot_escalation_steps(events.drop(columns="old"))
    with pytest.raises(ValueError, match="at least one row"):
        plot_escalation_steps(events.iloc[:0])
