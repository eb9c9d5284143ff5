"""Compiled inner loops of the per-arm learners and the index rules (numba, when installed).

A step of a classic bandit at ``R = 1000`` replicates and ``K = 10`` arms moves so little data
(``R x K`` numbers) that numpy's per-call cost, not arithmetic, sets its speed: the per-arm
learner's update is a dozen gathers and scatters of ``R`` numbers, and an index rule's choice
four passes over ``R x K`` (the maximum, the ties, their count, the argmax). Each kernel here
does that work in one loop over the replicates:

- :func:`arm_update`: the checks of the inputs, then the pulled arm's count, reward sum,
  running mean, importance-weighted sum and conjugate posterior (Beta or Gamma), the same
  operations as the numpy code of :class:`~regretlab.learners.ArmMeans` in the same order
  (one rounding each), so the results are bit for bit those of numpy;
- :func:`first_max`: every replicate's first maximal index and how many arms tie with it,
  and :func:`tied_first_max`, the random tie-break among them in the tied replicates, from
  uniform keys drawn by the caller (the same draws and products as the numpy rule);
- :func:`ucb_index`: UCB1's index ``mean + sqrt(scale / n)`` (infinite for an arm never
  pulled) in one pass; ``scale`` (the logarithm) is computed by numpy, so the kernel only
  divides, takes square roots and adds, which IEEE arithmetic rounds exactly as numpy does.

Callers use a kernel when :func:`compiled` returns it and fall back to their numpy code
otherwise (numba not installed, or the environment variable ``REGRETLAB_NUMBA=0``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.learners._numba import compile_kernel

__all__ = [
    "arm_update",
    "compiled",
    "first_max",
    "tied_first_max",
    "ucb_first_max",
    "ucb_index",
]

#: ``posterior`` codes of :func:`arm_update`: none, Beta-Bernoulli, Gamma-Poisson.
NO_POSTERIOR, BETA, GAMMA = 0, 1, 2


def arm_update(
    n: np.ndarray,
    sums: np.ndarray,
    means: np.ndarray,
    total: np.ndarray,
    weighted: np.ndarray,
    shape_a: np.ndarray,
    shape_b: np.ndarray,
    actions: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    prob: np.ndarray,
    posterior: int,
) -> int:
    """Learn reward ``y[i]`` of arm ``actions[i]`` in replicate ``i``, in place, if every input
    is valid; returns 0 then, else 1 and changes nothing.

    Valid: every action in ``[0, K)``, every ``x`` (the design rows, read for nothing else)
    and ``y`` finite, every ``prob`` in ``(0, 1]`` and, by ``posterior``, every ``y`` 0 or 1
    (Beta-Bernoulli) or an integer >= 0 (Gamma-Poisson): the checks of the numpy path, which
    the caller runs for its error message when this returns 1.

    ``n``, ``sums``, ``means``, ``weighted``, ``shape_a``, ``shape_b`` are flat ``(R K,)``
    views; ``total``, ``actions``, ``y`` ``(R,)``; ``x`` flat; ``prob`` ``(R,)``, or empty for
    no importance weights; ``posterior`` one of ``NO_POSTERIOR``, ``BETA``, ``GAMMA``.
    """
    k = len(n) // len(total)
    weigh = len(prob) > 0
    # A NaN or an infinity makes v - v NaN, which is not 0. Wrong inputs are counted as
    # integers: a sum that runs in SIMD vectors (a boolean "or" runs one number at a time).
    wrong = 0
    for i in range(len(x)):
        v = x[i]
        wrong += 1 if (v - v) != 0.0 else 0
    for i in range(len(actions)):
        a = actions[i]
        value = y[i]
        wrong += (1 if a < 0 else 0) + (1 if a >= k else 0)
        wrong += 1 if (value - value) != 0.0 else 0
        if posterior == BETA:
            wrong += 1 if (value != 0.0 and value != 1.0) else 0
        elif posterior == GAMMA:
            wrong += 1 if (value < 0.0 or value != math.floor(value)) else 0
        if weigh:
            p = prob[i]
            wrong += 0 if (p > 0.0 and p <= 1.0) else 1
    if wrong > 0:
        return 1
    for i in range(len(actions)):
        j = i * k + actions[i]
        value = y[i]
        count = n[j] + 1.0
        n[j] = count
        sums[j] = sums[j] + value
        total[i] = total[i] + 1.0
        mean = means[j]
        means[j] = mean + (value - mean) / count
        if weigh:
            weighted[j] = weighted[j] + value / prob[i]
        if posterior == BETA:
            shape_a[j] = shape_a[j] + value
            shape_b[j] = shape_b[j] + (1.0 - value)
        elif posterior == GAMMA:
            shape_a[j] = shape_a[j] + value
            shape_b[j] = shape_b[j] + 1.0
    return 0


def _row_first_max(values: np.ndarray, i: int, actions: np.ndarray, prob: np.ndarray) -> int:
    """Row ``i``'s first maximum of ``values`` into ``actions[i]`` and one over the number of
    entries equal to it (the propensity of a uniform tie-break) into ``prob[i]``; returns that
    number. Compiled inline into the kernels.

    Written without data-dependent branches (a maximum, then a count and the first position
    by selects): comparisons of unpredictable indices mispredict a branch about every other
    arm, which made a one-pass loop two to three times slower. A row whose first entry is NaN
    keeps arm 0 with one tie, as that loop did.
    """
    k = values.shape[1]
    best = values[i, 0]
    for a in range(1, k):
        value = values[i, a]
        best = value if value > best else best
    count = 0
    arg = 0
    for a in range(k - 1, -1, -1):
        equal = values[i, a] == best
        count += 1 if equal else 0
        arg = a if equal else arg
    if count == 0:  # NaN first: nothing compares equal to it
        count = 1
    actions[i] = arg
    prob[i] = 1.0 / count
    return count


def first_max(index: np.ndarray, actions: np.ndarray, prob: np.ndarray, tied: np.ndarray) -> int:
    """Every row's first maximum of ``index`` ``(R, K)`` into ``actions`` and one over the
    number of entries equal to it into ``prob``; the rows where more than one entry is maximal
    into ``tied`` (``(R,)``, in increasing order), and returns how many there are."""
    n_tied = 0
    for i in range(index.shape[0]):
        count = _row_first_max(index, i, actions, prob)
        tied[n_tied] = i  # kept only when the row ties: no branch on the data
        n_tied += 1 if count > 1 else 0
    return n_tied


def tied_first_max(
    index: np.ndarray, rows: np.ndarray, keys: np.ndarray, actions: np.ndarray
) -> None:
    """A random tie-break in replicates ``rows``: ``actions[rows[j]]`` is the first maximum of
    ``keys[j] * (index[rows[j]] == max(index[rows[j]]))`` for uniform ``keys``
    ``(len(rows), K)``, as numpy's ``(keys * ties).argmax(-1)`` (the same products)."""
    for j in range(rows.shape[0]):
        i = rows[j]
        best = index[i, 0]
        for a in range(1, index.shape[1]):
            best = max(best, index[i, a])
        top = keys[j, 0] * (1.0 if index[i, 0] == best else 0.0)
        arg = 0
        for a in range(1, index.shape[1]):
            value = keys[j, a] * (1.0 if index[i, a] == best else 0.0)
            if value > top:
                top = value
                arg = a
        actions[i] = arg


