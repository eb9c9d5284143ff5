"""Main effects and pairwise interactions (the seed study's design)."""

from __future__ import annotations

import numpy as np

from regretlab._validation import as_float_array, check_int

__all__ = ["InteractionFeatures"]


# Designs of at least this many rows are made column by column, in chunks of rows.
_BY_COLUMNS = 256
_CHUNK_ROWS = 2048


class InteractionFeatures:
    """Main effects and all pairwise products, optionally after an intercept column.

    The main and pairwise columns are in the order of scikit-learn's
    ``PolynomialFeatures(degree=2, interaction_only=True, include_bias=False)``: ``x0 .. x{d-1}``
    then ``x0 x1, x0 x2, .., x{d-2} x{d-1}``. The intercept, when present, comes first.

    Parameters
    ----------
    x_dim
        Number of raw inputs (main effects), as in the seed study.
    intercept
        Prepend a column of ones in group ``intercept``.
    pairwise
        Include the pairwise products (group ``pairwise``); without them the map is the plain
        linear design ``[1, x]``.

    Examples
    --------
    >>> fm = InteractionFeatures(x_dim=3)
    >>> fm.names
    ('1', 'x0', 'x1', 'x2', 'x0 x1', 'x0 x2', 'x1 x2')
    >>> fm.groups
    ('intercept', 'main', 'main', 'main', 'pairwise', 'pairwise', 'pairwise')
    >>> fm.transform([1.0, 2.0, 3.0])
    array([1., 1., 2., 3., 2., 3., 6.])
    >>> fm.transform([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]]).shape
    (2, 7)
    >>> InteractionFeatures(x_dim=3, pairwise=False).names
    ('1', 'x0', 'x1', 'x2')
    """

    def __init__(self, x_dim: int, *, intercept: bool = True, pairwise: bool = True) -> None:
        self.x_dim = x_dim
        self.intercept = intercept
        self.pairwise = pairwise
        check_int("x_dim", x_dim, minimum=1)
        for name, flag in (("intercept", intercept), ("pairwise", pairwise)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        self._left: np.ndarray
        self._right: np.ndarray
        self._left, self._right = (
            np.triu_indices(x_dim, k=1)
            if pairwise
            else (np.zeros(0, dtype=int), np.zeros(0, dtype=int))
        )

    @property
    def n_inputs(self) -> int:
        return self.x_dim

    @property
    def n_features(self) -> int:
        return int(self.intercept) + self.x_dim + len(self._left)

    @property
    def groups(self) -> tuple[str, ...]:
        return (
            ("intercept",) * self.intercept
            + ("main",) * self.x_dim
            + ("pairwise",) * len(self._left)
        )

    @property
    def names(self) -> tuple[str, ...]:
        main = tuple(f"x{i}" for i in range(self.x_dim))
        pairs = tuple(f"x{i} x{j}" for i, j in zip(self._left, self._right, strict=True))
        return ("1",) * self.intercept + main + pairs

    def transform(self, x: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
        """Design rows for ``x`` of shape ``(..., x_dim)``, written into ``out`` if given.

        Reusing ``out`` across blocks avoids touching fresh memory for every block, which
        dominates the cost of large designs.
        """
        x = as_float_array("x", x, finite=False)
        if x.ndim == 0 or x.shape[-1] != self.x_dim:
            raise ValueError(f"x must have shape (..., {self.x_dim}), got {x.shape}")
        shape = (*x.shape[:-1], self.n_features)
        if out is not None and (out.shape != shape or out.dtype != np.float64):
            raise ValueError(f"out must be a float64 array of shape {shape}, got {out.shape}")
        return self._transform(x, np.empty(shape) if out is None else out)

    def _transform(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        if x.ndim > 1 and out.flags.c_contiguous and out.size >= _BY_COLUMNS * out.shape[-1]:
            return self._transform_by_columns(x, out)
        start = int(self.intercept)
        if self.intercept:
            out[..., 0] = 1.0
        out[..., start : start + self.x_dim] = x
        # Row i of the pairs is x_i times x_{i+1..}: one broadcast product per input, which is
        # 2.7x faster than gathering both factors with index arrays.
        col = start + self.x_dim
        if self.pairwise:
            for i in range(self.x_dim - 1):
                width = self.x_dim - 1 - i
                np.multiply(x[..., i : i + 1], x[..., i + 1 :], out=out[..., col : col + width])
                col += width
        return out

    def _transform_by_columns(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """:meth:`_transform` for many rows: chunks of rows whose design fits in cache, each
        column one long product of two contiguous input columns (the same products; 2.2-2.4x
        faster at d = 22 and 56 than products of a few columns per row)."""
        d, p = self.x_dim, out.shape[-1]
        rows, flat = x.reshape(-1, d), out.reshape(-1, p)
        start = int(self.intercept)
        for first in range(0, len(rows), _CHUNK_ROWS):
            part = slice(first, first + _CHUNK_ROWS)
            chunk = flat[part]
            if self.intercept:
                chunk[:, 0] = 1.0
            chunk[:, start : start + d] = rows[part]
            if len(self._left):
                columns = np.ascontiguousarray(rows[part].T)
                for col, (i, j) in enumerate(zip(self._left, self._right, strict=True)):
                    np.multiply(columns[i], columns[j], out=chunk[:, start + d + col])
        return out

    def __repr__(self) -> str:
        return (
            f"InteractionFeatures(x_dim={self.x_dim}, intercept={self.intercept}, "
            f"pairwise={self.pairwise})"
        )
