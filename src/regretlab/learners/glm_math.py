"""Bernoulli-logit and Poisson-log likelihoods, the online Laplace step and the MAP refit.

Pure functions with leading batch axes, for :class:`~regretlab.learners.BayesianGLM`. The
notation is that of the Laplace approximation of Chapelle & Li (2011) with a full covariance:
``eta = x'w`` the linear predictor, ``l(y, eta)`` the log likelihood of one observation,
``l'`` and ``h = -l''`` its slope and curvature in ``eta``. For both canonical links
``l' = y - mu(eta)`` and ``h = var(mu)``: ``mu(1 - mu)`` for the logit, ``mu`` for the log.

The likelihood of every observation is replaced by its second-order expansion at a point
``eta*``, ``l(eta*) + l'(eta*)(eta - eta*) - h(eta*)(eta - eta*)^2 / 2``: a Gaussian "site"
whose sum over the data is the quadratic ``c + b'w - w'Lw/2`` with

    ``L = sum h x x'``, ``b = sum (l' + h eta*) x``, ``c = sum l - l' eta* - h eta*^2 / 2``.

The posterior is then Gaussian with precision ``diag(1/v) + L`` and mean ``P^{-1} b``, and the
log evidence is the Gaussian integral of ``exp(c + b'w - w'Lw/2)`` against the prior: the
Laplace evidence when every ``eta*`` is the mode's linear predictor (after a refit), an online
approximation of it otherwise.

References
----------
Chapelle, O. and Li, L. (2011). An empirical evaluation of Thompson sampling. NIPS 24.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from regretlab._lazy import lazy_function

if TYPE_CHECKING:
    from scipy.special import expit, gammaln
else:
    expit = lazy_function("scipy.special", "expit")
    gammaln = lazy_function("scipy.special", "gammaln")

__all__ = [
    "LINKS",
    "curvature",
    "log_likelihood",
    "mean_response",
    "newton_map",
    "site_step",
    "sites",
]

#: The links and the reward each one models.
LINKS = {"logit": "Bernoulli", "log": "Poisson"}

# Linear predictors of the log link are clipped here before exp: exp(700) is near the largest
# double; a prediction beyond it is a diverged fit, not a count.
_MAX_ETA = 700.0
# The scalar Newton solve of one online step stops when every step is below this (in eta).
_ETA_TOL = 1e-12
_MAX_SCALAR_ITER = 200


def mean_response(link: str, eta: np.ndarray) -> np.ndarray:
    """``mu = E[y | eta]``: the logistic function or ``exp``."""
    if link == "logit":
        return expit(eta)
    return np.exp(np.minimum(eta, _MAX_ETA))


def curvature(link: str, mu: np.ndarray) -> np.ndarray:
    """``h = -l''`` as a function of ``mu``: ``mu (1 - mu)`` or ``mu``."""
    return mu * (1.0 - mu) if link == "logit" else mu


def log_likelihood(link: str, y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """``l(y, eta)``: ``y eta - log(1 + e^eta)`` or ``y eta - e^eta - log y!``."""
    if link == "logit":
        return y * eta - np.logaddexp(0.0, eta)
    return y * eta - mean_response(link, eta) - gammaln(y + 1.0)


def sites(
    link: str, y: np.ndarray, eta: np.ndarray, weight: np.ndarray | float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-observation site terms at ``eta* = eta``: ``h``, ``l' + h eta`` and
    ``l - l' eta - h eta^2 / 2``, each multiplied by ``weight`` (a bootstrap or case weight)."""
    mu = mean_response(link, eta)
    h = curvature(link, mu)
    slope = y - mu
    const = log_likelihood(link, y, eta) - slope * eta - 0.5 * h * eta * eta
    return weight * h, weight * (slope + h * eta), weight * const


