"""Every experiment of the seed notebook (seed 000), run as convergence studies and written out.

The notebook fits each model on rows ``1 .. s - 1`` of the training half (``x_train[1:s]``) for
the log-spaced sizes of :func:`~regretlab.studies.seed_data_sizes` and scores it by test MSE on
the other half, over 100 generated datasets per experiment (one stream of 100,000 rows for its
first table). :func:`seed_experiments` lists those experiments with the notebook's model names,
:func:`run_seed_study` runs them (all replicates of an experiment at once, from sufficient
statistics) and :func:`regretlab.studies.write_seed_study` writes a CSV, a Parquet file
and a PNG per experiment plus a Markdown summary.

Seed quirks kept on purpose (DESIGN.md, "Seed quirks"):

- Rows ``1 .. s - 1``: ``convergence_study(..., skip_first_row=True)``.
- The notebook's ``BayesLinearRegressor`` leaves the intercept's prior variance at 1 and uses
  noise precision ``beta = 1``: its ``bayes_*`` models are :class:`GaussianPosteriorMean` with
  ``prior_variance={"intercept": 1.0, "main": alpha_base, "pairwise": alpha_int}`` and
  ``noise_precision=1.0``, so ``bayes_base_10_int_-30`` is close to, not equal to, ``base``.
- Its statsmodels appendix (``sm``) fits ``sm.OLS(y, add_constant(x))`` by pseudo-inverse: the
  minimum-norm solution over *all* weights, the constant included. That equals ``pair_int``
  (scikit-learn, which centres first) once the fit is determined, and differs below that, so
  ``sm`` is the flat-prior :class:`GaussianPosteriorMean`, whose singular case is exactly that
  minimum-norm solution.

The notebook's ``predict_model_base`` and ``predict_model_bayes`` read the global ``x_dim = 6``
for the split between main effects and interactions, also in its scenarios with 2 and 10 inputs,
where the split is therefore wrong (with 2 inputs its ``base`` model is ``pair_int``). Here the
split is always the experiment's own ``x_dim``: the scenarios run the models the notebook
describes, not the ones its global variable selected.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from regretlab._random import SeedLike, as_seed_sequence, children
from regretlab._validation import check_int, check_real
from regretlab.environments.interactions import InteractionStream
from regretlab.learners.reference import BatchFit, GaussianPosteriorMean, LeastSquares, Ridge
from regretlab.studies.convergence import convergence_study

__all__ = [
    "SeedExperiment",
    "experiment_seeds",
    "run_seed_study",
    "seed_experiments",
]

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class SeedExperiment:
    """One experiment of the seed notebook: a data generator and the models compared on it.

    Parameters
    ----------
    name
        Identifier, also the stem of the files written for it (letters, digits, ``_.-``).
    title
        One line for figures and the summary.
    x_dim, noise_level, interaction_scale, horizon
        Arguments of :class:`~regretlab.environments.InteractionStream` (the notebook's
        ``gen_data``); the training half is ``horizon // 2`` rows.
    n_replicates
        Independent datasets; ``None`` for one stream seeded with the study's seed itself (the
        notebook's first table, drawn from ``default_rng(0)``).
    models
        ``{name: fit}`` of batch fits from :mod:`regretlab.learners.reference`.

    Examples
    --------
    >>> from regretlab.learners import LeastSquares
    >>> exp = SeedExperiment("tiny", "Tiny", x_dim=2, noise_level=1.0, interaction_scale=1.0,
    ...                      horizon=40, n_replicates=2, models={"ols": LeastSquares()})
    >>> exp.environment(0)
    InteractionStream(x_dim=2, noise_level=1.0, interaction_scale=1.0, horizon=40, n_replicates=2)
    """

    name: str
    title: str
    x_dim: int
    noise_level: float
    interaction_scale: float
    horizon: int
    n_replicates: int | None
    models: dict[str, BatchFit]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                "name must be letters, digits and '_.-' (it names files), "
                f"not starting with '.' or '-', got {self.name!r}"
            )
        if not isinstance(self.title, str):
            raise TypeError(f"title must be a str, got {self.title!r}")
        check_int("x_dim", self.x_dim, minimum=1)
        check_real("noise_level", self.noise_level, minimum=0.0)
        check_real("interaction_scale", self.interaction_scale)
        # Dropping row 0 (the notebook's convention) leaves at least one training row.
        check_int("horizon", self.horizon, minimum=4)
        if self.n_replicates is not None:
            check_int("n_replicates", self.n_replicates, minimum=1)
        if not isinstance(self.models, Mapping) or not self.models:
            raise TypeError(f"models must be a non-empty dict of name to fit, got {self.models!r}")
        for key, fit in self.models.items():
            if not isinstance(key, str) or not callable(getattr(fit, "coef", None)):
                raise TypeError(
                    f"models[{key!r}] must be a batch fit with coef(stats, groups), got {fit!r}"
                )

    def environment(self, seed: SeedLike) -> InteractionStream:
        """The experiment's data: an :class:`InteractionStream` seeded with ``seed``."""
        return InteractionStream(
            x_dim=self.x_dim,
            noise_level=self.noise_level,
            interaction_scale=self.interaction_scale,
            horizon=self.horizon,
            n_replicates=self.n_replicates,
            seed=seed,
        )

    def run(self, seed: SeedLike) -> pd.DataFrame:
        """The experiment's convergence study on :meth:`environment` ``(seed)``.

        Uses the notebook's rows ``1 .. s - 1`` (``skip_first_row=True``) and records the
        experiment and its seed in ``table.attrs``.
        """
        root = as_seed_sequence(seed)
        env = self.environment(root)
        table = convergence_study(
            env, self.models, skip_first_row=True, block_rows=_block_rows(env)
        )
        table.attrs = {
            "experiment": self.name,
            "seed_entropy": root.entropy,
            "seed_spawn_key": list(root.spawn_key),
        }
        return table


