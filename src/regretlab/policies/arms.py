"""Index and sampling rules of the classic multi-armed bandit, over per-arm learners.

The rules read what a per-arm learner (:mod:`regretlab.learners.arms`) keeps for every
replicate and arm: pulls ``n_seen`` and empirical means ``reward_mean`` (UCB1, KL-UCB), the
conjugate posterior (``sample_means``, ``quantile``: Thompson sampling, Bayes-UCB) or the
importance-weighted reward sums (EXP3). An arm never pulled has an infinite index, so the
index rules pull every arm once first. Ties are broken uniformly at random with the policy's
generator. ``Choice.probability`` is the propensity (see :class:`~regretlab.base.Choice`):
``1 / (number of tied maxima)`` for the deterministic index rules, the closed form for
:class:`Softmax` and :class:`Exp3`, and a Monte Carlo estimate for
:class:`~regretlab.policies.arm_sampling.ConjugateThompsonSampling` when asked for (its module).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_module
from regretlab._validation import check_choice, check_int, check_real
from regretlab.base import Choice
from regretlab.learners import _arm_kernels
from regretlab.policies._kl import FAMILIES, kl_index
from regretlab.policies._ties import inverse_cdf
from regretlab.policies.availability import check_available, masked_probabilities, masked_scores

if TYPE_CHECKING:
    from scipy import special
else:
    special = lazy_module("scipy.special")

__all__ = ["KLUCB", "UCB1", "BayesUCB", "Exp3", "Softmax"]


def _needs(policy: Any, model: Any, *names: str) -> None:
    missing = [n for n in names if not hasattr(model, n)]
    if missing:
        raise TypeError(
            f"{policy!r} needs a per-arm learner with {', '.join(names)} (ArmMeans, "
            f"BetaBernoulli, GammaPoisson), got {type(model).__name__}"
        )


def _index_choice(index: np.ndarray, rng: np.random.Generator) -> Choice:
    """The largest index (ties at random) and its propensity ``1 / ties``.

    Only the replicates whose maximum is tied draw from the generator: one uniform key per arm,
    ``rng.random((tied replicates, K))`` in replicate order, and the largest key among the tied
    arms wins (a uniform pick). A step without a tie anywhere draws nothing. The maxima and tie
    counts are reduced over a transposed copy, arms first (numpy reduces a short last axis row
    by row, several times slower).
    """
    kernel = _arm_kernels.compiled("first_max")
    if kernel is not None and index.ndim == 2 and index.dtype == np.float64:
        actions, prob, tied = _choice_arrays(len(index))
        return _compiled_ties(index, actions, prob, tied[: kernel(index, actions, prob, tied)], rng)
    arms_first = index.T.copy()  # (K, R): indices are (R, K), or (K,) for one stream
    ties = arms_first == np.maximum.reduce(arms_first, axis=0)
    count = np.add.reduce(ties, axis=0)
    actions = np.argmax(index, axis=-1)
    if np.max(count) > 1:
        if index.ndim == 1:  # one stream
            return Choice((rng.random(index.shape) * ties).argmax(), 1.0 / count)
        rows = np.flatnonzero(count > 1)
        keys = rng.random((len(rows), index.shape[-1]))
        keys *= ties[:, rows].T
        actions[rows] = keys.argmax(axis=-1)
    return Choice(actions, 1.0 / count)


def _choice_arrays(r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The compiled choice's outputs for ``r`` replicates: actions, propensities, tied rows."""
    return np.empty(r, dtype=np.intp), np.empty(r), np.empty(r, dtype=np.intp)


def _compiled_ties(
    index: np.ndarray,
    actions: np.ndarray,
    prob: np.ndarray,
    tied: np.ndarray,
    rng: np.random.Generator,
) -> Choice:
    """The compiled choice's tie-break in the ``tied`` rows (the same keys as the numpy rule
    of :func:`_index_choice`), and the choice."""
    if len(tied):
        kernel = _arm_kernels.compiled("tied_first_max")
        assert kernel is not None  # compiled with first_max, or neither is
        kernel(index, tied, rng.random((len(tied), index.shape[1])), actions)
    return Choice(actions, prob)


