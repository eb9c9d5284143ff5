"""The report's section on a bandit sweep's arm choices and its regret relative to the oracle.

Written for a bandit sweep (from the ``choices`` tables of its tasks, see
:mod:`regretlab.simulate.choices`): ``report/arm_choices.csv`` (each agent's share of steps on
each arm, :func:`~regretlab.simulate.choice_shares`), ``report/oracle.csv`` (at the last
step, per environment and agent: the share of the oracle's expected reward, the share of
optimal actions over all steps and over the last stretch between checkpoints, each with a 95%
Student-t interval over replicates), ``report/choices_<environment>.png`` and a section of
``report.md``. A folder written before choices were recorded gets a one-line note instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from regretlab._io import Writer, write_csv
from regretlab.experiments._markdown import _interval, _markdown_table
from regretlab.experiments.storage import SweepResults
from regretlab.plots.choices import choices_figure
from regretlab.simulate.choices import choice_shares, optimal_share, oracle_share
from regretlab.simulate.results import summarise

__all__ = ["choices_section", "oracle_summary"]

#: The measures of ``oracle.csv``, in the order of the report's columns.
MEASURES = {
    "reward_share": "share of the oracle's expected reward",
    "optimal_share": "share of optimal actions, all steps",
    "optimal_share_last": "share of optimal actions, last stretch",
}


def oracle_summary(regret: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    """Per environment, agent and measure (:data:`MEASURES`), at the environment's last step:
    ``n, mean, sd, lower, upper`` over replicates, ``first_step`` (where the measure's stretch
    starts) and ``undefined`` (replicates whose oracle's expected reward is not positive, so
    their reward share is undefined and the row's statistics are ``NaN``).

    >>> from regretlab.environments import MultiArmedBandit
    >>> from regretlab.policies import Oracle
    >>> from regretlab.simulate import Agent, run_bandit
    >>> env = MultiArmedBandit([0.2, 0.6], horizon=100, n_replicates=3, seed=0)
    >>> run = run_bandit(env, [Agent("oracle", policy=Oracle())], checkpoints=[50, 100])
    >>> oracle_summary(run.regret, run.choices)[["measure", "first_step", "mean"]]
                  measure  first_step  mean
    0        reward_share           1   1.0
    1       optimal_share           1   1.0
    2  optimal_share_last          51   1.0
    """
    keys = ["environment", "agent"]
    shares = oracle_share(regret, choices)
    last = shares.groupby("environment", sort=False)["step"].transform("max")
    final = shares[shares["step"] == last]
    undefined = final["share"].isna().groupby([final[k] for k in keys], sort=False).sum()
    parts = [summarise(final, keys, "share").assign(measure="reward_share", first_step=1)]
    for cumulative, measure in ((True, "optimal_share"), (False, "optimal_share_last")):
        curve = optimal_share(choices, cumulative=cumulative)
        ends = curve.groupby("environment", sort=False)["step"].transform("max")
        stats = curve[curve["step"] == ends].drop(columns="step")
        if cumulative:
            first = 1
        else:  # the stretch starts after the environment's second-to-last checkpoint
            steps = choices.groupby("environment", sort=False)["step"].unique()
            first = stats["environment"].map(
                {env: 1 + (np.sort(s)[-2] if len(s) > 1 else 0) for env, s in steps.items()}
            )
        parts.append(stats.assign(measure=measure, first_step=first))
    table = pd.concat(parts, ignore_index=True)
    table["undefined"] = [
        int(undefined.get((e, a), 0)) if m == "reward_share" else 0
        for e, a, m in zip(table["environment"], table["agent"], table["measure"], strict=True)
    ]
    bad = table["undefined"] > 0
    table.loc[bad, ["mean", "sd", "lower", "upper"]] = np.nan
    columns = [*keys, "measure", "first_step", "n", "mean", "sd", "lower", "upper", "undefined"]
    codes = [
        pd.Categorical(table[name], categories=list(dict.fromkeys(values))).codes
        for name, values in (("measure", MEASURES), ("agent", shares["agent"]),
                             ("environment", shares["environment"]))
    ]  # fmt: skip
    return table.iloc[np.lexsort(codes)][columns].reset_index(drop=True)


def _figure_writer(choices: pd.DataFrame, title: str) -> Writer:
    def write(path: str) -> None:
        choices_figure(choices, title).savefig(path, format="png", dpi=100)

    return write


def _percent(row: pd.Series) -> str:
    if row["undefined"] > 0:
        return f"n/a (oracle's reward not positive in {row['undefined']} replicates)"
    scaled = row[["mean", "lower", "upper"]].astype(float) * 100
    return _interval(scaled) + " %"


def choices_section(results: SweepResults, folder: Path) -> tuple[str, list[tuple[Path, Writer]]]:
    """The Markdown section and the files (path, writer) on arm choices and the oracle.

    Empty for a prediction stream; a note for a bandit folder without ``choices`` tables.

    >>> import tempfile
    >>> from regretlab.experiments.experiment import parse_experiment
    >>> from regretlab.experiments.storage import load_sweep
    >>> from regretlab.experiments.sweep import run_sweep
    >>> exp = parse_experiment({"seed": 1, "horizon": 40, "replicates": 2,
    ...     "environments": {"e": {"type": "MultiArmedBandit", "means": [0.2, 0.6]}},
    ...     "agents": {"ucb": {"learner": {"type": "ArmMeans"}, "policy": {"type": "UCB1"}}}})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = run_sweep(exp, tmp)
    ...     text, files = choices_section(load_sweep(tmp), Path(tmp))
    >>> text.splitlines()[1], [path.name for path, _ in files]
    ('## Arm choices and the oracle', ['arm_choices.csv', 'oracle.csv', 'choices_e.png'])
    """
    exp = results.experiment
    if exp.stream != "bandit":
        return "", []
    choices = results.choices
    if choices is None:
        note = (
            "\n## Arm choices and the oracle\n\nNot available: this folder's tasks were run "
            "before regretlab recorded arm choices; run the experiment into a new folder to "
            "get them.\n"
        )
        return note, []
    shares = choice_shares(choices)
    summary = oracle_summary(results.regret, choices)
    files: list[tuple[Path, Writer]] = [
        (folder / "arm_choices.csv", write_csv(shares)),
        (folder / "oracle.csv", write_csv(summary)),
    ]
    lines = [
        "",
        "## Arm choices and the oracle",
        "",
        "**Share of the oracle's expected reward**: the agent's cumulative expected reward "
        "`sum_t mu_t(a_t)` over the oracle's `sum_t max_a mu_t(a)` (or the best fixed arm's, where "
        "the environment measures regret against it), per replicate at the last step, so "
        "1 - pseudo-regret / oracle's reward: 100 % for the oracle. It is a ratio of rewards: "
        "read it for rewards on a ratio scale (clicks, conversions); with rewards centred at "
        "zero (a linear bandit's) its origin is arbitrary, and the regret above is the measure. "
        "**Share of optimal actions**: steps on which the chosen arm's expected reward was the "
        "best (ties count), over all steps and over the last stretch between checkpoints. "
        "Means over replicates with 95% Student-t intervals. Tables: `report/oracle.csv`, "
        "`report/arm_choices.csv` (share of steps on each arm).",
    ]
    for env in dict.fromkeys(summary["environment"]):
        mine = summary[summary["environment"] == env]
        last = mine[mine["measure"] == "optimal_share_last"]["first_step"].iloc[0]
        steps = int(choices.loc[choices["environment"] == env, "step"].max())
        env_shares = shares[shares["environment"] == env]
        rows = []
        for agent in dict.fromkeys(mine["agent"]):
            cells = mine[mine["agent"] == agent].set_index("measure")
            top = env_shares[env_shares["agent"] == agent].sort_values("mean").iloc[-1]
            rows.append(
                [f"`{agent}`", *(_percent(cells.loc[m]) for m in MEASURES),
                 f"{top['action']} ({top['mean']:.0%})"]
            )  # fmt: skip
        header = ["agent", MEASURES["reward_share"], MEASURES["optimal_share"]]
        header += [f"optimal, steps {last:,}-{steps:,}", "most chosen arm (share)"]
        lines += ["", f"### {env}", "", *_markdown_table(header, rows)]
        covered = choices.loc[choices["environment"] == env, "replicate"].nunique()
        total = results.regret.loc[results.regret["environment"] == env, "replicate"].nunique()
        if covered < total:
            lines += ["", f"Arm choices recorded for {covered} of {total} replicates "
                      "(the others were run before they were recorded)."]  # fmt: skip
        name = f"choices_{env}.png"
        files.append((folder / name, _figure_writer(choices[choices["environment"] == env], env)))
        lines += ["", f"![Arm choices and optimal actions: {env}](report/{name})"]
    return "\n".join(lines) + "\n", files
