"""Stochastic gradient descent on the squared loss with one L2 penalty per feature group.

The pure math works on an :class:`SGDState` with leading batch axes; :class:`SGDLinearRegression`
is the thin shell with the package's learner interface.

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

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from regretlab._validation import (
    as_float_array,
    check_choice,
    check_finite,
    check_int,
    check_real,
    check_state,
)
from regretlab.features import group_indices
from regretlab.learners._grouping import check_groups, column_values

__all__ = [
    "SCHEDULES",
    "SGDLinearRegression",
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


def _check_setting(label: str, value: Any, *, positive: bool, batch: tuple[int, ...]) -> None:
    array = as_float_array(label, value, finite=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{label} must be finite, got {array[~np.isfinite(array)].flat[0]}")
    if positive and (array <= 0).any():
        raise ValueError(f"{label} must be > 0, got {array[array <= 0].flat[0]}")
    if not positive and (array < 0).any():
        raise ValueError(f"{label} must be >= 0, got {array[array < 0].flat[0]}")
    if array.ndim > 0 and array.shape != batch:
        raise ValueError(
            f"{label} must be a scalar or have shape {batch} (one per replicate), "
            f"got shape {array.shape}"
        )


class SGDLinearRegression:
    """Linear regression by stochastic gradient descent with per-group L2 penalties.

    One squared-loss gradient step per observation (and per replicate), with an L2 penalty and
    a learning rate for every feature group: the seed study's "L2 regularisation on half the
    weights", and the partial fit it asks to compare with Bayesian updates. The module notes
    give the objective and the step exactly.

    Parameters
    ----------
    groups
        The feature group of every design column, or a feature map (its ``groups`` are used).
    l2
        Penalty ``lambda`` for every group, or a mapping ``{group: penalty}``; groups it does not
        name get 0.0. A value may be a scalar or one per replicate; all must be finite and >= 0.
        Equal to scikit-learn's ``alpha``.
    learning_rate
        Initial step size ``eta0`` (> 0) for every group, or a mapping ``{group: eta0}``; groups
        it does not name get 0.01. Scalars or one value per replicate.
    schedule
        ``"constant"``, ``"invscaling"`` (``eta0 / t^power_t``) or ``"adagrad"``.
    power_t
        Exponent of the ``"invscaling"`` schedule (>= 0).
    average
        ``False``, ``True`` (average from the first step) or the step at which Polyak averaging
        starts; predictions and :attr:`weights` then use the averaged iterate.
    epsilon
        Added to AdaGrad's sum of squared gradients before the square root (> 0).
    n_replicates
        ``None`` for one stream (``x`` of shape ``(p,)``), or ``R`` independent models updated
        in lockstep (``x`` of shape ``(R, p)``).

    Notes
    -----
    ``lambda`` penalises the *mean* loss, so on ``n`` observations SGD approaches the ridge
    solution of ``(X'X + n diag(lambda)) w = X'y``. That is the posterior mean of
    :class:`~regretlab.learners.BayesianLinearRegression` with noise precision ``beta`` and
    prior variance ``1 / (n beta lambda_g)``: a fixed ``l2`` acts as a prior that tightens as
    data arrive rather than one the data wash out.

    Examples
    --------
    >>> from regretlab.features import InteractionFeatures
    >>> fm = InteractionFeatures(x_dim=2)
    >>> model = SGDLinearRegression(
    ...     groups=fm, l2={"pairwise": 1.0}, learning_rate=0.05, schedule="constant"
    ... )
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(2000):
    ...     x = fm.transform(rng.uniform(-1, 1, 2))
    ...     model = model.learn_one(x, 1.0 + 2.0 * x[1] - x[2] + 0.1 * rng.normal())
    >>> model.weights.round(1)
    array([ 1.,  2., -1.,  0.])
    >>> sorted(model.get_state())
    ['average', 'n', 'sum_sq_grad', 'weights']
    >>> batched = SGDLinearRegression(groups=fm, n_replicates=3)
    >>> batched.learn_one(np.ones((3, 4)), np.zeros(3)).predict_one(np.ones((3, 2, 4))).shape
    (3, 2)
    """

    def __init__(
        self,
        *,
        groups: Any,
        l2: float | Mapping[str, Any] = 0.0,
        learning_rate: float | Mapping[str, Any] = 0.01,
        schedule: str = "invscaling",
        power_t: float = 0.25,
        average: bool | int = False,
        epsilon: float = 1e-8,
        n_replicates: int | None = None,
    ) -> None:
        self.groups = groups
        self.l2 = l2
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.power_t = power_t
        self.average = average
        self.epsilon = epsilon
        self.n_replicates = n_replicates
        self._labels = check_groups(groups)
        self._columns = group_indices(self._labels)
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
        self._batch: tuple[int, ...] = () if n_replicates is None else (n_replicates,)
        l2_columns = self._setting("l2", l2, default=0.0, positive=False)
        first_averaged = (
            int(average) if isinstance(average, bool) else check_int("average", average, minimum=0)
        )
        self._params = SGDParams(
            learning_rate=self._setting(
                "learning_rate", learning_rate, default=0.01, positive=True
            ),
            l2=l2_columns,
            schedule=check_choice("schedule", schedule, SCHEDULES),
            power_t=check_real("power_t", power_t, minimum=0.0),
            epsilon=check_real("epsilon", epsilon, minimum=0.0, exclusive_minimum=True),
            average=first_averaged,
            penalised=bool(np.any(l2_columns)),
        )
        self._state = initial_state(self._batch, len(self._labels))

    def _setting(self, name: str, setting: Any, *, default: float, positive: bool) -> np.ndarray:
        """Validate a scalar-or-mapping group setting and spread it over the columns."""
        if isinstance(setting, Mapping):
            unknown = [g for g in setting if g not in self._columns]
            if unknown:
                raise ValueError(
                    f"{name} names unknown group {unknown[0]!r}; the groups are "
                    f"{list(self._columns)}"
                )
            for group, value in setting.items():
                _check_setting(f"{name}[{group!r}]", value, positive=positive, batch=self._batch)
        else:
            _check_setting(name, setting, positive=positive, batch=self._batch)
        values = column_values(
            name, setting, self._labels, default=default, batch_shape=self._batch
        )
        out = np.empty((*self._batch, len(self._labels)))
        for group, value in values.items():
            out[..., self._columns[group]] = np.asarray(value)[..., None]
        return out

    @property
    def n_features(self) -> int:
        return len(self._labels)

    # -- learning -----------------------------------------------------------------------------
    def learn_one(self, x: Any, y: Any) -> SGDLinearRegression:
        """One step per replicate: ``x`` ``(..., p)``, ``y`` ``(...)``."""
        x, y = self._check_xy(x, y, rows=False)
        self._state = step(self._state, self._params, x, y)
        return self

    def learn_many(self, x: Any, y: Any) -> SGDLinearRegression:
        """Sequential steps over a block of rows: ``x`` ``(..., m, p)``, ``y`` ``(..., m)``."""
        x, y = self._check_xy(x, y, rows=True)
        self._state = learn_rows(self._state, self._params, x, y)
        return self

    def _check_xy(self, x: Any, y: Any, *, rows: bool) -> tuple[np.ndarray, np.ndarray]:
        x = as_float_array("x", x, finite=False)
        y = as_float_array("y", y, finite=False)
        lead: tuple[Any, ...] = self._batch
        if rows:
            lead = (*lead, x.shape[-2] if x.ndim == len(self._batch) + 2 else "m")
        if x.shape != (*lead, self.n_features):
            want = str((*lead, self.n_features)).replace("'m'", "m")
            raise ValueError(f"x must have shape {want}, got {x.shape}")
        if y.shape != lead:
            raise ValueError(f"y must have shape {lead}, got {y.shape}")
        # One reduction checks both for NaN and inf; the precise message comes only on failure.
        if not math.isfinite(float(np.dot(x.ravel(), x.ravel())) + float(np.sum(y))):
            check_finite("x", x)
            check_finite("y", y)
        return x, y

    # -- reading ------------------------------------------------------------------------------
    @property
    def weights(self) -> np.ndarray:
        """The weights predictions use, ``(..., p)``: the Polyak average once it has started."""
        return prediction_weights(self._state, self._params).copy()

    @property
    def n_seen(self) -> np.ndarray:
        """Observations learned so far (per replicate)."""
        return np.array(self._state.n)[()]

    def predict_one(self, x: Any) -> Any:
        """Prediction ``x'w`` for ``x`` ``(..., [K,] p)``: a float, ``(R,)`` or ``(..., K)``."""
        x = as_float_array("x", x, finite=False)
        nb = len(self._batch)
        if x.ndim < nb + 1 or x.shape[:nb] != self._batch or x.shape[-1] != self.n_features:
            raise ValueError(
                f"x must have shape {(*self._batch, self.n_features)} (optionally with action "
                f"axes before the last), got {x.shape}"
            )
        w = prediction_weights(self._state, self._params)
        w = w.reshape(*self._batch, *(1,) * (x.ndim - nb - 1), self.n_features)
        loc = np.einsum("...j,...j->...", x, w)
        if not np.all(np.isfinite(loc)):
            check_finite("x", x)
        return loc if loc.ndim else float(loc)

    # -- state --------------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """The learned state as plain float arrays (``np.savez`` without pickling)."""
        return {name: np.array(value) for name, value in self._state._asdict().items()}

    def set_state(self, state: Mapping[str, Any]) -> SGDLinearRegression:
        """Restore a state from :meth:`get_state` (checked in full before anything changes)."""
        shapes = {name: np.shape(value) for name, value in self._state._asdict().items()}
        arrays = check_state(state, shapes)
        for name in ("sum_sq_grad", "n"):
            if (arrays[name] < 0).any():
                bad = arrays[name][arrays[name] < 0].flat[0]
                raise ValueError(f"state[{name!r}] must be >= 0, got {bad}")
        if (arrays["n"] != np.round(arrays["n"])).any():
            raise ValueError(f"state['n'] must hold whole numbers, got {arrays['n']}")
        self._state = SGDState(**arrays)
        return self

    def clone(self) -> SGDLinearRegression:
        """A new, untrained model with the same constructor arguments."""
        return type(self)(**self.get_params())

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "groups": self.groups,
            "l2": self.l2,
            "learning_rate": self.learning_rate,
            "schedule": self.schedule,
            "power_t": self.power_t,
            "average": self.average,
            "epsilon": self.epsilon,
            "n_replicates": self.n_replicates,
        }

    def __repr__(self) -> str:
        return (
            f"SGDLinearRegression(n_features={self.n_features}, l2={self.l2!r}, "
            f"learning_rate={self.learning_rate!r}, schedule={self.schedule!r}, "
            f"n_replicates={self.n_replicates!r})"
        )
