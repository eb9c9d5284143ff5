"""Kullback-Leibler divergences of one-parameter families and the KL-UCB index, vectorised.

The index of an arm with empirical mean ``p`` is the largest ``q >= p`` with
``d(p, q) <= delta``; ``d`` is convex and increasing in ``q`` on ``[p, sup)``, so Newton's
method started to the right of the root decreases to it monotonically (quadratically near
it). Every replicate and arm is solved at once.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["FAMILIES", "kl_divergence", "kl_index"]

FAMILIES = ("bernoulli", "gaussian", "poisson")
_MAX_STEPS = 100
# The largest float below 1: the Bernoulli index never reaches 1 for a finite bound.
_BELOW_ONE = np.nextafter(1.0, 0.0)


def kl_divergence(p: np.ndarray, q: np.ndarray, family: str, variance: float = 1.0) -> np.ndarray:
    """``KL(P_p || P_q)`` of two members of ``family`` with means ``p`` and ``q``.

    >>> float(kl_divergence(np.array(0.5), np.array(0.5), "bernoulli"))
    0.0
    >>> float(kl_divergence(np.array(1.0), np.array(3.0), "gaussian", variance=2.0))
    1.0
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if family == "bernoulli":
        return special.xlogy(p, p / q) + special.xlogy(1.0 - p, (1.0 - p) / (1.0 - q))
    if family == "poisson":
        return q - p + special.xlogy(p, p / q)
    if family == "gaussian":
        return (p - q) ** 2 / (2.0 * variance)
    raise ValueError(f"family must be one of {list(FAMILIES)}, got {family!r}")


def _slope(p: np.ndarray, q: np.ndarray, family: str) -> np.ndarray:
    """``d/dq KL(p || q)``."""
    if family == "bernoulli":
        return (q - p) / (q * (1.0 - q))
    return 1.0 - p / q


def kl_index(p: np.ndarray, delta: np.ndarray, family: str, variance: float = 1.0) -> np.ndarray:
    """The largest ``q >= p`` with ``KL(p || q) <= delta`` (``inf`` where ``delta`` is inf).

    Bernoulli means lie in ``[0, 1]``, Poisson means are ``>= 0``. Newton starts at an upper
    bound: Pinsker's ``p + sqrt(delta / 2)`` (Bernoulli) and ``p + delta + sqrt(delta^2 +
    2 p delta)`` from ``KL >= (q - p)^2 / (2 q)`` (Poisson); the Gaussian index is closed form.

    >>> q = kl_index(np.array([0.2, 0.0]), np.array([0.5, 0.5]), "bernoulli")
    >>> np.round(kl_divergence(np.array([0.2, 0.0]), q, "bernoulli"), 12)
    array([0.5, 0.5])
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _solve(np.asarray(p, dtype=float), np.asarray(delta, dtype=float), family, variance)


def _solve(p: np.ndarray, delta: np.ndarray, family: str, variance: float) -> np.ndarray:
    if family == "gaussian":
        return p + np.sqrt(2.0 * variance * delta)
    if family == "bernoulli":
        start = np.minimum(p + np.sqrt(0.5 * delta), _BELOW_ONE)
    elif family == "poisson":
        start = p + delta + np.sqrt(delta * delta + 2.0 * p * delta)
    else:
        raise ValueError(f"family must be one of {list(FAMILIES)}, got {family!r}")
    p, delta, start = np.broadcast_arrays(p, delta, start)
    out = np.maximum(start, p)
    # Solved: no room above p (delta 0, or a Bernoulli mean of 1), an infinite bound, or a
    # Bernoulli root within one float of 1 (the start is then already left of it).
    finite = np.isfinite(delta)
    active = finite & (delta > 0) & (out > p)
    active &= kl_divergence(p, out, family) > delta
    out[finite & ~(delta > 0)] = p[finite & ~(delta > 0)]
    out[~finite] = np.inf
    index = np.flatnonzero(active)
    q, pp, dd = out.reshape(-1)[index], p.reshape(-1)[index], delta.reshape(-1)[index]
    for _ in range(_MAX_STEPS):
        if not len(q):
            break
        step = (kl_divergence(pp, q, family) - dd) / _slope(pp, q, family)
        # Monotone from the right: a step that would cross p (rounding at the root) stops.
        q_new = np.maximum(q - step, pp)
        # Converged when a step moves q by at most two floats: below that, rounding decides.
        done = np.abs(q_new - q) <= 2.0 * np.spacing(q)
        out.reshape(-1)[index] = q_new
        keep = ~done
        q, pp, dd, index = q_new[keep], pp[keep], dd[keep], index[keep]
    return out
