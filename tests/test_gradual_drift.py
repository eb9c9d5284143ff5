"""GradualDrift moves the weights along the stated ramp; ArmAppears masks named actions until
their step (the truth untouched); bad values are named. (Block invariance, noise and composition are
checked with the other wrappers in test_drift.py and test_checks.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import (
    AbruptChange,
    ArmAppears,
    GradualDrift,
    InteractionStream,
    LinearBandit,
)


def _bandit(**kwargs):
    kw = {"n_actions": 3, "context_dim": 2, "horizon": 40, "n_replicates": 2, "seed": 0}
    return LinearBandit(**{**kw, **kwargs})


def test_gradual_drift_follows_the_ramp_exactly():
    base = _bandit()
    env = GradualDrift(base, 11, 20, seed=3)
    new = AbruptChange(base, 11, seed=3)._new  # the same per-replicate draw
    for step in range(1, 41):
        share = min(1.0, max(0.0, (step - 10) / 10))
        expected = (1 - share) * base.true_weights + share * new
        np.testing.assert_allclose(env.true_weights_at(step), expected, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(env.take(10).means, base.take(10).means)
    # The realised-minus-expected noise is the base's at every step.
    got, plain = env.take(40), base.take(40)
    np.testing.assert_allclose(got.rewards - got.means, plain.rewards - plain.means, atol=1e-12)


def test_gradual_drift_on_a_stream_and_a_one_step_ramp_is_an_abrupt_change():
    stream = InteractionStream(x_dim=2, horizon=30, n_replicates=2, seed=1)
    np.testing.assert_array_equal(
        GradualDrift(stream, 12, 12, seed=4).take(30).mean,
        AbruptChange(stream, 12, seed=4).take(30).mean,
    )


def test_arm_appears_masks_the_actions_until_the_step():
    base = _bandit()
    env = ArmAppears(base, 15, actions=(0, 2))
    got, plain = env.take(40), base.take(40)
    np.testing.assert_array_equal(got.means, plain.means)
    np.testing.assert_array_equal(got.rewards, plain.rewards)
    expected = np.ones((2, 40, 3), dtype=bool)
    expected[:, :14, [0, 2]] = False
    np.testing.assert_array_equal(got.available, expected)
    # Nested in a weight change, the mask survives; nesting two masks intersects them.
    outer = AbruptChange(env, 20, seed=1).take(40)
    np.testing.assert_array_equal(outer.available, expected)
    both = ArmAppears(env, 10, actions=(1,)).take(40).available
    np.testing.assert_array_equal(both[:, :9, 1], False)
    np.testing.assert_array_equal(both[:, :14, [0, 2]], False)
    assert both[:, 14:].all()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: GradualDrift(_bandit(), 10, 5), ValueError, "stop must be >= 10, got 5"),
        (lambda: GradualDrift(_bandit(), 10, 41), ValueError, "stop must be <= horizon=40"),
        (lambda: GradualDrift(_bandit(), 0, 5), ValueError, "at_step must be >= 1"),
        (lambda: ArmAppears(_bandit(), 5, actions=(3,)), ValueError, "actions must be action"),
        (lambda: ArmAppears(_bandit(), 5, actions=()), ValueError, "at least one action"),
        (lambda: ArmAppears(_bandit(), 5, actions=(0, 1, 2)), ValueError, "at least one of"),
        (lambda: ArmAppears(_bandit(), 5, gap=1.0), TypeError, "gap"),
        (
            lambda: ArmAppears(InteractionStream(x_dim=2, horizon=9, seed=0), 5),
            TypeError,
            "needs a bandit",
        ),
    ],
)
def test_bad_values_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
