"""An exclusive lock on a results folder, so that two runs never write into one folder at once.

The lock is the file ``OUT/.lock``, created with ``O_CREAT | O_EXCL`` (atomic, also on NFS
v3 and later) and holding the holder's host, process id and start time as JSON. A second run
finds it and stops with a message naming the holder. A lock whose holder is a process of this
host that no longer exists (a run killed with SIGKILL, a crashed machine rebooted) is stale and
taken over. A process may take a lock it already holds (nested; the outermost releases it).
A lock held from another host cannot be checked from here: ``break_lock=True``
(``regretlab run --break-lock``) removes it, for a folder shared between machines whose holder
is known to be gone.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["FolderLock", "FolderLockedError"]

# Seconds after which an unreadable lock file is taken for a holder that died while writing it.
_UNREADABLE_GRACE = 10.0


class FolderLockedError(RuntimeError):
    """The results folder is locked by another run (its holder is in the message).

    >>> import json, tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = pathlib.Path(tmp, ".lock").write_text(json.dumps(
    ...         {"host": "elsewhere", "pid": 1, "started": "2026-01-01T00:00:00+00:00"}))
    ...     FolderLock(tmp).acquire()
    Traceback (most recent call last):
    regretlab.experiments.lock.FolderLockedError: ... is in use by process 1 on elsewhere ...
    """


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class FolderLock:
    """Hold ``root/.lock`` while a run writes into ``root`` (a context manager).

    Parameters
    ----------
    root
        The results folder (created if missing).
    break_lock
        Remove an existing lock whoever holds it (for a holder on another host known to be
        gone); a stale lock of this host is taken over without it.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with FolderLock(tmp) as lock:
    ...         held = lock.holder()["pid"] == os.getpid()
    ...     held, lock.holder()
    (True, None)
    """

    def __init__(self, root: str | os.PathLike[str], *, break_lock: bool = False) -> None:
        self.root = Path(root)
        self.break_lock = break_lock
        self._held = False

    @property
    def path(self) -> Path:
        return self.root / ".lock"

    def holder(self) -> dict[str, Any] | None:
        """The current holder's record (``host``, ``pid``, ``started``), or None if unlocked."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            record = json.loads(text)
            return record if isinstance(record, dict) else {}
        except json.JSONDecodeError:  # a holder killed while writing its record
            return {}

    def _stale(self, record: dict[str, Any]) -> bool:
        if not record:  # unreadable: its holder died between creating and writing it, unless
            try:  # it is being written right now
                return time.time() - self.path.stat().st_mtime > _UNREADABLE_GRACE
            except FileNotFoundError:
                return True
        if record.get("host") != socket.gethostname():
            return False  # cannot tell from here whether a process of another host is alive
        pid = record.get("pid")
        return not isinstance(pid, int) or not _alive(pid)

    def acquire(self) -> None:
        """Take the lock, taking over a stale one; raise :class:`FolderLockedError` if held."""
        self.root.mkdir(parents=True, exist_ok=True)
        record = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        for _ in range(3):  # a race with another process taking over the same stale lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder is None:
                    continue  # released meanwhile
                if holder.get("host") == record["host"] and holder.get("pid") == record["pid"]:
                    return  # this process holds it already (nested): the outer one releases
                if self.break_lock or self._stale(holder):
                    self.path.unlink(missing_ok=True)
                    continue
                if not holder:
                    raise FolderLockedError(
                        f"{self.root} has a lock file {self.path} that is being written or was "
                        "left unreadable by a killed run; retry in a few seconds (it is taken "
                        "over after 10), or rerun with --break-lock"
                    ) from None
                raise FolderLockedError(
                    f"{self.root} is in use by process {holder.get('pid')} on "
                    f"{holder.get('host')} (since {holder.get('started')}; lock file "
                    f"{self.path}); wait for it to finish, or if that process is gone "
                    "(another machine's), rerun with --break-lock"
                ) from None
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
            self._held = True
            return
        raise FolderLockedError(f"{self.root}: could not take the lock {self.path}")

    def release(self) -> None:
        """Remove the lock if this object holds it."""
        if self._held:
            holder = self.holder()
            if holder and holder.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