def site_step(
    link: str, eta0: np.ndarray, q: np.ndarray, y: np.ndarray, weight: np.ndarray | float = 1.0
) -> np.ndarray:
    """The mode's linear predictor after one observation: the root of
    ``e = eta0 + q w l'(y, e)``.

    With the prior ``N(m, S)`` and one observation at ``x``, the posterior mode lies on the
    line ``m + t S x``; ``eta0 = x'm`` and ``q = x'Sx``. The root is unique (the left side minus
    the right is increasing) and bracketed, so a safeguarded Newton iteration finds it to
    ``1e-12`` for every replicate at once.
    """
    qw = q * weight
    eta0, y = np.broadcast_arrays(np.asarray(eta0, dtype=float), np.asarray(y, dtype=float))
    if link == "logit":
        # l' lies in (y - 1, y): so does the step.
        lo, hi = eta0 + qw * (y - 1.0), eta0 + qw * y
    else:
        # l' <= y, and if the root is left of eta0 then l'(root) >= l'(eta0).
        f0 = y - mean_response(link, eta0)
        lo = np.where(f0 < 0, eta0 + qw * f0, eta0)
        hi = np.where(f0 < 0, eta0, eta0 + qw * y)
    e = np.clip(eta0, lo, hi)
    for _ in range(_MAX_SCALAR_ITER):
        mu = mean_response(link, e)
        f = e - eta0 - qw * (y - mu)
        lo = np.where(f < 0, e, lo)
        hi = np.where(f > 0, e, hi)
        new = e - f / (1.0 + qw * curvature(link, mu))
        done = np.abs(new - e) <= _ETA_TOL * (1.0 + np.abs(e))
        if np.all(done):
            return new
        # Newton may leave the bracket or cycle between its ends (steep sites): then bisect,
        # which halves the bracket, so the iteration always converges.
        stray = ~done & ((new <= lo) | (new >= hi))
        e = np.where(stray, 0.5 * (lo + hi), new)
    return e


def newton_map(
    link: str,
    x: np.ndarray,
    y: np.ndarray,
    prior_precision: np.ndarray,
    start: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    off: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> np.ndarray:
    """The posterior mode (MAP) by Newton's method (IRLS) with step halving, batched.

    Maximises ``sum_i w_i l(y_i, x_i'w) - w' diag(prior_precision) w / 2`` from ``start``:
    ``x`` ``(..., n, p)``, ``y`` and ``weight`` ``(..., n)``, ``prior_precision`` ``(..., p)``
    (0 for a flat prior), ``off`` ``(..., p)`` marks columns held at 0. Stops when every
    replicate's Newton decrement is below ``tol`` (relative to ``1 + |objective|``).
    """
    w = np.where(off, 0.0, start) if off is not None else start.copy()
    keep = None if off is None else ~off
    weight_ = np.ones(y.shape) if weight is None else weight
    p = x.shape[-1]

    def objective(beta: np.ndarray) -> np.ndarray:
        eta = np.einsum("...np,...p->...n", x, beta)
        ll = (weight_ * log_likelihood(link, y, eta)).sum(axis=-1)
        return ll - 0.5 * (prior_precision * beta * beta).sum(axis=-1)

    value = objective(w)
    for _ in range(max_iter):
        eta = np.einsum("...np,...p->...n", x, w)
        mu = mean_response(link, eta)
        grad = np.einsum("...np,...n->...p", x, weight_ * (y - mu)) - prior_precision * w
        hess = np.einsum("...np,...n,...nq->...pq", x, weight_ * curvature(link, mu), x)
        hess[..., np.arange(p), np.arange(p)] += prior_precision
        if keep is not None:
            grad = np.where(keep, grad, 0.0)
            both = keep[..., :, None] & keep[..., None, :]
            hess = np.where(both, hess, np.eye(p))
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        decrement = np.einsum("...p,...p->...", grad, step)
        if np.all(decrement <= tol * (1.0 + np.abs(value))):
            w = w + step
            break
        size = np.ones(value.shape)
        # Step halving: a full Newton step can overshoot far from the mode (log link).
        for _ in range(60):
            trial = w + size[..., None] * step
            new_value = objective(trial)
            worse = ~(new_value >= value - 1e-12 * np.abs(value))
            if not np.any(worse):
                break
            size = np.where(worse, 0.5 * size, size)
        w, value = trial, new_value
    return w
