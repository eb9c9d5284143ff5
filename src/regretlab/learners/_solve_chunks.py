"""The posterior from the statistics, solved a chunk of replicates at a time (bounded memory).

:func:`regretlab.learners.gaussian.posterior` holds several ``(R, p, p)`` arrays at once (the
precision, its Cholesky factor, the triangular solves' intermediates, the covariance): at
``R = 1000, p = 56`` each is 25 MB and a refresh of ``BayesianLinearRegression`` (every
``refresh_every`` updates) peaked about 100 MB above the model's own state. Every replicate's
system is solved on its own (batched LAPACK and triangular solves, one matrix at a time), so
solving chunks of replicates into the result arrays gives the same numbers to the last bit
while only one chunk's intermediates exist at a time.
"""

from __future__ import annotations

import math

import numpy as np

from regretlab.learners import gaussian, stats

__all__ = ["CHUNK_BYTES", "posterior_by_chunks"]

CHUNK_BYTES = 4 * 2**20
"""Bytes of one ``(p, p)`` array per chunk: a chunk is ``CHUNK_BYTES // (8 p^2)`` replicates."""


def posterior_by_chunks(
    sums: stats.SufficientStats,
    prior_variance: np.ndarray,
    noise_precision: float | np.ndarray,
    *,
    rank_tol: float,
    chunk_bytes: int | None = None,
) -> gaussian.GaussianPosterior:
    """:func:`regretlab.learners.gaussian.posterior` of batch items ``(*batch, p)`` solved
    ``chunk_bytes // (8 p^2)`` items at a time (at least one; default :data:`CHUNK_BYTES`),
    into one mean and covariance.

    >>> x = np.random.default_rng(0).standard_normal((5, 20, 3)); y = x.sum(axis=-1)
    >>> s = stats.from_rows(x, y)
    >>> whole = gaussian.posterior(s, np.ones(3), 1.0)
    >>> chunked = posterior_by_chunks(s, np.ones(3), 1.0, rank_tol=1e-12, chunk_bytes=100)
    >>> bool((whole.covariance == chunked.covariance).all()), chunked.proper
    (True, True)
    """
    p = sums.xty.shape[-1]
    batch = sums.xty.shape[:-1]
    n_items = math.prod(batch)
    size = max(1, (CHUNK_BYTES if chunk_bytes is None else chunk_bytes) // (8 * p * p))
    if n_items <= size:
        return gaussian.posterior(sums, prior_variance, noise_precision, rank_tol=rank_tol)
    flat = stats.SufficientStats(
        sums.xtx.reshape(n_items, p, p),
        sums.xty.reshape(n_items, p),
        sums.yty.reshape(n_items),
        sums.n.reshape(n_items),
    )
    prior = np.broadcast_to(np.asarray(prior_variance, dtype=float), (*batch, p))
    prior = prior.reshape(n_items, p)
    beta = np.asarray(noise_precision, dtype=float)
    beta = beta if beta.ndim == 0 else np.broadcast_to(beta, batch).reshape(n_items)
    mean, cov = np.empty((n_items, p)), np.empty((n_items, p, p))
    proper = True
    for start in range(0, n_items, size):
        part = slice(start, start + size)
        solved = gaussian.posterior(
            stats.SufficientStats(*(s[part] for s in flat)),
            prior[part],
            beta if beta.ndim == 0 else beta[part],
            rank_tol=rank_tol,
        )
        mean[part], cov[part] = solved.mean, solved.covariance
        proper = proper and solved.proper
    return gaussian.GaussianPosterior(mean.reshape(*batch, p), cov.reshape(*batch, p, p), proper)
