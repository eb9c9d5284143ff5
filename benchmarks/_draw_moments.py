"""Issue 16, ninth session: Thompson draws from the model average's own posterior spread.

Two draw rules for ``ModelAveraging`` (used by ``escalation_bandit_draws.py``). Each candidate
``k`` of the average has a Normal-Inverse-Gamma posterior: mean ``m_k``, scale matrix ``V_k``
relative to the noise, noise posterior ``IG(a_k, b_k)``; its weights' marginal is a Student-t
with scale matrix ``S_k = (b_k / a_k) V_k`` (the draw ``m_k + sqrt(sigma^2) L_k z``,
``L_k L_k' = V_k``, ``sigma^2 ~ IG(a_k, b_k)``). With the mixture's weights ``w_k``:

- ``moment-matched``: centre ``m = sum_k w_k m_k``, scale
  ``S = sum_k w_k (S_k + (m_k - m)(m_k - m)')`` (the law of total variance: the mixture's own
  first two moments, with the scale matrices standing for the covariances);
- ``leader, widened``: centre the leader's ``m_l``, scale
  ``S = S_l + sum_k w_k (m_k - m_l)(m_k - m_l)'``: the leader's posterior plus the spread of
  the candidates' means about it, weighted by their posterior probability. A matrix, not a
  scalar inflation: the ratio of the mixture's to the leader's predictive variance depends on
  the design row ``x`` (one per action), and one weight vector serves all actions.

Both draw ``theta = centre + sqrt(sigma^2 a_l / b_l) F z`` with ``F F' = S``, ``sigma^2`` the
leader's noise draw and ``z`` the leader's standard normals (the tails of the leader's
Student-t, the generator calls of a whole-batch draw as every rule makes). Where one candidate
holds all the weight both reduce to the leader's draw (``S = S_l``, ``F = sqrt(b_l / a_l) L_l``).
Candidates with weight exactly 0 (the shrunk-intercept half before the training sample is in)
are left out of the sums; the flat-intercept candidates' posteriors the learner reports are
finite from the first step, as ``ModelAveraging.sample`` uses them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab.learners._pcg64_kernel import standard_normal
from regretlab.learners.gaussian import sampling_factor

MOMENT_RULES = ("moment-matched", "leader, widened")


def draw_rows(learner: Any, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``NormalInverseGammaRegression.sample`` for the batch ``rows`` only (the generator makes
    the calls of a whole-batch draw): the draw, the rows' posterior mean and scale matrix."""
    post = learner._sync(full=True)
    shape, rate = learner.noise_posterior
    precision = rng.gamma(np.broadcast_to(shape, learner._batch), 1.0 / rate)
    variance = 1.0 / np.maximum(precision, np.finfo(float).tiny)
    z = standard_normal(rng, post.mean.shape)
    factor = sampling_factor(post.covariance[rows])
    centred = np.zeros_like(post.mean[rows]) + (factor @ z[rows][..., None])[..., 0]
    draw = post.mean[rows] + np.sqrt(variance[rows])[..., None] * centred
    scale = (rate / shape)[rows][:, None, None] * post.covariance[rows]
    return draw, post.mean[rows], scale, (rate / shape)[rows]


