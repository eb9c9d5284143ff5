"""Whether a finished task's files are still as written: the checks behind ``SweepStore.verify``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from regretlab._io import sha256

__all__ = ["damage"]


def _intact(path: Path) -> bool:
    """A complete Parquet file ends with its footer's magic bytes ``PAR1``."""
    try:
        with path.open("rb") as handle:
            handle.seek(-4, os.SEEK_END)
            return handle.read(4) == b"PAR1"
    except OSError:  # missing, or shorter than 4 bytes
        return False


def damage(root: Path, entry: Mapping[str, Any]) -> str | None:
    """Why a manifest entry's files are not as written (naming the file), or None."""
    hashes = entry.get("sha256", {})
    for name, relative in entry["files"].items():
        path = root / relative
        if name not in hashes:  # a manifest from before the hashes: the end marker only
            if not _intact(path):
                return f"{relative}: missing or cut short"
            continue
        try:
            digest = sha256(path)
        except OSError as exc:
            return f"{relative}: {exc.strerror or exc}"
        if digest != hashes[name]:
            return f"{relative}: its content differs from the hash in the manifest"
    return None
