"""A sweep's report: summary tables, figures and one ``report.md`` that embeds them.

Written into the results folder: ``report.md`` and ``report/`` with

- ``final_regret.csv``: final cumulative regret per environment and agent (mean, sd and 95%
  Student-t interval over replicates), for both regret measures;
- ``paired_differences.csv``: each agent minus the reference agent, paired by replicate (the
  agents of a replicate share its draws, so these intervals are much narrower);
- ``ranks.csv``: per environment, each agent's rank by mean final regret, its mean rank within
  replicates and its share of replicates won; plus the mean rank over environments;
- ``escalation_ratios.csv`` when the sweep has escalating agents (a scheduler other than
  ``Fixed``, or a candidate learner) and fixed ones: each escalating agent's final regret over
  the best fixed agent's, that agent chosen on the other half of the replicates, with a 95%
  paired bootstrap interval (:func:`~regretlab.simulate.results.ratio_to_best_fixed`);
- figures per environment: ``regret_*``, ``paired_*``, ``convergence_*`` (average regret per
  step, log-log), ``escalation_*`` when there are prior-change events and ``coefficients_*``
  when coefficients were tracked;
- bandit sweeps: arm choices and regret relative to the oracle (``arm_choices.csv``,
  ``oracle.csv``, ``choices_*``; :mod:`regretlab.experiments.choices_report`).

All files are written under temporary names and renamed together, so a failed report leaves
an earlier one whole.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from regretlab._io import write_atomically, write_csv, write_text
from regretlab.experiments._markdown import _fmt, _interval, _markdown_table
from regretlab.experiments.choices_report import choices_section
from regretlab.experiments.offpolicy_report import offpolicy_section
from regretlab.experiments.storage import SweepResults, load_sweep
from regretlab.plots import report as figures
from regretlab.simulate.results import ratio_to_best_fixed, summarise

__all__ = [
    "METRICS",
    "escalation_roles",
    "final_regret",
    "paired_differences",
    "ranks",
    "write_report",
]

logger = logging.getLogger(__name__)

# The headline measure first: expected (pseudo-) regret against the known truth.
METRICS = {
    "prequential": ("expected_regret", "excess_loss"),
    "bandit": ("pseudo_regret", "realised_regret"),
}


def _final(regret: pd.DataFrame) -> pd.DataFrame:
    """Rows at each environment's last recorded step."""
    last = regret.groupby("environment", sort=False)["step"].transform("max")
    return regret[regret["step"] == last]


