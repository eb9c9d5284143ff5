"""The segments of steps ``run_prequential`` works on, and their designs in each agent's layout.

Segments are set by the run alone: ``span`` steps (from the memory budget), ending early at
checkpoints and at the horizon (:func:`segment_lengths`), whatever the blocks the environment
makes them from. A segment spanning several blocks is gathered into buffers kept for the run
(:func:`gather_segments`: its inputs, outputs and means, replicate first), so the blocks can be
shorter than the segments: time-blocked learners pay per call (each call reads and writes every
replicate's state), while a block costs little more than its bytes.

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
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

__all__ = ["design", "design_buffers", "gather_segments", "segment_lengths"]


def segment_lengths(span: int, checkpoints: Iterable[Any], horizon: int) -> Iterator[int]:
    """Steps of each segment of a run: ``span`` at most, ending at every checkpoint and at the
    horizon.

    >>> list(segment_lengths(4, [3, 10], 12))
    [3, 4, 3, 2]
    """
    t, ends = 0, (int(c) for c in checkpoints)
    end = next(ends, horizon)
    while t < horizon:
        m = min(span, end - t, horizon - t)
        t += m
        yield m
        if t == end:
            end = next(ends, horizon)


def gather_segments(
    blocks: Iterable[Any], lengths: Iterable[int], batch: tuple[int, ...], span: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The steps of consecutive ``blocks`` (fields ``x`` ``(*batch, n, d)``, ``y`` and ``mean``
    ``(*batch, n)``) regrouped into segments of ``lengths`` steps (at most ``span`` each).

    Yields each segment's ``x`` ``(*batch, m, d)``, ``y`` and ``mean`` ``(*batch, m)``, C-ordered
    views of three buffers kept for the run (``span`` steps each) and overwritten by the next
    segment: a reader must not keep them. Every segment is copied, also where it lies within
    one block: one mechanism, and a copy of ``d + 2`` numbers per replicate and step (about
    1.6 ms of a run at R = 1000, d = 22, 600 steps; its designs are 22 numbers a step).
    """
    source = iter(blocks)
    n_rep = math.prod(batch)
    block: Any = None
    pos = n = 0
    buffers: list[np.ndarray] = []
    for m in lengths:
        if not buffers:  # sized from the first block's inputs
            block = next(source)
            pos, n, d = 0, block.y.shape[-1], block.x.shape[-1]
            buffers = [
                np.empty(n_rep * span * d, dtype=block.x.dtype),
                np.empty(n_rep * span, dtype=block.y.dtype),
                np.empty(n_rep * span, dtype=block.mean.dtype),
            ]
        x = buffers[0][: n_rep * m * d].reshape(*batch, m, d)
        y = buffers[1][: n_rep * m].reshape(*batch, m)
        mean = buffers[2][: n_rep * m].reshape(*batch, m)
        filled = 0
        while filled < m:
            if pos == n:
                block = next(source)
                pos, n = 0, block.y.shape[-1]
            k = min(m - filled, n - pos)
            x[..., filled : filled + k, :] = block.x[..., pos : pos + k, :]
            y[..., filled : filled + k] = block.y[..., pos : pos + k]
            mean[..., filled : filled + k] = block.mean[..., pos : pos + k]
            filled += k
            pos += k
        yield x, y, mean


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
