"""Step logs for :func:`~regretlab.simulate.run_bandit` (``log_to=``), and reading logs back.

:class:`ParquetLog` streams every decision to a Parquet file in blocks of ``block_rows`` rows
(``pyarrow.parquet.ParquetWriter``): its buffers and the row group pyarrow is encoding hold at
most one block together, so logging a long run costs one block of memory, not the run.
:class:`MemoryLog` keeps the steps in memory (small runs, tests). :func:`read_log` reads a
Parquet or CSV log (the columns of :mod:`regretlab.offpolicy.table`) into a validated
:class:`~regretlab.offpolicy.LoggedBandit`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from regretlab._validation import check_int
from regretlab.base import Choice
from regretlab.offpolicy.table import LoggedBandit, check_propensities, from_frame

__all__ = ["MemoryLog", "ParquetLog", "read_log"]


def _propensity(agent: str, step: int, choice: Choice) -> np.ndarray:
    if choice.probability is None:
        raise ValueError(
            f"step {step}, agent {agent!r}: the policy gave no propensity, so its log cannot "
            "be evaluated off-policy (ThompsonSampling logs one with propensity_draws > 0)"
        )
    return check_propensities(
        np.asarray(choice.probability, dtype=float), f"step {step}, agent {agent!r}: propensity"
    )


class MemoryLog:
    """A :class:`~regretlab.base.StepLog` that keeps every step in memory.

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> from regretlab.policies import Random
    >>> from regretlab.simulate import Agent, run_bandit
    >>> env = LinearBandit(n_actions=3, context_dim=2, horizon=5, n_replicates=2, seed=0)
    >>> log = MemoryLog()
    >>> _ = run_bandit(env, [Agent("uniform", policy=Random())], seed=1, log_to=log)
    >>> logged = log.logged("uniform")
    >>> logged.actions.shape, logged.means.shape, float(logged.propensity[0, 0])
    ((2, 5), (2, 5, 3), 0.333...)
    """

    def __init__(self) -> None:
        self._steps: dict[str, list[tuple[Any, ...]]] = {}
        self.closed = False

    def record(
        self,
        agent: str,
        step: int,
        context: np.ndarray,
        choice: Choice,
        rewards: np.ndarray,
        means: np.ndarray,
    ) -> None:
        row = (
            np.array(context, dtype=float),
            np.array(choice.actions),
            _propensity(agent, step, choice),
            np.array(rewards, dtype=float),
            np.array(means, dtype=float),
            bool(getattr(choice, "deterministic", False)),
        )
        self._steps.setdefault(agent, []).append(row)

    def close(self) -> None:
        self.closed = True

    @property
    def agents(self) -> list[str]:
        return list(self._steps)

    def logged(self, agent: str) -> LoggedBandit:
        """``agent``'s log, ``(R, n, ...)`` (``R = 1`` for one stream)."""
        if agent not in self._steps:
            raise ValueError(f"agent must be one of {self.agents}, got {agent!r}")
        rows = self._steps[agent]

        def stack(i: int, tail: int) -> np.ndarray:
            # Time on axis 1; one stream gets a replicate axis of 1.
            values = np.stack([row[i] for row in rows], axis=0)
            values = values.reshape(len(rows), -1, *values.shape[values.ndim - tail :])
            return np.moveaxis(values, 0, 1)

        means = stack(4, 1)
        deterministic = np.array([row[5] for row in rows], dtype=bool)
        return LoggedBandit(
            context=stack(0, 1),
            actions=stack(1, 0).astype(np.int64),
            propensity=stack(2, 0).astype(float),
            rewards=stack(3, 0),
            means=means,
            deterministic=np.broadcast_to(deterministic, (means.shape[0], len(rows))).copy(),
            n_actions=int(means.shape[-1]),
        )


