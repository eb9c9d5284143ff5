"""Writing result files so that an error never leaves a half-written or damaged result.

Every file is written under a fresh temporary name beside its target; only when all of a batch
are complete are they renamed over their targets with ``os.replace`` (atomic on one file system).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

__all__ = ["write_atomically", "write_csv", "write_parquet", "write_text"]

Writer = Callable[[str], object]


def write_csv(table: pd.DataFrame) -> Writer:
    return lambda path: table.to_csv(path, index=False)


def write_parquet(table: pd.DataFrame) -> Writer:
    return lambda path: table.to_parquet(path, engine="pyarrow", index=False)


def write_text(text: str) -> Writer:
    return lambda path: Path(path).write_text(text, encoding="utf-8")


def write_atomically(targets: Sequence[tuple[Path, Writer]]) -> list[Path]:
    """Write every ``(path, writer)`` pair, all or nothing; return the paths written."""
    staged: list[tuple[Path, Path]] = []
    try:
        for final, write in targets:
            # A fresh name that the writer creates itself, so the file gets the usual
            # permissions (mkstemp would make every output private to its owner).
            tmp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
            staged.append((tmp, final))
            write(str(tmp))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        os.replace(tmp, final)
    return [final for _, final in staged]
