"""The convergence study: the seed notebook's first table, and direct refits as the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn.linear_model
import sklearn.metrics
from sklearn.preprocessing import PolynomialFeatures

from regretlab.environments import InteractionStream
from regretlab.learners import GaussianPosteriorMean, LeastSquares, Ridge
from regretlab.studies import convergence_study, seed_data_sizes

# The seed notebook's first published table (000_609c5d60a6787acb.txt), as printed by polars
# with six decimals: data_size, base, pair_int.
SEED_TABLE = [
    (10, 7.021291, 5.908158),
    (16, 5.209511, 14.097194),
    (26, 4.39508, 35.045385),
    (42, 4.57206, 5.576258),
    (69, 4.411355, 5.976907),
    (112, 4.361497, 5.000326),
    (183, 4.282209, 4.518509),
    (297, 4.115095, 4.410294),
    (483, 4.030166, 4.115449),
    (784, 4.007926, 4.070176),
    (1274, 3.988579, 4.007178),
    (2069, 3.981494, 3.993713),
    (3359, 3.984491, 3.992081),
    (5455, 3.981747, 3.989064),
    (8858, 3.98022, 3.985193),
    (14384, 3.979952, 3.986001),
    (23357, 3.979837, 3.984299),
    (37926, 3.979853, 3.982656),
    (50000, 3.979462, 3.980511),
]

SEED_MODELS = {"base": LeastSquares(groups=("main",)), "pair_int": LeastSquares()}


def notebook_sizes(n_train: int, no_batches: int = 20) -> np.ndarray:
    """The notebook's ``batch_blocks`` from ``train_models``."""
    return np.unique(
        np.clip(
            np.logspace(1, np.ceil(np.log10(n_train)), no_batches).astype(int),
            1,
            n_train,
        )
    )


def wide(table: pd.DataFrame, replicate: int = 0) -> pd.DataFrame:
    one = table[table["replicate"] == replicate]
    return one.pivot(index="data_size", columns="model", values="mse")


# -- the acceptance test -----------------------------------------------------------------------


def test_reproduces_the_seed_notebooks_first_table():
    env = InteractionStream(seed=0)
    assert (env.x_dim, env.noise_level, env.interaction_scale, env.horizon) == (
        6,
        2.0,
        0.01,
        100_000,
    )
    table = convergence_study(env, SEED_MODELS, skip_first_row=True)
    assert list(table.columns) == ["model", "data_size", "replicate", "mse"]
    assert len(table) == 2 * len(SEED_TABLE)
    assert set(table["replicate"]) == {0}
    got = wide(table)
    expected = pd.DataFrame(SEED_TABLE, columns=["data_size", "base", "pair_int"]).set_index(
        "data_size"
    )
    np.testing.assert_array_equal(got.index.to_numpy(), expected.index.to_numpy())
    # The published values are rounded to six decimals (error <= 5e-7).
    for name in ("base", "pair_int"):
        np.testing.assert_allclose(
            got[name].to_numpy(), expected[name].to_numpy(), rtol=0, atol=1e-6, err_msg=name
        )


# -- the study equals refitting at every size, as the notebook does -----------------------------


