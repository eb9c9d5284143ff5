"""Complexity escalation: schedulers that loosen group priors when the data supports it.

Rule-based: :class:`Fixed`, :class:`DataSchedule` (with :class:`Ramp`). Reading the data:
:class:`EvidenceSwitch` (an anytime-valid e-value), :class:`UncertaintyTrigger` (the posterior
probability that the group matters), :class:`EmpiricalBayes`. Candidate sets (learners in their
own right): :class:`ModelAveraging`, :class:`ChampionChallenger`, and :class:`Hedge` over whole
learners. Every prior change is an :class:`Event`.
"""

from __future__ import annotations

from regretlab.policies.escalation.base import Event, Scheduler, apply_prior
from regretlab.policies.escalation.candidates import ModelAveraging
from regretlab.policies.escalation.champion import ChampionChallenger
from regretlab.policies.escalation.evidence import EmpiricalBayes, EvidenceSwitch
from regretlab.policies.escalation.hedge import Hedge
from regretlab.policies.escalation.schedules import DataSchedule, Fixed, Ramp
from regretlab.policies.escalation.uncertainty import UncertaintyTrigger

__all__ = [
    "ChampionChallenger",
    "DataSchedule",
    "EmpiricalBayes",
    "Event",
    "EvidenceSwitch",
    "Fixed",
    "Hedge",
    "ModelAveraging",
    "Ramp",
    "Scheduler",
    "UncertaintyTrigger",
    "apply_prior",
]
