"""InteractionStream: the seed notebook's draws, blocks, slices, replicates and validation."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.preprocessing

from regretlab.base import PredictionStream
from regretlab.environments import InteractionStream, Observations


def notebook_gen_data(
    rnd: np.random.Generator,
    n: int = 100_000,
    x_dim: int = 6,
    noise_level: float = 2.0,
    interaction_scale: float = 0.01,
):
    """The seed notebook's ``gen_data``, with its global ``RND`` passed in and numpy for pandas."""
    # base features
    x_base = rnd.uniform(-1, 1, size=(n, x_dim))

    # add interactions
    int_trans = sklearn.preprocessing.PolynomialFeatures(
        interaction_only=True, degree=2, include_bias=False
    )
    x = int_trans.fit_transform(x_base)

    # make weights
    bias = rnd.uniform(-1, 1, size=(1))
    w = rnd.uniform(-1, 1, size=(x.shape[1]))
    # scale interaction weights
    w[x_dim:] = interaction_scale * w[x_dim:]

    # make outcomes
    z = np.dot(x, w)
    y = bias + z + noise_level * rnd.normal(size=(n))

    return x, y, w, bias, z


def _assert_same(a: Observations, b: Observations) -> None:
    for name, u, v in zip(Observations._fields, a, b, strict=True):
        np.testing.assert_array_equal(u, v, err_msg=name)


# -- the seed's data ---------------------------------------------------------------------------


