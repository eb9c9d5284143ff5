"""Policies: exploration (turning posteriors into actions) and, later, escalation schedulers."""

from __future__ import annotations

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
