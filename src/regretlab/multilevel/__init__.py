"""Multilevel results: contributions in the seed's sum-to-zero form, per-contributor noise.

:func:`aligned_contributions` reports a posterior over one-hot weights as the seed reports its
truth (grand mean, per-level contributions summing to zero, double-centred cross effects) with
exact credible intervals; :class:`ContributorNoise` estimates each contributor's noise variance
and corrects a one-noise-level posterior for it.
"""

from __future__ import annotations

from regretlab.multilevel.contributions import aligned_contributions, alignment_matrix
from regretlab.multilevel.noise import ContributorNoise

__all__ = ["ContributorNoise", "aligned_contributions", "alignment_matrix"]
