"""run_prequential's memory and own cost (issue 19): what it frees, how it sizes its segments,
the layout of its designs and the draws of its stream; results never change."""

from __future__ import annotations

import gc
import weakref
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from regretlab.environments import InteractionStream
from regretlab.environments.noise import Gaussian, StudentT
from regretlab.features import InteractionFeatures
from regretlab.learners import BayesianLinearRegression, SGDLinearRegression
from regretlab.simulate import Agent, run_prequential
from regretlab.simulate import prequential as prequential_module
from regretlab.simulate._budget import DEFAULT_BLOCK_MEMORY, stream_steps
from regretlab.simulate._losses import add_losses_numpy as _add_losses
from regretlab.simulate._segments import design, design_buffers


class _Tracked(BayesianLinearRegression):
    """Keeps a weak reference to every clone (the learners a run steps)."""

    clones: ClassVar[list[weakref.ref]] = []

    def clone(self):
        fresh = super().clone()
        _Tracked.clones.append(weakref.ref(fresh))
        return fresh


def test_the_learners_and_blocks_are_freed_before_the_tables_are_built(monkeypatch):
    env = InteractionStream(x_dim=2, horizon=50, n_replicates=3, seed=0)
    _Tracked.clones.clear()
    agent = Agent("b", _Tracked(groups=env.features, n_replicates=3))
    alive_at_tables = []
    build = prequential_module._regret_table

    def regret_table(*args):
        gc.collect()
        alive_at_tables.append([ref() is not None for ref in _Tracked.clones])
        return build(*args)

    monkeypatch.setattr(prequential_module, "_regret_table", regret_table)
    run_prequential(env, [agent], checkpoints=[10, 50])
    # The run stepped one clone; by the time the tables are built it is gone (its state
    # would otherwise sit beside pandas and the tables at the run's peak).
    assert alive_at_tables == [[False]]


