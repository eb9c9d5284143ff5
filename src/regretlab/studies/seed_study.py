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
import sys
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from regretlab._random import SeedLike, as_seed_sequence, children
from regretlab._validation import check_int
from regretlab.learners.reference import BatchFit, GaussianPosteriorMean, LeastSquares, Ridge
from regretlab.studies.seed_experiment import SeedExperiment, _check_experiments, _check_out_dir
from regretlab.studies.seed_report import write_seed_study

__all__ = [
    "SeedExperiment",
    "experiment_seeds",
    "run_seed_study",
    "seed_experiments",
]

logger = logging.getLogger(__name__)


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
        write_seed_study(results, exps, target, seed=seed)
    return results