def _pulls(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every arm's pulls ``(..., K)`` and their total ``(..., 1)``."""
    views = getattr(model, "_arm_views", None)
    arrays = None if views is None else views()
    if arrays is not None:  # the learner's own arrays: read, never written
        return arrays[0], arrays[2][:, None]
    n = np.asarray(model.n_seen)
    total = getattr(model, "n_total", None)
    total = n.sum(axis=-1) if total is None else np.asarray(total)
    return n, total[..., None]


def _ratio(top: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``top / n`` (``top`` broadcasts), ``inf`` where ``n == 0`` (without a warning)."""
    if np.min(n) > 0:  # every arm pulled: the common case after the first K steps
        return np.divide(top, n)
    return np.divide(top, n, out=np.full(n.shape, np.inf), where=n > 0)


class UCB1:
    """UCB1 (Auer, Cesa-Bianchi & Fischer 2002): ``mean_a + alpha * sqrt(2 log N / n_a)``.

    ``N`` is the total number of pulls so far and ``n_a`` arm ``a``'s; ``alpha = 1`` is the
    classic rule (MABWiser's ``UCB1(alpha)``, river's ``UCB(delta)`` with the same constant).

    Examples
    --------
    >>> from regretlab.learners import ArmMeans
    >>> model = ArmMeans(n_actions=2)
    >>> for a, y in [(0, 1.0), (1, 0.0), (1, 1.0)]:
    ...     model = model.learn_one(np.zeros(2), y, action=a)
    >>> UCB1().index(model).round(4)
    array([2.4823, 1.5481])
    """

    #: Reads a per-arm learner (what :func:`regretlab.checks.check_policy` trains for it).
    learner_kind = "arms"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = check_real("alpha", alpha, minimum=0.0)

    def index(self, model: Any) -> np.ndarray:
        """Every arm's upper confidence bound, ``(..., K)``."""
        _needs(self, model, "n_seen", "reward_mean")
        n, total = _pulls(model)
        scale = (2.0 * self.alpha**2) * np.log(np.maximum(total, 1.0))
        kernel = _arm_kernels.compiled("ucb_index")
        views = getattr(model, "_arm_views", None)
        arrays = None if kernel is None or views is None else views()
        if kernel is not None and arrays is not None:  # one compiled pass, no copies
            out = np.empty(n.shape)
            kernel(arrays[1], n, scale[:, 0], out)
            return out
        bonus = _ratio(scale, n)
        np.sqrt(bonus, out=bonus)
        bonus += np.asarray(model.reward_mean)  # an arm never pulled keeps its infinite bonus
        return bonus

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> Choice:
        fused = _arm_kernels.compiled("ucb_first_max")
        views = getattr(model, "_arm_views", None)
        arrays = None if fused is None or views is None or available is not None else views()
        if fused is not None and arrays is not None:  # the index and its maximum in one pass
            _needs(self, model, "n_seen", "reward_mean")
            n, mean, total = arrays
            scale = (2.0 * self.alpha**2) * np.log(np.maximum(total, 1.0))
            index = np.empty(n.shape)
            actions, prob, tied = _choice_arrays(len(n))
            n_tied = fused(mean, n, scale, index, actions, prob, tied)
            return _compiled_ties(index, actions, prob, tied[:n_tied], rng)
        return _index_choice(masked_scores(self.index(model), available), rng)

    def __repr__(self) -> str:
        return f"UCB1(alpha={self.alpha})"


class KLUCB:
    """KL-UCB (Garivier & Cappé 2011; Cappé et al. 2013): the largest ``q`` with
    ``n_a KL(mean_a, q) <= log N + c log log N``.

    ``family`` picks the divergence: ``"bernoulli"`` (rewards in [0, 1]), ``"poisson"``
    (counts), ``"gaussian"`` (known ``variance``: ``mean + sqrt(2 variance log N / n_a)``).
    ``N`` is the total number of pulls so far; ``c = 0`` is the recommended practice (the
    regret bound is proved for ``c = 3``). The index is solved by Newton's method for all
    replicates and arms at once (:func:`regretlab.policies._kl.kl_index`).

    Examples
    --------
    >>> from regretlab.learners import ArmMeans
    >>> model = ArmMeans(n_actions=2)
    >>> for a, y in [(0, 1.0), (1, 0.0), (1, 1.0)]:
    ...     model = model.learn_one(np.zeros(2), y, action=a)
    >>> KLUCB().index(model).round(4)
    array([1.    , 0.9082])
    """

    #: Reads a per-arm learner (what :func:`regretlab.checks.check_policy` trains for it).
    learner_kind = "arms"

    def __init__(self, family: str = "bernoulli", *, c: float = 0.0, variance: float = 1.0) -> None:
        self.family = check_choice("family", family, FAMILIES)
        self.c = check_real("c", c, minimum=0.0)
        self.variance = check_real("variance", variance, minimum=0.0, exclusive_minimum=True)

    def index(self, model: Any) -> np.ndarray:
        """Every arm's KL upper confidence bound, ``(..., K)``."""
        _needs(self, model, "n_seen", "reward_mean")
        n, total = _pulls(model)
        level = np.log(np.maximum(total, 1.0))
        if self.c:
            level = level + self.c * np.log(np.maximum(level, 1.0))
        delta = _ratio(level, n)
        mean = np.asarray(model.reward_mean)
        if self.family == "bernoulli":
            mean = np.clip(mean, 0.0, 1.0)
        elif self.family == "poisson":
            mean = np.maximum(mean, 0.0)
        return kl_index(mean, delta, self.family, self.variance)

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> Choice:
        return _index_choice(masked_scores(self.index(model), available), rng)

    def __repr__(self) -> str:
        return f"KLUCB(family={self.family!r}, c={self.c}, variance={self.variance})"


class BayesUCB:
    """Bayes-UCB (Kaufmann, Cappé & Garivier 2012): the posterior quantile ``1 - 1/(t + 1)``
    of every arm's mean at step ``t`` (1-based).

    Reads ``quantile(q)`` of a conjugate arm learner (:class:`~regretlab.learners.BetaBernoulli`,
    :class:`~regretlab.learners.GammaPoisson`: exact quantiles), else the Gaussian quantile
    ``loc + z_q sd`` of ``predict_one(designs, return_sd=True, include_noise=False)`` (the
    per-arm Gaussian posteriors of a linear learner on the one-hot design).

    Examples
    --------
    >>> from regretlab.learners import BetaBernoulli
    >>> model = BetaBernoulli(n_actions=2).learn_one(np.zeros(2), 1.0, action=0)
    >>> BayesUCB().select(model, np.eye(2), np.random.default_rng(0), step=1).actions
    np.int64(0)
    """

    def level(self, step: int) -> float:
        """The quantile level at ``step``: ``1 - 1 / (step + 1)``."""
        return 1.0 - 1.0 / (check_int("step", step, minimum=1) + 1.0)

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> Choice:
        q = self.level(step)
        if hasattr(model, "quantile"):
            index = np.asarray(model.quantile(q))
        else:
            loc, sd = model.predict_one(designs, return_sd=True, include_noise=False)
            index = np.asarray(loc) + special.ndtri(q) * np.asarray(sd)
        return _index_choice(masked_scores(index, available), rng)

    def __repr__(self) -> str:
        return "BayesUCB()"


def _draw(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of ``probabilities`` ``(..., K)`` by the inverse CDF of a uniform."""
    cdf = np.cumsum(probabilities, axis=-1)
    return inverse_cdf(cdf, rng.random(probabilities.shape[:-1]) * cdf[..., -1])


def _softmax(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


class Softmax:
    """Boltzmann exploration: ``P(a) = exp(s_a / temperature) / sum_b exp(s_b / temperature)``
    over the learner's predictions ``s`` (MABWiser's ``Softmax(tau)``; VW's ``--softmax`` with
    ``lambda = 1 / temperature``).

    ``temperature > 0`` (0 would be greedy: use :class:`~regretlab.policies.Greedy`). The
    probability of the chosen action is exact.

    Examples
    --------
    >>> from regretlab.learners import ArmMeans
    >>> model = ArmMeans(n_actions=2).learn_one(np.zeros(2), 1.0, action=0)
    >>> Softmax(temperature=1.0).probabilities(model, np.eye(2)).round(4)
    array([0.7311, 0.2689])
    """

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = check_real(
            "temperature", temperature, minimum=0.0, exclusive_minimum=True
        )

    def probabilities(self, model: Any, designs: np.ndarray) -> np.ndarray:
        """Every action's probability, ``(..., K)``."""
        scores = np.asarray(model.predict_one(designs), dtype=float)
        return _softmax(scores / self.temperature)

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> Choice:
        prob = masked_probabilities(self.probabilities(model, designs), available)
        actions = _draw(prob, rng)
        return Choice(actions, np.take_along_axis(prob, actions[..., None], axis=-1)[..., 0])

    def __repr__(self) -> str:
        return f"Softmax(temperature={self.temperature})"


class Exp3:
    """EXP3 (Auer, Cesa-Bianchi, Freund & Schapire 2002) for rewards in ``[0, 1]``.

    ``P(a) = (1 - gamma) exp(eta S_a) / sum_b exp(eta S_b) + gamma / K`` with ``eta = gamma /
    K`` and ``S_a`` the importance-weighted reward sum ``sum y / p`` of arm ``a`` (kept by a
    per-arm learner: the runner passes it each step's propensity). The gamma rule: a given
    ``gamma`` in (0, 1] is used at every step; ``gamma=None`` uses
    ``gamma_t = min(1, sqrt(K ln K / ((e - 1) t)))`` at step ``t``, Auer et al.'s Corollary 3.2
    with the bound ``g`` on the best arm's total reward set to ``t`` (anytime). The
    probability of the chosen action is exact.

    Examples
    --------
    >>> Exp3().gamma_at(step=100, n_actions=2).round(4)
    np.float64(0.0898)
    """

    #: Reads a per-arm learner (what :func:`regretlab.checks.check_policy` trains for it).
    learner_kind = "arms"

    def __init__(self, gamma: float | None = None) -> None:
        self.gamma = gamma
        if gamma is not None:
            check_real("gamma", gamma, minimum=0.0, exclusive_minimum=True, maximum=1.0)

    def gamma_at(self, step: int, n_actions: Any) -> Any:
        """The exploration rate at ``step`` (1-based) for ``n_actions`` arms."""
        if self.gamma is not None:
            return np.float64(self.gamma)
        k = n_actions  # an array of per-replicate counts of available arms, too
        return np.minimum(1.0, np.sqrt(k * np.log(k) / ((math.e - 1.0) * step)))

    def probabilities(self, model: Any, step: int, available: Any = None) -> np.ndarray:
        """Every arm's probability, ``(..., K)``; with ``available``, EXP3 over the available
        arms (``K`` their number, zero on the others)."""
        _needs(self, model, "importance_weighted_sum")
        weighted = np.asarray(model.importance_weighted_sum, dtype=float)
        mask = None if available is None else check_available(available, weighted.shape)
        k = weighted.shape[-1] if mask is None else mask.sum(axis=-1, keepdims=True)
        gamma = self.gamma_at(step, k)
        prob = _softmax(masked_scores(weighted * (gamma / k), mask))
        prob *= 1.0 - gamma
        prob += gamma / k if mask is None else mask * (gamma / k)
        return prob

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> Choice:
        prob = self.probabilities(model, step, available)
        actions = _draw(prob, rng)
        return Choice(actions, np.take_along_axis(prob, actions[..., None], axis=-1)[..., 0])

    def __repr__(self) -> str:
        return f"Exp3(gamma={self.gamma})"
