"""The arm-choice figure of a bandit sweep's report: which arms each agent chose, and when it
chose the optimal one (from :func:`~regretlab.simulate.run_bandit`'s ``choices`` table)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from regretlab.plots._common import _band, _run_title
from regretlab.simulate.choices import choice_shares, optimal_share

__all__ = ["choices_figure"]


def choices_figure(choices: pd.DataFrame, title: str) -> Figure:
    """Arm-choice frequencies (left) and the share of optimal actions over time (right).

    Left: a heatmap, one row per agent and one column per arm, of the share of all steps on
    which the agent chose the arm (mean over replicates), written in the cells when there are
    at most 12 arms. Right: per agent, the share of optimal actions in the steps since the
    previous checkpoint (:func:`~regretlab.simulate.choices.optimal_share`), mean over
    replicates with a 95% band; the oracle's line is 1, a uniformly random agent's the share of
    optimal arms.

    >>> from regretlab.environments import MultiArmedBandit
    >>> from regretlab.policies import Oracle, Random
    >>> from regretlab.simulate import Agent, run_bandit
    >>> env = MultiArmedBandit([0.2, 0.5, 0.4], horizon=100, n_replicates=3, seed=0)
    >>> agents = [Agent("oracle", policy=Oracle()), Agent("random", policy=Random())]
    >>> run = run_bandit(env, agents, seed=1, environment="arms")
    >>> choices_figure(run.choices, "arms").get_suptitle()
    'arms: arm choices, horizon 100, 3 replicates'
    """
    shares = choice_shares(choices)
    agents = list(dict.fromkeys(shares["agent"]))
    actions = np.sort(shares["action"].unique())
    grid = (
        shares.pivot_table(index="agent", columns="action", values="mean", sort=False)
        .reindex(index=agents, columns=actions)
        .to_numpy()
    )
    fig = Figure(figsize=(12.0, 0.8 + max(3.6, 0.45 * len(agents))), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.1, 1.0])
    image = left.imshow(grid, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
    left.set_yticks(range(len(agents)), [str(a) for a in agents])
    if len(actions) <= 12:
        left.set_xticks(range(len(actions)), [str(a) for a in actions])
        for (i, j), value in np.ndenumerate(grid):
            left.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize="small",
                      color="black" if value > 0.6 else "white")  # fmt: skip
    left.set_xlabel("arm (action)")
    left.set_title("share of all steps on which each arm was chosen", fontsize="small")
    fig.colorbar(image, ax=left, label="share of steps (mean over replicates)")
    curve = optimal_share(choices)
    for i, agent in enumerate(agents):
        _band(right, curve[curve["agent"] == agent], "step", str(agent), i)
    right.set_xscale("log")
    right.set_ylim(-0.02, 1.02)
    right.set_xlabel("step")
    right.set_ylabel("share of optimal actions since the previous checkpoint")
    right.grid(True, alpha=0.4)
    right.legend(fontsize="small", title="agent (95% band)", title_fontsize="small")
    right.set_title("how often the chosen arm was the best one", fontsize="small")
    run = _run_title(choices.drop(columns="environment", errors="ignore"))
    fig.suptitle(f"{title}: arm choices, {run}")
    return fig
