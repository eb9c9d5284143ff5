"""Linear regression by stochastic gradient descent with one L2 penalty per feature group.

:class:`SGDLinearRegression` is the thin shell with the package's learner interface around the
pure steps of :mod:`regretlab.learners.gradient`, whose notes give the objective, the step and
the schedules exactly (after Bottou, 2010, and scikit-learn's ``SGDRegressor``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

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
from regretlab.learners.gradient import (
    SCHEDULES,
    SGDParams,
    SGDState,
    initial_state,
    learn_rows,
    prediction_weights,
    step,
)

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
    weights", and the partial fit it asks to compare with Bayesian updates. The notes of
    :mod:`regretlab.learners.gradient` give the objective and the step exactly.

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
