"""The time loops: prequential prediction streams and bandit runs, lockstep over replicates.

Their tidy results are summarised by :func:`summarise` (means with 95% intervals) and
:func:`escalation_timeline` (when the agents loosened which prior).
"""

from __future__ import annotations

from regretlab.simulate.agents import Agent, log_checkpoints
from regretlab.simulate.bandit import BanditResult, run_bandit
from regretlab.simulate.feedback import Feedback
from regretlab.simulate.prequential import PrequentialResult, run_prequential
from regretlab.simulate.results import escalation_timeline, summarise

__all__ = [
    "Agent",
    "BanditResult",
    "Feedback",
    "PrequentialResult",
    "escalation_timeline",
    "log_checkpoints",
    "run_bandit",
    "run_prequential",
    "summarise",
]
