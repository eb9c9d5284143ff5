"""Checks every agent selector passes (a learner-like object with ``select`` that holds whole
base agents, as :class:`~regretlab.policies.selection.Corral`): a base learns only in the
replicates that picked it, determinism under a seed, state that survives ``numpy.savez``,
pickling.

Each takes an *unfitted* selector for ``n_replicates >= 2`` whose bases have learners (the
design width is theirs) and drives it as
:func:`~regretlab.simulate.run_bandit` does (``select``, then ``learn_one`` of the chosen rows)
on random designs of its width.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from regretlab.checks._common import require as _require

__all__ = [
    "check_selector",
    "check_selector_pickles",
    "check_selector_same_seed_same_actions",
    "check_selector_state_round_trip",
    "check_selector_teaches_only_the_picked",
    "selector_checks",
]

_STEPS = 40
_ACTIONS = 3


def _steps(selector: Any, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    r, p = int(selector.n_replicates), int(selector.n_features)
    for _ in range(_STEPS):
        yield rng.uniform(-1, 1, size=(r, _ACTIONS, p)), rng.normal(size=(r, _ACTIONS))


def _step(selector: Any, designs: np.ndarray, rewards: np.ndarray, rng: Any, t: int) -> Any:
    choice = selector.select(designs, rng, step=t)
    rows = np.arange(designs.shape[0])
    selector.learn_one(designs[rows, choice.actions], rewards[rows, choice.actions])
    return choice


def _run(selector: Any, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array(
        [_step(selector, d, y, rng, t).actions for t, (d, y) in enumerate(_steps(selector, 1), 1)]
    )


def check_selector_teaches_only_the_picked(selector: Any) -> None:
    """After every step each base's state is, per replicate, what it was where the replicate
    picked another base and what learning the step gives where it picked this one (a selector
    with ``teach="all"`` teaches every base everywhere).

    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.policies import ThompsonSampling
    >>> from regretlab.policies.selection import Corral
    >>> def ts(v):
    ...     model = BayesianLinearRegression(groups=("main", "main"), prior_variance=v,
    ...                                      n_replicates=4)
    ...     return (model, ThompsonSampling())
    >>> check_selector_teaches_only_the_picked(Corral({"a": ts(0.1), "b": ts(10.0)},
    ...                                                 horizon=40, learning_rate=2.0))
    """
    model = selector.clone()
    teach_all = getattr(model, "teach", "picked") == "all"
    rng = np.random.default_rng(0)
    for t, (designs, rewards) in enumerate(_steps(model, 2), 1):
        learners = model.base_learners
        before: list[Any] = [{} if m is None else m.get_state() for m in learners]
        choice = model.select(designs, rng, step=t)
        picks = np.asarray(model.picks)
        rows = np.arange(designs.shape[0])
        x, y = designs[rows, choice.actions], rewards[rows, choice.actions]
        model.learn_one(x, y)
        for i, learner in enumerate(learners):
            if learner is None:
                continue
            shadow = learner.clone().set_state(before[i])
            shadow.learn_one(x, y)
            taught, after = shadow.get_state(), learner.get_state()
            mine = np.ones_like(picks, dtype=bool) if teach_all else picks == i
            for key, value in after.items():
                value = np.asarray(value)
                if value.ndim == 0 or value.shape[0] != len(picks):
                    continue
                _require(
                    np.array_equal(value[~mine], np.asarray(before[i][key])[~mine])
                    and np.allclose(value[mine], np.asarray(taught[key])[mine], rtol=1e-10),
                    f"{selector!r}: step {t}, base {i}, state {key!r}: the replicates that "
                    "picked another base changed, or the picked ones did not learn the step",
                )


def check_selector_same_seed_same_actions(selector: Any) -> None:
    """Two clones driven with the same seed choose the same actions.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.policies import ThompsonSampling
    >>> from regretlab.policies.selection import RegretBalancing, RegretBound
    >>> model = BayesianLinearRegression(groups=("main", "main"), n_replicates=3)
    >>> bases = {"a": (model, ThompsonSampling()), "b": (model.clone(), ThompsonSampling())}
    >>> bounds = [RegretBound(1), RegretBound(2)]
    >>> check_selector_same_seed_same_actions(RegretBalancing(bases, bounds=bounds))
    """
    a, b = _run(selector.clone()), _run(selector.clone())
    _require(np.array_equal(a, b), f"{selector!r}: two clones chose differently on one seed")


def check_selector_state_round_trip(selector: Any) -> None:
    """State saved with ``numpy.savez`` loads with ``allow_pickle=False`` and continues alike.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.policies import ThompsonSampling
    >>> from regretlab.policies.selection import Corral
    >>> model = BayesianLinearRegression(groups=("main", "main"), n_replicates=3)
    >>> bases = {"a": (model, ThompsonSampling()), "b": (model.clone(), ThompsonSampling())}
    >>> check_selector_state_round_trip(Corral(bases, horizon=40))
    """
    model = selector.clone()
    steps = list(_steps(model, 3))
    rng = np.random.default_rng(0)
    for t, (d, y) in enumerate(steps[:20], 1):
        _step(model, d, y, rng, t)
    buffer = io.BytesIO()
    np.savez(buffer, **model.get_state())
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as saved:
        restored = selector.clone().set_state(dict(saved))
    for t, (d, y) in enumerate(steps[20:], 21):
        seed = np.random.default_rng(t)
        a = _step(model, d, y, seed, t)
        b = _step(restored, d, y, np.random.default_rng(t), t)
        _require(
            np.array_equal(a.actions, b.actions),
            f"{selector!r}: the restored selector chose differently at step {t}",
        )


def check_selector_pickles(selector: Any) -> None:
    """The selector survives ``pickle`` (process pools, dask) and chooses as before.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.policies import ThompsonSampling
    >>> from regretlab.policies.selection import Corral
    >>> model = BayesianLinearRegression(groups=("main", "main"), n_replicates=3)
    >>> bases = {"a": (model, ThompsonSampling()), "b": (model.clone(), ThompsonSampling())}
    >>> check_selector_pickles(Corral(bases, horizon=40))
    """
    copy = pickle.loads(pickle.dumps(selector))
    _require(
        np.array_equal(_run(selector.clone()), _run(copy.clone())),
        f"{selector!r}: the unpickled selector chose differently",
    )


def selector_checks() -> list[Callable[[Any], None]]:
    """Every check that applies to an agent selector.

    >>> [check.__name__ for check in selector_checks()][:1]
    ['check_selector_teaches_only_the_picked']
    """
    return [
        check_selector_teaches_only_the_picked,
        check_selector_same_seed_same_actions,
        check_selector_state_round_trip,
        check_selector_pickles,
    ]


def check_selector(selector: Any) -> None:
    """Run every selector check on ``selector``; the first failure raises ``AssertionError``.

    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.policies import Greedy, ThompsonSampling
    >>> from regretlab.policies.selection import Corral
    >>> model = BayesianLinearRegression(groups=("main", "main"), n_replicates=3)
    >>> check_selector(Corral({"ts": (model, ThompsonSampling()),
    ...                        "greedy": (model.clone(), Greedy())}, horizon=40))
    """
    for check in selector_checks():
        check(selector)
