"""What every check shares: failing loudly, the global random state, pickling."""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def require(condition: bool, message: str) -> None:
    """Raise ``AssertionError(message)`` unless ``condition``."""
    # Checks raise explicitly rather than with ``assert``, which ``python -O`` strips.
    if not condition:
        raise AssertionError(message)


def _same_state(a: Any, b: Any) -> bool:
    return bool(a[0] == b[0] and np.array_equal(a[1], b[1]) and tuple(a[2:]) == tuple(b[2:]))


def without_global_random(component: Any, call: Callable[[], T]) -> T:
    """``call()``, failing if it drew from (or reseeded) ``np.random``'s or ``random``'s state.

    Both global states are saved before and compared after (and restored either way), so a
    legacy ``np.random.normal`` or ``random.random`` anywhere in ``call`` is caught.
    """
    # The legacy functions are what is being watched for, so reading their state is the point.
    legacy, stdlib = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        out = call()
        legacy_after, stdlib_after = np.random.get_state(), random.getstate()  # noqa: NPY002
    finally:
        np.random.set_state(legacy)  # noqa: NPY002
        random.setstate(stdlib)
    require(
        _same_state(legacy, legacy_after),
        f"{component!r} used the global numpy random state (np.random.*); draw from a "
        "numpy.random.Generator made from a seed instead",
    )
    require(
        stdlib == stdlib_after,
        f"{component!r} used the global state of the random module; draw from a "
        "numpy.random.Generator made from a seed instead",
    )
    return out


def pickled_copy(component: T) -> T:
    """``component`` through ``pickle`` (what a process pool or dask does to it)."""
    try:
        data = pickle.dumps(component)
    except Exception as exc:  # pickle raises many types: PicklingError, TypeError, ...
        raise AssertionError(
            f"{component!r} cannot be pickled, so it cannot run in a process pool or on dask: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    copy: T = pickle.loads(data)
    return copy
