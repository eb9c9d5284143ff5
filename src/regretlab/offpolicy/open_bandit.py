"""The Open Bandit Dataset (Saito et al. 2021) read from its CSV files, as a logged bandit.

The Open Bandit Dataset records a fashion e-commerce site's recommendations: at each
impression a logging policy put item ``item_id`` at slot ``position`` (1-3) and the user
clicked (``click``) or not; ``propensity_score`` is the logger's probability of that item at
that slot. Two loggers ran side by side on the same traffic: uniform random ("random") and
Bernoulli Thompson sampling ("bts"), each in three campaigns ("all", "men", "women"). A
10,000-row sample of each ships inside the ``obp`` wheel (``obp/dataset/obd/<logger>/
<campaign>/<campaign>.csv``), so it can be read without installing ``obp`` (whose pinned
dependencies cannot live beside this package's).

:func:`read_open_bandit` turns one such file into a :class:`~regretlab.offpolicy.LoggedBandit`:
one replicate, the items as actions, clicks as rewards, the slot as the context (one-hot, three
columns, so a reward model can learn each slot's click rate). Because the random logger ran on
the same traffic, its mean click rate estimates the uniform policy's value on the other log:
the one target whose truth this data set gives (``benchmarks/open_bandit.py``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from regretlab._lazy import lazy_module
from regretlab._validation import check_int
from regretlab.offpolicy.table import LoggedBandit, from_frame

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

__all__ = ["read_open_bandit"]

_COLUMNS = ("item_id", "position", "click", "propensity_score")
_POSITIONS = 3


def read_open_bandit(path: str | os.PathLike[str], *, n_actions: int | None = None) -> LoggedBandit:
    """One Open Bandit Dataset log (``<campaign>.csv``) as a one-replicate logged bandit.

    Actions are ``item_id``, rewards ``click``, propensities ``propensity_score``; the context
    is the slot one-hot (``context_0..2`` for positions 1-3); rows keep the file's order.
    ``n_actions`` defaults to the number of rows of the ``item_context.csv`` beside the file
    (the campaign's items, some of which a short log may never show), else the largest
    ``item_id`` + 1.

    >>> import tempfile
    >>> text = (",timestamp,item_id,position,click,propensity_score\\n"
    ...         "0,t,2,1,0,0.25\\n1,t,0,3,1,0.5\\n")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "all.csv")
    ...     _ = open(path, "w").write(text)
    ...     log = read_open_bandit(path, n_actions=4)
    >>> log.actions, log.rewards, log.propensity, log.context[0]
    (array([[2, 0]]), array([[0., 1.]]), array([[0.25, 0.5 ]]), array([[1., 0., 0.],
           [0., 0., 1.]]))
    """
    if not os.path.isfile(path):
        raise ValueError(f"path must be an Open Bandit Dataset CSV file, got {str(path)!r}")
    try:
        frame = pd.read_csv(path, index_col=0)
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"path {str(path)!r} is not a readable CSV file: {exc}") from exc
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"an Open Bandit Dataset log needs the columns {list(_COLUMNS)}; {str(path)!r} lacks "
            f"{missing} (got {list(frame.columns)[:8]})"
        )
    position = frame["position"].to_numpy()
    if not np.isin(position, np.arange(1, _POSITIONS + 1)).all():
        raise ValueError(f"position must be 1, 2 or 3, got {np.unique(position)[:5]}")
    clicks = frame["click"].to_numpy()
    if not np.isin(clicks, (0, 1)).all():
        raise ValueError(f"click must be 0 or 1, got {np.unique(clicks)[:5]}")
    if n_actions is None:
        items = os.path.join(os.path.dirname(os.fspath(path)), "item_context.csv")
        if os.path.isfile(items):
            n_actions = len(pd.read_csv(items, index_col=0))
    else:
        check_int("n_actions", n_actions, minimum=2)
    slots = np.eye(_POSITIONS)[position - 1]
    table = pd.DataFrame(
        {
            "action": frame["item_id"].to_numpy(),
            "propensity": frame["propensity_score"].to_numpy(dtype=float),
            "reward": clicks.astype(float),
            **{f"context_{i}": slots[:, i] for i in range(_POSITIONS)},
        }
    )
    return from_frame(table, n_actions=n_actions)
