"""One design row per action: shared main effects and context x action interactions."""

from __future__ import annotations

import numpy as np

from regretlab._validation import as_float_array, check_int
from regretlab.features.groups import upper_pairs

__all__ = ["ActionFeatures"]


class ActionFeatures:
    """One design row per action: shared main effects plus context x action crosses.

    The hybrid linear model of Li et al. (2010), section 3.2: main effects (``intercept``,
    ``context``, optionally ``context:context``) carry the same weights for every action and move
    every action's reward together; the ``action`` one-hot and the ``context:action`` crosses
    personalise, so only they decide which action is best. Columns, in this order:

    ========================  =========  ===========================================
    group                     columns    value in the row of action ``a``
    ========================  =========  ===========================================
    ``intercept``             1          1
    ``context``               c          ``x0 .. x{c-1}`` (the same for every action)
    ``action``                K          one-hot of ``a``: ``a0 .. a{K-1}``
    ``context:action``        c K        ``x_i 1{b = a}``, action-major: ``x0:a0 .. x{c-1}:a0,
                                         x0:a1, ..``, so ``w[cols].reshape(K, c)[a]`` is
                                         action ``a``'s context slope
    ``context:context``       c(c-1)/2   ``x_i x_j``, i < j, in the order of scikit-learn's
                                         ``PolynomialFeatures(interaction_only=True)``
    ========================  =========  ===========================================

    Parameters
    ----------
    context_dim
        Number of context inputs ``c``.
    n_actions
        Number of actions ``K``.
    intercept
        Include the intercept column.
    context_pairwise
        Include the shared pairwise products of the context (group ``context:context``).

    Notes
    -----
    The design is over-parameterised on purpose, as one-hot codes with a grand mean are: the
    intercept equals the sum of the action one-hots and each context column the sum of its
    ``context:action`` crosses, so ``int(intercept) + context_dim`` directions of the weights
    never change ``transform(context) @ w``. Expected rewards, the best action and regret are
    unaffected; a prior (ridge, Bayes) picks one representative, and weight-by-weight checks
    against a truth must compare within that equivalence (for example after projecting onto
    the design's row space).

    References
    ----------
    Li, L., Chu, W., Langford, J. and Schapire, R. E. (2010). A contextual-bandit approach to
    personalized news article recommendation. WWW 2010.

    Examples
    --------
    >>> fm = ActionFeatures(context_dim=2, n_actions=2)
    >>> fm.names
    ('1', 'x0', 'x1', 'a0', 'a1', 'x0:a0', 'x1:a0', 'x0:a1', 'x1:a1')
    >>> fm.transform([2.0, 3.0])
    array([[1., 2., 3., 1., 0., 2., 3., 0., 0.],
           [1., 2., 3., 0., 1., 0., 0., 2., 3.]])
    >>> fm.transform([[2.0, 3.0], [0.0, 1.0], [1.0, 1.0]]).shape
    (3, 2, 9)
    >>> ActionFeatures(3, 2, intercept=False, context_pairwise=True).groups[-3:]
    ('context:context', 'context:context', 'context:context')
    """

    def __init__(
        self,
        context_dim: int,
        n_actions: int,
        *,
        intercept: bool = True,
        context_pairwise: bool = False,
    ) -> None:
        self.context_dim = context_dim
        self.n_actions = n_actions
        self.intercept = intercept
        self.context_pairwise = context_pairwise
        check_int("context_dim", context_dim, minimum=1)
        check_int("n_actions", n_actions, minimum=1)
        for name, flag in (("intercept", intercept), ("context_pairwise", context_pairwise)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        c, k = context_dim, n_actions
        none = np.zeros(0, dtype=np.intp)
        pairs = upper_pairs(c) if context_pairwise else (none, none)
        self._left: np.ndarray = pairs[0]
        self._right: np.ndarray = pairs[1]
        self._context = int(intercept)
        self._action = self._context + c
        self._cross = self._action + k
        self._pairwise = self._cross + c * k
        # Column of x_i:a in the row of action a: one fancy-index write fills every cross.
        self._cross_cols = self._cross + np.arange(k)[:, None] * c + np.arange(c)

    @property
    def n_inputs(self) -> int:
        return self.context_dim

    @property
    def context_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The context columns ``(i, j)``, ``i < j``, of the ``context:context`` products (none
        without ``context_pairwise``)."""
        return self._left, self._right

    @property
    def n_features(self) -> int:
        return self._pairwise + len(self._left)

    @property
    def groups(self) -> tuple[str, ...]:
        c, k = self.context_dim, self.n_actions
        return (
            ("intercept",) * self.intercept
            + ("context",) * c
            + ("action",) * k
            + ("context:action",) * (c * k)
            + ("context:context",) * len(self._left)
        )

    @property
    def names(self) -> tuple[str, ...]:
        c, k = self.context_dim, self.n_actions
        context = tuple(f"x{i}" for i in range(c))
        action = tuple(f"a{a}" for a in range(k))
        cross = tuple(f"x{i}:a{a}" for a in range(k) for i in range(c))
        pairs = tuple(f"x{i} x{j}" for i, j in zip(self._left, self._right, strict=True))
        return ("1",) * self.intercept + context + action + cross + pairs

    def transform(self, context: np.ndarray) -> np.ndarray:
        """Design rows ``(..., n_actions, n_features)`` for ``context`` of shape ``(..., c)``."""
        context = as_float_array("context", context, finite=False)
        if context.ndim == 0 or context.shape[-1] != self.context_dim:
            raise ValueError(
                f"context must have shape (..., {self.context_dim}), got {context.shape}"
            )
        return self._transform(context)

    def _transform(self, context: np.ndarray) -> np.ndarray:
        k = self.n_actions
        rows = np.arange(k)
        out = np.zeros((*context.shape[:-1], k, self.n_features))
        if self.intercept:
            out[..., 0] = 1.0
        shared = context[..., None, :]
        out[..., self._context : self._action] = shared
        out[..., rows, self._action + rows] = 1.0
        out[..., rows[:, None], self._cross_cols] = shared
        if len(self._left):
            out[..., self._pairwise :] = (context[..., self._left] * context[..., self._right])[
                ..., None, :
            ]
        return out

    def __repr__(self) -> str:
        return (
            f"ActionFeatures(context_dim={self.context_dim}, n_actions={self.n_actions}, "
            f"intercept={self.intercept}, context_pairwise={self.context_pairwise})"
        )
