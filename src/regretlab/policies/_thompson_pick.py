"""Thompson sampling's draw and pick for per-action models in one compiled call (issue 19).

For a per-action model (one with ``n_actions``) :class:`~regretlab.policies.ThompsonSampling`
scores every action ``z * sd + loc`` with standard normals ``z`` from its generator
(:func:`~regretlab.policies.propensities.posterior_scores`), then draws a uniform key per score
and takes the argmax with ties broken by the largest key
(:func:`~regretlab.policies.argmax_random_ties`). In numpy these are two trips through the
generator's state and a handful of passes over ``(R, K)`` arrays; compiled (numba, optional),
:func:`thompson_pick` does the same draws from the same generator in the same order (every
normal, in the scores' order, then every key: numpy's ziggurat and ``Generator.random``, bit for
bit, from ``learners/_pcg64_kernel.py``), the same products and sums and the same pick: **the
same scores, actions and generator state to the last bit**. It applies to ``PCG64``
generators and 2-D scores of at least ``_MIN_DRAWS`` entries; otherwise (or without numba, or
with ``REGRETLAB_NUMBA=0``) it returns ``None`` and the policy takes its numpy path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.learners import _pcg64_kernel as pcg
from regretlab.policies import _ties

__all__ = ["thompson_pick"]

# As for the compiled normals: below this many scores reading and writing the generator's state
# costs more than numpy's own draws.
_MIN_DRAWS = 256


def _pick_source(state, loc, sd, scores, actions, tables):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``scores = z * sd + loc`` (``(R, K)``, normals in C order), then per row the argmax with
    uniform keys drawn in C order after every normal (the first of equal keys; a row with a
    NaN score ties nowhere and picks 0, as numpy's ``(keys * ties).argmax()``)."""
    ki, wi, fi, nor_r, nor_inv_r = tables
    s_hi, s_lo, i_hi, i_lo = state[0, 0], state[0, 1], state[0, 2], state[0, 3]
    n, k = loc.shape
    for r in range(n):
        for a in range(k):
            s_hi, s_lo, z = pcg._normal(s_hi, s_lo, i_hi, i_lo, ki, wi, fi, nor_r, nor_inv_r)
            z = z * sd[r, a]
            scores[r, a] = z + loc[r, a]
    for r in range(n):
        top = _ties.row_top(scores, r)
        best, pick = -1.0, 0
        for a in range(k):
            s_hi, s_lo, bits = pcg._step(s_hi, s_lo, i_hi, i_lo)
            key = pcg._to_double(bits) if scores[r, a] == top else 0.0
            if key > best:
                best, pick = key, a
        actions[r] = pick
    state[0, 0], state[0, 1] = s_hi, s_lo


@functools.cache
def _compiled_pick() -> Callable[..., None] | None:
    """The compiled draw and pick (the ziggurat's tables bound), or ``None`` without numba."""
    # Also compiles the generator's helpers and the row maximum, which the kernel inlines.
    if pcg.compiled_draws() is None or not _ties.inline_row_top():
        return None
    return pcg.compile_with_tables(_pick_source)


def thompson_pick(
    model: Any, designs: np.ndarray, rng: np.random.Generator, scale: float, available: Any
) -> tuple[np.ndarray, np.ndarray] | None:
    """Thompson sampling's scores ``(R, K)`` and actions ``(R,)`` for a per-action ``model``
    in one compiled call (the numpy path's numbers), or ``None`` where it does not apply
    (unavailable actions, a shared model, another bit generator, few scores, no numba)."""
    if available is not None or getattr(model, "n_actions", None) is None:
        return None
    if type(rng.bit_generator) is not np.random.PCG64:
        return None
    shape = np.shape(designs)
    if len(shape) != 3 or shape[0] * shape[1] < _MIN_DRAWS:  # (R, K, p) rows, enough of them
        return None
    kernel = _compiled_pick()
    if kernel is None:
        return None
    loc, sd = model.predict_one(designs, return_sd=True, include_noise=False)
    if np.shape(loc) != shape[:2]:
        return None  # nothing drawn yet: the policy's numpy path draws from the same state
    spread = np.ascontiguousarray(sd if scale == 1.0 else scale * sd, dtype=float)
    scores, actions = np.empty(np.shape(loc)), np.empty(len(loc), dtype=np.intp)
    bits = rng.bit_generator
    state = bits.state
    row = pcg.pack_states([state])
    kernel(row, np.ascontiguousarray(loc, dtype=float), spread, scores, actions)
    bits.state = pcg.unpack_states(row, [state])[0]
    return scores, actions
