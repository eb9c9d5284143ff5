"""Figures a reader understands, checked on the figure objects (issue 20)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from regretlab.environments import LinearBandit
from regretlab.learners import BayesianLinearRegression
from regretlab.plots import (
    escalation_figure,
    paired_figure,
    plot_regret,
    posterior_figure,
    regret_figure,
)
from regretlab.policies import Oracle, Random, ThompsonSampling
from regretlab.simulate import Agent, run_bandit


@pytest.fixture(scope="module")
def bandit():
    env = LinearBandit(n_actions=4, context_dim=2, horizon=300, n_replicates=5, seed=3)
    agents = [
        Agent("thompson", BayesianLinearRegression(groups=env.features, n_replicates=5),
              policy=ThompsonSampling()),
        Agent("random", policy=Random()),
        Agent("oracle", policy=Oracle()),
    ]  # fmt: skip
    return run_bandit(env, agents, seed=1, environment="personal").regret


def _labels(ax) -> list[str]:
    return ax.get_legend_handles_labels()[1]


def test_plot_regret_works_on_bandit_results_with_a_title_a_reader_needs(bandit):
    ax = plot_regret(bandit, ax=Figure().subplots())  # no value: pseudo_regret is found
    assert "pseudo-regret" in ax.get_ylabel()
    assert ax.get_title() == "personal: horizon 300, 5 replicates"
    labels = _labels(ax)
    assert labels == ["thompson", "random", "oracle"]
    assert len(set(labels)) == len(labels)
    fig = regret_figure(bandit, "pseudo_regret", "personal")
    title = fig.axes[0].get_title()
    assert "personal" in title
    assert "horizon 300" in title
    assert "5 replicates" in title


def _finals(**final: float) -> pd.DataFrame:
    """Two replicates per agent, regret growing linearly to ``final`` at step 100."""
    return pd.DataFrame(
        [
            {"agent": a, "replicate": r, "step": s, "pseudo_regret": v * s / 100 * (1 + r / 10)}
            for a, v in final.items() for r in range(2) for s in (1, 10, 100)
        ]
    )  # fmt: skip


def test_a_wide_range_of_final_values_gets_a_log_axis():
    """Final means spanning more than 100x: log y (symmetric log with an oracle's 0)."""
    assert (
        plot_regret(_finals(learner=1.0, random=150.0), ax=Figure().subplots()).get_yscale()
        == "log"
    )
    assert (
        plot_regret(
            _finals(learner=1.0, random=150.0, oracle=0.0), ax=Figure().subplots()
        ).get_yscale()
        == "symlog"
    )
    assert (
        plot_regret(_finals(learner=1.0, random=90.0), ax=Figure().subplots()).get_yscale()
        == "linear"
    )
    assert (
        plot_regret(
            _finals(learner=1.0, random=90.0, oracle=0.0), ax=Figure().subplots()
        ).get_yscale()
        == "linear"
    )


def test_several_environments_get_distinct_labels(bandit):
    other = bandit.assign(environment="shared")
    ax = plot_regret(pd.concat([bandit, other]), ax=Figure().subplots())
    labels = _labels(ax)
    assert len(labels) == 6
    assert len(set(labels)) == 6
    assert "shared: random" in labels


def test_paired_figure_labels_are_unique_and_say_what_is_subtracted(bandit):
    ax = paired_figure(bandit, "pseudo_regret", "oracle", "personal").axes[0]
    assert _labels(ax) == ["thompson", "random"]
    assert ax.get_legend().get_title().get_text() == "agent, minus oracle (95% band)"
    assert "horizon 300, 5 replicates" in ax.get_title()
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2


def test_the_escalation_figure_has_bands_and_legends_in_both_panels():
    events = pd.DataFrame({"agent": "a", "replicate": [0, 1, 2], "step": [2, 5, 9],
                           "group": "pairwise", "old": 0.0, "new": 1.0})  # fmt: skip
    fig = escalation_figure(events, np.array([1, 5, 10, 20]), np.arange(4), "stream")
    left, right = fig.axes
    for ax in (left, right):
        assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the 95% band
        assert ax.get_legend() is not None
        assert _labels(ax) == ["a: pairwise"]
    assert "4 replicates" in fig.get_suptitle()


def test_the_posterior_figure_shows_every_coefficient_against_its_truth():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=6)
    rows = [
        {"agent": agent, "replicate": r, "step": step, "feature": f"f{j}",
         "group": "pairwise" if j >= 3 else "main", "truth": truth[j],
         "estimate": truth[j] + (0.1 if agent == "good" else 2.0), "sd": 0.1}
        for agent in ("good", "bad") for r in range(2) for step in (10, 100) for j in range(6)
    ]  # fmt: skip
    fig = posterior_figure(pd.DataFrame(rows), ["good", "bad"], "stream")
    good, bad = fig.axes[:2]
    assert good.get_title() == "good: 95% intervals cover the truth in 100% (pairwise 100%)"
    assert bad.get_title() == "bad: 95% intervals cover the truth in 0% (pairwise 0%)"
    assert _labels(good) == ["main", "pairwise"]
    assert "step 100, 2 replicates" in fig.get_suptitle()
