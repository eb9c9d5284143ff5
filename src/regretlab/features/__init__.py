"""Design maps with named feature groups.

A design column belongs to exactly one group (``intercept``, ``main``, ``pairwise``, ...); a
learner's prior variance is set per group. Every map works on one input ``(n_inputs,)`` or on
any stack of them ``(..., n_inputs)``, such as ``R`` replicates or a block of observations.
"""

from __future__ import annotations

from regretlab.features.actions import ActionFeatures
from regretlab.features.arms import ArmFeatures
from regretlab.features.groups import group_indices
from regretlab.features.interactions import InteractionFeatures
from regretlab.features.levels import LevelFeatures

__all__ = ["ActionFeatures", "ArmFeatures", "InteractionFeatures", "LevelFeatures", "group_indices"]
