"""Readable labels and short reprs for what the runners return (no object addresses, no dumps)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")


__all__ = ["label_column", "readable_name", "tables_repr"]


def readable_name(obj: Any) -> str:
    """``repr(obj)`` when its class writes one, else its class name (never ``<... at 0x...>``).

    >>> class Plain: ...
    >>> readable_name(Plain()), readable_name(3.5)
    ('Plain', '3.5')
    """
    if type(obj).__repr__ is object.__repr__:
        return type(obj).__name__
    return repr(obj)


def label_column(label: str, n: int) -> pd.Categorical:
    """``label`` on ``n`` rows, stored once: a categorical of one category (a string column
    holds the label on every row: 49 MB of the 84 MB of a regret table at R = 10,000).

    >>> column = label_column("env", 3)
    >>> column.tolist(), column.categories.tolist(), column.codes.dtype
    (['env', 'env', 'env'], ['env'], dtype('int8'))
    """
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[label])


def _table(table: pd.DataFrame | None) -> str:
    if table is None:
        return "None"
    rows = f"{len(table):,} row{'s' if len(table) != 1 else ''}"
    agents = list(dict.fromkeys(table["agent"])) if "agent" in table else []
    return f"<{rows}{f', agents {agents}' if agents else ''}>"


def tables_repr(name: str, tables: dict[str, pd.DataFrame | None]) -> str:
    """``Name(field=<n rows, agents [...]>, ...)``: what a result holds, on one line.

    >>> tables_repr("R", {"regret": pd.DataFrame({"agent": ["a", "b"]}), "events": None})
    "R(regret=<2 rows, agents ['a', 'b']>, events=None)"
    """
    return f"{name}(" + ", ".join(f"{k}={_table(v)}" for k, v in tables.items()) + ")"