def moments(
    w: np.ndarray,
    mean: np.ndarray,
    cov: np.ndarray,
    ratio: np.ndarray,
    leader: np.ndarray,
    rule: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The draw's centre ``(R, p)`` and scale matrix ``(R, p, p)`` for ``rule``.

    ``w`` ``(G, R)`` weights, ``mean`` ``(G, R, p)`` the candidates' means, ``cov``
    ``(G, R, p, p)`` their ``V_k`` and ``ratio`` ``(G, R)`` their ``b_k / a_k`` (so
    ``S_k = ratio_k V_k``), ``leader`` ``(R,)`` the leader per replicate.
    """
    cols = np.arange(w.shape[1])
    live = w > 0.0
    if not live.all():  # weight exactly 0: left out, whatever its posterior holds
        w = np.where(live, w, 0.0)
        mean = np.where(live[..., None], mean, 0.0)
        cov = np.where(live[..., None, None], cov, 0.0)
        ratio = np.where(live, ratio, 0.0)
    if rule == "moment-matched":
        centre = np.einsum("gr,grp->rp", w, mean)
        within = np.einsum("gr,grpq->rpq", w * ratio, cov)
    elif rule == "leader, widened":
        centre = mean[leader, cols]
        within = ratio[leader, cols][:, None, None] * cov[leader, cols]
    else:
        raise ValueError(f"rule must be one of {MOMENT_RULES}, got {rule!r}")
    gap = np.moveaxis(mean - centre, 0, 1)  # (R, G, p)
    between = np.matmul(np.swapaxes(gap * w.T[..., None], 1, 2), gap)
    return centre, within + between


def draw_moments(
    learner: Any, w: np.ndarray, leader: np.ndarray, rule: str, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """One draw per replicate under ``rule`` from ``learner`` (the average's candidate-major
    inner learner, ``G x R``): the draw, its centre, its scale matrix and the leader's ``b / a``.
    The generator makes the calls of a whole-batch ``NormalInverseGammaRegression.sample``."""
    g, r = w.shape
    post = learner._sync(full=True)
    shape, rate = learner.noise_posterior
    precision = rng.gamma(np.broadcast_to(shape, learner._batch), 1.0 / rate)
    variance = 1.0 / np.maximum(precision, np.finfo(float).tiny)
    z = standard_normal(rng, post.mean.shape)
    p = post.mean.shape[-1]
    ratio = (rate / shape).reshape(g, r)
    cov = post.covariance.reshape(g, r, p, p)
    centre, spread = moments(w, post.mean.reshape(g, r, p), cov, ratio, leader, rule)
    rows, cols = leader * r + np.arange(r), np.arange(r)
    factor = sampling_factor(spread)
    unit = np.sqrt(variance[rows] / ratio[leader, cols])  # sigma^2 / (b / a)
    draw = centre + unit[:, None] * (factor @ z[rows][..., None])[..., 0]
    return draw, centre, spread, ratio[leader, cols]


def check_moments(seed: int = 0) -> None:
    """``moments`` against its definition, candidate by candidate (a loop), on random inputs;
    the reduction to the leader when one candidate holds all the weight."""
    rng = np.random.default_rng(seed)
    g, r, p = 6, 4, 3
    w = rng.dirichlet(np.ones(g), r).T
    w[1, 0] = 0.0  # a candidate left out (weight exactly 0) with a poisoned posterior
    w[:, 0] /= w[:, 0].sum()
    mean = rng.normal(size=(g, r, p))
    root = rng.normal(size=(g, r, p, p))
    cov = root @ np.swapaxes(root, -1, -2)
    ratio = rng.uniform(0.5, 2.0, size=(g, r))
    scale = ratio[..., None, None] * cov
    mean[1, 0], cov[1, 0] = np.inf, np.inf
    leader = np.argmax(w, axis=0)
    for rule in MOMENT_RULES:
        centre, spread = moments(w, mean, cov, ratio, leader, rule)
        for j in range(r):
            k = [i for i in range(g) if w[i, j] > 0]
            m = sum(w[i, j] * mean[i, j] for i in k) if rule == "moment-matched" else None
            if m is None:
                m = mean[leader[j], j]
                inner = scale[leader[j], j]
            else:
                inner = sum(w[i, j] * scale[i, j] for i in k)
            s = inner + sum(w[i, j] * np.outer(mean[i, j] - m, mean[i, j] - m) for i in k)
            assert np.allclose(centre[j], m, rtol=1e-12, atol=1e-12), (rule, j)
            assert np.allclose(spread[j], s, rtol=1e-12, atol=1e-12), (rule, j)
        one = np.zeros_like(w)
        one[leader, np.arange(r)] = 1.0
        centre, spread = moments(one, mean, cov, ratio, leader, rule)
        assert np.array_equal(centre, mean[leader, np.arange(r)]), rule
        assert np.allclose(spread, scale[leader, np.arange(r)], rtol=1e-14, atol=0), rule
    # Law of total variance, by Monte Carlo: a candidate drawn by weight, then N(m_k, S_k).
    j, n = 2, 400_000
    pick = rng.choice(g, size=n, p=w[:, j])
    chol = np.linalg.cholesky(scale[:, j])
    x = mean[pick, j] + (chol[pick] @ rng.normal(size=(n, p, 1)))[..., 0]
    centre, spread = moments(w, mean, cov, ratio, leader, "moment-matched")
    # Standard errors at n = 4e5 are ~ 0.2% of the entries' size; 2% leaves room for the tails.
    size = np.abs(spread[j]).max()
    assert np.allclose(x.mean(axis=0), centre[j], atol=0.02 * size), "Monte Carlo mean"
    assert np.allclose(np.cov(x.T), spread[j], atol=0.02 * size), "Monte Carlo covariance"


def widths(learner: Any, w: np.ndarray, designs: np.ndarray) -> dict[str, np.ndarray]:
    """Diagnostics on one posterior state: per replicate the mean over the actions of the
    predictive scale ``sqrt(x' S x)`` of the leader's draw, of each rule's and of the
    moment-matched rule's between term alone, and the leader's weight. ``designs`` ``(R, K, p)``."""
    g, r = w.shape
    post = learner._sync(full=True)
    shape, rate = learner.noise_posterior
    p = post.mean.shape[-1]
    mean, cov = post.mean.reshape(g, r, p), post.covariance.reshape(g, r, p, p)
    ratio = (rate / shape).reshape(g, r)
    leader, cols = np.argmax(w, axis=0), np.arange(r)

    def scale(s: np.ndarray) -> np.ndarray:
        var = np.einsum("rkp,rpq,rkq->rk", designs, s, designs)
        return np.sqrt(np.maximum(var, 0.0)).mean(axis=1)

    out = {"leader": scale(ratio[leader, cols][:, None, None] * cov[leader, cols])}
    for rule in MOMENT_RULES:
        out[rule] = scale(moments(w, mean, cov, ratio, leader, rule)[1])
    out["between"] = scale(moments(w, mean, cov, 0.0 * ratio, leader, "moment-matched")[1])
    out["leader weight"] = w[leader, cols]
    return out


def check_moment_draws(bma: Any, step: int) -> None:
    """The ninth session's draws on the learner's own state: their centre and scale by the
    definition's sums over the candidates (weight exactly 0 left out), ``F F' = S`` for the
    factor drawn with, and with all the weight on the leader the leader's draw (``draw_rows``)."""
    inner, w = bma._inner, bma.weights
    g, r = w.shape
    post = inner._sync(full=True)
    shape, rate = inner.noise_posterior
    p = post.mean.shape[-1]
    mean = post.mean.reshape(g, r, p)
    scale = (rate / shape).reshape(g, r)[..., None, None] * post.covariance.reshape(g, r, p, p)
    leader = np.argmax(w, axis=0)
    one = np.zeros_like(w)
    one[leader, np.arange(r)] = 1.0
    for rule in MOMENT_RULES:
        draw, centre, spread, _ = draw_moments(inner, w, leader, rule, np.random.default_rng(0))
        for j in range(r):
            k = np.flatnonzero(w[:, j] > 0)
            m = w[k, j] @ mean[k, j] if rule == "moment-matched" else mean[leader[j], j]
            inside = np.einsum("k,kpq->pq", w[k, j], scale[k, j])
            s = (inside if rule == "moment-matched" else scale[leader[j], j]) + np.einsum(
                "k,kp,kq->pq", w[k, j], mean[k, j] - m, mean[k, j] - m
            )
            tol = 1e-9 * np.abs(s).max()
            assert np.allclose(centre[j], m, rtol=1e-10, atol=tol), (rule, step, j)
            assert np.allclose(spread[j], s, rtol=1e-9, atol=tol), (rule, step, j)
        assert np.all(np.isfinite(draw)), (rule, step)
        factor = sampling_factor(spread)
        assert np.allclose(factor @ np.swapaxes(factor, 1, 2), spread, atol=1e-9 * spread.max())
        a, b = np.random.default_rng(step), np.random.default_rng(step)
        solo, *_ = draw_moments(inner, one, leader, rule, a)
        lead, *_ = draw_rows(inner, leader * r + np.arange(r), b)
        assert np.allclose(solo, lead, rtol=1e-7, atol=1e-7 * np.abs(lead).max()), (rule, step)
    _, _, spread, _ = draw_moments(inner, w, leader, "moment-matched", np.random.default_rng(0))
    cov = post.covariance.reshape(g, r, p, p)
    again = moments(w, mean, cov, (rate / shape).reshape(g, r), leader, "moment-matched")[1]
    assert np.array_equal(spread, again)
