"""The logged-bandit table: what a logging policy saw, did and earned, replicates first.

One :class:`LoggedBandit` holds one agent's log: ``R`` replicates of ``n`` rows each. Its
columns, in a file (:func:`read_log`, :class:`~regretlab.offpolicy.ParquetLog`):

==================  ========  ==================================================================
column              needed    meaning
==================  ========  ==================================================================
``action``          always    the logged action, an integer in ``[0, K)``
``propensity``      IPS, DR   the logging policy's probability of that action, in ``(0, 1]``
``reward``          always    the revealed reward
``context_0 ..``    DM, DR    the context the policy saw (a target and a reward model read it)
``mean_0 ..``       truth     every action's expected reward (simulated logs only)
``replicate``       no        replicate id (default 0: one replicate)
``step``            no        1-based step (default: the row order)
``deterministic``   no        the logging policy put all its mass on its choice (greedy, LinUCB)
``available_0 ..``  masked    whether each action could be chosen at the row (runs with
                              unavailable actions, such as
                              :class:`~regretlab.environments.ArmAppears`); absent: all could
``agent``           no        the logging agent (a file may hold several)
==================  ========  ==================================================================

With an availability mask, a target's probabilities are those of the target restricted to the
available actions (:func:`~regretlab.offpolicy.target_probabilities` passes the mask), so
target mass on an unavailable action is an error, not support deficiency; the direct method
and DR sum over the available actions, and the truth takes the means of the available ones.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from regretlab._validation import _describe

__all__ = ["LoggedBandit", "check_availability", "check_propensities", "from_frame", "to_frame"]

REQUIRED = ("action", "reward")


class LoggedBandit(NamedTuple):
    """One agent's log, ``R`` replicates of ``n`` rows: ``context`` ``(R, n, c)``, ``actions``,
    ``propensity``, ``rewards``, ``deterministic`` ``(R, n)``, ``means`` ``(R, n, K)`` (``None``
    for real data), ``n_actions`` ``K`` and ``available`` ``(R, n, K)`` (booleans: the actions
    that could be chosen at each row; ``None``: all of them). A column a log lacks is ``None``.

    >>> log = from_frame(pd.DataFrame({"action": [0, 1, 1], "propensity": 0.5,
    ...                                "reward": [1.0, 0.0, 1.0], "context_0": [0.1, 0.2, 0.3]}))
    >>> log.actions.shape, log.context.shape, log.n_actions
    ((1, 3), (1, 3, 1), 2)
    """

    context: np.ndarray | None
    actions: np.ndarray
    propensity: np.ndarray | None
    rewards: np.ndarray
    means: np.ndarray | None
    deterministic: np.ndarray
    n_actions: int
    available: np.ndarray | None = None

    @property
    def n_replicates(self) -> int:
        return int(self.actions.shape[0])

    @property
    def n_rows(self) -> int:
        """Rows per replicate."""
        return int(self.actions.shape[1])

    def need(self, field: str, estimator: str) -> np.ndarray:
        """The array ``field``, or a ``ValueError`` naming what ``estimator`` misses."""
        value = getattr(self, field)
        if value is None:
            column = {
                "context": "context_0 ..",
                "means": "mean_0 ..",
                "available": "available_0 ..",
            }.get(field, field)
            raise ValueError(
                f"{estimator} needs the log's {field!r} (column {column!r}); this log has "
                f"none. Columns a log may hold: action, propensity, reward, context_<i>, "
                f"mean_<a>, available_<a>, replicate, step, deterministic, agent"
            )
        return np.asarray(value)


def check_propensities(propensity: np.ndarray, name: str = "propensity") -> np.ndarray:
    """``propensity`` as floats, or a ``ValueError`` at the first value outside ``(0, 1]``.

    >>> check_propensities(np.array([0.5, 1.5]))
    Traceback (most recent call last):
    ValueError: propensity must lie in (0, 1], got 1.5 at row 1 ...
    """
    p = np.asarray(propensity, dtype=float)
    bad = ~((p > 0.0) & (p <= 1.0))
    if bad.any():
        index = np.unravel_index(int(np.flatnonzero(bad.ravel())[0]), p.shape)
        where = index[-1] if p.ndim == 1 else index
        raise ValueError(
            f"{name} must lie in (0, 1], got {p[index]} at row {where} (a logging policy gives "
            "the probability of the action it took: never 0, NaN or above 1)"
        )
    return p


def check_availability(available: Any, actions: np.ndarray, n_actions: int) -> np.ndarray:
    """``available`` as booleans ``(R, n, K)`` for the logged ``actions`` ``(R, n)``, or a
    ``ValueError`` for a wrong shape, a row with no action available, or a logged action that
    was not available (a ``TypeError`` for values other than booleans or 0/1).

    >>> check_availability([[[True, False], [False, False]]], np.array([[0, 1]]), 2)
    Traceback (most recent call last):
    ValueError: available must leave at least one action available in every row; ...
    """
    mask = np.asarray(available)
    if mask.dtype != bool:
        if mask.dtype.kind not in "iuf" or not np.isin(mask, (0, 1)).all():
            raise TypeError(
                f"available must hold booleans (True = the action could be chosen) or 0/1, got "
                f"{mask.dtype} values {np.unique(mask.ravel())[:5]}"
            )
        mask = mask.astype(bool)
    shape = (*actions.shape, n_actions)
    if mask.shape != shape:
        raise ValueError(
            f"available must have shape (replicates, rows, n_actions) = {shape}, got {mask.shape}"
        )
    empty = ~mask.any(axis=-1)
    if empty.any():
        where = tuple(int(i) for i in np.argwhere(empty)[0])
        raise ValueError(
            "available must leave at least one action available in every row; (replicate, "
            f"row) {where} has none"
        )
    taken = np.take_along_axis(mask, actions[..., None], axis=-1)[..., 0]
    if not taken.all():
        where = tuple(int(i) for i in np.argwhere(~taken)[0])
        raise ValueError(
            f"the logged action {int(actions[where])} at (replicate, row) {where} was not "
            f"available there (available: {np.flatnonzero(mask[where]).tolist()}): a policy "
            "cannot choose an unavailable action"
        )
    return mask


def _columns(frame: pd.DataFrame, prefix: str) -> list[str]:
    found = [c for c in frame.columns if str(c).startswith(prefix)]
    order = sorted(found, key=lambda c: int(str(c)[len(prefix) :]))
    expected = [f"{prefix}{i}" for i in range(len(order))]
    if order != expected:
        raise ValueError(f"columns {prefix}<i> must be {expected}, got {order}")
    return order


def from_frame(
    frame: pd.DataFrame, *, agent: str | None = None, n_actions: int | None = None
) -> LoggedBandit:
    """A :class:`LoggedBandit` from a table of the columns in the module notes, validated.

    ``agent`` picks one agent's rows (needed when the table holds several); ``n_actions``
    defaults to the number of ``mean_<a>`` columns, else the largest action + 1. Every replicate
    must have the same number of rows.

    >>> log = from_frame(pd.DataFrame({"replicate": [0, 0, 1, 1], "action": [0, 2, 1, 1],
    ...                                "propensity": 1 / 3, "reward": [1.0, 0.0, 0.5, 0.5]}))
    >>> log.actions, log.n_actions
    (array([[0, 2],
           [1, 1]]), 3)
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {_describe(frame)}")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(
            f"a log needs the columns {list(REQUIRED)} (and propensity for IPS/DR, context_<i> "
            f"for DM/DR); missing {missing}, got {list(frame.columns)}"
        )
    if "agent" in frame.columns:
        agents = list(dict.fromkeys(frame["agent"]))
        if agent is None and len(agents) > 1:
            raise ValueError(f"the log holds several agents {agents}: pass agent= one of them")
        if agent is not None:
            if agent not in agents:
                raise ValueError(f"agent must be one of {agents}, got {agent!r}")
            frame = frame[frame["agent"] == agent]
    elif agent is not None:
        raise ValueError(f"agent={agent!r} given, but the log has no 'agent' column")
    if frame.empty:
        raise ValueError("the log has no rows")
    frame = frame.assign(
        replicate=frame["replicate"] if "replicate" in frame.columns else 0,
        step=frame["step"] if "step" in frame.columns else np.arange(len(frame)) + 1,
    ).sort_values(["replicate", "step"], kind="stable")
    counts = frame.groupby("replicate").size()
    if counts.nunique() != 1:
        raise ValueError(f"every replicate needs the same number of rows, got {counts.to_dict()}")
    shape = (len(counts), int(counts.iloc[0]))

    def block(columns: Any, dtype: Any = float) -> np.ndarray:
        return frame[columns].to_numpy(dtype=dtype).reshape(*shape, -1)

    actions = frame["action"].to_numpy()
    if actions.dtype.kind == "f" and np.isfinite(actions).all() and (actions % 1 == 0).all():
        actions = actions.astype(np.int64)
    if actions.dtype.kind not in "iu" or (actions < 0).any():
        raise ValueError(f"action must hold integers >= 0, got {actions[:5]} ...")
    means_cols = _columns(frame, "mean_")
    context_cols = _columns(frame, "context_")
    mask_cols = _columns(frame, "available_")
    k = len(means_cols) or len(mask_cols) or int(actions.max()) + 1
    if n_actions is not None:
        if means_cols and n_actions != len(means_cols):
            raise ValueError(f"n_actions={n_actions} but the log has {len(means_cols)} means")
        k = n_actions
    if mask_cols and len(mask_cols) != k:
        raise ValueError(
            f"the log has {len(mask_cols)} availability columns (available_<a>) for {k} actions:"
            f" it needs one per action, available_0 .. available_{k - 1}"
        )
    if actions.max() >= k:
        raise ValueError(f"action must lie in [0, {k}), got {int(actions.max())}")
    rewards = frame["reward"].to_numpy(dtype=float)
    if not np.isfinite(rewards).all():
        raise ValueError(f"reward must be finite, got {rewards[~np.isfinite(rewards)][:3]}")
    propensity = None
    if "propensity" in frame.columns:
        propensity = check_propensities(frame["propensity"].to_numpy(dtype=float))
    deterministic = (
        frame["deterministic"].to_numpy(dtype=bool)
        if "deterministic" in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    available = None
    if mask_cols:
        values = frame[mask_cols].to_numpy()
        if values.dtype == object:  # booleans read from text: "True" / "False"
            values = np.vectorize(_boolean, otypes=[bool])(values)
        available = check_availability(values.reshape(*shape, k), actions.reshape(shape), k)
    return LoggedBandit(
        context=block(context_cols) if context_cols else None,
        actions=actions.reshape(shape),
        propensity=None if propensity is None else propensity.reshape(shape),
        rewards=rewards.reshape(shape),
        means=block(means_cols) if means_cols else None,
        deterministic=deterministic.reshape(shape),
        n_actions=k,
        available=available,
    )


def _boolean(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1", "1.0"):
        return True
    if text in ("false", "0", "0.0"):
        return False
    raise TypeError(f"available must hold booleans (True/False or 1/0), got {value!r}")


def to_frame(log: LoggedBandit) -> pd.DataFrame:
    """The table of ``log`` (columns of the module notes), rows by replicate then step.

    >>> log = from_frame(pd.DataFrame({"action": [1, 0], "propensity": 0.5, "reward": 1.0}))
    >>> from_frame(to_frame(log)).actions.tolist()
    [[1, 0]]
    """
    r, n = log.actions.shape
    columns: dict[str, Any] = {
        "replicate": np.repeat(np.arange(r), n),
        "step": np.tile(np.arange(1, n + 1), r),
        "action": log.actions.ravel(),
        "reward": log.rewards.ravel(),
        "deterministic": log.deterministic.ravel(),
    }
    if log.propensity is not None:
        columns["propensity"] = log.propensity.ravel()
    fields = (("context", log.context), ("mean", log.means), ("available", log.available))
    for name, values in fields:
        if values is not None:
            for i in range(values.shape[-1]):
                columns[f"{name}_{i}"] = values[..., i].ravel()
    return pd.DataFrame(columns)
