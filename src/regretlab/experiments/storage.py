"""A sweep's results folder: one Parquet file per task and table, a manifest and metadata.

Layout of a folder ``OUT``::

    experiment.json                 the resolved experiment (a valid experiment file itself)
    metadata.json                   experiment hash, seed entropy, package versions, task count,
                                    CPU model and BLAS kernel
    manifest.jsonl                  one line per finished task, appended after its files exist
    failures.json                   tasks that raised in the last run (absent when none did)
    regret/<task>.parquet           one file per task: environment x replicate chunk
    events/<task>.parquet           prior changes (escalation events), possibly empty
    coefficients/<task>.parquet     only with track_coefficients
    choices/<task>.parquet          bandit sweeps: arm-choice counts (absent in folders written
                                    before they were recorded; those still load and report)

A task's files are written under temporary names, synced to disk and renamed into place
(``os.replace``); only then is its manifest line, with the SHA-256 of each file, appended. A task
is finished exactly when the manifest names it and its files still have those hashes, so a run
killed at any point leaves finished tasks intact and unfinished ones to redo, and a file damaged
later (a flipped byte, a truncation) makes its task unfinished again: ``run`` redoes it and says
so, ``report`` leaves it out and says so. Parquet page checksums are on and verified on every
read, so a damaged page is also caught without the manifest. Redoing a task rewrites its own
files, so no row is ever lost or doubled. Readers go through the manifest, never through a
directory listing.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from regretlab._io import read_parquet, write_atomically, write_text
from regretlab._machine import machine
from regretlab.experiments._integrity import damage
from regretlab.experiments._task_files import write_task_files
from regretlab.experiments.experiment import Experiment, parse_experiment

__all__ = ["TABLES", "SweepFolderError", "SweepResults", "SweepStore", "load_sweep"]

logger = logging.getLogger(__name__)

TABLES = ("regret", "events", "coefficients", "choices")
_PACKAGES = (
    "regretlab",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "river",
    "dask",
    "distributed",
    "threadpoolctl",
)


class SweepFolderError(ValueError):
    """An output folder that this sweep must not write to (another experiment's, not a sweep's).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     load_sweep(tmp)
    Traceback (most recent call last):
    regretlab.experiments.storage.SweepFolderError: ... is not a regretlab sweep folder (...)
    """


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False) + "\n"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _read_json(path: Path, *required: str) -> dict[str, Any]:
    """A folder's JSON file as a dict with ``required`` keys, or an error naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not valid JSON ({exc})"
        raise SweepFolderError(
            f"{path}: {reason}; the folder is damaged: restore the file, or choose another "
            "output folder (or remove this one to start over)"
        ) from None
    missing = [key for key in required if not isinstance(value, dict) or key not in value]
    if missing:
        raise SweepFolderError(
            f"{path}: not a regretlab sweep file (missing {missing}); the folder is damaged: "
            "restore the file, or choose another output folder"
        )
    return value


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    keys = list(dict.fromkeys([*old, *new]))
    return [k for k in keys if old.get(k) != new.get(k)]


