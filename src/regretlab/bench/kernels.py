"""What ``regretlab bench`` times: our learners and policies, the reference loops, the peers.

Every timing is replicate-steps per second, the best of ``repeats`` runs. Ours step all ``R``
replicates in lockstep; a peer (river, MABWiser, Vowpal Wabbit) steps one stream, so its
replicate-steps per second are its steps per second. Each kernel states the bytes and flops one
replicate-step must move and do at least (``d`` design columns, ``K`` actions), for the
roofline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from regretlab.bench import reference
from regretlab.bench.machine import best_seconds

__all__ = ["KERNELS", "Kernel", "Timing", "learner_timings"]

K = 5  # actions of the bandit cases


class Kernel(NamedTuple):
    """A kind of step, with the least bytes and flops one replicate-step needs (``d``, ``K``).

    >>> KERNELS["sherman-morrison"].bytes(22)
    3872.0
    """

    name: str
    what: str
    bytes: Callable[[int], float]
    flops: Callable[[int], float]


KERNELS = {
    "sherman-morrison": Kernel(
        "sherman-morrison",
        "predict, then a rank-one covariance update: the d x d covariance once (8 d^2 B), "
        "4 d^2 flops",
        lambda d: 8.0 * d * d,
        lambda d: 4.0 * d * d,
    ),
    "sgd": Kernel(
        "sgd",
        "predict, then a gradient step: the weights once (8 d B), 4 d flops",
        lambda d: 8.0 * d,
        lambda d: 4.0 * d,
    ),
    "bandit-posterior": Kernel(
        "bandit-posterior",
        f"K={K} posterior draws or bounds, one arm updated: K + 1 covariances or factors once "
        "(8 (K + 1) d^2 B), (2 K + 4) d^2 flops",
        lambda d: 8.0 * (K + 1) * d * d,
        lambda d: (2.0 * K + 4.0) * d * d,
    ),
    "bandit-greedy": Kernel(
        "bandit-greedy",
        f"K={K} means, one arm updated: one covariance and K means (8 d^2 + 8 K d B), "
        "4 d^2 + 2 K d flops",
        lambda d: 8.0 * d * d + 8.0 * K * d,
        lambda d: 4.0 * d * d + 2.0 * K * d,
    ),
}


class Timing(NamedTuple):
    """One measured rate: ``kernel`` (a key of :data:`KERNELS`), who ran it, at which size.

    ``role`` is ``"reference"`` (a frozen bare numpy loop), ``"regretlab"`` or ``"peer"``.

    >>> Timing("sgd", "reference", "bare numpy", 10, 3, 1e6).rate
    1000000.0
    """

    kernel: str
    role: str
    implementation: str
    n_replicates: int
    dim: int
    rate: float


def _regression(steps: int, r: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(steps, r, d)) / np.sqrt(d)
    w = rng.normal(size=(r, d))
    return x, np.einsum("trp,rp->tr", x, w) + 0.5 * rng.normal(size=(steps, r))


def _lockstep(learner: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    def run() -> None:
        model = learner.clone()
        for t in range(len(x)):
            model.predict_one(x[t])
            model.learn_one(x[t], y[t])

    return run


def learner_timings(
    r: int, d: int, steps: int, peer_steps: int, repeats: int, peers: dict[str, Any]
) -> list[Timing]:
    """Predict-then-learn: BayesianLinearRegression, NormalInverseGammaRegression and
    SGDLinearRegression against the Sherman-Morrison and SGD reference loops and river."""
    from regretlab.learners import (
        BayesianLinearRegression,
        NormalInverseGammaRegression,
        SGDLinearRegression,
    )

    x, y = _regression(steps, r, d, seed=d)
    groups = ("main",) * d
    work = steps * r
    out: list[Timing] = []

    def add(kernel: str, role: str, name: str, fn: Callable[[], object], n: int, m: int) -> None:
        out.append(Timing(kernel, role, name, n, d, m / best_seconds(fn, repeats)))

    add("sherman-morrison", "reference", "bare numpy Sherman-Morrison",
        lambda: reference.sherman_morrison_lockstep(x, y), r, work)  # fmt: skip
    for learner in (
        BayesianLinearRegression(groups=groups, n_replicates=r),
        NormalInverseGammaRegression(groups=groups, n_replicates=r),
    ):
        add("sherman-morrison", "regretlab", type(learner).__name__,
            _lockstep(learner, x, y), r, work)  # fmt: skip
    add("sgd", "reference", "bare numpy SGD", lambda: reference.sgd_lockstep(x, y), r, work)
    sgd = SGDLinearRegression(groups=groups, n_replicates=r, schedule="constant")
    add("sgd", "regretlab", "SGDLinearRegression", _lockstep(sgd, x, y), r, work)
    if "river" in peers:
        from river import linear_model

        rows = [dict(enumerate(row)) for row in x[:peer_steps, 0].tolist()]
        targets = y[:peer_steps, 0].tolist()
        for kernel, make in (
            ("sherman-morrison", linear_model.BayesianLinearRegression),
            ("sgd", linear_model.LinearRegression),
        ):
            add(kernel, "peer", f"river {make.__name__} (one stream)",
                _river(make, rows, targets), 1, len(rows))  # fmt: skip
    return out


def _river(make: Callable[[], Any], rows: list[dict], targets: list[float]) -> Callable[[], None]:
    def run() -> None:
        model = make()
        for row, target in zip(rows, targets, strict=True):
            model.predict_one(row)
            model.learn_one(row, target)

    return run
