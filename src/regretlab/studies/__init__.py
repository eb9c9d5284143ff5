"""The seed 000 study: convergence against data size and every experiment of the notebook.

:func:`convergence_study` scores batch fits on growing prefixes of a stream from sufficient
statistics; :func:`seed_experiments` lists the notebook's experiments, :func:`run_seed_study`
runs them and :func:`write_seed_study` writes their tables, figures and summary.
"""

from __future__ import annotations

from regretlab.studies.convergence import convergence_study, seed_data_sizes
from regretlab.studies.seed_experiment import SeedExperiment
from regretlab.studies.seed_report import write_seed_study
from regretlab.studies.seed_study import experiment_seeds, run_seed_study, seed_experiments

__all__ = [
    "SeedExperiment",
    "convergence_study",
    "experiment_seeds",
    "run_seed_study",
    "seed_data_sizes",
    "seed_experiments",
    "write_seed_study",
]
