"""Input validation shared by every public entry point.

Errors name the argument, what was given and what is allowed (STYLE.md rule 10). Inner loops do
not call these: they trust what the boundary has checked.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "as_float_array",
    "check_allocation",
    "check_choice",
    "check_finite",
    "check_int",
    "check_real",
    "check_state",
    "float_array",
    "physical_memory",
]


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as ``int`` or raise naming ``name``.

    >>> check_int("horizon", 5, minimum=1)
    5
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {_describe(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    exclusive_minimum: bool = False,
    maximum: float | None = None,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as ``float`` or raise naming ``name`` and the allowed range.

    >>> check_real("noise_level", 2, minimum=0.0)
    2.0
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    out = float(value)
    if math.isnan(out) or (math.isinf(out) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {out}")
    if minimum is not None:
        if exclusive_minimum and not out > minimum:
            raise ValueError(f"{name} must be > {minimum}, got {out}")
        if not exclusive_minimum and not out >= minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {out}")
    if maximum is not None and not out <= maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {out}")
    return out


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``.

    >>> check_choice("model", "base", ["base", "pair_int"])
    'base'
    """
    allowed = list(choices)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_finite(name: str, array: np.ndarray) -> None:
    """Raise if ``array`` holds NaN or inf, naming the first offending position."""
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        index = where if len(where) != 1 else where[0]
        raise ValueError(f"{name} must be finite, got {array[where]} at index {index}")


def _real_array(name: str, value: Any) -> np.ndarray:
    """``value`` as float64; a ``TypeError`` naming ``name`` for anything but real numbers.

    numpy alone would parse strings (``"1.0"``) and drop imaginary parts with a mere warning.
    """
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value
    message = f"{name} must be array-like of numbers, got {_describe(value)}"
    if isinstance(value, str | bytes | Mapping):
        raise TypeError(f"{message} (real numbers only: strings are not parsed)")
    try:
        array = np.asarray(value)
        if array.dtype.kind == "O":  # mixed Python objects: only real numbers may pass
            if any(isinstance(v, str | bytes | complex) for v in array.flat):
                raise TypeError
        elif array.dtype.kind not in "biuf":  # complex, strings, dates, ...
            raise TypeError
        return array.astype(float, copy=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{message} (real numbers only, not strings or complex)") from exc


def float_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array, with a ``TypeError`` naming ``name`` unless real numbers.

    The cheap conversion for hot paths; shapes and finiteness are the caller's to check.

    >>> float_array("x", [1, 2.5])
    array([1. , 2.5])
    >>> float_array("x", ["1", "2"])
    Traceback (most recent call last):
    TypeError: x must be array-like of numbers, got ['1', '2'] (real numbers only, ...)
    """
    return _real_array(name, value)


def as_float_array(
    name: str,
    value: Any,
    *,
    shape: tuple[int | None, ...] | None = None,
    ndim: Iterable[int] | None = None,
    finite: bool = True,
) -> np.ndarray:
    """Convert ``value`` to a float64 array and check its shape and finiteness.

    ``shape`` entries of ``None`` match any length; ``ndim`` lists the allowed ranks.

    >>> as_float_array("x", [1, 2], shape=(2,))
    array([1., 2.])
    """
    array = _real_array(name, value)
    if ndim is not None:
        allowed = tuple(ndim)
        if array.ndim not in allowed:
            ranks = " or ".join(map(str, allowed))
            raise ValueError(f"{name} must have {ranks} dimensions, got shape {array.shape}")
    if shape is not None:
        ok = array.ndim == len(shape) and all(
            want is None or want == got for want, got in zip(shape, array.shape, strict=True)
        )
        if not ok:
            want_text = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want_text}, got {array.shape}")
    if finite:
        check_finite(name, array)
    return array


def check_state(
    state: Any, shapes: Mapping[str, tuple[int, ...]], *, variances: Iterable[str] = ()
) -> dict[str, np.ndarray]:
    """Validate a saved learner state against the expected keys and shapes; return copies.

    Everything is checked before anything is returned, so a caller that restores only after
    this call never ends half-restored. Keys in ``variances`` hold prior variances: ``>= 0``,
    and ``inf`` allowed (a flat prior).

    >>> check_state({"n": [1.0, 2.0]}, {"n": (2,)})["n"]
    array([1., 2.])
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a mapping of arrays, got {type(state).__name__}")
    if set(state) != set(shapes):
        raise ValueError(f"state must have exactly the keys {list(shapes)}, got {sorted(state)}")
    flat = set(variances)
    arrays = {
        key: as_float_array(f"state[{key!r}]", state[key], shape=shape, finite=key not in flat)
        for key, shape in shapes.items()
    }
    for key in flat & set(arrays):
        if np.isnan(arrays[key]).any() or (arrays[key] < 0).any():
            raise ValueError(f"state[{key!r}] must be >= 0 (inf: flat), got {arrays[key]}")
    return {key: array.copy() for key, array in arrays.items()}


def physical_memory() -> int:
    """This machine's physical memory in bytes (0 where the platform does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 0


def check_allocation(name: str, shape: tuple[int, ...], *, itemsize: int = 8) -> None:
    """Refuse, before allocating, an array larger than this machine's physical memory.

    >>> check_allocation("covariance", (10**6, 10**6))
    Traceback (most recent call last):
    ValueError: covariance of shape (1000000, 1000000) needs 7,450.6 GiB, more than ...
    """
    size = itemsize * math.prod(int(n) for n in shape)
    memory = physical_memory()
    if memory and size > memory:
        raise ValueError(
            f"{name} of shape {tuple(int(n) for n in shape)} needs {size / 2**30:,.1f} GiB, "
            f"more than this machine's memory ({memory / 2**30:,.1f} GiB); reduce its size"
        )
