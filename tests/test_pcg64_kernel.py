"""Per-replicate PCG64 draws compiled (learners/_pcg64_kernel.py, issue 19).

With numba, :class:`LinearBandit` steps every replicate's context and noise generators in one
compiled loop. The numbers must be numpy's to the last bit (the same seed gives the same run
with numba and without), so the kernel is compared draw for draw with
``numpy.random.Generator``. Without numba (CI, ``REGRETLAB_NUMBA=0``) the comparisons are
skipped; the numpy path keeps its own tests (tests/test_bandits_env.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import InteractionStream, LinearBandit
from regretlab.environments import bandits as bandits_module
from regretlab.environments import interactions as interactions_module
from regretlab.environments.noise import StudentT
from regretlab.learners import _pcg64_kernel

DRAWS = _pcg64_kernel.compiled_draws()
pytestmark = pytest.mark.skipif(DRAWS is None, reason="numba is not installed (or switched off)")


def generators(seed: int, n: int) -> list[np.random.PCG64]:
    return [np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(i,))) for i in range(n)]


def test_the_state_rows_round_trip():
    bits = generators(1, 5)
    states = [b.state for b in bits]
    rows = _pcg64_kernel.pack_states(states)
    assert rows.dtype == np.uint64
    assert rows.shape == (5, 4)
    assert _pcg64_kernel.unpack_states(rows, states) == states


def test_the_draws_are_numpys_to_the_last_bit():
    # 40 replicates x 12,500 steps x 8 normals: 4 million normals, about 16,000 from the
    # ziggurat's tail (|z| > 3.654) and 4% through its wedges; 2 million uniforms.
    r, m, c, k = 40, 12_500, 4, 8
    uniform_bits, normal_bits = generators(2, r), generators(3, r)
    uniform_rows = _pcg64_kernel.pack_states([b.state for b in uniform_bits])
    normal_rows = _pcg64_kernel.pack_states([b.state for b in normal_bits])
    uniforms, normals = np.empty((m, r, c)), np.empty((m, r, k))
    DRAWS(uniform_rows, normal_rows, uniforms, normals)
    tails = 0
    for i in range(r):
        expected_u = np.random.Generator(uniform_bits[i]).uniform(-1, 1, (m, c))
        expected_z = np.random.Generator(normal_bits[i]).standard_normal((m, k))
        np.testing.assert_array_equal(uniforms[:, i], expected_u)
        np.testing.assert_array_equal(normals[:, i], expected_z)
        tails += int((np.abs(expected_z) > 3.6541528853610088).sum())
    assert tails > 1000  # the tail branch ran (and agreed)
    # The states advanced exactly as numpy's generators did.
    assert _pcg64_kernel.unpack_states(uniform_rows, [b.state for b in uniform_bits]) == [
        b.state for b in uniform_bits
    ]
    assert _pcg64_kernel.unpack_states(normal_rows, [b.state for b in normal_bits]) == [
        b.state for b in normal_bits
    ]


def test_a_block_continues_where_the_last_one_stopped():
    bits = generators(4, 3)
    rows = _pcg64_kernel.pack_states([b.state for b in bits])
    first, second = np.empty((5, 3, 2)), np.empty((7, 3, 2))
    DRAWS(rows, rows.copy(), first, np.empty((5, 3, 0)))
    DRAWS(rows, rows.copy(), second, np.empty((7, 3, 0)))
    for i, b in enumerate(bits):
        expected = np.random.Generator(b).uniform(-1, 1, (12, 2))
        np.testing.assert_array_equal(np.concatenate([first[:, i], second[:, i]]), expected)


def blocks(env: LinearBandit, size: int) -> list[tuple[np.ndarray, ...]]:
    return [tuple(np.array(a) for a in block) for block in env.blocks(size)]


@pytest.mark.parametrize("n_replicates", [None, 1, 7])
@pytest.mark.parametrize("pairwise", [False, True])
def test_linear_bandit_draws_the_same_blocks_with_and_without_numba(
    monkeypatch, n_replicates, pairwise
):
    def make() -> LinearBandit:
        return LinearBandit(
            n_actions=4, context_dim=3, noise_level=0.7, context_pairwise=pairwise, horizon=45,
            n_replicates=n_replicates, seed=11,
        )  # fmt: skip

    compiled = blocks(make(), 16)
    with monkeypatch.context() as patch:
        patch.setattr(bandits_module, "compiled_bandit_draws", lambda: None)
        reference = blocks(make(), 16)
    assert len(compiled) == len(reference) == 3
    for got, want in zip(compiled, reference, strict=True):
        for a, b in zip(got, want, strict=True):
            assert a.shape == b.shape
            np.testing.assert_array_equal(a, b)
    # And a block of the fast path is what take() (numpy, generators) gives for its steps.
    env = make()
    taken = env.take(32, 16)
    for a, b in zip(compiled[1], taken, strict=True):
        np.testing.assert_array_equal(a, b)


def test_other_noise_models_keep_the_numpy_draws(monkeypatch):
    env = LinearBandit(noise=StudentT(df=3.0), horizon=6, n_replicates=2, seed=0)
    called = []
    monkeypatch.setattr(bandits_module, "compiled_bandit_draws", lambda: called.append(1))
    block = next(env.blocks())
    assert not called
    assert block.rewards.shape == (2, 6, 5)


def stream_blocks(env: InteractionStream, size: int) -> list[tuple[np.ndarray, ...]]:
    return [tuple(np.array(a) for a in block) for block in env.blocks(size)]


@pytest.mark.parametrize("n_replicates", [None, 1, 7])
@pytest.mark.parametrize("x_dim", [1, 3])
def test_interaction_stream_draws_the_same_blocks_with_and_without_numba(
    monkeypatch, n_replicates, x_dim
):
    def make() -> InteractionStream:
        return InteractionStream(
            x_dim=x_dim, noise_level=0.7, interaction_scale=2.0, horizon=45,
            n_replicates=n_replicates, seed=11,
        )  # fmt: skip

    called = []
    draws = interactions_module.compiled_stream_draws
    monkeypatch.setattr(
        interactions_module, "compiled_stream_draws", lambda: called.append(1) or draws()
    )
    compiled = stream_blocks(make(), 16)
    assert called
    with monkeypatch.context() as patch:
        patch.setattr(interactions_module, "compiled_stream_draws", lambda: None)
        reference = stream_blocks(make(), 16)
    assert len(compiled) == len(reference) == 3
    for got, want in zip(compiled, reference, strict=True):
        for a, b in zip(got, want, strict=True):
            assert a.shape == b.shape
            np.testing.assert_array_equal(a, b)
    # A block of the fast path is what take() (numpy, generators) gives for its steps.
    for a, b in zip(compiled[1], make().take(32, 16), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_stream_kernel_continues_each_replicate_where_it_stopped():
    uniform, normal = generators(5, 3), generators(6, 3)
    rows = _pcg64_kernel.pack_states([b.state for b in uniform])
    normal_rows = _pcg64_kernel.pack_states([b.state for b in normal])
    draws = _pcg64_kernel.compiled_stream_draws()
    assert draws is not None
    parts = [(np.empty((3, m, 2)), np.empty((3, m))) for m in (5, 7)]
    for x, z in parts:
        draws(rows, normal_rows, x, z)
    for i in range(3):
        x = np.concatenate([part[0][i] for part in parts])
        z = np.concatenate([part[1][i] for part in parts])
        np.testing.assert_array_equal(x, np.random.Generator(uniform[i]).uniform(-1, 1, (12, 2)))
        np.testing.assert_array_equal(z, np.random.Generator(normal[i]).standard_normal(12))


def test_other_noise_models_keep_the_streams_numpy_draws(monkeypatch):
    env = InteractionStream(x_dim=2, noise=StudentT(df=3.0), horizon=6, n_replicates=2, seed=0)
    called = []
    monkeypatch.setattr(interactions_module, "compiled_stream_draws", lambda: called.append(1))
    block = next(env.blocks())
    assert not called
    assert block.y.shape == (2, 6)
