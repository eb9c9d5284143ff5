"""Figures of a sweep report: regret, paired differences, convergence, escalation, coefficients.

Each ``*_figure`` function draws one environment on a bare :class:`matplotlib.figure.Figure`
(no pyplot, no GUI backend) and returns it; :mod:`regretlab.experiments.report` saves them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from regretlab.plots._common import _run_title
from regretlab.plots.convergence import plot_convergence
from regretlab.plots.regret import plot_coefficients, plot_regret
from regretlab.simulate.results import escalation_timeline, summarise

__all__ = [
    "coefficients_figure",
    "convergence_figure",
    "escalation_figure",
    "paired_figure",
    "posterior_figure",
    "regret_figure",
]


def _figure(width: float = 7.0, height: float = 4.5) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _titled(title: str, regret: pd.DataFrame) -> str:
    """``title: horizon T, R replicates`` (``title`` names the environment)."""
    return f"{title}: {_run_title(regret.drop(columns='environment', errors='ignore'))}"


def regret_figure(regret: pd.DataFrame, metric: str, title: str) -> Figure:
    """Cumulative ``metric`` per agent against step, mean and 95% band (log x).

    >>> import pandas as pd
    >>> regret = pd.DataFrame({"agent": ["a", "b"] * 4, "replicate": [0, 0, 1, 1] * 2,
    ...                        "step": [1] * 4 + [10] * 4, "r": [1.0, 2.0, 1.5, 2.5, 5, 7, 6, 8]})
    >>> regret_figure(regret, "r", "shared").axes[0].get_title()
    'shared: horizon 10, 2 replicates'
    """
    fig = _figure()
    plot_regret(regret, metric, ax=fig.subplots(), title=_titled(title, regret))
    return fig


def paired_figure(regret: pd.DataFrame, metric: str, reference: str, title: str) -> Figure:
    """Every agent minus ``reference``, paired by replicate, mean and 95% band (log x).

    >>> import pandas as pd
    >>> regret = pd.DataFrame({"agent": ["a", "b"] * 4, "replicate": [0, 0, 1, 1] * 2,
    ...                        "step": [1] * 4 + [10] * 4, "r": [1.0, 2.0, 1.5, 2.5, 5, 7, 6, 8]})
    >>> ax = paired_figure(regret, "r", "a", "shared").axes[0]
    >>> ax.get_legend_handles_labels()[1], ax.get_legend().get_title().get_text()
    (['b'], 'agent, minus a (95% band)')
    """
    wide = regret.pivot_table(index=["replicate", "step"], columns="agent", values=metric)
    fig = _figure()
    ax = fig.subplots()
    others = [a for a in dict.fromkeys(regret["agent"]) if a != reference]
    # Overlapping bands stay readable: fainter the more there are, each edged in its colour.
    alpha = 0.2 if len(others) <= 2 else 0.4 / len(others)
    for i, agent in enumerate(others):
        diff = (wide[agent] - wide[reference]).rename("difference").reset_index()
        stats = summarise(diff, ["step"], "difference").sort_values("step")
        style = ("-", "--", "-.", ":")[i % 4]
        ax.plot(stats["step"], stats["mean"], color=f"C{i}", linestyle=style, label=str(agent))
        ax.fill_between(
            stats["step"], stats["lower"], stats["upper"], color=f"C{i}", alpha=alpha, linewidth=0
        )
        for edge in ("lower", "upper"):
            ax.plot(stats["step"], stats[edge], color=f"C{i}", linewidth=0.5, alpha=0.6)
    ax.axhline(0.0, color="0.3", linewidth=1.0)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(
        f"paired difference in cumulative {metric.replace('_', ' ')}\n(agent minus "
        f"{reference}, same replicate; below 0: agent ahead)",
        fontsize="small",
    )
    ax.grid(True, alpha=0.4)
    ax.legend(fontsize="small", title=f"agent, minus {reference} (95% band)")
    ax.set_title(_titled(title, regret))
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
    ax = plot_convergence(rate, ax=fig.subplots(), title=_titled(title, regret))
    ax.set_xlabel("step")
    ax.set_ylabel(
        f"running average of {metric.replace('_', ' ')}\n(cumulative / step; mean, 95% band)",
        fontsize="small",
    )
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


def posterior_figure(coefficients: pd.DataFrame, agents: list[str], title: str) -> Figure:
    """Every coefficient's final posterior against its truth, one panel per agent.

    At the last recorded step, each coefficient of every replicate is a point (truth across,
    posterior mean up) with its 95% credible interval, coloured by feature group; on the
    diagonal the estimate is exact. Each panel's title gives the share of intervals that
    contain the truth, overall and for the interaction (``pairwise``) group: near 95% for a
    calibrated posterior, lower for a model that switches the group off while it matters.

    >>> from regretlab.environments import InteractionStream
    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.simulate import Agent, run_prequential
    >>> env = InteractionStream(x_dim=2, horizon=50, n_replicates=4, seed=0)
    >>> agent = Agent("bayes", BayesianLinearRegression(groups=env.features, n_replicates=4))
    >>> run = run_prequential(env, [agent], checkpoints=[50], track_coefficients=True)
    >>> posterior_figure(run.coefficients, ["bayes"], "e").axes[0].get_title()
    'bayes: 95% intervals cover the truth in 81% (pairwise 75%)'
    """
    last = coefficients[coefficients["step"] == coefficients["step"].max()]
    agents = [a for a in agents if (last["agent"] == a).any()]
    ncols = min(3, len(agents))
    nrows = -(-len(agents) // ncols)
    fig = _figure(4.6 * ncols, 4.2 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    groups = list(dict.fromkeys(last["group"])) if "group" in last else [None]
    for ax, agent in zip(axes, agents, strict=False):
        mine = last[last["agent"] == agent]
        half = 1.959964 * mine["sd"].fillna(0.0)
        covered = (mine["estimate"] - mine["truth"]).abs() <= half
        for i, group in enumerate(groups):
            part = mine if group is None else mine[mine["group"] == group]
            ax.errorbar(
                part["truth"], part["estimate"], yerr=1.959964 * part["sd"].fillna(0.0),
                fmt="o", markersize=3, color=f"C{i}", alpha=0.6, elinewidth=0.8, label=group,
            )  # fmt: skip
        low = float(np.nanmin([mine["truth"].min(), mine["estimate"].min()]))
        high = float(np.nanmax([mine["truth"].max(), mine["estimate"].max()]))
        ax.plot([low, high], [low, high], color="0.3", linewidth=1.0, linestyle="--")
        text = f"{agent}: 95% intervals cover the truth in {covered.mean():.0%}"
        if "group" in mine and (mine["group"] == "pairwise").any():
            text += f" (pairwise {covered[mine['group'] == 'pairwise'].mean():.0%})"
        ax.set_title(text, fontsize="small")
        ax.set_xlabel("true coefficient")
        ax.set_ylabel("posterior mean (95% interval)")
        ax.grid(True, alpha=0.4)
        if group is not None:
            ax.legend(fontsize="small", title="group", title_fontsize="small")
    for ax in axes[len(agents) :]:
        ax.set_visible(False)
    steps, reps = int(last["step"].max()), last["replicate"].nunique()
    fig.suptitle(f"{title}: final posteriors against the truth (step {steps:,}, {reps} replicates)")
    return fig
