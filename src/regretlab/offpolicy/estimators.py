"""Off-policy value estimators: direct method, IPS, self-normalised IPS, doubly robust, switch-DR.

Every estimator takes a :class:`~regretlab.offpolicy.LoggedBandit` and the target's action
probabilities ``pi`` ``(R, n, K)`` (:func:`~regretlab.offpolicy.target_probabilities`) and
returns an :class:`Estimate` per replicate. With ``w_i = pi(a_i | x_i) / p_i`` (the logged
propensity ``p_i``) and a cross-fitted reward model ``q`` (Dudik, Langford & Li 2011; Wang,
Agarwal & Dudik 2017, whose notation this module follows):

- DM: ``mean_i sum_a pi(a | x_i) q(x_i, a)``
- IPS: ``mean_i w_i r_i`` (clipped: ``min(w_i, M)``)
- SNIPS: ``sum_i w_i r_i / sum_i w_i``
- DR: ``mean_i [sum_a pi q(x_i, a) + w_i (r_i - q(x_i, a_i))]``
- switch-DR: DR's correction only where ``w_i <= tau``

Standard errors are the sample sd of the per-row terms over ``sqrt(n)`` (SNIPS: the delta
method, ``sqrt(sum w_i^2 (r_i - V)^2) / sum w_i``). They ignore the reward model's own error:
that is why a misspecified DM's interval misses the truth, and DR's does not. The effective
sample size is ``(sum w)^2 / sum w^2``.

With an availability mask in the log, the sums over actions run over the actions available at
each row (a target's mass elsewhere is refused by
:func:`~regretlab.offpolicy.check_probabilities`).

Support deficiency is the target's mass on actions the logger could not have taken: on a
deterministic logger's rows every action but the logged one, elsewhere the actions never
logged in the replicate. IPS refuses a log with deficiency (its estimate would silently drop
that mass); the others report it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from regretlab._validation import check_real
from regretlab.offpolicy.reward_models import RidgeRewardModel
from regretlab.offpolicy.table import LoggedBandit
from regretlab.offpolicy.targets import check_probabilities

__all__ = [
    "IPS",
    "SNIPS",
    "DirectMethod",
    "DoublyRobust",
    "Estimate",
    "SwitchDR",
    "support_deficiency",
]


class Estimate(NamedTuple):
    """One estimator's result per replicate, each ``(R,)``: ``value``, its standard error
    ``se``, the effective sample size ``ess`` and largest importance weight ``max_weight``
    (of the weights it used), and the ``support_deficiency``.

    >>> e = Estimate(np.array([1.0]), np.array([0.1]), np.array([50.0]), np.array([2.0]),
    ...              np.array([0.0]))
    >>> e.interval()
    (array([0.804]), array([1.196]))
    """

    value: np.ndarray
    se: np.ndarray
    ess: np.ndarray
    max_weight: np.ndarray
    support_deficiency: np.ndarray

    def interval(self, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
        """``value -/+ z se`` (95% for the default ``z``)."""
        return self.value - z * self.se, self.value + z * self.se


def support_deficiency(log: LoggedBandit, pi: np.ndarray) -> np.ndarray:
    """The target's mass where the logger had none, ``(R,)`` (see the module notes).

    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> log = from_frame(pd.DataFrame({"action": [0, 0], "propensity": 1.0, "reward": 1.0,
    ...                                "deterministic": True}), n_actions=2)
    >>> support_deficiency(log, np.full((1, 2, 2), 0.5))
    array([0.5])
    """
    k = log.n_actions
    taken = np.zeros((log.n_replicates, k), dtype=bool)
    np.put_along_axis(taken, log.actions, True, axis=1)
    never = (pi * ~taken[:, None, :]).sum(axis=-1)
    chosen = np.take_along_axis(pi, log.actions[..., None], axis=-1)[..., 0]
    return np.where(log.deterministic, 1.0 - chosen, never).mean(axis=-1)


def _weights(log: LoggedBandit, pi: np.ndarray, name: str) -> np.ndarray:
    propensity = log.need("propensity", name)
    chosen = np.take_along_axis(pi, log.actions[..., None], axis=-1)[..., 0]
    return chosen / propensity


def _model_value(log: LoggedBandit, pi: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``sum_a pi(a | x_i) q(x_i, a)`` ``(R, n)`` over the actions available at each row."""
    terms = pi * q
    if log.available is not None:
        terms = np.where(log.available, terms, 0.0)
    return terms.sum(axis=-1)


