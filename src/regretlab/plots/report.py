"""Figures of a sweep report: regret, paired differences, convergence, escalation, coefficients.

Each ``*_figure`` function draws one environment on a bare :class:`matplotlib.figure.Figure`
(no pyplot, no GUI backend) and returns it; :mod:`regretlab.experiments.report` saves them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from regretlab.plots.convergence import plot_convergence
from regretlab.plots.regret import plot_coefficients, plot_regret
from regretlab.simulate.results import escalation_timeline, summarise

__all__ = [
    "coefficients_figure",
    "convergence_figure",
    "escalation_figure",
    "paired_figure",
    "regret_figure",
]


def _figure(width: float = 7.0, height: float = 4.5) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def regret_figure(regret: pd.DataFrame, metric: str, title: str) -> Figure:
    """Cumulative ``metric`` per agent against step, mean and 95% band (log x).

    >>> import pandas as pd
    >>> regret = pd.DataFrame({"agent": ["a", "b"] * 4, "replicate": [0, 0, 1, 1] * 2,
    ...                        "step": [1] * 4 + [10] * 4, "r": [1.0, 2.0, 1.5, 2.5, 5, 7, 6, 8]})
    >>> regret_figure(regret, "r", "regret").axes[0].get_title()
    'regret'
    """
    fig = _figure()
    plot_regret(regret, metric, ax=fig.subplots(), title=title)
    return fig


def paired_figure(regret: pd.DataFrame, metric: str, reference: str, title: str) -> Figure:
    """Every agent minus ``reference``, paired by replicate, mean and 95% band (log x).

    >>> import pandas as pd
    >>> regret = pd.DataFrame({"agent": ["a", "b"] * 4, "replicate": [0, 0, 1, 1] * 2,
    ...                        "step": [1] * 4 + [10] * 4, "r": [1.0, 2.0, 1.5, 2.5, 5, 7, 6, 8]})
    >>> paired_figure(regret, "r", "a", "paired").axes[0].get_legend_handles_labels()[1]
    ['b - a']
    """
    wide = regret.pivot_table(index=["replicate", "step"], columns="agent", values=metric)
    fig = _figure()
    ax = fig.subplots()
    others = [a for a in dict.fromkeys(regret["agent"]) if a != reference]
    for i, agent in enumerate(others):
        diff = (wide[agent] - wide[reference]).rename("difference").reset_index()
        stats = summarise(diff, ["step"], "difference").sort_values("step")
        ax.plot(stats["step"], stats["mean"], color=f"C{i}", label=f"{agent} - {reference}")
        ax.fill_between(
            stats["step"], stats["lower"], stats["upper"], color=f"C{i}", alpha=0.18, linewidth=0
        )
    ax.axhline(0.0, color="0.3", linewidth=1.0)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"paired difference in {metric.replace('_', ' ')} (95% band)")
    ax.grid(True, alpha=0.4)
    ax.legend(fontsize="small")
    ax.set_title(title)
    return fig


def convergence_figure(regret: pd.DataFrame, metric: str, title: str) -> Figure:
    """Average regret per step (cumulative / step) on log-log axes: how fast each agent learns.

    For a prediction stream this is the running mean squared error against the true mean, the
    prequential counterpart of the seed study's convergence curves.

    >>> import pandas as pd
    >>> regret = pd.DataFrame({"agent": ["a", "b"] * 4, "replicate": [0, 0, 1, 1] * 2,
    ...                        "step": [1] * 4 + [10] * 4, "r": [1.0, 2.0, 1.5, 2.5, 5, 7, 6, 8]})
    >>> convergence_figure(regret, "r", "rates").axes[0].get_xscale()
    'log'
    """
    rate = pd.DataFrame(
        {
            "model": regret["agent"],
            "data_size": regret["step"],
            "replicate": regret["replicate"],
            "mse": regret[metric] / regret["step"],
        }
    )
    fig = _figure()
    ax = plot_convergence(rate, ax=fig.subplots(), title=title)
    ax.set_xlabel("step")
    ax.set_ylabel(f"{metric.replace('_', ' ')} per step (mean, 95% band)")
    legend = ax.get_legend()
    if legend is not None:
        legend.set_title("agent")
    return fig


def escalation_figure(
    events: pd.DataFrame, steps: np.ndarray, replicates: np.ndarray, title: str
) -> Figure:
    """Escalation timelines: when each agent loosened each group's prior, over replicates.

    Left: the share of replicates whose prior for the group is looser than at the start, with
    a 95% Wilson band; it falls when replicates tighten the prior again (a model-averaging
    leader going back to "off"). Right: prior changes per replicate so far, mean and 95% band;
    a steep right curve with a flat left one means the leader keeps switching.

    >>> import pandas as pd
    >>> events = pd.DataFrame({"agent": "a", "replicate": [0, 1], "step": [2, 5], "group": "g",
    ...                        "old": 0.0, "new": 1.0})
    >>> len(escalation_figure(events, np.array([1, 5, 10]), np.array([0, 1]), "when").axes)
    2
    """
    timeline = escalation_timeline(events, steps, replicates)
    fig = _figure(11.0, 5.0)
    left, right = fig.subplots(1, 2)
    for i, ((agent, group), part) in enumerate(timeline.groupby(["agent", "group"], sort=False)):
        label = f"{agent}: {group}"
        for ax, column in ((left, "loosened"), (right, "changes")):
            ax.step(part["step"], part[column], where="post", label=label, color=f"C{i}")
            ax.fill_between(
                part["step"], part[f"{column}_lower"], part[f"{column}_upper"],
                step="post", color=f"C{i}", alpha=0.15, linewidth=0,
            )  # fmt: skip
    left.set_ylabel("share of replicates with a looser prior than at first")
    left.set_ylim(-0.02, 1.02)
    right.set_ylabel("prior changes per replicate so far (mean)")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.4)
        ax.legend(fontsize="small", title="agent: group (95% band)", title_fontsize="small")
    fig.suptitle(f"{title}: {len(replicates)} replicates")
    fig.text(
        0.5, 0.005,
        "Left falls when replicates tighten the prior again; right keeps rising while the "
        "leading prior keeps changing.",
        ha="center", va="bottom", fontsize="small", color="0.3",
    )  # fmt: skip
    return fig


def coefficients_figure(coefficients: pd.DataFrame, agents: list[str], title: str) -> Figure:
    """Replicate 0's coefficient estimates with 95% bands against the truth, one panel per agent.

    >>> from regretlab.environments import InteractionStream
    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.simulate import Agent, run_prequential
    >>> env = InteractionStream(x_dim=2, horizon=20, n_replicates=2, seed=0)
    >>> agent = Agent("bayes", BayesianLinearRegression(groups=env.features, n_replicates=2))
    >>> run = run_prequential(env, [agent], checkpoints=[5, 20], track_coefficients=True)
    >>> coefficients_figure(run.coefficients, ["bayes"], "weights").get_suptitle()
    'weights (replicate 0; truth dashed)'
    """
    agents = [a for a in agents if (coefficients["agent"] == a).any()]
    ncols = min(3, len(agents))
    nrows = -(-len(agents) // ncols)
    fig = _figure(4.6 * ncols, 3.6 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    replicate = int(coefficients["replicate"].min())
    for ax, agent in zip(axes, agents, strict=False):
        plot_coefficients(coefficients, agent=agent, replicate=replicate, ax=ax, title=agent)
        legend = ax.get_legend()
        if legend is not None and ax is not axes[0]:
            legend.remove()
    for ax in axes[len(agents) :]:
        ax.set_visible(False)
    fig.suptitle(f"{title} (replicate {replicate}; truth dashed)")
    return fig
