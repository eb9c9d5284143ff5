"""The roles of regretlab as protocols: what a feature map, a learner and a stream promise.

Classes do not inherit from these; they conform, and ``regretlab.checks`` verifies it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["FeatureMap", "Learner", "PredictionStream"]


@runtime_checkable
class FeatureMap(Protocol):
    """Maps raw inputs ``(..., n_inputs)`` to a design ``(..., n_features)`` with named groups.

    >>> from regretlab.features import InteractionFeatures
    >>> isinstance(InteractionFeatures(x_dim=2), FeatureMap)
    True
    """

    @property
    def n_inputs(self) -> int: ...

    @property
    def n_features(self) -> int: ...

    @property
    def groups(self) -> tuple[str, ...]:
        """The feature group of every design column."""
        ...

    @property
    def names(self) -> tuple[str, ...]:
        """A readable name for every design column."""
        ...

    def transform(self, x: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class Learner(Protocol):
    """An online regression model over a design vector; ``R`` replicates on the leading axis.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> isinstance(BayesianLinearRegression(groups=("main",)), Learner)
    True
    """

    def learn_one(self, x: np.ndarray, y: np.ndarray | float) -> Learner: ...

    def predict_one(self, x: np.ndarray) -> np.ndarray | float: ...


@runtime_checkable
class PredictionStream(Protocol):
    """An environment that emits ``(x, y, mean)`` one step at a time and knows its truth.

    >>> from regretlab.environments import InteractionStream
    >>> isinstance(InteractionStream(x_dim=2, horizon=5, seed=0), PredictionStream)
    True
    """

    def __iter__(self): ...
