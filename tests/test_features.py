"""InteractionFeatures against scikit-learn's PolynomialFeatures, and its input validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import PolynomialFeatures

from regretlab.base import FeatureMap
from regretlab.features import InteractionFeatures, group_indices


def _sklearn_design(x: np.ndarray, intercept: bool) -> np.ndarray:
    """The seed notebook's design: PolynomialFeatures(interaction_only, degree 2, no bias)."""
    poly = PolynomialFeatures(interaction_only=True, degree=2, include_bias=False)
    body = poly.fit_transform(x)
    return np.hstack([np.ones((len(x), 1)), body]) if intercept else body


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("x_dim", [1, 2, 3, 6, 10])
def test_matches_sklearn_polynomial_features(rng, x_dim, intercept):
    x = rng.uniform(-1, 1, size=(50, x_dim))
    fm = InteractionFeatures(x_dim, intercept=intercept)
    # Products of two doubles are exact to one rounding in both implementations.
    np.testing.assert_array_equal(fm.transform(x), _sklearn_design(x, intercept))
    assert fm.n_features == _sklearn_design(x, intercept).shape[1]
    assert fm.n_inputs == x_dim


@pytest.mark.parametrize("intercept", [True, False])
def test_names_match_sklearn_feature_names(intercept):
    poly = PolynomialFeatures(interaction_only=True, degree=2, include_bias=False)
    poly.fit(np.zeros((1, 4)))
    expected = (("1",) if intercept else ()) + tuple(poly.get_feature_names_out())
    assert InteractionFeatures(4, intercept=intercept).names == expected


def test_groups_and_indices():
    fm = InteractionFeatures(3)
    assert fm.groups == ("intercept",) + ("main",) * 3 + ("pairwise",) * 3
    assert len(fm.groups) == len(fm.names) == fm.n_features == 7
    idx = group_indices(fm.groups)
    assert list(idx) == ["intercept", "main", "pairwise"]
    np.testing.assert_array_equal(idx["intercept"], [0])
    np.testing.assert_array_equal(idx["main"], [1, 2, 3])
    np.testing.assert_array_equal(idx["pairwise"], [4, 5, 6])

    no_bias = InteractionFeatures(3, intercept=False)
    assert no_bias.groups == ("main",) * 3 + ("pairwise",) * 3
    assert InteractionFeatures(1).groups == ("intercept", "main")


def test_group_indices_keeps_first_appearance_order():
    idx = group_indices(("b", "a", "b", "c", "a"))
    assert list(idx) == ["b", "a", "c"]
    np.testing.assert_array_equal(idx["a"], [1, 4])


def test_conforms_to_feature_map_protocol():
    assert isinstance(InteractionFeatures(2), FeatureMap)


@pytest.mark.parametrize("intercept", [True, False])
def test_works_on_any_leading_axes(rng, intercept):
    fm = InteractionFeatures(4, intercept=intercept)
    x = rng.uniform(-1, 1, size=(3, 5, 4))
    flat = _sklearn_design(x.reshape(-1, 4), intercept)

    one = fm.transform(x[0, 0])
    assert one.shape == (fm.n_features,)
    np.testing.assert_array_equal(one, flat[0])

    per_replicate = fm.transform(x[:, 0])
    assert per_replicate.shape == (3, fm.n_features)
    np.testing.assert_array_equal(per_replicate, flat.reshape(3, 5, -1)[:, 0])

    block = fm.transform(x)
    assert block.shape == (3, 5, fm.n_features)
    np.testing.assert_array_equal(block, flat.reshape(3, 5, -1))


def test_accepts_lists_and_integers():
    np.testing.assert_array_equal(
        InteractionFeatures(2).transform([2, 3]), np.array([1.0, 2.0, 3.0, 6.0])
    )


def test_does_not_modify_input(rng):
    x = rng.uniform(-1, 1, size=(4, 3))
    before = x.copy()
    InteractionFeatures(3).transform(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((2, 5)), np.zeros((2, 4, 1)), 1.0])
def test_wrong_last_dimension_names_x(bad):
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 4\)"):
        InteractionFeatures(4).transform(bad)


def test_non_numeric_x_names_x():
    with pytest.raises(TypeError, match=r"^x must be array-like"):
        InteractionFeatures(2).transform("ab")


@pytest.mark.parametrize("x_dim", [0, -3])
def test_x_dim_below_one(x_dim):
    with pytest.raises(ValueError, match=rf"x_dim must be >= 1, got {x_dim}"):
        InteractionFeatures(x_dim)


@pytest.mark.parametrize("x_dim", [2.0, "3", None, True])
def test_x_dim_not_an_integer(x_dim):
    with pytest.raises(TypeError, match="x_dim must be an integer"):
        InteractionFeatures(x_dim)


@pytest.mark.parametrize("intercept", [1, 0, "yes", None])
def test_intercept_must_be_bool(intercept):
    with pytest.raises(TypeError, match="intercept must be a bool"):
        InteractionFeatures(3, intercept=intercept)


def test_numpy_integer_x_dim_is_accepted():
    assert InteractionFeatures(np.int64(3)).n_features == 7


def test_repr():
    assert repr(InteractionFeatures(3, intercept=False)) == (
        "InteractionFeatures(x_dim=3, intercept=False, pairwise=True)"
    )
