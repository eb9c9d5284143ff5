"""Environments that know their truth: prediction streams, bandits and drift wrappers."""

from __future__ import annotations

from regretlab.environments.bandits import BanditStep, LinearBandit
from regretlab.environments.drift import AbruptChange, InteractionOnset
from regretlab.environments.interactions import InteractionStream, Observations
from regretlab.environments.multilevel import MultilevelStream
from regretlab.environments.supervised import SupervisedBandit

__all__ = [
    "AbruptChange",
    "BanditStep",
    "InteractionOnset",
    "InteractionStream",
    "LinearBandit",
    "MultilevelStream",
    "Observations",
    "SupervisedBandit",
]
