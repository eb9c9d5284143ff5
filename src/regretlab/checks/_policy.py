"""Checks every policy passes (the :class:`~regretlab.base.Policy` contract).

They run the policy on two trained learners (a per-action
:class:`~regretlab.learners.DisjointBayesianLinearRegression` and a shared
:class:`~regretlab.learners.BayesianLinearRegression`), for six replicates and for one stream.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.checks._common import pickled_copy, require, without_global_random
from regretlab.learners import (
    BayesianLinearRegression,
    BetaBernoulli,
    Bootstrap,
    DisjointBayesianLinearRegression,
    GammaPoisson,
)
from regretlab.policies.availability import accepts_available

__all__ = [
    "check_action_probabilities",
    "check_actions_are_valid",
    "check_policy",
    "check_policy_honours_availability",
    "check_policy_leaves_inputs_alone",
    "check_policy_pickles",
    "check_policy_same_seed_same_actions",
    "check_policy_uses_only_its_generator",
    "policy_checks",
]


def _policy_fixture(
    n_replicates: int | None = 6, n_actions: int = 4, seed: int = 7, bootstrap: bool = False
) -> tuple[list[tuple[Any, np.ndarray]], np.ndarray]:
    """A trained per-action model, a trained shared model, their designs and true means
    (both wrapped in :class:`~regretlab.learners.Bootstrap` with ``bootstrap``)."""
    rng = np.random.default_rng(seed)
    single = n_replicates is None
    width = 1 if n_replicates is None else n_replicates
    p = 3
    per_action: Any = DisjointBayesianLinearRegression(
        groups=("intercept", "main", "main"), n_actions=n_actions, n_replicates=n_replicates
    )
    shared: Any = BayesianLinearRegression(
        groups=("main",) * (p * n_actions), n_replicates=n_replicates
    )
    if bootstrap:
        per_action, shared = Bootstrap(per_action, n_copies=5), Bootstrap(shared, n_copies=5)
    w = rng.normal(size=(n_actions, p))
    for _ in range(20):
        x = np.c_[np.ones(width), rng.uniform(-1, 1, size=(width, p - 1))]
        a = rng.integers(0, n_actions, size=width)
        y = np.einsum("rp,rp->r", x, w[a]) + 0.1 * rng.normal(size=width)
        block = np.zeros((width, n_actions, p))
        block[np.arange(width), a] = x
        if single:
            per_action.learn_one(x[0], y[0], action=a[0])
            shared.learn_one(block[0].reshape(-1), y[0])
        else:
            per_action.learn_one(x, y, action=a)
            shared.learn_one(block.reshape(width, -1), y)
    x = np.c_[np.ones(width), rng.uniform(-1, 1, size=(width, p - 1))]
    rows = np.broadcast_to(x[:, None, :], (width, n_actions, p))
    shared_rows: np.ndarray = np.zeros((width, n_actions, n_actions, p))
    shared_rows[:, np.arange(n_actions), np.arange(n_actions)] = rows
    shared_rows = shared_rows.reshape(width, n_actions, -1)
    means = np.einsum("rkp,kp->rk", rows, w)
    if single:
        return [(per_action, rows[0]), (shared, shared_rows[0])], means[0]
    return [(per_action, rows), (shared, shared_rows)], means


def _arm_fixture(
    n_replicates: int | None = 6, n_actions: int = 4, seed: int = 7
) -> tuple[list[tuple[Any, np.ndarray]], np.ndarray]:
    """Trained per-arm learners (Beta-Bernoulli, Gamma-Poisson), one-hot designs, true means."""
    rng = np.random.default_rng(seed)
    batch = () if n_replicates is None else (n_replicates,)
    arms = [
        BetaBernoulli(n_actions=n_actions, n_replicates=n_replicates),
        GammaPoisson(n_actions=n_actions, n_replicates=n_replicates),
    ]
    means = rng.uniform(0.1, 0.9, size=(*batch, n_actions))
    rows = np.broadcast_to(np.eye(n_actions), (*batch, n_actions, n_actions))
    for step in range(3 * n_actions):
        a = (
            np.full(batch, step % n_actions)
            if step < n_actions
            else rng.integers(0, n_actions, batch)
        )
        mu = np.take_along_axis(means, np.asarray(a)[..., None], axis=-1)[..., 0]
        y = (rng.random(batch) < mu).astype(float)
        for model in arms:
            model.learn_one(rows[..., 0, :], y, action=a, probability=np.full(batch, 0.5))
    return [(model, rows) for model in arms], means


def _cases(policy: Any = None) -> list[tuple[Any, np.ndarray, np.ndarray]]:
    """``(model, designs, means)`` for six replicates and for one stream.

    A policy with ``learner_kind = "arms"`` (it reads a per-arm learner's counts or
    posterior) runs on trained per-arm learners; one that says it needs bootstrapped copies
    (``needs_copies = True``) on bootstrapped models; every other on the linear fixtures.
    """
    out = []
    arms = getattr(policy, "learner_kind", None) == "arms"
    bootstrap = bool(getattr(policy, "needs_copies", False))
    for n_replicates in (6, None):
        if arms:
            models, means = _arm_fixture(n_replicates)
        else:
            models, means = _policy_fixture(n_replicates, bootstrap=bootstrap)
        # Writeable copies (the runner may pass read-only views): a policy that writes into its
        # designs is then caught by the mutation check, not by a numpy error elsewhere.
        out += [(model, np.array(rows), means) for model, rows in models]
    return out


def _select(policy: Any, model: Any, rows: np.ndarray, means: np.ndarray, seed: int = 3) -> Any:
    return policy.select(model, rows, np.random.default_rng(seed), step=5, means=means)


def check_policy_same_seed_same_actions(policy: Any) -> None:
    """Two generators with the same seed give the same actions.

    Examples
    --------
    >>> from regretlab.policies import ThompsonSampling
    >>> check_policy_same_seed_same_actions(ThompsonSampling())
    """
    for model, rows, means in _cases(policy):
        a, b = _select(policy, model, rows, means), _select(policy, model, rows, means)
        require(np.array_equal(a.actions, b.actions), f"{policy!r}: same seed, other actions")


def check_actions_are_valid(policy: Any) -> None:
    """``select`` returns a ``Choice``: integer actions in ``[0, K)`` of the replicate shape
    (``(R,)``, or ``()`` for one stream) and probabilities in (0, 1] of that shape or ``None``.

    Examples
    --------
    >>> from regretlab.policies import EpsilonGreedy
    >>> check_actions_are_valid(EpsilonGreedy(epsilon=0.2))
    """
    for model, rows, means in _cases(policy):
        for step in (1, 2, 50):
            choice = policy.select(model, rows, np.random.default_rng(step), step=step, means=means)
            require(
                hasattr(choice, "actions") and hasattr(choice, "probability"),
                f"{policy!r}: select must return a Choice(actions, probability), got {choice!r}",
            )
            actions = np.asarray(choice.actions)
            shape = rows.shape[:-2]
            require(
                actions.shape == shape,
                f"{policy!r}: actions must have the replicate shape {shape}, got {actions.shape}",
            )
            require(np.issubdtype(actions.dtype, np.integer), f"{policy!r}: non-integer actions")
            require(
                bool(np.all((actions >= 0) & (actions < rows.shape[-2]))),
                f"{policy!r}: action out of range: {actions}",
            )
            if choice.probability is not None:
                prob = np.asarray(choice.probability)
                require(
                    prob.shape == shape,
                    f"{policy!r}: probability must have shape {shape}, got {prob.shape}",
                )
                require(
                    bool(np.all((prob > 0) & (prob <= 1))),
                    f"{policy!r}: probabilities outside (0, 1]: {prob}",
                )


def check_action_probabilities(policy: Any) -> None:
    """``action_probabilities`` (where the policy has it, as every policy of
    :mod:`regretlab.policies` does) returns ``(..., K)`` non-negative rows summing to 1, and a
    ``deterministic`` choice has all its mass on its tied best actions.

    Examples
    --------
    >>> from regretlab.policies import EpsilonGreedy
    >>> check_action_probabilities(EpsilonGreedy(epsilon=0.2))
    """
    if not hasattr(policy, "action_probabilities"):
        return
    for model, rows, means in _cases():
        probs = np.asarray(
            policy.action_probabilities(model, rows, np.random.default_rng(0), step=2, means=means)
        )
        require(
            probs.shape == rows.shape[:-1],
            f"{policy!r}: action_probabilities must have shape {rows.shape[:-1]}, "
            f"got {probs.shape}",
        )
        require(
            bool(np.all(probs >= 0)) and np.allclose(probs.sum(axis=-1), 1.0),
            f"{policy!r}: action_probabilities must be >= 0 and sum to 1 over the actions",
        )
        choice = policy.select(model, rows, np.random.default_rng(0), step=2, means=means)
        if getattr(choice, "deterministic", False):
            chosen = np.take_along_axis(probs, np.asarray(choice.actions)[..., None], -1)
            require(
                np.allclose(chosen[..., 0], choice.probability),
                f"{policy!r}: a deterministic choice's probability must be its "
                "action_probabilities entry (1, or 1/n among n ties)",
            )


def check_policy_leaves_inputs_alone(policy: Any) -> None:
    """``select`` changes neither the designs, the means nor the learner's predictions.

    Examples
    --------
    >>> from regretlab.policies import LinUCB
    >>> check_policy_leaves_inputs_alone(LinUCB())
    """
    for model, rows, means in _cases(policy):
        designs, truth = rows.copy(), means.copy()  # writeable, as a user's own arrays are
        before = np.asarray(model.predict_one(rows))
        _select(policy, model, designs, truth)
        require(np.array_equal(designs, rows), f"{policy!r}: select mutated its designs")
        require(np.array_equal(truth, means), f"{policy!r}: select mutated its means")
        after = np.asarray(model.predict_one(rows))
        require(
            np.array_equal(before, after),
            f"{policy!r}: select changed the learner (the runner, not the policy, teaches it)",
        )


def check_policy_uses_only_its_generator(policy: Any) -> None:
    """``select`` draws from the ``rng`` it is given, never from ``np.random`` or ``random``.

    Examples
    --------
    >>> from regretlab.policies import Random
    >>> check_policy_uses_only_its_generator(Random())
    """
    cases = _cases(policy)
    without_global_random(policy, lambda: [_select(policy, *case) for case in cases])


def check_policy_pickles(policy: Any) -> None:
    """The policy survives ``pickle`` (process pools, dask) and chooses as before.

    Examples
    --------
    >>> from regretlab.policies import Greedy
    >>> check_policy_pickles(Greedy())
    """
    twin = pickled_copy(policy)
    for model, rows, means in _cases(policy):
        a, b = _select(policy, model, rows, means), _select(twin, model, rows, means)
        require(
            np.array_equal(a.actions, b.actions), f"{policy!r}: its pickled copy chooses otherwise"
        )


def _masks(shape: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Random masks with at least one action available per row, and one with a single one."""
    rng = np.random.default_rng(seed)
    out = []
    for share in (0.3, 0.6):
        mask = rng.random(shape) < share
        mask[..., rng.integers(0, shape[-1])] = True
        out.append(mask)
    single = np.zeros(shape, dtype=bool)
    single[..., -1] = True
    return [*out, single]