def test_a_refresh_frees_the_old_covariance_before_solving_the_new_one():
    rng = np.random.default_rng(0)
    model = BayesianLinearRegression(groups=("a",) * 4, n_replicates=20, refresh_every=8)
    x, y = rng.standard_normal((20, 30, 4)), rng.standard_normal((20, 30))
    model.predict_learn_many(x[:, :5], y[:, :5])
    seen = []
    solve = model._solve

    def checked_solve():
        gc.collect()
        seen.append(old() is None)
        return solve()

    model._solve = checked_solve
    old = weakref.ref(model._post.covariance)
    model.predict_learn_many(x[:, 5:], y[:, 5:])  # refreshes after row 8, 16 and 24
    assert len(seen) == 3
    assert all(seen)
    reference = BayesianLinearRegression(groups=("a",) * 4, n_replicates=20, refresh_every=8)
    reference.learn_many(x, y)
    np.testing.assert_allclose(model.mean, reference.mean, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("r", "x_dim", "budget"),
    [
        (1000, 10, DEFAULT_BLOCK_MEMORY),
        (10_000, 6, DEFAULT_BLOCK_MEMORY),
        (50, 4, 2**20),
        (3, 2, 1),
        (1000, 6, 500_000),
        (None, 3, 10_000),
    ],
)
def test_two_blocks_and_a_segment_fit_the_budget(r, x_dim, budget):
    env = InteractionStream(x_dim=x_dim, horizon=10**5, n_replicates=r, seed=0)
    block, segment = stream_steps(budget, env, [env.features])
    assert 1 <= segment <= block
    assert block % segment == 0
    reps, d, p = r or 1, x_dim, env.features.n_features
    held = 2 * 8 * reps * (3 * d + 3) * block + 8 * reps * (d + p + 4) * segment
    assert held <= budget or block == 1
    # Segments are as long as the budget allows (64 steps or 32 MiB of designs, at most half
    # the budget, and no longer than blocks that fit beside them): short ones cost time.
    per_segment, per_block = 8 * reps * (d + p + 4), 16 * reps * (3 * d + 3)
    allowed = min(64, budget // 2 // per_segment, budget // (per_segment + per_block))
    assert segment >= max(1, allowed)


class _NoOut:
    """InteractionFeatures whose transform takes no ``out`` (a duck-typed map)."""

    def __init__(self, x_dim):
        self._fm = InteractionFeatures(x_dim)
        self.n_inputs, self.n_features = x_dim, self._fm.n_features
        self.groups, self.names = self._fm.groups, self._fm.names

    def transform(self, x):
        return self._fm.transform(x)


def test_designs_in_either_layout_give_the_step_by_step_results():
    # Blocked agents read replicate-first designs (one reused buffer for a map that takes
    # ``out``, fresh arrays for one that does not); a learner without predict_learn_many
    # steps through time-first designs of the same map. Every agent's results are those of
    # the step-by-step loop, whatever the budget (segments of 1 step up to the horizon).
    env = InteractionStream(x_dim=3, horizon=157, n_replicates=5, seed=2)
    fm, n = env.features, 5
    agents = [
        Agent("buffer", BayesianLinearRegression(groups=fm, n_replicates=n)),
        Agent("fresh", BayesianLinearRegression(groups=fm, n_replicates=n), features=_NoOut(3)),
        Agent("tight", BayesianLinearRegression(groups=fm, n_replicates=n, prior_variance=0.1)),
        Agent("sgd", SGDLinearRegression(groups=fm, n_replicates=n)),
    ]
    checkpoints = [1, 7, 50, 157]
    steps = run_prequential(env, agents, checkpoints=checkpoints, time_blocking=False).regret
    for budget in (1, 20_000, 60_000, DEFAULT_BLOCK_MEMORY):
        blocked = run_prequential(env, agents, checkpoints=checkpoints, block_memory=budget)
        pd.testing.assert_frame_equal(blocked.regret, steps, check_exact=False, rtol=1e-9)
    sgd = steps["agent"] == "sgd"
    assert (blocked.regret[sgd] == steps[sgd]).all().all()  # stepping: bit for bit


def test_replicate_first_designs_reuse_one_buffer_per_map():
    fm, other = InteractionFeatures(3), _NoOut(3)
    maps, blocked = [fm, fm, other, fm], [True, True, True, False]
    reuse = design_buffers(maps, blocked, (4,), 10)
    assert list(reuse) == [id(fm)]  # one buffer, for the map whose transform takes out
    inputs = np.random.default_rng(0).uniform(-1, 1, (4, 25, 3))
    time_first = np.ascontiguousarray(np.moveaxis(inputs, 1, 0))
    for rows in (slice(0, 10), slice(10, 17)):
        made = {}
        designs = [
            design(made, reuse, m, inputs, time_first, rows, b)
            for m, b in zip(maps, blocked, strict=True)
        ]
        assert designs[0] is designs[1]  # made once per map and layout
        assert np.shares_memory(designs[0], reuse[id(fm)])
        assert not np.shares_memory(designs[2], reuse[id(fm)])
        np.testing.assert_array_equal(designs[0], fm.transform(inputs[:, rows]))
        np.testing.assert_array_equal(designs[2], designs[0])
        np.testing.assert_array_equal(designs[3], fm.transform(time_first[rows]))


@pytest.mark.parametrize(("m", "r"), [(40, 7), (6, 9)])  # time accumulated, columns added
def test_the_tallies_add_step_by_step(m, r):
    rng = np.random.default_rng(3)
    start = 3
    yhat = rng.standard_normal((r, m)) * 10.0 ** rng.integers(-6, 6, (r, m))
    y, mean = (
        rng.standard_normal((r, m + 5)) * 10.0 ** rng.integers(-6, 6, (r, m + 5)) for _ in range(2)
    )
    rows = slice(start, start + m)
    expected, excess = rng.standard_normal((2, r)) * 1e3, rng.standard_normal((2, r))
    loop_expected, loop_excess = expected.copy(), excess.copy()
    for i in range(m):
        obs, mu = y[:, start + i], mean[:, start + i]
        loop_expected[1] += (yhat[:, i] - mu) ** 2
        loop_excess[1] += (yhat[:, i] - obs) ** 2 - (mu - obs) ** 2
    before = yhat.copy()
    _add_losses(1, yhat, y, mean, rows, expected, excess)
    assert np.array_equal(yhat, before)  # the learner's predictions are not written to
    assert np.array_equal(expected, loop_expected)  # the same rounding, bit for bit
    assert np.array_equal(excess, loop_excess)
    # One stream: the tallies are scalars per agent.
    tally, other = np.zeros(2), np.zeros(2)
    _add_losses(0, yhat[0], y[0], mean[0], rows, tally, other)
    assert tally[0] == ((yhat[0] - mean[0, rows]) ** 2).cumsum()[-1]
    assert tally[1] == other[1] == 0.0


class _Halved(Gaussian):
    """A Gaussian subclass that scales its noise otherwise: must not take Gaussian's path."""

    def multiplier(self, inputs):
        return self.scale / 2


@pytest.mark.parametrize("noise", [Gaussian(2.0), StudentT(3.0), _Halved(2.0)])
def test_noise_of_all_replicates_draws_what_sample_draws(noise):
    inputs = np.random.default_rng(9).uniform(-1, 1, (4, 11, 3))
    rngs = [np.random.default_rng(s) for s in range(4)]
    out = noise.sample_replicates(rngs, inputs, np.empty((4, 11)))
    for s in range(4):
        one = noise.sample(np.random.default_rng(s), (11,), inputs[s])
        assert np.array_equal(out[s], one)
    # The generators moved on by exactly the draws of sample().
    again = [np.random.default_rng(s) for s in range(4)]
    for g, rows in zip(again, inputs, strict=True):
        noise.sample(g, (11,), rows)
    assert [g.random() for g in rngs] == [g.random() for g in again]


def test_the_stream_draws_the_notebooks_rows_whatever_the_block():
    # blocks() writes every replicate's rows in place (random(out=) scaled to [-1, 1)): the
    # same numbers as uniform(-1, 1) per replicate, which take() still draws. (The truth's
    # products may round differently for other block lengths: y and mean to 1e-12.)
    env = InteractionStream(x_dim=4, horizon=60, n_replicates=3, seed=5, noise=StudentT(4.0))
    whole = env.take(60)
    for size in (1, 7, 60):
        parts = list(env.blocks(size))
        joined = [np.concatenate([p[k] for p in parts], axis=1) for k in range(3)]
        assert np.array_equal(joined[0], whole.x)
        np.testing.assert_allclose(joined[1], whole.y, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(joined[2], whole.mean, rtol=1e-12, atol=1e-12)
    first = np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0]).uniform(-1, 1, 4)
    assert np.array_equal(whole.x[0, 0], first)
    assert np.array_equal(next(env.blocks(1)).x[0, 0], first)


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("pairwise", [True, False])
@pytest.mark.parametrize("shape", [(300,), (3, 1000), (2049,), (5, 7)])
def test_designs_by_columns_are_the_designs_by_rows(monkeypatch, intercept, pairwise, shape):
    from regretlab.features import interactions

    fm = InteractionFeatures(4, intercept=intercept, pairwise=pairwise)
    x = np.random.default_rng(1).uniform(-1, 1, (*shape, 6))[..., 1:5]  # strided inputs
    by_columns = fm.transform(x)
    monkeypatch.setattr(interactions, "_BY_COLUMNS", 10**12)
    by_rows = fm.transform(x)
    assert np.array_equal(by_columns, by_rows)
    # Checked against the definition too (intercept, inputs, then x_i x_j for i < j).
    left, right = np.triu_indices(4, k=1)
    parts = [np.ones((*shape, 1))] * intercept + [x] + [x[..., left] * x[..., right]] * pairwise
    assert np.array_equal(by_rows, np.concatenate(parts, axis=-1))
