"""Per-replicate ``PCG64`` draws compiled (numba, optional): every replicate's stream in one call.

A bandit draws each replicate's contexts and noise from that replicate's own ``PCG64``
generator. In numpy that is two generator calls per replicate per block, plus a generator made
from a saved state per replicate per :meth:`blocks` call: at ``R = 1000`` and five contexts and
five rewards a step, those calls cost several times the draws themselves. Here the generators'
states are plain ``uint64`` arrays, ``(R, 4)`` rows ``[state >> 64, state mod 2**64, inc >> 64,
inc mod 2**64]``, and one compiled loop steps every replicate's generator, step after step, in
the order each stream would be drawn by numpy (a replicate's stream does not depend on how the
loop interleaves the replicates). :class:`~regretlab.environments.InteractionStream` draws
its inputs and Gaussian noise the same way, replicate first (:func:`_stream_source`), so
that a short block costs no more per step than a long one. The numbers are numpy's to the
last bit:

- ``PCG64`` (numpy's ``pcg64.h``): ``state = state * M + inc`` modulo ``2**128``, output the
  XSL-RR permutation ``rotr64(hi ^ lo, hi >> 58)`` of the new state;
- ``Generator.random``: ``(next64 >> 11) * 2**-53``;
- ``Generator.standard_normal``: numpy's 256-layer ziggurat (``random_standard_normal`` in
  ``distributions.c``) with its tables, which numba ships as copies of numpy's
  (``numba.np.random._constants``);

checked draw for draw against ``numpy.random.Generator`` in ``tests/test_pcg64_kernel.py``
(millions of draws, the ziggurat's tail and wedge branches included). Without numba (or with
``REGRETLAB_NUMBA=0``) :func:`compiled_draws` is ``None`` and the environments draw with numpy.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from regretlab.learners._numba import compile_kernel

__all__ = [
    "compile_with_tables",
    "compiled_bandit_draws",
    "compiled_bernoulli",
    "compiled_draws",
    "compiled_stream_draws",
    "pack_states",
    "standard_normal",
    "unpack_states",
]

# Fewer normals than this are drawn by numpy itself (reading and writing the state costs
# a few microseconds).
_MIN_NORMALS = 256

_MASK64 = (1 << 64) - 1
# numpy's PCG64 multiplier (PCG_DEFAULT_MULTIPLIER_128), high and low 64 bits.
_MULT_HI = 2549297995355413924
_MULT_LO = 4865540595714422341


def pack_states(states: list[Any]) -> np.ndarray:
    """``PCG64.state`` dicts as ``(R, 4)`` ``uint64`` rows: state high, low, inc high, low.

    >>> bits = np.random.PCG64(3)
    >>> unpack_states(pack_states([bits.state]), [bits.state])[0] == bits.state
    True
    """
    # One conversion of a flat list: assigning Python ints row by row costs 4x more (10 us a
    # state), which a policy's draw pays at every step.
    flat: list[int] = []
    for state in states:
        inner = state["state"]
        s, inc = inner["state"], inner["inc"]
        flat += (s >> 64, s & _MASK64, inc >> 64, inc & _MASK64)
    return np.array(flat, dtype=np.uint64).reshape(len(states), 4)


def unpack_states(rows: np.ndarray, templates: list[Any]) -> list[Any]:
    """The ``PCG64.state`` dicts of ``rows`` (see :func:`pack_states`), fields as ``templates``."""
    out = []
    for row, template in zip(rows.tolist(), templates, strict=True):
        inner = {"state": (row[0] << 64) | row[1], "inc": (row[2] << 64) | row[3]}
        out.append({**template, "state": inner})
    return out


def _step(s_hi, s_lo, i_hi, i_lo):  # type: ignore[no-untyped-def]  # pragma: no cover
    """One step of a generator in state ``(s_hi, s_lo)`` with increment ``(i_hi, i_lo)``: the
    new state and its output."""
    m_hi, m_lo = np.uint64(_MULT_HI), np.uint64(_MULT_LO)
    high = _mulhi(s_lo, m_lo) + s_hi * m_lo + s_lo * m_hi + i_hi
    low = s_lo * m_lo
    new_lo = low + i_lo
    if new_lo < low:
        high += np.uint64(1)
    value = high ^ new_lo
    rot = high >> np.uint64(58)
    return high, new_lo, (value >> rot) | (value << ((np.uint64(64) - rot) & np.uint64(63)))


def _mulhi(a, b):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The high 64 bits of the 128-bit product ``a b`` (replaced by one machine multiply,
    :func:`_mulhi_intrinsic`, before anything is compiled)."""
    return np.uint64((int(a) * int(b)) >> 64)