def check_policy_honours_availability(policy: Any) -> None:
    """With ``available=`` a mask ``(..., K)``, ``select`` never picks an unavailable action, its
    probability is in (0, 1], and ``action_probabilities`` (where present) puts no mass on them
    and sums to 1 over the available ones. A policy whose ``select`` takes no ``available``
    keyword is not checked (the runner refuses it on an environment with such a mask).

    Examples
    --------
    >>> from regretlab.policies import EpsilonGreedy
    >>> check_policy_honours_availability(EpsilonGreedy(epsilon=0.5))
    """
    if not accepts_available(policy):
        return
    for model, rows, means in _cases(policy):
        for i, mask in enumerate(_masks(rows.shape[:-1], seed=11)):
            for step in (1, 2, 50):
                rng = np.random.default_rng(100 * i + step)
                choice = policy.select(model, rows, rng, step=step, means=means, available=mask)
                actions = np.asarray(choice.actions)
                picked = np.take_along_axis(mask, actions[..., None], axis=-1)[..., 0]
                require(
                    bool(np.all(picked)),
                    f"{policy!r}: chose an unavailable action (available={mask.tolist()}, "
                    f"actions={actions.tolist()})",
                )
                if choice.probability is not None:
                    prob = np.asarray(choice.probability)
                    require(
                        bool(np.all((prob > 0) & (prob <= 1))),
                        f"{policy!r}: probabilities outside (0, 1] under a mask: {prob}",
                    )
            if not hasattr(policy, "action_probabilities"):
                continue
            probs = np.asarray(
                policy.action_probabilities(
                    model, rows, np.random.default_rng(0), step=2, means=means, available=mask
                )
            )
            require(
                bool(np.all(probs[~mask] == 0)) and np.allclose(probs.sum(axis=-1), 1.0),
                f"{policy!r}: action_probabilities under a mask must be 0 on unavailable "
                "actions and sum to 1 over the available ones",
            )


def policy_checks() -> list[Callable[[Any], None]]:
    """Every check that applies to a policy.

    Examples
    --------
    >>> [check.__name__ for check in policy_checks()][:2]
    ['check_policy_same_seed_same_actions', 'check_actions_are_valid']
    """
    return [
        check_policy_same_seed_same_actions,
        check_actions_are_valid,
        check_action_probabilities,
        check_policy_leaves_inputs_alone,
        check_policy_uses_only_its_generator,
        check_policy_pickles,
        check_policy_honours_availability,
    ]


def check_policy(policy: Any) -> None:
    """Run every policy check on ``policy``; the first failure raises ``AssertionError``.

    What a user runs on their own :class:`~regretlab.base.Policy` before handing it to
    :func:`~regretlab.simulate.run_bandit`.

    Examples
    --------
    >>> from regretlab.policies import ThompsonSampling
    >>> check_policy(ThompsonSampling(scale=0.5))
    """
    for check in policy_checks():
        check(copy.deepcopy(policy))  # each check gets its own copy: none spoils the next
