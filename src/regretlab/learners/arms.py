"""Per-arm learners for bandits without context: ``K`` arms x ``R`` replicates in lockstep.

Every learner here keeps, per replicate and arm, the pulls ``n_seen``, the reward sum and the
importance-weighted reward sum ``sum y / p`` (EXP3's estimate; accrued only when the runner
passes the chosen action's ``probability``, which it does for learners with
``learns_propensity = True``). The design rows are read only for their shape: the arm is the
``action``. :class:`~regretlab.learners.BetaBernoulli` and
:class:`~regretlab.learners.GammaPoisson` (:mod:`regretlab.learners.arm_posteriors`) add the
conjugate posterior of each arm's mean (exact draws ``sample_means``, quantiles ``quantile``).
For Gaussian arms, use :class:`~regretlab.learners.BayesianLinearRegression` on the one-hot
:class:`~regretlab.features.ArmFeatures` design (``K`` independent Gaussian posteriors) or
:class:`ArmMeans`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from regretlab._validation import check_finite, check_int, check_real, check_state, float_array
from regretlab.learners import _arm_kernels

__all__ = ["ArmMeans"]

_STATE_KEYS = ("n", "sums", "weighted")
_NO_WEIGHTS = np.empty(0)


class ArmMeans:
    """Empirical mean reward of every arm (no prior): what UCB1, KL-UCB and EXP3 read.

    ``predict_one`` gives each arm's empirical mean, ``initial`` for an arm never pulled.

    Parameters
    ----------
    n_actions
        Number of arms ``K >= 2``.
    n_replicates
        ``None`` for one stream, else ``R``.
    initial
        The prediction of an arm never pulled.

    Examples
    --------
    >>> model = ArmMeans(n_actions=3)
    >>> for a, y in [(0, 1.0), (0, 0.0), (2, 4.0)]:
    ...     model = model.learn_one(np.zeros(3), y, action=a)
    >>> model.predict_one(np.zeros(3)), model.n_seen
    (array([0.5, 0. , 4. ]), array([2., 0., 1.]))
    """

    #: Accepts ``probability=`` in :meth:`learn_one` (the runner passes the policy's).
    learns_propensity = True
    #: The rewards the learner accepts (read by :func:`regretlab.checks.check_learner`).
    target_kind = "real"

    def __init__(
        self, *, n_actions: int, n_replicates: int | None = None, initial: float = 0.0
    ) -> None:
        self.n_actions = n_actions
        self.n_replicates = n_replicates
        self.initial = initial
        self._init()

    def _init(self) -> None:
        check_int("n_actions", self.n_actions, minimum=2)
        if self.n_replicates is not None:
            check_int("n_replicates", self.n_replicates, minimum=1)
        check_real("initial", self.initial)
        self._batch: tuple[int, ...] = () if self.n_replicates is None else (self.n_replicates,)
        r = 1 if self.n_replicates is None else self.n_replicates
        self._n = np.zeros((r, self.n_actions))
        self._sums = np.zeros((r, self.n_actions))
        self._weighted = np.zeros((r, self.n_actions))
        self._means = np.full((r, self.n_actions), float(self.initial))
        self._total = np.zeros(r)
        self._offsets = np.arange(r) * self.n_actions

    @property
    def n_features(self) -> int:
        """The width of a design row: one column per arm (the one-hot design)."""
        return self.n_actions

    def _drop(self, array: np.ndarray) -> np.ndarray:
        return array if self._batch else array[0]

    def _check_targets(self, y: np.ndarray) -> None:
        """Raise if a reward is not one this learner's likelihood allows."""

    def learn_one(self, x: Any, y: Any, *, action: Any, probability: Any = None) -> ArmMeans:
        """Learn each replicate's reward ``y`` of arm ``action`` (``x`` is its design row).

        ``probability`` (optional, ``(...)`` in ``(0, 1]``) is the chance the policy had of
        choosing ``action``; with it, ``y / probability`` is added to the arm's
        importance-weighted sum.
        """
        x, y = float_array("x", x), float_array("y", y)
        act = np.asarray(action)
        prob = None if probability is None else float_array("probability", probability)
        fused = _arm_kernels.compiled("arm_update")
        kind = self._fused_posterior()
        compiled = fused is not None and kind is not None and self._shapes_fit(x, y, act, prob)
        if compiled and fused is not None:
            a, b = getattr(self, "_a", self._n), getattr(self, "_b", self._n)
            bad = fused(
                self._n.reshape(-1), self._sums.reshape(-1), self._means.reshape(-1),
                self._total, self._weighted.reshape(-1), a.reshape(-1), b.reshape(-1),
                act.reshape(-1), x.reshape(-1), y.reshape(-1),
                _NO_WEIGHTS if prob is None else prob.reshape(-1), kind,
            )  # fmt: skip
            if not bad:
                return self
        self._check_inputs(x, y, act, prob)
        if compiled:  # the kernel found a bad input, so the checks must have raised
            raise AssertionError("the compiled update rejected inputs the numpy checks accept")
        at = self._offsets + act.reshape(-1)
        flat_y = y.reshape(-1)
        weight = None if prob is None else y / prob
        n = self._n.reshape(-1)[at] + 1.0
        self._n.reshape(-1)[at] = n
        self._sums.reshape(-1)[at] += flat_y
        self._total += 1.0
        # The running mean of the chosen arms only (what the index rules read every step).
        mean = self._means.reshape(-1)[at]
        mean += (flat_y - mean) / n
        self._means.reshape(-1)[at] = mean
        if weight is not None:
            self._weighted.reshape(-1)[at] += weight.reshape(-1)
        self._learned(at, y.reshape(-1))
        return self

    def _shapes_fit(
        self, x: np.ndarray, y: np.ndarray, act: np.ndarray, prob: np.ndarray | None
    ) -> bool:
        """Whether the inputs have the shapes and kinds :meth:`learn_one` takes (their values
        are the compiled update's to check)."""
        return (
            x.shape == (*self._batch, self.n_features)
            and y.shape == self._batch
            and act.shape == self._batch
            and act.dtype.kind in "iu"
            and (prob is None or prob.shape == self._batch)
        )

    def _check_inputs(
        self, x: np.ndarray, y: np.ndarray, act: np.ndarray, prob: np.ndarray | None
    ) -> None:
        """Raise ``ValueError`` naming the first input of :meth:`learn_one` that is wrong."""
        if x.shape != (*self._batch, self.n_features):
            raise ValueError(f"x must have shape {(*self._batch, self.n_features)}, got {x.shape}")
        if y.shape != self._batch:
            raise ValueError(f"y must have shape {self._batch}, got {y.shape}")
        if not math.isfinite(float(x.sum()) + float(y.sum())):  # one pass when all is finite
            check_finite("x", x)
            check_finite("y", y)
        self._check_targets(y)
        if act.shape != self._batch or act.dtype.kind not in "iu":
            raise ValueError(
                f"action must be integers of shape {self._batch}, got {act.dtype} {act.shape}"
            )
        # One reduction: as unsigned integers of the same width, negative actions are huge.
        if act.view(f"u{act.itemsize}").max() >= self.n_actions:
            raise ValueError(f"action must lie in [0, {self.n_actions}), got {act.ravel()}")
        # min > 0 and max <= 1 (False for a NaN): all in (0, 1], in two reductions.
        if prob is None:
            return
        if prob.shape != self._batch or not (prob.min() > 0 and prob.max() <= 1):
            raise ValueError(
                f"probability must be numbers in (0, 1] of shape {self._batch}, got {prob!r}"
            )

    def _learned(self, at: np.ndarray, y: np.ndarray) -> None:
        """Hook: the flat (replicate, arm) cells ``at`` just learned ``y``."""

    def _fused_posterior(self) -> int | None:
        """The posterior code of the compiled update (:mod:`regretlab.learners._arm_kernels`)
        that does what this class's update, ``_learned`` and ``_check_targets`` do, or
        ``None`` if none does (a subclass that changed either: numpy then runs the hooks)."""
        own = type(self)._learned is ArmMeans._learned
        return _arm_kernels.NO_POSTERIOR if own and self._own_checks(ArmMeans) else None

    def _own_checks(self, cls: type[ArmMeans]) -> bool:
        """Whether the reward checks are ``cls``'s, which the compiled update repeats."""
        return type(self)._check_targets is cls._check_targets

    def _arm_views(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The pulls ``(R, K)``, empirical means ``(R, K)`` and total pulls ``(R,)`` themselves,
        not copies (read only), for the index rules' compiled kernels; ``None`` for one stream.
        """
        return (self._n, self._means, self._total) if self._batch else None

    def _check_x(self, x: Any) -> None:
        x = float_array("x", x)
        p, k = self.n_features, self.n_actions
        if x.shape not in ((*self._batch, p), (*self._batch, k, p)):
            raise ValueError(
                f"x must have shape {(*self._batch, p)} or {(*self._batch, k, p)}, got {x.shape}"
            )

    def _mean(self) -> np.ndarray:
        return self._means.copy()

    def _recount(self) -> None:
        seen = self._n > 0
        self._means = np.where(seen, self._sums / np.where(seen, self._n, 1.0), self.initial)

    def predict_one(self, x: Any) -> np.ndarray:
        """Every arm's empirical mean reward, ``(..., K)`` (``x``: design rows, shape only)."""
        self._check_x(x)
        return self._drop(self._mean())

    @property
    def n_seen(self) -> np.ndarray:
        """Pulls of every arm, ``(..., K)``."""
        return self._drop(self._n.copy())

    @property
    def n_total(self) -> np.ndarray:
        """Pulls of all arms together, ``(...)``."""
        return self._drop(self._total.copy())

    @property
    def reward_mean(self) -> np.ndarray:
        """Empirical mean reward of every arm, ``(..., K)`` (``initial`` if never pulled)."""
        return self._drop(self._mean())

    @property
    def importance_weighted_sum(self) -> np.ndarray:
        """``sum y / p`` of every arm over the steps learned with a ``probability``."""
        return self._drop(self._weighted.copy())

    def get_state(self) -> dict[str, np.ndarray]:
        """Everything learned, as plain arrays (for ``numpy.savez``)."""
        return {"n": self._n.copy(), "sums": self._sums.copy(), "weighted": self._weighted.copy()}

    def set_state(self, state: Mapping[str, np.ndarray]) -> ArmMeans:
        """Restore what :meth:`get_state` returned."""
        arrays = check_state(state, {k: self._n.shape for k in _STATE_KEYS})
        if np.any(arrays["n"] < 0):
            raise ValueError("state['n'] must hold counts >= 0")
        self._n, self._sums, self._weighted = arrays["n"], arrays["sums"], arrays["weighted"]
        self._recount()
        self._total = self._n.sum(axis=-1)
        self._restored()
        return self

    def _restored(self) -> None:
        """Hook: the statistics were replaced."""

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "n_actions": self.n_actions,
            "n_replicates": self.n_replicates,
            "initial": self.initial,
        }

    def clone(self) -> ArmMeans:
        """A new, untrained learner with the same constructor arguments."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"
