"""Noise models: what an environment adds to its truth, drawn from the environment's generator.

A noise model draws the noise of one replicate's block of rows, ``sample(rng, shape, inputs)``,
with the generator the environment hands it: every agent in a replicate sees the same noise
(common random numbers) and the same seed gives the same noise whatever the executor. ``shape``
starts with the rows (``(m,)`` for a prediction stream, ``(m, K)`` for a bandit's actions,
``(m, L)`` for a multilevel stream's contributors); ``inputs`` ``(m, d)`` are the rows' inputs
(contexts), so the noise may depend on them. The environment keeps the truth (the mean) and
computes regret against it, never against the noisy values.

A draw is split into ``shocks(rng, shape, inputs)`` (everything random) times
``scale(inputs)`` (the rows' multiplier, a number or ``(m,)``). Streams that skip rows (``take``
from a later step) draw and drop the shocks of the skipped rows; only a model whose shocks read
the inputs (``shocks_need_inputs``, :class:`Custom`) makes them regenerate those inputs.

Every model is a frozen dataclass of plain values (picklable for process pools); a user function
must be a module's top-level function (pickled by reference), never a lambda or a closure.
Reward models that are not additive (Bernoulli, Poisson) belong beside :class:`Noise`, not under
it: they map the mean to a draw, ``observe(rng, mean, inputs)``, the method every noise model
also has (``mean + sample(...)``), so a stream that calls ``observe`` takes either.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from regretlab._validation import check_int, check_real

__all__ = ["Custom", "Gaussian", "Heteroscedastic", "Noise", "StudentT", "resolve_noise"]


def _check_function(name: str, fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be a callable, got {fn!r}")
    qualname = getattr(fn, "__qualname__", "")
    try:
        pickle.dumps(fn)
    except Exception:
        ok = False
    else:
        ok = "<lambda>" not in qualname and "<locals>" not in qualname
    if not ok:
        raise TypeError(
            f"{name} must be a module's top-level function (process pools pickle it by "
            f"reference), got {fn!r}"
        )


def _per_row(scale: Any, ndim: int) -> Any:
    """A number as it is; an ``(m,)`` array shaped to broadcast over a block's other axes."""
    if isinstance(scale, float | int) or np.ndim(scale) == 0:  # the first test is cheaper
        return scale
    scale = np.asarray(scale, dtype=float)
    return scale.reshape(scale.shape + (1,) * (ndim - scale.ndim))


