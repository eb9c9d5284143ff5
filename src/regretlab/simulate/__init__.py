"""The time loops: prequential prediction streams and bandit runs, lockstep over replicates."""

from __future__ import annotations

from regretlab.simulate.agents import Agent, log_checkpoints
from regretlab.simulate.bandit import BanditResult, run_bandit
from regretlab.simulate.prequential import PrequentialResult, run_prequential

__all__ = [
    "Agent",
    "BanditResult",
    "PrequentialResult",
    "log_checkpoints",
    "run_bandit",
    "run_prequential",
]
