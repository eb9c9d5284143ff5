"""One-hot codes of multilevel data: one group per level, cross-level groups on request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from regretlab._validation import check_int

__all__ = ["LevelFeatures"]


class LevelFeatures:
    """One-hot columns for the contributor chosen at every level (the seed's ``OneHotEncoder``).

    An input is one contributor index per level, ``(..., L)`` integers (or integer-valued
    floats); level ``l`` with ``m_l`` contributors becomes ``m_l`` indicator columns in group
    ``level:<name>``. A cross-level pair ``(a, b)`` adds the ``m_a m_b`` indicators of the
    combination in group ``level:<a>x<b>``, ``a``-major. Columns, in this order:

    ===================  ===============  =========================================
    group                columns          names
    ===================  ===============  =========================================
    ``intercept``        1 (optional)     ``1``
    ``level:<l>``        ``m_l``          ``x<l>_<k>`` (``<l>_<k>`` for named levels)
    ``level:<a>x<b>``    ``m_a m_b``      ``x<a>_<i>:x<b>_<j>``
    ===================  ===============  =========================================

    The level columns and their names are those of scikit-learn's ``OneHotEncoder`` fitted on
    data in which every contributor occurs (``get_feature_names_out``): the seed's table can be
    compared column by column.

    Parameters
    ----------
    levels
        Contributors per level: a sequence of counts (levels named ``0, 1, ..``, columns
        ``x0_0, ..``, as sklearn names the columns of an array) or a mapping ``{name: count}``
        (columns ``<name>_<k>``, as sklearn names the columns of a data frame).
    intercept
        Prepend a column of ones (group ``intercept``).
    cross
        Pairs of levels ``(a, b)`` whose combinations get their own columns; a level is named
        by its position or its name.

    Notes
    -----
    Every level's indicators sum to one, so the design is collinear whenever it has two levels,
    or one level and the intercept: a constant can move from any level to any other without
    changing ``transform(x) @ w``, and each cross group spans its two levels' main effects too.
    A prior on every group (as :class:`~regretlab.learners.BayesianLinearRegression` has) makes
    the posterior unique; compare weights with a truth only through identified quantities, such
    as the sum-to-zero contributions of :func:`regretlab.multilevel.aligned_contributions`.

    Examples
    --------
    >>> fm = LevelFeatures([1, 3], cross=[(0, 1)])
    >>> fm.names
    ('x0_0', 'x1_0', 'x1_1', 'x1_2', 'x0_0:x1_0', 'x0_0:x1_1', 'x0_0:x1_2')
    >>> fm.groups[:4]
    ('level:0', 'level:1', 'level:1', 'level:1')
    >>> fm.transform([0, 2])
    array([1., 0., 0., 1., 0., 0., 1.])
    >>> LevelFeatures({"school": 2, "class": 2}, intercept=True).names
    ('1', 'school_0', 'school_1', 'class_0', 'class_1')
    >>> LevelFeatures([2, 3]).transform([[0, 1], [1, 2]]).shape
    (2, 5)
    """

    def __init__(
        self,
        levels: Sequence[int] | Mapping[str, int],
        *,
        intercept: bool = False,
        cross: Sequence[tuple[Any, Any]] | None = None,
    ) -> None:
        self.levels = levels
        self.intercept = intercept
        self.cross = cross
        if not isinstance(intercept, bool):
            raise TypeError(f"intercept must be a bool, got {intercept!r}")
        names, prefixes, counts = _parse_levels(levels)
        self._level_names, self._counts = names, counts
        self._prefixes = prefixes
        self._pairs = _parse_cross(cross, names)
        start = int(intercept)
        self._offsets = start + np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
        self._cross_offsets = []
        col = start + sum(counts)
        for a, b in self._pairs:
            self._cross_offsets.append(col)
            col += counts[a] * counts[b]
        self._n_features = col

    @property
    def n_inputs(self) -> int:
        return len(self._counts)

    @property
    def n_features(self) -> int:
        return self._n_features

    @property
    def counts(self) -> tuple[int, ...]:
        """Contributors per level."""
        return self._counts

    @property
    def level_names(self) -> tuple[str, ...]:
        """Level names as they appear in group names (``"0"``, ``"1"``, .. for counts)."""
        return self._level_names

    @property
    def level_groups(self) -> tuple[str, ...]:
        """The main-effect group of every level, ``level:<name>``."""
        return tuple(f"level:{n}" for n in self._level_names)

    @property
    def cross_pairs(self) -> tuple[tuple[int, int], ...]:
        """Cross-level pairs as level positions."""
        return self._pairs

    @property
    def cross_groups(self) -> tuple[str, ...]:
        """The group of every cross-level pair, ``level:<a>x<b>``."""
        n = self._level_names
        return tuple(f"level:{n[a]}x{n[b]}" for a, b in self._pairs)

    @property
    def groups(self) -> tuple[str, ...]:
        out: tuple[str, ...] = ("intercept",) * self.intercept
        for group, m in zip(self.level_groups, self._counts, strict=True):
            out += (group,) * m
        for group, (a, b) in zip(self.cross_groups, self._pairs, strict=True):
            out += (group,) * (self._counts[a] * self._counts[b])
        return out

    @property
    def names(self) -> tuple[str, ...]:
        main = [
            f"{p}_{k}" for p, m in zip(self._prefixes, self._counts, strict=True) for k in range(m)
        ]
        cross = [
            f"{self._prefixes[a]}_{i}:{self._prefixes[b]}_{j}"
            for a, b in self._pairs
            for i in range(self._counts[a])
            for j in range(self._counts[b])
        ]
        return ("1",) * self.intercept + tuple(main) + tuple(cross)

    def transform(self, indices: Any) -> np.ndarray:
        """Design rows ``(..., n_features)`` for contributor indices ``(..., L)``."""
        return self._transform(self._check_indices(indices))

    def active_columns(self, indices: Any) -> np.ndarray:
        """The columns that are 1 in each row, ``(..., s)`` (intercept, levels, crosses).

        The sparse form of :meth:`transform`: every row has exactly
        ``s = intercept + L + len(cross)`` ones.

        >>> LevelFeatures([2, 3], intercept=True, cross=[(0, 1)]).active_columns([1, 2])
        array([ 0,  2,  5, 11])
        """
        return self._active(self._check_indices(indices))

    def _check_indices(self, indices: Any) -> np.ndarray:
        array = np.asarray(indices)
        if array.dtype.kind not in "iuf" or array.ndim == 0 or array.shape[-1] != self.n_inputs:
            raise ValueError(
                f"indices must be integer contributor indices of shape (..., {self.n_inputs}), "
                f"got {_describe(array)}"
            )
        if array.dtype.kind == "f":
            whole = np.isfinite(array) & (array == np.round(array))
            if not whole.all():
                bad = array[~whole].flat[0]
                raise ValueError(
                    f"indices must be whole numbers (finite, integer-valued), got {bad}"
                )
            array = array.astype(np.int64)
        counts = np.asarray(self._counts)
        bad = (array < 0) | (array >= counts)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            level = where[-1]
            raise ValueError(
                f"indices[..., {level}] (level {self._level_names[level]!r}) must be in "
                f"[0, {self._counts[level]}), got {array[where]} at index {where}"
            )
        return array

    def _active(self, index: np.ndarray) -> np.ndarray:
        cols = [np.zeros((*index.shape[:-1], 1), dtype=np.int64)] if self.intercept else []
        cols.append(index + self._offsets)
        for (a, b), start in zip(self._pairs, self._cross_offsets, strict=True):
            cols.append((start + index[..., a] * self._counts[b] + index[..., b])[..., None])
        return np.concatenate(cols, axis=-1)

    def _transform(self, index: np.ndarray) -> np.ndarray:
        out = np.zeros((*index.shape[:-1], self._n_features))
        np.put_along_axis(out, self._active(index), 1.0, axis=-1)
        return out

    def __repr__(self) -> str:
        return f"LevelFeatures({self.levels!r}, intercept={self.intercept}, cross={self.cross!r})"


def _describe(array: np.ndarray) -> str:
    return f"an array of shape {array.shape} and dtype {array.dtype}"


def _parse_levels(levels: Any) -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]:
    """Level names, column-name prefixes and counts; errors name ``levels``."""
    if isinstance(levels, Mapping):
        items = list(levels.items())
        for name, _ in items:
            if not isinstance(name, str) or not name:
                raise TypeError(f"levels keys must be non-empty strings, got {name!r}")
        names = tuple(name for name, _ in items)
        prefixes = names
    elif isinstance(levels, Sequence) and not isinstance(levels, str):
        items = [(str(i), m) for i, m in enumerate(levels)]
        names = tuple(name for name, _ in items)
        prefixes = tuple(f"x{name}" for name in names)
    else:
        raise TypeError(
            f"levels must be a sequence of counts or a mapping {{name: count}}, got {levels!r}"
        )
    if not items:
        raise ValueError("levels must name at least one level, got none")
    counts = tuple(check_int(f"levels[{name!r}]", m, minimum=1) for name, m in items)
    return names, prefixes, counts


def _parse_cross(cross: Any, names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Cross-level pairs as positions; a level is given by position or name."""
    if cross is None:
        return ()
    if isinstance(cross, str) or not isinstance(cross, Sequence):
        raise TypeError(f"cross must be a sequence of level pairs, got {cross!r}")

    def position(level: Any) -> int:
        if isinstance(level, str) and level in names:
            return names.index(level)
        is_int = isinstance(level, int | np.integer) and not isinstance(level, bool)
        if is_int and 0 <= level < len(names):
            return int(level)
        raise ValueError(f"cross names unknown level {level!r}; the levels are {list(names)}")

    pairs: list[tuple[int, int]] = []
    for pair in cross:
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"cross entries must be pairs of levels (a, b), got {pair!r}")
        a, b = position(pair[0]), position(pair[1])
        if a == b:
            raise ValueError(f"cross pair {tuple(pair)!r} must name two different levels")
        if (a, b) in pairs or (b, a) in pairs:
            raise ValueError(f"cross pair {tuple(pair)!r} is given twice")
        pairs.append((a, b))
    return tuple(pairs)