class ParquetLog:
    """A :class:`~regretlab.base.StepLog` streaming to a Parquet file, one block at a time.

    Rows are one agent x replicate x step (the columns of :mod:`regretlab.offpolicy.table`).
    A block of ``block_rows`` rows is the log's whole memory: row groups of about an eighth of
    it (``group_rows``, whole steps), and preallocated buffers of as many whole row groups as
    fit beside one more (seven when ``block_rows`` is a multiple of ``8 R``), written when
    full; so the buffers and the one row group pyarrow is encoding stay within one block
    whatever the horizon. :meth:`close` (called by the runner after the last step, or on
    leaving a ``with`` block) writes the rest.

    Parameters
    ----------
    path
        The Parquet file to write (replaced if it exists).
    block_rows
        Rows of memory for the log; a step of ``R`` replicates is never split, so a row group
        holds ``max(1, block_rows // 8 // R)`` steps (at least one, and the buffers at least
        one group, when a block is smaller than two steps).

    Attributes
    ----------
    blocks_written
        Times the buffers were written out (each as several row groups).
    peak_rows
        The most rows held in the buffers at once.
    group_rows
        Rows per row group (set at the first step).

    Examples
    --------
    >>> import tempfile, os
    >>> from regretlab.environments import LinearBandit
    >>> from regretlab.policies import Random
    >>> from regretlab.simulate import Agent, run_bandit
    >>> env = LinearBandit(n_actions=3, context_dim=2, horizon=50, n_replicates=2, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "log.parquet")
    ...     writer = ParquetLog(path, block_rows=40)
    ...     _ = run_bandit(env, [Agent("uniform", policy=Random())], seed=1, log_to=writer)
    ...     log = read_log(path)
    >>> writer.blocks_written, writer.peak_rows, writer.group_rows, log.actions.shape
    (3, 36, 4, (2, 50))
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
        self._capacity = 0
        self._width: tuple[int, int, int] | None = None
        self._replicates = np.arange(0)

    def __enter__(self) -> ParquetLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _allocate(self, r: int, c: int, k: int) -> None:
        self._width = (r, c, k)
        self._replicates = np.arange(r)
        # Row groups of an eighth of a block; buffers of as many whole groups as fit beside one.
        self.group_rows = max(1, self.block_rows // 8 // r) * r
        self._capacity = max(1, self.block_rows // self.group_rows - 1) * self.group_rows
        n = self._capacity
        self._buffers = {
            "agent": np.empty(n, np.int32),
            "replicate": np.empty(n, np.int64),
            "step": np.empty(n, np.int64),
            "action": np.empty(n, np.int64),
            "propensity": np.empty(n),
            "deterministic": np.empty(n, bool),
            "reward": np.empty(n),
            # Column-major, so that every column of a block goes to Arrow without a copy.
            "context": np.empty((c, n)),
            "mean": np.empty((k, n)),
        }

    def record(
        self,
        agent: str,
        step: int,
        context: np.ndarray,
        choice: Choice,
        rewards: np.ndarray,
        means: np.ndarray,
    ) -> None:
        if choice.probability is None:
            _propensity(agent, step, choice)  # raises, naming the step and the agent
        means = np.asarray(means)
        k = means.shape[-1]
        r = means.size // k
        context = np.asarray(context)
        c = context.size // r
        if self._width != (r, c, k):
            if self._width is not None:
                raise ValueError(
                    f"step {step}, agent {agent!r}: (replicates, context_dim, n_actions) "
                    f"{(r, c, k)} differ from the log's {self._width}"
                )
            self._allocate(r, c, k)
        if agent not in self._agents:
            self._agents.append(agent)
        if self._held + r > self._capacity:
            self._flush()
        lo = self._held
        hi = lo + r
        b = self._buffers
        # Plain slice assignments (numpy broadcasts scalars and (R,) arrays alike); the
        # propensities are validated once per block, in _flush.
        b["agent"][lo:hi] = self._agents.index(agent)
        b["replicate"][lo:hi] = self._replicates
        b["step"][lo:hi] = step
        b["action"][lo:hi] = choice.actions
        b["propensity"][lo:hi] = choice.probability
        b["deterministic"][lo:hi] = bool(getattr(choice, "deterministic", False))
        b["reward"][lo:hi] = rewards
        b["context"][:, lo:hi] = context.reshape(r, c).T
        b["mean"][:, lo:hi] = means.reshape(r, k).T
        self._held = hi
        if hi > self.peak_rows:
            self.peak_rows = hi

    def _check_block(self, n: int) -> None:
        b = self._buffers
        p = b["propensity"][:n]
        bad = ~((p > 0.0) & (p <= 1.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            agent = self._agents[int(b["agent"][i])]
            raise ValueError(
                f"step {int(b['step'][i])}, agent {agent!r}, replicate {int(b['replicate'][i])}:"
                f" propensity must lie in (0, 1], got {p[i]}"
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
            **{
                key: array(b[key][:n])
                for key in ("replicate", "step", "action", "propensity", "deterministic", "reward")
            },
            **{f"context_{i}": array(row[:n]) for i, row in enumerate(b["context"])},
            **{f"mean_{a}": array(row[:n]) for a, row in enumerate(b["mean"])},
        }
        table = pa.table(columns)
        if self._writer is None:
            # Agents seen later get new dictionary entries: store the column as plain strings.
            schema = table.schema.set(0, pa.field("agent", pa.string()))
            # Dictionary pages for the agent names only: hashing 65536 distinct doubles per
            # column costs several blocks of memory and saves nothing.
            self._writer = pq.ParquetWriter(
                Path(self.path), schema, use_dictionary=["agent"], memory_pool=pool
            )
        names = pc.cast(table.column("agent"), pa.string(), memory_pool=pool)
        table = table.set_column(0, "agent", names)
        # In row groups of an eighth of a block: pyarrow holds one encoded group at a time.
        self._writer.write_table(table, row_group_size=self.group_rows)
        self.blocks_written += 1
        self._held = 0

    def close(self) -> None:
        """Write the rows held and close the file (again: nothing happens)."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_log(
    path: str | os.PathLike[str],
    *,
    agent: str | None = None,
    n_actions: int | None = None,
) -> LoggedBandit:
    """A Parquet (``.parquet``) or CSV (any other suffix) log as a validated
    :class:`~regretlab.offpolicy.LoggedBandit` (see :func:`~regretlab.offpolicy.from_frame`).

    A log without ``action`` or ``reward``, with propensities outside ``(0, 1]``, actions
    outside ``[0, K)`` or replicates of different lengths is refused with a ``ValueError``.

    >>> import io
    >>> read_log(io.StringIO("action,propensity,reward\\n0,0.5,1.0\\n1,0.5,0.0")).n_rows
    2
    """
    suffix = Path(str(getattr(path, "name", path))).suffix.lower()
    if isinstance(path, str | os.PathLike) and suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path)
    try:
        return from_frame(frame, agent=agent, n_actions=n_actions)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