def test_seed_zero_reproduces_the_notebook_draws():
    x, y, w, bias, z = notebook_gen_data(np.random.default_rng(0))
    env = InteractionStream(seed=0)
    obs = env.take(100_000)

    # The inputs and weights are the same draws; the outcomes are sums of the same products in
    # a possibly different order (einsum vs np.dot), hence a few ulps.
    np.testing.assert_array_equal(obs.x, x[:, :6])
    np.testing.assert_array_equal(env.true_weights, np.concatenate([bias, w]))
    np.testing.assert_allclose(obs.mean, bias + z, rtol=0, atol=1e-13)
    np.testing.assert_allclose(obs.y, y, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(env.features.transform(obs.x)[:, 1:], x)


@pytest.mark.parametrize(
    ("kwargs"),
    [
        {"x_dim": 3, "noise_level": 0.5, "interaction_scale": 1.0},
        {"x_dim": 1, "noise_level": 0.0, "interaction_scale": 3.0},
        {"x_dim": 10, "noise_level": 2.0, "interaction_scale": -0.5},
    ],
)
def test_other_parameters_reproduce_the_notebook(kwargs):
    n = 777
    x, y, w, bias, z = notebook_gen_data(np.random.default_rng(5), n=n, **kwargs)
    env = InteractionStream(horizon=n, seed=5, block_size=100, **kwargs)
    obs = env.take(n)
    np.testing.assert_array_equal(obs.x, x[:, : kwargs["x_dim"]])
    np.testing.assert_array_equal(env.true_weights, np.concatenate([bias, w]))
    # Same products summed in a possibly different order: a few ulps of values below ~10.
    np.testing.assert_allclose(obs.y, y, rtol=0, atol=1e-13)
    np.testing.assert_allclose(obs.mean, bias + z, rtol=0, atol=1e-13)


def test_mean_is_the_design_times_the_true_weights(rng):
    env = InteractionStream(x_dim=4, horizon=300, n_replicates=3, seed=2)
    obs = env.take(300)
    design = env.features.transform(obs.x)
    expected = np.einsum("rnp,rp->rn", design, env.true_weights)
    # Exact up to summation order.
    np.testing.assert_allclose(obs.mean, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("block_size", [1, 7, 300])
def test_mean_is_summed_in_a_fixed_order(block_size):
    # bias + (x_1 w_1 + ... + x_d w_d), then + x_j (x_1 W_1j + ... + x_{j-1} W_{j-1,j}) for
    # j = 2..d, left to right, bit for bit in any block: @ and einsum pick their kernel (and so
    # their rounding) by shape and CPU, which failed the runner's budget test on AMD Zen 3.
    env = InteractionStream(x_dim=4, horizon=300, n_replicates=6, seed=2)
    x, w, d = env.take(300).x, env.true_weights, 4
    left, right = np.triu_indices(d, k=1)
    pairs = np.zeros((6, d, d))
    pairs[:, left, right] = w[:, 1 + d :]
    expected = np.empty((6, 300))
    for r, t in np.ndindex(6, 300):
        main = x[r, t, 0] * w[r, 1]
        for i in range(1, d):
            main += x[r, t, i] * w[r, 1 + i]
        value = w[r, 0] + main
        for j in range(1, d):
            inner = x[r, t, 0] * pairs[r, 0, j]
            for i in range(1, j):
                inner += x[r, t, i] * pairs[r, i, j]
            value += inner * x[r, t, j]
        expected[r, t] = value
    got = np.concatenate([b.mean for b in env.blocks(block_size)], axis=1)
    np.testing.assert_array_equal(got, expected)


def test_true_weights_scale_the_interactions():
    a = InteractionStream(x_dim=3, horizon=10, seed=4, interaction_scale=1.0).true_weights
    b = InteractionStream(x_dim=3, horizon=10, seed=4, interaction_scale=0.01).true_weights
    np.testing.assert_array_equal(a[:4], b[:4])
    np.testing.assert_allclose(b[4:], 0.01 * a[4:], rtol=1e-15)
    assert np.all(np.abs(a) <= 1.0)


def test_noise_is_noise_level_times_standard_normal():
    quiet = InteractionStream(x_dim=2, horizon=50, seed=3, noise_level=0.0).take(50)
    loud = InteractionStream(x_dim=2, horizon=50, seed=3, noise_level=2.0).take(50)
    np.testing.assert_array_equal(quiet.y, quiet.mean)
    np.testing.assert_array_equal(loud.mean, quiet.mean)
    gen = np.random.default_rng(3)
    gen.uniform(-1, 1, size=50 * 2 + 1 + 3)  # inputs, bias, weights: the notebook's order
    expected = 2.0 * gen.normal(size=50)
    np.testing.assert_allclose(loud.y - loud.mean, expected, rtol=0, atol=1e-14)


# -- take, blocks, iteration -------------------------------------------------------------------


@pytest.mark.parametrize("n_replicates", [None, 3])
@pytest.mark.parametrize(
    ("start", "stop"), [(0, 0), (0, 1), (0, 250), (1, 250), (7, 8), (31, 190), (100, 100)]
)
def test_take_slices_a_full_take(n_replicates, start, stop):
    # A small block_size makes take() skip the noise of earlier rows over several blocks.
    env = InteractionStream(x_dim=3, horizon=250, n_replicates=n_replicates, seed=9, block_size=13)
    full = env.take(250)
    part = env.take(stop, start)
    assert part.y.shape[-1] == stop - start
    for name, whole, piece in zip(Observations._fields, full, part, strict=True):
        np.testing.assert_array_equal(
            piece,
            whole[..., start:stop, :] if name == "x" else whole[..., start:stop],
            err_msg=name,
        )


def test_take_is_repeatable_and_does_not_advance_the_stream():
    env = InteractionStream(x_dim=2, horizon=40, seed=1, block_size=8)
    first = env.take(40)
    env.take(30, 10)
    list(env.blocks(7))
    _assert_same(env.take(40), first)


@pytest.mark.parametrize("n_replicates", [None, 2])
@pytest.mark.parametrize("block_size", [1, 7, 64, 100, 1000])
def test_blocks_concatenate_to_a_full_take(n_replicates, block_size):
    env = InteractionStream(x_dim=3, horizon=100, n_replicates=n_replicates, seed=11)
    full = env.take(100)
    blocks = list(env.blocks(block_size))
    axis = 0 if n_replicates is None else 1
    assert len(blocks) == -(-100 // block_size)
    assert all(b.y.shape[axis] <= block_size for b in blocks)
    for i, name in enumerate(Observations._fields):
        joined = np.concatenate([b[i] for b in blocks], axis=axis)
        np.testing.assert_array_equal(joined, full[i], err_msg=name)


@pytest.mark.parametrize("n_replicates", [None, 2])
def test_iteration_equals_the_blocks(n_replicates):
    env = InteractionStream(x_dim=2, horizon=23, n_replicates=n_replicates, seed=6, block_size=5)
    steps = list(env)
    assert len(steps) == 23
    full = env.take(23)
    axis = 0 if n_replicates is None else 1
    lead = () if n_replicates is None else (n_replicates,)
    for t, step in enumerate(steps):
        assert isinstance(step, Observations)
        assert step.x.shape == (*lead, 2)
        assert step.y.shape == lead
        assert step.mean.shape == lead
        for i, name in enumerate(Observations._fields):
            np.testing.assert_array_equal(step[i], np.take(full[i], t, axis=axis), err_msg=name)


def test_conforms_to_prediction_stream_protocol():
    assert isinstance(InteractionStream(horizon=2, seed=0), PredictionStream)


def test_default_block_size_does_not_change_the_draws():
    a = InteractionStream(x_dim=2, horizon=300, seed=8, block_size=4096)
    b = InteractionStream(x_dim=2, horizon=300, seed=8, block_size=3)
    _assert_same(a.take(300), b.take(300))
    _assert_same(a.take(250, 17), b.take(250, 17))


# -- replicates --------------------------------------------------------------------------------


def test_replicate_shapes():
    env = InteractionStream(x_dim=4, horizon=20, n_replicates=5, seed=0)
    p = env.features.n_features
    assert p == 11
    assert env.true_weights.shape == (5, p)
    obs = env.take(20)
    assert obs.x.shape == (5, 20, 4)
    assert obs.y.shape == obs.mean.shape == (5, 20)

    single = InteractionStream(x_dim=4, horizon=20, seed=0)
    assert single.true_weights.shape == (p,)
    assert single.take(20).x.shape == (20, 4)


def test_each_replicate_is_the_stream_of_its_spawned_seed():
    env = InteractionStream(x_dim=3, horizon=60, n_replicates=4, seed=42, block_size=16)
    obs = env.take(60)
    children = np.random.SeedSequence(42).spawn(4)
    for r, child in enumerate(children):
        one = InteractionStream(x_dim=3, horizon=60, seed=child, block_size=16)
        np.testing.assert_array_equal(env.true_weights[r], one.true_weights)
        _assert_same(Observations(*(a[r] for a in obs)), one.take(60))


def test_replicates_are_different_draws():
    env = InteractionStream(x_dim=3, horizon=200, n_replicates=4, seed=0)
    obs = env.take(200)
    w = env.true_weights
    for a in range(4):
        for b in range(a + 1, 4):
            assert not np.any(obs.x[a] == obs.x[b])
            assert not np.any(w[a] == w[b])
            assert not np.any(obs.y[a] == obs.y[b])


def test_replicates_look_independent():
    env = InteractionStream(x_dim=2, horizon=20_000, n_replicates=3, seed=1, noise_level=1.0)
    obs = env.take(20_000)
    noise = obs.y - obs.mean
    corr = np.corrcoef(noise)[np.triu_indices(3, k=1)]
    # Sample correlations of independent series have sd 1/sqrt(20000) ~ 0.007; 0.035 is five
    # of those, so with this fixed seed a failure means real dependence, not chance.
    assert np.all(np.abs(corr) < 0.035)
    corr_x = np.corrcoef(obs.x[:, :, 0])[np.triu_indices(3, k=1)]
    assert np.all(np.abs(corr_x) < 0.035)


def test_same_seed_same_draws_different_seed_different_draws():
    def make(seed):
        return InteractionStream(x_dim=3, horizon=50, n_replicates=2, seed=seed)

    _assert_same(make(7).take(50), make(7).take(50))
    np.testing.assert_array_equal(make(7).true_weights, make(7).true_weights)
    assert not np.any(make(7).take(50).x == make(8).take(50).x)

    seq = np.random.SeedSequence(123)
    _assert_same(
        InteractionStream(horizon=30, seed=seq).take(30),
        InteractionStream(horizon=30, seed=np.random.SeedSequence(123)).take(30),
    )


def test_seed_none_draws_fresh_entropy():
    # Not random in outcome: two fresh 128-bit OS entropies coincide with probability 2^-128.
    a = InteractionStream(x_dim=2, horizon=10, seed=None).take(10)
    b = InteractionStream(x_dim=2, horizon=10, seed=None).take(10)
    assert not np.array_equal(a.x, b.x)


def test_horizon_is_part_of_the_draw_order():
    # The weights are drawn after all horizon x x_dim inputs, as in the notebook.
    short = InteractionStream(x_dim=2, horizon=10, seed=0)
    long = InteractionStream(x_dim=2, horizon=20, seed=0)
    np.testing.assert_array_equal(short.take(10).x, long.take(10).x)
    assert not np.array_equal(short.true_weights, long.true_weights)


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"x_dim": 0}, ValueError, "x_dim must be >= 1"),
        ({"x_dim": 2.5}, TypeError, "x_dim must be an integer"),
        ({"noise_level": -1.0}, ValueError, "noise_level must be >= 0"),
        ({"noise_level": float("nan")}, ValueError, "noise_level must be finite"),
        ({"noise_level": "2"}, TypeError, "noise_level must be a real number"),
        ({"interaction_scale": float("inf")}, ValueError, "interaction_scale must be finite"),
        ({"horizon": 0}, ValueError, "horizon must be >= 1"),
        ({"horizon": 1e5}, TypeError, "horizon must be an integer"),
        ({"n_replicates": 0}, ValueError, "n_replicates must be >= 1"),
        ({"n_replicates": 2.0}, TypeError, "n_replicates must be an integer"),
        ({"block_size": 0}, ValueError, "block_size must be >= 1"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
        ({"seed": "0"}, TypeError, "seed must be an int, a numpy.random.SeedSequence or None"),
        ({"seed": 1.0}, TypeError, "seed must be an int"),
        ({"seed": True}, TypeError, "seed must be an int"),
    ],
)
def test_bad_parameters(kwargs, error, pattern):
    # A copy: popping from the parameter itself would leave a second run without its horizon.
    kwargs = dict(kwargs)
    with pytest.raises(error, match=pattern):
        InteractionStream(horizon=kwargs.pop("horizon", 10), **kwargs)