class SweepStore:
    """Reads and writes one results folder (see the module notes for the layout).

    >>> import tempfile
    >>> from regretlab.experiments.sweep import run_sweep
    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = run_sweep(exp, tmp)
    ...     store = SweepStore(tmp)
    ...     sorted(store.finished()), store.check(exp)
    (['e-00000'], True)
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.jsonl"

    def check(self, experiment: Experiment) -> bool:
        """Whether the folder already holds ``experiment``; raise if it holds anything else.

        Reads only: safe to call before starting workers or a cluster.
        """
        if self.root.exists() and not self.root.is_dir():
            raise SweepFolderError(f"{self.root} is an existing file, not a folder")
        meta_path = self.root / "metadata.json"
        if meta_path.exists():
            meta = _read_json(meta_path, "experiment_hash", "n_tasks")
            if meta.get("experiment_hash") != experiment.digest():
                saved = _read_json(self.root / "experiment.json")
                changed = _differences(saved, experiment.to_dict())
                raise SweepFolderError(
                    f"{self.root} holds results of a different experiment "
                    f"({saved.get('name')!r}, hash {str(meta.get('experiment_hash'))[:12]}; "
                    f"this one's is {experiment.digest()[:12]}; changed: {', '.join(changed)}). "
                    "Nothing was written: choose another output folder, or remove this one "
                    "to start over."
                )
            return True
        if self.root.exists():
            # A first run killed between its two metadata writes leaves experiment.json alone.
            others = [
                p.name
                for p in self.root.iterdir()
                if not p.name.startswith(".") and p.name != "experiment.json"
            ]
            if others:
                raise SweepFolderError(
                    f"{self.root} is not empty and is not a regretlab sweep folder (no "
                    f"metadata.json; found {sorted(others)[:5]}); choose another output folder"
                )
        return False

    def prepare(self, experiment: Experiment, n_tasks: int) -> None:
        """Create the folder for ``experiment``, or check it and repair its manifest."""
        if self.check(experiment):
            self._repair_manifest()
            return
        self.root.mkdir(parents=True, exist_ok=True)
        meta = {
            "experiment_name": experiment.name,
            "experiment_hash": experiment.digest(),
            "seed_entropy": experiment.seed,  # SeedSequence(seed).entropy
            "n_tasks": n_tasks,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "machine": machine(),
            "versions": _versions(),
        }
        # metadata.json last: its presence marks a complete, resumable sweep folder.
        write_atomically(
            [
                (self.root / "experiment.json", write_text(_json(experiment.to_dict()))),
                (self.root / "metadata.json", write_text(_json(meta))),
            ]
        )

    def metadata(self) -> dict[str, Any]:
        return _read_json(self.root / "metadata.json", "experiment_hash", "n_tasks")

    def experiment(self, *, imports: Iterable[str] = ()) -> Experiment:
        """The saved resolved experiment; ``imports`` allow the plugin modules it names."""
        path = self.root / "experiment.json"
        try:
            return parse_experiment(_read_json(path), check=False, imports=imports)
        except ValueError as exc:  # ExperimentError
            if isinstance(exc, SweepFolderError):
                raise
            raise SweepFolderError(f"{path}: {exc}") from None

    def _entries(self) -> tuple[dict[str, dict[str, Any]], int]:
        """Manifest entries by task id (the last wins) and the number of unreadable lines."""
        entries: dict[str, dict[str, Any]] = {}
        bad = 0
        if not self.manifest_path.exists():
            return entries, bad
        for line in self.manifest_path.read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if not isinstance(entry["files"], dict):
                    raise TypeError
                entries[entry["task"]] = entry
            except (ValueError, KeyError, TypeError):  # ValueError: bad JSON or UTF-8
                bad += 1  # a line cut short by a killed run
        return entries, bad

    def _repair_manifest(self) -> None:
        entries, bad = self._entries()
        if bad:
            logger.warning("%s: dropping %d unreadable manifest line(s)", self.root, bad)
            text = "".join(json.dumps(e) + "\n" for e in entries.values())
            write_atomically([(self.manifest_path, write_text(text))])

    def verify(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """Finished tasks' manifest entries by id, and the damaged ones' reasons by id.

        A task is finished when its files have the hashes its manifest line recorded; a
        task whose file is missing or differs is damaged, and must be redone.
        """
        entries, _ = self._entries()
        finished: dict[str, dict[str, Any]] = {}
        damaged: dict[str, str] = {}
        for task, entry in entries.items():
            reason = damage(self.root, entry)
            if reason is None:
                finished[task] = entry
            else:
                damaged[task] = reason
        return finished, damaged

    def finished(self) -> dict[str, dict[str, Any]]:
        """Manifest entries of finished tasks whose files are all present and whole, by id."""
        return self.verify()[0]

    def save(
        self,
        task_id: str,
        tables: Mapping[str, pd.DataFrame],
        info: Mapping[str, Any],
        written: Mapping[str, Any] | None = None,
    ) -> None:
        """Write a task's tables, then record it in the manifest (see the module notes);
        ``written``: what :func:`write_task_files` returned where the worker wrote them."""
        if written is None:
            written = write_task_files(self.root, task_id, tables)
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        entry = {"task": task_id, **info, **written, "finished": finished}
        # Flushed, not fsynced: a killed process loses nothing that was flushed. After an
        # operating-system crash a lost line only means its task is redone.
        with self.manifest_path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")

    def write_failures(self, failures: list[dict[str, Any]]) -> None:
        path = self.root / "failures.json"
        if failures:
            write_atomically([(path, write_text(_json(failures)))])
        else:
            path.unlink(missing_ok=True)


class SweepResults(NamedTuple):
    """A results folder read back: the experiment, its metadata and the finished tasks' rows.

    >>> import tempfile
    >>> from regretlab.experiments.sweep import run_sweep
    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = run_sweep(exp, tmp)
    ...     results = load_sweep(tmp)
    >>> results.n_tasks, results.n_finished, results.regret.shape, results.coefficients
    (1, 1, (40, 6), None)
    """

    experiment: Experiment
    metadata: dict[str, Any]
    regret: pd.DataFrame
    events: pd.DataFrame
    coefficients: pd.DataFrame | None
    n_tasks: int
    n_finished: int
    #: ``"<task>: <file>: <reason>"`` for each task whose files differ from the manifest
    #: (left out of the tables; the next ``regretlab run`` redoes them)
    damaged: tuple[str, ...] = ()
    #: bandit sweeps: the finished tasks' arm-choice counts (``run_bandit``'s ``choices``);
    #: ``None`` for prediction streams and for folders written before they were recorded
    choices: pd.DataFrame | None = None


def _read(root: Path, paths: list[str], order: list[str], agents: list[str]) -> pd.DataFrame:
    if not paths:
        return pd.DataFrame()
    frames = [read_parquet(root / p) for p in paths]
    table = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    if table.empty:
        return table
    # Rows in a fixed order whatever order the tasks finished in.
    keys = pd.DataFrame(
        {
            "e": pd.Categorical(table["environment"], categories=order).codes,
            "a": pd.Categorical(table["agent"], categories=agents).codes,
            "r": table["replicate"],
            "s": table["step"],
        }
    )
    index = np.lexsort([keys[c].to_numpy() for c in ("s", "r", "a", "e")])
    return table.iloc[index].reset_index(drop=True)


def load_sweep(root: str | os.PathLike[str], *, imports: Iterable[str] = ()) -> SweepResults:
    """Read every finished task of a results folder, in a fixed row order.

    ``imports`` allow the plugin modules its experiment names (as ``regretlab run --import``).

    Rows are sorted by environment and agent (in the experiment's order), replicate and step;
    events keep their order within equal keys.

    >>> import tempfile
    >>> from regretlab.experiments.sweep import run_sweep
    >>> from regretlab.experiments.experiment import parse_experiment
    >>> exp = parse_experiment({"seed": 1, "horizon": 20, "replicates": 2,
    ...     "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
    ...     "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}}})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = run_sweep(exp, tmp)
    ...     regret = load_sweep(tmp).regret
    >>> regret[["agent", "replicate", "step"]].iloc[[0, -1]].values.tolist()
    [['a', 0, 1], ['a', 1, 20]]
    """
    store = SweepStore(root)
    if not (store.root / "metadata.json").exists():
        raise SweepFolderError(f"{store.root} is not a regretlab sweep folder (no metadata.json)")
    experiment = store.experiment(imports=imports)
    meta = store.metadata()
    done, damaged = store.verify()
    for task, reason in damaged.items():
        logger.warning("%s: task %s left out: %s", store.root, task, reason)
    envs = [e.name for e in experiment.environments]
    agents = [a.name for a in experiment.agents]
    tables = {
        name: _read(
            store.root,
            [e["files"][name] for e in done.values() if name in e["files"]],
            envs,
            agents,
        )
        for name in TABLES
    }
    return SweepResults(
        experiment,
        meta,
        tables["regret"],
        tables["events"],
        tables["coefficients"] if experiment.track_coefficients else None,
        int(meta["n_tasks"]),
        len(done),
        tuple(f"{task}: {reason}" for task, reason in damaged.items()),
        None if tables["choices"].empty else tables["choices"],
    )
