"""Bare numpy reference loops: the yardsticks of ``regretlab bench`` (frozen).

Written once and kept unchanged from then on, so that ratios against them stay comparable from
one result to the next (``benchmarks/`` imports them from here). Each loop steps all
replicates at once, the replicate axis vectorised by numpy, with no regretlab code inside.

- :func:`sherman_morrison_lockstep`: predict-then-learn for a conjugate Gaussian linear model,
  the covariance moved by one Sherman-Morrison update per step (Bishop eq. 3.50-3.51).
- :func:`sgd_lockstep`: predict-then-learn by plain stochastic gradient descent on the
  squared loss, constant step size.
- :func:`disjoint_thompson_lockstep`: Thompson sampling with one Gaussian linear model per
  action (disjoint), a Cholesky factor of every action's covariance per step for the draws.
"""

from __future__ import annotations

import numpy as np

__all__ = ["disjoint_thompson_lockstep", "sgd_lockstep", "sherman_morrison_lockstep"]


def sherman_morrison_lockstep(
    x: np.ndarray, y: np.ndarray, prior_variance: float = 1.0, noise_precision: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions ``(T, R)``, final means ``(R, d)`` and covariances ``(R, d, d)``.

    ``x`` is ``(T, R, d)`` (time first, each step's rows contiguous), ``y`` ``(T, R)``; the
    prior is ``N(0, prior_variance I)``, the noise precision ``noise_precision``.

    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.normal(size=(200, 3, 2)), np.array([1.0, -2.0])
    >>> _, mean, cov = sherman_morrison_lockstep(x, x @ w, noise_precision=100.0)
    >>> np.round(mean, 2).tolist(), cov.shape
    ([[1.0, -2.0], [1.0, -2.0], [1.0, -2.0]], (3, 2, 2))
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


def sgd_lockstep(
    x: np.ndarray, y: np.ndarray, learning_rate: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions ``(T, R)`` and final weights ``(R, d)``: ``w += lr (y - x'w) x`` per step.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(3000, 2, 2))
    >>> _, w = sgd_lockstep(x, x @ np.array([0.5, 1.5]), learning_rate=0.05)
    >>> np.round(w, 3).tolist()
    [[0.5, 1.5], [0.5, 1.5]]
    """
    steps, n_rep, d = x.shape
    w = np.zeros((n_rep, d))
    preds = np.empty((steps, n_rep))
    for t in range(steps):
        xt = x[t]
        pred = np.einsum("rp,rp->r", xt, w)
        preds[t] = pred
        w += (learning_rate * (y[t] - pred))[:, None] * xt
    return preds, w


def disjoint_thompson_lockstep(
    x: np.ndarray,
    rewards: np.ndarray,
    rng: np.random.Generator,
    prior_variance: float = 1.0,
    noise_precision: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Actions ``(T, R)`` and final means ``(R, K, d)`` of disjoint Thompson sampling.

    ``x`` is ``(T, R, d)``, the design row every action shares at a step; ``rewards``
    ``(T, R, K)`` the reward every action would earn. At each step every replicate draws one
    coefficient vector per action from its posterior ``N(m_k, S_k)`` (``S_k = L L'``), plays
    the action whose draw predicts the most, and updates that action's model.

    >>> rng = np.random.default_rng(1)
    >>> x = np.concatenate([np.ones((400, 2, 1)), rng.normal(size=(400, 2, 1))], axis=2)
    >>> truth = np.array([[0.0, 1.0], [0.0, -1.0]])  # action 0 pays x, action 1 pays -x
    >>> rewards = x @ truth.T + 0.1 * rng.normal(size=(400, 2, 2))
    >>> actions, mean = disjoint_thompson_lockstep(x, rewards, rng, noise_precision=100.0)
    >>> float(np.mean(actions[200:] == (x[200:, :, 1] < 0)))  # plays the better action
    1.0
    """
    steps, n_rep, d = x.shape
    k = rewards.shape[-1]
    beta = float(noise_precision)
    mean = np.zeros((n_rep, k, d))
    cov = np.broadcast_to(prior_variance * np.eye(d), (n_rep, k, d, d)).copy()
    rows = np.arange(n_rep)
    actions = np.empty((steps, n_rep), dtype=np.int64)
    for t in range(steps):
        xt = x[t]
        factor = np.linalg.cholesky(cov)
        z = rng.standard_normal((n_rep, k, d))
        theta = mean + (factor @ z[..., None])[..., 0]
        a = np.argmax(np.einsum("rkp,rp->rk", theta, xt), axis=1)
        actions[t] = a
        s = cov[rows, a]
        sx = (s @ xt[:, :, None])[:, :, 0]
        q = np.einsum("rp,rp->r", xt, sx)
        gain = sx * (beta / (1.0 + beta * q))[:, None]
        resid = rewards[t, rows, a] - np.einsum("rp,rp->r", xt, mean[rows, a])
        mean[rows, a] += gain * resid[:, None]
        cov[rows, a] = s - gain[:, :, None] * sx[:, None, :]
    return actions, mean
