"""Numbers and tables in the report's Markdown."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["_fmt", "_interval", "_markdown_table"]


def _fmt(value: float) -> str:
    return "" if pd.isna(value) else f"{value:#.4g}".rstrip(".")


def _interval(row: pd.Series) -> str:
    return f"{_fmt(row['mean'])} [{_fmt(row['lower'])}, {_fmt(row['upper'])}]"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