def _block_rows(env: InteractionStream) -> int:
    """Rows per block so that a block's design is about 2 MB.

    Measured here (2 MB of L2 cache per core): 2 MB blocks ran the seed experiments 1.2-1.5x
    faster than the 16 MB of ``convergence_study``'s default; below 64 rows per-block overhead
    wins.
    """
    width = env.features.n_features * (env.n_replicates or 1) * 8
    return max(64, 2**21 // width)


def _base() -> LeastSquares:
    return LeastSquares(groups=("main",))


def _bayes(alpha_base: float, alpha_int: float) -> GaussianPosteriorMean:
    # The notebook's cov_split_base_int scales only the base and interaction blocks: the
    # intercept keeps variance 1, and BayesLinearRegressor's beta is 1 (a seed quirk, kept).
    return GaussianPosteriorMean(
        prior_variance={"intercept": 1.0, "main": alpha_base, "pairwise": alpha_int},
        noise_precision=1.0,
    )


def seed_experiments(n_replicates: int = 100) -> list[SeedExperiment]:
    """Every convergence experiment of the seed notebook, in its order, with its model names.

    Parameters
    ----------
    n_replicates
        Datasets per replicated experiment (the notebook's ``tqdm.trange(100)``); the first
        experiment, ``single_run``, is always one stream.

    Examples
    --------
    >>> experiments = seed_experiments(n_replicates=3)
    >>> [e.name for e in experiments][:4]
    ['single_run', 'low_interaction', 'high_interaction', 'super_high_interaction']
    >>> list(experiments[5].models)
    ['base', 'pair_int', 'bayes_wide_prior', 'ridge_10.0', 'bayes_base_-1_int_-1']
    """
    r = check_int("n_replicates", n_replicates, minimum=1)
    pair: dict[str, BatchFit] = {"base": _base(), "pair_int": LeastSquares()}
    weak_strong: dict[str, BatchFit] = {**pair, "bayes_base_-1_int_-1": _bayes(1e-1, 1e-1)}
    scenario: dict[str, BatchFit] = {**weak_strong, "bayes_base_1_int_-1": _bayes(1e1, 1e-1)}

    def replicated(
        name: str,
        title: str,
        models: Mapping[str, BatchFit],
        *,
        x_dim: int = 6,
        noise_level: float = 2.0,
        interaction_scale: float = 1.0,
    ) -> SeedExperiment:
        return SeedExperiment(
            name, title, x_dim, noise_level, interaction_scale, 10_000, r, dict(models)
        )

    return [
        SeedExperiment(
            "single_run",
            "One dataset (seed 0), interaction scale 0.01",
            x_dim=6,
            noise_level=2.0,
            interaction_scale=0.01,
            horizon=100_000,
            n_replicates=None,
            models=dict(pair),
        ),
        replicated(
            "low_interaction", "Low interaction effect (0.01)", pair, interaction_scale=0.01
        ),
        replicated("high_interaction", "High interaction effect (1.0)", pair),
        replicated(
            "super_high_interaction",
            "Super high interaction effect (3.0)",
            pair,
            interaction_scale=3.0,
        ),
        replicated(
            "ridge",
            "Ridge regularisation, interaction 1.0",
            {**pair, **{f"ridge_{a}": Ridge(alpha=a) for a in (0.1, 1.0, 10.0)}},
        ),
        replicated(
            "bayes_wide_prior",
            "Bayesian regression, wide and unit priors, interaction 1.0",
            {
                **pair,
                "bayes_wide_prior": _bayes(1e6, 1e6),
                "ridge_10.0": Ridge(alpha=10.0),
                "bayes_base_-1_int_-1": _bayes(1e-1, 1e-1),
            },
        ),
        replicated(
            "bayes_as_base",
            "Bayesian regression with a tight interaction prior, interaction 1.0",
            {"base": _base(), "bayes_base_10_int_-30": _bayes(1e10, 1e-30)},
        ),
        replicated(
            "prior_low_interaction",
            "Priors, no interaction effect (0.0)",
            {**weak_strong, "bayes_base_-1_int_-3": _bayes(1e-1, 1e-3)},
            interaction_scale=0.0,
        ),
        replicated(
            "prior_medium_interaction",
            "Priors, medium interaction effect (1.0)",
            {**weak_strong, "bayes_base_-1_int_-3": _bayes(1e-1, 1e-3)},
        ),
        replicated(
            "prior_high_interaction",
            "Priors, high interaction effect (3.0)",
            {**weak_strong, "bayes_base_-1_int_1": _bayes(1e-1, 1e1)},
            interaction_scale=3.0,
        ),
        replicated(
            "scenario_low_noise",
            "Low noise (0.5), low interactions (0.05)",
            scenario,
            noise_level=0.5,
            interaction_scale=0.05,
        ),
        replicated(
            "scenario_more_features",
            "Low noise (0.5), low interactions (0.05), 10 features",
            scenario,
            x_dim=10,
            noise_level=0.5,
            interaction_scale=0.05,
        ),
        replicated(
            "scenario_high_noise",
            "High noise (2.0), low interactions (0.05), 2 features",
            scenario,
            x_dim=2,
            noise_level=2.0,
            interaction_scale=0.05,
        ),
        replicated(
            "scenario_high_interaction",
            "Low noise (0.1), high interactions (1.0), 2 features",
            scenario,
            x_dim=2,
            noise_level=0.1,
            interaction_scale=1.0,
        ),
        replicated(
            "statsmodels",
            "Appendix: statsmodels OLS against scikit-learn, interaction 1.0",
            # statsmodels' pinv fit: minimum norm over all weights, the constant included.
            {**pair, "sm": GaussianPosteriorMean(prior_variance=math.inf, noise_precision=1.0)},
        ),
    ]


def experiment_seeds(
    experiments: Sequence[SeedExperiment], seed: SeedLike = 0
) -> list[np.random.SeedSequence]:
    """The seed of each experiment: child ``k`` of ``SeedSequence(seed)`` for the ``k``-th.

    An experiment with ``n_replicates=None`` (one stream) uses ``seed`` itself instead, so that
    ``seed=0`` draws what the notebook's ``default_rng(0)`` drew. The children are derived
    without advancing ``seed`` (see :func:`regretlab._random.children`), so a reused
    ``SeedSequence`` gives the same seeds each time. The seeds depend on each experiment's
    position in ``experiments``.

    >>> seeds = experiment_seeds(seed_experiments(2)[:3], seed=0)
    >>> [s.spawn_key for s in seeds]
    [(), (1,), (2,)]
    """
    root = as_seed_sequence(seed)
    return [
        root if exp.n_replicates is None else child
        for exp, child in zip(experiments, children(root, len(experiments)), strict=True)
    ]


def _check_experiments(experiments: Sequence[SeedExperiment]) -> list[SeedExperiment]:
    if isinstance(experiments, SeedExperiment | str) or not isinstance(experiments, Sequence):
        raise TypeError(f"experiments must be a sequence of SeedExperiment, got {experiments!r}")
    out = list(experiments)
    if not out:
        raise ValueError("experiments must not be empty")
    for i, exp in enumerate(out):
        if not isinstance(exp, SeedExperiment):
            raise TypeError(f"experiments[{i}] must be a SeedExperiment, got {exp!r}")
    names = [exp.name for exp in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"experiment names must be unique, got {duplicated} more than once")
    return out


def _check_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"out_dir must be a directory, got the existing file {str(path)!r}"
        )
    return path