def _mulhi_intrinsic() -> Any:
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic

    @intrinsic  # type: ignore[misc]
    def mulhi(typingctx: Any, a: Any, b: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            wide = ir.IntType(128)
            product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
            return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

        return types.uint64(types.uint64, types.uint64), codegen

    return mulhi


def _to_double(bits):  # type: ignore[no-untyped-def]  # pragma: no cover
    # Below 2**53: converted through int64, exactly and in one instruction.
    return np.float64(np.int64(bits >> np.uint64(11))) * (1.0 / 9007199254740992.0)


def _normal(s_hi, s_lo, i_hi, i_lo, ki, wi, fi, nor_r, nor_inv_r):  # type: ignore[no-untyped-def]  # pragma: no cover
    """numpy's ``random_standard_normal`` (256-layer ziggurat): the new state and the draw."""
    while True:
        s_hi, s_lo, bits = _step(s_hi, s_lo, i_hi, i_lo)
        idx = np.intp(bits & np.uint64(0xFF))
        bits >>= np.uint64(8)
        sign = bits & np.uint64(1)
        rabs = (bits >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
        x = np.float64(np.int64(rabs)) * wi[idx]
        if sign:
            x = -x
        if rabs < ki[idx]:
            return s_hi, s_lo, x
        if idx == 0:
            while True:
                s_hi, s_lo, bits = _step(s_hi, s_lo, i_hi, i_lo)
                xx = -nor_inv_r * np.log1p(-_to_double(bits))
                s_hi, s_lo, bits = _step(s_hi, s_lo, i_hi, i_lo)
                yy = -np.log1p(-_to_double(bits))
                if yy + yy > xx * xx:
                    if (rabs >> np.uint64(8)) & np.uint64(1):
                        return s_hi, s_lo, -(nor_r + xx)
                    return s_hi, s_lo, nor_r + xx
        else:
            s_hi, s_lo, bits = _step(s_hi, s_lo, i_hi, i_lo)
            if (fi[idx - 1] - fi[idx]) * _to_double(bits) + fi[idx] < np.exp(-0.5 * x * x):
                return s_hi, s_lo, x


def _draws_source(uniform_state, normal_state, uniforms, normals, tables):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``uniforms[t, r, j] = 2 u - 1`` from replicate ``r``'s ``uniform_state`` and
    ``normals[t, r, a]`` standard normal from its ``normal_state``: ``(m, R, c)`` and
    ``(m, R, k)``, each replicate's stream in ``(t, j)`` order; the states advance in place."""
    ki, wi, fi, nor_r, nor_inv_r = tables
    steps, n_rep, c = uniforms.shape
    k = normals.shape[2]
    for t in range(steps):
        for r in range(n_rep):
            s_hi, s_lo = uniform_state[r, 0], uniform_state[r, 1]
            i_hi, i_lo = uniform_state[r, 2], uniform_state[r, 3]
            for j in range(c):
                s_hi, s_lo, bits = _step(s_hi, s_lo, i_hi, i_lo)
                # 2u - 1 is bit for bit numpy's uniform(-1, 1) (-1 + 2u).
                uniforms[t, r, j] = _to_double(bits) * 2.0 - 1.0
            uniform_state[r, 0], uniform_state[r, 1] = s_hi, s_lo
            s_hi, s_lo = normal_state[r, 0], normal_state[r, 1]
            i_hi, i_lo = normal_state[r, 2], normal_state[r, 3]
            for a in range(k):
                s_hi, s_lo, z = _normal(s_hi, s_lo, i_hi, i_lo, ki, wi, fi, nor_r, nor_inv_r)
                normals[t, r, a] = z
            normal_state[r, 0], normal_state[r, 1] = s_hi, s_lo


def _stream_source(uniform_state, normal_state, uniforms, normals, tables):  # type: ignore[no-untyped-def]  # pragma: no cover
    """:func:`_draws_source` replicate first, as a prediction stream's block is laid out:
    ``uniforms[r, t, j]`` ``(R, m, c)`` and ``normals[r, t]`` ``(R, m)``, one replicate's
    whole block at a time (its generators' states stay in registers)."""
    ki, wi, fi, nor_r, nor_inv_r = tables
    n_rep, steps, c = uniforms.shape
    for r in range(n_rep):
        s_hi, s_lo = uniform_state[r, 0], uniform_state[r, 1]
        i_hi, i_lo = uniform_state[r, 2], uniform_state[r, 3]
        for t in range(steps):
            for j in range(c):
                s_hi, s_lo, bits = _step(s_hi, s_lo, i_hi, i_lo)
                uniforms[r, t, j] = _to_double(bits) * 2.0 - 1.0
        uniform_state[r, 0], uniform_state[r, 1] = s_hi, s_lo
        s_hi, s_lo = normal_state[r, 0], normal_state[r, 1]
        i_hi, i_lo = normal_state[r, 2], normal_state[r, 3]
        for t in range(steps):
            s_hi, s_lo, z = _normal(s_hi, s_lo, i_hi, i_lo, ki, wi, fi, nor_r, nor_inv_r)
            normals[r, t] = z
        normal_state[r, 0], normal_state[r, 1] = s_hi, s_lo


def _normals_source(state, out, tables):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``out`` (flat) filled with standard normals from the generator of ``state`` ``(1, 4)``."""
    ki, wi, fi, nor_r, nor_inv_r = tables
    s_hi, s_lo, i_hi, i_lo = state[0, 0], state[0, 1], state[0, 2], state[0, 3]
    for n in range(out.size):
        s_hi, s_lo, z = _normal(s_hi, s_lo, i_hi, i_lo, ki, wi, fi, nor_r, nor_inv_r)
        out[n] = z
    state[0, 0], state[0, 1] = s_hi, s_lo


@functools.cache
def _tables() -> tuple[Any, ...] | None:
    try:
        from numba.np.random import _constants as zig
    except ImportError:  # pragma: no cover - a numba without numpy's ziggurat tables
        return None
    return (
        np.ascontiguousarray(zig.ki_double, dtype=np.uint64),
        np.ascontiguousarray(zig.wi_double, dtype=np.float64),
        np.ascontiguousarray(zig.fi_double, dtype=np.float64),
        float(zig.ziggurat_nor_r),
        float(zig.ziggurat_nor_inv_r),
    )


@functools.cache
def compiled_draws() -> Callable[..., None] | None:
    """``draws(uniform_state, normal_state, uniforms, normals)`` compiled, or ``None`` without
    numba (or with ``REGRETLAB_NUMBA=0``): see :func:`_draws_source`."""
    global _mulhi, _step, _to_double, _normal
    if compile_kernel(_to_double) is None:
        return None
    tables = _tables()
    if tables is None:  # pragma: no cover
        return None
    # The kernel calls the helpers through this module's globals: compiled first, so numba
    # inlines compiled functions.
    if not hasattr(_step, "py_func"):
        _mulhi = _mulhi_intrinsic()
        _step = _inline(_step)
        _to_double = _inline(_to_double)
        _normal = _inline(_normal)
    kernel = compile_kernel(_draws_source)
    assert kernel is not None

    def draws(uniform_state: Any, normal_state: Any, uniforms: Any, normals: Any) -> None:
        kernel(uniform_state, normal_state, uniforms, normals, tables)

    return draws


def compile_with_tables(source: Callable[..., Any]) -> Callable[..., None] | None:
    """``source`` compiled with the ziggurat's tables bound as its last argument (after the
    generator's helpers, which it inlines: see :func:`compiled_draws`), or ``None`` without
    numba."""
    if compiled_draws() is None:
        return None
    kernel = compile_kernel(source)
    assert kernel is not None
    tables = _tables()
    return lambda *args: kernel(*args, tables)


def _bandit_source(
    uniform_state, normal_state, context, rewards, means, scale, w, at, pairs, tables
):  # type: ignore[no-untyped-def]  # pragma: no cover
    """A linear bandit's block in one pass: the contexts and the noise as
    :func:`_draws_source`, and the expected rewards ``means[t, r, a]`` of ``w[r]`` summed as
    ``LinearBandit._means`` sums them (the same operations in the same order), ``rewards =
    scale z + means``. ``at`` = first columns of context, action, context:action and
    context:context; ``pairs`` ``(2, n)`` the context:context columns."""
    ki, wi, fi, nor_r, nor_inv_r = tables
    steps, n_rep, c = context.shape
    k = rewards.shape[2]
    ctx, act, slope, cross = at[0], at[1], at[2], at[3]
    n_pairs = pairs.shape[1]
    for t in range(steps):
        for r in range(n_rep):
            s_hi, s_lo = uniform_state[r, 0], uniform_state[r, 1]
            i_hi, i_lo = uniform_state[r, 2], uniform_state[r, 3]
            x = context[t, r]
            for j in range(c):
                s_hi, s_lo, bits = _step(s_hi, s_lo, i_hi, i_lo)
                x[j] = _to_double(bits) * 2.0 - 1.0
            uniform_state[r, 0], uniform_state[r, 1] = s_hi, s_lo
            wr = w[r]
            shared = x[0] * wr[ctx]
            for j in range(1, c):
                shared += x[j] * wr[ctx + j]
            shared += wr[0]
            if n_pairs:
                extra = x[pairs[0, 0]] * x[pairs[1, 0]] * wr[cross]
                for n in range(1, n_pairs):
                    extra += x[pairs[0, n]] * x[pairs[1, n]] * wr[cross + n]
                shared += extra
            s_hi, s_lo = normal_state[r, 0], normal_state[r, 1]
            i_hi, i_lo = normal_state[r, 2], normal_state[r, 3]
            for a in range(k):
                personal = x[0] * wr[slope + a * c]
                for j in range(1, c):
                    personal += x[j] * wr[slope + a * c + j]
                personal += wr[act + a]
                mean = shared + personal
                means[t, r, a] = mean
                s_hi, s_lo, z = _normal(s_hi, s_lo, i_hi, i_lo, ki, wi, fi, nor_r, nor_inv_r)
                rewards[t, r, a] = z * scale + mean
            normal_state[r, 0], normal_state[r, 1] = s_hi, s_lo


@functools.cache
def compiled_bandit_draws() -> Callable[..., None] | None:
    """``draws(uniform_state, normal_state, context, rewards, means, scale, w, at, pairs)``
    compiled (see :func:`_bandit_source`), or ``None`` without numba."""
    return compile_with_tables(_bandit_source)


@functools.cache
def compiled_stream_draws() -> Callable[..., None] | None:
    """``draws(uniform_state, normal_state, uniforms, normals)`` replicate first, compiled
    (see :func:`_stream_source`), or ``None`` without numba."""
    return compile_with_tables(_stream_source)


def _bernoulli_source(state, means, rewards):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``rewards[t, r, a] = 1.0 if u < means[t, r, a] else 0.0`` with ``u`` from replicate
    ``r``'s generator ``state[r]`` in ``(t, a)`` order: numpy's ``g.random((m, K)) < means``
    (``Bernoulli.observe``) for each replicate; ``means`` may broadcast over time."""
    steps, n_rep, k = rewards.shape
    for t in range(steps):  # time-major, as the block is laid out: written in order
        for r in range(n_rep):
            s_hi, s_lo = state[r, 0], state[r, 1]
            i_hi, i_lo = state[r, 2], state[r, 3]
            for a in range(k):
                s_hi, s_lo, bits = _step(s_hi, s_lo, i_hi, i_lo)
                rewards[t, r, a] = 1.0 if _to_double(bits) < means[t, r, a] else 0.0
            state[r, 0], state[r, 1] = s_hi, s_lo


@functools.cache
def compiled_bernoulli() -> Callable[..., None] | None:
    """``bernoulli(state, means, rewards)`` compiled (see :func:`_bernoulli_source`), or
    ``None`` without numba."""
    if compiled_draws() is None:
        return None
    return compile_kernel(_bernoulli_source)


@functools.cache
def _compiled_normals() -> Callable[..., None] | None:
    return compile_with_tables(_normals_source)


def standard_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """``rng.standard_normal(shape)``: the same numbers, and ``rng`` left in the same state.

    Where numba is on and ``rng`` runs on ``PCG64``, a compiled ziggurat draws them (about
    twice as fast as numpy's on the development machine); otherwise numpy does.

    >>> a, b = np.random.default_rng(4), np.random.default_rng(4)
    >>> bool(np.array_equal(standard_normal(a, (300, 2)), b.standard_normal((300, 2))))
    True
    >>> bool(a.random() == b.random())
    True
    """
    bits = rng.bit_generator
    size = math.prod(shape)
    kernel = _compiled_normals() if size >= _MIN_NORMALS and type(bits) is np.random.PCG64 else None
    if kernel is None:
        return rng.standard_normal(shape)
    state = bits.state
    row = pack_states([state])
    out = np.empty(shape)
    kernel(row, out.reshape(-1))
    bits.state = unpack_states(row, [state])[0]
    return out


def _inline(source: Callable[..., Any]) -> Callable[..., Any]:
    import numba

    return numba.njit(inline="always", cache=True)(source)  # type: ignore[no-any-return]
