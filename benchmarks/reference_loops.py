"""Bare numpy reference loops for the lockstep benchmarks (issue 19).

Written once and kept unchanged from then on, so that ratios against them stay comparable from
one result to the next. Nothing here is imported by the package.

- :func:`sherman_morrison_lockstep`: predict-then-learn for a conjugate Gaussian linear model,
  all replicates stepping at once (the replicate axis vectorised by numpy), the posterior moved
  by one Sherman-Morrison update per step (Bishop eq. 3.50-3.51).
- :func:`posterior_from_rows`: the float64 batch posterior of the same rows (Cholesky solve of
  the precision), the reference the posteriors are checked against.
"""

from __future__ import annotations

import numpy as np


def sherman_morrison_lockstep(
    x: np.ndarray, y: np.ndarray, prior_variance: float = 1.0, noise_precision: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions ``(T, R)``, final means ``(R, d)`` and covariances ``(R, d, d)``.

    ``x`` is ``(T, R, d)`` (time first, each step's rows contiguous), ``y`` ``(T, R)``; the
    prior is ``N(0, prior_variance I)``, the noise precision ``noise_precision``.
    """
    steps, n_rep, d = x.shape
    beta = float(noise_precision)
    mean = np.zeros((n_rep, d))
    cov = np.broadcast_to(prior_variance * np.eye(d), (n_rep, d, d)).copy()
    preds = np.empty((steps, n_rep))
    for t in range(steps):
        xt = x[t]
        pred = np.einsum("rp,rp->r", xt, mean)
        preds[t] = pred
        sx = (cov @ xt[:, :, None])[:, :, 0]
        q = np.einsum("rp,rp->r", xt, sx)
        gain = sx * (beta / (1.0 + beta * q))[:, None]
        mean += gain * (y[t] - pred)[:, None]
        cov -= gain[:, :, None] * sx[:, None, :]
    return preds, mean, cov


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
