"""The report's off-policy section, for an experiment with an ``[offpolicy]`` table.

For every environment: the logger agent runs once more, ``replicates`` replicates of
``horizon`` steps, with a :class:`~regretlab.offpolicy.MemoryLog` (seeded from the
experiment's seed, so the section is reproducible; not the sweep's own runs, which keep no
log); each target (a policy acting on the true means) gets its action probabilities on the
log, and each estimator's estimates on every log prefix of ``sizes`` are compared with the
target's exact value. Written: ``report/offpolicy.csv`` (bias, its standard error, RMSE,
coverage of the 95% intervals, ESS, largest weight, support deficiency, refusals),
``report/offpolicy_<environment>_<target>.png`` and a section of ``report.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from regretlab._io import Writer, write_csv
from regretlab._random import children
from regretlab.offpolicy import MemoryLog, error_table, summarise_errors, target_probabilities
from regretlab.plots.offpolicy import offpolicy_figure
from regretlab.simulate import run_bandit

__all__ = ["offpolicy_section", "offpolicy_summary"]


def offpolicy_summary(exp: Any) -> pd.DataFrame:
    """Every environment x target x estimator x log size of ``exp.offpolicy`` (see the module
    notes), with an ``environment`` column."""
    spec = exp.offpolicy
    frames = []
    seeds = children(np.random.SeedSequence([exp.seed, 18]), 2 * len(exp.environments))
    for i, env_spec in enumerate(exp.environments):
        env = exp.build_environment(env_spec.name, n_replicates=exp.replicates, seed=seeds[2 * i])
        agents = [a for a in exp.build_agents(env, seed=seeds[2 * i + 1]) if a.name == spec.logger]
        log = MemoryLog()
        run_bandit(env, agents, seed=seeds[2 * i + 1], log_to=log, environment=env_spec.name)
        logged = log.logged(spec.logger)
        targets = {
            name: target_probabilities(policy, logged, model="truth", seed=seeds[2 * i])
            for name, policy in spec.build_targets().items()
        }
        table = error_table(logged, targets, spec.build_estimators(), spec.sizes)
        frames.append(summarise_errors(table).assign(environment=env_spec.name))
    summary = pd.concat(frames, ignore_index=True)
    return summary[["environment", *[c for c in summary.columns if c != "environment"]]]


def _figure_writer(summary: pd.DataFrame, target: str, title: str) -> Writer:
    def write(path: str) -> None:
        offpolicy_figure(summary, target, title).savefig(path, format="png", dpi=100)

    return write


def offpolicy_section(exp: Any, folder: Path) -> tuple[str, list[tuple[Path, Writer]]]:
    """The Markdown section and the files (path, writer) of the off-policy evaluation."""
    spec = exp.offpolicy
    summary = offpolicy_summary(exp)
    files: list[tuple[Path, Writer]] = [(folder / "offpolicy.csv", write_csv(summary))]
    lines = [
        "",
        "## Off-policy evaluation",
        "",
        f"Logger `{spec.logger}`, rerun with a log on every environment ({exp.replicates} "
        "replicates); targets act on the true means, so their values are exact. Bias (mean "
        "error, with its standard error), RMSE and coverage of the 95% intervals over the "
        "replicates; ESS is (sum w)^2 / sum w^2. Table: `report/offpolicy.csv`.",
        "",
        "| environment | target | estimator | n | bias (se) | RMSE | coverage | ESS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in summary.itertuples(index=False):
        if row.refused:
            cells = f"refused ({row.refused} replicates) | | |"
        else:
            cells = f"{row.bias:.4g} ({row.bias_se:.2g}) | {row.rmse:.4g} | {row.coverage:.2f}"
            cells += f" | {row.ess:.1f}"
        lines.append(f"| {row.environment} | {row.target} | {row.estimator} | {row.n} | {cells} |")
    for env in dict.fromkeys(summary["environment"]):
        part = summary[summary["environment"] == env]
        for target in dict.fromkeys(part["target"]):
            name = f"offpolicy_{env}_{target}.png"
            title = f"{env}: target {target}, logger {spec.logger}"
            files.append((folder / name, _figure_writer(part, target, title)))
            lines += ["", f"![off-policy estimators, {title}](report/{name})"]
    return "\n".join(lines) + "\n", files
