"""numba, where it is installed and allowed: the one switch every optional compiled kernel uses.

numba is optional (the extra ``fast``); every kernel compiled here has a numpy twin that is used
without it. Set the environment variable ``REGRETLAB_NUMBA=0`` (or ``false``, ``no``, ``off``) to
use the numpy kernels even where numba is installed; it is read when a kernel is first asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["compile_kernel", "numba_allowed"]


def numba_allowed() -> bool:
    """Whether ``REGRETLAB_NUMBA`` leaves numba on (it is unless set to 0/false/no/off)."""
    return os.environ.get("REGRETLAB_NUMBA", "1").strip().lower() not in ("0", "false", "no", "off")


def compile_kernel(
    source: Callable[..., Any],
    *,
    reassociate: bool = False,
    checked_division: bool = True,
    inline: bool = False,
) -> Callable[..., Any] | None:
    """``source`` compiled by ``numba.njit`` (cached on disk, no GIL), or ``None`` where numba
    is not installed or ``REGRETLAB_NUMBA`` switches it off. Callers cache the result.

    ``reassociate`` lets LLVM reorder sums and fuse multiply-adds (fast-math ``reassoc``,
    ``contract``, ``nsz``; never the flags that assume no NaN or inf), so that reductions run in
    SIMD vectors: results change by rounding, for kernels whose outputs are compared within a
    tolerance, never for those that must give numpy's bits.

    ``checked_division=False`` compiles with numba's numpy error model: a division by zero gives
    inf or NaN as in numpy instead of raising, so loops that divide have no branch and can
    vectorise (the same results wherever the divisor is not zero). ``inline=True`` compiles a
    helper that the kernels calling it inline (numba's ``inline="always"``)."""
    if not numba_allowed():
        return None
    try:
        import numba
    except ImportError:
        return None
    flags = {"reassoc", "contract", "nsz"} if reassociate else False
    error_model: Literal["python", "numpy"] = "python" if checked_division else "numpy"
    inline_mode: Literal["never", "always"] = "always" if inline else "never"
    compiled: Callable[..., Any] = numba.njit(
        cache=True,
        nogil=True,
        fastmath=flags,
        error_model=error_model,
        inline=inline_mode,
    )(source)
    return compiled
