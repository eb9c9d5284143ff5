"""Sweep reports: summary tables that agree with the rows, figures embedded in report.md."""

from __future__ import annotations

import re
import tomllib

import numpy as np
import pandas as pd
import pytest

from regretlab.experiments.experiment import parse_experiment
from regretlab.experiments.report import write_report
from regretlab.experiments.storage import load_sweep
from regretlab.experiments.sweep import run_sweep

STREAM = """
name = "report-stream"
description = "A tiny stream sweep for the report tests"
seed = 4
horizon = 150
replicates = 6
chunk_size = 3
checkpoints = 8
track_coefficients = true

[environments.weak]
type = "InteractionStream"
x_dim = 2
interaction_scale = 0.1
noise_level = 1.0

[environments.strong]
type = "InteractionStream"
x_dim = 2
interaction_scale = 1.0
noise_level = 0.2

[agents.main]
learner = { type = "BayesianLinearRegression", prior_variance = { pairwise = 0.0 } }

[agents.full]
learner = { type = "BayesianLinearRegression" }

[agents.switch]
learner = { type = "NormalInverseGammaRegression", prior_variance = { pairwise = 0.0 } }
scheduler = { type = "EvidenceSwitch", group = "pairwise", every = 5 }
"""

BANDIT = """
name = "report-bandit"
seed = 9
horizon = 100
replicates = 4
chunk_size = 2
checkpoints = 6
reference = "random"

[environments.bandit]
type = "LinearBandit"
n_actions = 3
context_dim = 2

[agents.thompson]
learner = { type = "BayesianLinearRegression" }
policy = { type = "ThompsonSampling" }

[agents.random]
policy = { type = "Random" }
"""


@pytest.fixture(scope="module")
def stream_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    run_sweep(parse_experiment(tomllib.loads(STREAM)), folder)
    written = write_report(folder)
    return folder, written


