"""Inputs that used to slip through the Python API get an error naming the argument (issue 20)."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import InteractionStream, LinearBandit
from regretlab.learners import (
    BayesianLinearRegression,
    NormalInverseGammaRegression,
    SGDLinearRegression,
)
from regretlab.policies import EpsilonGreedy, Greedy, ThompsonSampling

LEARNERS = [BayesianLinearRegression, NormalInverseGammaRegression]


@pytest.mark.parametrize("cls", LEARNERS)
def test_a_flat_prior_does_not_claim_certainty_before_the_data_determine_the_weights(cls):
    model = cls(groups=("a", "a", "b"), prior_variance=np.inf)
    assert not model.proper
    np.testing.assert_array_equal(model.sd, [np.inf] * 3)  # was [0, 0, 0]
    model.learn_one(np.array([1.0, 2.0, 3.0]), 1.0)
    np.testing.assert_array_equal(model.sd, [np.inf] * 3)  # was 0.333 along x
    rng = np.random.default_rng(0)
    for _ in range(4):
        model.learn_one(rng.normal(size=3), rng.normal())
    assert model.proper
    sd = model.sd
    assert np.isfinite(sd).all()
    np.testing.assert_allclose(sd, np.sqrt(np.diag(model.covariance)))


def test_a_partly_flat_prior_marks_only_the_undetermined_weights():
    """One observation of x = (1, 1, 0) with flat priors on a and b: w_c has a proper prior,
    w_a + w_b is determined but w_a and w_b are not; 50 replicates, every one the same."""
    model = BayesianLinearRegression(
        groups=("a", "b", "c"), prior_variance={"a": np.inf, "b": np.inf, "c": 2.0}, n_replicates=50
    )
    model.learn_one(np.tile([1.0, 1.0, 0.0], (50, 1)), np.ones(50))
    sd = model.sd
    assert np.isinf(sd[:, :2]).all()
    np.testing.assert_allclose(sd[:, 2], np.sqrt(2.0))  # untouched by the data: the prior's sd
    # What the data determine has a finite sd: var(w_a + w_b) = 1 / (beta n) = 1, so
    # 0.5 (w_a + w_b) has sd 0.5
    _, along = model.predict_one(
        np.tile([0.5, 0.5, 0.0], (50, 1)), return_sd=True, include_noise=False
    )
    np.testing.assert_allclose(along, 0.5)


def test_thompson_sampling_refuses_nan_designs_as_greedy_does():
    model = BayesianLinearRegression(groups=("a", "a", "b"))
    rng = np.random.default_rng(0)
    bad = np.full((3, 3), np.nan)
    with pytest.raises(ValueError, match=r"^x must be finite"):
        Greedy().select(model, bad, rng, step=1)
    with pytest.raises(ValueError, match=r"^designs must be finite, got nan at index \(0, 0\)"):
        ThompsonSampling().select(model, bad, rng, step=1)
    partly = np.ones((3, 3))
    partly[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"^designs must be finite, got inf at index \(2, 1\)"):
        ThompsonSampling(scale=0.5).select(model, partly, rng, step=1)


@pytest.mark.parametrize("epsilon", [1.5, 1.0000001, -0.1, np.nan])
def test_epsilon_out_of_range_is_refused_not_clipped(epsilon):
    with pytest.raises(ValueError, match=r"^epsilon must be"):
        EpsilonGreedy(epsilon)


def test_epsilon_above_one_is_the_constant_of_a_decaying_schedule():
    policy = EpsilonGreedy(5.0, decay=1.0)
    assert policy.epsilon_at(1) == 1.0
    assert policy.epsilon_at(10) == 0.5


BAD_NUMBERS = [
    pytest.param("1.0", id="string"),
    pytest.param(["1", "2", "3"], id="list-of-strings"),
    pytest.param(np.array(["1", "2", "3"]), id="string-array"),
    pytest.param([1.0, "2", 3.0], id="mixed"),
    pytest.param(np.array([1 + 1j, 2, 3]), id="complex-array"),
    pytest.param([1.0, 2j, 3.0], id="complex-list"),
    pytest.param(1 + 0j, id="complex-scalar"),
    pytest.param(b"123", id="bytes"),
]


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize(
    "learner",
    [
        lambda: BayesianLinearRegression(groups=("a", "a", "b")),
        lambda: NormalInverseGammaRegression(groups=("a", "a", "b")),
        lambda: SGDLinearRegression(groups=("a", "a", "b")),
    ],
    ids=["bayes", "nig", "sgd"],
)
def test_strings_and_complex_numbers_are_refused_naming_the_argument(learner, value):
    model = learner()
    with pytest.raises(TypeError, match=r"^x must be array-like of numbers, got .*real numbers"):
        model.learn_one(value, 1.0)
    with pytest.raises(TypeError, match=r"^y must be array-like of numbers, got .*real numbers"):
        model.learn_one(np.ones(3), value)
    with pytest.raises(TypeError, match=r"^x must be array-like of numbers"):
        model.predict_one(value)


@pytest.mark.parametrize("value", ["1.0", 1 + 0j, np.complex128(1.0)])
def test_constructor_numbers_must_be_real(value):
    with pytest.raises(TypeError, match=r"^prior_variance\['a'\] must be array-like of numbers"):
        BayesianLinearRegression(groups=("a", "b"), prior_variance={"a": value})
    with pytest.raises(TypeError, match=r"^noise_precision must be a real number"):
        BayesianLinearRegression(groups=("a",), noise_precision=value)
    with pytest.raises(TypeError, match=r"^noise_level must be a real number"):
        InteractionStream(noise_level=value)


@pytest.mark.parametrize("groups", [("a", "", "b"), ("a", "  ")])
def test_an_empty_group_name_is_refused(groups):
    with pytest.raises(ValueError, match=r"^groups must be non-empty names, got '\s*' at column"):
        BayesianLinearRegression(groups=groups)


def test_an_impossible_size_is_refused_before_allocating_naming_the_size():
    groups = ["main"] * 40_000  # X'X alone: 100 x 40,000^2 x 8 bytes = 1.2 TiB
    with pytest.raises(ValueError, match=r"shape \(100, 40000, 40000\) needs 1,192\.1 GiB"):
        BayesianLinearRegression(groups=groups, n_replicates=100)
    with pytest.raises(ValueError, match=r"more than this machine's memory"):
        NormalInverseGammaRegression(groups=groups, n_replicates=100)


def test_real_numbers_of_every_kind_still_pass():
    model = BayesianLinearRegression(groups=("a", "a", "b"))
    model.learn_one([1, 2, 3], 1)  # ints
    model.learn_one(np.array([True, False, True]), np.float32(0.5))  # bools, float32
    model.learn_one(np.array([1, 2, 3], dtype=object), 2.0)  # object array of numbers
    assert model.n_seen == 3
    env = LinearBandit(n_actions=2, context_dim=2, horizon=5, seed=0)
    assert env.take(5).rewards.shape == (5, 2)
