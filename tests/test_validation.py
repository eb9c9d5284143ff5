"""The shared validation helpers: errors name the argument, the value and what is allowed."""

from __future__ import annotations

import re

import numpy as np
import pytest

from regretlab._validation import (
    as_float_array,
    check_choice,
    check_finite,
    check_int,
    check_real,
    float_array,
)

# -- check_int ---------------------------------------------------------------------------------


def test_check_int_returns_python_int():
    out = check_int("horizon", np.int32(7), minimum=1)
    assert out == 7
    assert type(out) is int


def test_check_int_below_minimum():
    with pytest.raises(ValueError, match=r"^horizon must be >= 1, got 0$"):
        check_int("horizon", 0, minimum=1)


@pytest.mark.parametrize("value", [1.0, "3", None, True, np.float64(2.0)])
def test_check_int_rejects_non_integers(value):
    with pytest.raises(TypeError, match=r"^n_replicates must be an integer, got "):
        check_int("n_replicates", value)


def test_check_int_describes_arrays_by_shape():
    with pytest.raises(TypeError, match=re.escape("got an array of shape (2,) and dtype int64")):
        check_int("x_dim", np.array([1, 2]))


def test_check_int_truncates_long_reprs():
    with pytest.raises(TypeError) as info:
        check_int("x_dim", "a" * 500)
    assert len(str(info.value)) < 120
    assert str(info.value).endswith("...")


# -- check_real --------------------------------------------------------------------------------


def test_check_real_returns_float():
    out = check_real("noise_level", 2, minimum=0.0)
    assert out == 2.0
    assert type(out) is float


def test_check_real_inclusive_minimum():
    assert check_real("noise_level", 0.0, minimum=0.0) == 0.0
    with pytest.raises(ValueError, match=r"^noise_level must be >= 0.0, got -1.0$"):
        check_real("noise_level", -1.0, minimum=0.0)


def test_check_real_exclusive_minimum():
    with pytest.raises(ValueError, match=r"^noise_precision must be > 0.0, got 0.0$"):
        check_real("noise_precision", 0.0, minimum=0.0, exclusive_minimum=True)


def test_check_real_maximum():
    with pytest.raises(ValueError, match=r"^epsilon must be <= 1.0, got 1.5$"):
        check_real("epsilon", 1.5, maximum=1.0)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -np.inf])
def test_check_real_non_finite(value):
    with pytest.raises(ValueError, match=r"^alpha must be finite, got "):
        check_real("alpha", value)


def test_check_real_allow_inf():
    assert check_real("variance", np.inf, minimum=0.0, allow_inf=True) == np.inf
    with pytest.raises(ValueError, match="must be finite, got nan"):
        check_real("variance", np.nan, allow_inf=True)


@pytest.mark.parametrize("value", ["1", None, True, [1.0], np.array([1.0])])
def test_check_real_rejects_non_numbers(value):
    with pytest.raises(TypeError, match=r"^alpha must be a real number, got "):
        check_real("alpha", value)


# -- check_choice ------------------------------------------------------------------------------


def test_check_choice():
    assert check_choice("model", "base", ("base", "pair_int")) == "base"
    with pytest.raises(
        ValueError, match=re.escape("model must be one of ['base', 'pair_int'], got 'ridge'")
    ):
        check_choice("model", "ridge", ("base", "pair_int"))


# -- check_finite ------------------------------------------------------------------------------


def test_check_finite_passes_finite_arrays():
    check_finite("x", np.zeros((2, 3)))


def test_check_finite_names_the_flat_index_in_one_dimension():
    with pytest.raises(ValueError, match=r"^x must be finite, got nan at index 2$"):
        check_finite("x", np.array([0.0, 1.0, np.nan, np.inf]))


def test_check_finite_names_the_position_in_several_dimensions():
    x = np.zeros((3, 4))
    x[1, 2] = -np.inf
    with pytest.raises(ValueError, match=re.escape("y must be finite, got -inf at index (1, 2)")):
        check_finite("y", x)


# -- as_float_array ----------------------------------------------------------------------------


def test_as_float_array_converts():
    out = as_float_array("x", [1, 2], shape=(2,))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.0, 2.0])


def test_as_float_array_shape_with_wildcards():
    assert as_float_array("x", np.zeros((5, 3)), shape=(None, 3)).shape == (5, 3)
    with pytest.raises(ValueError, match=re.escape("x must have shape (any, 3), got (5, 4)")):
        as_float_array("x", np.zeros((5, 4)), shape=(None, 3))
    with pytest.raises(ValueError, match=re.escape("x must have shape (any, 3), got (3,)")):
        as_float_array("x", np.zeros(3), shape=(None, 3))


def test_as_float_array_ndim():
    with pytest.raises(ValueError, match=r"^x must have 1 or 2 dimensions, got shape \(\)$"):
        as_float_array("x", 1.0, ndim=(1, 2))


def test_as_float_array_finiteness_is_optional():
    with pytest.raises(ValueError, match="y must be finite, got nan at index 1"):
        as_float_array("y", [0.0, np.nan])
    assert np.isnan(as_float_array("y", [0.0, np.nan], finite=False)[1])


@pytest.mark.parametrize("value", ["abc", {"a": 1.0}, [[1.0], [1.0, 2.0]], object()])
def test_as_float_array_rejects_non_numbers(value):
    with pytest.raises(TypeError, match=r"^x must be array-like of numbers, got "):
        as_float_array("x", value)


# -- float_array -------------------------------------------------------------------------------


def test_float_array_passes_float64_arrays_through():
    x = np.zeros(3)
    assert float_array("x", x) is x


def test_float_array_converts_other_input():
    out = float_array("y", [1, 2])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.0, 2.0])


@pytest.mark.parametrize("value", ["abc", [["a"]], {"x": 1.0}])
def test_float_array_names_the_argument(value):
    with pytest.raises(TypeError, match=r"^x must be array-like of numbers, got "):
        float_array("x", value)
