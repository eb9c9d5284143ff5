"""Kullback-Leibler divergences of one-parameter families and the KL-UCB index, vectorised.

The index of an arm with empirical mean ``p`` is the largest ``q >= p`` with
``d(p, q) <= delta``; ``d`` is convex and increasing in ``q`` on ``[p, sup)``, so Newton's
method started to the right of the root decreases to it monotonically (quadratically near
it). Every replicate and arm is solved at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from regretlab._lazy import lazy_module

if TYPE_CHECKING:
    from scipy import special
else:
    special = lazy_module("scipy.special")

__all__ = ["FAMILIES", "kl_divergence", "kl_index"]

FAMILIES = ("bernoulli", "gaussian", "poisson")
_MAX_STEPS = 100


def kl_divergence(p: np.ndarray, q: np.ndarray, family: str, variance: float = 1.0) -> np.ndarray:
    """``KL(P_p || P_q)`` of two members of ``family`` with means ``p`` and ``q``.

    >>> float(kl_divergence(np.array(0.5), np.array(0.5), "bernoulli"))
    0.0
    >>> float(kl_divergence(np.array(1.0), np.array(3.0), "gaussian", variance=2.0))
    1.0
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 log 0 = 0 at the boundaries
        if family == "bernoulli":
            return special.xlogy(p, p / q) + special.xlogy(1.0 - p, (1.0 - p) / (1.0 - q))
        if family == "poisson":
            return q - p + special.xlogy(p, p / q)
    if family == "gaussian":
        return (p - q) ** 2 / (2.0 * variance)
    raise ValueError(f"family must be one of {list(FAMILIES)}, got {family!r}")


def kl_index(p: np.ndarray, delta: np.ndarray, family: str, variance: float = 1.0) -> np.ndarray:
    """The largest ``q >= p`` with ``KL(p || q) <= delta`` (``inf`` where ``delta`` is inf).

    Bernoulli means lie in ``[0, 1]``, Poisson means are ``>= 0``. Newton starts at an upper
    bound (see :func:`_bernoulli` and :func:`_poisson`); the Gaussian index is closed form.

    >>> q = kl_index(np.array([0.2, 0.0]), np.array([0.5, 0.5]), "bernoulli")
    >>> np.round(kl_divergence(np.array([0.2, 0.0]), q, "bernoulli"), 12)
    array([0.5, 0.5])
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _solve(np.asarray(p, dtype=float), np.asarray(delta, dtype=float), family, variance)


def _solve(p: np.ndarray, delta: np.ndarray, family: str, variance: float) -> np.ndarray:
    if family == "gaussian":
        return p + np.sqrt(2.0 * variance * delta)
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {list(FAMILIES)}, got {family!r}")
    p, delta = np.broadcast_arrays(p, delta)
    out = np.array(p, dtype=float)  # the index where delta is 0 (or p = 1 for Bernoulli)
    out[~np.isfinite(delta)] = np.inf
    active = np.isfinite(delta) & (delta > 0)
    if family == "bernoulli":
        active &= p < 1.0
    index = np.flatnonzero(active)
    pp, dd = p.reshape(-1)[index], delta.reshape(-1)[index]
    if family == "bernoulli":
        out.reshape(-1)[index] = _bernoulli(pp, dd)
    else:
        out.reshape(-1)[index] = _poisson(pp, dd)
    return out


def _newton(u: np.ndarray, value, slope) -> np.ndarray:
    """Newton's method on the convex increasing ``value(u) - 0`` from a ``u`` right of the root;
    ``value`` and ``slope`` take ``(u, rows)``; stops when no step moves ``u`` by > 2 floats."""
    out = u.copy()
    rows = np.arange(len(u))
    for _ in range(_MAX_STEPS):
        if not len(rows):
            break
        step = value(u, rows) / slope(u, rows)
        # From the right of a convex function Newton never crosses the root (but rounding
        # may): the steps only move left, and never below the lowest admissible point.
        u_new = u - np.maximum(step, 0.0)
        done = np.abs(u_new - u) <= 2.0 * np.spacing(np.abs(u))
        out[rows] = u_new
        keep = ~done
        u, rows = u_new[keep], rows[keep]
    return out


def _bernoulli(p: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Bernoulli index for ``0 <= p < 1``, ``delta > 0``, solved in ``u = -log(1 - q)``.

    ``KL(p || 1 - e^-u) = p log(p / q) - H'(p) + (1 - p) u`` with ``H'(p) = -(1 - p) log(1 - p)``
    is convex and increasing in ``u`` on ``[-log(1 - p), inf)`` with slope ``1 - p / q``, and
    grows linearly, so Newton converges in a few steps even for an index within 1e-12 of 1.
    The start is the smaller of two upper bounds: Pinsker's ``q = p + sqrt(delta / 2)`` and
    ``u = (delta + H(p)) / (1 - p)`` (from ``p log(p / q) >= p log p``).
    """
    entropy = -(special.xlogy(p, p) + special.xlog1py(1.0 - p, -p))
    u_bound = (delta + entropy) / (1.0 - p)
    q_pinsker = p + np.sqrt(0.5 * delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        u_pinsker = np.where(q_pinsker < 1.0, -np.log1p(-np.minimum(q_pinsker, 1.0)), np.inf)
    u0 = np.minimum(u_bound, u_pinsker)
    own = special.xlog1py(1.0 - p, -p)  # (1 - p) log(1 - p)

    def value(u: np.ndarray, rows: np.ndarray) -> np.ndarray:
        q = -np.expm1(-u)
        return special.xlogy(p[rows], p[rows] / q) + own[rows] + (1.0 - p[rows]) * u - delta[rows]

    def slope(u: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return 1.0 - p[rows] / -np.expm1(-u)

    return -np.expm1(-_newton(u0, value, slope))


def _poisson(p: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Poisson index for ``p >= 0``, ``delta > 0``: Newton in ``q`` from the upper bound
    ``p + delta + sqrt(delta^2 + 2 p delta)`` (from ``KL >= (q - p)^2 / (2 q)``)."""
    q0 = p + delta + np.sqrt(delta * delta + 2.0 * p * delta)

    def value(q: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return q - p[rows] + special.xlogy(p[rows], p[rows] / q) - delta[rows]

    def slope(q: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return 1.0 - p[rows] / q

    return _newton(q0, value, slope)
