"""Writing result files so that an error never leaves a half-written or damaged result.

Every file is written under a fresh temporary name beside its target and synced to disk; only
when all of a batch are complete are they renamed over their targets with ``os.replace`` (atomic
on one file system). Parquet files carry page checksums (verified on read by
:func:`read_parquet`), and :func:`sha256` gives a file's content hash for a manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

__all__ = [
    "read_parquet",
    "sha256",
    "write_atomically",
    "write_csv",
    "write_parquet",
    "write_text",
]

Writer = Callable[[str], object]


def write_csv(table: pd.DataFrame) -> Writer:
    return lambda path: table.to_csv(path, index=False)


def write_parquet(table: pd.DataFrame) -> Writer:
    # Page checksums let a reader detect a damaged page, not only a truncated file.
    return lambda path: table.to_parquet(
        path, engine="pyarrow", index=False, write_page_checksum=True
    )


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a Parquet file, verifying its page checksums (an ``OSError`` if one differs)."""
    return pd.read_parquet(path, engine="pyarrow", page_checksum_verification=True)


def sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
            _sync(tmp)  # the bytes are on disk before the name points at them
    except BaseException as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and staged:  # disk full and the like: name the file
            raise OSError(
                exc.errno, f"cannot write {staged[-1][1]}: {exc.strerror or exc}"
            ) from exc
        raise
    for tmp, final in staged:
        os.replace(tmp, final)
    for folder in {final.parent for _, final in staged}:
        # The renames themselves survive a crash; some file systems cannot sync a folder.
        with contextlib.suppress(OSError):
            _sync(folder)
    return [final for _, final in staged]
