"""Exploration policies: turn a learner's predictions or posterior into actions.

Every policy has ``select(model, designs, rng, *, step, means=None) -> Choice`` (the
:class:`~regretlab.base.Policy` protocol) where
``designs`` is ``(..., K, p)`` (one design row per action, replicates first) and ``rng`` is the
policy's own generator. Ties are broken uniformly at random with that generator. Where it is
cheap, the probability with which the chosen action was picked is returned for logging
(propensities for off-policy evaluation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab._validation import check_int, check_real
from regretlab.base import Choice
from regretlab.policies.propensity import thompson_propensity

__all__ = [
    "Choice",
    "EpsilonGreedy",
    "Greedy",
    "LinUCB",
    "Oracle",
    "Random",
    "ThompsonSampling",
    "argmax_random_ties",
]


def row_max(values: np.ndarray) -> np.ndarray:
    """``values.max(axis=-1)``, reduced over a contiguous copy with the last axis first.

    numpy reduces a short contiguous last axis row by row, several times slower than a copy
    and elementwise maxima of whole rows (the same values: NaN propagates either way).

    >>> row_max(np.array([[1.0, 3.0, 2.0], [0.0, -1.0, np.nan]]))
    array([ 3., nan])
    """
    return np.maximum.reduce(values.transpose(-1, *range(values.ndim - 1)).copy(), axis=0)


def _ties(scores: np.ndarray) -> np.ndarray:
    return scores == row_max(scores)[..., None]


def argmax_random_ties(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Index of the largest score along the last axis, ties broken uniformly at random.

    >>> argmax_random_ties(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]), np.random.default_rng(0))
    array([1, 0])
    """
    # A uniform key per tied entry (0 elsewhere): the largest key is a uniform pick among ties.
    keys = rng.random(np.shape(scores))
    keys *= _ties(scores)
    return keys.argmax(axis=-1)


class Greedy:
    """Pick the action with the highest predicted reward.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> model = BayesianLinearRegression(groups=("main",)).learn_one(np.array([1.0]), 2.0)
    >>> Greedy().select(model, np.array([[0.0], [1.0]]), np.random.default_rng(0), step=1)
    Choice(actions=np.int64(1), probability=np.float64(1.0))
    """

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
    ) -> Choice:
        scores = np.asarray(model.predict_one(designs))
        actions = argmax_random_ties(scores, rng)
        return Choice(actions, 1.0 / _ties(scores).sum(axis=-1))

    def __repr__(self) -> str:
        return "Greedy()"


class EpsilonGreedy:
    """With probability ``epsilon_t`` a uniform random action, else the greedy one.

    ``epsilon_t = min(1, epsilon * step ** -decay)``: ``decay=0`` keeps it constant, ``decay=1``
    gives the classic ``c / t`` schedule (Auer, Cesa-Bianchi & Fischer 2002).

    Examples
    --------
    >>> EpsilonGreedy(epsilon=0.5, decay=1.0).epsilon_at(5)
    0.1
    """

    def __init__(self, epsilon: float = 0.1, *, decay: float = 0.0) -> None:
        self.epsilon = epsilon
        self.decay = decay
        check_real("epsilon", epsilon, minimum=0.0)
        check_real("decay", decay, minimum=0.0)

    def epsilon_at(self, step: int) -> float:
        return min(1.0, self.epsilon * float(step) ** -self.decay)

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
    ) -> Choice:
        scores = np.asarray(model.predict_one(designs))
        eps = self.epsilon_at(step)
        ties = _ties(scores)
        greedy = argmax_random_ties(scores, rng)
        if eps == 0.0:  # exactly Greedy, drawing nothing more from the generator
            return Choice(greedy, 1.0 / ties.sum(axis=-1))
        k = scores.shape[-1]
        explore = rng.random(scores.shape[:-1]) < eps
        uniform = rng.integers(0, k, size=scores.shape[:-1])
        actions = np.where(explore, uniform, greedy)
        chosen_tied = np.take_along_axis(ties, actions[..., None], axis=-1)[..., 0]
        probability = eps / k + (1.0 - eps) * chosen_tied / ties.sum(axis=-1)
        return Choice(actions, probability)

    def __repr__(self) -> str:
        return f"EpsilonGreedy(epsilon={self.epsilon}, decay={self.decay})"


