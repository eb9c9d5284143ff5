"""Contextual bandits with binary (logistic) or count (log-linear) rewards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_function
from regretlab._random import SeedLike
from regretlab._validation import check_choice, check_real
from regretlab.environments.bandits import BanditStep, LinearBandit, _check_range
from regretlab.environments.noise import Noise
from regretlab.environments.rewards import Bernoulli, Poisson, RewardModel

if TYPE_CHECKING:
    from scipy.special import expit
else:
    expit = lazy_function("scipy.special", "expit")

__all__ = ["GLMBandit"]

_LINKS = ("logit", "log")


class _NoShock(Noise):
    """Zero noise that draws nothing: the linear bandit's rewards are then its linear predictor,
    and the reward model draws from the noise stream instead."""

    def shocks(self, rng: np.random.Generator, shape: tuple[int, ...], inputs: Any) -> np.ndarray:
        return np.zeros(shape)

    def multiplier(self, inputs: Any) -> float:
        return 0.0

    def sd(self, inputs: Any = None) -> float:
        return 0.0

    def sample(
        self,
        rng: np.random.Generator,
        shape: tuple[int, ...],
        inputs: np.ndarray | None = None,
        *,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        if out is None:
            return np.zeros(shape)
        out[...] = 0.0
        return out

    def __reduce__(self) -> tuple:
        return (_NoShock, ())


class GLMBandit(LinearBandit):
    """A :class:`LinearBandit` whose expected reward is ``mu(eta)`` of its linear predictor.

    ``eta = features.transform(context) @ true_weights`` exactly as in :class:`LinearBandit`
    (same design, same truth and contexts for the same seed, interactions present or absent
    through ``interaction_scale``), and ``means = mu(eta)``: the logistic function
    (``link="logit"``, click rates) or ``exp`` (``link="log"``, counts). The reward of every
    action is drawn by a reward model of :mod:`regretlab.environments.rewards` from the
    replicate's noise stream, ``reward.observe(rng, means)``, one replicate's block at a time
    in time order (so the draws do not depend on ``block_size``); every agent of a replicate
    sees the same draws.

    Parameters
    ----------
    link
        ``"logit"`` or ``"log"``.
    reward
        The reward model; ``None`` is :class:`Bernoulli` for the logit and :class:`Poisson`
        for the log link. Its mean bounds must hold the link's range.
    intercept
        If given, the true intercept weight (the other weights are drawn as usual): ``-4.5``
        puts the typical click rate of a logistic bandit near 1-3%.
    weight_scale
        Multiplies every drawn weight but a given ``intercept`` (counts need smaller
        predictors than clicks).
    n_actions, context_dim, interaction_scale, context_pairwise, pairwise_scale
        The design and the truth, as for :class:`LinearBandit`.
    horizon, n_replicates, seed, block_size
        As for :class:`LinearBandit` (there is no additive noise).

    Examples
    --------
    >>> env = GLMBandit(n_actions=3, context_dim=2, horizon=5, intercept=-4.5, seed=0)
    >>> step = next(iter(env))
    >>> eta = env.features.transform(step.context) @ env.true_weights
    >>> bool(np.allclose(step.means, 1 / (1 + np.exp(-eta)))), set(step.rewards) <= {0.0, 1.0}
    (True, True)
    >>> GLMBandit(link="log", horizon=10, n_replicates=2, seed=1).take(10).rewards.shape
    (2, 10, 5)
    """

    def __init__(
        self,
        *,
        link: str = "logit",
        reward: RewardModel | None = None,
        intercept: float | None = None,
        weight_scale: float = 1.0,
        n_actions: int = 5,
        context_dim: int = 6,
        interaction_scale: float = 1.0,
        context_pairwise: bool = False,
        pairwise_scale: float | None = None,
        horizon: int = 10_000,
        n_replicates: int | None = None,
        seed: SeedLike = None,
        block_size: int | None = None,
    ) -> None:
        self.link = link
        self.reward = reward
        self.intercept = intercept
        self.weight_scale = weight_scale
        check_choice("link", link, _LINKS)
        if intercept is not None:
            check_real("intercept", intercept)
        check_real("weight_scale", weight_scale, minimum=0.0)
        self._reward = (Bernoulli() if link == "logit" else Poisson()) if reward is None else reward
        if not isinstance(self._reward, RewardModel):
            raise TypeError(
                f"reward must be a reward model such as Bernoulli() or Poisson(), got {reward!r}"
            )
        low, high = self._reward.mean_bounds
        need = (0.0, 1.0) if link == "logit" else (0.0, np.inf)
        if low > need[0] or high < need[1]:
            raise ValueError(
                f"reward {self._reward!r} takes means in [{low}, {high}], but the {link} link "
                f"gives means in [{need[0]}, {need[1]}]"
            )
        super().__init__(
            n_actions=n_actions,
            context_dim=context_dim,
            interaction_scale=interaction_scale,
            noise=_NoShock(),
            context_pairwise=context_pairwise,
            pairwise_scale=pairwise_scale,
            horizon=horizon,
            n_replicates=n_replicates,
            seed=seed,
            block_size=block_size,
        )

    def draw_true_weights(self, rng: np.random.Generator) -> np.ndarray:
        """One replicate's weights: :class:`LinearBandit`'s, scaled, with the intercept set."""
        w = super().draw_true_weights(rng) * self.weight_scale
        if self.intercept is not None:
            w[0] = self.intercept
        return w

    def mean_response(self, eta: np.ndarray) -> np.ndarray:
        """``mu(eta)``: the expected reward of a linear predictor."""
        if self.link == "logit":
            return expit(eta)
        return np.exp(eta)

    def _draw(
        self, context_gens: list[np.random.Generator], noise_gens: list[np.random.Generator], m: int
    ) -> BanditStep:
        # The linear bandit with no noise: its rewards are the linear predictor, laid out
        # time-major in memory.
        linear = super()._draw(context_gens, noise_gens, m)
        means = self.mean_response(linear.rewards)
        rewards = np.empty_like(means)
        if self.n_replicates is None:
            rewards[...] = self._reward.observe(noise_gens[0], means)
        else:
            for r, g in enumerate(noise_gens):
                rewards[r] = self._reward.observe(g, means[r])
        return BanditStep(linear.context, rewards, means)

    def take(self, stop: int, start: int = 0) -> BanditStep:
        """Steps ``start .. stop - 1`` as one block.

        The reward draws of a step depend on its means, so earlier steps are drawn, not
        skipped: ``take(stop, start)`` costs as much as ``take(stop)``.
        """
        _check_range(start, stop, self.horizon)
        block = super().take(stop)
        if start == 0:
            return block
        cut = slice(start, stop)
        if self.n_replicates is None:
            return BanditStep(*(a[cut].copy() for a in block))
        return BanditStep(*(a[:, cut].copy() for a in block))

    def __repr__(self) -> str:
        return (
            f"GLMBandit(link={self.link!r}, "
            f"{'' if self.reward is None else f'reward={self.reward!r}, '}"
            f"intercept={self.intercept}, weight_scale={self.weight_scale}, "
            f"n_actions={self.n_actions}, context_dim={self.context_dim}, "
            f"interaction_scale={self.interaction_scale}, "
            f"context_pairwise={self.context_pairwise}, pairwise_scale={self.pairwise_scale}, "
            f"horizon={self.horizon}, n_replicates={self.n_replicates})"
        )
