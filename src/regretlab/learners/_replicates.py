"""Teaching some replicates only: learn on all, then put the others' state back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["restore_unpicked"]


def restore_unpicked(
    owner: str, mask: np.ndarray, after: Mapping[str, Any], before: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """Each state array with the replicates outside ``mask`` put back as they were.

    An array whose leading axis is the replicates' is merged row by row; any other array must
    not have changed by learning (a shared counter would have counted the other replicates'
    step too), else the update cannot be confined to the replicates in ``mask``: ``TypeError``
    naming ``owner`` and the entry. Used where only some replicates learn a step (the picked
    base of a selector, the replicates whose delayed reward arrives).

    >>> mask = np.array([True, False])
    >>> restore_unpicked("m", mask, {"n": np.array([1.0, 1.0])}, {"n": np.array([0.0, 0.0])})
    {'n': array([1., 0.])}
    >>> restore_unpicked("m", mask, {"t": np.array(2.0)}, {"t": np.array(1.0)})
    Traceback (most recent call last):
    TypeError: m: state entry 't' of shape () has no replicate axis and changed when learning, \
so only some replicates cannot be taught; give the learner per-replicate state
    """
    merged = {}
    r = mask.shape[0]
    for key, new in after.items():
        new, old = np.asarray(new), np.asarray(before[key])
        if new.ndim >= 1 and new.shape[0] == r and new.shape == old.shape:
            merged[key] = np.where(mask.reshape((r,) + (1,) * (new.ndim - 1)), new, old)
        elif new.shape == old.shape and np.array_equal(new, old, equal_nan=True):
            merged[key] = new
        else:
            raise TypeError(
                f"{owner}: state entry {key!r} of shape {new.shape} has no replicate axis and "
                "changed when learning, so only some replicates cannot be taught; give the "
                "learner per-replicate state"
            )
    return merged
