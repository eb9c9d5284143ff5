"""Modules loaded on first use, so that importing regretlab's core stays as cheap as numpy's.

pandas (and pyarrow under it), scipy.stats and tqdm take longer to import than numpy and
scipy.linalg together; the time loops need them only when they build their result tables, so
the modules that use them bind a :func:`lazy_module` stand-in under the usual name (and import
the real module under ``TYPE_CHECKING`` for the type checker).
"""

from __future__ import annotations

import importlib
import types
from typing import Any

__all__ = ["lazy_function", "lazy_module", "progress_bar"]


class _LazyModule(types.ModuleType):
    """Imports ``name`` at the first attribute read and forwards every read to it."""

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(importlib.import_module(self.__name__), attribute)
        setattr(self, attribute, value)  # read directly from now on
        return value


def lazy_module(name: str) -> Any:
    """A stand-in for module ``name`` that imports it when an attribute is first read.

    >>> import sys
    >>> math = lazy_module("math")
    >>> math.sqrt(4.0)
    2.0
    >>> lazy_module("no_such_module_xyz").anything
    Traceback (most recent call last):
    ModuleNotFoundError: No module named 'no_such_module_xyz'
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty module name, got {name!r}")
    return _LazyModule(name)


def lazy_function(module: str, name: str) -> Any:
    """A stand-in for ``module.name`` (a function or ufunc) that imports it at the first call.

    >>> hypot = lazy_function("math", "hypot")
    >>> hypot(3.0, 4.0)
    5.0
    """
    target: list[Any] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not target:
            target.append(getattr(importlib.import_module(module), name))
        return target[0](*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, imported at the first call."
    return call


def progress_bar(*args: Any, **kwargs: Any) -> Any:
    """``tqdm.auto.tqdm(*args, **kwargs)``, importing tqdm only when a bar is shown.

    A disabled bar (``disable=True``) is a do-nothing stand-in with ``update`` and ``close``.

    >>> bar = progress_bar(total=3, disable=True)
    >>> bar.update(3); bar.close()
    """
    if kwargs.get("disable", False):
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(*args, **kwargs)


class _NoBar:
    """What a disabled progress bar does: nothing."""

    def update(self, n: int = 1) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""
