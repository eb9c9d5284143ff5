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

from regretlab.base import Choice
from regretlab.offpolicy.table import (
    LoggedBandit,
    check_availability,
    check_propensities,
    from_frame,
)

__all__ = ["MemoryLog", "read_log"]


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
    """A :class:`~regretlab.base.StepLog` that keeps every step in memory (with the
    availability mask of a run that has one: ``available``).

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
        available: np.ndarray | None = None,
    ) -> None:
        means = np.array(means, dtype=float)
        rows = self._steps.setdefault(agent, [])
        masked = available is not None
        if rows and masked != (rows[0][6] is not None):
            raise ValueError(
                f"step {step}, agent {agent!r}: available= must be given at every step or at "
                "none (a log's mask covers the whole run)"
            )
        mask = None
        if masked:
            mask = np.array(available)
            if mask.dtype != bool or mask.shape != means.shape:
                raise ValueError(
                    f"step {step}, agent {agent!r}: available must be booleans of the means' "
                    f"shape {means.shape}, got {mask.dtype} {mask.shape}"
                )
        row = (
            np.array(context, dtype=float),
            np.array(choice.actions),
            _propensity(agent, step, choice),
            np.array(rewards, dtype=float),
            means,
            bool(getattr(choice, "deterministic", False)),
            mask,
        )
        rows.append(row)

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
        actions = stack(1, 0).astype(np.int64)
        deterministic = np.array([row[5] for row in rows], dtype=bool)
        k = int(means.shape[-1])
        available = None if rows[0][6] is None else check_availability(stack(6, 1), actions, k)
        return LoggedBandit(
            context=stack(0, 1),
            actions=actions,
            propensity=stack(2, 0).astype(float),
            rewards=stack(3, 0),
            means=means,
            deterministic=np.broadcast_to(deterministic, (means.shape[0], len(rows))).copy(),
            n_actions=k,
            available=available,
        )


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
