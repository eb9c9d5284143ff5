"""LinearBandit: truth, noise, seeding, blocks/take/iteration, replicates and validation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from regretlab.environments import BanditStep, LinearBandit
from regretlab.features import ActionFeatures, group_indices


def _assert_same(a: BanditStep, b: BanditStep) -> None:
    for name, u, v in zip(BanditStep._fields, a, b, strict=True):
        np.testing.assert_array_equal(u, v, err_msg=name)


# -- the truth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n_replicates", [None, 3])
@pytest.mark.parametrize("context_pairwise", [False, True])
def test_means_are_the_design_times_the_true_weights(n_replicates, context_pairwise):
    env = LinearBandit(
        n_actions=4,
        context_dim=3,
        horizon=200,
        n_replicates=n_replicates,
        context_pairwise=context_pairwise,
        seed=2,
    )
    block = env.take(200)
    design = env.features.transform(block.context)
    w = np.atleast_2d(env.true_weights)
    expected = np.einsum("rmkp,rp->rmk", design.reshape(len(w), 200, 4, -1), w)
    # The bandit sums the factorised terms in another order than design @ w: a few ulps of
    # values below ~10.
    np.testing.assert_allclose(block.means, expected.reshape(block.means.shape), rtol=0, atol=1e-13)


def test_one_context_input_has_no_pairwise_products():
    env = LinearBandit(n_actions=2, context_dim=1, context_pairwise=True, horizon=5, seed=0)
    assert "context:context" not in env.features.groups
    block = env.take(5)
    np.testing.assert_allclose(
        block.means, env.features.transform(block.context) @ env.true_weights, atol=1e-14
    )


def test_features_is_the_shared_action_design():
    env = LinearBandit(n_actions=3, context_dim=2, context_pairwise=True, horizon=5, seed=0)
    assert isinstance(env.features, ActionFeatures)
    assert (env.features.n_actions, env.features.context_dim) == (3, 2)
    assert env.features.context_pairwise
    assert env.true_weights.shape == (env.features.n_features,)


def test_true_weights_by_group_follow_the_columns():
    env = LinearBandit(n_actions=3, context_dim=4, context_pairwise=True, n_replicates=2, seed=1)
    parts = env.true_weights_by_group()
    assert list(parts) == list(group_indices(env.features.groups))
    np.testing.assert_array_equal(np.concatenate(list(parts.values()), axis=-1), env.true_weights)
    assert parts["context:action"].shape == (2, 12)


def test_weights_are_drawn_first_then_the_contexts():
    env = LinearBandit(
        n_actions=3,
        context_dim=2,
        interaction_scale=0.5,
        context_pairwise=True,
        pairwise_scale=0.1,
        horizon=30,
        seed=7,
    )
    gen = np.random.default_rng(7)
    w = gen.uniform(-1, 1, size=env.features.n_features)
    idx = group_indices(env.features.groups)
    w[idx["context:action"]] *= 0.5
    w[idx["context:context"]] *= 0.1
    np.testing.assert_array_equal(env.true_weights, w)
    np.testing.assert_array_equal(env.take(30).context, gen.uniform(-1, 1, size=(30, 2)))


def test_noise_is_the_jumped_stream_of_the_seed():
    env = LinearBandit(n_actions=3, context_dim=2, noise_level=1.0, horizon=40, seed=5)
    block = env.take(40)
    noise = np.random.Generator(np.random.PCG64(5).jumped()).standard_normal((40, 3))
    np.testing.assert_array_equal(block.rewards, block.means + noise)


def test_a_steps_values_are_contiguous_across_replicates():
    # The runner reads one step of every replicate at a time: blocks are laid out time-major.
    env = LinearBandit(n_actions=3, context_dim=2, horizon=30, n_replicates=4, seed=1)
    for block in (env.take(30, 5), *env.blocks(7)):
        for array in block:
            assert np.moveaxis(array, 1, 0).flags.c_contiguous


def test_pairwise_scale_defaults_to_interaction_scale():
    a = LinearBandit(context_pairwise=True, interaction_scale=0.3, horizon=5, seed=3)
    b = LinearBandit(
        context_pairwise=True, interaction_scale=0.3, pairwise_scale=0.3, horizon=5, seed=3
    )
    np.testing.assert_array_equal(a.true_weights, b.true_weights)


def test_interaction_scale_scales_only_the_crosses():
    a = LinearBandit(n_actions=3, context_dim=2, interaction_scale=1.0, horizon=5, seed=4)
    b = LinearBandit(n_actions=3, context_dim=2, interaction_scale=0.01, horizon=5, seed=4)
    ga, gb = a.true_weights_by_group(), b.true_weights_by_group()
    for g in ("intercept", "context", "action"):
        np.testing.assert_array_equal(ga[g], gb[g])
    np.testing.assert_allclose(gb["context:action"], 0.01 * ga["context:action"], rtol=1e-15)
    assert np.all(np.abs(a.true_weights) <= 1.0)


def test_without_interactions_the_best_action_never_depends_on_the_context():
    env = LinearBandit(n_actions=4, context_dim=3, interaction_scale=0.0, horizon=500, seed=5)
    best = env.take(500).means.argmax(axis=-1)
    assert np.all(best == best[0])
    env = LinearBandit(n_actions=4, context_dim=3, interaction_scale=1.0, horizon=500, seed=5)
    assert len(np.unique(env.take(500).means.argmax(axis=-1))) > 1


@pytest.mark.parametrize("context_pairwise", [False, True])
def test_the_shared_design_expresses_the_truth_exactly(rng, context_pairwise):
    env = LinearBandit(
        n_actions=3, context_dim=3, context_pairwise=context_pairwise, horizon=300, seed=6
    )
    block = env.take(300)
    design = env.features.transform(block.context).reshape(-1, env.features.n_features)
    w_hat, *_ = np.linalg.lstsq(design, block.means.reshape(-1), rcond=None)
    # Noiseless means are fitted exactly (only rounding, values below ~10).
    np.testing.assert_allclose(design @ w_hat, block.means.reshape(-1), rtol=0, atol=1e-12)
    # The design has a 1 + c dimensional null space (see ActionFeatures' Notes): lstsq returns
    # the minimum-norm weights, which are the truth projected onto the design's row space.
    projected = np.linalg.pinv(design) @ (design @ env.true_weights)
    np.testing.assert_allclose(w_hat, projected, rtol=0, atol=1e-10)
    # With the overlap removed (reference action 0 dropped), the truth is recovered exactly.
    idx = group_indices(env.features.groups)
    k, c = 3, 3
    keep = np.ones(env.features.n_features, dtype=bool)
    keep[idx["action"][0]] = False
    keep[idx["context:action"].reshape(k, c)[0]] = False
    w_ref, *_ = np.linalg.lstsq(design[:, keep], block.means.reshape(-1), rcond=None)
    g = env.true_weights_by_group()
    cross = g["context:action"].reshape(k, c)
    expected = np.concatenate(
        [
            g["intercept"] + g["action"][0],
            g["context"] + cross[0],
            g["action"][1:] - g["action"][0],
            (cross[1:] - cross[0]).reshape(-1),
            g.get("context:context", np.zeros(0)),
        ]
    )
    np.testing.assert_allclose(w_ref, expected, rtol=0, atol=1e-10)


# -- the noise ---------------------------------------------------------------------------------


def test_rewards_minus_means_has_sd_noise_level():
    env = LinearBandit(n_actions=5, context_dim=2, noise_level=1.5, horizon=20_000, seed=8)
    block = env.take(20_000)
    noise = (block.rewards - block.means).reshape(-1)
    # 100,000 standard normals: the sample sd has relative sd 1/sqrt(2 * 1e5) ~ 0.0022 and the
    # mean sd 1.5/sqrt(1e5) ~ 0.0047; the bounds are about five of those.
    assert abs(noise.std() / 1.5 - 1.0) < 0.012
    assert abs(noise.mean()) < 0.025
    # Independent across actions: all pairwise correlations of 20,000 draws within 5/sqrt(2e4).
    corr = np.corrcoef((block.rewards - block.means).T)[np.triu_indices(5, k=1)]
    assert np.all(np.abs(corr) < 0.035)


def test_noise_is_noise_level_times_one_standard_normal_draw():
    kw = {"n_actions": 3, "context_dim": 2, "horizon": 50, "n_replicates": 2, "seed": 9}
    quiet = LinearBandit(noise_level=0.0, **kw).take(50)
    unit = LinearBandit(noise_level=1.0, **kw).take(50)
    loud = LinearBandit(noise_level=2.0, **kw).take(50)
    np.testing.assert_array_equal(quiet.rewards, quiet.means)
    np.testing.assert_array_equal(loud.means, unit.means)
    np.testing.assert_array_equal(loud.context, unit.context)
    np.testing.assert_allclose(
        loud.rewards - loud.means, 2 * (unit.rewards - unit.means), rtol=0, atol=1e-14
    )


def test_noise_is_drawn_for_every_action():
    block = LinearBandit(n_actions=4, horizon=100, n_replicates=2, seed=1).take(100)
    noise = block.rewards - block.means
    assert noise.shape == (2, 100, 4)
    assert np.all(noise != 0)
    assert len(np.unique(noise)) == noise.size


# -- take, blocks, iteration -------------------------------------------------------------------


@pytest.mark.parametrize("n_replicates", [None, 3])
@pytest.mark.parametrize("block_size", [1, 7, 64, 100, 1000])
def test_blocks_concatenate_to_a_full_take(n_replicates, block_size):
    env = LinearBandit(
        n_actions=3,
        context_dim=4,
        context_pairwise=True,
        horizon=100,
        n_replicates=n_replicates,
        seed=11,
    )
    full = env.take(100)
    blocks = list(env.blocks(block_size))
    axis = 0 if n_replicates is None else 1
    assert len(blocks) == -(-100 // block_size)
    assert all(isinstance(b, BanditStep) for b in blocks)
    assert all(b.rewards.shape[axis] <= block_size for b in blocks)
    for i, name in enumerate(BanditStep._fields):
        joined = np.concatenate([b[i] for b in blocks], axis=axis)
        # Bit for bit: a step's value does not depend on the block it falls in.
        np.testing.assert_array_equal(joined, full[i], err_msg=name)


@pytest.mark.parametrize("n_replicates", [None, 2])
@pytest.mark.parametrize(("start", "stop"), [(0, 0), (0, 1), (1, 90), (31, 32), (45, 90)])
def test_take_slices_a_full_take(n_replicates, start, stop):
    env = LinearBandit(n_actions=3, context_dim=2, horizon=90, n_replicates=n_replicates, seed=3)
    full = env.take(90)
    part = env.take(stop, start)
    for name, whole, piece in zip(BanditStep._fields, full, part, strict=True):
        np.testing.assert_array_equal(piece, whole[..., start:stop, :], err_msg=name)


@pytest.mark.parametrize("n_replicates", [None, 2])
def test_iteration_equals_the_blocks(n_replicates):
    env = LinearBandit(
        n_actions=3, context_dim=2, horizon=23, n_replicates=n_replicates, seed=6, block_size=5
    )
    steps = list(env)
    assert len(steps) == 23
    full = env.take(23)
    axis = 0 if n_replicates is None else 1
    lead = () if n_replicates is None else (n_replicates,)
    for t, step in enumerate(steps):
        assert isinstance(step, BanditStep)
        assert step.context.shape == (*lead, 2)
        assert step.rewards.shape == step.means.shape == (*lead, 3)
        for i, name in enumerate(BanditStep._fields):
            np.testing.assert_array_equal(step[i], np.take(full[i], t, axis=axis), err_msg=name)


def test_same_seed_same_blocks_every_call():
    env = LinearBandit(horizon=60, n_replicates=2, seed=7, block_size=16)
    first = list(env.blocks())
    env.take(40, 10)
    list(env)
    for a, b in zip(first, env.blocks(), strict=True):
        _assert_same(a, b)
    _assert_same(env.take(60), LinearBandit(horizon=60, n_replicates=2, seed=7).take(60))


def test_block_size_and_horizon_do_not_change_the_draws():
    short = LinearBandit(horizon=40, seed=8, block_size=3)
    long = LinearBandit(horizon=400, seed=8)
    np.testing.assert_array_equal(short.true_weights, long.true_weights)
    _assert_same(short.take(40), long.take(40))
    _assert_same(short.take(40, 17), long.take(40, 17))


def test_default_blocks_stay_near_a_few_megabytes():
    env = LinearBandit(horizon=10_000, n_replicates=1000, seed=0)
    block = next(env.blocks())
    assert 1 < block.rewards.shape[1] < 10_000
    assert sum(a.nbytes for a in block) <= 5 * 2**20
    assert next(LinearBandit(horizon=300, seed=0).blocks()).rewards.shape == (300, 5)


def test_pickle_round_trip():
    env = LinearBandit(horizon=30, n_replicates=2, seed=1)
    _assert_same(pickle.loads(pickle.dumps(env)).take(30), env.take(30))


# -- replicates --------------------------------------------------------------------------------


def test_each_replicate_is_the_bandit_of_its_spawned_seed():
    kw = {"n_actions": 3, "context_dim": 2, "horizon": 50, "block_size": 16}
    env = LinearBandit(n_replicates=4, seed=42, **kw)
    block = env.take(50)
    for r, child in enumerate(np.random.SeedSequence(42).spawn(4)):
        one = LinearBandit(seed=child, **kw)
        np.testing.assert_array_equal(env.true_weights[r], one.true_weights)
        _assert_same(BanditStep(*(a[r] for a in block)), one.take(50))


def test_replicates_are_different_draws():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=100, n_replicates=4, seed=0)
    block = env.take(100)
    w = env.true_weights
    for a in range(4):
        for b in range(a + 1, 4):
            assert not np.any(block.context[a] == block.context[b])
            assert not np.any(block.rewards[a] == block.rewards[b])
            assert not np.any(w[a] == w[b])


def test_different_seeds_differ_and_seed_none_is_fresh():
    a = LinearBandit(horizon=10, seed=1).take(10)
    b = LinearBandit(horizon=10, seed=2).take(10)
    assert not np.any(a.context == b.context)
    # Two fresh 128-bit OS entropies coincide with probability 2^-128.
    c = LinearBandit(horizon=10, seed=None).take(10)
    d = LinearBandit(horizon=10, seed=None).take(10)
    assert not np.array_equal(c.context, d.context)


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"n_actions": 1}, ValueError, "n_actions must be >= 2"),
        ({"n_actions": 2.0}, TypeError, "n_actions must be an integer"),
        ({"context_dim": 0}, ValueError, "context_dim must be >= 1"),
        ({"interaction_scale": float("nan")}, ValueError, "interaction_scale must be finite"),
        ({"noise_level": -0.1}, ValueError, "noise_level must be >= 0"),
        ({"context_pairwise": 1}, TypeError, "context_pairwise must be a bool"),
        ({"pairwise_scale": "1"}, TypeError, "pairwise_scale must be a real number"),
        ({"horizon": 0}, ValueError, "horizon must be >= 1"),
        ({"n_replicates": 0}, ValueError, "n_replicates must be >= 1"),
        ({"block_size": 0}, ValueError, "block_size must be >= 1"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
    ],
)
def test_bad_parameters(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        LinearBandit(**{"horizon": 10, **kwargs})


@pytest.mark.parametrize(
    ("stop", "start", "error", "pattern"),
    [
        (11, 0, ValueError, r"start <= stop <= horizon=10, got start=0, stop=11"),
        (3, 5, ValueError, r"got start=5, stop=3"),
        (-1, 0, ValueError, "stop must be >= 0"),
        (5, 1.0, TypeError, "start must be an integer"),
    ],
)
def test_bad_take(stop, start, error, pattern):
    with pytest.raises(error, match=pattern):
        LinearBandit(horizon=10, seed=0).take(stop, start)


@pytest.mark.parametrize(("size", "error"), [(0, ValueError), (2.0, TypeError)])
def test_bad_block_size_in_blocks(size, error):
    with pytest.raises(error, match="block_size"):
        next(LinearBandit(horizon=10, seed=0).blocks(size))


def test_constructor_stores_arguments_verbatim():
    seq = np.random.SeedSequence(3)
    env = LinearBandit(
        n_actions=2,
        context_dim=1,
        interaction_scale=0,
        noise_level=1,
        horizon=5,
        seed=seq,
        block_size=2,
    )
    assert (env.n_actions, env.context_dim, env.interaction_scale, env.noise_level) == (2, 1, 0, 1)
    assert (env.horizon, env.n_replicates, env.seed, env.block_size) == (5, None, seq, 2)
    assert env.pairwise_scale is None
    assert "horizon=5" in repr(env)
    assert repr(env).startswith("LinearBandit(n_actions=2")
