"""ActionFeatures: columns, groups and names by hand, batching, and validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import PolynomialFeatures

from regretlab.base import FeatureMap
from regretlab.features import ActionFeatures, group_indices


def test_tiny_case_by_hand():
    fm = ActionFeatures(context_dim=2, n_actions=3, context_pairwise=True)
    assert fm.names == (
        "1",
        "x0",
        "x1",
        "a0",
        "a1",
        "a2",
        "x0:a0",
        "x1:a0",
        "x0:a1",
        "x1:a1",
        "x0:a2",
        "x1:a2",
        "x0 x1",
    )
    assert fm.groups == (
        ("intercept",)
        + ("context",) * 2
        + ("action",) * 3
        + ("context:action",) * 6
        + ("context:context",)
    )
    assert (fm.n_inputs, fm.n_features, fm.n_actions) == (2, 13, 3)
    expected = np.array(
        [
            [1, 2, 3, 1, 0, 0, 2, 3, 0, 0, 0, 0, 6],
            [1, 2, 3, 0, 1, 0, 0, 0, 2, 3, 0, 0, 6],
            [1, 2, 3, 0, 0, 1, 0, 0, 0, 0, 2, 3, 6],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(fm.transform([2.0, 3.0]), expected)


@pytest.mark.parametrize(
    ("kwargs", "groups"),
    [
        ({}, ("intercept", "context", "action", "context:action")),
        ({"intercept": False}, ("context", "action", "context:action")),
        (
            {"context_pairwise": True},
            ("intercept", "context", "action", "context:action", "context:context"),
        ),
    ],
)
def test_group_order_and_sizes(kwargs, groups):
    c, k = 4, 3
    fm = ActionFeatures(c, k, **kwargs)
    idx = group_indices(fm.groups)
    assert tuple(idx) == groups
    sizes = {"intercept": 1, "context": c, "action": k, "context:action": c * k}
    sizes["context:context"] = c * (c - 1) // 2
    assert {g: len(i) for g, i in idx.items()} == {g: sizes[g] for g in groups}
    assert fm.n_features == len(fm.groups) == len(fm.names) == sum(sizes[g] for g in groups)


def test_columns_are_shared_main_effects_and_action_major_crosses(rng):
    c, k = 3, 4
    fm = ActionFeatures(c, k)
    x = rng.uniform(-1, 1, size=(5, c))
    design = fm.transform(x)
    idx = group_indices(fm.groups)
    for a in range(k):
        rows = design[:, a, :]
        np.testing.assert_array_equal(rows[:, idx["intercept"]], np.ones((5, 1)))
        np.testing.assert_array_equal(rows[:, idx["context"]], x)
        np.testing.assert_array_equal(rows[:, idx["action"]], np.tile(np.eye(k)[a], (5, 1)))
        # Action-major: the crosses reshape to (K, c) with action a's slope in row a.
        cross = rows[:, idx["context:action"]].reshape(5, k, c)
        expected = np.zeros((5, k, c))
        expected[:, a, :] = x
        np.testing.assert_array_equal(cross, expected)


def test_pairwise_columns_match_sklearn(rng):
    c = 5
    fm = ActionFeatures(c, 2, context_pairwise=True)
    x = rng.uniform(-1, 1, size=(20, c))
    poly = PolynomialFeatures(degree=2, interaction_only=True, include_bias=False).fit(x)
    cols = group_indices(fm.groups)["context:context"]
    design = fm.transform(x)
    for a in range(2):
        np.testing.assert_array_equal(design[:, a, cols], poly.transform(x)[:, c:])
    assert tuple(np.array(fm.names)[cols]) == tuple(poly.get_feature_names_out()[c:])


def test_any_leading_axes(rng):
    fm = ActionFeatures(3, 2, context_pairwise=True)
    x = rng.uniform(-1, 1, size=(4, 6, 3))
    design = fm.transform(x)
    assert design.shape == (4, 6, 2, fm.n_features)
    np.testing.assert_array_equal(design[2, 5], fm.transform(x[2, 5]))
    assert fm.transform(x.tolist()).shape == design.shape


def test_conforms_to_feature_map_protocol():
    assert isinstance(ActionFeatures(2, 2), FeatureMap)
    assert repr(ActionFeatures(2, 3)) == (
        "ActionFeatures(context_dim=2, n_actions=3, intercept=True, context_pairwise=False)"
    )


def test_null_space_of_the_shared_design(rng):
    # Main effects and full one-hot crosses overlap: the intercept is the sum of the action
    # one-hots and each context column the sum of its crosses, so 1 + c directions of weights
    # never change a design row. Regret only sees design @ w, which is unaffected.
    c, k = 3, 4
    fm = ActionFeatures(c, k)
    design = fm.transform(rng.uniform(-1, 1, size=(50, c))).reshape(-1, fm.n_features)
    assert np.linalg.matrix_rank(design) == fm.n_features - (1 + c)
    assert (
        np.linalg.matrix_rank(
            ActionFeatures(c, k, intercept=False)
            .transform(rng.uniform(-1, 1, size=(50, c)))
            .reshape(-1, fm.n_features - 1)
        )
        == fm.n_features - 1 - c
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "pattern"),
    [
        ((0, 2), {}, ValueError, "context_dim must be >= 1"),
        ((2, 0), {}, ValueError, "n_actions must be >= 1"),
        ((2.0, 2), {}, TypeError, "context_dim must be an integer"),
        ((2, 2), {"intercept": 1}, TypeError, "intercept must be a bool"),
        ((2, 2), {"context_pairwise": "yes"}, TypeError, "context_pairwise must be a bool"),
    ],
)
def test_bad_constructor_arguments(args, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        ActionFeatures(*args, **kwargs)


@pytest.mark.parametrize(
    ("context", "error", "pattern"),
    [
        (np.zeros(3), ValueError, r"context must have shape \(\.\.\., 2\), got \(3,\)"),
        (np.zeros((4, 1)), ValueError, r"context must have shape \(\.\.\., 2\)"),
        (1.0, ValueError, r"context must have shape"),
        ("ab", TypeError, "context must be array-like"),
    ],
)
def test_bad_context(context, error, pattern):
    with pytest.raises(error, match=pattern):
        ActionFeatures(2, 3).transform(context)


def test_context_pairs_are_triu_indices_built_in_memory_proportional_to_the_pairs():
    import tracemalloc

    from regretlab.environments import LinearBandit
    from regretlab.features.groups import upper_pairs

    for n in range(12):
        for got, want in zip(upper_pairs(n), np.triu_indices(n, k=1), strict=True):
            np.testing.assert_array_equal(got, want)
            assert got.dtype == want.dtype
    # A wide context without context products builds no pairs at all (the n x n mask of
    # triu_indices and its 12.5M index pairs here would be 225 MB).
    tracemalloc.start()
    LinearBandit(n_actions=2, context_dim=5000, horizon=10, n_replicates=1, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20e6