@pytest.mark.parametrize(
    ("stop", "start", "error", "pattern"),
    [
        (11, 0, ValueError, r"start <= stop <= horizon=10, got start=0, stop=11"),
        (3, 5, ValueError, r"got start=5, stop=3"),
        (-1, 0, ValueError, "stop must be >= 0"),
        (5, -1, ValueError, "start must be >= 0"),
        (5.0, 0, TypeError, "stop must be an integer"),
        (5, 1.0, TypeError, "start must be an integer"),
    ],
)
def test_bad_take(stop, start, error, pattern):
    env = InteractionStream(x_dim=2, horizon=10, seed=0)
    with pytest.raises(error, match=pattern):
        env.take(stop, start)


@pytest.mark.parametrize(("size", "error"), [(0, ValueError), (2.0, TypeError)])
def test_bad_block_size_in_blocks(size, error):
    env = InteractionStream(x_dim=2, horizon=10, seed=0)
    with pytest.raises(error, match="block_size"):
        next(env.blocks(size))


def test_constructor_stores_arguments_verbatim():
    seq = np.random.SeedSequence(3)
    env = InteractionStream(
        x_dim=2, noise_level=1, interaction_scale=0, horizon=5, seed=seq, block_size=2
    )
    assert (env.x_dim, env.noise_level, env.interaction_scale) == (2, 1, 0)
    assert (env.horizon, env.n_replicates, env.seed, env.block_size) == (5, None, seq, 2)
    assert "horizon=5" in repr(env)
