"""Thompson sampling's compiled draw and pick for per-action models (policies/_thompson_pick.py).

The compiled call must give the numpy path's scores, actions and generator state to the last
bit (the same normals, keys and pick), with ties, NaN rows and ``scale`` != 1; where it does not
apply it returns ``None`` and draws nothing. Without numba the comparisons are skipped.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from regretlab.features import InteractionFeatures
from regretlab.learners import BayesianLinearRegression, DisjointBayesianLinearRegression
from regretlab.policies import ThompsonSampling, _thompson_pick, exploration
from regretlab.policies._ties import argmax_random_ties
from regretlab.policies.propensities import posterior_scores

HAS_NUMBA = _thompson_pick._compiled_pick() is not None
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed (or switched off)")
FM = InteractionFeatures(3, pairwise=False)  # p = 4


class Fixed:
    """A per-action model with given predictive means and sds."""

    def __init__(self, loc: np.ndarray, sd: np.ndarray) -> None:
        self.n_actions = loc.shape[-1]
        self.loc, self.sd = loc, sd

    def predict_one(self, designs, *, return_sd=False, include_noise=True):
        return self.loc.copy(), self.sd.copy()


def trained(r: int = 120, k: int = 4, seed: int = 0) -> DisjointBayesianLinearRegression:
    rng = np.random.default_rng(seed)
    model = DisjointBayesianLinearRegression(groups=FM, n_actions=k, n_replicates=r)
    for _ in range(20):
        x = FM.transform(rng.uniform(-1, 1, (r, 3)))
        model.learn_one(x, rng.standard_normal(r), action=rng.integers(0, k, r))
    return model


def numpy_path(model, designs, rng, scale):
    scores = posterior_scores(model, designs, rng, scale)
    return scores, argmax_random_ties(scores, rng)


@needs_numba
@pytest.mark.parametrize("scale", [1.0, 0.3])
def test_the_compiled_pick_is_the_numpy_path_to_the_last_bit(scale):
    model = trained()
    rows = FM.transform(np.random.default_rng(1).uniform(-1, 1, (120, 3)))
    designs = np.broadcast_to(rows[:, None], (120, 4, rows.shape[-1]))  # as the runner passes
    a, b = np.random.default_rng(2), np.random.default_rng(2)
    for _ in range(5):
        got = _thompson_pick.thompson_pick(model, designs, a, scale, None)
        assert got is not None
        want = numpy_path(model, designs, b, scale)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert a.bit_generator.state == b.bit_generator.state  # the generator left the same


@needs_numba
def test_ties_and_nan_rows_pick_as_numpy():
    rng = np.random.default_rng(3)
    loc = rng.integers(0, 3, (400, 5)).astype(float)
    sd = np.where(rng.random((400, 5)) < 0.7, 0.0, 1.0)  # many exact ties among sd = 0 scores
    loc[7, 2] = np.nan
    loc[9, 0] = np.nan
    model = Fixed(loc, sd)
    rows = np.zeros((400, 5, 1))
    a, b = np.random.default_rng(4), np.random.default_rng(4)
    got = _thompson_pick.thompson_pick(model, rows, a, 1.0, None)
    assert got is not None
    want = numpy_path(model, rows, b, 1.0)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[1][7] == 0
    assert got[1][9] == 0
    assert a.random() == b.random()


@needs_numba
def test_thompson_sampling_takes_the_same_actions_with_the_compiled_pick(monkeypatch):
    model = trained(r=90, k=5, seed=5)
    rows = FM.transform(np.random.default_rng(6).uniform(-1, 1, (90, 3)))
    designs = np.broadcast_to(rows[:, None], (90, 5, rows.shape[-1]))
    policy = ThompsonSampling()
    compiled = [policy.select(model, designs, np.random.default_rng(7), step=1).actions]
    monkeypatch.setattr(exploration, "thompson_pick", lambda *args: None)
    plain = [policy.select(model, designs, np.random.default_rng(7), step=1).actions]
    np.testing.assert_array_equal(compiled[0], plain[0])


def test_where_it_does_not_apply_nothing_is_drawn():
    model = trained()
    rows = FM.transform(np.random.default_rng(1).uniform(-1, 1, (120, 3)))
    designs = np.broadcast_to(rows[:, None], (120, 4, rows.shape[-1]))
    shared = BayesianLinearRegression(groups=FM, n_replicates=120)
    available = np.ones((120, 4), dtype=bool)
    small = trained(r=10, k=4)  # 40 scores: below the threshold
    cases = [
        (model, designs, np.random.Generator(np.random.Philox(0)), None),
        (shared, designs, np.random.default_rng(0), None),
        (model, designs, np.random.default_rng(0), available),
        (small, designs[:10], np.random.default_rng(0), None),
        (model, rows, np.random.default_rng(0), None),  # one row per replicate for all actions
    ]
    for m, d, rng, avail in cases:
        twin = copy.deepcopy(rng)
        assert _thompson_pick.thompson_pick(m, d, rng, 1.0, avail) is None
        assert rng.random() == twin.random()


@needs_numba
def test_the_compiled_tie_break_is_numpys(monkeypatch):
    # argmax_random_ties' compiled pick (it shares the row maximum with the Thompson pick)
    # against its numpy expression: ties, a NaN first, last and in the middle, -inf rows.
    from regretlab.policies import _ties

    rng = np.random.default_rng(6)
    scores = rng.integers(0, 3, (300, 6)).astype(float)
    scores[[3, 40, 41], [0, 5, 2]] = np.nan
    scores[50] = -np.inf
    fast = argmax_random_ties(scores, np.random.default_rng(7))
    monkeypatch.setattr(_ties, "_compiled_pick", lambda: None)
    slow = argmax_random_ties(scores, np.random.default_rng(7))
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast[[3, 40]], [0, 0])  # a NaN ties nowhere: argmax of zeros