class LinUCB:
    """Optimism: pick the largest ``mean + alpha * sd`` of the predicted mean reward.

    ``sd`` is the posterior sd of ``x'w`` (without the noise), as in Li et al. (2010), whose
    ``sqrt(x'A^{-1}x)`` is this sd for a unit-variance prior and unit noise precision. With
    ``include_noise=True`` the sd is the predictive one, ``sqrt(1 / beta + x'S x)``: river's
    ``bandit.LinUCBDisjoint`` ranks actions by exactly this with ``alpha=1``.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> model = BayesianLinearRegression(groups=("main", "main"))
    >>> model = model.learn_one(np.array([1.0, 0.0]), 1.0)
    >>> LinUCB(alpha=2.0).select(model, np.eye(2), np.random.default_rng(0), step=2).actions
    np.int64(1)
    """

    def __init__(self, alpha: float = 1.0, *, include_noise: bool = False) -> None:
        self.alpha = alpha
        self.include_noise = include_noise
        check_real("alpha", alpha, minimum=0.0)

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
    ) -> Choice:
        loc, sd = model.predict_one(designs, return_sd=True, include_noise=self.include_noise)
        scores = np.asarray(loc) + self.alpha * np.asarray(sd)
        return Choice(argmax_random_ties(scores, rng), None)

    def __repr__(self) -> str:
        return f"LinUCB(alpha={self.alpha}, include_noise={self.include_noise})"


class ThompsonSampling:
    """Draw the weights from the posterior, then act greedily on the draw.

    One draw per replicate per step from a shared model. For a per-action model (one with
    ``n_actions``) the draws are independent per action, and since the policy only uses each
    action's score ``x_a'w_a``, the score is drawn directly from its marginal
    ``N(x_a'm_a, x_a'S_a x_a)``: exactly the distribution of the score of a drawn weight
    vector, at the cost of one normal per action instead of ``p``.

    Parameters
    ----------
    scale
        Multiplies the spread of the draws around the posterior mean (Agrawal and Goyal's
        ``v``; MABWiser's ``LinTS(alpha=...)``). ``1`` is exact posterior sampling; smaller
        values explore less (``0`` is greedy on the posterior mean, up to ties).
    n_propensity_draws
        With ``M > 0``, the probability of the chosen action is estimated from ``M`` more
        draws (:func:`~regretlab.policies.propensity.thompson_propensity`) and returned in
        :class:`Choice` for off-policy evaluation; ``0`` returns ``None``.

    Examples
    --------
    >>> from regretlab.learners import DisjointBayesianLinearRegression
    >>> model = DisjointBayesianLinearRegression(groups=("main",), n_actions=3)
    >>> ThompsonSampling().select(model, np.ones((3, 1)), np.random.default_rng(0), step=1)
    Choice(actions=np.int64(2), probability=None)
    """

    def __init__(self, scale: float = 1.0, *, n_propensity_draws: int = 0) -> None:
        self.scale = scale
        self.n_propensity_draws = n_propensity_draws
        check_real("scale", scale, minimum=0.0)
        check_int("n_propensity_draws", n_propensity_draws, minimum=0)

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
    ) -> Choice:
        if getattr(model, "n_actions", None) is not None:
            loc, sd = model.predict_one(designs, return_sd=True, include_noise=False)
            scores = rng.standard_normal(np.shape(loc))
            scores *= sd if self.scale == 1.0 else self.scale * sd
            scores += loc
        else:
            weights = model.sample(rng)
            if self.scale != 1.0:
                center = np.asarray(model.mean)
                weights = center + self.scale * (weights - center)
            scores = np.einsum("...kp,...p->...k", designs, weights)
        actions = argmax_random_ties(scores, rng)
        if not self.n_propensity_draws:
            return Choice(actions, None)
        draws = self.n_propensity_draws
        return Choice(actions, thompson_propensity(model, designs, actions, rng, draws, self.scale))

    def __repr__(self) -> str:
        extra = f", n_propensity_draws={self.n_propensity_draws}" if self.n_propensity_draws else ""
        return f"ThompsonSampling(scale={self.scale}{extra})"


class Random:
    """A uniform random action; needs no model.

    >>> Random().select(None, np.zeros((2, 4, 1)), np.random.default_rng(0), step=1).probability
    array([0.25, 0.25])
    """

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
    ) -> Choice:
        """A uniform action per replicate from ``rng``; ``model``, ``step`` and ``means`` unused.

        Parameters
        ----------
        model
            Ignored (may be ``None``).
        designs
            ``(..., K, p)``: only the shape is read, for the replicate axes and ``K``.
        rng
            The policy's own generator; one integer draw per replicate.
        step, means
            Ignored; accepted as every policy accepts them.

        Returns
        -------
        Choice
            ``actions`` of shape ``designs.shape[:-2]`` and ``probability`` ``1 / K`` each.
        """
        lead, k = designs.shape[:-2], designs.shape[-2]
        return Choice(rng.integers(0, k, size=lead), np.full(lead, 1.0 / k))

    def __repr__(self) -> str:
        return "Random()"


class Oracle:
    """The best action under the true expected rewards (``means``); zero pseudo-regret.

    >>> Oracle().select(None, np.zeros((3, 1)), np.random.default_rng(0), step=1,
    ...                 means=np.array([0.1, 0.7, 0.2])).actions
    np.int64(1)
    """

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
    ) -> Choice:
        if means is None:
            raise ValueError("Oracle needs the expected rewards: means must not be None")
        return Choice(argmax_random_ties(np.asarray(means), rng), None)

    def __repr__(self) -> str:
        return "Oracle()"
