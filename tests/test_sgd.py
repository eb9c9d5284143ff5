"""SGDLinearRegression: closed-form steps, replicates in lockstep, ridge limits, sklearn parity."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.features import InteractionFeatures
from regretlab.learners.sgd import SGDLinearRegression

GROUPS = ("intercept", "main", "main", "pairwise")
W0 = np.array([0.5, -1.0, 2.0, 0.25])
G0 = np.array([1.0, 2.0, 3.0, 4.0])
X1 = np.array([1.0, 2.0, -1.0, 0.5])
Y1 = 1.5
# Per-column values of the settings below, written out by hand.
ETA = np.array([0.2, 0.1, 0.1, 0.05])
LAM = np.array([0.0, 0.2, 0.2, 0.5])
SETTINGS = {
    "groups": GROUPS,
    "l2": {"main": 0.2, "pairwise": 0.5},
    "learning_rate": {"intercept": 0.2, "main": 0.1, "pairwise": 0.05},
}


def started(**kwargs) -> SGDLinearRegression:
    """A model that has taken 3 steps and reached ``W0`` with AdaGrad sums ``G0``."""
    model = SGDLinearRegression(**{**SETTINGS, **kwargs})
    return model.set_state(
        {"weights": W0, "sum_sq_grad": G0, "average": np.zeros(4), "n": np.array(3.0)}
    )


def stream(seed: int, shape: tuple[int, ...], p: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(*shape, p))
    return x, x @ np.linspace(-1.0, 1.0, p) + 0.3 * rng.normal(size=shape)


# -- one step equals its closed form ---------------------------------------------------------
def test_residual_by_hand():
    assert X1 @ W0 - Y1 == -4.875


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adagrad"])
def test_one_step_equals_closed_form(schedule):
    r = -4.875
    if schedule == "constant":
        expected = (1 - ETA * LAM) * W0 - ETA * r * X1
    elif schedule == "invscaling":
        # Step t = 4 (three taken before), power_t = 0.5: eta0 / sqrt(4) = eta0 / 2.
        expected = (1 - ETA / 2 * LAM) * W0 - ETA / 2 * r * X1
    else:
        grad = r * X1 + LAM * W0
        expected = W0 - ETA / np.sqrt(1e-8 + G0 + grad**2) * grad
    model = started(schedule=schedule, power_t=0.5).learn_one(X1, Y1)
    # The library orders the same arithmetic differently (shrink, then the loss gradient).
    np.testing.assert_allclose(model.weights, expected, rtol=1e-14, atol=1e-15)
    assert model.n_seen == 4.0
    if schedule == "adagrad":
        np.testing.assert_allclose(
            model.get_state()["sum_sq_grad"], G0 + (r * X1 + LAM * W0) ** 2, rtol=1e-15
        )


def test_shrink_is_clipped_at_zero_when_eta_times_l2_exceeds_one():
    model = SGDLinearRegression(groups=GROUPS, l2=3.0, learning_rate=0.5, schedule="constant")
    model.set_state({"weights": W0, "sum_sq_grad": G0, "average": np.zeros(4), "n": np.array(3.0)})
    np.testing.assert_array_equal(model.learn_one(X1, Y1).weights, -0.5 * -4.875 * X1)


def test_averaging_is_the_mean_of_the_iterates_from_the_start_step():
    x, y = stream(0, (30,))
    kwargs = {"groups": GROUPS, "l2": 0.1, "learning_rate": 0.05, "schedule": "constant"}
    plain = SGDLinearRegression(**kwargs)
    averaged = SGDLinearRegression(**kwargs, average=10)
    iterates = []
    for t in range(30):
        iterates.append(plain.learn_one(x[t], y[t]).weights)
        averaged.learn_one(x[t], y[t])
        want = iterates[-1] if t + 1 < 10 else np.mean(iterates[9:], axis=0)
        np.testing.assert_allclose(averaged.weights, want, rtol=1e-12, atol=1e-15)


# -- replicates and blocks -------------------------------------------------------------------
@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adagrad"])
@pytest.mark.parametrize("average", [False, 5])
def test_lockstep_replicates_equal_single_streams_exactly(schedule, average):
    n_rep = 3
    x, y = stream(1, (n_rep, 50))
    l2 = np.array([0.0, 0.1, 0.3])
    eta = np.array([0.01, 0.02, 0.05])

    def kwargs(l2_, eta_):
        return {
            "groups": GROUPS,
            "l2": {"pairwise": l2_},
            "learning_rate": {"main": eta_},
            "schedule": schedule,
            "average": average,
        }

    batched = SGDLinearRegression(**kwargs(l2, eta), n_replicates=n_rep)
    singles = [SGDLinearRegression(**kwargs(l2[r], eta[r])) for r in range(n_rep)]
    for t in range(50):
        batched.learn_one(x[:, t], y[:, t])
        for r, single in enumerate(singles):
            single.learn_one(x[r, t], y[r, t])
    np.testing.assert_array_equal(batched.weights, [s.weights for s in singles])
    np.testing.assert_array_equal(
        batched.predict_one(x[:, 0]), [s.predict_one(x[r, 0]) for r, s in enumerate(singles)]
    )
    np.testing.assert_array_equal(batched.n_seen, [50.0] * n_rep)


def test_replicates_at_different_step_counts_equal_single_streams():
    x, y = stream(2, (2, 20))
    kwargs = {"groups": GROUPS, "learning_rate": 0.05, "schedule": "invscaling"}
    batched = SGDLinearRegression(**kwargs, n_replicates=2)
    state = batched.get_state()
    state["n"] = np.array([0.0, 7.0])
    batched.set_state(state).learn_many(x, y)
    singles = [SGDLinearRegression(**kwargs) for _ in range(2)]
    for r, n in enumerate([0.0, 7.0]):
        zeros = np.zeros(4)
        start = {"weights": zeros, "sum_sq_grad": zeros, "average": zeros, "n": np.array(n)}
        singles[r].set_state(start).learn_many(x[r], y[r])
    np.testing.assert_array_equal(batched.weights, [s.weights for s in singles])


def test_learn_many_equals_learn_one_over_the_rows():
    x, y = stream(3, (2, 40))
    kwargs = {"groups": GROUPS, "l2": 0.2, "schedule": "adagrad", "average": True}
    one = SGDLinearRegression(**kwargs, n_replicates=2)
    for t in range(40):
        one.learn_one(x[:, t], y[:, t])
    many = SGDLinearRegression(**kwargs, n_replicates=2).learn_many(x[:, :25], y[:, :25])
    many.learn_many(x[:, 25:], y[:, 25:])
    for a, b in zip(one.get_state().values(), many.get_state().values(), strict=True):
        np.testing.assert_array_equal(a, b)


# -- what the steps converge to --------------------------------------------------------------
def test_constant_rate_converges_to_grouped_ridge_within_order_eta():
    rng = np.random.default_rng(3)
    n = 40
    z = rng.uniform(-1, 1, (n, 2))
    x = np.column_stack([np.ones(n), z, z[:, 0] * z[:, 1]])
    y = x @ np.array([0.5, 1.0, -2.0, 1.5]) + 0.5 * rng.normal(size=n)
    # Minimiser of the mean objective (1/n) sum 0.5 r_i^2 + 0.5 * 0.5 ||w_pairwise||^2.
    w_star = np.linalg.solve(x.T @ x / n + np.diag([0.0, 0.0, 0.0, 0.5]), x.T @ y / n)
    # The penalty matters: the unpenalised fit is far from w_star.
    assert np.abs(np.linalg.lstsq(x, y, rcond=None)[0] - w_star).max() > 0.5
    errors = {}
    for eta in (0.02, 0.01):
        model = SGDLinearRegression(
            groups=GROUPS, l2={"pairwise": 0.5}, learning_rate=eta, schedule="constant"
        )
        model.learn_many(np.tile(x, (300, 1)), np.tile(y, 300))
        errors[eta] = np.abs(model.weights - w_star).max()
    # Constant-step incremental gradient over a fixed cycle converges (300 epochs is past that
    # here) to a point O(eta) from the minimiser (Bertsekas, 2011), measured at 0.75 eta for
    # this data: the error must be below eta, and halving eta must halve it. A wrong penalty
    # would leave an error that does not shrink with eta.
    assert errors[0.02] < 0.02
    assert errors[0.01] < 0.01
    assert 1.8 < errors[0.02] / errors[0.01] < 2.3


@pytest.mark.parametrize(
    ("schedule", "eta0", "steps"), [("invscaling", 0.1, 20000), ("adagrad", 0.5, 3000)]
)
def test_decaying_rate_recovers_true_weights_from_noiseless_stream(schedule, eta0, steps):
    fm = InteractionFeatures(x_dim=3)
    w_true = np.array([0.5, 1.0, -2.0, 0.3, 1.5, -0.7, 0.2])
    x = fm.transform(np.random.default_rng(4).uniform(-1, 1, (steps, 3)))
    model = SGDLinearRegression(groups=fm, learning_rate=eta0, schedule=schedule)
    model.learn_many(x, x @ w_true)
    # Noiseless: the minimiser interpolates every row, so the iterates converge linearly and
    # only rounding is left (measured about 1e-11 for invscaling, 1e-16 for adagrad).
    np.testing.assert_allclose(model.weights, w_true, atol=1e-8)


@pytest.mark.parametrize(
    ("penalty", "alpha", "learning_rate", "eta0", "average"),
    [
        (None, 0.0, "invscaling", 0.02, False),
        ("l2", 0.1, "invscaling", 0.02, False),
        ("l2", 0.1, "invscaling", 0.02, True),
        ("l2", 0.1, "invscaling", 0.02, 7),
        ("l2", 3.0, "constant", 0.5, False),  # eta * alpha > 1: both clip the shrink at 0
    ],
)
def test_trajectory_equals_sklearn_partial_fit(penalty, alpha, learning_rate, eta0, average):
    linear_model = pytest.importorskip("sklearn.linear_model")
    x, y = stream(5, (300,), p=5)
    reference = linear_model.SGDRegressor(
        penalty=penalty,
        alpha=alpha,
        fit_intercept=False,
        learning_rate=learning_rate,
        eta0=eta0,
        power_t=0.25,
        average=average,
    )
    model = SGDLinearRegression(
        groups=("main",) * 5,
        l2=alpha,
        learning_rate=eta0,
        schedule=learning_rate,
        average=average,
    )
    for t in range(300):
        reference.partial_fit(x[t : t + 1], y[t : t + 1])
        model.learn_one(x[t], y[t])
        # Same eta (eta0 / pow(t, power_t)), same shrink and same step, but scikit-learn keeps
        # w as v * wscale, averages lazily and sums x'w in another order, so the trajectories
        # agree to rounding (measured below 1e-13 relative over 300 steps), not bit for bit.
        np.testing.assert_allclose(model.weights, reference.coef_, rtol=1e-12, atol=1e-14)


# -- state, prediction, cloning --------------------------------------------------------------
def test_state_round_trips_through_npz_and_continues_identically(tmp_path):
    x, y = stream(6, (2, 60))
    kwargs = {"groups": GROUPS, "l2": 0.1, "schedule": "adagrad", "average": 10}
    model = SGDLinearRegression(**kwargs, n_replicates=2).learn_many(x[:, :30], y[:, :30])
    np.savez(tmp_path / "state.npz", **model.get_state())
    with np.load(tmp_path / "state.npz", allow_pickle=False) as saved:
        restored = model.clone().set_state(saved)
    model.learn_many(x[:, 30:], y[:, 30:])
    restored.learn_many(x[:, 30:], y[:, 30:])
    for a, b in zip(model.get_state().values(), restored.get_state().values(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_get_state_returns_copies_of_plain_float_arrays():
    model = SGDLinearRegression(groups=GROUPS).learn_one(X1, Y1)
    state = model.get_state()
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in state.values())
    state["weights"][:] = 99.0
    model.weights[:] = 99.0
    assert not np.any(model.weights == 99.0)


def test_predict_one_shapes_and_types():
    model = SGDLinearRegression(groups=GROUPS, learning_rate=0.1).learn_one(X1, Y1)
    assert isinstance(model.predict_one(X1), float)
    assert model.predict_one(X1) == pytest.approx(X1 @ model.weights)
    assert model.predict_one(np.ones((5, 4))).shape == (5,)
    batched = SGDLinearRegression(groups=GROUPS, n_replicates=3)
    assert batched.predict_one(np.ones((3, 4))).shape == (3,)
    assert batched.predict_one(np.ones((3, 5, 4))).shape == (3, 5)
    np.testing.assert_array_equal(batched.predict_one(np.ones((3, 4))), 0.0)


def test_clone_is_untrained_with_the_same_arguments():
    model = SGDLinearRegression(groups=GROUPS, l2={"main": 0.3}, schedule="constant")
    copy = model.learn_one(X1, Y1).clone()
    assert copy.n_seen == 0.0
    assert (copy.l2, copy.schedule, copy.groups) == (model.l2, model.schedule, model.groups)
    assert "SGDLinearRegression" in repr(copy)


# -- bad inputs ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"l2": -1.0}, ValueError, r"l2 must be >= 0, got -1.0"),
        ({"l2": {"pairwise": -0.5}}, ValueError, r"l2\['pairwise'\] must be >= 0, got -0.5"),
        ({"l2": np.inf}, ValueError, r"l2 must be finite"),
        ({"l2": {"pairwise": np.nan}}, ValueError, r"l2\['pairwise'\] must be finite"),
        ({"l2": {"interaction": 1.0}}, ValueError, r"unknown group 'interaction'.*'pairwise'"),
        ({"l2": "big"}, TypeError, r"l2 must be array-like"),
        ({"learning_rate": 0.0}, ValueError, r"learning_rate must be > 0, got 0.0"),
        ({"learning_rate": -0.1}, ValueError, r"learning_rate must be > 0"),
        ({"learning_rate": {"main": 0.0}}, ValueError, r"learning_rate\['main'\] must be > 0"),
        ({"learning_rate": {"cross": 0.1}}, ValueError, r"unknown group 'cross'.*'intercept'"),
        ({"schedule": "optimal"}, ValueError, r"schedule must be one of \['constant', "),
        ({"power_t": -0.5}, ValueError, r"power_t must be >= 0.0"),
        ({"epsilon": 0.0}, ValueError, r"epsilon must be > 0.0"),
        ({"average": -1}, ValueError, r"average must be >= 0"),
        ({"average": 1.5}, TypeError, r"average must be an integer"),
        ({"n_replicates": 0}, ValueError, r"n_replicates must be >= 1"),
        ({"l2": np.ones(3)}, ValueError, r"l2 must be a scalar or have shape \(\)"),
        ({"groups": "main"}, TypeError, r"groups must be a non-empty sequence"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SGDLinearRegression(**{"groups": GROUPS, **kwargs})


def test_per_replicate_setting_must_match_n_replicates():
    with pytest.raises(ValueError, match=r"l2\['main'\] must be a scalar or have shape \(2,\)"):
        SGDLinearRegression(groups=GROUPS, l2={"main": np.ones(3)}, n_replicates=2)


@pytest.mark.parametrize(
    ("n_replicates", "x", "y", "match"),
    [
        (None, np.ones(3), 1.0, r"x must have shape \(4,\), got \(3,\)"),
        (None, np.ones(4), np.ones(1), r"y must have shape \(\), got \(1,\)"),
        (2, np.ones(4), np.ones(2), r"x must have shape \(2, 4\), got \(4,\)"),
        (2, np.ones((2, 4)), 1.0, r"y must have shape \(2,\), got \(\)"),
    ],
)
def test_learn_one_shape_errors(n_replicates, x, y, match):
    with pytest.raises(ValueError, match=match):
        SGDLinearRegression(groups=GROUPS, n_replicates=n_replicates).learn_one(x, y)


def test_learn_many_shape_errors():
    single = SGDLinearRegression(groups=GROUPS)
    with pytest.raises(ValueError, match=r"x must have shape \(m, 4\), got \(4,\)"):
        single.learn_many(np.ones(4), 1.0)
    with pytest.raises(ValueError, match=r"x must have shape \(m, 4\), got \(1, 5, 4\)"):
        single.learn_many(np.ones((1, 5, 4)), np.ones(5))
    model = SGDLinearRegression(groups=GROUPS, n_replicates=2)
    assert model.learn_many(np.ones((2, 0, 4)), np.ones((2, 0))).n_seen.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"x must have shape \(2, m, 4\), got \(5, 4\)"):
        model.learn_many(np.ones((5, 4)), np.ones(5))
    with pytest.raises(ValueError, match=r"x must have shape \(2, 3, 4\), got \(2, 3, 5\)"):
        model.learn_many(np.ones((2, 3, 5)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"y must have shape \(2, 5\), got \(2, 4\)"):
        model.learn_many(np.ones((2, 5, 4)), np.ones((2, 4)))


@pytest.mark.parametrize(
    ("method", "x", "y", "match"),
    [
        (
            "learn_one",
            [[1.0, np.nan, 0.0, 0.0], [1.0] * 4],
            [0.0, 0.0],
            r"x must be finite.*\(0, 1\)",
        ),
        ("learn_one", np.ones((2, 4)), [0.0, np.inf], r"y must be finite, got inf at index 1"),
        ("learn_many", np.ones((2, 3, 4)), [[0.0] * 3, [0.0, -np.inf, 0.0]], r"y must be finite"),
    ],
)
def test_non_finite_data_raise_and_leave_the_state_unchanged(method, x, y, match):
    model = SGDLinearRegression(groups=GROUPS, n_replicates=2, schedule="adagrad")
    model.learn_one(np.ones((2, 4)), [1.0, 2.0])
    before = model.get_state()
    with pytest.raises(ValueError, match=match):
        getattr(model, method)(np.asarray(x), np.asarray(y))
    for a, b in zip(before.values(), model.get_state().values(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("x", "y", "name"),
    [("abc", 1.0, "x"), ({"a": 1.0}, 1.0, "x"), ([["a"] * 4], 1.0, "x"), (X1, "one", "y")],
)
def test_non_numeric_data_name_the_argument(x, y, name):
    with pytest.raises(TypeError, match=rf"^{name} must be array-like of numbers"):
        SGDLinearRegression(groups=GROUPS).learn_one(x, y)


def test_predict_one_shape_error():
    model = SGDLinearRegression(groups=GROUPS, n_replicates=2)
    with pytest.raises(ValueError, match=r"x must have shape \(2, 4\) \(optionally with action"):
        model.predict_one(np.ones((3, 4)))


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"weights": None}, ValueError, r"exactly the keys \['weights', 'sum_sq_grad', 'avera"),
        ({"extra": np.zeros(1)}, ValueError, r"exactly the keys"),
        ({"weights": np.zeros(5)}, ValueError, r"state\['weights'\] must have shape \(2, 4\)"),
        ({"n": np.zeros(3)}, ValueError, r"state\['n'\] must have shape \(2\)"),
        ({"average": np.full((2, 4), np.nan)}, ValueError, r"state\['average'\] must be finite"),
        ({"n": np.array([1.0, -1.0])}, ValueError, r"state\['n'\] must be >= 0"),
        ({"n": np.array([1.0, 1.5])}, ValueError, r"state\['n'\] must hold whole numbers"),
        ({"sum_sq_grad": -np.ones((2, 4))}, ValueError, r"state\['sum_sq_grad'\] must be >= 0"),
    ],
)
def test_set_state_rejects_bad_states_and_changes_nothing(change, error, match):
    model = SGDLinearRegression(groups=GROUPS, n_replicates=2).learn_one(np.ones((2, 4)), [1, 2])
    before = model.get_state()
    state = {**before, **change}
    state = {k: v for k, v in state.items() if v is not None}
    with pytest.raises(error, match=match):
        model.set_state(state)
    for a, b in zip(before.values(), model.get_state().values(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_set_state_needs_a_mapping():
    with pytest.raises(TypeError, match="state must be a mapping of arrays, got list"):
        SGDLinearRegression(groups=GROUPS).set_state([np.zeros(4)])
