"""Classification data sets as contextual bandits (the bake-off construction)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from regretlab._random import SeedLike, replicate_seeds
from regretlab._validation import as_float_array, check_choice, check_int
from regretlab.environments._steps import steps
from regretlab.environments.bandits import BanditStep, _block_size, _check_range
from regretlab.features import ActionFeatures

__all__ = ["SupervisedBandit"]

ENCODINGS = ("0/1", "-1/0")

# river's classification sets whose file ships inside the package (``FileDataset``, never a
# ``RemoteDataset``): checked against river 0.26's ``river/datasets`` source. Elec2, Higgs,
# CreditCard, Insects, Keystroke, ... are downloaded on first use and so are left out.
RIVER_DATASETS = ("Bananas", "ImageSegments", "Phishing", "Shuttle")
SKLEARN_DATASETS = ("breast_cancer", "digits", "iris", "wine")


def _lookup(name: Any, available: tuple[str, ...], loader: str) -> str:
    """The entry of ``available`` that ``name`` spells, ignoring case."""
    by_lower = {a.lower(): a for a in available}
    if not isinstance(name, str) or name.lower() not in by_lower:
        raise ValueError(f"{loader}: name must be one of {list(available)}, got {name!r}")
    return by_lower[name.lower()]


class SupervisedBandit:
    """A labelled data set played as a bandit: actions are classes, the true class pays.

    Each row is a context; choosing the row's class earns 1 and any other class 0 (``"0/1"``),
    or 0 and -1 (``"-1/0"``). Rewards are deterministic, so ``rewards == means``, and the
    "truth" is the label itself, not a linear model: there are no ``true_weights``. Each
    replicate plays its own permutation of the rows, drawn with its own seed; a horizon longer
    than the data set continues with a fresh permutation per pass (Bietti et al., 2021).

    Parameters
    ----------
    x
        Contexts ``(n_rows, context_dim)``.
    labels
        Classes ``(n_rows,)``, any sortable values; mapped to actions ``0 .. K - 1`` in sorted
        order (see ``classes``).
    encoding
        ``"0/1"``: 1 for the true class, else 0. ``"-1/0"``: 0 for the true class, else -1.
    horizon
        Number of steps; ``None`` plays every row once. The attribute holds the resolved number.
    n_replicates
        ``None`` for one stream, else ``R`` replicates with their own permutations.
    seed
        Seed of the permutations.
    standardize
        Centre and scale each context column by the data set's mean and standard deviation
        (``ddof=0``); a constant column becomes 0.
    block_size
        Steps per block in :meth:`blocks`; ``None`` picks about 4 MB per block.
    name
        A label for ``repr`` (the loaders set the data set's name).

    Attributes
    ----------
    classes
        The label of every action, sorted.
    n_rows
        Rows in the data set.

    References
    ----------
    Bietti, A., Agarwal, A. and Langford, J. (2021). A contextual bandit bake-off. Journal of
    Machine Learning Research 22(133), 1-49.

    Examples
    --------
    >>> x = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
    >>> env = SupervisedBandit(x, ["b", "a", "c", "a"], seed=0)
    >>> env.classes, env.n_actions, env.horizon
    (array(['a', 'b', 'c'], dtype='<U1'), 3, 4)
    >>> block = env.take(4)
    >>> block.rewards.sum(axis=1)
    array([1., 1., 1., 1.])
    >>> bool((block.rewards == block.means).all())
    True
    >>> signed = SupervisedBandit(x, [0, 1, 1, 0], encoding="-1/0", n_replicates=2, seed=1)
    >>> signed.take(4).rewards.shape, signed.take(4).rewards.min()
    ((2, 4, 2), np.float64(-1.0))
    """

    def __init__(
        self,
        x: Any,
        labels: Any,
        *,
        encoding: str = "0/1",
        horizon: int | None = None,
        n_replicates: int | None = None,
        seed: SeedLike = None,
        standardize: bool = True,
        block_size: int | None = None,
        name: str | None = None,
    ) -> None:
        self.x = x
        self.labels = labels
        self.encoding = encoding
        self.n_replicates = n_replicates
        self.seed = seed
        self.standardize = standardize
        self.block_size = block_size
        self.name = name
        contexts = as_float_array("x", x, ndim=(2,))
        n, c = contexts.shape
        if n < 1 or c < 1:
            raise ValueError(f"x must have at least one row and one column, got shape {(n, c)}")
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},) to match x, got {labels.shape}")
        if labels.dtype.kind in "fc" and np.isnan(labels).any():
            index = int(np.flatnonzero(np.isnan(labels))[0])
            raise ValueError(f"labels must not contain NaN, got NaN at index {index}")
        if labels.dtype.kind == "O" and any(v is None for v in labels):
            raise ValueError("labels must not contain None")
        check_choice("encoding", encoding, ENCODINGS)
        self.horizon = n if horizon is None else check_int("horizon", horizon, minimum=1)
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
        if not isinstance(standardize, bool):
            raise TypeError(f"standardize must be a bool, got {standardize!r}")
        if block_size is not None:
            check_int("block_size", block_size, minimum=1)
        self.classes, codes = np.unique(labels, return_inverse=True)
        if len(self.classes) < 2:
            raise ValueError(
                f"labels must hold at least 2 classes, got {len(self.classes)}: {self.classes}"
            )
        self.n_rows = n
        self.context_dim = c
        self.n_actions = len(self.classes)
        if standardize:
            sd = contexts.std(axis=0)
            contexts = (contexts - contexts.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        self._contexts = contexts
        low = -1.0 if encoding == "-1/0" else 0.0
        # Row ``codes[i]`` of this table is the reward vector of data row ``i``.
        self._payoffs = low + np.eye(self.n_actions)
        self._codes = codes.reshape(-1)
        self._seeds = replicate_seeds(seed, n_replicates)
        self._features = ActionFeatures(c, self.n_actions)

    @property
    def features(self) -> ActionFeatures:
        """A per-class linear design: ``ActionFeatures(context_dim, n_actions)``."""
        return self._features

    def _rows(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        """Data rows of steps ``start .. stop - 1``, ``(R, m)``, a pass (or part of one) at a time.

        Every replicate draws one permutation per pass from its own generator, so the rows of a
        step do not depend on how the run is cut into blocks.
        """
        gens = [np.random.default_rng(s) for s in self._seeds]
        n = self.n_rows
        for first in range(0, stop, n):
            perms = np.stack([g.permutation(n) for g in gens])
            lo, hi = max(start, first), min(stop, first + n)
            if lo < hi:
                yield lo, perms[:, lo - first : hi - first]

    def _step_block(self, rows: np.ndarray) -> BanditStep:
        context = self._contexts[rows]
        rewards = self._payoffs[self._codes[rows]]
        if self.n_replicates is None:
            context, rewards = context[0], rewards[0]
        # Deterministic rewards: the mean is the reward (a copy, so neither aliases the other).
        return BanditStep(context, rewards, rewards.copy())

    def blocks(self, block_size: int | None = None) -> Iterator[BanditStep]:
        """Consecutive blocks of up to ``block_size`` steps, from the start."""
        size = _block_size(
            self.block_size if block_size is None else block_size,
            self.horizon,
            (self.n_replicates or 1) * (self.context_dim + 2 * self.n_actions),
        )
        pending: list[np.ndarray] = []
        held = 0
        for _, rows in self._rows(0, self.horizon):
            while rows.shape[1]:
                piece, rows = rows[:, : size - held], rows[:, size - held :]
                pending.append(piece)
                held += piece.shape[1]
                if held == size:
                    yield self._step_block(np.concatenate(pending, axis=1))
                    pending, held = [], 0
        if held:
            yield self._step_block(np.concatenate(pending, axis=1))

    def take(self, stop: int, start: int = 0) -> BanditStep:
        """Steps ``start .. stop - 1`` as one block ``(..., stop - start, ...)``."""
        _check_range(start, stop, self.horizon)
        parts = [rows for _, rows in self._rows(start, stop)]
        width = len(self._seeds)
        rows = np.concatenate(parts, axis=1) if parts else np.zeros((width, 0), dtype=np.intp)
        return self._step_block(rows)

    def __iter__(self) -> Iterator[BanditStep]:
        """One step at a time, ``horizon`` steps."""
        return steps(self.blocks(), self.n_replicates is None)

    @classmethod
    def from_river(cls, name: str, **kwargs: Any) -> SupervisedBandit:
        """A classification set bundled with river (no download): one of ``RIVER_DATASETS``.

        ``kwargs`` go to the constructor. Features keep the order of the file's columns.

        Examples
        --------
        >>> env = SupervisedBandit.from_river("ImageSegments", seed=0)
        >>> env.n_actions, env.context_dim, env.horizon
        (7, 18, 2310)
        """
        dataset_name = _lookup(name, RIVER_DATASETS, "from_river")
        from river import datasets

        rows = list(getattr(datasets, dataset_name)())
        columns = list(rows[0][0])
        x = np.array([[row[k] for k in columns] for row, _ in rows], dtype=float)
        labels = np.array([label for _, label in rows])
        kwargs.setdefault("name", dataset_name)
        return cls(x, labels, **kwargs)

    @classmethod
    def from_sklearn(cls, name: str, **kwargs: Any) -> SupervisedBandit:
        """A data set bundled with scikit-learn (no download): one of ``SKLEARN_DATASETS``.

        scikit-learn is imported only here. ``kwargs`` go to the constructor.

        Examples
        --------
        >>> SupervisedBandit.from_sklearn("iris", seed=0).n_actions
        3
        """
        dataset_name = _lookup(name, SKLEARN_DATASETS, "from_sklearn")
        try:
            sk_datasets = importlib.import_module("sklearn.datasets")
        except ImportError as exc:
            raise ImportError(
                "SupervisedBandit.from_sklearn needs scikit-learn: pip install scikit-learn"
            ) from exc
        bunch = getattr(sk_datasets, f"load_{dataset_name}")()
        kwargs.setdefault("name", dataset_name)
        return cls(bunch.data, bunch.target, **kwargs)

    def __repr__(self) -> str:
        return (
            f"SupervisedBandit(name={self.name!r}, n_rows={self.n_rows}, "
            f"context_dim={self.context_dim}, n_actions={self.n_actions}, "
            f"encoding={self.encoding!r}, horizon={self.horizon}, "
            f"n_replicates={self.n_replicates}, standardize={self.standardize})"
        )
