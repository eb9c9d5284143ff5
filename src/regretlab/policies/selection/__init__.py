"""Model selection over whole bandit agents, where only the picked agent's reward is seen.

:class:`Corral` (log-barrier online mirror descent, Agarwal et al. 2017) and
:class:`RegretBalancing` (regret bound balancing and elimination, Pacchiano et al. 2020) hold
base agents (a learner and a policy each, over one design) and are run as an agent's learner
with the :class:`ChosenAgent` policy; each replicate picks one base per step and only that base
learns. :class:`~regretlab.policies.escalation.Hedge` is the prediction-stream counterpart, where
every member sees every label.
"""

from __future__ import annotations

from regretlab.policies.selection.balancing import RegretBalancing, RegretBound
from regretlab.policies.selection.chosen import ChosenAgent
from regretlab.policies.selection.corral import Corral, importance_weighted, log_barrier_step

__all__ = [
    "ChosenAgent",
    "Corral",
    "RegretBalancing",
    "RegretBound",
    "importance_weighted",
    "log_barrier_step",
]
