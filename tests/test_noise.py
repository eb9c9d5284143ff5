"""Noise models: distributions, common random numbers, defaults that keep today's bits, pickling."""

from __future__ import annotations

import hashlib
import json
import pickle
import tomllib
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from regretlab.environments import (
    AbruptChange,
    Custom,
    Gaussian,
    Heteroscedastic,
    InteractionStream,
    LinearBandit,
    MultilevelStream,
    Noise,
    StudentT,
)
from regretlab.experiments import ExperimentError, load_experiment, parse_experiment


def input_scaled_normal(rng, shape, inputs):
    """Custom noise for the tests: N(0, 1) times 1 + |x_0|, for streams and bandits alike."""
    scale = 1.0 + np.abs(inputs[:, 0])
    return rng.standard_normal(shape) * scale.reshape(-1, *(1,) * (len(shape) - 1))


def half_inputs(inputs):
    return 0.5 + np.abs(inputs[:, 1])


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def _residual(obs):
    return obs.y - obs.mean


# -- defaults keep today's draws -----------------------------------------------------------


def test_default_noise_reproduces_the_draws_before_noise_models():
    # Digests of the same calls made with the code before noise models existed (commit 027d396):
    # the default noise, its draw order and the arithmetic around it did not move a bit.
    # InteractionStream's y digests were renewed when its means moved to fixed-order sums
    # (b29120f: 27% of the values moved by up to 1.3e-15); its inputs keep 027d396's digests.
    stream = InteractionStream(x_dim=4, horizon=3000, n_replicates=3, seed=5, block_size=700)
    assert _digest(stream.take(3000).x) == "78d8b95f79b49a9c"
    assert _digest(stream.take(3000).y) == "cc6853af298a6497"
    one = InteractionStream(x_dim=4, horizon=3000, seed=5, block_size=700)
    assert _digest(one.take(3000).x) == "698a790fa0dbfff3"
    assert _digest(one.take(3000).y) == "2034e2c4b6152486"
    bandit = LinearBandit(
        n_actions=3, context_dim=2, horizon=2000, n_replicates=3, seed=7, context_pairwise=True
    )
    assert _digest(bandit.take(2000).rewards) == "fdd65982e119d1fb"
    single = LinearBandit(n_actions=3, context_dim=2, horizon=2000, seed=7, context_pairwise=True)
    assert _digest(single.take(1500, 777).rewards) == "a38aadd656e28212"
    multi = MultilevelStream(
        n_contributors=[2, 3], cross_levels=[(0, 1, 1.0)], horizon=5000, n_replicates=3, seed=3
    )
    assert _digest(multi.take(5000).y) == "9db727ef87eef7d0"


@pytest.mark.parametrize("n_replicates", [None, 2])
def test_explicit_gaussian_equals_the_default(n_replicates):
    kw = {"horizon": 500, "n_replicates": n_replicates, "seed": 4}
    a = InteractionStream(x_dim=3, noise_level=0.7, **kw)
    b = InteractionStream(x_dim=3, noise_level=5.0, noise=Gaussian(0.7), **kw)
    np.testing.assert_array_equal(a.take(500).y, b.take(500).y)
    a = LinearBandit(n_actions=3, context_dim=2, noise_level=0.3, **kw)
    b = LinearBandit(n_actions=3, context_dim=2, noise=Gaussian(0.3), **kw)
    np.testing.assert_array_equal(a.take(500).rewards, b.take(500).rewards)
    a = MultilevelStream(**kw)
    b = MultilevelStream(noise=Gaussian(1.0), **kw)
    np.testing.assert_array_equal(a.take(500).y, b.take(500).y)


# -- distributions (fixed seeds) -------------------------------------------------------------


