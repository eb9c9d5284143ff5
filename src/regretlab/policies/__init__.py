"""Policies: exploration (turning posteriors into actions) and, later, escalation schedulers."""

from __future__ import annotations

from regretlab.policies.bootstrap import BootstrappedThompsonSampling
from regretlab.policies.exploration import (
    Choice,
    EpsilonGreedy,
    Greedy,
    LinUCB,
    Oracle,
    Random,
    ThompsonSampling,
    argmax_random_ties,
)
from regretlab.policies.propensity import thompson_propensity
from regretlab.policies.squarecb import SquareCB, inverse_gap_weights

__all__ = [
    "BootstrappedThompsonSampling",
    "Choice",
    "EpsilonGreedy",
    "Greedy",
    "LinUCB",
    "Oracle",
    "Random",
    "SquareCB",
    "ThompsonSampling",
    "argmax_random_ties",
    "inverse_gap_weights",
    "thompson_propensity",
]
