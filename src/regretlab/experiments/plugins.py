"""Plugins: user modules whose components experiment files may name, in every process.

Two ways in, both chosen by the person running the experiment, never by the file:

- modules passed on the command line, ``regretlab run EXP.toml --import mypkg.components``
  (``imports=`` of :func:`~regretlab.experiments.experiment.parse_experiment`);
- installed entry points of the group ``regretlab.components``, whose value is the module to
  import (``[project.entry-points."regretlab.components"] mypkg = "mypkg.components"``).

Importing such a module runs its :func:`~regretlab.experiments.registry.register` calls, so a
file can use the names it registers; or the file names an object of the module directly,
``type = "mypkg.components:MyLearner"``. An experiment file is data, not code: it cannot make a
process import a module nobody allowed. The resolved experiment records the modules its
components need (``Experiment.imports``), and every worker imports them by name before it
builds anything; nothing of the user's is pickled.

This module imports nothing of regretlab: the registry's machinery
(:mod:`regretlab.experiments.components`) builds on it.
"""

from __future__ import annotations

import importlib
import re
import socket
import sys
from collections.abc import Iterable
from importlib import metadata
from types import ModuleType

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "check_allowed",
    "entry_point_modules",
    "import_plugin",
    "import_plugins",
    "is_imported",
    "load_entry_points",
    "registering_module",
    "split_reference",
    "worker_imports",
]

ENTRY_POINT_GROUP = "regretlab.components"

_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
# Plugin modules being imported (innermost last): register() tags its entries with the
# outermost, the name a worker imports to run the same registrations.
_LOADING: list[str] = []
# Modules imported as plugins in this process: only their objects may be named 'module:Name'.
_IMPORTED: set[str] = set()
_ENTRY_POINTS_LOADED = False


class PluginError(ValueError):
    """A plugin module that is not allowed, cannot be imported, or lacks a name."""


def split_reference(kind: str) -> tuple[str, str] | None:
    """``"mypkg.mod:Name"`` as ``("mypkg.mod", "Name")``; ``None`` for a registered name.

    >>> split_reference("mypkg.components:MyLearner"), split_reference("LinUCB")
    (('mypkg.components', 'MyLearner'), None)
    """
    module, colon, name = kind.partition(":")
    if not colon:
        return None
    if not (_DOTTED.match(module) and _DOTTED.match(name)):
        raise PluginError(f"must be a registered name or 'module:Name', got {kind!r}")
    return module, name


def entry_point_modules() -> dict[str, str]:
    """The modules of the installed ``regretlab.components`` entry points, with their names."""
    return {ep.module: ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def check_allowed(module: str, imports: Iterable[str]) -> None:
    """Raise unless ``module`` was passed in ``imports`` or is an installed entry point's."""
    allowed = list(dict.fromkeys([*imports, *entry_point_modules()]))
    if module not in allowed:
        raise PluginError(
            f"module {module!r} is not allowed: an experiment file may name only modules "
            f"passed with --import (imports=) or installed as {ENTRY_POINT_GROUP!r} entry "
            f"points; pass --import {module} to allow it (allowed: {allowed})"
        )


def import_plugin(module: str) -> ModuleType:
    """Import ``module`` as a plugin (its ``register`` calls are tagged with its name)."""
    if not isinstance(module, str) or not _DOTTED.match(module):
        raise PluginError(
            f"a plugin must be a module name such as 'mypkg.components', got {module!r}"
        )
    _LOADING.append(module)
    try:
        made = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module + ".").startswith(exc.name + "."):
            raise PluginError(f"cannot import plugin module {module!r}: {exc}") from None
        raise PluginError(f"plugin module {module!r} failed to import: {exc}") from exc
    except Exception as exc:
        raise PluginError(
            f"plugin module {module!r} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        _LOADING.pop()
    _IMPORTED.add(module)
    return made


def import_plugins(modules: Iterable[str]) -> None:
    """:func:`import_plugin` each of ``modules``, in order."""
    for module in modules:
        if module not in _IMPORTED:
            import_plugin(module)


def worker_imports(modules: Iterable[str]) -> None:
    """Import an experiment's plugin modules in a worker; the error names the module and host."""
    try:
        import_plugins(modules)
    except PluginError as exc:
        raise PluginError(
            f"{exc} (on host {socket.gethostname()}, {sys.executable}): every worker needs "
            "the experiment's plugin modules; install them there or put them on PYTHONPATH"
        ) from None


def load_entry_points() -> None:
    """Import every installed ``regretlab.components`` entry point's module, once."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    for module, name in entry_point_modules().items():
        try:
            import_plugin(module)
        except PluginError as exc:
            raise PluginError(f"entry point {name!r} of {ENTRY_POINT_GROUP!r}: {exc}") from None
    _ENTRY_POINTS_LOADED = True


def is_imported(module: str) -> bool:
    """Whether ``module`` was imported here as a plugin (so ``module:Name`` may be used)."""
    return module in _IMPORTED


def registering_module(caller: str | None) -> str | None:
    """The module a worker must import to repeat a ``register`` call made from ``caller``.

    The plugin being imported, if any; else the caller's module, unless that is regretlab's
    own (always imported) or ``__main__`` (which no other process can import by name).
    """
    if _LOADING:
        return _LOADING[0]
    if caller is None or caller == "__main__" or caller.split(".")[0] == "regretlab":
        return None
    return caller
