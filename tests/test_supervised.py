"""SupervisedBandit: permutations per replicate, one-hot rewards, encodings, loaders, validation."""

from __future__ import annotations

import inspect
import pickle
import socket
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from regretlab.environments import BanditStep, SupervisedBandit
from regretlab.environments.supervised import RIVER_DATASETS, SKLEARN_DATASETS
from regretlab.features import ActionFeatures


def _data(n: int = 10, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose first column is their index, so a context names its row."""
    x = np.column_stack([np.arange(n, dtype=float), np.linspace(-1, 1, n)])
    return x, np.arange(n) % k


def _rows(block: BanditStep) -> np.ndarray:
    return block.context[..., 0].astype(int)


def _assert_same(a: BanditStep, b: BanditStep) -> None:
    for name, u, v in zip(BanditStep._fields, a, b, strict=True):
        np.testing.assert_array_equal(u, v, err_msg=name)


# -- the construction --------------------------------------------------------------------------


@pytest.mark.parametrize("n_replicates", [None, 4])
def test_every_row_once_per_replicate_per_pass(n_replicates):
    x, y = _data(10)
    env = SupervisedBandit(x, y, horizon=25, n_replicates=n_replicates, seed=0, standardize=False)
    rows = np.atleast_2d(_rows(env.take(25)))
    for r in range(len(rows)):
        passes = [rows[r, :10], rows[r, 10:20]]
        for p in passes:
            np.testing.assert_array_equal(np.sort(p), np.arange(10))
        # Each pass is a fresh permutation; the last, partial pass repeats no row.
        assert not np.array_equal(passes[0], passes[1])
        assert len(np.unique(rows[r, 20:])) == 5
    if n_replicates:
        assert len({tuple(r[:10]) for r in rows}) == n_replicates


def test_horizon_defaults_to_one_pass():
    x, y = _data(12)
    env = SupervisedBandit(x, y, seed=1)
    assert env.horizon == env.n_rows == 12
    assert env.take(12).rewards.shape == (12, 3)


@pytest.mark.parametrize("n_replicates", [None, 3])
def test_rewards_are_one_hot_of_the_true_class_and_equal_the_means(n_replicates):
    x, y = _data(9)
    env = SupervisedBandit(x, y, n_replicates=n_replicates, seed=2, standardize=False)
    block = env.take(9)
    expected = np.eye(3)[y[_rows(block)]]
    np.testing.assert_array_equal(block.rewards, expected)
    np.testing.assert_array_equal(block.means, block.rewards)
    assert not np.shares_memory(block.means, block.rewards)


def test_minus_one_zero_encoding_shifts_the_rewards():
    x, y = _data(8)
    a = SupervisedBandit(x, y, seed=3).take(8)
    b = SupervisedBandit(x, y, encoding="-1/0", seed=3).take(8)
    np.testing.assert_array_equal(b.rewards, a.rewards - 1)
    np.testing.assert_array_equal(b.means, a.means - 1)
    np.testing.assert_array_equal(b.context, a.context)


def test_classes_are_sorted_and_define_the_actions():
    x = np.zeros((5, 1))
    env = SupervisedBandit(x, ["sky", "cement", "sky", "path", "cement"], seed=0)
    np.testing.assert_array_equal(env.classes, ["cement", "path", "sky"])
    assert env.n_actions == 3
    block = env.take(5)
    labels = np.array(["sky", "cement", "sky", "path", "cement"])
    # Rows are shuffled, so match through the class counts.
    counts = block.rewards.sum(axis=0)
    np.testing.assert_array_equal(counts, [(labels == c).sum() for c in env.classes])
    assert SupervisedBandit(x[:2], [True, False], seed=0).classes.tolist() == [False, True]


def test_standardize_uses_the_data_sets_mean_and_sd(rng):
    x = np.column_stack([rng.normal(3, 2, size=50), rng.uniform(size=50), np.full(50, 7.0)])
    env = SupervisedBandit(x, np.arange(50) % 2, seed=4)
    context = env.take(50).context
    np.testing.assert_allclose(context[:, :2].mean(axis=0), 0, atol=1e-14)
    np.testing.assert_allclose(context[:, :2].std(axis=0), 1, rtol=1e-14)
    # A constant column is centred and left unscaled rather than divided by zero.
    np.testing.assert_array_equal(context[:, 2], 0.0)
    raw = SupervisedBandit(x, np.arange(50) % 2, seed=4, standardize=False).take(50).context
    np.testing.assert_allclose(context[:, :2], (raw[:, :2] - x[:, :2].mean(0)) / x[:, :2].std(0))


def test_features_are_an_action_design():
    x, y = _data(6)
    env = SupervisedBandit(x, y, seed=0)
    assert isinstance(env.features, ActionFeatures)
    assert (env.features.context_dim, env.features.n_actions) == (2, 3)
    assert env.features.transform(env.take(6).context).shape == (6, 3, env.features.n_features)
    assert not hasattr(env, "true_weights")


# -- take, blocks, iteration, seeds ------------------------------------------------------------


@pytest.mark.parametrize("n_replicates", [None, 2])
@pytest.mark.parametrize("block_size", [1, 3, 7, 10, 64])
def test_blocks_concatenate_to_a_full_take(n_replicates, block_size):
    x, y = _data(7)
    env = SupervisedBandit(x, y, horizon=30, n_replicates=n_replicates, seed=5)
    full = env.take(30)
    blocks = list(env.blocks(block_size))
    axis = 0 if n_replicates is None else 1
    assert len(blocks) == -(-30 // block_size)
    for i, name in enumerate(BanditStep._fields):
        joined = np.concatenate([b[i] for b in blocks], axis=axis)
        np.testing.assert_array_equal(joined, full[i], err_msg=name)


@pytest.mark.parametrize(("start", "stop"), [(0, 0), (0, 1), (3, 17), (7, 14), (20, 30)])
def test_take_slices_a_full_take(start, stop):
    x, y = _data(7)
    env = SupervisedBandit(x, y, horizon=30, n_replicates=2, seed=6)
    full, part = env.take(30), env.take(stop, start)
    for name, whole, piece in zip(BanditStep._fields, full, part, strict=True):
        np.testing.assert_array_equal(piece, whole[:, start:stop], err_msg=name)


def test_iteration_equals_the_blocks():
    x, y = _data(5)
    env = SupervisedBandit(x, y, horizon=12, n_replicates=2, seed=7, block_size=4)
    steps = list(env)
    full = env.take(12)
    assert len(steps) == 12
    for t, step in enumerate(steps):
        assert step.context.shape == (2, 2)
        assert step.rewards.shape == (2, 3)
        for i in range(3):
            np.testing.assert_array_equal(step[i], full[i][:, t])


def test_same_seed_same_blocks_and_replicates_follow_their_seeds():
    x, y = _data(8)
    env = SupervisedBandit(x, y, horizon=20, n_replicates=3, seed=8)
    _assert_same(env.take(20), env.take(20))
    _assert_same(env.take(20), SupervisedBandit(x, y, horizon=20, n_replicates=3, seed=8).take(20))
    block = env.take(20)
    for r, child in enumerate(np.random.SeedSequence(8).spawn(3)):
        one = SupervisedBandit(x, y, horizon=20, seed=child)
        _assert_same(BanditStep(*(a[r] for a in block)), one.take(20))
    other = SupervisedBandit(x, y, horizon=20, n_replicates=3, seed=9).take(20)
    assert not np.array_equal(other.context, block.context)


def test_pickle_round_trip():
    x, y = _data(6)
    env = SupervisedBandit(x, y, horizon=10, n_replicates=2, seed=1)
    _assert_same(pickle.loads(pickle.dumps(env)).take(10), env.take(10))


# -- loaders -----------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_from_river_image_segments_is_offline(no_network):
    env = SupervisedBandit.from_river("ImageSegments", n_replicates=2, seed=0)
    assert (env.n_actions, env.context_dim, env.n_rows, env.horizon) == (7, 18, 2310, 2310)
    assert env.classes.tolist() == [
        "brickface", "cement", "foliage", "grass", "path", "sky", "window"
    ]  # fmt: skip
    block = env.take(2310)
    np.testing.assert_array_equal(block.rewards.sum(axis=-1), 1.0)
    assert "ImageSegments" in repr(env)


@pytest.mark.parametrize("name", RIVER_DATASETS)
def test_every_listed_river_set_ships_with_river(no_network, name):
    from river import datasets
    from river.datasets import base

    cls = getattr(datasets, name)
    assert not issubclass(cls, base.RemoteDataset)
    dataset = cls()
    assert Path(dataset.path).is_file()
    assert Path(inspect.getfile(datasets)).parent in Path(dataset.path).parents
    assert dataset.task in (base.BINARY_CLF, base.MULTI_CLF)
    env = SupervisedBandit.from_river(name, horizon=50, seed=0)
    assert env.n_rows == dataset.n_samples
    assert env.context_dim == dataset.n_features
    assert env.n_actions == (dataset.n_classes or 2)


def test_from_river_passes_keywords_and_ignores_case():
    env = SupervisedBandit.from_river("phishing", encoding="-1/0", horizon=100, seed=0)
    assert (env.n_actions, env.encoding, env.horizon, env.name) == (2, "-1/0", 100, "Phishing")


@pytest.mark.parametrize(
    ("name", "n_actions", "context_dim"),
    [("iris", 3, 4), ("wine", 3, 13), ("digits", 10, 64), ("breast_cancer", 2, 30)],
)
def test_from_sklearn(no_network, name, n_actions, context_dim):
    env = SupervisedBandit.from_sklearn(name, seed=0)
    assert (env.n_actions, env.context_dim) == (n_actions, context_dim)
    assert name in SKLEARN_DATASETS


def test_from_sklearn_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="needs scikit-learn: pip install scikit-learn"):
        SupervisedBandit.from_sklearn("iris")


@pytest.mark.parametrize(
    ("loader", "pattern"),
    [
        (SupervisedBandit.from_river, r"from_river: name must be one of \['Bananas', "),
        (SupervisedBandit.from_sklearn, r"from_sklearn: name must be one of \['breast_cancer'"),
    ],
)
def test_unknown_dataset_names(loader, pattern):
    with pytest.raises(ValueError, match=pattern):
        loader("Elec2")


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "labels", "kwargs", "error", "pattern"),
    [
        (np.zeros(4), [0, 1, 0, 1], {}, ValueError, "x must have 2 dimensions"),
        (np.zeros((0, 2)), [], {}, ValueError, "x must have at least one row"),
        ([[0.0], [np.nan]], [0, 1], {}, ValueError, r"x must be finite, got nan at index \(1, 0\)"),
        ("ab", [0, 1], {}, TypeError, "x must be array-like"),
        (np.zeros((3, 2)), [0, 1], {}, ValueError, r"labels must have shape \(3,\) to match x"),
        (np.zeros((2, 2)), [0.0, np.nan], {}, ValueError, "labels must not contain NaN.*index 1"),
        (np.zeros((2, 2)), ["a", None], {}, ValueError, "labels must not contain None"),
        (np.zeros((3, 2)), [1, 1, 1], {}, ValueError, "labels must hold at least 2 classes, got 1"),
        (
            np.zeros((2, 2)),
            [0, 1],
            {"encoding": "01"},
            ValueError,
            r"encoding must be one of \['0/1', '-1/0'\], got '01'",
        ),
        (np.zeros((2, 2)), [0, 1], {"horizon": 0}, ValueError, "horizon must be >= 1"),
        (np.zeros((2, 2)), [0, 1], {"n_replicates": 0}, ValueError, "n_replicates must be >= 1"),
        (np.zeros((2, 2)), [0, 1], {"standardize": 1}, TypeError, "standardize must be a bool"),
        (np.zeros((2, 2)), [0, 1], {"block_size": 0}, ValueError, "block_size must be >= 1"),
        (np.zeros((2, 2)), [0, 1], {"seed": -2}, ValueError, "seed must be a non-negative"),
    ],
)
def test_bad_inputs(x, labels, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        SupervisedBandit(x, labels, **kwargs)


def test_bad_take():
    x, y = _data(4)
    with pytest.raises(ValueError, match=r"horizon=4, got start=0, stop=5"):
        SupervisedBandit(x, y, seed=0).take(5)


def test_constructor_stores_arguments():
    x, y = _data(4)
    seq = np.random.SeedSequence(1)
    env = SupervisedBandit(x, y, encoding="-1/0", n_replicates=2, seed=seq, standardize=False)
    assert env.x is x
    assert env.labels is y
    assert (env.encoding, env.n_replicates, env.seed, env.standardize) == ("-1/0", 2, seq, False)
    assert env.horizon == 4
    assert repr(env) == (
        "SupervisedBandit(name=None, n_rows=4, context_dim=2, n_actions=3, encoding='-1/0', "
        "horizon=4, n_replicates=2, standardize=False)"
    )
