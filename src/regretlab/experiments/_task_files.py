"""A finished task's Parquet files, written where the task ran (see :mod:`.storage`).

A local worker (a process-pool worker, or the driver itself) writes its task's files into the
results folder and hands the driver only their names, row counts and hashes: the driver then
adds one manifest line per task instead of converting and writing every table itself, so that
its own cost per task stays small and more workers keep it busy. Workers on other machines
(dask) send their tables back instead, and the driver writes them (the folder may not be
theirs to write).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._io import sha256, write_atomically, write_parquet

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EVENT_DTYPES", "write_task_files"]

#: Column types of a task's ``events`` table (fixed, so that a task without events still
#: writes the same schema as one with them).
EVENT_DTYPES = {"environment": str, "agent": str, "replicate": np.int64, "step": np.int64}
EVENT_DTYPES |= {"group": str, "old": np.float64, "new": np.float64}


def write_task_files(
    root: Path, task_id: str, tables: Mapping[str, pd.DataFrame]
) -> dict[str, Any]:
    """Write ``tables`` as ``root/<name>/<task_id>.parquet``, all or nothing; return the
    manifest fields ``rows``, ``files`` and ``sha256``.

    >>> import tempfile
    >>> import pandas as pd
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_task_files(Path(tmp), "e-00000", {"regret": pd.DataFrame({"a": [1]})})
    >>> written["rows"], written["files"]
    ({'regret': 1}, {'regret': 'regret/e-00000.parquet'})
    """
    files = {name: f"{name}/{task_id}.parquet" for name in tables}
    for name in tables:
        (root / name).mkdir(exist_ok=True)
    written = write_atomically(
        [(root / files[name], write_parquet(table)) for name, table in tables.items()]
    )
    return {
        "rows": {name: len(table) for name, table in tables.items()},
        "files": files,
        "sha256": {name: sha256(path) for name, path in zip(tables, written, strict=True)},
    }
