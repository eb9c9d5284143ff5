"""Stochastic gradient descent on the squared loss with one L2 penalty per feature group.

Pure functions over an :class:`SGDState` with leading batch axes;
:class:`~regretlab.learners.SGDLinearRegression` is the thin shell with the package's learner
interface.

Notation follows Bottou (2010) and the scikit-learn User Guide's SGD section. At step ``t``
(1-based) an observation ``(x, y)`` with ``p`` design columns adds the loss

    Q_t(w) = 0.5 (y - x'w)^2 + 0.5 sum_g lambda_g ||w_g||^2

where ``lambda_g`` is ``l2[g]``; ``lambda`` equals scikit-learn's ``alpha`` (``penalty="l2"``).
Writing ``r = x'w - y`` (the derivative of the loss in the prediction), one step is

    w_j <- max(0, 1 - eta_tj lambda_j) w_j - eta_tj r x_j,

which is the gradient step ``w - eta_t grad Q_t(w)`` whenever ``eta_tj lambda_j <= 1``. A larger
product would flip the weight's sign through the penalty alone; like scikit-learn's
``SGDRegressor`` the shrink factor is clipped at 0 instead. The step sizes ``eta_tj`` are

- ``"constant"``: ``eta_j``;
- ``"invscaling"``: ``eta_j / t^power_t`` (scikit-learn's default schedule);
- ``"adagrad"``: ``eta_j / sqrt(epsilon + G_tj)`` with ``G_tj`` the running sum of squared
  gradient coordinates ``(r x_j + lambda_j w_j)^2`` up to and including step ``t``
  (Duchi, Hazan and Singer, 2011).

In code ``eta_j`` is ``learning_rate``, ``lambda`` is ``l2``, ``G`` is ``sum_sq_grad`` and ``t`` is
``n + 1``. With ``average`` the predictions use the Polyak-Ruppert mean of the iterates from step
``average`` on (Polyak and Juditsky, 1992), as scikit-learn's ``average``.

References
----------
Bottou, L. (2010). Large-scale machine learning with stochastic gradient descent. COMPSTAT.
Duchi, J., Hazan, E. and Singer, Y. (2011). Adaptive subgradient methods for online learning and
stochastic optimization. JMLR 12.
Polyak, B. T. and Juditsky, A. B. (1992). Acceleration of stochastic approximation by averaging.
SIAM J. Control Optim. 30(4).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "SCHEDULES",
    "SGDParams",
    "SGDState",
    "initial_state",
    "learn_rows",
    "prediction_weights",
    "step",
]

SCHEDULES = ("constant", "invscaling", "adagrad")


class SGDState(NamedTuple):
    """``weights``, ``sum_sq_grad``, ``average`` ``(..., p)``; ``n`` ``(...)`` steps taken."""

    weights: np.ndarray
    sum_sq_grad: np.ndarray
    average: np.ndarray
    n: np.ndarray


class SGDParams(NamedTuple):
    """Per-column ``learning_rate`` and ``l2`` ``(..., p)``, and the schedule's settings.

    ``average`` is the first averaged step (0: no averaging); ``penalised`` says whether any
    ``l2`` is non-zero, so unpenalised fits skip the shrink.
    """

    learning_rate: np.ndarray
    l2: np.ndarray
    schedule: str
    power_t: float
    epsilon: float
    average: int
    penalised: bool


def initial_state(batch_shape: tuple[int, ...], n_features: int) -> SGDState:
    """All weights zero, nothing seen.

    >>> initial_state((2,), 3).weights.shape
    (2, 3)
    """
    shape = (*batch_shape, n_features)
    return SGDState(np.zeros(shape), np.zeros(shape), np.zeros(shape), np.zeros(batch_shape))


def step(state: SGDState, params: SGDParams, x: np.ndarray, y: np.ndarray) -> SGDState:
    """One step per batch element: ``x`` ``(..., p)``, ``y`` ``(...)`` (see the module notes).

    >>> params = SGDParams(np.full(2, 0.5), np.zeros(2), "constant", 0.25, 1e-8, 0, False)
    >>> step(initial_state((), 2), params, np.array([1.0, 2.0]), np.array(2.0)).weights
    array([1., 2.])
    """
    w, sum_sq, avg, n = state
    t = n + 1.0
    residual = np.einsum("...j,...j->...", x, w) - y
    if params.schedule == "constant":
        eta = params.learning_rate
    elif params.schedule == "invscaling":
        eta = params.learning_rate / _power(t, params.power_t)[..., None]
    else:
        grad = residual[..., None] * x
        if params.penalised:
            grad += params.l2 * w
        sum_sq = sum_sq + grad * grad
        eta = params.learning_rate / np.sqrt(params.epsilon + sum_sq)
    if params.penalised:
        w = np.maximum(1.0 - eta * params.l2, 0.0) * w
    w = w - (eta * residual[..., None]) * x
    if params.average:
        # 1/k for the k-th averaged iterate, 0 before averaging starts (the mean stays at 0).
        k = t - (params.average - 1)
        weight = np.where(k >= 1.0, 1.0 / np.maximum(k, 1.0), 0.0)
        avg = avg + weight[..., None] * (w - avg)
    return SGDState(w, sum_sq, avg, t)


def _power(t: np.ndarray, power: float) -> np.ndarray:
    """``t ** power`` by the C library's scalar ``pow`` (as scikit-learn), one call per value.

    numpy's vectorised ``power`` may round differently from its scalar path, which would make a
    batch of replicates differ in the last bit from the same streams run one at a time.
    """
    first = float(t.flat[0])
    if (t == first).all():
        return np.full(t.shape, first**power)
    values, inverse = np.unique(t, return_inverse=True)
    return np.array([float(v) ** power for v in values])[inverse].reshape(t.shape)


def learn_rows(state: SGDState, params: SGDParams, x: np.ndarray, y: np.ndarray) -> SGDState:
    """Sequential steps over rows ``x`` ``(..., m, p)``, ``y`` ``(..., m)``, in row order."""
    rows_x = np.ascontiguousarray(np.moveaxis(x, -2, 0))
    rows_y = np.ascontiguousarray(np.moveaxis(y, -1, 0))
    for x_i, y_i in zip(rows_x, rows_y, strict=True):
        state = step(state, params, x_i, y_i)
    return state


def prediction_weights(state: SGDState, params: SGDParams) -> np.ndarray:
    """The weights predictions use: the running average once it has started, else the iterate."""
    if not params.average:
        return state.weights
    return np.where((state.n >= params.average)[..., None], state.average, state.weights)