def test_student_t_scale_is_the_sd_and_its_kurtosis_is_6_over_df_minus_4():
    env = InteractionStream(x_dim=2, horizon=200_000, noise=StudentT(df=10, scale=0.5), seed=0)
    r = _residual(env.take(200_000))
    # sd of a sample sd of 2e5 t_10 draws: about 0.14%; 1% is 7 of them.
    assert r.std() == pytest.approx(0.5, rel=0.01)
    # Excess kurtosis 6 / (10 - 4) = 1; over seeds 0-4 the estimate ranged 0.91-1.14 (its
    # spread is large: the 8th moment of t_10 barely exists), hence 0.3.
    assert scipy.stats.kurtosis(r) == pytest.approx(1.0, abs=0.3)


def test_student_t_with_three_degrees_of_freedom_has_heavy_tails():
    env = InteractionStream(x_dim=2, horizon=200_000, noise=StudentT(df=3, scale=0.5), seed=0)
    r = _residual(env.take(200_000))
    # Beyond 4 sd: t_3 (sd sqrt 3) has 0.62% of its mass there, a normal 0.006%. About 1,240
    # draws expected, a Poisson sd of 35: 10% is 3.5 sds.
    expected = 2 * scipy.stats.t.sf(4 / np.sqrt(1 / 3), 3)
    assert np.mean(np.abs(r) > 4 * 0.5) == pytest.approx(expected, rel=0.1)
    normal = _residual(InteractionStream(x_dim=2, horizon=200_000, noise_level=0.5, seed=0).take(2))
    assert normal.shape == (2,)


def test_student_t_below_two_degrees_of_freedom_uses_scale_as_the_t_scale():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(
        StudentT(df=1.5, scale=2.0).sample(rng_a, (50,)), 2.0 * rng_b.standard_t(1.5, 50)
    )
    assert StudentT(df=2, scale=1.0).sd() == np.inf


def _binned_sd(inputs, residual, sd):
    """Per decile of ``inputs``: the residuals' sd and the model's rms sd there."""
    edges = np.quantile(inputs, np.linspace(0, 1, 11))
    which = np.clip(np.searchsorted(edges, inputs, side="right") - 1, 0, 9)
    got = np.array([residual[which == b].std() for b in range(10)])
    want = np.array([np.sqrt(np.mean(sd[which == b] ** 2)) for b in range(10)])
    return got, want


def test_heteroscedastic_sd_follows_the_input_in_a_stream():
    noise = Heteroscedastic(Gaussian(0.5), slope=2.0)
    obs = InteractionStream(x_dim=2, horizon=200_000, noise=noise, seed=1).take(200_000)
    got, want = _binned_sd(np.abs(obs.x[:, 0]), _residual(obs), noise.sd(obs.x))
    # 20,000 draws a bin: the sd of a sample sd is 0.5%; 3% is 6 of them.
    np.testing.assert_allclose(got, want, rtol=0.03)
    assert want[-1] / want[0] > 2.5  # the sd really grows: 0.5 -> about 1.5


def test_heteroscedastic_sd_follows_the_context_in_a_bandit():
    noise = Heteroscedastic(StudentT(df=8, scale=0.4), scale_fn=half_inputs)
    env = LinearBandit(n_actions=2, context_dim=2, horizon=100_000, noise=noise, seed=2)
    step = env.take(100_000)
    residual = (step.rewards - step.means).ravel()
    inputs = np.repeat(np.abs(step.context[:, 1]), 2)
    sd = np.repeat(noise.sd(step.context), 2)
    got, want = _binned_sd(inputs, residual, sd)
    # 20,000 t_8 draws a bin (kurtosis 2): the sd of a sample sd is 0.9%; 5% is 5.5 of them.
    np.testing.assert_allclose(got, want, rtol=0.05)


def test_heteroscedastic_noise_shares_its_shocks_with_its_base():
    kw = {"x_dim": 2, "horizon": 300, "n_replicates": 2, "seed": 5}
    plain = InteractionStream(noise=Gaussian(0.5), **kw).take(300)
    noise = Heteroscedastic(Gaussian(0.5), slope=3.0, input=1)
    varied = InteractionStream(noise=noise, **kw).take(300)
    np.testing.assert_array_equal(plain.x, varied.x)
    np.testing.assert_allclose(
        _residual(varied), _residual(plain) * (1 + 3.0 * np.abs(plain.x[..., 1])), rtol=1e-12
    )


