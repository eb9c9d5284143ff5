"""Experiments at scale: TOML files, the registry of names, sweeps, storage, executors, reports.

- :mod:`~regretlab.experiments.experiment`: experiment files parsed and checked;
- :mod:`~regretlab.experiments.registry`: the names a file may use (and plugins);
- :mod:`~regretlab.experiments.sweep`: environments x agents x replicates as tasks, resumable;
- :mod:`~regretlab.experiments.storage`: a sweep's folder (Parquet per task, manifest with
  content hashes);
- :mod:`~regretlab.experiments.lock`: one run at a time in a folder;
- :mod:`~regretlab.experiments.sizing`: the size of the work and each task's memory, before it runs;
- :mod:`~regretlab.experiments.executors`: the driver, a process pool or dask.distributed;
- :mod:`~regretlab.experiments.report`: summary tables, figures and ``report.md``;
- :mod:`~regretlab.experiments.offpolicy_spec`: an experiment's ``[offpolicy]`` table and the
  registered estimators; :mod:`~regretlab.experiments.offpolicy_report`: its report section;
- :mod:`~regretlab.experiments.examples`: the example experiment files shipped in the package.

The public names of these modules are available here too, but imported on first use: a spawned
pool worker imports this package to unpickle
:func:`~regretlab.experiments.executors.pin_blas_threads`, which must run before numpy loads, so
importing the package itself loads nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "experiment": (
        "AgentSpec",
        "EnvironmentSpec",
        "Experiment",
        "ExperimentError",
        "load_experiment",
        "parse_experiment",
    ),
    "sweep": (
        "SweepSummary",
        "Task",
        "TaskFailure",
        "TaskOutput",
        "execute_task",
        "plan_tasks",
        "run_sweep",
        "run_task",
    ),
    "storage": ("TABLES", "SweepFolderError", "SweepResults", "SweepStore", "load_sweep"),
    "lock": ("FolderLock", "FolderLockedError"),
    "sizing": ("WorkSize", "estimate_work"),
    "executors": (
        "BLAS_VARIABLES",
        "ExecutorInfo",
        "InProcessExecutor",
        "open_executor",
        "pin_blas_threads",
        "process_pool",
    ),
    "examples": ("example_names", "example_text"),
    "report": ("METRICS", "final_regret", "paired_differences", "ranks", "write_report"),
    "offpolicy_spec": ("OffPolicySpec", "parse_offpolicy"),
    "offpolicy_report": ("offpolicy_section", "offpolicy_summary"),
}
_MODULE_OF = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