def test_files_and_embedded_figures(stream_report):
    folder, written = stream_report
    names = {p.name for p in written}
    assert {"final_regret.csv", "paired_differences.csv", "ranks.csv", "report.md"} <= names
    for env in ("weak", "strong"):
        for kind in ("regret", "paired", "convergence", "coefficients", "posteriors"):
            assert f"{kind}_{env}.png" in names
    # The evidence switch fires where the interactions are strong, and only there.
    assert "escalation_strong.png" in names
    assert "escalation_weak.png" not in names
    text = (folder / "report.md").read_text()
    embedded = re.findall(r"!\[[^\]]*\]\((report/[^)]+\.png)\)", text)
    assert len(embedded) == 11  # 5 per environment, and one escalation figure
    for path in embedded:
        assert (folder / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "A tiny stream sweep" in text
    assert "all tasks finished" in text
    assert not list(folder.rglob(".*.tmp"))


def test_final_regret_matches_the_rows(stream_report):
    folder, _ = stream_report
    regret = load_sweep(folder).regret
    final = pd.read_csv(folder / "report" / "final_regret.csv")
    last = regret[regret["step"] == 150]
    for (env, agent), part in last.groupby(["environment", "agent"]):
        row = final[
            (final["environment"] == env)
            & (final["agent"] == agent)
            & (final["metric"] == "expected_regret")
        ].iloc[0]
        assert row["n"] == 6
        assert row["step"] == 150
        assert row["mean"] == pytest.approx(part["expected_regret"].mean(), rel=1e-12)
        assert row["lower"] < row["mean"] < row["upper"]
    assert set(final["metric"]) == {"expected_regret", "excess_loss"}


def test_paired_differences_and_ranks(stream_report):
    folder, _ = stream_report
    regret = load_sweep(folder).regret
    paired = pd.read_csv(folder / "report" / "paired_differences.csv")
    assert set(paired["reference"]) == {"main"}
    assert "main" not in set(paired["agent"])
    last = regret[regret["step"] == 150].pivot_table(
        index=["environment", "replicate"], columns="agent", values="expected_regret"
    )
    strong = last.loc["strong"]
    row = paired[
        (paired["environment"] == "strong")
        & (paired["agent"] == "full")
        & (paired["metric"] == "expected_regret")
    ].iloc[0]
    assert row["mean"] == pytest.approx((strong["full"] - strong["main"]).mean(), rel=1e-12)
    ranks = pd.read_csv(folder / "report" / "ranks.csv")
    per_env = ranks[ranks["environment"] != "(mean)"]
    for _, part in per_env.groupby("environment"):
        # Rank 1 is the lowest mean; equal means (main and an unfired switch) share a rank.
        by_mean = part.sort_values("mean")
        assert by_mean["rank"].iloc[0] == 1.0
        assert by_mean["rank"].is_monotonic_increasing
        assert part["wins"].sum() == pytest.approx(1.0)
    overall = ranks[ranks["environment"] == "(mean)"].set_index("agent")
    expected = per_env.groupby("agent")["rank"].mean()
    np.testing.assert_allclose(overall.loc[expected.index, "rank"], expected)


def test_bandit_report_with_another_reference(tmp_path):
    run_sweep(parse_experiment(tomllib.loads(BANDIT)), tmp_path)
    names = {p.name for p in write_report(tmp_path, reference="thompson")}
    assert "coefficients_bandit.png" not in names
    assert "escalation_bandit.png" not in names  # no scheduler, no events
    paired = pd.read_csv(tmp_path / "report" / "paired_differences.csv")
    assert set(paired["metric"]) == {"pseudo_regret", "realised_regret"}
    assert set(paired["agent"]) == {"random"}
    assert (paired["mean"] > 0).all()  # random play loses to Thompson sampling
    assert "minus `thompson`" in (tmp_path / "report.md").read_text()
    with pytest.raises(ValueError, match="reference must be one of the agents"):
        write_report(tmp_path, reference="ucb")


def test_an_unfinished_sweep_is_reported_as_such(tmp_path):
    run_sweep(parse_experiment(tomllib.loads(BANDIT)), tmp_path)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(manifest.read_text().splitlines()[0] + "\n")
    write_report(tmp_path)
    assert "incomplete: 1 of 2 tasks finished" in (tmp_path / "report.md").read_text()
    final = pd.read_csv(tmp_path / "report" / "final_regret.csv")
    assert set(final["n"]) == {2}


def test_escalating_agents_are_compared_with_the_best_fixed_one(stream_report):
    folder, _ = stream_report
    ratios = pd.read_csv(folder / "report" / "escalation_ratios.csv")
    assert set(ratios["agent"]) == {"switch"}
    assert set(ratios["environment"]) == {"weak", "strong"}
    assert set(ratios["best"].str.split(" / ").explode()) <= {"main", "full"}
    # Recompute one ratio by hand: best fixed agent chosen on even replicates, scored on odd
    # ones, and the other way round, averaged.
    results = load_sweep(folder)
    final = results.regret[results.regret["step"] == results.regret["step"].max()]
    wide = final[final.environment == "strong"].pivot(
        index="replicate", columns="agent", values="expected_regret"
    )
    even, odd = wide.index % 2 == 0, wide.index % 2 == 1
    expected = []
    for choose, score in ((even, odd), (odd, even)):
        best = min(("main", "full"), key=lambda a: wide.loc[choose, a].mean())
        expected.append(wide.loc[score, "switch"].mean() / wide.loc[score, best].mean())
    row = ratios[ratios.environment == "strong"].iloc[0]
    assert row["ratio"] == pytest.approx(np.mean(expected), rel=1e-12)
    assert row["lower"] <= row["ratio"] <= row["upper"]
    assert "## Escalation against the best fixed agent" in (folder / "report.md").read_text()


def test_escalation_figure_has_bands_and_legends_on_both_panels():
    from matplotlib.collections import PolyCollection

    from regretlab.plots.report import escalation_figure

    events = pd.DataFrame(
        {"agent": "a", "replicate": [0, 1, 1], "step": [3, 5, 8], "group": "pairwise",
         "old": [0.0, 0.0, 1.0], "new": [1.0, 1.0, 0.0]}
    )  # fmt: skip
    fig = escalation_figure(events, np.array([1, 4, 6, 9]), np.array([0, 1, 2]), "env")
    left, right = fig.axes[:2]
    for ax in (left, right):
        assert any(isinstance(c, PolyCollection) for c in ax.collections)
        assert ax.get_legend() is not None
    assert "3 replicates" in fig._suptitle.get_text()