def test_multilevel_student_t_keeps_every_contributors_sd():
    env = MultilevelStream(contributors="cc_01", horizon=100_000, noise=StudentT(df=5), seed=0)
    r = _residual(env.take(100_000))
    # Kurtosis of t_5 is 9 (excess 6): the sd of a sample variance of 1e5 draws is about 1%.
    assert r.var() == pytest.approx(env.noise_variance, rel=0.05)
    assert scipy.stats.kurtosis(r) > 0.5
    het = MultilevelStream(noise=Heteroscedastic(), horizon=10, seed=0)
    assert np.isnan(het.noise_variance)
    assert MultilevelStream(noise=Gaussian(2.0), seed=0).noise_variance == pytest.approx(
        4 * MultilevelStream(seed=0).noise_variance
    )


# -- custom noise, skipping rows, blocks ---------------------------------------------------------


@pytest.mark.parametrize(
    "noise", [StudentT(df=3), Heteroscedastic(slope=1.0), Custom(input_scaled_normal)]
)
@pytest.mark.parametrize("n_replicates", [None, 3])
def test_take_and_blocks_agree_whatever_the_noise(noise, n_replicates):
    kw = {"horizon": 90, "n_replicates": n_replicates, "seed": 8, "noise": noise}
    stream = InteractionStream(x_dim=2, block_size=7, **kw)
    full = stream.take(90)
    np.testing.assert_array_equal(stream.take(80, 33).y, full.y[..., 33:80])
    np.testing.assert_array_equal(np.concatenate([b.y for b in stream.blocks(11)], -1), full.y)
    bandit = LinearBandit(n_actions=3, context_dim=2, **kw)
    full = bandit.take(90)
    np.testing.assert_array_equal(bandit.take(70, 21).rewards, full.rewards[..., 21:70, :])
    blocks = np.concatenate([b.rewards for b in bandit.blocks(13)], axis=-2)
    np.testing.assert_array_equal(blocks, full.rewards)


def test_custom_noise_draws_from_the_environments_generator():
    kw = {"x_dim": 2, "horizon": 200, "seed": 3}
    a = InteractionStream(noise=Custom(input_scaled_normal), **kw).take(200)
    b = InteractionStream(noise=Gaussian(1.0), **kw).take(200)
    np.testing.assert_allclose(_residual(a), _residual(b) * (1 + np.abs(b.x[:, 0])), rtol=1e-12)


def bad_shape(rng, shape, inputs):
    return rng.standard_normal(3)


def test_custom_noise_checks_what_fn_returns():
    with pytest.raises(ValueError, match="fn must return finite noise of shape"):
        InteractionStream(x_dim=2, horizon=10, noise=Custom(bad_shape), seed=0).take(10)


def test_user_functions_must_be_top_level():
    def local(rng, shape, inputs):
        return rng.standard_normal(shape)

    with pytest.raises(TypeError, match="fn must be a module's top-level function"):
        Custom(lambda rng, shape, inputs: rng.standard_normal(shape))
    with pytest.raises(TypeError, match="fn must be a module's top-level function"):
        Custom(local)
    with pytest.raises(TypeError, match="scale_fn must be a module's top-level function"):
        Heteroscedastic(scale_fn=lambda x: x[:, 0])


# -- pickling and validation -----------------------------------------------------------------

MODELS = [
    Gaussian(0.3),
    StudentT(df=3, scale=0.5),
    Heteroscedastic(StudentT(df=4), slope=0.5, input=1),
    Heteroscedastic(scale_fn=half_inputs),
    Custom(input_scaled_normal),
]


@pytest.mark.parametrize("noise", MODELS, ids=repr)
def test_models_and_environments_pickle(noise):
    assert pickle.loads(pickle.dumps(noise)) == noise
    env = LinearBandit(n_actions=2, context_dim=2, horizon=40, n_replicates=2, noise=noise, seed=1)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(env)).take(40).rewards, env.take(40).rewards
    )
    assert isinstance(noise, Noise)


