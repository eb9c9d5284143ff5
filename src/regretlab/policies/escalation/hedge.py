"""Model selection over whole learners: exponential weights on squared loss (every member sees
every label, as on a prediction stream)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from regretlab._validation import check_finite, check_real, float_array

__all__ = ["Hedge"]


class Hedge:
    """Exponential weights over learners on squared loss (Vovk's aggregating algorithm).

    Every member learns every observation; each keeps a cumulative squared loss ``L_i`` of its
    predictions made before the label, and the prediction is the mean of the members'
    predictions weighted ``exp(-eta L_i)``. For targets in ``[-B, B]`` squared loss is
    ``1 / (2 B^2)``-exp-concave, so with ``eta = 1 / (2 B^2)`` the weighted mean's cumulative
    loss exceeds the best member's by at most ``2 B^2 log K`` whatever the data (Cesa-Bianchi and
    Lugosi 2006, ch. 3.3), against log-loss weights (:class:`ModelAveraging`), which optimise the
    predictive density instead (for labels in an interval of width ``W`` the rate is
    ``1 / (2 W^2)``). ``eta="auto"`` uses the width of the labels seen so far, per replicate (a
    running bound: the guarantee then holds up to the labels that widen it). Members may be any
    learners with ``learn_one`` and ``predict_one`` over the same design: Bayesian, SGD, river,
    model averaging.

    Parameters
    ----------
    learners
        The members, a sequence or a mapping ``{name: learner}`` (names label :attr:`weights`).
    eta
        Learning rate, or ``"auto"``.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> groups = ("intercept", "main", "pairwise")
    >>> hedge = Hedge({"main": BayesianLinearRegression(groups=groups,
    ...                                                 prior_variance={"pairwise": 0.0}),
    ...                "full": BayesianLinearRegression(groups=groups)})
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(300):
    ...     x = np.array([1.0, *rng.uniform(-1, 1, 2)]); x[2] = x[1] * x[1]
    ...     hedge = hedge.learn_one(x, 1.0 + x[1] + 2.0 * x[2] + 0.1 * rng.normal())
    >>> hedge.names, hedge.weights.round(1).tolist()
    (['main', 'full'], [0.0, 1.0])
    """

    def __init__(self, learners: Sequence[Any] | Mapping[str, Any], *, eta: Any = "auto") -> None:
        self.learners = learners
        self.eta = eta
        members = dict(learners) if isinstance(learners, Mapping) else dict(enumerate(learners))
        if len(members) < 2:
            raise ValueError(f"learners must hold at least 2 members, got {len(members)}")
        for name, member in members.items():
            for method in ("learn_one", "predict_one"):
                if not callable(getattr(member, method, None)):
                    raise TypeError(f"learners[{name!r}] has no {method}(); got {member!r}")
        self.names = [str(n) for n in members]
        self._members = list(members.values())
        counts = {getattr(m, "n_replicates", None) for m in self._members}
        if len(counts) != 1:
            raise ValueError(f"learners must share n_replicates, got {sorted(map(str, counts))}")
        self.n_replicates = counts.pop()
        if eta != "auto":
            check_real("eta", eta, minimum=0.0, exclusive_minimum=True)
        lead = () if self.n_replicates is None else (self.n_replicates,)
        self._loss = np.zeros((len(self._members), *lead))
        self._lead = lead
        self._low = np.full(lead, np.inf)
        self._high = np.full(lead, -np.inf)

    @property
    def n_features(self) -> int:
        return int(self._members[0].n_features)

    def _eta(self) -> np.ndarray:
        if self.eta != "auto":
            return np.asarray(float(self.eta))
        width = self._high - self._low
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(width > 0.0, 1.0 / (2.0 * width**2), 0.0)

    @property
    def weights(self) -> np.ndarray:
        """The members' weights, ``(K, ...)``."""
        log_w = -self._eta() * self._loss
        w = np.exp(log_w - log_w.max(axis=0))
        return w / w.sum(axis=0)

    def predict_one(self, x: Any) -> Any:
        """The weighted mean of the members' predictions for ``x``."""
        preds = np.stack([np.asarray(m.predict_one(x), dtype=float) for m in self._members])
        w = self.weights.reshape(self.weights.shape + (1,) * (preds.ndim - self.weights.ndim))
        out = (w * preds).sum(axis=0)
        return float(out) if out.ndim == 0 else out

    def learn_one(self, x: Any, y: Any) -> Hedge:
        y_arr = float_array("y", y)
        if y_arr.shape != self._lead:
            raise ValueError(f"y must have shape {self._lead}, got {y_arr.shape}")
        check_finite("y", y_arr)
        preds = np.stack([np.asarray(m.predict_one(x), dtype=float) for m in self._members])
        self._loss = self._loss + (preds - y_arr) ** 2
        self._low = np.minimum(self._low, y_arr)
        self._high = np.maximum(self._high, y_arr)
        for member in self._members:
            member.learn_one(x, y)
        return self

    def get_params(self) -> dict[str, Any]:
        return {"learners": self.learners, "eta": self.eta}

    def get_state(self) -> dict[str, np.ndarray]:
        state = {"loss": self._loss.copy(), "low": self._low.copy(), "high": self._high.copy()}
        for i, member in enumerate(self._members):
            state |= {f"member{i}:{k}": v for k, v in member.get_state().items()}
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> Hedge:
        for key in ("loss", "low", "high"):
            value = np.asarray(state[key], dtype=float)
            if value.shape != getattr(self, f"_{key}").shape:
                raise ValueError(
                    f"state[{key!r}] has shape {value.shape}, expected "
                    f"{getattr(self, f'_{key}').shape}"
                )
        for i, member in enumerate(self._members):
            prefix = f"member{i}:"
            member.set_state(
                {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            )
        self._loss = np.asarray(state["loss"], dtype=float).copy()
        self._low = np.asarray(state["low"], dtype=float).copy()
        self._high = np.asarray(state["high"], dtype=float).copy()
        return self

    def clone(self) -> Hedge:
        members = (
            {n: m.clone() for n, m in self.learners.items()}
            if isinstance(self.learners, Mapping)
            else [m.clone() for m in self.learners]
        )
        return Hedge(members, eta=self.eta)

    def __repr__(self) -> str:
        return f"Hedge({self.names}, eta={self.eta!r})"
