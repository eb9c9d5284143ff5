"""CORRAL: log-barrier online mirror descent over whole bandit agents (Agarwal, Luo, Neyshabur
and Schapire 2017), with only the picked agent's reward seen."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from regretlab._validation import check_int, check_real
from regretlab.policies._ties import inverse_cdf
from regretlab.policies.selection._bases import AgentSelector

__all__ = ["Corral", "importance_weighted", "log_barrier_step"]

_BISECTIONS = 50


def log_barrier_step(
    probabilities: np.ndarray, losses: np.ndarray, learning_rates: np.ndarray
) -> np.ndarray:
    """One step of log-barrier online mirror descent (Agarwal et al. 2017, Algorithm 2).

    Returns ``p'`` with ``1 / p'_i = 1 / p_i + eta_i (l_i - lambda)``, the normaliser
    ``lambda`` in ``[min_i l_i, max_i l_i]`` found by bisection so that ``sum_i p'_i = 1``. The
    bases are on the first axis; any further axes (replicates) are solved at once.

    Examples
    --------
    >>> p = log_barrier_step(np.array([0.5, 0.5]), np.array([2.0, 0.0]), np.array([0.1, 0.1]))
    >>> p.round(4), float(p.sum())
    (array([0.4751, 0.5249]), 1.0)
    """
    p, loss = np.asarray(probabilities, float), np.asarray(losses, float)
    eta = np.broadcast_to(np.asarray(learning_rates, float), p.shape)
    lo = loss.min(axis=0)
    # g(lambda) = sum_i 1 / (1/p_i + eta_i (l_i - lambda)) rises from <= 1 at min l to >= 1 at
    # max l (or to +inf at its first pole, where a denominator reaches 0).
    pole = (1.0 / (p * eta) + loss).min(axis=0)
    hi = np.minimum(loss.max(axis=0), pole)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        with np.errstate(divide="ignore"):
            g = (1.0 / (1.0 / p + eta * (loss - mid))).sum(axis=0)
        below = (g < 1.0) & (mid < pole)
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    # ``lo`` keeps every denominator positive; the renormalisation removes the bisection's
    # last ~2^-80 relative error.
    new = 1.0 / (1.0 / p + eta * (loss - lo))
    return new / new.sum(axis=0)


def importance_weighted(values: np.ndarray, picks: np.ndarray, probabilities: np.ndarray) -> Any:
    """The importance-weighted estimate of every base's value from the picked one's:
    ``value / p_i`` for the picked base ``i``, 0 for the others (unbiased: its expectation over
    the pick is every base's value when all of them would have seen the same value).

    ``values`` and ``picks`` have the replicates' shape, ``probabilities`` ``(M, ...)``.

    Examples
    --------
    >>> importance_weighted(np.array([1.0, 2.0]), np.array([0, 1]),
    ...                     np.array([[0.5, 0.5], [0.5, 0.25]]))
    array([[2., 0.],
           [0., 8.]])
    """
    p = np.asarray(probabilities, float)
    picked = np.arange(p.shape[0]).reshape((-1,) + (1,) * (p.ndim - 1)) == picks
    return np.where(picked, np.asarray(values, float) / p, 0.0)


class Corral(AgentSelector):
    """CORRAL over whole bandit agents: each replicate samples one base agent per step from a
    smoothed log-barrier OMD distribution; only that agent acts and learns.

    The variant is Algorithm 1 of Agarwal et al. (2017) with its constants: ``gamma = 1/T``,
    ``beta = exp(1 / ln T)``, ``eta_1,i = learning_rate``, ``rho_1,i = 2M``,
    ``p_1 = pbar_1 = 1/M``. Each step the base ``i_t`` is drawn from ``pbar_t``, its loss
    ``l`` (the reward mapped to ``[0, 1]``, see ``reward_range``) is importance-weighted to
    ``l / pbar_t,i_t`` for ``i_t`` and 0 for the others, ``p_t+1`` is the log-barrier OMD step,
    ``pbar_t+1 = (1 - gamma) p_t+1 + gamma / M`` (every entry at least ``1 / (T M)``), and
    whenever ``1 / pbar_t+1,i > rho_t,i`` the base's threshold becomes ``rho = 2 / pbar_t+1,i``
    and its learning rate is multiplied by ``beta`` (the increasing learning rates that let a
    starved base recover). Deviation from the paper, as in practical uses: a base learns the
    *observed* reward, only when picked (the paper feeds every base the importance-weighted
    loss every step, which requires bases built to accept it); the base's own clock then
    advances only when it plays.

    Parameters
    ----------
    bases
        The base agents over the selector's design: ``{name: (learner, policy)}``, or a sequence
        of :class:`~regretlab.simulate.Agent` (names from theirs; ``features`` and ``scheduler``
        must be ``None``). A learner may be ``None`` for a model-free policy. With replicates,
        every learner needs ``get_state``/``set_state`` with the replicate axis first.
    horizon
        ``T``, the number of steps (sets ``gamma`` and ``beta``); at least 2.
    learning_rate
        ``eta``; default ``sqrt(M / T)``, which balances the OMD terms ``M / eta`` and
        ``T eta`` of the paper's regret bound.
    reward_range
        ``(low, high)``: the loss is ``(high - r) / (high - low)`` clipped to ``[0, 1]``;
        ``"auto"`` uses, per replicate, the range of the rewards seen so far (the current one
        included).
    n_replicates
        ``R``; needed only when no base has a learner (else it is theirs).
    teach
        ``"picked"`` (default): only the picked base learns the step, in the replicates that
        picked it; ``"all"``: every base learns every step's observed reward (off-policy
        data for the bases that did not act; coba's ``mode="off-policy"``), so no base is
        starved, at the price of bases that learn from actions they did not choose.

    Notes
    -----
    Run it with the :class:`ChosenAgent` policy: ``Agent("corral", Corral(...),
    policy=ChosenAgent())``. :attr:`distribution` is ``pbar``; :attr:`pick_counts` counts the
    picks; events of the group ``"base"`` record changes of each replicate's most probable base.

    References
    ----------
    Agarwal, A., Luo, H., Neyshabur, B. and Schapire, R. E. (2017). Corralling a band of bandit
    algorithms. COLT, PMLR 65, 12-38.

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.policies import ThompsonSampling
    >>> from regretlab.policies.selection import ChosenAgent
    >>> from regretlab.simulate import Agent, run_bandit
    >>> env = LinearBandit(n_actions=3, context_dim=2, horizon=200, n_replicates=4, seed=0)
    >>> def ts(prior):
    ...     model = BayesianLinearRegression(groups=env.features, prior_variance=prior,
    ...                                      n_replicates=4)
    ...     return (model, ThompsonSampling())
    >>> corral = Corral({"main": ts({"context:action": 0.0}), "full": ts(1.0)}, horizon=200)
    >>> result = run_bandit(env, [Agent("corral", corral, policy=ChosenAgent())], seed=1)
    >>> bool(result.regret["pseudo_regret"].iloc[-1] > 0)
    True
    >>> Corral({"main": ts(1.0)}, horizon=200)
    Traceback (most recent call last):
    ValueError: bases must hold at least 2 base agents, got 1
    """

    def __init__(
        self,
        bases: Any,
        *,
        horizon: int,
        learning_rate: float | None = None,
        reward_range: Any = "auto",
        n_replicates: int | None = None,
        teach: str = "picked",
    ) -> None:
        super().__init__(bases, n_replicates, teach)
        self.teach = teach
        self.horizon = horizon
        self.learning_rate = learning_rate
        self.reward_range = reward_range
        t = check_int("horizon", horizon, minimum=2)
        m = self._m
        eta = (
            math.sqrt(m / t)
            if learning_rate is None
            else check_real("learning_rate", learning_rate, minimum=0.0, exclusive_minimum=True)
        )
        if isinstance(reward_range, str):
            if reward_range != "auto":
                raise ValueError(
                    f"reward_range must be 'auto' or (low, high), got {reward_range!r}"
                )
        else:
            try:
                low, high = (float(v) for v in reward_range)
            except (TypeError, ValueError):
                raise ValueError(
                    f"reward_range must be 'auto' or (low, high), got {reward_range!r}"
                ) from None
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(
                    f"reward_range must be finite with low < high, got {reward_range!r}"
                )
        self._gamma = 1.0 / t
        self._beta = math.exp(1.0 / math.log(t))
        shape = (m, *self._lead)
        self._p = np.full(shape, 1.0 / m)
        self._pbar = np.full(shape, 1.0 / m)
        self._eta = np.full(shape, eta)
        self._rho = np.full(shape, 2.0 * m)
        self._low = np.full(self._lead, np.inf)
        self._high = np.full(self._lead, -np.inf)

    @property
    def distribution(self) -> np.ndarray:
        """The sampling distribution ``pbar`` over the bases, ``(M, ...)``."""
        return self._pbar.copy()

    @property
    def floor(self) -> float:
        """The least probability of any base: ``gamma / M = 1 / (T M)``."""
        return self._gamma / self._m

    def _pick(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        picks = inverse_cdf(np.cumsum(self._pbar, axis=0), rng.random(self._lead), axis=0)
        return picks, np.take_along_axis(self._pbar, picks[None], axis=0)[0]

    def _loss(self, rewards: np.ndarray) -> np.ndarray:
        if isinstance(self.reward_range, str):
            self._low = np.minimum(self._low, rewards)
            self._high = np.maximum(self._high, rewards)
            low, high = self._low, self._high
        else:
            low, high = (np.asarray(float(v)) for v in self.reward_range)
        width = high - low
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(width > 0, (high - rewards) / width, 0.5)
        return np.clip(loss, 0.0, 1.0)

    def _update(self, rewards: np.ndarray) -> None:
        assert self._picks is not None
        losses = importance_weighted(self._loss(rewards), self._picks, self._pbar)
        self._p = log_barrier_step(self._p, losses, self._eta)
        self._pbar = (1.0 - self._gamma) * self._p + self._gamma / self._m
        grow = 1.0 / self._pbar > self._rho
        self._rho = np.where(grow, 2.0 / self._pbar, self._rho)
        self._eta = np.where(grow, self._beta * self._eta, self._eta)

    def _leading(self) -> np.ndarray:
        return np.argmax(self._pbar, axis=0)

    def _weights(self) -> np.ndarray:
        return self._pbar

    def _own_state(self) -> dict[str, np.ndarray]:
        return {
            k: getattr(self, f"_{k}").copy() for k in ("p", "pbar", "eta", "rho", "low", "high")
        }

    def _set_own_state(self, state: Mapping[str, np.ndarray]) -> None:
        for key in ("p", "pbar", "eta", "rho", "low", "high"):
            value = np.asarray(state[f"{key}"], dtype=float)
            if value.shape != getattr(self, f"_{key}").shape:
                raise ValueError(
                    f"state['meta:{key}'] has shape {value.shape}, expected "
                    f"{getattr(self, f'_{key}').shape}"
                )
            setattr(self, f"_{key}", value.copy())

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "bases": self.bases,
            "horizon": self.horizon,
            "learning_rate": self.learning_rate,
            "reward_range": self.reward_range,
            "n_replicates": self.n_replicates,
            "teach": self.teach,
        }

    def clone(self) -> Corral:
        """A fresh selector over fresh clones of the base learners (policies shared)."""
        params = self.get_params()
        del params["bases"]
        return Corral(self._cloned_bases(), **params)

    def __repr__(self) -> str:
        return f"Corral({self.names}, horizon={self.horizon}, learning_rate={self.learning_rate})"