@pytest.mark.parametrize(
    ("make", "error", "pattern"),
    [
        (lambda: StudentT(df=0), ValueError, "df must be > 0"),
        (lambda: StudentT(df=-2.0), ValueError, "df must be > 0"),
        (lambda: StudentT(df=3, scale=-1), ValueError, "scale must be >= 0"),
        (lambda: Gaussian(-0.1), ValueError, "scale must be >= 0"),
        (lambda: Gaussian("1"), TypeError, "scale must be a real number"),
        (lambda: Heteroscedastic(slope=-1), ValueError, "slope must be >= 0"),
        (lambda: Heteroscedastic(base=1.0), TypeError, "base must be a noise model"),
        (lambda: InteractionStream(noise="StudentT"), TypeError, "noise must be a noise model"),
        (lambda: LinearBandit(noise=2.0), TypeError, "noise must be a noise model"),
        (lambda: MultilevelStream(noise=2.0), TypeError, "noise must be a noise model"),
    ],
)
def test_bad_noise(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_heteroscedastic_input_must_exist():
    env = InteractionStream(x_dim=2, horizon=5, noise=Heteroscedastic(input=2), seed=0)
    with pytest.raises(ValueError, match=r"input must be < the number of inputs \(2\), got 2"):
        env.take(5)


# -- InteractionStream's options -----------------------------------------------------------------


def test_options_change_the_truth_and_nothing_else():
    kw = {"x_dim": 4, "horizon": 200, "n_replicates": 3, "seed": 6, "interaction_scale": 2.0}
    base = InteractionStream(**kw)
    w = base.true_weights
    scaled = InteractionStream(main_scale=3.0, intercept=10.0, interaction_density=0.5, **kw)
    v = scaled.true_weights
    np.testing.assert_array_equal(v[:, 0], 10.0)
    np.testing.assert_array_equal(v[:, 1:5], 3.0 * w[:, 1:5])
    pairs, kept = w[:, 5:], v[:, 5:]
    np.testing.assert_array_equal(np.count_nonzero(kept, axis=1), 3)  # round(0.5 * 6)
    np.testing.assert_array_equal(kept[kept != 0], pairs[kept != 0])
    assert len({tuple(row != 0) for row in kept}) > 1  # each replicate chooses its own
    a, b = base.take(200), scaled.take(200)
    np.testing.assert_array_equal(a.x, b.x)
    # The same noise draws; y - mean rounds differently around different means.
    np.testing.assert_allclose(_residual(a), _residual(b), rtol=0, atol=1e-13)
    assert "interaction_density=0.5" in repr(scaled)


@pytest.mark.parametrize(("density", "nonzero"), [(0.0, 0), (0.3, 3), (1.0, 10)])
def test_interaction_density_keeps_a_rounded_fraction(density, nonzero):
    env = InteractionStream(x_dim=5, horizon=5, interaction_density=density, seed=2)
    assert np.count_nonzero(env.true_weights[6:]) == nonzero


def test_abrupt_change_redraws_with_the_streams_options():
    env = InteractionStream(x_dim=4, horizon=50, interaction_density=0.5, intercept=0.0, seed=1)
    drift = AbruptChange(env, 20, seed=3)
    after = drift.true_weights_at(30)
    assert after[0] == 0.0
    assert np.count_nonzero(after[5:]) == 3
    assert not np.array_equal(after, env.true_weights)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"main_scale": -1.0}, ValueError, "main_scale must be >= 0"),
        ({"interaction_density": 1.5}, ValueError, "interaction_density must be <= 1"),
        ({"interaction_density": -0.1}, ValueError, "interaction_density must be >= 0"),
        ({"intercept": "a"}, TypeError, "intercept must be a real number"),
    ],
)
def test_bad_options(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        InteractionStream(horizon=5, **kwargs)


# -- experiment files ------------------------------------------------------------------------

TOML = """
seed = 1
horizon = 30
replicates = 2

[environments.heavy]
type = "InteractionStream"
x_dim = 3
main_scale = 0.5
intercept = 1.0
interaction_density = 0.5
noise = { type = "StudentT", df = 3, scale = 0.5 }

[environments.spread]
type = "InteractionStream"
x_dim = 3
noise = { type = "Heteroscedastic", base = { type = "Gaussian", scale = 0.5 }, slope = 2.0 }

[environments.own]
type = "InteractionStream"
x_dim = 3
noise = { type = "Custom", fn = "test_noise:input_scaled_normal" }

[agents.bayes]
learner = { type = "BayesianLinearRegression" }
"""


@pytest.fixture
def experiment_file(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    path = tmp_path / "noisy.toml"
    path.write_text(TOML, encoding="utf-8")
    return path


def test_noise_tables_round_trip(experiment_file):
    exp = load_experiment(experiment_file, imports=["test_noise"])
    assert parse_experiment(exp.to_dict(), imports=["test_noise"]) == exp
    assert parse_experiment(json.loads(json.dumps(exp.to_dict())), imports=["test_noise"]) == exp
    # The custom function's module is a plugin the workers import by name.
    assert "test_noise" in exp.imports
    resolved = exp.to_dict()["environments"]
    assert resolved["heavy"]["noise"] == {"type": "StudentT", "df": 3, "scale": 0.5}
    assert resolved["spread"]["noise"]["base"] == {"type": "Gaussian", "scale": 0.5}
    assert resolved["heavy"]["interaction_density"] == 0.5
    heavy = exp.build_environment("heavy", n_replicates=2, seed=0)
    assert heavy.noise == StudentT(df=3, scale=0.5)
    assert heavy.main_scale == 0.5
    assert heavy.intercept == 1.0
    spread = exp.build_environment("spread", n_replicates=2, seed=0)
    assert spread.noise == Heteroscedastic(Gaussian(0.5), slope=2.0)
    own = exp.build_environment("own", n_replicates=2, seed=0)
    assert own.noise == Custom(input_scaled_normal)
    plain = parse_experiment(
        {
            **tomllib.loads(TOML),
            "environments": {"p": {"type": "LinearBandit"}},
            "agents": {"r": {"policy": {"type": "Random"}}},
        }
    )
    assert plain.to_dict()["environments"]["p"]["noise"] is None


@pytest.mark.parametrize(
    ("table", "pattern"),
    [
        ('{ type = "StudentT", df = 0 }', r"environments.heavy.noise: df must be > 0"),
        ('{ type = "StudentT", df = 3, scale = -1 }', r"heavy.noise: scale must be >= 0"),
        ('{ type = "Gaussian", scale = -0.5 }', r"heavy.noise: scale must be >= 0"),
        ('{ type = "Pareto" }', r"heavy.noise.type: unknown noise 'Pareto'; choose one of"),
        ('{ type = "Gaussian", sd = 1 }', r"heavy.noise.sd: unknown parameter of Gaussian"),
        ('{ type = "StudentT" }', r"heavy.noise: missing required key 'df' of StudentT"),
        ('"StudentT"', r"heavy.noise: must be a table with a 'type' key"),
        ('{ type = "Heteroscedastic", slope = -2 }', r"heavy.noise: slope must be >= 0"),
        (
            '{ type = "Heteroscedastic", base = { type = "StudentT", df = -1 } }',
            r"heavy.noise.base: df must be > 0",
        ),
        (
            '{ type = "Custom", fn = "no_such_module:f" }',
            r"heavy.noise.fn: module 'no_such_module' is not allowed",
        ),
    ],
)
def test_bad_noise_tables_name_their_key(experiment_file, table, pattern):
    text = TOML.replace('{ type = "StudentT", df = 3, scale = 0.5 }', table)
    with pytest.raises(ExperimentError, match=pattern):
        parse_experiment(tomllib.loads(text), imports=["test_noise"])


def test_a_custom_noise_function_needs_its_module_allowed(experiment_file):
    """An experiment file is data: naming a function must not import code nobody allowed."""
    with pytest.raises(ExperimentError, match=r"own.noise.fn: module 'test_noise' is not allowed"):
        load_experiment(experiment_file)
