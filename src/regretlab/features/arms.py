"""The design of a bandit without context: each arm's row is its one-hot indicator."""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab._validation import as_float_array, check_int

__all__ = ["ArmFeatures"]


class ArmFeatures:
    """One-hot arm indicators: the design of a K-armed bandit without context.

    The context is empty (``n_inputs`` 0); the row of arm ``a`` is the ``a``-th unit vector
    (group ``action``, names ``a0 .. a{K-1}``), so a linear model's weight ``w_a`` is arm
    ``a``'s mean reward and a shared Gaussian learner on this design is ``K`` independent
    per-arm posteriors. :meth:`transform` returns a read-only broadcast view of the identity
    (no memory per replicate).

    Parameters
    ----------
    n_actions
        Number of arms ``K`` (``>= 1``).

    Examples
    --------
    >>> fm = ArmFeatures(3)
    >>> fm.names, fm.n_inputs
    (('a0', 'a1', 'a2'), 0)
    >>> fm.transform(np.zeros((2, 0))).shape
    (2, 3, 3)
    >>> fm.transform(np.zeros(0))
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """

    def __init__(self, n_actions: int) -> None:
        self.n_actions = check_int("n_actions", n_actions, minimum=1)
        self._eye = np.eye(n_actions)
        self._eye.flags.writeable = False
        self._rows: np.ndarray | None = None

    @property
    def n_inputs(self) -> int:
        return 0

    @property
    def n_features(self) -> int:
        return self.n_actions

    @property
    def groups(self) -> tuple[str, ...]:
        return ("action",) * self.n_actions

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"a{a}" for a in range(self.n_actions))

    def transform(self, context: np.ndarray) -> np.ndarray:
        """Design rows ``(..., K, K)`` (read-only) for an empty ``context`` ``(..., 0)``."""
        if not (isinstance(context, np.ndarray) and context.shape[-1:] == (0,)):
            context = as_float_array("context", context, finite=False)
            if context.ndim == 0 or context.shape[-1] != 0:
                raise ValueError(
                    f"context must have shape (..., 0) for a bandit without context, "
                    f"got {context.shape}"
                )
        shape = (*context.shape[:-1], *self._eye.shape)
        # The same read-only view every step (a bandit calls this once per step and agent).
        if self._rows is None or self._rows.shape != shape:
            self._rows = np.broadcast_to(self._eye, shape)
        return self._rows

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_rows": None}  # the cached view would pickle as a full copy

    def __repr__(self) -> str:
        return f"ArmFeatures(n_actions={self.n_actions})"
