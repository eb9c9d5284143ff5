"""LevelFeatures against scikit-learn's OneHotEncoder (the seed's pipeline), and its validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import OneHotEncoder

from regretlab.base import FeatureMap
from regretlab.features import LevelFeatures, group_indices


def _indices(rng, counts, n=200):
    return np.column_stack([rng.integers(0, m, n) for m in counts])


@pytest.mark.parametrize("counts", [[1], [1, 2], [1, 4], [2, 3, 5, 10, 10]])
def test_matches_one_hot_encoder(rng, counts):
    x = _indices(rng, counts, n=500)
    x[: max(counts)] = np.minimum(np.arange(max(counts))[:, None], np.asarray(counts) - 1)
    encoder = OneHotEncoder(sparse_output=False).fit(x)
    fm = LevelFeatures(counts)
    # Indicators are exact in both implementations.
    np.testing.assert_array_equal(fm.transform(x), encoder.transform(x))
    assert fm.names == tuple(encoder.get_feature_names_out())
    assert fm.n_features == encoder.transform(x).shape[1]
    assert fm.n_inputs == len(counts)


def test_named_levels_match_encoder_on_a_frame(rng):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"school": [0, 1, 0], "class": [0, 1, 2]})
    encoder = OneHotEncoder(sparse_output=False).fit(frame)
    fm = LevelFeatures({"school": 2, "class": 3})
    assert fm.names == tuple(encoder.get_feature_names_out())
    np.testing.assert_array_equal(fm.transform(frame.to_numpy()), encoder.transform(frame))
    assert fm.level_groups == ("level:school", "level:class")


def test_groups_intercept_and_cross_columns():
    fm = LevelFeatures([2, 3], intercept=True, cross=[(0, 1)])
    assert fm.groups == (("intercept",) + ("level:0",) * 2 + ("level:1",) * 3 + ("level:0x1",) * 6)
    assert list(group_indices(fm.groups)) == ["intercept", "level:0", "level:1", "level:0x1"]
    assert fm.cross_groups == ("level:0x1",)
    assert fm.names[6:] == tuple(f"x0_{i}:x1_{j}" for i in range(2) for j in range(3))
    row = fm.transform([1, 2])
    np.testing.assert_array_equal(np.flatnonzero(row), [0, 2, 5, 11])
    np.testing.assert_array_equal(fm.active_columns([1, 2]), [0, 2, 5, 11])
    # Named levels cross by name or by position, in the order given.
    named = LevelFeatures({"a": 2, "b": 2, "c": 3}, cross=[("c", 0)])
    assert named.cross_groups == ("level:cxa",)
    assert named.names[-6:] == ("c_0:a_0", "c_0:a_1", "c_1:a_0", "c_1:a_1", "c_2:a_0", "c_2:a_1")


def test_every_row_has_one_per_level_and_cross(rng):
    fm = LevelFeatures([3, 4, 2], intercept=True, cross=[(0, 2), (1, 2)])
    x = _indices(rng, [3, 4, 2])
    design = fm.transform(x)
    idx = group_indices(fm.groups)
    for cols in idx.values():
        np.testing.assert_array_equal(design[:, cols].sum(axis=1), 1.0)
    np.testing.assert_array_equal(
        np.sort(fm.active_columns(x), axis=1), np.sort(np.nonzero(design)[1].reshape(len(x), -1))
    )


def test_any_leading_axes_and_float_indices(rng):
    fm = LevelFeatures([2, 5], cross=[(0, 1)])
    x = _indices(rng, [2, 5], n=12).reshape(3, 4, 2)
    block = fm.transform(x)
    assert block.shape == (3, 4, fm.n_features)
    np.testing.assert_array_equal(block[1, 2], fm.transform(x[1, 2]))
    np.testing.assert_array_equal(fm.transform(x.astype(float)), block)


def test_conforms_to_feature_map_protocol():
    assert isinstance(LevelFeatures([2, 3]), FeatureMap)
    assert "LevelFeatures([2, 3]" in repr(LevelFeatures([2, 3]))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"levels": [2, 0]}, ValueError, r"levels\['1'\] must be >= 1"),
        ({"levels": [2.5]}, TypeError, r"levels\['0'\] must be an integer"),
        ({"levels": []}, ValueError, "levels must name at least one level"),
        ({"levels": "abc"}, TypeError, "levels must be a sequence"),
        ({"levels": {1: 2}}, TypeError, "levels keys must be non-empty strings"),
        ({"levels": [2, 2], "intercept": 1}, TypeError, "intercept must be a bool"),
        ({"levels": [2, 2], "cross": [(0, 0)]}, ValueError, "two different levels"),
        ({"levels": [2, 2], "cross": [(0, 1), (1, 0)]}, ValueError, "given twice"),
        ({"levels": [2, 2], "cross": [(0, 5)]}, ValueError, "cross names unknown level 5"),
        ({"levels": [2, 2], "cross": [(0,)]}, ValueError, "pairs of levels"),
        ({"levels": [2, 2], "cross": "01"}, TypeError, "cross must be a sequence"),
    ],
)
def test_bad_construction_names_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        LevelFeatures(**kwargs)


@pytest.mark.parametrize(
    ("indices", "match"),
    [
        ([0, 1, 2], r"indices must be integer contributor indices of shape \(\.\.\., 2\)"),
        ([0, 3], r"indices\[\.\.\., 1\] \(level '1'\) must be in \[0, 3\), got 3"),
        ([-1, 0], r"indices\[\.\.\., 0\] \(level '0'\) must be in \[0, 2\)"),
        ([0.5, 1.0], "indices must be whole numbers"),
        ([np.nan, 1.0], "indices must be whole numbers"),
        (["a", "b"], "indices must be integer contributor indices"),
        (3, "indices must be integer contributor indices"),
    ],
)
def test_bad_indices_name_the_argument(indices, match):
    with pytest.raises(ValueError, match=match):
        LevelFeatures([2, 3]).transform(indices)
