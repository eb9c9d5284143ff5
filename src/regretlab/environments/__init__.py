"""Environments that know their truth: prediction streams, bandits, noise models, drift."""

from __future__ import annotations

from regretlab.environments.arms import (
    AdversarialBandit,
    ArmStep,
    MultiArmedBandit,
    PiecewiseStationaryBandit,
)
from regretlab.environments.bandits import BanditStep, LinearBandit
from regretlab.environments.drift import AbruptChange, InteractionOnset
from regretlab.environments.glm_bandit import GLMBandit
from regretlab.environments.gradual import ArmAppears, AvailableStep, GradualDrift
from regretlab.environments.interactions import InteractionStream, Observations
from regretlab.environments.multilevel import MultilevelStream
from regretlab.environments.noise import Custom, Gaussian, Heteroscedastic, Noise, StudentT
from regretlab.environments.rewards import Bernoulli, Binomial, Poisson, RewardModel
from regretlab.environments.supervised import SupervisedBandit

__all__ = [
    "AbruptChange",
    "AdversarialBandit",
    "ArmAppears",
    "ArmStep",
    "AvailableStep",
    "BanditStep",
    "Bernoulli",
    "Binomial",
    "Custom",
    "GLMBandit",
    "Gaussian",
    "GradualDrift",
    "Heteroscedastic",
    "InteractionOnset",
    "InteractionStream",
    "LinearBandit",
    "MultiArmedBandit",
    "MultilevelStream",
    "Noise",
    "Observations",
    "PiecewiseStationaryBandit",
    "Poisson",
    "RewardModel",
    "StudentT",
    "SupervisedBandit",
]
