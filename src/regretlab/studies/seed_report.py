"""Writing the seed study: tables, figures and a Markdown summary (see :mod:`.seed_study`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from regretlab._io import Writer, write_atomically, write_csv, write_parquet, write_text
from regretlab._random import SeedLike
from regretlab.simulate.results import summarise
from regretlab.studies.seed_experiment import SeedExperiment, _check_experiments, _check_out_dir

__all__ = ["write_seed_study"]

logger = logging.getLogger(__name__)


def write_seed_study(
    results: Mapping[str, pd.DataFrame],
    experiments: Sequence[SeedExperiment],
    out_dir: str | os.PathLike[str],
    *,
    seed: SeedLike = 0,
) -> list[Path]:
    """Write ``<name>.csv``, ``<name>.parquet``, ``<name>.png`` per experiment and ``summary.md``.

    Every file is first written to a temporary name in ``out_dir``; only when all of them are
    complete are they renamed over their targets (``os.replace``), so an error leaves the
    existing results as they were. Returns the paths written.

    >>> import tempfile
    >>> from dataclasses import replace
    >>> from regretlab.studies import run_seed_study, seed_experiments
    >>> small = replace(seed_experiments(n_replicates=2)[1], horizon=100)
    >>> tables = run_seed_study([small], progress=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     names = sorted(path.name for path in write_seed_study(tables, [small], tmp))
    >>> names
    ['low_interaction.csv', 'low_interaction.parquet', 'low_interaction.png', 'summary.md']
    """
    exps = _check_experiments(experiments)
    missing = [exp.name for exp in exps if exp.name not in results]
    if missing:
        raise ValueError(f"results has no table for experiment {missing[0]!r}")
    root = _check_out_dir(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    targets: list[tuple[Path, Writer]] = []
    for exp in exps:
        table = results[exp.name]
        targets += [
            (root / f"{exp.name}.csv", write_csv(table)),
            (root / f"{exp.name}.parquet", write_parquet(table)),
            (root / f"{exp.name}.png", partial(_figure, table, exp)),
        ]
    targets.append((root / "summary.md", write_text(_summary_markdown(results, exps, seed=seed))))
    written = write_atomically(targets)
    logger.info("seed study: wrote %d files to %s", len(written), root)
    return written


def _figure(table: pd.DataFrame, exp: SeedExperiment, path: str) -> None:
    # A bare Figure, not pyplot: no global figure registry and no GUI backend involved.
    from matplotlib.figure import Figure

    from regretlab.plots import plot_convergence

    # Fixed margins: a layout engine would double the drawing time of these small figures.
    fig = Figure(figsize=(7, 4.5))
    fig.subplots_adjust(left=0.115, right=0.97, bottom=0.11, top=0.93)
    plot_convergence(table, ax=fig.subplots(), title=exp.title, noise_floor=exp.noise_level**2)
    fig.savefig(path, format="png", dpi=110)


def _fmt(value: float) -> str:
    return f"{value:#.4g}".rstrip(".")


def _headline_sizes(sizes: np.ndarray) -> list[int]:
    """The first and last size and those nearest (in log) to 100 and 1000 in between."""
    picks = [int(sizes[0])]
    for target in (100, 1000):
        if sizes[0] < target < sizes[-1]:
            picks.append(int(sizes[np.argmin(np.abs(np.log(sizes / target)))]))
    picks.append(int(sizes[-1]))
    return list(dict.fromkeys(picks))


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _summary_markdown(
    results: Mapping[str, pd.DataFrame],
    experiments: Sequence[SeedExperiment],
    *,
    seed: SeedLike = 0,
) -> str:
    """The Markdown summary: per experiment, mean test MSE with its 95% interval by model.

    A single-stream experiment gets its full table (every size, every model), as the notebook
    printed it.
    """
    seed_text = (
        f"entropy {seed.entropy}, spawn key {seed.spawn_key}"
        if isinstance(seed, np.random.SeedSequence)
        else str(seed)
    )
    lines = [
        "# Seed study: test MSE against training size",
        "",
        f"Seed {seed_text}. A replicated experiment uses child *k* of `SeedSequence(seed)` "
        "(*k* its position in the list below); a single stream uses the seed itself.",
        "Each model is fitted on rows 1 .. s-1 of the training half (the notebook's "
        "`x_train[1:s]`) and scored by mean squared error on the test half. Entries are the "
        "mean over replicates with a 95% Student-t interval; the irreducible error is "
        "noise_level².",
        "Seed quirks kept: the `bayes_*` models leave the intercept's prior variance at 1 with "
        "noise precision 1, as the notebook's `BayesLinearRegressor`; `sm` is statsmodels' "
        "pseudo-inverse OLS (minimum norm including the constant when under-determined). "
        "Unlike the notebook, whose functions read a global `x_dim = 6`, the 2- and 10-input "
        "scenarios split main effects from interactions at their own x_dim.",
    ]
    for exp in experiments:
        table = results[exp.name]
        reps = "one stream" if exp.n_replicates is None else f"{exp.n_replicates} replicates"
        lines += [
            "",
            f"## {exp.name}: {exp.title}",
            "",
            f"x_dim={exp.x_dim}, noise_level={exp.noise_level}, "
            f"interaction_scale={exp.interaction_scale}, horizon={exp.horizon}, {reps}; "
            f"irreducible MSE {exp.noise_level**2:g}. Files: `{exp.name}.csv`, "
            f"`{exp.name}.parquet`, `{exp.name}.png`.",
            "",
        ]
        models = list(dict.fromkeys(table["model"]))
        if exp.n_replicates is None:
            wide = table.pivot(index="data_size", columns="model", values="mse")[models]
            rows = [[str(size), *(f"{v:.6f}" for v in wide.loc[size])] for size in wide.index]
            lines += _markdown_table(["data_size", *models], rows)
            continue
        stats = summarise(table, ["model", "data_size"], "mse").set_index(["model", "data_size"])
        sizes = _headline_sizes(np.sort(table["data_size"].unique()))
        rows = []
        for model in models:
            cells = [f"`{model}`"]
            for size in sizes:
                row = stats.loc[(model, size)]
                cells.append(f"{_fmt(row['mean'])} [{_fmt(row['lower'])}, {_fmt(row['upper'])}]")
            rows.append(cells)
        lines += _markdown_table(["model", *(f"s={s}" for s in sizes)], rows)
    return "\n".join(lines) + "\n"
