"""Cross-fitted reward models for the direct method and doubly robust estimators.

A reward model predicts ``q(x, a)``, every action's expected reward at every logged context,
from the logged design rows of the chosen actions. Cross-fitting (Chernozhukov et al. 2018):
the rows are dealt into ``folds`` interleaved folds (row ``i`` in fold ``i mod folds``, so a
learning logger's early and late rows mix), and each fold is predicted by a model fitted on the
others, so no row's prediction has seen its own reward.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from regretlab._validation import check_int, check_real
from regretlab.features import ActionFeatures
from regretlab.offpolicy.table import LoggedBandit

__all__ = ["RidgeRewardModel", "design_rows"]


def design_rows(log: LoggedBandit, features: Any = None) -> np.ndarray:
    """The ``(R, n, K, p)`` design rows of every logged context; ``features`` defaults to
    ``ActionFeatures(context_dim, K)`` (the design of the package's linear bandits).

    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> log = from_frame(pd.DataFrame({"action": [0, 1], "reward": 1.0, "context_0": [0.5, 1]}))
    >>> design_rows(log).shape
    (1, 2, 2, 6)
    """
    context = log.need("context", "a reward model")
    k = log.n_actions
    fmap = ActionFeatures(context.shape[-1], k) if features is None else features
    rows = np.asarray(fmap.transform(context))
    if rows.ndim == context.ndim:  # a map without an action axis serves every action alike
        rows = np.broadcast_to(rows[..., None, :], (*rows.shape[:-1], k, rows.shape[-1]))
    return rows


class RidgeRewardModel:
    """Ridge regression of the reward on the chosen action's design row, cross-fitted.

    ``w = (X'X + alpha I)^{-1} X'y`` on the other folds' rows, per replicate: the posterior
    mean of :class:`~regretlab.learners.BayesianLinearRegression` with prior variance
    ``1 / alpha`` and unit noise precision (Bishop 2006, eq. 3.55), solved in one batch.

    Parameters
    ----------
    alpha
        Ridge penalty (> 0) on every column.
    folds
        Number of cross-fitting folds (>= 2).
    features
        The design map (context -> ``(K, p)``); ``None`` uses ``ActionFeatures(c, K)``.
    groups
        Keep only these feature groups of the design (``("intercept", "context", "action")``:
        main effects only, a misspecified model on an interaction stream); ``None`` keeps all.

    Examples
    --------
    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-1, 1, 200)
    >>> a = rng.integers(0, 2, 200)
    >>> log = from_frame(pd.DataFrame({"action": a, "propensity": 0.5, "context_0": x,
    ...                                "reward": np.where(a == 1, x, -x)}))
    >>> q = RidgeRewardModel(alpha=1e-6).cross_fit(log)
    >>> q.shape, bool(np.allclose(q[0, :, 1], x, atol=1e-4))
    ((1, 200, 2), True)
    """

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        folds: int = 5,
        features: Any = None,
        groups: Sequence[str] | None = None,
    ) -> None:
        self.alpha = alpha
        self.folds = folds
        self.features = features
        self.groups = groups
        check_real("alpha", alpha, minimum=0.0)
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        check_int("folds", folds, minimum=2)
        if groups is not None and (isinstance(groups, str) or not groups):
            raise ValueError(f"groups must be a non-empty list of group names, got {groups!r}")

    def _columns(self, fmap_groups: Sequence[str]) -> np.ndarray:
        if self.groups is None:
            return np.arange(len(fmap_groups))
        unknown = sorted(set(self.groups) - set(fmap_groups))
        if unknown:
            raise ValueError(
                f"groups {unknown} are not in the design; its groups: {sorted(set(fmap_groups))}"
            )
        return np.flatnonzero(np.isin(np.asarray(fmap_groups), list(self.groups)))

    def cross_fit(self, log: LoggedBandit) -> np.ndarray:
        """``q(x_i, a)`` ``(R, n, K)``, each fold predicted by the model fitted on the others."""
        context = log.need("context", "a reward model")
        fmap = (
            ActionFeatures(context.shape[-1], log.n_actions)
            if self.features is None
            else self.features
        )
        columns = self._columns(fmap.groups)
        r, n = log.actions.shape
        if n < self.folds:
            raise ValueError(f"folds={self.folds} needs at least as many rows, got {n}")
        q = np.empty((r, n, log.n_actions))
        # Replicates in groups of about 2**22 design entries: the (R, n, K, p) rows of a long
        # log would not fit in memory at once.
        width = len(columns) * n * log.n_actions
        step = max(1, 2**22 // max(1, width))
        for lo in range(0, r, step):
            part = slice(lo, min(r, lo + step))
            # The rows of the replicates in hand (the mask plays no part in a reward model).
            sub = log._replace(context=context[part], actions=log.actions[part], available=None)
            rows = design_rows(sub, fmap)[..., columns]
            q[part] = self._fit_predict(rows, log.actions[part], log.rewards[part])
        return q

    def _fit_predict(self, rows: np.ndarray, actions: np.ndarray, y: np.ndarray) -> np.ndarray:
        r, n, k, p = rows.shape
        chosen = np.take_along_axis(rows, actions[..., None, None], axis=2)[:, :, 0]
        fold = np.arange(n) % self.folds
        q = np.empty((r, n, k))
        total_xx = chosen.transpose(0, 2, 1) @ chosen
        total_xy = (chosen.transpose(0, 2, 1) @ y[..., None])[..., 0]
        eye = self.alpha * np.eye(p)
        for f in range(self.folds):
            held = fold == f
            xh = chosen[:, held]
            xx = total_xx - xh.transpose(0, 2, 1) @ xh + eye
            xy = total_xy - (xh.transpose(0, 2, 1) @ y[:, held, None])[..., 0]
            w = np.linalg.solve(xx, xy[..., None])
            q[:, held] = (rows[:, held] @ w[:, None])[..., 0]
        return q

    def __repr__(self) -> str:
        return (
            f"RidgeRewardModel(alpha={self.alpha}, folds={self.folds}, "
            f"features={self.features!r}, groups={self.groups!r})"
        )
