"""Generic checks every learner must pass (river's ``checks``, scikit-learn's ``check_*``).

Each ``check_*`` function takes an *unfitted* learner built for one stream (``n_replicates=None``)
with ``get_params()``, ``clone()``, ``learn_one``, ``predict_one``, ``get_state`` and
``set_state``, runs it on a small seeded stream and raises ``AssertionError`` with a message on
failure. :func:`learner_checks` lists them; the test suite runs them over every exported learner.

The policy and scheduler checks run on trained learners and an environment of their own, so this
module sits above :mod:`regretlab.environments` and :mod:`regretlab.learners` (ARCHITECTURE.md).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from regretlab.environments import InteractionStream
from regretlab.learners import BayesianLinearRegression, DisjointBayesianLinearRegression

__all__ = [
    "check_actions_are_valid",
    "check_bad_input",
    "check_batched_equals_single",
    "check_clone_is_independent",
    "check_inputs_not_mutated",
    "check_policy_same_seed_same_actions",
    "check_predict_before_learn",
    "check_same_seed_same_output",
    "check_scheduler_changes_are_exact",
    "check_scheduler_is_deterministic",
    "check_state_round_trip",
    "learner_checks",
    "policy_checks",
    "scheduler_checks",
]

_STEPS = 60


def _stream(n_features: int, seed: int, batch: tuple[int, ...] = ()) -> Iterator[tuple]:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n_features)
    for _ in range(_STEPS):
        x = rng.uniform(-1, 1, size=(*batch, n_features))
        yield x, x @ w + 0.1 * rng.normal(size=batch)


def _require(condition: bool, message: str) -> None:
    # Checks raise explicitly rather than with ``assert``, which ``python -O`` strips.
    if not condition:
        raise AssertionError(message)


def _learn(model: Any, x: np.ndarray, y: Any, step: int) -> None:
    """``learn_one``; per-action learners (with ``n_actions``) get a deterministic action."""
    k = getattr(model, "n_actions", None)
    if k is None:
        model.learn_one(x, y)
    else:
        model.learn_one(x, y, action=np.full(np.shape(y), step % k))


def _with_replicates(learner: Any, n_replicates: int | None) -> Any:
    """The same learner for ``n_replicates``; a wrapper passes it on to its inner learner."""
    params = learner.get_params()
    if "n_replicates" not in params and "learner" in params:
        return type(learner)(
            **{**params, "learner": _with_replicates(params["learner"], n_replicates)}
        )
    return type(learner)(**{**params, "n_replicates": n_replicates})


def _n_features(learner: Any) -> int:
    return int(learner.n_features)


def _trajectory(learner: Any, seed: int = 0) -> np.ndarray:
    out = []
    for t, (x, y) in enumerate(_stream(_n_features(learner), seed)):
        out.append(learner.predict_one(x))
        _learn(learner, x, y, t)
    return np.asarray(out, dtype=float)


def check_predict_before_learn(learner: Any) -> None:
    """A prediction before any data is finite.

    >>> check_predict_before_learn(BayesianLinearRegression(groups=("main", "main")))
    """
    model = learner.clone()
    value = model.predict_one(np.zeros(_n_features(model)))
    _require(bool(np.all(np.isfinite(value))), f"{model!r} predicts {value} before learning")


def check_inputs_not_mutated(learner: Any) -> None:
    """``learn_one`` and ``predict_one`` leave their arguments as they were.

    >>> check_inputs_not_mutated(BayesianLinearRegression(groups=("main", "main")))
    """
    model = learner.clone()
    for t, (x, y) in enumerate(_stream(_n_features(model), 1)):
        x0, y0 = x.copy(), np.copy(y)
        model.predict_one(x)
        _learn(model, x, y, t)
        _require(np.array_equal(x, x0), f"{model!r} mutated its input x")
        _require(np.array_equal(y, y0), f"{model!r} mutated its input y")


def check_same_seed_same_output(learner: Any) -> None:
    """Two clones on the same stream give identical predictions.

    >>> check_same_seed_same_output(BayesianLinearRegression(groups=("main", "main")))
    """
    a, b = _trajectory(learner.clone()), _trajectory(learner.clone())
    _require(np.array_equal(a, b), f"{learner!r}: two clones disagree on the same stream")


def check_batched_equals_single(learner: Any, n_replicates: int = 3) -> None:
    """``R`` replicates in lockstep equal ``R`` separate single-stream models.

    >>> check_batched_equals_single(BayesianLinearRegression(groups=("main", "main")))
    """
    batched = _with_replicates(learner, n_replicates)
    singles = [learner.clone() for _ in range(n_replicates)]
    stream = list(_stream(_n_features(learner), 2, (n_replicates,)))
    for t, (x, y) in enumerate(stream):
        together = np.asarray(batched.predict_one(x))
        apart = np.array([m.predict_one(x[r]) for r, m in enumerate(singles)])
        np.testing.assert_allclose(
            together, apart, rtol=1e-10, atol=1e-12, err_msg=f"{learner!r}: batched != separate"
        )
        _learn(batched, x, y, t)
        for r, m in enumerate(singles):
            _learn(m, x[r], y[r], t)


def check_clone_is_independent(learner: Any) -> None:
    """Training a clone leaves the original untouched, and a clone starts untrained.

    >>> check_clone_is_independent(BayesianLinearRegression(groups=("main", "main")))
    """
    original = learner.clone()
    before = _trajectory(learner.clone())
    trained = original.clone()
    _trajectory(trained, seed=5)
    after = _trajectory(original)
    _require(np.array_equal(before, after), f"{learner!r}: training a clone changed the original")
    fresh = trained.clone()
    _require(np.array_equal(_trajectory(fresh), before), f"{learner!r}: clone() kept learned state")


def check_state_round_trip(learner: Any) -> None:
    """State saved with ``numpy.savez`` loads with ``allow_pickle=False`` and continues alike.

    >>> check_state_round_trip(BayesianLinearRegression(groups=("main", "main")))
    """
    model = learner.clone()
    stream = list(_stream(_n_features(model), 3))
    for t, (x, y) in enumerate(stream[:30]):
        _learn(model, x, y, t)
    buffer = io.BytesIO()
    np.savez(buffer, **model.get_state())
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as saved:
        restored = learner.clone().set_state(dict(saved))
    for t, (x, y) in enumerate(stream[30:]):
        a, b = model.predict_one(x), restored.predict_one(x)
        np.testing.assert_allclose(
            a,
            b,
            rtol=1e-12,
            atol=1e-12,
            err_msg=f"{learner!r}: restored model predicts differently",
        )
        _learn(model, x, y, t)
        _learn(restored, x, y, t)


def check_bad_input(learner: Any) -> None:
    """Wrong shapes and NaN/inf raise ``ValueError``/``TypeError`` naming the argument, and the
    model's predictions are unchanged afterwards.

    >>> check_bad_input(BayesianLinearRegression(groups=("main", "main")))
    """
    model = learner.clone()
    p = _n_features(model)
    stream = list(_stream(p, 4))
    for t, (x, y) in enumerate(stream[:10]):
        _learn(model, x, y, t)
    probe = stream[10][0]
    before = model.predict_one(probe)
    bad_cases: list[tuple[str, Callable[[], Any]]] = [
        ("x", lambda: _learn(model, np.zeros(p + 1), 0.0, 0)),
        ("x", lambda: _learn(model, np.full(p, np.nan), 0.0, 0)),
        ("x", lambda: _learn(model, np.r_[np.inf, np.zeros(p - 1)], 0.0, 0)),
        ("y", lambda: _learn(model, np.zeros(p), np.nan, 0)),
        ("y", lambda: _learn(model, np.zeros(p), np.inf, 0)),
        ("y", lambda: _learn(model, np.zeros(p), np.zeros(2), 0)),
        ("x", lambda: model.predict_one(np.zeros(p + 1))),
    ]
    for name, call in bad_cases:
        try:
            call()
        except (ValueError, TypeError) as exc:
            _require(name in str(exc), f"{learner!r}: error does not name {name!r}: {exc}")
        else:
            raise AssertionError(f"{learner!r}: bad {name} was accepted")
    after = model.predict_one(probe)
    _require(np.array_equal(before, after), f"{learner!r}: a rejected input changed the model")


def learner_checks() -> list[Callable[[Any], None]]:
    """Every check that applies to a learner.

    >>> [check.__name__ for check in learner_checks()][:2]
    ['check_predict_before_learn', 'check_inputs_not_mutated']
    """
    return [
        check_predict_before_learn,
        check_inputs_not_mutated,
        check_same_seed_same_output,
        check_batched_equals_single,
        check_clone_is_independent,
        check_state_round_trip,
        check_bad_input,
    ]


# -- policies ---------------------------------------------------------------------------------
def _policy_fixture(n_replicates: int = 6, n_actions: int = 4, seed: int = 7) -> tuple:
    """A trained per-action model, a trained shared model, their designs and true means."""
    rng = np.random.default_rng(seed)
    p = 3
    per_action = DisjointBayesianLinearRegression(
        groups=("intercept", "main", "main"), n_actions=n_actions, n_replicates=n_replicates
    )
    shared = BayesianLinearRegression(groups=("main",) * (p * n_actions), n_replicates=n_replicates)
    w = rng.normal(size=(n_actions, p))
    for _ in range(20):
        x = np.c_[np.ones(n_replicates), rng.uniform(-1, 1, size=(n_replicates, p - 1))]
        a = rng.integers(0, n_actions, size=n_replicates)
        y = np.einsum("rp,rp->r", x, w[a]) + 0.1 * rng.normal(size=n_replicates)
        per_action.learn_one(x, y, action=a)
        block = np.zeros((n_replicates, n_actions, p))
        block[np.arange(n_replicates), a] = x
        shared.learn_one(block.reshape(n_replicates, -1), y)
    x = np.c_[np.ones(n_replicates), rng.uniform(-1, 1, size=(n_replicates, p - 1))]
    rows = np.broadcast_to(x[:, None, :], (n_replicates, n_actions, p))
    shared_rows: np.ndarray = np.zeros((n_replicates, n_actions, n_actions, p))
    shared_rows[:, np.arange(n_actions), np.arange(n_actions)] = rows
    shared_rows = shared_rows.reshape(n_replicates, n_actions, -1)
    means = np.einsum("rkp,kp->rk", rows, w)
    return [(per_action, rows), (shared, shared_rows)], means


def check_policy_same_seed_same_actions(policy: Any) -> None:
    """Two generators with the same seed give the same actions.

    >>> from regretlab.policies import ThompsonSampling
    >>> check_policy_same_seed_same_actions(ThompsonSampling())
    """
    cases, means = _policy_fixture()
    for model, rows in cases:
        a = policy.select(model, rows, np.random.default_rng(3), step=5, means=means)
        b = policy.select(model, rows, np.random.default_rng(3), step=5, means=means)
        _require(np.array_equal(a.actions, b.actions), f"{policy!r}: same seed, other actions")


def check_actions_are_valid(policy: Any) -> None:
    """Actions are integers in ``[0, K)`` of the replicate shape; probabilities lie in (0, 1].

    >>> from regretlab.policies import EpsilonGreedy
    >>> check_actions_are_valid(EpsilonGreedy(0.2))
    """
    cases, means = _policy_fixture()
    for model, rows in cases:
        for step in (1, 2, 50):
            choice = policy.select(model, rows, np.random.default_rng(step), step=step, means=means)
            actions = np.asarray(choice.actions)
            _require(actions.shape == rows.shape[:-2], f"{policy!r}: actions {actions.shape}")
            _require(np.issubdtype(actions.dtype, np.integer), f"{policy!r}: non-integer actions")
            _require(
                bool(np.all((actions >= 0) & (actions < rows.shape[-2]))),
                f"{policy!r}: action out of range: {actions}",
            )
            if choice.probability is not None:
                prob = np.asarray(choice.probability)
                _require(
                    bool(np.all((prob > 0) & (prob <= 1))),
                    f"{policy!r}: probabilities outside (0, 1]: {prob}",
                )


def policy_checks() -> list[Callable[[Any], None]]:
    """Every check that applies to a policy.

    >>> from regretlab.policies import Greedy
    >>> for check in policy_checks():
    ...     check(Greedy())
    """
    return [check_policy_same_seed_same_actions, check_actions_are_valid]


# -- schedulers -------------------------------------------------------------------------------
def _scheduler_run(scheduler: Any, seed: int = 11, steps: int = 120) -> tuple[Any, list, list]:
    """Run ``scheduler`` on a grouped Bayesian learner over a stream with interactions."""
    env = InteractionStream(
        x_dim=3, interaction_scale=2.0, noise_level=0.2, horizon=steps, n_replicates=3, seed=seed
    )
    model = BayesianLinearRegression(
        groups=env.features, n_replicates=3, noise_precision=25.0, prior_variance={"pairwise": 0.0}
    )
    obs = env.take(steps)
    design = env.features.transform(obs.x)
    events, rows = [], []
    for t in range(steps):
        model.learn_one(design[:, t], obs.y[:, t])
        rows.append(t)
        events += scheduler.update(model, t + 1)
    return model, events, [design, obs.y]


def check_scheduler_changes_are_exact(scheduler: Any) -> None:
    """After a scheduler's changes the posterior equals a fresh fit with the final prior.

    >>> from regretlab.policies.escalation import EvidenceSwitch
    >>> check_scheduler_changes_are_exact(EvidenceSwitch(every=5))
    """
    model, events, (design, y) = _scheduler_run(scheduler.clone())
    prior = {g: model.get_prior_variance(g) for g in model.columns}
    fresh = BayesianLinearRegression(
        groups=model.groups, n_replicates=3, noise_precision=25.0, prior_variance=prior
    ).learn_many(design, y)
    np.testing.assert_allclose(
        model.mean,
        fresh.mean,
        rtol=1e-8,
        atol=1e-10,
        err_msg=f"{scheduler!r}: posterior after changes != fresh fit",
    )
    for event in events:
        _require(event.old != event.new, f"{scheduler!r}: an event that changes nothing")
        _require(event.new >= 0.0, f"{scheduler!r}: a negative variance {event}")


def check_scheduler_is_deterministic(scheduler: Any) -> None:
    """Two clones on the same stream make the same changes; a clone starts afresh.

    >>> from regretlab.policies.escalation import Fixed
    >>> check_scheduler_is_deterministic(Fixed({"pairwise": 0.0}))
    """
    first = _scheduler_run(scheduler.clone())[1]
    second = _scheduler_run(scheduler.clone())[1]
    _require(first == second, f"{scheduler!r}: two clones made different changes")


def scheduler_checks() -> list[Callable[[Any], None]]:
    """Every check that applies to a scheduler.

    >>> len(scheduler_checks())
    2
    """
    return [check_scheduler_changes_are_exact, check_scheduler_is_deterministic]