def ucb_index(means: np.ndarray, n: np.ndarray, scale: np.ndarray, out: np.ndarray) -> None:
    """UCB1's index ``means + sqrt(scale[:, None] / n)`` into ``out`` (``inf`` where
    ``n == 0``): numpy's ``sqrt(scale / n) + means``, rounded alike."""
    inf = math.inf
    for i in range(means.shape[0]):
        s = scale[i]
        for a in range(means.shape[1]):
            pulls = n[i, a]
            bonus = math.sqrt(s / pulls) if pulls > 0 else inf
            out[i, a] = bonus + means[i, a]


def ucb_first_max(
    means: np.ndarray,
    n: np.ndarray,
    scale: np.ndarray,
    out: np.ndarray,
    actions: np.ndarray,
    prob: np.ndarray,
    tied: np.ndarray,
) -> int:
    """:func:`ucb_index` into ``out`` and, in the same pass over each row, what
    :func:`first_max` finds of it: the first maximum into ``actions``, its propensity into
    ``prob``, the tied rows into ``tied``; returns their number. The same operations as the
    two kernels (the same index to the last bit, the same choices)."""
    inf = math.inf
    n_tied = 0
    k = means.shape[1]
    for i in range(means.shape[0]):
        s = scale[i]
        for a in range(k):
            pulls = n[i, a]
            bonus = math.sqrt(s / pulls) if pulls > 0 else inf
            out[i, a] = bonus + means[i, a]
        count = _row_first_max(out, i, actions, prob)
        tied[n_tied] = i
        n_tied += 1 if count > 1 else 0
    return n_tied


@functools.cache
def _compile() -> dict[str, Callable[..., Any]] | None:
    global _row_first_max
    # The kernels call the row helper through this module's globals: compiled first (inline),
    # so numba inlines it.
    if not hasattr(_row_first_max, "py_func"):
        inlined = compile_kernel(_row_first_max, inline=True)
        if inlined is None:
            return None
        _row_first_max = inlined
    kernels = {}
    for source in (arm_update, first_max, tied_first_max, ucb_index, ucb_first_max):
        kernel = compile_kernel(source)
        if kernel is None:
            return None
        kernels[source.__name__] = kernel
    return kernels


def compiled(name: str) -> Callable[..., Any] | None:
    """The numba-compiled kernel ``name`` (``"arm_update"``, ``"first_max"``,
    ``"tied_first_max"``, ``"ucb_index"``, ``"ucb_first_max"``), or ``None`` without numba or with
    ``REGRETLAB_NUMBA=0``."""
    kernels = _compile()
    return None if kernels is None else kernels[name]
