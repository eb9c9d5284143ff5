"""Checks every learner passes (the :class:`~regretlab.base.Learner` contract and more).

Each takes an *unfitted* learner built for one stream (``n_replicates=None``) with
``get_params()``, ``clone()``, ``learn_one``, ``predict_one``, ``get_state`` and ``set_state``,
and runs it on a small seeded stream.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from regretlab.checks._common import require as _require

__all__ = [
    "check_bad_input",
    "check_batched_equals_single",
    "check_clone_is_independent",
    "check_inputs_not_mutated",
    "check_learner",
    "check_predict_before_learn",
    "check_same_seed_same_output",
    "check_state_round_trip",
    "learner_checks",
]

_STEPS = 60


def _stream(
    n_features: int, seed: int, batch: tuple[int, ...] = (), kind: str = "real"
) -> Iterator[tuple]:
    """Seeded ``(x, y)`` steps; ``kind`` is the learner's ``target_kind``: ``"real"`` targets,
    ``"binary"`` (0/1: the sign of the real one) or ``"count"`` (integers >= 0)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n_features)
    for _ in range(_STEPS):
        x = rng.uniform(-1, 1, size=(*batch, n_features))
        y = x @ w + 0.1 * rng.normal(size=batch)
        if kind == "binary":
            y = (y > 0).astype(float)
        elif kind == "count":
            y = np.floor(3.0 * np.abs(y))
        yield x, y


def _targets(learner: Any) -> str:
    """``target_kind`` of the learner (or of the learner a wrapper holds); a GLM's follows its
    link: 0/1 for the logit, counts for the log."""
    for model in (learner, getattr(learner, "learner", None)):
        kind = getattr(model, "target_kind", None)
        if kind is not None:
            return str(kind)
        link = getattr(model, "link", None)
        if link is not None:
            return {"logit": "binary", "log": "count"}.get(link, "real")
    return "real"


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
    if "learners" in params:  # a combination of whole learners (Hedge)
        members = params["learners"]
        rebuilt = (
            {k: _with_replicates(m, n_replicates) for k, m in members.items()}
            if isinstance(members, dict)
            else [_with_replicates(m, n_replicates) for m in members]
        )
        return type(learner)(**{**params, "learners": rebuilt})
    if "n_replicates" not in params and "learner" in params:
        return type(learner)(
            **{**params, "learner": _with_replicates(params["learner"], n_replicates)}
        )
    return type(learner)(**{**params, "n_replicates": n_replicates})


def _n_features(learner: Any) -> int:
    return int(learner.n_features)


def _trajectory(learner: Any, seed: int = 0) -> np.ndarray:
    out = []
    for t, (x, y) in enumerate(_stream(_n_features(learner), seed, kind=_targets(learner))):
        out.append(learner.predict_one(x))
        _learn(learner, x, y, t)
    return np.asarray(out, dtype=float)


def check_predict_before_learn(learner: Any) -> None:
    """A prediction before any data is finite.

    >>> from regretlab.learners import BayesianLinearRegression

    >>> check_predict_before_learn(BayesianLinearRegression(groups=("main", "main")))
    """
    model = learner.clone()
    value = model.predict_one(np.zeros(_n_features(model)))
    _require(bool(np.all(np.isfinite(value))), f"{model!r} predicts {value} before learning")


def check_inputs_not_mutated(learner: Any) -> None:
    """``learn_one`` and ``predict_one`` leave their arguments as they were.

    >>> from regretlab.learners import BayesianLinearRegression

    >>> check_inputs_not_mutated(BayesianLinearRegression(groups=("main", "main")))
    """
    model = learner.clone()
    for t, (x, y) in enumerate(_stream(_n_features(model), 1, kind=_targets(model))):
        x0, y0 = x.copy(), np.copy(y)
        model.predict_one(x)
        _learn(model, x, y, t)
        _require(np.array_equal(x, x0), f"{model!r} mutated its input x")
        _require(np.array_equal(y, y0), f"{model!r} mutated its input y")


def check_same_seed_same_output(learner: Any) -> None:
    """Two clones on the same stream give identical predictions.

    >>> from regretlab.learners import BayesianLinearRegression

    >>> check_same_seed_same_output(BayesianLinearRegression(groups=("main", "main")))
    """
    a, b = _trajectory(learner.clone()), _trajectory(learner.clone())
    _require(np.array_equal(a, b), f"{learner!r}: two clones disagree on the same stream")


def check_batched_equals_single(learner: Any, n_replicates: int = 3) -> None:
    """``R`` replicates in lockstep equal ``R`` separate single-stream models.

    >>> from regretlab.learners import BayesianLinearRegression

    >>> check_batched_equals_single(BayesianLinearRegression(groups=("main", "main")))
    """
    batched = _with_replicates(learner, n_replicates)
    singles = [learner.clone() for _ in range(n_replicates)]
    stream = list(_stream(_n_features(learner), 2, (n_replicates,), _targets(learner)))
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

    >>> from regretlab.learners import BayesianLinearRegression

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

    >>> from regretlab.learners import BayesianLinearRegression

    >>> check_state_round_trip(BayesianLinearRegression(groups=("main", "main")))
    """
    model = learner.clone()
    stream = list(_stream(_n_features(model), 3, kind=_targets(model)))
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

    >>> from regretlab.learners import BayesianLinearRegression

    >>> check_bad_input(BayesianLinearRegression(groups=("main", "main")))
    """
    model = learner.clone()
    p = _n_features(model)
    stream = list(_stream(p, 4, kind=_targets(model)))
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


def check_learner(learner: Any) -> None:
    """Run every learner check on ``learner``; the first failure raises ``AssertionError``.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> check_learner(BayesianLinearRegression(groups=("intercept", "main", "main")))
    """
    for check in learner_checks():
        check(copy.deepcopy(learner))  # each check gets its own copy: none spoils the next
