"""The runner's side of an availability mask (:mod:`regretlab.policies.availability`): a block's
``available`` field, time first, checked once per block; a chosen action that is unavailable is
an error naming the policy."""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab.policies._ties import row_max
from regretlab.policies.availability import accepts_available, check_available, takes_keyword


def block_availability(
    chunk: Any, means: np.ndarray, policies: list[Any], names: list[str], log_to: Any = None
) -> np.ndarray | None:
    """The block's ``available`` mask laid out as ``means`` (time first, ``(m, ..., K)``), or
    ``None`` when the block has none. Every policy must take the ``available`` keyword, and so
    must the step log's ``record`` (``log_to``, when there is one)."""
    available = getattr(chunk, "available", None)
    if available is None:
        return None
    deaf = [n for n, p in zip(names, policies, strict=True) if not accepts_available(p)]
    if deaf:
        raise TypeError(
            f"the environment has actions that are unavailable at some steps, but the policies "
            f"of {deaf} take no available= keyword in select(), so they could choose them"
        )
    if log_to is not None and not takes_keyword(log_to.record, "available"):
        raise TypeError(
            f"the environment has actions that are unavailable at some steps, but the step log "
            f"{type(log_to).__name__}.record takes no available= keyword, so its log would not "
            "say which actions could be chosen (off-policy estimates need it)"
        )
    return check_available(np.ascontiguousarray(np.moveaxis(available, -2, 0)), means.shape)


def best_available(means: np.ndarray, available: np.ndarray | None) -> np.ndarray:
    """Every step's best expected reward among the available actions, ``(m, ...)``."""
    return row_max(means if available is None else np.where(available, means, -np.inf))


def check_chosen(available: np.ndarray, at: np.ndarray) -> None:
    """``at`` (flat indices into the step's ``(..., K)`` arrays) must all be available."""
    if not available.reshape(-1)[at].all():
        raise ValueError("the policy chose an action that is not available at this step")
