"""MultilevelStream: the seed's generator (seed 004), its truth, streaming contract and checks."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab._random import children
from regretlab.base import PredictionStream
from regretlab.environments import MultilevelStream
from regretlab.environments.multilevel import EXAMPLES, align_coefficients, random_coefficients
from regretlab.learners import BayesianLinearRegression
from regretlab.simulate import Agent, run_prequential


def _seed_gen_contributer_coefficients(n_contributers, contributer_avg, contributer_sig, rng):
    """The seed's function verbatim, with ``np.random`` replaced by ``rng``."""
    return align_coefficients(
        {
            lvl: {
                i: (
                    rng.normal(contributer_avg),
                    rng.lognormal(contributer_sig),
                )
                for i in range(num)
            }
            for lvl, num in enumerate(n_contributers)
        }
    )


def test_seed_examples_by_name():
    # The seed's print_coefficients(cc_02): level 1 means -1, -1, -1, 3.
    env = MultilevelStream(contributors="cc_02", horizon=10, seed=0)
    assert env.coefficients == {
        0: {0: (0.0, 5.0)},
        1: {0: (-1.0, 1.0), 1: (-1.0, 1.0), 2: (-1.0, 1.0), 3: (3.0, 2.0)},
    }
    np.testing.assert_array_equal(env.true_weights, [0.0, -1.0, -1.0, -1.0, 3.0])
    np.testing.assert_array_equal(env.contributor_sd, [5.0, 1.0, 1.0, 1.0, 2.0])
    assert env.noise_variance == 25.0 + (3 * 1.0 + 4.0) / 4
    cc_01 = MultilevelStream(contributors="cc_01", horizon=10, seed=0)
    np.testing.assert_array_equal(cc_01.true_weights, [0.0, 1.0, -1.0])
    assert cc_01.features.names == ("x0_0", "x1_0", "x1_1")
    assert MultilevelStream(horizon=3).coefficients == env.coefficients  # cc_02 by default
    assert EXAMPLES["cc_02"][1][3] == (4.0, 2.0)  # the examples are kept unaligned, as written
    # Configuration files (TOML, JSON) write keys as strings and pairs as lists.
    written = {"0": {"0": [0, 5]}, "1": {str(k): list(v) for k, v in EXAMPLES["cc_02"][1].items()}}
    from_file = MultilevelStream(contributors=written, horizon=3)
    assert from_file.coefficients == env.coefficients
    assert from_file.features.names == env.features.names


def test_random_settings_follow_the_seed_generator():
    counts = [2, 3, 5, 10, 10]
    ours = random_coefficients(counts, 0.5, -1.0, np.random.default_rng(4))
    theirs = _seed_gen_contributer_coefficients(counts, 0.5, -1.0, np.random.default_rng(4))
    assert ours == theirs
    for table in ours.values():
        # Aligned means sum to zero up to rounding of a handful of doubles.
        assert abs(sum(mu for mu, _ in table.values())) < 1e-12
    env = MultilevelStream(
        n_contributors=counts, contributor_avg=0.5, contributor_sig=-1.0, horizon=5, seed=9
    )
    gen = np.random.default_rng(children(9, 2)[0])
    assert env.coefficients == random_coefficients(counts, 0.5, -1.0, gen)
    np.testing.assert_array_equal(
        env.true_weights, [mu for t in env.coefficients.values() for mu, _ in t.values()]
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"contributors": "cc_02"},
        {"n_contributors": [2, 3, 5], "cross_levels": [(1, 2, 1.5)], "baseline": 2.0},
        {"contributors": {"a": {0: (1.0, 0.5), 1: (2.0, 1.5)}, "b": {0: (0.0, 1.0), 1: (3, 0)}}},
    ],
)
def test_mean_is_the_design_times_the_true_weights(kwargs):
    env = MultilevelStream(**kwargs, horizon=300, n_replicates=3, seed=2)
    obs = env.take(300)
    design = env.features.transform(obs.x)
    # Sums of a few doubles, computed in two orders.
    np.testing.assert_allclose(
        np.einsum("rmp,rp->rm", design, env.true_weights), obs.mean, atol=1e-12
    )
    assert obs.x.dtype == np.int64
    assert obs.x.shape == (3, 300, env.features.n_inputs)


