"""RiverRegressor against river run by hand; its seeds, its state without pickle, bad inputs."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
from river import ensemble, linear_model, optim, preprocessing

from regretlab.base import Learner
from regretlab.features import InteractionFeatures
from regretlab.learners.river import RiverRegressor

P = 5
NAMES = tuple(f"x{i}" for i in range(P))
GROUPS = ("main",) * P


def _pipeline():
    return preprocessing.StandardScaler() | linear_model.LinearRegression()


FACTORIES = {
    "LinearRegression": linear_model.LinearRegression,
    "BayesianLinearRegression": linear_model.BayesianLinearRegression,
    "PARegressor": linear_model.PARegressor,
    "pipeline": _pipeline,
}
each_factory = pytest.mark.parametrize("factory", list(FACTORIES.values()), ids=list(FACTORIES))


def _normal_init():
    """A river model with a nested ``seed`` parameter (unseeded: the adapter seeds it)."""
    return linear_model.LinearRegression(initializer=optim.initializers.Normal())


def _bagging():
    """Two ``seed`` parameters: the inner initializer's first, then the ensemble's."""
    return ensemble.BaggingRegressor(_normal_init(), n_models=3)


def _stream(rng, steps, batch=()):
    """Rows on different scales (so the scaler matters) and a noisy linear target."""
    x = rng.normal(size=(steps, *batch, P)) * np.array([1.0, 3.0, 0.5, 2.0, 1.0])
    y = x @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.5 + 0.1 * rng.normal(size=(steps, *batch))
    return x, y


def _as_dict(row, names=NAMES):
    return dict(zip(names, row.tolist(), strict=True))


def _through_npz(state):
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _snapshot(model):
    state = model.get_state()
    return str(state["river_models"]), int(state["n_seen"])


# -- the same as river by hand ----------------------------------------------------------------
@each_factory
def test_single_stream_matches_river_by_hand(rng, factory):
    x, y = _stream(rng, 300)
    model = RiverRegressor(factory=factory, groups=GROUPS)
    hand = factory()
    for xt, yt in zip(x, y, strict=True):
        got = model.predict_one(xt)
        assert isinstance(got, float)
        assert got == hand.predict_one(_as_dict(xt))
        assert model.learn_one(xt, yt) is model
        hand.learn_one(_as_dict(xt), float(yt))
    assert model.n_seen == 300


@each_factory
def test_replicates_match_separate_river_models(rng, factory):
    n_replicates, n_actions, steps = 3, 4, 150
    x, y = _stream(rng, steps, (n_replicates,))
    actions = rng.normal(size=(steps, n_replicates, n_actions, P))
    model = RiverRegressor(factory=factory, groups=GROUPS, n_replicates=n_replicates)
    hands = [factory() for _ in range(n_replicates)]
    for t in range(steps):
        expected = [
            [h.predict_one(_as_dict(a)) for a in actions[t, r]] for r, h in enumerate(hands)
        ]
        np.testing.assert_array_equal(model.predict_one(actions[t]), expected)
        expected = [h.predict_one(_as_dict(x[t, r])) for r, h in enumerate(hands)]
        np.testing.assert_array_equal(model.predict_one(x[t]), expected)
        model.learn_one(x[t], y[t])
        for r, hand in enumerate(hands):
            hand.learn_one(_as_dict(x[t, r]), float(y[t, r]))
    np.testing.assert_array_equal(model.n_seen, np.full(n_replicates, steps))


@each_factory
def test_learn_many_is_sequential_learn_one(rng, factory):
    x, y = _stream(rng, 60, (2,))
    block = RiverRegressor(factory=factory, groups=GROUPS, n_replicates=2)
    block.learn_many(np.moveaxis(x, 0, 1), y.T)
    one = RiverRegressor(factory=factory, groups=GROUPS, n_replicates=2)
    for xt, yt in zip(x, y, strict=True):
        one.learn_one(xt, yt)
    assert _snapshot(block) == _snapshot(one)


def test_single_stream_predicts_over_actions(rng):
    x, y = _stream(rng, 30)
    model = RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS)
    model.learn_many(x, y)
    designs = rng.normal(size=(2, 3, P))
    expected = [[model.models[0].predict_one(_as_dict(row)) for row in rows] for rows in designs]
    np.testing.assert_array_equal(model.predict_one(designs), expected)
    assert model.predict_one(np.empty((0, P))).shape == (0,)


def test_factory_is_the_one_positional_parameter():
    positional = RiverRegressor(linear_model.PARegressor, groups=GROUPS, n_replicates=2)
    keyword = RiverRegressor(factory=linear_model.PARegressor, groups=GROUPS, n_replicates=2)
    assert positional.get_params() == keyword.get_params()
    with pytest.raises(TypeError):
        RiverRegressor(linear_model.PARegressor, GROUPS)  # groups stays keyword-only


def test_feature_map_names_become_the_dict_keys():
    fm = InteractionFeatures(x_dim=2)
    model = RiverRegressor(factory=linear_model.LinearRegression, groups=fm)
    assert model.feature_names == fm.names == ("1", "x0", "x1", "x0 x1")
    model.learn_one(fm.transform([0.5, -1.0]), 1.0)
    assert list(model.models[0].weights) == list(fm.names)
    assert RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS).feature_names == (
        NAMES
    )
    named = RiverRegressor(factory=linear_model.LinearRegression, groups=fm, names=tuple("abcd"))
    assert named.feature_names == ("a", "b", "c", "d")


# -- linear weights ---------------------------------------------------------------------------
@pytest.mark.parametrize("factory", [linear_model.LinearRegression, linear_model.PARegressor])
def test_weights_follow_the_column_order(rng, factory):
    names = ("e", "d", "c", "b", "a")
    model = RiverRegressor(factory=factory, groups=GROUPS, names=names, n_replicates=2)
    np.testing.assert_array_equal(model.weights, np.zeros((2, P)))
    # Reading must not insert keys (PARegressor's weights are a defaultdict).
    assert [len(m.weights) for m in model.models] == [0, 0]
    x, y = _stream(rng, 40, (2,))
    model.learn_many(np.moveaxis(x, 0, 1), y.T)
    expected = [[m.weights[name] for name in names] for m in model.models]
    np.testing.assert_array_equal(model.weights, expected)
    np.testing.assert_array_equal(model.intercept, [m.intercept for m in model.models])
    single = RiverRegressor(factory=factory, groups=GROUPS).learn_one(x[0, 0], y[0, 0])
    assert single.weights.shape == (P,)
    assert isinstance(single.intercept, float)


@pytest.mark.parametrize("factory", [linear_model.BayesianLinearRegression, _pipeline])
def test_weights_of_models_without_them_raise(factory):
    model = RiverRegressor(factory=factory, groups=GROUPS)
    with pytest.raises(AttributeError, match="does not expose linear weights"):
        _ = model.weights


# -- seeds ------------------------------------------------------------------------------------
def _words(seed, n_replicates, n_sites=1):
    children = np.random.SeedSequence(seed).spawn(n_replicates)
    return [[int(w) for w in c.generate_state(n_sites, dtype=np.uint32)] for c in children]


def _run(model, x, y):
    model.learn_many(np.moveaxis(x, 0, 1), y.T)
    return model.predict_one(x[-1])


def test_seeds_give_distinct_reproducible_replicates(rng):
    # Every replicate sees the same rows, so only the seeds can tell them apart.
    x, y = _stream(rng, 20)
    x, y = np.repeat(x[:, None], 3, axis=1), np.repeat(y[:, None], 3, axis=1)

    def run(seed):
        model = RiverRegressor(factory=_normal_init, groups=GROUPS, n_replicates=3, seed=seed)
        return _run(model, x, y)

    first = run(5)
    assert len(set(first.tolist())) == 3
    np.testing.assert_array_equal(run(5), first)
    np.testing.assert_array_equal(run(np.random.SeedSequence(5)), first)
    assert not np.array_equal(run(6), first)


@pytest.mark.parametrize(
    ("factory", "by_hand"),
    [
        (
            _normal_init,
            lambda w: linear_model.LinearRegression(
                initializer=optim.initializers.Normal(seed=w[0])
            ),
        ),
        (
            _bagging,
            lambda w: ensemble.BaggingRegressor(
                linear_model.LinearRegression(initializer=optim.initializers.Normal(seed=w[0])),
                n_models=3,
                seed=w[1],
            ),
        ),
    ],
    ids=["nested", "two-sites"],
)
def test_seed_words_follow_the_documented_derivation(rng, factory, by_hand):
    x, y = _stream(rng, 30, (3,))
    n_sites = 2 if factory is _bagging else 1
    hands = [by_hand(w) for w in _words(11, 3, n_sites)]
    model = RiverRegressor(factory=factory, groups=GROUPS, n_replicates=3, seed=11)
    for t in range(30):
        expected = [h.predict_one(_as_dict(x[t, r])) for r, h in enumerate(hands)]
        np.testing.assert_array_equal(model.predict_one(x[t]), expected)
        model.learn_one(x[t], y[t])
        for r, hand in enumerate(hands):
            hand.learn_one(_as_dict(x[t, r]), float(y[t, r]))


def test_single_stream_seed_is_used_directly(rng):
    x, y = _stream(rng, 10)
    word = int(np.random.SeedSequence(3).generate_state(1, dtype=np.uint32)[0])
    hand = linear_model.LinearRegression(initializer=optim.initializers.Normal(seed=word))
    model = RiverRegressor(factory=_normal_init, groups=GROUPS, seed=3)
    for xt, yt in zip(x, y, strict=True):
        model.learn_one(xt, yt)
        hand.learn_one(_as_dict(xt), float(yt))
    assert model.predict_one(x[0]) == hand.predict_one(_as_dict(x[0]))


def test_no_seed_keeps_the_factory_seeds(rng):
    x, y = _stream(rng, 10)
    x, y = np.repeat(x[:, None], 2, axis=1), np.repeat(y[:, None], 2, axis=1)

    def factory():
        return linear_model.LinearRegression(initializer=optim.initializers.Normal(seed=3))

    predictions = _run(RiverRegressor(factory=factory, groups=GROUPS, n_replicates=2), x, y)
    hand = factory()
    for xt, yt in zip(x[:, 0], y[:, 0], strict=True):
        hand.learn_one(_as_dict(xt), float(yt))
    np.testing.assert_array_equal(predictions, [hand.predict_one(_as_dict(x[-1, 0]))] * 2)


def test_clone_is_untrained_with_the_same_seeds(rng):
    x, y = _stream(rng, 20, (3,))
    model = RiverRegressor(
        factory=_normal_init, groups=GROUPS, n_replicates=3, seed=np.random.SeedSequence(8)
    )
    twin = model.clone()
    assert twin is not model
    assert twin.n_seen.tolist() == [0, 0, 0]
    assert all(a is not b for a, b in zip(twin.models, model.models, strict=True))
    np.testing.assert_array_equal(_run(twin, x, y), _run(model, x, y))
    assert twin.clone().n_seen.tolist() == [0, 0, 0]


# -- state without pickle ---------------------------------------------------------------------
@each_factory
@pytest.mark.parametrize("n_replicates", [None, 3])
def test_state_round_trip_continues_identically(rng, factory, n_replicates):
    batch = () if n_replicates is None else (n_replicates,)
    x, y = _stream(rng, 300, batch)
    original = RiverRegressor(factory=factory, groups=GROUPS, n_replicates=n_replicates)
    for t in range(150):
        original.learn_one(x[t], y[t])
    state = _through_npz(original.get_state())
    assert state["river_models"].dtype.kind == "U"
    restored = RiverRegressor(factory=factory, groups=GROUPS, n_replicates=n_replicates)
    assert restored.set_state(state) is restored
    np.testing.assert_array_equal(restored.n_seen, original.n_seen)
    assert all(a is not b for a, b in zip(restored.models, original.models, strict=True))
    for t in range(150, 300):
        np.testing.assert_array_equal(restored.predict_one(x[t]), original.predict_one(x[t]))
        original.learn_one(x[t], y[t])
        restored.learn_one(x[t], y[t])
    np.testing.assert_array_equal(restored.predict_one(x[0]), original.predict_one(x[0]))


@pytest.mark.parametrize(("factory", "n_before"), [(_normal_init, 0), (_bagging, 40)])
def test_state_keeps_random_generators(rng, factory, n_before):
    # Normal draws the first weights from a numpy RandomState (restored here before it has
    # drawn anything), bagging draws from a random.Random at every step: both must resume.
    x, y = _stream(rng, 80, (2,))
    original = RiverRegressor(factory=factory, groups=GROUPS, n_replicates=2, seed=4)
    for t in range(n_before):
        original.learn_one(x[t], y[t])
    restored = RiverRegressor(factory=factory, groups=GROUPS, n_replicates=2, seed=99)
    restored.set_state(_through_npz(original.get_state()))
    for t in range(n_before, 80):
        original.learn_one(x[t], y[t])
        restored.learn_one(x[t], y[t])
        np.testing.assert_array_equal(restored.predict_one(x[t]), original.predict_one(x[t]))


def test_state_shares_objects_referenced_twice(rng):
    x, y = _stream(rng, 20)
    model = RiverRegressor(factory=_pipeline, groups=GROUPS).learn_many(x, y)
    restored = RiverRegressor(factory=_pipeline, groups=GROUPS)
    restored.set_state(_through_npz(model.get_state()))
    pipeline = restored.models[0]
    # The pipeline caches its steps in an execution plan; the cache must point at the steps.
    assert pipeline._last_step_cached is pipeline["LinearRegression"]


def test_state_refuses_objects_outside_river(rng):
    def factory():
        return (lambda x: dict(x)) | linear_model.LinearRegression()

    model = RiverRegressor(factory=factory, groups=GROUPS).learn_one(np.ones(P), 1.0)
    with pytest.raises(TypeError, match=r"cannot save models\[0\]\.steps.*lambdas"):
        model.get_state()


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("subprocess:Popen", "only classes and functions from river"),
        ("this:s", "only classes and functions from river"),
        ("river.utils.math:np.load", "cannot find"),
    ],
)
def test_loader_imports_nothing_outside_river(rng, name, match):
    x, y = _stream(rng, 10)
    state = RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS)
    state = state.learn_many(x, y).get_state()
    tree = json.loads(str(state["river_models"]))
    tree["models"][0]["attrs"]["optimizer"]["cls"] = name
    tampered = {**state, "river_models": np.array(json.dumps(tree))}
    target = RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS)
    before = _snapshot(target)
    with pytest.raises(ValueError, match=match):
        target.set_state(tampered)
    assert "this" not in sys.modules
    assert _snapshot(target) == before


def test_loader_refuses_object_arrays(rng):
    x, y = _stream(rng, 10)
    model = RiverRegressor(factory=linear_model.BayesianLinearRegression, groups=GROUPS)
    state = model.learn_many(x, y).get_state()
    text = str(state["river_models"]).replace('"dtype":"<f8"', '"dtype":"|O"', 1)
    with pytest.raises(ValueError, match="only numeric numpy arrays"):
        model.set_state({**state, "river_models": np.array(text)})


def test_set_state_checks_what_it_is_given(rng):
    x, y = _stream(rng, 10, (2,))
    saved = RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS, n_replicates=2)
    state = saved.learn_many(np.moveaxis(x, 0, 1), y.T).get_state()
    target = RiverRegressor(factory=linear_model.PARegressor, groups=GROUPS, n_replicates=2)
    before = _snapshot(target)
    with pytest.raises(
        ValueError, match=r"saved from river\.linear_model\.lin_reg:LinearRegression"
    ):
        target.set_state(state)
    assert _snapshot(target) == before
    three = RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS, n_replicates=3)
    with pytest.raises(ValueError, match="holds 2 river models, this learner has 3"):
        three.set_state(state)
    renamed = RiverRegressor(
        factory=linear_model.LinearRegression, groups=GROUPS, names=tuple("abcde"), n_replicates=2
    )
    with pytest.raises(ValueError, match="feature names"):
        renamed.set_state(state)
    with pytest.raises(ValueError, match="missing"):
        target.set_state({"n_seen": state["n_seen"]})
    with pytest.raises(ValueError, match="scalar unicode array"):
        target.set_state({**state, "river_models": np.zeros(3)})
    with pytest.raises(TypeError, match="mapping"):
        target.set_state([state])
    tree = json.loads(str(state["river_models"]))
    del tree["models"][1]["attrs"]["optimizer"]["attrs"]
    same_kind = RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS, n_replicates=2)
    untouched = _snapshot(same_kind)
    with pytest.raises(ValueError, match="malformed"):
        same_kind.set_state({**state, "river_models": np.array(json.dumps(tree))})
    assert _snapshot(same_kind) == untouched


def test_state_from_another_river_version_loads_with_a_warning(rng, caplog):
    x, y = _stream(rng, 10)
    model = RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS)
    state = model.learn_many(x, y).get_state()
    tree = json.loads(str(state["river_models"]))
    tree["river"] = "0.0.1"
    restored = RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS)
    with caplog.at_level("WARNING", logger="regretlab.learners.river"):
        restored.set_state({**state, "river_models": np.array(json.dumps(tree))})
    assert "river 0.0.1" in caplog.text
    assert restored.predict_one(x[0]) == model.predict_one(x[0])


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_replicates", "x_shape", "y_shape", "match"),
    [
        (None, (P + 1,), (), r"x must have shape \(5,\), got \(6,\)"),
        (None, (1, P), (), r"x must have shape \(5,\)"),
        (None, (P,), (1,), r"y must have shape \(\), got \(1,\)"),
        (3, (P,), (3,), r"x must have shape \(3, 5\), got \(5,\)"),
        (3, (3, P), (), r"y must have shape \(3,\), got \(\)"),
    ],
)
def test_learn_one_shape_errors(n_replicates, x_shape, y_shape, match):
    model = RiverRegressor(
        factory=linear_model.LinearRegression, groups=GROUPS, n_replicates=n_replicates
    )
    with pytest.raises(ValueError, match=match):
        model.learn_one(np.ones(x_shape), np.ones(y_shape))
    assert model.models[0].weights == {}


def test_learn_many_and_predict_shape_errors():
    model = RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS, n_replicates=3)
    with pytest.raises(ValueError, match=r"x must have shape \(3, 'm', 5\), got \(3, 5\)"):
        model.learn_many(np.ones((3, P)), np.ones(3))
    with pytest.raises(ValueError, match=r"y must have shape \(3, 4\), got \(3, 5\)"):
        model.learn_many(np.ones((3, 4, P)), np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"x must have shape \(3, 5\) \(optionally"):
        model.predict_one(np.ones((2, P)))
    with pytest.raises(ValueError, match=r"x must have shape \(3, 5\) \(optionally"):
        model.predict_one(np.ones((3, 2, P + 1)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["x", "y"])
def test_non_finite_input_raises_and_leaves_every_model_untouched(rng, bad, where):
    x, y = _stream(rng, 11, (3,))
    model = RiverRegressor(factory=_pipeline, groups=GROUPS, n_replicates=3)
    for t in range(10):
        model.learn_one(x[t], y[t])
    before = _snapshot(model)
    # The bad value sits in the last replicate: the first two must not have learned the row.
    xt, yt = x[10].copy(), y[10].copy()
    if where == "x":
        xt[2, 1] = bad
    else:
        yt[2] = bad
    index = r"\(2, 1\)" if where == "x" else "2"
    with pytest.raises(ValueError, match=rf"{where} must be finite, got .* at index {index} "):
        model.learn_one(xt, yt)
    assert _snapshot(model) == before
    block_x, block_y = np.moveaxis(x[:3], 0, 1).copy(), y[:3].T.copy()
    (block_x if where == "x" else block_y)[2, 2, ...] = bad
    with pytest.raises(ValueError, match=r"in the block starting at step 10"):
        model.learn_many(block_x, block_y)
    assert _snapshot(model) == before


@pytest.mark.parametrize("bad", ["abc", [["a"] * P], {"x": 1.0}])
def test_non_numeric_input_names_the_argument(bad):
    model = RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS)
    with pytest.raises(TypeError, match=r"^x must be array-like of numbers"):
        model.learn_one(bad, 1.0)
    with pytest.raises(TypeError, match=r"^y must be array-like of numbers"):
        model.learn_one(np.ones(P), bad)
    with pytest.raises(TypeError, match=r"^x must be array-like of numbers"):
        model.predict_one(bad)
    assert model.models[0].weights == {}


def test_predict_rejects_non_finite_x():
    model = RiverRegressor(factory=linear_model.BayesianLinearRegression, groups=GROUPS)
    with pytest.raises(ValueError, match="x must be finite"):
        model.predict_one(np.array([1.0, np.nan, 0.0, 0.0, 0.0]))


def test_constructor_validation():
    shared = linear_model.LinearRegression()
    with pytest.raises(TypeError, match="factory must be a callable"):
        RiverRegressor(factory=shared, groups=GROUPS)
    with pytest.raises(ValueError, match="new river model on every call"):
        RiverRegressor(factory=lambda: shared, groups=GROUPS, n_replicates=2)
    with pytest.raises(TypeError, match="learn_one and predict_one"):
        RiverRegressor(factory=dict, groups=GROUPS)
    with pytest.raises(ValueError, match="names must hold 5 strings"):
        RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS, names=NAMES[:4])
    with pytest.raises(ValueError, match="names must be unique, got 'a'"):
        RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS, names=tuple("abcda"))
    for names in (5, "abcde"):
        with pytest.raises(TypeError, match="names must be a sequence"):
            RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS, names=names)
    with pytest.raises(ValueError, match="n_replicates must be >= 1"):
        RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS, n_replicates=0)
    with pytest.raises(TypeError, match="seed must be"):
        RiverRegressor(factory=linear_model.LinearRegression, groups=GROUPS, seed="1")
    with pytest.raises(TypeError, match="groups must be"):
        RiverRegressor(factory=linear_model.LinearRegression, groups="main")


def test_conforms_and_stores_arguments_verbatim():
    fm = InteractionFeatures(x_dim=2)
    model = RiverRegressor(factory=_pipeline, groups=fm, n_replicates=2, seed=1)
    assert isinstance(model, Learner)
    assert (model.factory, model.groups, model.names, model.n_replicates, model.seed) == (
        _pipeline,
        fm,
        None,
        2,
        1,
    )
    assert model.n_features == 4
    assert "n_replicates=2" in repr(model)
    listed = model.models
    listed.clear()
    assert len(model.models) == 2
