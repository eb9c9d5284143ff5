"""Exploration policies: turn a learner's predictions or posterior into actions.

Every policy has ``select(model, designs, rng, *, step, means=None) -> Choice`` (the
:class:`~regretlab.base.Policy` protocol), ``designs`` ``(..., K, p)`` (one row per action,
replicates first), ``rng`` the policy's own generator, which breaks ties uniformly. The chosen
action's propensity is logged (exact, or Monte Carlo for Thompson sampling's
``propensity_draws``; greedy, LinUCB and the oracle are ``deterministic``), and
``action_probabilities`` (same arguments) gives every action's, ``(..., K)``
(:mod:`regretlab.policies.propensities`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab._validation import check_finite, check_int, check_real
from regretlab.base import Choice
from regretlab.policies._thompson_pick import thompson_pick
from regretlab.policies._ties import _ties, argmax_random_ties, row_max
from regretlab.policies.availability import draw_available, masked_scores, uniform_available
from regretlab.policies.propensities import (
    monte_carlo_shares,
    posterior_scores,
    sampled_propensity,
    tie_probabilities,
)

__all__ = [
    "Choice",
    "EpsilonGreedy",
    "Greedy",
    "LinUCB",
    "Oracle",
    "Random",
    "ThompsonSampling",
    "argmax_random_ties",
    "row_max",
]


class Greedy:
    """Pick the action with the highest predicted reward.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> model = BayesianLinearRegression(groups=("main",)).learn_one(np.array([1.0]), 2.0)
    >>> Greedy().select(model, np.array([[0.0], [1.0]]), np.random.default_rng(0), step=1)
    Choice(actions=np.int64(1), probability=np.float64(1.0), deterministic=True)
    """

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
        scores = masked_scores(np.asarray(model.predict_one(designs)), available)
        actions = argmax_random_ties(scores, rng)
        return Choice(actions, 1.0 / _ties(scores).sum(axis=-1), deterministic=True)

    def action_probabilities(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(..., K)``: 1 on the best predicted action (shared evenly among ties), else 0."""
        return tie_probabilities(masked_scores(np.asarray(model.predict_one(designs)), available))

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
        check_real("decay", decay, minimum=0.0)
        # With decay, epsilon is the constant c of c / t^decay and may exceed 1 (min(1, .)
        # applies early on); without, it is the probability itself.
        check_real("epsilon", epsilon, minimum=0.0, maximum=None if decay > 0 else 1.0)

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
        available: np.ndarray | None = None,
    ) -> Choice:
        scores = masked_scores(np.asarray(model.predict_one(designs)), available)
        eps = self.epsilon_at(step)
        ties = _ties(scores)
        greedy = argmax_random_ties(scores, rng)
        if eps == 0.0:  # exactly Greedy, drawing nothing more from the generator
            return Choice(greedy, 1.0 / ties.sum(axis=-1))
        explore = rng.random(scores.shape[:-1]) < eps
        uniform = draw_available(rng, scores.shape, available)
        actions = np.where(explore, uniform, greedy)
        chosen_tied = np.take_along_axis(ties, actions[..., None], axis=-1)[..., 0]
        uniform_share = np.take_along_axis(
            uniform_available(scores.shape, available), actions[..., None], axis=-1
        )[..., 0]
        probability = eps * uniform_share + (1.0 - eps) * chosen_tied / ties.sum(axis=-1)
        return Choice(actions, probability)

    def action_probabilities(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(..., K)``: ``epsilon_t / K`` everywhere plus ``1 - epsilon_t`` on the greedy
        action(s)."""
        scores = masked_scores(np.asarray(model.predict_one(designs)), available)
        eps = self.epsilon_at(step)
        uniform = uniform_available(scores.shape, available)
        return eps * uniform + (1.0 - eps) * tie_probabilities(scores)

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
        available: np.ndarray | None = None,
    ) -> Choice:
        scores = masked_scores(self._scores(model, designs), available)
        return Choice(
            argmax_random_ties(scores, rng), 1.0 / _ties(scores).sum(axis=-1), deterministic=True
        )

    def _scores(self, model: Any, designs: np.ndarray) -> np.ndarray:
        loc, sd = model.predict_one(designs, return_sd=True, include_noise=self.include_noise)
        return np.asarray(loc) + self.alpha * np.asarray(sd)

    def action_probabilities(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(..., K)``: 1 on the largest upper bound (shared evenly among ties), else 0."""
        return tie_probabilities(masked_scores(self._scores(model, designs), available))

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
    propensity_draws
        Posterior draws per decision that estimate the propensity of the chosen action
        (:mod:`regretlab.policies.propensities`: ``(1 + hits) / (1 + draws)``, standard error
        at most ``0.5 / sqrt(draws)``); ``0`` (the default, no extra cost) logs ``None``. The
        draws come from a child generator: the actions are the same either way.
        :meth:`action_probabilities` uses this many draws, or 1000 when it is 0.

    Examples
    --------
    >>> from regretlab.learners import DisjointBayesianLinearRegression
    >>> model = DisjointBayesianLinearRegression(groups=("main",), n_actions=3)
    >>> ThompsonSampling().select(model, np.ones((3, 1)), np.random.default_rng(0), step=1)
    Choice(actions=np.int64(2), probability=None, deterministic=False)
    >>> ts = ThompsonSampling(propensity_draws=999)
    >>> ts.select(model, np.ones((3, 1)), np.random.default_rng(0), step=1).probability
    array(0.32...)
    """

    def __init__(self, scale: float = 1.0, *, propensity_draws: int = 0) -> None:
        self.scale = scale
        self.propensity_draws = propensity_draws
        check_real("scale", scale, minimum=0.0)
        check_int("propensity_draws", propensity_draws, minimum=0)

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
        picked = thompson_pick(model, designs, rng, self.scale, available)  # compiled, or None
        scores = posterior_scores(model, designs, rng, self.scale) if picked is None else picked[0]
        if not np.isfinite(scores).all():  # as Greedy, whose model checks its designs
            check_finite("designs", np.asarray(designs, dtype=float))
            check_finite(f"ThompsonSampling's scores at step {step}", scores)
        if picked is None:
            picked = scores, argmax_random_ties(masked_scores(scores, available), rng)
        actions = picked[1]
        if not self.propensity_draws:
            return Choice(actions, None)
        draws = self.propensity_draws
        shares = monte_carlo_shares(self._sampler(model, designs, available), rng, draws)
        return Choice(actions, sampled_propensity(shares, actions, draws))

    def action_probabilities(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(..., K)``: shares of ``propensity_draws`` (1000 if 0) draws; se at most
        ``0.5 / sqrt(draws)``."""
        draws = self.propensity_draws or 1000
        return monte_carlo_shares(self._sampler(model, designs, available), rng, draws)

    def _sampler(self, model: Any, designs: np.ndarray, available: Any) -> Any:
        return lambda g, n: masked_scores(
            posterior_scores(model, designs, g, self.scale, n), available
        )

    def __repr__(self) -> str:
        if self.propensity_draws:
            return f"ThompsonSampling(scale={self.scale}, propensity_draws={self.propensity_draws})"
        return f"ThompsonSampling(scale={self.scale})"


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
        available: np.ndarray | None = None,
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
        shape = designs.shape[:-1]
        actions = draw_available(rng, shape, available)
        prob = uniform_available(shape, available)
        return Choice(actions, np.take_along_axis(prob, actions[..., None], axis=-1)[..., 0])

    def action_probabilities(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(..., K)``: ``1 / K`` for every action."""
        return uniform_available(designs.shape[:-1], available)

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
        available: np.ndarray | None = None,
    ) -> Choice:
        if means is None:
            raise ValueError("Oracle needs the expected rewards: means must not be None")
        means = masked_scores(np.asarray(means), available)
        return Choice(
            argmax_random_ties(means, rng), 1.0 / _ties(means).sum(axis=-1), deterministic=True
        )

    def action_probabilities(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(..., K)``: 1 on the best true action (shared evenly among ties), else 0."""
        if means is None:
            raise ValueError("Oracle needs the expected rewards: means must not be None")
        return tie_probabilities(masked_scores(np.asarray(means), available))

    def __repr__(self) -> str:
        return "Oracle()"
