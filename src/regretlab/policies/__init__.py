"""Policies: exploration (turning posteriors into actions) and, later, escalation schedulers."""

from __future__ import annotations

from regretlab.policies.arm_sampling import ConjugateThompsonSampling
from regretlab.policies.arms import KLUCB, UCB1, BayesUCB, Exp3, Softmax
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
from regretlab.policies.squarecb import SquareCB, inverse_gap_weights

__all__ = [
    "KLUCB",
    "UCB1",
    "BayesUCB",
    "BootstrappedThompsonSampling",
    "Choice",
    "ConjugateThompsonSampling",
    "EpsilonGreedy",
    "Exp3",
    "Greedy",
    "LinUCB",
    "Oracle",
    "Random",
    "Softmax",
    "SquareCB",
    "ThompsonSampling",
    "argmax_random_ties",
    "inverse_gap_weights",
]
