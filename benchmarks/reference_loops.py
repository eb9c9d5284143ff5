"""Bare numpy reference loops for the lockstep benchmarks (issue 19).

Written once and kept unchanged from then on, so that ratios against them stay comparable from
one result to the next.

- :func:`sherman_morrison_lockstep` (the one frozen copy lives in
  :mod:`regretlab.bench.reference`, which ``regretlab bench`` runs too): predict-then-learn
  for a conjugate Gaussian linear model, all replicates stepping at once (the replicate axis
  vectorised by numpy), the posterior moved by one Sherman-Morrison update per step (Bishop
  eq. 3.50-3.51).
- :func:`posterior_from_rows`: the float64 batch posterior of the same rows (Cholesky solve of
  the precision), the reference the posteriors are checked against.
"""

from __future__ import annotations

import numpy as np

from regretlab.bench.reference import sherman_morrison_lockstep

__all__ = ["posterior_from_rows", "sherman_morrison_lockstep"]


def posterior_from_rows(
    x: np.ndarray, y: np.ndarray, prior_variance: float = 1.0, noise_precision: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """The exact posterior mean ``(R, d)`` and covariance ``(R, d, d)`` of all rows at once."""
    beta = float(noise_precision)
    d = x.shape[-1]
    precision = beta * np.einsum("trp,trq->rpq", x, x) + np.eye(d) / prior_variance
    rhs = beta * np.einsum("trp,tr->rp", x, y)
    factor = np.linalg.cholesky(precision)
    identity = np.broadcast_to(np.eye(d), precision.shape)
    inv_factor = np.linalg.solve(factor, identity)
    cov = np.swapaxes(inv_factor, -1, -2) @ inv_factor
    mean = (cov @ rhs[:, :, None])[:, :, 0]
    return mean, cov