def _mean_se(terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = terms.shape[-1]
    sd = terms.std(axis=-1, ddof=1) if n > 1 else np.full(terms.shape[:-1], np.inf)
    return terms.mean(axis=-1), sd / np.sqrt(n)


def _diagnostics(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total, squares = w.sum(axis=-1), (w**2).sum(axis=-1)
    ess = np.divide(total**2, squares, out=np.zeros_like(total), where=squares > 0)
    return ess, w.max(axis=-1)


def _clip(clip: float | None) -> float | None:
    if clip is not None:
        check_real("clip", clip, minimum=0.0)
        if clip <= 0:
            raise ValueError(f"clip must be > 0 (or None for no clipping), got {clip}")
    return clip


class IPS:
    """Inverse propensity scoring, optionally with clipped weights ``min(w, clip)``.

    Unbiased when the logger's propensities are right and it covers the target's support;
    clipping trades a downward bias for variance. A log with support deficiency is an error.

    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> log = from_frame(pd.DataFrame({"action": [0, 1, 1, 0], "propensity": 0.5,
    ...                                "reward": [1.0, 0.0, 0.0, 1.0]}))
    >>> float(IPS().estimate(log, [[[1.0, 0.0]] * 4]).value[0])
    1.0
    """

    def __init__(self, *, clip: float | None = None) -> None:
        self.clip = _clip(clip)

    def estimate(self, log: LoggedBandit, probabilities: Any) -> Estimate:
        pi = check_probabilities(probabilities, log)
        deficiency = support_deficiency(log, pi)
        if (deficiency > 1e-12).any():
            rep = int(np.argmax(deficiency))
            raise ValueError(
                f"IPS: the target puts mass {deficiency[rep]:.4g} (replicate {rep}) on actions "
                "the logger never takes (deterministic rows or unlogged actions), which IPS "
                "cannot see; use a logger that explores, or DM / DR / SNIPS, which report it"
            )
        w = _weights(log, pi, "IPS")
        if self.clip is not None:
            w = np.minimum(w, self.clip)
        value, se = _mean_se(w * log.rewards)
        return Estimate(value, se, *_diagnostics(w), deficiency)

    def __repr__(self) -> str:
        return f"IPS(clip={self.clip})"


class SNIPS:
    """Self-normalised IPS: ``sum w r / sum w``, a convex combination of the logged rewards
    (Swaminathan & Joachims 2015); the delta-method standard error.

    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> log = from_frame(pd.DataFrame({"action": [0, 1], "propensity": [0.5, 0.25],
    ...                                "reward": [1.0, 3.0]}))
    >>> float(SNIPS().estimate(log, [[[0.5, 0.5], [0.5, 0.5]]]).value[0])
    2.333...
    """

    def estimate(self, log: LoggedBandit, probabilities: Any) -> Estimate:
        pi = check_probabilities(probabilities, log)
        w = _weights(log, pi, "SNIPS")
        total = w.sum(axis=-1)
        if (total <= 0).any():
            raise ValueError("SNIPS: the target gives probability 0 to every logged action")
        value = (w * log.rewards).sum(axis=-1) / total
        se = np.sqrt((w**2 * (log.rewards - value[:, None]) ** 2).sum(axis=-1)) / total
        return Estimate(value, se, *_diagnostics(w), support_deficiency(log, pi))

    def __repr__(self) -> str:
        return "SNIPS()"


class DirectMethod:
    """The reward model's value of the target: ``mean_i sum_a pi(a | x_i) q(x_i, a)``.

    Its standard error is that of the mean over the logged contexts only (the model's bias is
    not in it). Weights are not used; ``ess`` and ``max_weight`` describe the log's IPS
    weights, for comparison.

    >>> DirectMethod()
    DirectMethod(reward_model=RidgeRewardModel(alpha=1.0, folds=5, features=None, groups=None))
    """

    def __init__(self, *, reward_model: Any = None) -> None:
        self.reward_model = RidgeRewardModel() if reward_model is None else reward_model

    def estimate(self, log: LoggedBandit, probabilities: Any) -> Estimate:
        pi = check_probabilities(probabilities, log)
        q = self.reward_model.cross_fit(log)
        value, se = _mean_se(_model_value(log, pi, q))
        w = _weights(log, pi, "DM") if log.propensity is not None else np.ones_like(q[..., 0])
        return Estimate(value, se, *_diagnostics(w), support_deficiency(log, pi))

    def __repr__(self) -> str:
        return f"DirectMethod(reward_model={self.reward_model!r})"


class DoublyRobust:
    """Doubly robust: DM plus the importance-weighted residual of the logged action
    (Dudik, Langford & Li 2011); unbiased if either the propensities or the reward model are
    right. ``clip`` caps the weights of the correction.

    >>> DoublyRobust(clip=10.0).clip
    10.0
    """

    def __init__(self, *, reward_model: Any = None, clip: float | None = None) -> None:
        self.reward_model = RidgeRewardModel() if reward_model is None else reward_model
        self.clip = _clip(clip)

    def _terms(self, log: LoggedBandit, pi: np.ndarray, tau: float | None) -> Estimate:
        w = _weights(log, pi, type(self).__name__)
        q = self.reward_model.cross_fit(log)
        q_logged = np.take_along_axis(q, log.actions[..., None], axis=-1)[..., 0]
        used = w if self.clip is None else np.minimum(w, self.clip)
        if tau is not None:
            used = np.where(w <= tau, used, 0.0)
        terms = _model_value(log, pi, q) + used * (log.rewards - q_logged)
        value, se = _mean_se(terms)
        return Estimate(value, se, *_diagnostics(used), support_deficiency(log, pi))

    def estimate(self, log: LoggedBandit, probabilities: Any) -> Estimate:
        return self._terms(log, check_probabilities(probabilities, log), None)

    def __repr__(self) -> str:
        return f"DoublyRobust(reward_model={self.reward_model!r}, clip={self.clip})"


class SwitchDR(DoublyRobust):
    """Switch-DR (Wang, Agarwal & Dudik 2017): DR's correction where ``w <= tau``, DM alone
    where the weight is larger; ``tau = inf`` is DR, ``tau = 0`` is DM.

    >>> SwitchDR(tau=5.0).tau
    5.0
    """

    def __init__(
        self, *, tau: float = 10.0, reward_model: Any = None, clip: float | None = None
    ) -> None:
        super().__init__(reward_model=reward_model, clip=clip)
        self.tau = tau
        check_real("tau", tau, minimum=0.0, allow_inf=True)

    def estimate(self, log: LoggedBandit, probabilities: Any) -> Estimate:
        return self._terms(log, check_probabilities(probabilities, log), self.tau)

    def __repr__(self) -> str:
        return f"SwitchDR(tau={self.tau}, reward_model={self.reward_model!r}, clip={self.clip})"
