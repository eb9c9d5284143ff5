"""A refreshed posterior keeps the sparse pattern of its sampling factor (issue 19).

The kept factor of ``ActionFeatures`` models has exact zeros between two actions' columns, and
the compiled step visits only the entries that may be nonzero. A refresh recomputes the
posterior from its statistics, and its fresh factor holds entries of the order of
``sampling_factor``'s 1e-12 diagonal shift where the exact one is zero: ``_factor._carry`` sets
them to zero and keeps the pattern when they are that small, and declines otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import LinearBandit
from regretlab.features import ActionFeatures
from regretlab.learners import BayesianLinearRegression, _factor, _factor_kernel, gaussian
from regretlab.policies import ThompsonSampling

CONTEXT, ACTIONS = 3, 4
P = 1 + CONTEXT + ACTIONS * (1 + CONTEXT)  # 20


def _bits(mask: np.ndarray) -> np.ndarray:
    """``_factor_kernel``'s bit rows of a boolean ``(p, p)`` mask."""
    p = mask.shape[0]
    rows = np.zeros((p, -(-p // 62)), dtype=np.int64)
    for k, i in zip(*np.nonzero(mask), strict=True):
        rows[k, i // 62] |= np.int64(1) << np.int64(i % 62)
    return rows


def _structure() -> np.ndarray:
    """The entries of ``L'`` that may be nonzero: the shared columns' rows, each action's block."""
    shared = 1 + CONTEXT
    expected = np.zeros((P, P), dtype=bool)
    expected[:shared] = True
    for a in range(ACTIONS):
        first = shared + ACTIONS + a * CONTEXT
        block = [shared + a, *range(first, first + CONTEXT)]
        expected[np.ix_(block, block)] = True
    return np.triu(expected)


def _refreshed_factor(n_items=7, n_rows=60, seed=0, spread=0.0):
    """The covariance of a posterior after ``ActionFeatures`` rows, solved from its precision,
    and its fresh factor as ``SamplingFactor`` lays it out, ``(p, p, N)``; ``spread``: the
    columns' scales span ``10^-spread`` to ``10^spread``."""
    rng = np.random.default_rng(seed)
    rows = ActionFeatures(CONTEXT, ACTIONS).transform(
        rng.uniform(-1, 1, (n_items, n_rows, CONTEXT))
    )
    x = rows[
        np.arange(n_items)[:, None], np.arange(n_rows), rng.integers(0, ACTIONS, (n_items, n_rows))
    ]
    x = x * 10.0 ** rng.uniform(-spread, spread, P)
    precision = np.eye(P) / 3.0 + np.einsum("nti,ntj->nij", x, x)
    covariance = np.linalg.inv(precision)
    factor = gaussian.sampling_factor(covariance)
    return covariance, np.ascontiguousarray(factor.transpose(2, 1, 0))


@pytest.mark.parametrize("spread", [0.0, 4.0])
def test_a_refreshed_factor_keeps_its_pattern(spread):
    # With spread 4 the columns' scales lie eight decades apart: each entry is measured against
    # its own row's scale.
    covariance, upper = _refreshed_factor(spread=spread)
    outside = ~_structure()[..., None] & np.ones(upper.shape, dtype=bool)
    row_scale = np.sqrt(np.einsum("kin,kin->in", upper, upper))[None]
    assert 0 < (np.abs(upper) / row_scale)[outside].max() < 1e-9  # the diagonal shift's
    inside = upper[~outside].copy()
    assert _factor._carry(upper, _bits(_structure()))
    assert not upper[outside].any()
    assert not np.signbit(upper[outside]).any()  # +0.0
    np.testing.assert_array_equal(upper[~outside], inside)  # the rest untouched
    lower = upper.transpose(2, 1, 0)
    rebuilt = lower @ lower.swapaxes(-1, -2)
    scale = np.sqrt(np.einsum("nii->ni", covariance))
    error = np.abs(rebuilt - covariance) / (scale[:, :, None] * scale[:, None, :])
    assert error.max() < 1e-10  # what sampling_factor's own 1e-12 shift allows, and no more


def test_a_pattern_that_does_not_fit_is_not_carried():
    # The prior's diagonal pattern against a posterior with rows: its off-diagonal entries are
    # large, so the factor is left as it is (and its pattern is read afresh).
    _, upper = _refreshed_factor(seed=1)
    before = upper.copy()
    assert not _factor._carry(upper, _bits(np.eye(P, dtype=bool)))
    np.testing.assert_array_equal(upper, before)
    # One structural block too few: that action's columns are large outside the pattern.
    smaller = _structure()
    smaller[-CONTEXT:, -CONTEXT:] = np.eye(CONTEXT, dtype=bool)
    assert not _factor._carry(upper, _bits(smaller))
    np.testing.assert_array_equal(upper, before)


def _run_ts(steps=130, refresh_every=40, n_rep=12):
    env = LinearBandit(
        n_actions=ACTIONS, context_dim=CONTEXT, horizon=steps, n_replicates=n_rep, seed=3
    )
    model = BayesianLinearRegression(groups=env.features, n_replicates=n_rep,
                                     refresh_every=refresh_every)  # fmt: skip
    policy, rng = ThompsonSampling(), np.random.default_rng(4)
    features = env.features
    rows, actions = np.arange(n_rep), []
    block = next(env.blocks(steps))
    for t in range(steps):
        designs = features.transform(block.context[:, t])
        choice = policy.select(model, designs, rng, step=t + 1)
        actions.append(choice.actions)
        model.learn_one(designs[rows, choice.actions], block.rewards[rows, t, choice.actions])
    return model, np.array(actions)


def test_thompson_sampling_keeps_the_pattern_across_refreshes(monkeypatch):
    if _factor_kernel.compiled_step() is None:  # the step's source as Python, slowly
        monkeypatch.setattr(_factor_kernel, "compiled_step", lambda: _factor_kernel._step_source)
        monkeypatch.setattr(
            _factor_kernel, "_compiled_pattern", lambda: _factor_kernel._pattern_source
        )
    model, actions = _run_ts()  # three refreshes
    pattern = model._sampling._pattern
    np.testing.assert_array_equal(_factor.pattern_mask(pattern, P), _structure())
    monkeypatch.setattr(_factor, "_carry", lambda upper, pattern: False)
    dense_model, dense_actions = _run_ts()
    assert _factor.pattern_mask(dense_model._sampling._pattern, P).sum() == P * (P + 1) // 2
    # The dropped entries are ~1e-12 of their row's scale: no decision here turns on them.
    np.testing.assert_array_equal(actions, dense_actions)


def test_an_entry_is_measured_against_the_scale_of_its_own_row_of_the_factor():
    # Row 2 of L has scale sqrt(S_22) ~ 1e3 and column 2 of L only 1e-6: L[2, 0] = 1e-11 is
    # zero beside the first, not beside the second.
    lower = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1e-11, 1e3, 1e-6]])
    upper = np.ascontiguousarray(lower.T[..., None])
    pattern = np.eye(3, dtype=bool)
    pattern[1, 2] = True  # U[1, 2] = L[2, 1]
    assert _factor._carry(upper, _bits(pattern))
    assert upper[0, 2, 0] == 0.0
    upper[0, 2, 0] = 1e-5  # 1e-8 of the row's scale: a real entry, not rounding
    assert not _factor._carry(upper, _bits(pattern))
