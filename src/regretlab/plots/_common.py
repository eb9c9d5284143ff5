"""Shared pieces of the figures: styles, axes, bands, column checks, atomic saving."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.ticker import LogFormatter

from regretlab._io import write_atomically

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["save_figure"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_STYLES = ("-", "--", "-.", ":")


class _PlainLogFormatter(LogFormatter):
    """``LogFormatter``'s choice of ticks to label, written as plain numbers (``0.02``, ``30``)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(7, 4.5), layout="constrained")
    return new


def _require_columns(table: pd.DataFrame, columns: set[str], name: str = "table") -> None:
    missing = columns - set(table.columns)
    if missing:
        raise ValueError(f"{name} must have columns {sorted(columns)}; missing {sorted(missing)}")
    if table.empty:
        raise ValueError(f"{name} must have at least one row")


def _band(ax: Axes, stats: pd.DataFrame, x: str, label: str, i: int) -> None:
    """A mean line with its interval band, styled by position ``i``."""
    stats = stats.sort_values(x)
    (line,) = ax.plot(
        stats[x], stats["mean"], linestyle=_STYLES[i % len(_STYLES)], linewidth=1.6, label=label
    )
    if (stats["upper"] > stats["lower"]).any():
        ax.fill_between(
            stats[x],
            stats["lower"],
            stats["upper"],
            color=line.get_color(),
            alpha=0.18,
            linewidth=0,
        )


#: The regret columns of the runners' tables, in the order a figure picks them by default, and
#: what each sums (for the axis label).
METRIC_TEXT = {
    "expected_regret": "expected regret (squared error of the prediction against the true mean)",
    "pseudo_regret": "pseudo-regret (best expected reward minus the chosen action's)",
    "excess_loss": "excess loss (squared error against y, minus the true mean's)",
    "realised_regret": "realised regret (best expected reward minus the reward received)",
}


def _metric(table: pd.DataFrame, value: str | None) -> str:
    """``value``, or the first regret column of :data:`METRIC_TEXT` that ``table`` has."""
    if value is not None:
        return value
    for name in METRIC_TEXT:
        if name in table.columns:
            return name
    raise ValueError(
        f"table has none of the regret columns {list(METRIC_TEXT)}; pass value= to choose one "
        f"of its columns {list(table.columns)}"
    )


def _run_title(table: pd.DataFrame) -> str:
    """``environment: horizon T, R replicates`` from a runner's table (what a reader needs)."""
    envs = list(dict.fromkeys(table["environment"])) if "environment" in table else []
    where = ", ".join(map(str, envs)) + ": " if envs else ""
    n = table["replicate"].nunique() if "replicate" in table else 1
    return f"{where}horizon {int(table['step'].max()):,}, {n} replicate{'s' if n != 1 else ''}"


def _log_if_wide(ax: Axes, finals: pd.Series, span: float = 100.0) -> None:
    """Log y when the positive final values span more than ``span``x (symmetric log if some
    final values are <= 0, such as an oracle's 0)."""
    positive = finals[finals > 0]
    if len(positive) < 2 or positive.max() <= span * positive.min():
        return
    if len(positive) == len(finals):
        ax.set_yscale("log")
    else:
        ax.set_yscale("symlog", linthresh=positive.min())


def save_figure(fig: Figure, path: str | os.PathLike[str], **savefig_kwargs: Any) -> Path:
    """Save ``fig`` to ``path`` atomically: a temporary file beside it, then ``os.replace``.

    The format is ``format`` if given, else the suffix of ``path`` (PNG if it has none); other
    keywords go to ``Figure.savefig``. An error leaves any existing
    file at ``path`` untouched and no temporary file behind.

    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_figure(Figure(), Path(tmp) / "empty.png").name
    'empty.png'
    """
    target = Path(path)
    fmt = savefig_kwargs.pop("format", None) or target.suffix.lstrip(".").lower() or "png"
    write_atomically([(target, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kwargs))])
    return target
