"""The time loops: prequential prediction streams and bandit runs, lockstep over replicates.

Their tidy results are summarised by :func:`summarise` (means with 95% intervals) and
:func:`escalation_timeline` (when the agents loosened which prior); a bandit run's arm choices
by :func:`choice_shares`, :func:`optimal_share` and :func:`oracle_share`.
"""

from __future__ import annotations

from regretlab.simulate.agents import Agent, log_checkpoints
from regretlab.simulate.bandit import BanditResult, run_bandit
from regretlab.simulate.choices import choice_shares, optimal_share, oracle_share
from regretlab.simulate.feedback import Feedback
from regretlab.simulate.prequential import PrequentialResult, run_prequential
from regretlab.simulate.results import escalation_timeline, summarise

__all__ = [
    "Agent",
    "BanditResult",
    "Feedback",
    "PrequentialResult",
    "choice_shares",
    "escalation_timeline",
    "log_checkpoints",
    "optimal_share",
    "oracle_share",
    "run_bandit",
    "run_prequential",
    "summarise",
]
