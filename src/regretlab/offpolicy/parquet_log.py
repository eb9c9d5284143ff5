"""A step log streamed to Parquet one block at a time: the memory of a logged run is one block.

:class:`ParquetLog` fills preallocated column buffers (whole steps, half of ``block_rows``
rows) and, when they are full, writes them as **one row group** and reuses them;
:meth:`~ParquetLog.close` writes the rest, closes the file and releases the buffers. What the
log holds:

- its buffers (at most ``block_rows`` rows, never reallocated);
- while a block is written, what pyarrow holds to encode it: one 16 KiB data page of one
  column at a time (the columns are plain-encoded, so no column is held whole for a
  dictionary). The pages come from pyarrow's default pool (mimalloc), whatever pool the
  writer is given, and mimalloc keeps freed memory resident: with pyarrow's 1 MiB pages that
  was about 6 MB beside a 65536-row block, so the log asks the pool to return its free memory
  after each block (``release_unused``);
- the file's footer, which the writer keeps until it closes the file: about 15 kB per row group
  of the 17-21 columns of a 5-action, 6-input log (a 10^6-step run at the default block: 31
  row groups, 0.5 MB). Writing a block as one row group, not eight, is what keeps it small:
  with row groups of an eighth of a block the footer was the part of the log's memory that
  grew with the run (``benchmarks/parquet_footer.py``; benchmarks/RESULTS.md, issue 18, part 3).

The other half of the block is the headroom for the last two and for where the allocator puts
things: with buffers of seven eighths of the block (the second session's design), a 10^6-step
run's peak rose by 0.8-2.0 blocks over an unlogged one's in three pairs, because the unlogged
run's own peak moves by 6-10 MB from run to run (benchmarks/RESULTS.md, issue 18, part 3).
Only the footer grows with the run, by about 15 kB per ``group_rows`` rows (0.4% of the rows'
bytes at the default block); for runs much longer than 10^6 rows a larger ``block_rows`` keeps
it small beside the block.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np

from regretlab._validation import check_int
from regretlab.base import Choice
from regretlab.offpolicy.logs import _propensity

__all__ = ["ParquetLog"]

# Encoded pages of 16 KiB: what the encoder holds of a column at a time (pyarrow's default,
# 1 MiB, held a column chunk of a 57344-row block whole and cost about 6 MB resident).
_PAGE_BYTES = 1 << 14
_SCALARS = ("replicate", "step", "action", "propensity", "deterministic", "reward")


def _mapped(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A zeroed array in its own anonymous memory map, off the malloc heap: the runner's
    blocks, freed and made again as the run goes, cannot be pinned on the heap by a buffer
    that lives beside them, and the map is returned to the system when the log closes."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if size == 0:
        return np.zeros(shape, dtype)
    return np.frombuffer(mmap.mmap(-1, size), dtype=dtype).reshape(shape)


class ParquetLog:
    """A :class:`~regretlab.base.StepLog` streaming to a Parquet file, one block at a time.

    Rows are one agent x replicate x step (the columns of :mod:`regretlab.offpolicy.table`;
    ``available_<a>`` too when the run has unavailable actions). The log's memory is one block
    of ``block_rows`` rows (see :mod:`regretlab.offpolicy.parquet_log`): buffers of the whole
    steps that fit in half of it, each written as one row group when full and reused.
    :meth:`close` (called by the runner after the last step, or on leaving a ``with`` block)
    writes the rest and releases the buffers.

    Parameters
    ----------
    path
        The Parquet file to write (replaced if it exists).
    block_rows
        Rows of memory for the log; a step of ``R`` replicates is never split, so the buffers
        (and every row group but the last) hold ``max(1, (block_rows // 2) // R)``
        steps.

    Attributes
    ----------
    blocks_written
        Row groups written (one per full buffer, and the rest at :meth:`close`).
    peak_rows
        The most rows held in the buffers at once.
    group_rows
        Rows per row group: the buffers' capacity (set at the first step).
    buffer_bytes
        Bytes of the buffers held now.

    Examples
    --------
    >>> import tempfile, os
    >>> from regretlab.environments import LinearBandit
    >>> from regretlab.offpolicy import read_log
    >>> from regretlab.policies import Random
    >>> from regretlab.simulate import Agent, run_bandit
    >>> env = LinearBandit(n_actions=3, context_dim=2, horizon=50, n_replicates=2, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "log.parquet")
    ...     writer = ParquetLog(path, block_rows=40)
    ...     _ = run_bandit(env, [Agent("uniform", policy=Random())], seed=1, log_to=writer)
    ...     log = read_log(path)
    >>> writer.blocks_written, writer.peak_rows, writer.group_rows, log.actions.shape
    (5, 20, 20, (2, 50))
    """

    def __init__(self, path: str | os.PathLike[str], *, block_rows: int = 1 << 16) -> None:
        self.path = path
        self.block_rows = block_rows
        check_int("block_rows", block_rows, minimum=1)
        # Imported here, not at the first block: a missing pyarrow fails before the run.
        import pyarrow.parquet  # noqa: F401

        self.blocks_written = 0
        self.peak_rows = 0
        self.group_rows = 0
        self._writer: Any = None
        self._agents: list[str] = []
        self._buffers: dict[str, np.ndarray] = {}
        self._held = 0
        self._closed = False
        self._width: tuple[int, int, int, bool] | None = None
        self._replicates = np.arange(0)

    @property
    def buffer_bytes(self) -> int:
        """Bytes of the column buffers held now (allocated at the first step, 0 once closed)."""
        return sum(b.nbytes for b in self._buffers.values())

    def __enter__(self) -> ParquetLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _allocate(self, r: int, c: int, k: int, masked: bool) -> None:
        self._width = (r, c, k, masked)
        self._replicates = np.arange(r)
        # Whole steps in half a block: the rest is the encoder's, the footer's and the margin.
        self.group_rows = n = max(1, (self.block_rows // 2) // r) * r
        self._buffers = {
            "agent": _mapped((n,), np.int32),
            "replicate": _mapped((n,), np.int64),
            "step": _mapped((n,), np.int64),
            "action": _mapped((n,), np.int64),
            "propensity": _mapped((n,), np.float64),
            "deterministic": _mapped((n,), np.bool_),
            "reward": _mapped((n,), np.float64),
            # Column-major, so that every column of a block goes to Arrow without a copy.
            "context": _mapped((c, n), np.float64),
            "mean": _mapped((k, n), np.float64),
            "available": _mapped((k if masked else 0, n), np.bool_),
        }

    def record(
        self,
        agent: str,
        step: int,
        context: np.ndarray,
        choice: Choice,
        rewards: np.ndarray,
        means: np.ndarray,
        available: np.ndarray | None = None,
    ) -> None:
        if self._closed:
            raise ValueError(f"step {step}, agent {agent!r}: the log {self.path} is closed")
        if choice.probability is None:
            _propensity(agent, step, choice)  # raises, naming the step and the agent
        means = np.asarray(means)
        k = means.shape[-1]
        r = means.size // k
        context = np.asarray(context)
        c = context.size // r
        width = (r, c, k, available is not None)
        if self._width != width:
            if self._width is not None:
                raise ValueError(
                    f"step {step}, agent {agent!r}: (replicates, context_dim, n_actions, "
                    f"masked) {width} differ from the log's {self._width} (a mask, "
                    "available=, is given at every step or at none)"
                )
            self._allocate(*width)
        if available is not None:
            mask = np.asarray(available)
            if mask.dtype != bool or mask.shape != means.shape:
                raise ValueError(
                    f"step {step}, agent {agent!r}: available must be booleans of the means' "
                    f"shape {means.shape}, got {mask.dtype} {mask.shape}"
                )
        if agent not in self._agents:
            self._agents.append(agent)
        if self._held + r > self.group_rows:
            self._flush()
        lo = self._held
        hi = lo + r
        b = self._buffers
        # Plain slice assignments (numpy broadcasts scalars and (R,) arrays alike); the
        # propensities and the mask are validated once per block, in _flush.
        b["agent"][lo:hi] = self._agents.index(agent)
        b["replicate"][lo:hi] = self._replicates
        b["step"][lo:hi] = step
        b["action"][lo:hi] = choice.actions
        b["propensity"][lo:hi] = choice.probability
        b["deterministic"][lo:hi] = bool(getattr(choice, "deterministic", False))
        b["reward"][lo:hi] = rewards
        b["context"][:, lo:hi] = context.reshape(r, c).T
        b["mean"][:, lo:hi] = means.reshape(r, k).T
        if available is not None:
            b["available"][:, lo:hi] = mask.reshape(r, k).T
        self._held = hi
        if hi > self.peak_rows:
            self.peak_rows = hi

    def _where(self, i: int) -> str:
        b = self._buffers
        agent = self._agents[int(b["agent"][i])]
        return f"step {int(b['step'][i])}, agent {agent!r}, replicate {int(b['replicate'][i])}"

    def _check_block(self, n: int) -> None:
        b = self._buffers
        p = b["propensity"][:n]
        bad = ~((p > 0.0) & (p <= 1.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{self._where(i)}: propensity must lie in (0, 1], got {p[i]}")
        mask = b["available"][:, :n]
        if len(mask):
            empty = ~mask.any(axis=0)
            if empty.any():
                i = int(np.flatnonzero(empty)[0])
                raise ValueError(f"{self._where(i)}: available leaves no action available")
            actions = b["action"][:n]
            taken = mask[actions, np.arange(n)]
            if not taken.all():
                i = int(np.flatnonzero(~taken)[0])
                raise ValueError(
                    f"{self._where(i)}: the logged action {int(actions[i])} was not available"
                )

    def _flush(self) -> None:
        if not self._held:
            return
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        n, b = self._held, self._buffers
        self._check_block(n)
        # malloc, not pyarrow's default pool (mimalloc), whose segments stay resident: with it
        # the log held about one block more than its buffers and the row group it encodes.
        pool = pa.system_memory_pool()

        def array(values: np.ndarray) -> Any:
            return pa.array(values, memory_pool=pool)  # numbers: no copy

        # Agent names as a dictionary column: the names are written once per row group.
        columns = {
            "agent": pa.DictionaryArray.from_arrays(
                array(b["agent"][:n]), pa.array(self._agents, pa.string())
            ),
            **{key: array(b[key][:n]) for key in _SCALARS},
            **{f"context_{i}": array(row[:n]) for i, row in enumerate(b["context"])},
            **{f"mean_{a}": array(row[:n]) for a, row in enumerate(b["mean"])},
            **{f"available_{a}": array(row[:n]) for a, row in enumerate(b["available"])},
        }
        table = pa.table(columns)
        if self._writer is None:
            # Agents seen later get new dictionary entries: store the column as plain strings.
            schema = table.schema.set(0, pa.field("agent", pa.string()))
            # Dictionary pages for the agent names only: hashing 65536 distinct doubles per
            # column costs several blocks of memory and saves nothing.
            self._writer = pq.ParquetWriter(
                Path(self.path),
                schema,
                use_dictionary=["agent"],
                memory_pool=pool,
                data_page_size=_PAGE_BYTES,
            )
        names = pc.cast(table.column("agent"), pa.string(), memory_pool=pool)
        table = table.set_column(0, "agent", names)
        # The whole buffer as one row group: the writer keeps a footer entry per row group
        # until it closes the file, so fewer groups is less memory that grows with the run.
        self._writer.write_table(table, row_group_size=n)
        self.blocks_written += 1
        self._held = 0
        del table, names, columns
        # The encoder's pages come from pyarrow's default pool (the writer's properties do not
        # take ours); mimalloc keeps freed pages resident unless asked to return them.
        pa.default_memory_pool().release_unused()

    def close(self) -> None:
        """Write the rows held, close the file and release the buffers (again: nothing)."""
        if self._buffers:
            self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        # The runner builds its result tables after closing the log: not beside a block.
        self._buffers = {}
        self._closed = True
