"""Regret bound balancing and elimination over whole bandit agents (Pacchiano, Dann, Gentile
and Bartlett 2020), with only the picked agent's reward seen."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from regretlab._validation import check_choice, check_real
from regretlab.policies.selection._bases import AgentSelector

__all__ = ["RegretBalancing", "RegretBound"]

_FORMS = ("sqrt(d n)", "d sqrt(n) log(n)")


class RegretBound:
    """A putative regret bound ``R(n)`` of a base agent after ``n`` of its own steps, as a rule:
    ``scale * sqrt(d n)`` (``form="sqrt(d n)"``, the order of a linear Thompson or UCB agent's
    regret up to logarithms) or ``scale * d * sqrt(n) * log(n)`` (``"d sqrt(n) log(n)"``, the
    order of the OFUL / LinUCB worst-case bound), with ``d`` the agent's number of coefficients
    and ``scale`` the reward noise's standard deviation (or the reward range).

    Examples
    --------
    >>> RegretBound(4)(np.array([0.0, 1.0, 100.0]))
    array([ 0.,  2., 20.])
    >>> float(RegretBound(4, form="d sqrt(n) log(n)")(np.e**2))
    21.746...
    >>> RegretBound(0)
    Traceback (most recent call last):
    ValueError: dimension must be > 0.0, got 0.0
    """

    def __init__(self, dimension: float, *, scale: float = 1.0, form: str = "sqrt(d n)") -> None:
        self.dimension = check_real("dimension", dimension, minimum=0.0, exclusive_minimum=True)
        self.scale = check_real("scale", scale, minimum=0.0, exclusive_minimum=True)
        self.form = check_choice("form", form, _FORMS)

    def __call__(self, n: Any) -> Any:
        n = np.asarray(n, dtype=float)
        if self.form == "sqrt(d n)":
            return self.scale * np.sqrt(self.dimension * n)
        return self.scale * self.dimension * np.sqrt(n) * np.log(np.maximum(n, 1.0))

    def __repr__(self) -> str:
        return f"RegretBound({self.dimension:g}, scale={self.scale:g}, form={self.form!r})"


class RegretBalancing(AgentSelector):
    """Regret bound balancing with elimination over whole bandit agents: each replicate plays
    the active base whose putative regret bound is smallest, and drops a base whose rewards
    show its bound to be wrong.

    Base ``i`` has a putative regret bound ``R_i(n)`` (``bounds``; see :class:`RegretBound`)
    after ``n_i`` of its own steps and a reward sum ``U_i``. Each step the active base with the
    least ``R_i(n_i)`` plays (ties: the first), which keeps the bounds balanced. After the step
    base ``i`` is eliminated when

        ``(U_i + R_i(n_i)) / n_i + c(n_i) < max_j (U_j / n_j - c(n_j))``

    over the active bases, with ``c(n) = confidence_scale * sqrt(2 ln(M max(ln n, 1) / delta)
    / n)``: its average reward plus the regret it claims to have paid cannot reach what another
    base demonstrably earns (Pacchiano et al. 2020, Algorithm 1, with a Gaussian confidence
    width). A base never eliminates itself, so one base always stays active. Only the picked
    base learns, from the observed reward.

    Parameters
    ----------
    bases
        As for :class:`Corral`: ``{name: (learner, policy)}`` or a sequence of Agents.
    bounds
        One callable ``R(n)`` per base (a sequence in the bases' order, or a mapping by name),
        vectorised over arrays of ``n``, finite and ``>= 0``.
    confidence_scale
        The reward noise's standard deviation (or the reward range for bounded rewards).
    delta
        The confidence level of the elimination test, in (0, 1).
    n_replicates
        ``R``; needed only when no base has a learner (else it is theirs).
    teach
        ``"picked"`` (default): only the picked base learns the step, in the replicates that
        picked it; ``"all"``: every base learns every step's observed reward (off-policy
        data for the bases that did not act; coba's ``mode="off-policy"``), so no base is
        starved, at the price of bases that learn from actions they did not choose.

    References
    ----------
    Pacchiano, A., Dann, C., Gentile, C. and Bartlett, P. (2020). Regret bound balancing and
    elimination for model selection in bandits and RL. arXiv:2012.13045.

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
    >>> bases = {"main": ts({"context:action": 0.0}), "full": ts(1.0)}
    >>> balancing = RegretBalancing(bases, bounds=[RegretBound(6), RegretBound(12)])
    >>> result = run_bandit(env, [Agent("rb", balancing, policy=ChosenAgent())], seed=1)
    >>> len(result.regret) > 0
    True
    """

    def __init__(
        self,
        bases: Any,
        *,
        bounds: Any,
        confidence_scale: float = 1.0,
        delta: float = 0.05,
        n_replicates: int | None = None,
        teach: str = "picked",
    ) -> None:
        super().__init__(bases, n_replicates, teach)
        self.teach = teach
        self.bounds = bounds
        self.confidence_scale = confidence_scale
        self.delta = delta
        self._bounds = _check_bounds(bounds, self.names)
        self._c = check_real("confidence_scale", confidence_scale, minimum=0.0)
        self._delta = check_real("delta", delta, minimum=0.0, exclusive_minimum=True, maximum=1.0)
        if self._delta >= 1.0:
            raise ValueError(f"delta must be < 1, got {delta}")
        self._sum = np.zeros((self._m, *self._lead))
        self._active = np.ones((self._m, *self._lead), dtype=bool)

    @property
    def active(self) -> np.ndarray:
        """Which bases are still in play, ``(M, ...)``."""
        return self._active.copy()

    def _putative(self) -> np.ndarray:
        return np.stack(
            [np.asarray(b(n), dtype=float) for b, n in zip(self._bounds, self._counts, strict=True)]
        )

    def _next(self) -> np.ndarray:
        return np.argmin(np.where(self._active, self._putative(), np.inf), axis=0)

    def _pick(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self._next(), np.ones(self._lead)

    def _width(self, n: np.ndarray) -> np.ndarray:
        log_n = np.log(np.maximum(n, 1.0))
        level = np.log(self._m * np.maximum(log_n, 1.0) / self._delta)
        with np.errstate(divide="ignore"):
            return self._c * np.sqrt(2.0 * level / n)

    def _update(self, rewards: np.ndarray) -> None:
        assert self._picks is not None
        np.add.at(self._sum, (self._picks, *np.indices(self._lead)), rewards)
        n = self._counts
        seen = self._active & (n > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self._sum / n
            width = self._width(n)
            upper = mean + self._putative() / n + width
            lower = np.where(seen, mean - width, -np.inf)
        best = lower.max(axis=0)
        self._active &= ~(seen & (upper < best))

    def _leading(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(self._active & (self._counts > 0), self._sum / self._counts, -np.inf)
        return np.argmax(mean, axis=0)

    def _weights(self) -> np.ndarray:
        return (np.arange(self._m).reshape((-1,) + (1,) * len(self._lead)) == self._next()) * 1.0

    def _own_state(self) -> dict[str, np.ndarray]:
        return {"sum": self._sum.copy(), "active": self._active.astype(float)}

    def _set_own_state(self, state: Mapping[str, np.ndarray]) -> None:
        for key in ("sum", "active"):
            value = np.asarray(state[key], dtype=float)
            if value.shape != self._sum.shape:
                raise ValueError(
                    f"state['meta:{key}'] has shape {value.shape}, expected {self._sum.shape}"
                )
        self._sum = np.asarray(state["sum"], dtype=float).copy()
        self._active = np.asarray(state["active"]) > 0.5

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "bases": self.bases,
            "bounds": self.bounds,
            "confidence_scale": self.confidence_scale,
            "delta": self.delta,
            "n_replicates": self.n_replicates,
            "teach": self.teach,
        }

    def clone(self) -> RegretBalancing:
        """A fresh selector over fresh clones of the base learners (policies shared)."""
        params = self.get_params()
        del params["bases"]
        return RegretBalancing(self._cloned_bases(), **params)

    def __repr__(self) -> str:
        return f"RegretBalancing({self.names}, bounds={self.bounds!r})"


def _check_bounds(bounds: Any, names: list[str]) -> list[Callable[[Any], Any]]:
    if isinstance(bounds, Mapping):
        missing = [n for n in names if n not in bounds]
        if missing or len(bounds) != len(names):
            raise ValueError(f"bounds must name exactly the bases {names}, got {list(bounds)}")
        listed = [bounds[n] for n in names]
    elif isinstance(bounds, list | tuple):
        if len(bounds) != len(names):
            raise ValueError(
                f"bounds must hold one bound per base ({len(names)}), got {len(bounds)}"
            )
        listed = list(bounds)
    else:
        raise TypeError(f"bounds must be a sequence or mapping of callables, got {bounds!r}")
    probe = np.array([0.0, 1.0, 10.0, 1000.0])
    for name, bound in zip(names, listed, strict=True):
        if not callable(bound):
            raise TypeError(f"bounds[{name!r}] must be callable R(n), got {bound!r}")
        values = np.asarray(bound(probe), dtype=float)
        if values.shape != probe.shape or not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(
                f"bounds[{name!r}] must map an array of n to finite values >= 0, got "
                f"{values!r} at n = {probe.tolist()}"
            )
    return listed
