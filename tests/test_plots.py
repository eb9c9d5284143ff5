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
