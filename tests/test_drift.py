"""Drift wrappers: weights change exactly at the step, the base's noise survives, composition."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from regretlab.environments import (
    AbruptChange,
    ArmAppears,
    BanditStep,
    GradualDrift,
    InteractionOnset,
    InteractionStream,
    LinearBandit,
    Observations,
    SupervisedBandit,
)
from regretlab.features import group_indices


def _bandit(**kwargs) -> LinearBandit:
    kw = {"n_actions": 3, "context_dim": 2, "horizon": 40, "n_replicates": 2, "seed": 0}
    return LinearBandit(**{**kw, **kwargs})


def _expected(env, block, step_weights) -> np.ndarray:
    """``design @ w(t)`` step by step, straight from the definition."""
    single = env.n_replicates is None
    inputs = block[0] if not single else block[0][None]
    out = []
    for t in range(inputs.shape[1]):
        design = env.features.transform(inputs[:, t])
        w = np.atleast_2d(step_weights(t + 1))
        out.append(np.einsum("r...p,rp->r...", design, w))
    result = np.stack(out, axis=1)
    return result[0] if single else result


def _assert_same(a, b) -> None:
    for name, u, v in zip(type(a)._fields, a, b, strict=True):
        np.testing.assert_array_equal(u, v, err_msg=name)


# -- AbruptChange ------------------------------------------------------------------------------


@pytest.mark.parametrize("n_replicates", [None, 3])
def test_abrupt_change_redraws_the_weights_exactly_at_the_step(n_replicates):
    base = _bandit(n_replicates=n_replicates)
    env = AbruptChange(base, 15, seed=1)
    for t in range(1, 15):
        np.testing.assert_array_equal(env.true_weights_at(t), base.true_weights)
    new = env.true_weights_at(15)
    assert not np.any(new == base.true_weights)
    for t in (16, 40):
        np.testing.assert_array_equal(env.true_weights_at(t), new)
    np.testing.assert_array_equal(env.true_weights, new)

    block, plain = env.take(40), base.take(40)
    # Before the change the base's blocks are passed through untouched.
    for name, u, v in zip(BanditStep._fields, block, plain, strict=True):
        np.testing.assert_array_equal(u[..., :14, :], v[..., :14, :], err_msg=name)
    assert not np.any(block.means[..., 14, :] == plain.means[..., 14, :])
    np.testing.assert_array_equal(block.context, plain.context)
    # Means are design @ w(t), summed in another order: a few ulps.
    expected = _expected(env, block, env.true_weights_at)
    np.testing.assert_allclose(block.means, expected, rtol=0, atol=1e-13)


def test_abrupt_change_keeps_the_base_noise():
    base = _bandit(noise_level=0.7)
    block, plain = AbruptChange(base, 10, seed=2).take(40), base.take(40)
    # Noise re-added to new means: equal up to rounding of values below ~10.
    np.testing.assert_allclose(
        block.rewards - block.means, plain.rewards - plain.means, rtol=0, atol=1e-14
    )


def test_abrupt_change_draws_from_the_same_distribution_per_replicate():
    base = _bandit(interaction_scale=0.01, n_replicates=4)
    env = AbruptChange(base, 5, seed=3)
    new = env.true_weights_at(5)
    idx = group_indices(base.features.groups)
    assert np.all(np.abs(new) <= 1)
    assert np.all(np.abs(new[:, idx["context:action"]]) <= 0.01)
    assert len({tuple(w) for w in new}) == 4
    # Each replicate redraws with its own child of the wrapper's seed.
    for r, child in enumerate(np.random.SeedSequence(3).spawn(4)):
        np.testing.assert_array_equal(new[r], base.draw_true_weights(np.random.default_rng(child)))
    same = AbruptChange(base, 5, seed=3).true_weights_at(5)
    other = AbruptChange(base, 5, seed=4).true_weights_at(5)
    np.testing.assert_array_equal(new, same)
    assert not np.any(new == other)


def test_abrupt_change_on_the_prediction_stream():
    stream = InteractionStream(x_dim=3, interaction_scale=0.05, horizon=60, n_replicates=2, seed=1)
    env = AbruptChange(stream, 31, seed=5)
    obs, plain = env.take(60), stream.take(60)
    assert isinstance(obs, Observations)
    new = env.true_weights_at(31)
    assert np.all(np.abs(new[:, 4:]) <= 0.05)
    assert np.all(np.abs(new) <= 1)
    np.testing.assert_array_equal(obs.y[:, :30], plain.y[:, :30])
    np.testing.assert_allclose(obs.mean, _expected(env, obs, env.true_weights_at), atol=1e-13)
    np.testing.assert_allclose(obs.y - obs.mean, plain.y - plain.mean, rtol=0, atol=1e-14)


# -- InteractionOnset --------------------------------------------------------------------------


@pytest.mark.parametrize("n_replicates", [None, 2])
def test_interaction_onset_switches_the_groups_on_at_the_step(n_replicates):
    base = _bandit(n_replicates=n_replicates, noise_level=0.5)
    env = InteractionOnset(base, 12)
    cross = group_indices(base.features.groups)["context:action"]
    before, after = env.true_weights_at(11), env.true_weights_at(12)
    np.testing.assert_array_equal(before[..., cross], 0.0)
    others = np.setdiff1d(np.arange(base.features.n_features), cross)
    np.testing.assert_array_equal(before[..., others], base.true_weights[..., others])
    np.testing.assert_array_equal(after, base.true_weights)

    block, plain = env.take(40), base.take(40)
    # From the onset on, the base's values untouched; before, the crosses are missing.
    for name, u, v in zip(BanditStep._fields, block, plain, strict=True):
        np.testing.assert_array_equal(u[..., 11:, :], v[..., 11:, :], err_msg=name)
    assert np.all(block.means[..., 10, :] != plain.means[..., 10, :])
    np.testing.assert_allclose(block.means, _expected(env, block, env.true_weights_at), atol=1e-13)
    np.testing.assert_allclose(
        block.rewards - block.means, plain.rewards - plain.means, rtol=0, atol=1e-14
    )
    # Without interactions before the onset, one action is best for every context.
    best = block.means[..., :11, :].argmax(axis=-1)
    assert np.all(best == best[..., :1])


def test_interaction_onset_on_the_prediction_stream():
    stream = InteractionStream(x_dim=3, interaction_scale=1.0, horizon=50, seed=2)
    env = InteractionOnset(stream, 20, groups=("pairwise",))
    obs, plain = env.take(50), stream.take(50)
    assert isinstance(obs, Observations)
    np.testing.assert_array_equal(env.true_weights_at(19)[4:], 0.0)
    np.testing.assert_array_equal(env.true_weights_at(20), stream.true_weights)
    np.testing.assert_array_equal(obs.y[19:], plain.y[19:])
    linear = stream.features.transform(obs.x[:19])[:, :4] @ stream.true_weights[:4]
    np.testing.assert_allclose(obs.mean[:19], linear, rtol=0, atol=1e-14)
    np.testing.assert_allclose(obs.y - obs.mean, plain.y - plain.mean, rtol=0, atol=1e-14)


def test_a_single_group_name_is_accepted():
    stream = InteractionStream(x_dim=2, horizon=10, seed=0)
    env = InteractionOnset(stream, 3, groups="pairwise")
    assert env.true_weights_at(1)[-1] == 0.0


# -- the common contract -----------------------------------------------------------------------


def _wrappers():
    return [
        AbruptChange(_bandit(), 13, seed=1),
        InteractionOnset(_bandit(), 13),
        AbruptChange(InteractionOnset(_bandit(), 9), 22, seed=2),
        InteractionOnset(AbruptChange(_bandit(), 22, seed=2), 9),
        GradualDrift(_bandit(), 10, 20, seed=4),
        GradualDrift(AbruptChange(_bandit(), 5, seed=1), 18, 30, seed=2),
        ArmAppears(GradualDrift(_bandit(), 3, 12, seed=5), 15, actions=(1,)),
        InteractionOnset(InteractionStream(x_dim=2, horizon=40, seed=3), 13, groups=["pairwise"]),
    ]


@pytest.mark.parametrize("env", _wrappers(), ids=repr)
@pytest.mark.parametrize("block_size", [1, 4, 12, 13, 40, None])
def test_blocks_concatenate_to_a_full_take(env, block_size):
    full = env.take(40)
    axis = 0 if env.n_replicates is None else 1
    blocks = list(env.blocks(block_size))
    assert all(type(b) is type(full) for b in blocks)
    for i, name in enumerate(type(full)._fields):
        joined = np.concatenate([b[i] for b in blocks], axis=axis)
        # A step's value does not depend on the block it falls in, bit for bit.
        np.testing.assert_array_equal(joined, full[i], err_msg=name)


@pytest.mark.parametrize("env", _wrappers(), ids=repr)
def test_take_slices_and_iteration(env):
    full = env.take(40)
    axis = 0 if env.n_replicates is None else 1
    for start, stop in [(0, 0), (5, 30), (12, 13), (21, 40)]:
        part = env.take(stop, start)
        for u, v in zip(part, full, strict=True):
            np.testing.assert_array_equal(u, np.take(v, np.arange(start, stop), axis=axis))
    steps = list(env)
    assert len(steps) == 40
    for t in (0, 12, 39):
        for u, v in zip(steps[t], full, strict=True):
            np.testing.assert_array_equal(u, np.take(v, t, axis=axis))


@pytest.mark.parametrize("env", _wrappers(), ids=repr)
def test_means_follow_the_weight_path(env):
    block = env.take(40)
    np.testing.assert_allclose(block[2], _expected(env, block, env.true_weights_at), atol=1e-13)


def test_nested_wrappers_compose():
    base = _bandit()
    env = AbruptChange(InteractionOnset(base, 9), 22, seed=2)
    cross = group_indices(base.features.groups)["context:action"]
    np.testing.assert_array_equal(env.true_weights_at(8)[..., cross], 0.0)
    np.testing.assert_array_equal(env.true_weights_at(9), base.true_weights)
    np.testing.assert_array_equal(env.true_weights_at(22), AbruptChange(base, 22, seed=2)._new)
    assert repr(env).startswith("AbruptChange(InteractionOnset(LinearBandit(")


def test_wrappers_expose_the_base_attributes():
    base = _bandit()
    env = InteractionOnset(base, 5)
    assert (env.n_actions, env.context_dim, env.horizon, env.n_replicates, env.seed) == (
        3,
        2,
        40,
        2,
        0,
    )
    assert env.features is base.features
    assert AbruptChange(base, 5, seed=9).seed == 9
    parts = env.true_weights_by_group(step=4)
    np.testing.assert_array_equal(parts["context:action"], 0.0)
    np.testing.assert_array_equal(env.true_weights_by_group()["action"], base.true_weights[:, 3:6])
    with pytest.raises(AttributeError):
        env._private  # noqa: B018


def test_pickle_round_trip():
    env = AbruptChange(InteractionOnset(_bandit(), 9), 22, seed=2)
    _assert_same(pickle.loads(pickle.dumps(env)).take(40), env.take(40))


def test_change_at_the_first_step_changes_everything():
    base = _bandit()
    env = AbruptChange(base, 1, seed=1)
    assert not np.any(env.take(40).means == base.take(40).means)


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at_step", "error", "pattern"),
    [
        (0, ValueError, "at_step must be >= 1"),
        (41, ValueError, "at_step must be <= horizon=40, got 41"),
        (3.0, TypeError, "at_step must be an integer"),
    ],
)
@pytest.mark.parametrize("wrapper", [AbruptChange, InteractionOnset])
def test_bad_at_step(wrapper, at_step, error, pattern):
    with pytest.raises(error, match=pattern):
        wrapper(_bandit(), at_step)


def test_unknown_group():
    with pytest.raises(ValueError, match=r"groups must name feature groups of env.features, one"):
        InteractionOnset(_bandit(), 3, groups=("pairwise",))
    with pytest.raises(ValueError, match="at least one feature group"):
        InteractionOnset(_bandit(), 3, groups=())


@pytest.mark.parametrize("wrapper", [AbruptChange, InteractionOnset])
def test_environments_without_a_linear_truth_are_refused(wrapper):
    env = SupervisedBandit([[0.0], [1.0]], [0, 1], seed=0)
    with pytest.raises(TypeError, match=r"needs an environment with a linear truth.*true_weights"):
        wrapper(env, 1)


@pytest.mark.parametrize("step", [0, 41])
def test_bad_step_in_true_weights_at(step):
    with pytest.raises(ValueError, match="step must be"):
        InteractionOnset(_bandit(), 3).true_weights_at(step)


@pytest.mark.parametrize("n_replicates", [None, 3])
def test_generic_design_path_matches_the_factorised_bandit_means(n_replicates):
    # Wrappers use LinearBandit's factorised means; any other environment goes through
    # features.transform(inputs) @ w. Both must agree (to rounding) on a bandit's design.
    from regretlab.environments.drift import _design_dot

    base = _bandit(n_replicates=n_replicates, context_pairwise=True)
    block = base.take(40)
    w = base.true_weights
    single = n_replicates is None
    generic = _design_dot(base.features, block.context, w, single)
    np.testing.assert_allclose(generic, block.means, rtol=0, atol=1e-13)