def notebook_mse(x, y, sizes, make_model, columns, skip_first_row):
    """The notebook's ``train_models`` + ``get_metrics`` for one replicate."""
    n = x.shape[0]
    x_train, x_test = x[: n // 2], x[n // 2 :]
    y_train, y_test = y[: n // 2], y[n // 2 :]
    first = 1 if skip_first_row else 0
    out = []
    for s in sizes:
        model = make_model()
        model.fit(x_train[first:s][:, columns], y_train[first:s])
        out.append(sklearn.metrics.mean_squared_error(y_test, model.predict(x_test[:, columns])))
    return np.array(out)


@pytest.fixture(scope="module")
def small_env():
    return InteractionStream(x_dim=6, horizon=1200, n_replicates=3, seed=17, interaction_scale=1.0)


@pytest.fixture(scope="module")
def small_data(small_env):
    obs = small_env.take(small_env.horizon)
    poly = PolynomialFeatures(interaction_only=True, degree=2, include_bias=False)
    x = np.stack([poly.fit_transform(obs.x[r]) for r in range(small_env.n_replicates)])
    return x, obs.y


STUDY_MODELS = {
    "base": (LeastSquares(groups=("main",)), sklearn.linear_model.LinearRegression, slice(0, 6)),
    "pair_int": (LeastSquares(), sklearn.linear_model.LinearRegression, slice(None)),
    "ridge_1.0": (Ridge(alpha=1.0), sklearn.linear_model.Ridge, slice(None)),
    "ridge_10.0": (Ridge(alpha=10.0), lambda: sklearn.linear_model.Ridge(alpha=10.0), slice(None)),
}


@pytest.mark.parametrize("skip_first_row", [True, False])
def test_study_equals_direct_sklearn_refits(small_env, small_data, skip_first_row):
    x, y = small_data
    models = {name: fit for name, (fit, _, _) in STUDY_MODELS.items()}
    table = convergence_study(small_env, models, skip_first_row=skip_first_row)
    sizes = notebook_sizes(600)
    assert len(table) == len(models) * len(sizes) * 3
    for r in range(3):
        got = wide(table, r)
        np.testing.assert_array_equal(got.index.to_numpy(), sizes)
        for name, (_, make, columns) in STUDY_MODELS.items():
            want = notebook_mse(x[r], y[r], sizes, make, columns, skip_first_row)
            # The study scores through test-set sufficient statistics instead of residuals;
            # cancellation in (w'Qw - 2w'c + y'y) costs a few digits at most when the MSE is
            # of order 1-100, and the fits themselves agree with sklearn to ~1e-12.
            np.testing.assert_allclose(
                got[name].to_numpy(), want, rtol=1e-8, err_msg=f"{name} replicate {r}"
            )


def test_skip_first_row_changes_only_what_row_zero_touches(small_env, small_data):
    x, y = small_data
    sizes = [2, 5, 40, 600]
    keep = convergence_study(small_env, {"ols": LeastSquares()}, data_sizes=sizes)
    skip = convergence_study(
        small_env, {"ols": LeastSquares()}, data_sizes=sizes, skip_first_row=True
    )
    for r in range(3):
        for table, first in ((keep, 0), (skip, 1)):
            mse = wide(table, r)["ols"].to_numpy()
            want = notebook_mse(
                x[r], y[r], sizes, sklearn.linear_model.LinearRegression, slice(None), first == 1
            )
            # Same reasoning as test_study_equals_direct_sklearn_refits.
            np.testing.assert_allclose(mse, want, rtol=1e-8)
    assert not np.allclose(keep["mse"], skip["mse"])


def test_bayesian_models_in_the_study(small_env):
    prior = {"intercept": 1e10, "main": 1e10, "pairwise": 1e-30}
    models = {"bayes": GaussianPosteriorMean(prior_variance=prior), "base": SEED_MODELS["base"]}
    table = convergence_study(small_env, models, skip_first_row=True)
    for r in range(3):
        got = wide(table, r)
        # The seed's extremes are the base model (DESIGN.md); MSEs of order 1-10.
        np.testing.assert_allclose(got["bayes"], got["base"], rtol=1e-8)


@pytest.mark.parametrize("block_rows", [1, 7, 64, 599, 601, 5000])
def test_block_size_does_not_change_the_result(small_env, block_rows):
    models = {"ols": LeastSquares(), "ridge": Ridge()}
    sizes = [2, 10, 11, 64, 65, 300, 600]
    default = convergence_study(small_env, models, data_sizes=sizes, skip_first_row=True)
    blocked = convergence_study(
        small_env, models, data_sizes=sizes, skip_first_row=True, block_rows=block_rows
    )
    # Statistics summed in different blocks: rounding only.
    np.testing.assert_allclose(blocked["mse"], default["mse"], rtol=1e-9)
    pd.testing.assert_frame_equal(blocked.drop(columns="mse"), default.drop(columns="mse"))


def test_odd_horizon_splits_as_the_notebook():
    env = InteractionStream(x_dim=3, horizon=201, seed=4)
    obs = env.take(201)
    x = PolynomialFeatures(interaction_only=True, degree=2, include_bias=False).fit_transform(obs.x)
    sizes = [3, 50, 100]
    table = convergence_study(env, {"ols": LeastSquares()}, data_sizes=sizes)
    want = notebook_mse(x, obs.y, sizes, sklearn.linear_model.LinearRegression, slice(None), False)
    # Same reasoning as test_study_equals_direct_sklearn_refits.
    np.testing.assert_allclose(table["mse"].to_numpy(), want, rtol=1e-8)
    with pytest.raises(ValueError, match=r"\[1, 100\]"):
        convergence_study(env, {"ols": LeastSquares()}, data_sizes=[101])


def test_single_stream_environment():
    env = InteractionStream(x_dim=2, horizon=100, seed=3)
    table = convergence_study(env, {"ols": LeastSquares()}, data_sizes=[10, 50])
    assert table["replicate"].tolist() == [0, 0]
    assert table["data_size"].tolist() == [10, 50]
    assert np.all(np.isfinite(table["mse"]))


def test_table_layout(small_env):
    models = {"b": SEED_MODELS["base"], "a": SEED_MODELS["pair_int"]}
    table = convergence_study(small_env, models, data_sizes=[10, 20])
    assert table["model"].tolist() == ["b"] * 6 + ["a"] * 6
    assert table["replicate"].tolist() == [0, 0, 1, 1, 2, 2] * 2
    assert table["data_size"].tolist() == [10, 20] * 6
    assert table["mse"].dtype == np.float64


# -- data sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_train",
    [1, 2, 5, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 5000, 12_345, 50_000, 10**6, 3 * 10**6],
)
@pytest.mark.parametrize("n_points", [1, 5, 20, 50])
def test_seed_data_sizes_match_the_notebook(n_train, n_points):
    np.testing.assert_array_equal(
        seed_data_sizes(n_train, n_points), notebook_sizes(n_train, n_points)
    )


def test_seed_data_sizes_of_the_seed():
    np.testing.assert_array_equal(seed_data_sizes(50_000), [s for s, _, _ in SEED_TABLE])


@pytest.mark.parametrize(
    ("args", "error", "pattern"),
    [
        ((0,), ValueError, "n_train must be >= 1"),
        ((10, 0), ValueError, "n_points must be >= 1"),
        ((10.0,), TypeError, "n_train must be an integer"),
    ],
)
def test_bad_seed_data_sizes(args, error, pattern):
    with pytest.raises(error, match=pattern):
        seed_data_sizes(*args)


# -- bad inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("models", [{}, [LeastSquares()], None, LeastSquares()])
def test_models_must_be_a_non_empty_mapping(small_env, models):
    with pytest.raises(TypeError, match="models must be a non-empty mapping"):
        convergence_study(small_env, models)


@pytest.mark.parametrize(
    ("sizes", "skip", "pattern"),
    [
        ([10, 5, 20], False, "data_sizes must be increasing"),
        ([10, 10, 20], False, "data_sizes must be increasing"),
        ([], False, "data_sizes must be increasing"),
        ([0, 10], False, r"data_sizes must lie in \[1, 600\]"),
        ([10, 601], False, r"data_sizes must lie in \[1, 600\]"),
        ([1, 10], True, r"data_sizes must lie in \[2, 600\]"),
    ],
)
def test_bad_data_sizes(small_env, sizes, skip, pattern):
    with pytest.raises(ValueError, match=pattern):
        convergence_study(small_env, SEED_MODELS, data_sizes=sizes, skip_first_row=skip)


@pytest.mark.parametrize("sizes", [[10.5, 20.7], [10, 20.5], 10])
def test_data_sizes_must_be_integers(small_env, sizes):
    # Fractional sizes were silently truncated for the fit but reported as given.
    with pytest.raises((TypeError, ValueError), match="data_sizes"):
        convergence_study(small_env, SEED_MODELS, data_sizes=sizes)


def test_horizon_too_short_to_split():
    env = InteractionStream(x_dim=2, horizon=1, seed=0)
    with pytest.raises(ValueError, match="horizon must be >= 2"):
        convergence_study(env, SEED_MODELS)