def test_cross_effects_are_pure_interactions_and_baseline_is_the_grand_mean():
    env = MultilevelStream(
        n_contributors=[2, 3, 4], cross_levels=[(0, 2, 1.0), (1, 2, 2.0)], baseline=1.5, seed=1
    )
    assert env.features.cross_groups == ("level:0x2", "level:1x2")
    table = env.true_contributions()
    # The projection averages the weights, so the baseline comes back to within rounding.
    assert table.loc[table.term == "grand mean", "truth"].item() == pytest.approx(1.5, abs=1e-12)
    for level, group in table[table.term == "cross"].groupby("level"):
        a = int(level.split("x")[0])
        cells = group["truth"].to_numpy().reshape(env.features.counts[a], -1)
        np.testing.assert_allclose(cells.sum(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(cells.sum(axis=1), 0.0, atol=1e-12)
        assert np.abs(cells).max() > 0.1
    mains = table[table.term == "main"]
    expected = [mu for t in env.coefficients.values() for mu, _ in t.values()]
    np.testing.assert_allclose(mains["truth"], expected, atol=1e-12)
    np.testing.assert_array_equal(mains["sd"], env.contributor_sd)


def test_contributors_are_uniform_and_noise_is_the_sum_of_their_sds():
    env = MultilevelStream(contributors="cc_02", horizon=100_000, seed=5)
    obs = env.take(env.horizon)
    counts = np.bincount(obs.x[:, 1], minlength=4)
    # Each share is binomial(1e5, 1/4): sd 0.0014, so 0.01 is 7 sd.
    np.testing.assert_allclose(counts / env.horizon, 0.25, atol=0.01)
    assert (obs.x[:, 0] == 0).all()
    resid = obs.y - obs.mean
    for k, sd in enumerate([1.0, 1.0, 1.0, 2.0]):
        var = resid[obs.x[:, 1] == k].var()
        # Sample variance of ~25,000 normals: relative sd sqrt(2/n) = 0.9%, so 4% is 4.5 sd.
        assert var == pytest.approx(25.0 + sd**2, rel=0.04)


def test_streaming_contract_same_data_however_read():
    kwargs = {"n_contributors": [2, 3], "cross_levels": [(0, 1, 1.0)], "seed": 3}
    env = MultilevelStream(**kwargs, horizon=5000, n_replicates=2)
    full = env.take(5000)
    for block_size in (1, 999, 4096, 5000):
        blocks = list(env.blocks(block_size))
        for field, array in zip(full._fields, full, strict=True):
            joined = np.concatenate([getattr(b, field) for b in blocks], axis=1)
            np.testing.assert_array_equal(joined, array)
    part = env.take(4500, start=4000)
    np.testing.assert_array_equal(part.y, full.y[:, 4000:4500])
    # A longer horizon extends the same stream; a replicate is the single stream of its seed.
    longer = MultilevelStream(**{**kwargs, "seed": 3}, horizon=6000, n_replicates=2).take(5000)
    np.testing.assert_array_equal(longer.y, full.y)
    single = MultilevelStream(**{**kwargs, "seed": children(3, 2)[1]}, horizon=5000)
    np.testing.assert_array_equal(single.take(5000).y, full.y[1])
    np.testing.assert_array_equal(single.true_weights, env.true_weights[1])
    steps = list(MultilevelStream(**kwargs, horizon=7))
    assert len(steps) == 7
    assert steps[3].x.shape == (2,)
    assert isinstance(env, PredictionStream)


def test_same_seed_same_data_other_seed_other_data():
    a = MultilevelStream(n_contributors=[3, 3], horizon=50, seed=11).take(50)
    b = MultilevelStream(n_contributors=[3, 3], horizon=50, seed=11).take(50)
    c = MultilevelStream(n_contributors=[3, 3], horizon=50, seed=12).take(50)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.y, c.y)


def test_runs_in_the_prequential_loop():
    env = MultilevelStream(contributors="cc_02", horizon=200, n_replicates=3, seed=0)
    agent = Agent("bayes", BayesianLinearRegression(groups=env.features, n_replicates=3))
    result = run_prequential(env, [agent], checkpoints=[50, 200], track_coefficients=True)
    assert result.regret.shape[0] == 6
    assert np.isfinite(result.regret["expected_regret"]).all()
    assert set(result.coefficients["feature"]) == set(env.features.names)
    assert "MultilevelStream(contributors='cc_02'" in repr(env)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"contributors": "cc_03"},
            ValueError,
            r"contributors must be one of \['cc_01', 'cc_02'\]",
        ),
        ({"contributors": {0: {0: (0.0, -1.0)}}}, ValueError, r"contributors\[0\]\[0\] sigma"),
        ({"contributors": {0: {0: (np.nan, 1.0)}}}, ValueError, r"contributors\[0\]\[0\] mu"),
        ({"contributors": {0: {1: (0.0, 1.0)}}}, ValueError, r"contributors\[0\] must map"),
        ({"contributors": {0: {0: (0.0,)}}}, ValueError, r"must be a pair \(mu, sigma\)"),
        ({"contributors": {1: {0: (0.0, 1.0)}}}, ValueError, "numbered 0 .. L - 1 or named"),
        ({"contributors": {}}, TypeError, "non-empty mapping"),
        ({"contributors": "cc_01", "n_contributors": [2]}, ValueError, "not both"),
        ({"n_contributors": [2, 0]}, ValueError, r"n_contributors\[1\] must be >= 1"),
        ({"n_contributors": []}, ValueError, "n_contributors must name at least one level"),
        ({"n_contributors": 3}, TypeError, "n_contributors must be a sequence"),
        ({"contributor_sig": np.inf, "n_contributors": [2]}, ValueError, "contributor_sig"),
        ({"cross_levels": [(0, 1, 1.0)]}, ValueError, "one contributor has no interaction"),
        ({"n_contributors": [2, 2], "cross_levels": [(0, 3, 1.0)]}, ValueError, "unknown level 3"),
        ({"n_contributors": [2, 2], "cross_levels": [(0, 1, -1.0)]}, ValueError, "scale"),
        ({"n_contributors": [2, 2], "cross_levels": [(0, 1)]}, ValueError, "cross_levels entries"),
        ({"horizon": 0}, ValueError, "horizon must be >= 1"),
        ({"baseline": np.nan}, ValueError, "baseline must be finite"),
        ({"n_replicates": 0}, ValueError, "n_replicates must be >= 1"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        MultilevelStream(**kwargs)


def test_take_out_of_range():
    env = MultilevelStream(horizon=10)
    with pytest.raises(ValueError, match="stop <= horizon=10"):
        env.take(11)
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        next(env.blocks(0))
