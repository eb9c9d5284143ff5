"""Target policies on a log: every action's probability at every logged row, and the truth.

A target is a policy (:mod:`regretlab.policies`) with a fixed model: its
``action_probabilities`` (exact where closed-form, Monte Carlo for Thompson sampling) are read
at each logged context, over the actions available there when the log has a mask. On a
simulated log the value it estimates is known exactly:
``V = mean_i sum_a pi(a | x_i) mu_i(a)`` (the sum over the available actions), the target's
expected reward on the logged contexts.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from regretlab._random import SeedLike
from regretlab._validation import check_int
from regretlab.offpolicy.table import LoggedBandit, check_availability

__all__ = ["check_probabilities", "target_probabilities", "true_value"]


def check_probabilities(probabilities: Any, log: LoggedBandit) -> np.ndarray:
    """``probabilities`` ``(R, n, K)`` for ``log``: non-negative rows summing to 1, and, when
    the log has an availability mask (checked too), no mass on an action unavailable at its row
    (the target could not take it: an error, not support deficiency).

    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> log = from_frame(pd.DataFrame({"action": [0, 1], "reward": 1.0}))
    >>> check_probabilities([[[0.5, 0.5], [1.0, 0.5]]], log)
    Traceback (most recent call last):
    ValueError: target probabilities must sum to 1 over the actions, got 1.5 at ...
    """
    pi = np.asarray(probabilities, dtype=float)
    shape = (*log.actions.shape, log.n_actions)
    if pi.shape != shape:
        raise ValueError(f"target probabilities must have shape {shape}, got {pi.shape}")
    if not np.isfinite(pi).all() or (pi < 0).any():
        raise ValueError("target probabilities must be finite and >= 0")
    total = pi.sum(axis=-1)
    if not np.allclose(total, 1.0, atol=1e-9):
        bad = np.unravel_index(int(np.abs(total - 1).argmax()), total.shape)
        raise ValueError(
            f"target probabilities must sum to 1 over the actions, got {total[bad]} at "
            f"(replicate, row) {tuple(int(i) for i in bad)}"
        )
    if log.available is not None:
        mask = check_availability(log.available, log.actions, log.n_actions)
        impossible = np.where(mask, 0.0, pi)
        if (impossible > 1e-12).any():
            where = np.unravel_index(int(impossible.argmax()), impossible.shape)
            raise ValueError(
                f"target probabilities put mass {pi[where]:.4g} on action {int(where[2])} at "
                f"(replicate, row) {(int(where[0]), int(where[1]))}, where the log says it was "
                "not available; read the target with the log's mask (target_probabilities "
                "passes available= to the policy)"
            )
    return pi


def target_probabilities(
    policy: Any,
    log: LoggedBandit,
    *,
    model: Any = None,
    features: Any = None,
    step: int = 1,
    seed: SeedLike = None,
    chunk_rows: int = 4096,
) -> np.ndarray:
    """``pi(a | x_i)`` ``(R, n, K)`` of ``policy`` acting on ``model`` at every logged row.

    Parameters
    ----------
    policy
        A policy with ``action_probabilities`` (every policy of :mod:`regretlab.policies`).
    log
        The log; its contexts (and true means, for :class:`~regretlab.policies.Oracle`).
    model
        The target's fixed learner (one stream: ``n_replicates=None``), ``None`` for a
        model-free policy, or ``"truth"``: the policy ranks the log's true means (greedy on
        them is the oracle; ``EpsilonGreedy`` on them an exploring oracle).
    features
        The design map from a context to the ``(K, p)`` rows the model reads (the
        environment's ``features``); not needed without a model.
    step
        The step the policy believes it is at (only decaying exploration reads it).
    seed
        Seed of the Monte Carlo draws (Thompson sampling).
    chunk_rows
        Rows per call, which bounds the memory of Monte Carlo draws.

    Examples
    --------
    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> from regretlab.policies import Random
    >>> log = from_frame(pd.DataFrame({"action": [0, 2], "propensity": 0.5, "reward": 1.0}))
    >>> target_probabilities(Random(), log)[0, 0]
    array([0.333..., 0.333..., 0.333...])
    """
    check_int("chunk_rows", chunk_rows, minimum=1)
    if not hasattr(policy, "action_probabilities"):
        raise TypeError(
            f"policy must give action_probabilities(model, designs, rng, *, step, means), "
            f"got {policy!r}"
        )
    truth = isinstance(model, str) and model == "truth"
    if isinstance(model, str) and not truth:
        raise ValueError(f"model must be a learner, None or 'truth', got {model!r}")
    if truth:
        log.need("means", "a target acting on the truth")
    elif model is not None and features is None:
        raise ValueError("a target with a model needs features= (the design map it reads)")
    masked = log.available is not None
    if masked and not _takes_available(policy.action_probabilities):
        raise TypeError(
            f"the log has unavailable actions, but {policy!r}.action_probabilities takes no "
            "available= keyword, so it could put mass on them"
        )
    rng = np.random.default_rng(seed)
    r, n, k = *log.actions.shape, log.n_actions
    out = np.empty((r, n, k))
    for rep in range(r):
        for lo in range(0, n, chunk_rows):
            rows = slice(lo, min(n, lo + chunk_rows))
            if features is None or truth:
                designs = np.zeros((rows.stop - lo, k, 0))
            else:
                context = log.need("context", "a target with a model")[rep, rows]
                designs = np.asarray(features.transform(context))
                if designs.ndim == context.ndim:
                    designs = np.broadcast_to(
                        designs[..., None, :], (*designs.shape[:-1], k, designs.shape[-1])
                    )
            means = None if log.means is None else log.means[rep, rows]
            acting = _Means(means) if truth else model
            mask = {"available": log.available[rep, rows]} if log.available is not None else {}
            out[rep, rows] = policy.action_probabilities(
                acting, designs, rng, step=step, means=means, **mask
            )
    return check_probabilities(out, log)


def _takes_available(method: Any) -> bool:
    """Whether ``method`` takes the ``available`` keyword (or ``**kwargs``)."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "available" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


class _Means:
    """A model whose predictions are the logged true means (``model="truth"``)."""

    def __init__(self, means: Any) -> None:
        self._means = means

    def predict_one(self, x: Any, **kwargs: Any) -> Any:
        if kwargs.get("return_sd"):
            return self._means, np.zeros_like(self._means)
        return np.asarray(self._means)


def true_value(log: LoggedBandit, probabilities: Any) -> np.ndarray:
    """The target's exact value on a simulated log, ``(R,)``: ``mean_i sum_a pi mu``, the sum
    over the actions available at each row when the log has a mask.

    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> log = from_frame(pd.DataFrame({"action": [0, 1], "reward": 1.0,
    ...                                "mean_0": [1.0, 0.0], "mean_1": [0.0, 0.5]}))
    >>> true_value(log, [[[1.0, 0.0], [0.0, 1.0]]])
    array([0.75])
    """
    means = log.need("means", "the true value")
    pi = check_probabilities(probabilities, log)
    terms = pi * means
    if log.available is not None:
        terms = np.where(log.available, terms, 0.0)
    return terms.sum(axis=-1).mean(axis=-1)