class Noise:
    """The base of the noise models: ``sample = shocks * multiplier``, ``observe = mean + sample``.

    A subclass implements :meth:`shocks`, :meth:`multiplier` and :meth:`sd`.

    >>> noise = Gaussian(0.5)
    >>> isinstance(noise, Noise), noise.sample(np.random.default_rng(0), (3,), None).shape
    (True, (3,))
    """

    #: Whether the shocks read the inputs (then a stream skipping rows regenerates them).
    shocks_need_inputs = False

    def shocks(
        self, rng: np.random.Generator, shape: tuple[int, ...], inputs: np.ndarray | None
    ) -> np.ndarray:
        """The random part of the noise of one replicate's rows, ``shape``."""
        raise NotImplementedError

    def multiplier(self, inputs: np.ndarray | None) -> Any:
        """What the shocks are multiplied by: a number, or ``(m,)`` for inputs ``(m, d)``."""
        raise NotImplementedError

    def sd(self, inputs: np.ndarray | None = None) -> Any:
        """Standard deviation of the noise of rows ``inputs``: a number or ``(m,)``.

        ``inf`` where the variance is infinite, NaN where the model does not know it.
        """
        raise NotImplementedError

    def sample(
        self,
        rng: np.random.Generator,
        shape: tuple[int, ...],
        inputs: np.ndarray | None = None,
        *,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Noise of one replicate's block, ``shocks * multiplier``, into ``out`` if given."""
        z = self.shocks(rng, shape, inputs)
        if out is None:
            out = np.empty(shape)
        # A number times z is bit for bit the ``noise_level * N(0, 1)`` the streams drew before.
        return np.multiply(z, _per_row(self.multiplier(inputs), len(shape)), out=out)

    def sample_replicates(
        self, rngs: Sequence[np.random.Generator], inputs: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """Every replicate's noise of a block at once: ``out[r]`` is ``sample(rngs[r],
        out[r].shape, inputs[r])``, the same draws and numbers; ``inputs`` ``(R, m, d)``,
        ``out`` ``(R, m)``.

        >>> rngs = [np.random.default_rng(s) for s in (0, 1)]
        >>> out = Gaussian(2.0).sample_replicates(rngs, np.zeros((2, 3, 1)), np.empty((2, 3)))
        >>> bool((out[1] == Gaussian(2.0).sample(np.random.default_rng(1), (3,))).all())
        True
        """
        for rng, rows, noise in zip(rngs, inputs, out, strict=True):
            self.sample(rng, noise.shape, rows, out=noise)
        return out

    def observe(
        self, rng: np.random.Generator, mean: np.ndarray, inputs: np.ndarray | None = None
    ) -> np.ndarray:
        """Realised values of rows whose expectation is ``mean``: ``mean + sample(...)``."""
        return mean + self.sample(rng, mean.shape, inputs)


@dataclass(frozen=True)
class Gaussian(Noise):
    """Normal noise with standard deviation ``scale``: ``scale * N(0, 1)``.

    ``Gaussian(noise_level)`` is what the environments drew before noise models existed, draw
    for draw (``rng.standard_normal``).

    Examples
    --------
    >>> Gaussian(2.0).sample(np.random.default_rng(0), (3,))
    array([ 0.25146044, -0.26420972,  1.2808453 ])
    >>> 2.0 * np.random.default_rng(0).standard_normal(3)
    array([ 0.25146044, -0.26420972,  1.2808453 ])
    """

    scale: float = 1.0

    def __post_init__(self) -> None:
        check_real("scale", self.scale, minimum=0.0)

    def shocks(
        self, rng: np.random.Generator, shape: tuple[int, ...], inputs: np.ndarray | None
    ) -> np.ndarray:
        return rng.standard_normal(shape)

    def multiplier(self, inputs: np.ndarray | None) -> float:
        return self.scale

    def sd(self, inputs: np.ndarray | None = None) -> float:
        return float(self.scale)

    def sample_replicates(
        self, rngs: Sequence[np.random.Generator], inputs: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        # The shocks drawn in place and scaled in one pass: the numbers of sample() (z * scale)
        # with a third of its per-replicate overhead (a subclass may draw otherwise).
        if type(self) is not Gaussian:
            return super().sample_replicates(rngs, inputs, out)
        for rng, noise in zip(rngs, out, strict=True):
            rng.standard_normal(out=noise)
        return np.multiply(out, self.scale, out=out)


@dataclass(frozen=True)
class StudentT(Noise):
    """Heavy-tailed noise: Student's t with ``df`` degrees of freedom.

    For ``df > 2`` the draws are ``scale * sqrt((df - 2) / df) * t_df``, so ``scale`` is the
    standard deviation (comparable with :class:`Gaussian` at the same ``scale``). For
    ``0 < df <= 2`` the variance is infinite and ``scale`` is the t distribution's scale
    parameter: the draws are ``scale * t_df``. Excess kurtosis is ``6 / (df - 4)`` for ``df > 4``.

    Examples
    --------
    >>> noise = StudentT(df=3, scale=0.5)
    >>> noise.sd(), noise.sample(np.random.default_rng(0), (2, 4)).shape
    (0.5, (2, 4))
    >>> StudentT(df=1.0).sd()
    inf
    """

    df: float
    scale: float = 1.0

    def __post_init__(self) -> None:
        check_real("df", self.df, minimum=0.0, exclusive_minimum=True)
        check_real("scale", self.scale, minimum=0.0)

    def shocks(
        self, rng: np.random.Generator, shape: tuple[int, ...], inputs: np.ndarray | None
    ) -> np.ndarray:
        return rng.standard_t(self.df, size=shape)

    def multiplier(self, inputs: np.ndarray | None) -> float:
        return self.scale * math.sqrt((self.df - 2) / self.df) if self.df > 2 else self.scale

    def sd(self, inputs: np.ndarray | None = None) -> float:
        return float(self.scale) if self.df > 2 else math.inf


def _absolute_input(inputs: np.ndarray, column: int) -> np.ndarray:
    return np.abs(np.asarray(inputs, dtype=float)[..., column])


@dataclass(frozen=True)
class Heteroscedastic(Noise):
    """Noise whose size depends on the inputs: ``base`` noise times ``1 + slope * |x_input|``.

    With ``scale_fn`` the multiplier is ``scale_fn(inputs)`` instead: a module's top-level
    function from the rows' inputs ``(m, d)`` to ``(m,)`` non-negative numbers. The noise's
    standard deviation is ``base.sd() * multiplier``. The shocks are ``base``'s, drawn as
    ``base`` draws them, so the same seed gives the same shocks with or without the
    heteroscedasticity.

    Parameters
    ----------
    base
        The noise being scaled; ``None`` means ``Gaussian(1.0)``.
    slope
        Growth of the sd with ``|x_input|`` (``>= 0``; 0 is ``base`` itself).
    input
        The input column the sd grows with (for a bandit: a context column; for a multilevel
        stream: a level's contributor index).
    scale_fn
        Replaces ``1 + slope * |x_input|`` when given.

    Examples
    --------
    >>> noise = Heteroscedastic(Gaussian(0.5), slope=2.0)
    >>> noise.sd(np.array([[0.0, 9.0], [-1.0, 9.0]]))
    array([0.5, 1.5])
    """

    base: Noise | None = None
    slope: float = 1.0
    input: int = 0
    scale_fn: Callable[[np.ndarray], Any] | None = None

    def __post_init__(self) -> None:
        if self.base is not None and not isinstance(self.base, Noise):
            raise TypeError(f"base must be a noise model such as Gaussian(1.0), got {self.base!r}")
        check_real("slope", self.slope, minimum=0.0)
        check_int("input", self.input, minimum=0)
        if self.scale_fn is not None:
            _check_function("scale_fn", self.scale_fn)

    @property
    def _base(self) -> Noise:
        return Gaussian(1.0) if self.base is None else self.base

    @property
    def shocks_need_inputs(self) -> bool:  # type: ignore[override]
        return self._base.shocks_need_inputs

    def shocks(
        self, rng: np.random.Generator, shape: tuple[int, ...], inputs: np.ndarray | None
    ) -> np.ndarray:
        return self._base.shocks(rng, shape, inputs)

    def _growth(self, inputs: np.ndarray | None) -> np.ndarray:
        if inputs is None:
            raise ValueError("Heteroscedastic noise needs the rows' inputs")
        if self.scale_fn is None:
            if self.input >= np.shape(inputs)[-1]:
                raise ValueError(
                    f"input must be < the number of inputs ({np.shape(inputs)[-1]}), "
                    f"got {self.input}"
                )
            return 1.0 + self.slope * _absolute_input(inputs, self.input)
        growth = np.asarray(self.scale_fn(inputs), dtype=float)
        expected = np.shape(inputs)[:-1]
        if growth.shape != expected or not np.all(np.isfinite(growth)) or np.any(growth < 0):
            raise ValueError(
                f"scale_fn must return finite numbers >= 0 of shape {expected}, got "
                f"shape {growth.shape}"
            )
        return growth

    def multiplier(self, inputs: np.ndarray | None) -> Any:
        return self._base.multiplier(inputs) * self._growth(inputs)

    def sd(self, inputs: np.ndarray | None = None) -> Any:
        return self._base.sd(inputs) * self._growth(inputs)


@dataclass(frozen=True)
class Custom(Noise):
    """Noise from a user's function ``fn(rng, shape, inputs)``, which returns ``shape`` draws.

    ``fn`` must draw only from ``rng`` (the environment's generator: seeds and common random
    numbers keep working) and be a module's top-level function (process pools pickle it by
    reference). The stream's blocks and ``take`` agree whatever the block size if ``fn`` draws
    row after row, as numpy's samplers do; ``take`` from a later step calls ``fn`` on the
    skipped rows too, with their inputs.

    Examples
    --------
    >>> from regretlab.environments.noise import _laplace_example
    >>> Custom(_laplace_example).sample(np.random.default_rng(0), (3,), np.zeros((3, 2))).shape
    (3,)
    """

    fn: Callable[[np.random.Generator, tuple[int, ...], Any], Any]

    shocks_need_inputs = True

    def __post_init__(self) -> None:
        _check_function("fn", self.fn)

    def shocks(
        self, rng: np.random.Generator, shape: tuple[int, ...], inputs: np.ndarray | None
    ) -> np.ndarray:
        z = np.asarray(self.fn(rng, shape, inputs), dtype=float)
        if z.shape != tuple(shape) or not np.all(np.isfinite(z)):
            raise ValueError(
                f"fn must return finite noise of shape {tuple(shape)}, got "
                f"{'shape ' + str(z.shape) if z.shape != tuple(shape) else 'NaN or inf'}"
            )
        return z

    def multiplier(self, inputs: np.ndarray | None) -> float:
        return 1.0

    def sd(self, inputs: np.ndarray | None = None) -> Any:
        return math.nan if inputs is None else np.full(np.shape(inputs)[:-1], math.nan)


def _laplace_example(rng: np.random.Generator, shape: tuple[int, ...], inputs: Any) -> np.ndarray:
    """Laplace noise with sd 1 (a :class:`Custom` example)."""
    return rng.laplace(0.0, math.sqrt(0.5), size=shape)


def resolve_noise(noise: Noise | None, noise_level: float) -> Noise:
    """``noise`` checked, or today's ``Gaussian(noise_level)`` when it is ``None``."""
    if noise is None:
        return Gaussian(noise_level)
    if not isinstance(noise, Noise):
        raise TypeError(
            f"noise must be a noise model such as Gaussian(1.0) or StudentT(df=3), got {noise!r}"
        )
    return noise