def final_regret(regret: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Mean, sd and 95% interval of the final regret per environment, agent and metric.

    >>> t = pd.DataFrame({"environment": "e", "agent": ["a", "a"], "replicate": [0, 1],
    ...                   "step": 9, "pseudo_regret": [1.0, 3.0]})
    >>> final_regret(t, ["pseudo_regret"])[["agent", "metric", "n", "mean"]]
      agent         metric  n  mean
    0     a  pseudo_regret  2   2.0
    """
    final = _final(regret)
    parts = []
    for metric in metrics:
        stats = summarise(final, ["environment", "agent"], metric)
        stats.insert(2, "metric", metric)
        stats.insert(
            3,
            "step",
            final.groupby("environment", sort=False)["step"]
            .max()
            .loc[stats["environment"]]
            .to_numpy(),
        )
        parts.append(stats)
    return pd.concat(parts, ignore_index=True)


def paired_differences(
    regret: pd.DataFrame, metrics: Sequence[str], reference: str
) -> pd.DataFrame:
    """Final regret of every agent minus ``reference``'s, paired by replicate, with 95% intervals.

    >>> t = pd.DataFrame({"environment": "e", "agent": ["a", "b", "a", "b"],
    ...                   "replicate": [0, 0, 1, 1], "step": 5, "r": [1.0, 2.0, 1.5, 2.5]})
    >>> paired_differences(t, ["r"], "a")[["agent", "reference", "mean", "lower"]]
      agent reference  mean  lower
    0     b         a   1.0    1.0
    """
    final = _final(regret)
    parts = []
    for metric in metrics:
        wide = final.pivot_table(
            index=["environment", "replicate"], columns="agent", values=metric, sort=False
        )
        agents = [a for a in dict.fromkeys(final["agent"]) if a != reference]
        long = (
            wide[agents]
            .sub(wide[reference], axis=0)
            .reset_index()
            .melt(id_vars=["environment", "replicate"], var_name="agent", value_name="difference")
            .dropna(subset=["difference"])
        )
        stats = summarise(long, ["environment", "agent"], "difference")
        stats.insert(2, "reference", reference)
        stats.insert(3, "metric", metric)
        parts.append(stats)
    return pd.concat(parts, ignore_index=True)


def ranks(regret: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per environment and agent: rank of the mean final regret (1 is best), mean rank within
    replicates, share of replicates with the lowest regret; ``environment == "(mean)"`` rows
    average the ranks over environments.

    >>> t = pd.DataFrame({"environment": "e", "agent": ["a", "b", "a", "b"],
    ...                   "replicate": [0, 0, 1, 1], "step": 5, "r": [1.0, 2.0, 3.0, 2.5]})
    >>> ranks(t, "r")[["agent", "rank", "mean_replicate_rank", "wins"]].iloc[:2]
      agent  rank  mean_replicate_rank  wins
    0     a   1.0                  1.5   0.5
    1     b   2.0                  1.5   0.5
    """
    final = _final(regret)
    per_rep = final.assign(
        rank=final.groupby(["environment", "replicate"])[metric].rank(method="average")
    )
    best = final.groupby(["environment", "replicate"])[metric].transform("min")
    per_rep["win"] = (final[metric] == best).astype(float)
    per_rep["win"] /= per_rep.groupby(["environment", "replicate"])["win"].transform("sum")
    table = (
        per_rep.groupby(["environment", "agent"], sort=False)
        .agg(mean=(metric, "mean"), mean_replicate_rank=("rank", "mean"), wins=("win", "mean"))
        .reset_index()
    )
    table.insert(2, "rank", table.groupby("environment")["mean"].rank(method="min"))
    overall = (
        table.groupby("agent", sort=False)[["rank", "mean_replicate_rank", "wins"]]
        .mean()
        .reset_index()
        .assign(environment="(mean)", mean=np.nan)
    )
    return pd.concat([table, overall[table.columns]], ignore_index=True)


_CANDIDATE_LEARNERS = ("ModelAveraging", "ModelAveraging.recommended", "ChampionChallenger")


def escalation_roles(experiment: Any) -> tuple[list[str], list[str]]:
    """The experiment's escalating agents and the fixed ones they are compared with.

    Escalating: a scheduler other than ``Fixed``, or a learner made of candidates. Fixed: the
    other agents with a learner, except oracles (they know the truth).
    """
    escalating, fixed = [], []
    for agent in experiment.agents:
        scheduler = agent.scheduler.type if agent.scheduler is not None else "Fixed"
        learner = agent.learner.type if agent.learner is not None else None
        policy = agent.policy.type if agent.policy is not None else None
        if scheduler != "Fixed" or learner in _CANDIDATE_LEARNERS:
            escalating.append(agent.name)
        elif learner is not None and policy != "Oracle":
            fixed.append(agent.name)
    return escalating, fixed


def _figure_writer(make: Callable[[], object]) -> Callable[[str], None]:
    def write(path: str) -> None:
        make().savefig(path, format="png", dpi=100)  # type: ignore[attr-defined]

    return write


def write_report(
    out_dir: str | os.PathLike[str],
    *,
    reference: str | None = None,
    imports: Iterable[str] = (),
) -> list[Path]:
    """Write the report of the sweep in ``out_dir`` (see the module notes); return its files.

    ``reference`` is the agent the paired differences are taken against (default: the
    experiment's ``reference``); ``imports`` allow the plugin modules the experiment names (as
    ``regretlab run --import``). A sweep with unfinished tasks is reported as far as it got,
    and the report says so.

    >>> import tempfile
    >>> from regretlab.experiments.experiment import parse_experiment
    >>> from regretlab.experiments.sweep import run_sweep
    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}},
    ...                "b": {"learner": {"type": "SGDLinearRegression"}}}})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = run_sweep(exp, tmp)
    ...     names = sorted(path.name for path in write_report(tmp))
    >>> names
    ['convergence_e.png', 'final_regret.csv', 'paired_differences.csv', 'paired_e.png',
     'ranks.csv', 'regret_e.png', 'report.md']
    """
    results = load_sweep(out_dir, imports=imports)
    exp = results.experiment
    if results.regret.empty:
        raise ValueError(f"{out_dir}: no finished task yet; run the sweep first")
    agents = [a.name for a in exp.agents]
    reference = exp.reference if reference is None else reference
    if reference not in agents:
        raise ValueError(f"reference must be one of the agents {agents}, got {reference!r}")
    metrics = METRICS[exp.stream]
    root = Path(out_dir)
    folder = root / "report"
    folder.mkdir(exist_ok=True)
    final = final_regret(results.regret, metrics)
    paired = paired_differences(results.regret, metrics, reference)
    ranked = ranks(results.regret, metrics[0])
    targets = [
        (folder / "final_regret.csv", write_csv(final)),
        (folder / "paired_differences.csv", write_csv(paired)),
        (folder / "ranks.csv", write_csv(ranked)),
    ]
    escalating, fixed = escalation_roles(exp)
    ratios = None
    if escalating and fixed:
        ratios = ratio_to_best_fixed(
            _final(results.regret), escalating, fixed, metrics[0], seed=exp.seed
        )
        targets.append((folder / "escalation_ratios.csv", write_csv(ratios)))
    figure_names: dict[str, list[tuple[str, str]]] = {}
    for env in dict.fromkeys(results.regret["environment"]):
        made = _environment_figures(results, env, metrics[0], reference)
        figure_names[env] = [(caption, name) for caption, name, _ in made]
        targets += [(folder / name, _figure_writer(draw)) for _, name, draw in made]
    text = _markdown(results, final, paired, ranked, figure_names, metrics[0], reference)
    section, files = choices_section(results, folder)  # bandit sweeps: arm choices, oracle
    text, targets = text + section, targets + files
    if ratios is not None:
        text += _ratio_section(ratios, metrics[0])
    if exp.offpolicy is not None:  # the [offpolicy] table: regretlab.experiments.offpolicy_report
        section, files = offpolicy_section(exp, folder)
        text, targets = text + section, targets + files
    targets.append((root / "report.md", write_text(text)))
    written = write_atomically(targets)
    logger.info("report: wrote %d files to %s", len(written), root)
    return written


def _environment_figures(
    results: SweepResults, env: str, metric: str, reference: str
) -> list[tuple[str, str, Callable[[], object]]]:
    """``(caption, file name, draw)`` for each figure of environment ``env``."""
    regret = results.regret[results.regret["environment"] == env]
    made: list[tuple[str, str, Callable[[], object]]] = [
        ("Cumulative regret", f"regret_{env}.png",
         lambda: figures.regret_figure(regret, metric, env)),
        (f"Paired difference against `{reference}`", f"paired_{env}.png",
         lambda: figures.paired_figure(regret, metric, reference, env)),
        ("Convergence: average regret per step", f"convergence_{env}.png",
         lambda: figures.convergence_figure(regret, metric, env)),
    ]  # fmt: skip
    events = results.events
    if not events.empty and (events["environment"] == env).any():
        mine = events[events["environment"] == env]
        steps = np.asarray(results.experiment.checkpoints)
        reps = np.sort(regret["replicate"].unique())
        made.append(
            ("Escalation timeline", f"escalation_{env}.png",
             lambda: figures.escalation_figure(mine, steps, reps, env))
        )  # fmt: skip
    coef = results.coefficients
    if coef is not None and not coef.empty and (coef["environment"] == env).any():
        mine_coef = coef[coef["environment"] == env]
        agents = [a.name for a in results.experiment.agents]
        made.append(
            ("Coefficient trajectories", f"coefficients_{env}.png",
             lambda: figures.coefficients_figure(mine_coef, agents, env))
        )  # fmt: skip
        made.append(
            ("Final posteriors against the truth", f"posteriors_{env}.png",
             lambda: figures.posterior_figure(mine_coef, agents, env))
        )  # fmt: skip
    return made


def _ratio_section(ratios: pd.DataFrame, metric: str) -> str:
    """Does escalation pay? Each escalating agent against the best fixed agent, per environment."""
    lines = [
        "",
        "## Escalation against the best fixed agent",
        "",
        f"Final `{metric.replace('_', ' ')}` of each escalating agent divided by that of the "
        "best fixed agent, which is chosen on the other half of the replicates (choosing it on "
        "the same ones would flatter it); 95% paired bootstrap interval. Below 1: escalation "
        "beat every fixed prior; 1.05 means 5% more regret than the best fixed prior in "
        "hindsight. Table: `report/escalation_ratios.csv`.",
        "",
    ]
    lines += _markdown_table(
        ["environment", "agent", "ratio [95%]", "best fixed agent"],
        [
            [
                str(row["environment"]),
                f"`{row['agent']}`",
                f"{_fmt(row['ratio'])} [{_fmt(row['lower'])}, {_fmt(row['upper'])}]",
                f"`{row['best']}`",
            ]
            for _, row in ratios.iterrows()
        ],
    )
    return "\n".join(lines) + "\n"


def _markdown(
    results: SweepResults,
    final: pd.DataFrame,
    paired: pd.DataFrame,
    ranked: pd.DataFrame,
    figure_names: dict[str, list[tuple[str, str]]],
    metric: str,
    reference: str,
) -> str:
    exp = results.experiment
    versions = ", ".join(f"{k} {v}" for k, v in results.metadata.get("versions", {}).items())
    status = (
        "all tasks finished"
        if results.n_finished == results.n_tasks
        else f"**incomplete: {results.n_finished} of {results.n_tasks} tasks finished**; "
        "rerun the sweep to finish it"
    ) + "".join(f"; **damaged, left out: {d}**" for d in results.damaged)
    lines = [
        f"# {exp.name}",
        "",
        *([exp.description, ""] if exp.description else []),
        f"{len(exp.environments)} environments x {len(exp.agents)} agents x "
        f"{exp.replicates} replicates, horizon {exp.horizon}, seed {exp.seed} "
        f"({exp.stream}); {results.n_tasks} tasks of {exp.chunk_size} replicates, {status}. "
        f"Experiment hash `{results.metadata.get('experiment_hash', '')[:12]}`. {versions}.",
        "",
        f"Headline measure: final cumulative `{metric.replace('_', ' ')}`, mean over "
        "replicates with a 95% Student-t interval. Paired differences subtract "
        f"`{reference}` replicate by replicate (all agents of a replicate see the same draws). "
        "Tables: `report/final_regret.csv`, `report/paired_differences.csv`, `report/ranks.csv`.",
        "",
        "## Ranks (1 is best)",
        "",
    ]
    envs = [e for e in dict.fromkeys(ranked["environment"]) if e != "(mean)"]
    wide = ranked.pivot(index="agent", columns="environment", values="rank")
    overall = ranked[ranked["environment"] == "(mean)"].set_index("agent")
    order = overall.sort_values(["rank", "mean_replicate_rank"]).index
    lines += _markdown_table(
        ["agent", *envs, "mean rank", "mean rank within replicates", "share of replicates won"],
        [
            [
                f"`{a}`",
                *(f"{wide.loc[a, e]:g}" for e in envs),
                f"{overall.loc[a, 'rank']:.2f}",
                f"{overall.loc[a, 'mean_replicate_rank']:.2f}",
                f"{overall.loc[a, 'wins']:.2f}",
            ]
            for a in order
        ],
    )
    for env, names in figure_names.items():
        lines += ["", f"## {env}", ""]
        stats = final[(final["environment"] == env) & (final["metric"] == metric)]
        diffs = paired[(paired["environment"] == env) & (paired["metric"] == metric)]
        diffs = diffs.set_index("agent")
        rows = [
            [
                f"`{row['agent']}`",
                _interval(row),
                _interval(diffs.loc[row["agent"]]) if row["agent"] in diffs.index else "0",
            ]
            for _, row in stats.iterrows()
        ]
        lines += _markdown_table(
            ["agent", f"final {metric.replace('_', ' ')}", f"minus `{reference}`"], rows
        )
        for caption, name in names:
            lines += ["", f"![{caption}: {env}](report/{name})"]
    return "\n".join(lines) + "\n"