def run_seed_study(
    experiments: Sequence[SeedExperiment],
    *,
    seed: SeedLike = 0,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Run the experiments and, with ``out_dir``, write their tables, figures and summary.

    Each experiment is a :func:`~regretlab.studies.convergence_study` with the notebook's row
    convention (``skip_first_row=True``), seeded by :func:`experiment_seeds`. Nothing is
    written until every experiment has run (see :func:`regretlab.studies.write_seed_study`).

    Parameters
    ----------
    experiments
        From :func:`seed_experiments`, or any list of :class:`SeedExperiment`.
    seed
        Root of the seed tree; ``0`` reproduces the notebook's first table.
    out_dir
        Folder for the outputs (created if missing); ``None`` writes nothing.
    progress
        Show a progress bar on stderr.

    Returns
    -------
    ``{name: table}`` in the experiments' order, each a tidy table with columns
    ``model, data_size, replicate, mse``; ``table.attrs`` records the experiment and its seed.

    Examples
    --------
    >>> from dataclasses import replace
    >>> small = replace(seed_experiments(n_replicates=2)[1], horizon=100)
    >>> tables = run_seed_study([small], progress=False)
    >>> tables["low_interaction"].groupby("model").size().to_dict()
    {'base': 30, 'pair_int': 30}
    """
    exps = _check_experiments(experiments)
    target = None if out_dir is None else _check_out_dir(out_dir)
    seeds = experiment_seeds(exps, seed)
    results: dict[str, pd.DataFrame] = {}
    bar = tqdm(exps, desc="seed study", unit="experiment", disable=not progress, file=sys.stderr)
    for exp, exp_seed in zip(bar, seeds, strict=True):
        bar.set_postfix_str(exp.name)
        table = exp.run(exp_seed)
        results[exp.name] = table
        logger.info("seed study: %s done (%d rows)", exp.name, len(table))
    if target is not None:
        from regretlab.studies.seed_report import write_seed_study  # imports this module

        write_seed_study(results, exps, target, seed=seed)
    return results
