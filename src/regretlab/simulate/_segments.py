"""The designs ``run_prequential`` makes for a segment of steps, in the layout each agent reads.

Agents whose learner predicts and learns a whole segment at once (time blocking) read each
replicate's rows contiguously, so their designs are made replicate first, ``(*batch, m, p)``,
written into one buffer per feature map that is kept for the run where the map's
``transform`` takes ``out`` (fresh memory for every segment costs a page fault per 4 KiB:
3x the transform itself at R = 1000, d = 22). Agents that step read one step's ``(*batch, p)``
rows, so theirs are made time first, ``(m, *batch, p)``, fresh for every segment (delayed
feedback keeps them). A learner must not keep the design it is given beyond its call.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

__all__ = ["design", "design_buffers"]


def design(
    made: dict[tuple[int, bool], np.ndarray],
    reuse: dict[int, np.ndarray],
    fm: Any,
    inputs: np.ndarray,
    time_first: np.ndarray,
    rows: slice,
    replicate_first: bool,
) -> np.ndarray:
    """Feature map ``fm``'s design of a segment's ``rows``, replicate first (from the block's
    ``inputs``, ``(*batch, m, d)``, for blocked agents) or time first (from ``time_first``,
    ``(m, *batch, d)``); made once per map and layout. Replicate-first designs of maps whose
    ``transform`` takes ``out`` are written into one buffer per map, ``reuse[id(fm)]``, kept
    for the run (fresh memory for every segment costs a page fault per 4 KiB)."""
    key = (id(fm), replicate_first)
    if key in made:
        return made[key]
    if not replicate_first:
        # From contiguous copies of the inputs: the maps' products then run along rows.
        made[key] = fm.transform(np.ascontiguousarray(time_first[rows]))
        return made[key]
    segment = inputs[..., rows, :]  # each replicate's rows are contiguous already
    buffer = reuse.get(id(fm))
    if buffer is None:
        made[key] = fm.transform(segment)
        return made[key]
    shape = (*segment.shape[:-1], int(fm.n_features))
    out = buffer[: math.prod(shape)].reshape(shape)
    made[key] = fm.transform(segment, out=out)
    return made[key]


def design_buffers(
    maps: list[Any], blocked: list[bool], batch: tuple[int, ...], span: int
) -> dict[int, np.ndarray]:
    """A buffer for a segment's replicate-first design of every map that a blocked agent
    uses and whose ``transform`` takes ``out``."""
    buffers = {}
    for fm, rep in zip(maps, blocked, strict=True):
        if rep and id(fm) not in buffers and _takes_out(fm):
            buffers[id(fm)] = np.empty(math.prod(batch) * span * int(fm.n_features))
    return buffers


def _takes_out(fm: Any) -> bool:
    try:
        return "out" in inspect.signature(fm.transform).parameters
    except (TypeError, ValueError):
        return False
