"""The online bootstrap of any learner: ``B`` copies, each learning every observation a random
number of times (Oza & Russell 2001; Eckles & Kaptein 2014's bootstrap Thompson sampling)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from regretlab._random import SeedLike, as_seed_sequence, replicate_seeds
from regretlab._validation import check_choice, check_finite, check_int, float_array

__all__ = ["Bootstrap"]

# Weights are drawn this many steps at a time per replicate, from a generator seeded by
# (seed, replicate, block): the draws then depend on neither the number of replicates nor
# how the run is cut, and a saved state needs only the step count.
_WEIGHT_BLOCK = 256


class Bootstrap:
    """``n_copies`` clones of ``learner`` trained on online bootstrap resamples of the stream.

    At every step each copy of each replicate learns the observation with a weight ``k``
    drawn per copy: ``Poisson(1)`` (``weights="poisson"``, the online analogue of resampling
    with replacement) or ``2 Bernoulli(1/2)`` (``"bernoulli"``, double or nothing). A learner
    whose ``learn_one`` takes ``weight=`` (such as :class:`~regretlab.learners.BayesianGLM`)
    gets ``k`` as a case weight; any other learner gets the row and target multiplied by
    ``sqrt(k)``, which weights a squared loss by exactly ``k`` (Bayesian linear regression,
    SGD, river's linear regression). The copies are one inner learner with ``R * n_copies``
    replicates, replicate-major.

    :meth:`predict_one` is the copies' average (with ``return_sd``, their spread);
    :meth:`predict_copies` gives every copy's prediction, which
    :class:`~regretlab.policies.BootstrappedThompsonSampling` samples from. The weights of
    replicate ``r`` come from its own seed (``seed``'s child ``r``; ``seed`` itself for one
    stream), so they do not depend on the number of replicates, and a clone draws the same.

    Parameters
    ----------
    learner
        An untrained learner with ``get_params()`` (``n_replicates`` is taken from it).
    n_copies
        Number of bootstrap copies ``B``.
    weights
        ``"poisson"`` or ``"bernoulli"``.
    seed
        Seed of the bootstrap weights.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> boot = Bootstrap(BayesianLinearRegression(groups=("main",)), n_copies=4, seed=0)
    >>> for y in (1.0, 2.0, 3.0):
    ...     boot = boot.learn_one(np.ones(1), y)
    >>> boot.predict_copies(np.ones(1)).round(2)
    array([1.  , 1.6 , 1.25, 1.67])
    """

    def __init__(
        self,
        learner: Any,
        *,
        n_copies: int = 10,
        weights: str = "poisson",
        seed: SeedLike = 0,
    ) -> None:
        self.learner = learner
        self.n_copies = n_copies
        self.weights = weights
        self.seed = seed
        check_int("n_copies", n_copies, minimum=1)
        check_choice("weights", weights, ("poisson", "bernoulli"))
        for method in ("get_params", "learn_one", "predict_one"):
            if not callable(getattr(learner, method, None)):
                raise TypeError(
                    f"learner must have a {method}() method, got {type(learner).__name__}"
                )
        self.n_replicates = learner.get_params().get("n_replicates")
        self.n_actions = getattr(learner, "n_actions", None)
        self._batch: tuple[int, ...] = () if self.n_replicates is None else (self.n_replicates,)
        self._seeds = replicate_seeds(as_seed_sequence(seed), self.n_replicates)
        width = math.prod(self._batch) * n_copies
        self._inner = type(learner)(**{**learner.get_params(), "n_replicates": width})
        self._native = "weight" in inspect.signature(self._inner.learn_one).parameters
        self._step = 0
        self._block: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return int(self._inner.n_features)

    # -- weights ------------------------------------------------------------------------------
    def _draw_block(self, index: int) -> np.ndarray:
        out = np.empty((_WEIGHT_BLOCK, len(self._seeds), self.n_copies))
        for r, root in enumerate(self._seeds):
            seq = np.random.SeedSequence(
                root.entropy, spawn_key=(*root.spawn_key, index), pool_size=root.pool_size
            )
            rng = np.random.default_rng(seq)
            size = (_WEIGHT_BLOCK, self.n_copies)
            if self.weights == "poisson":
                out[:, r] = rng.poisson(1.0, size)
            else:
                out[:, r] = 2.0 * (rng.random(size) < 0.5)
        return out

    def step_weights(self) -> np.ndarray:
        """The weights ``(R * B,)`` (``(B,)`` for one stream) of the next observation."""
        block, offset = divmod(self._step, _WEIGHT_BLOCK)
        if offset == 0 or self._block is None:
            self._block = self._draw_block(block)
        return self._block[offset].reshape(-1)

    # -- learning -----------------------------------------------------------------------------
    def _spread(self, a: np.ndarray) -> np.ndarray:
        """``a`` with each replicate's rows repeated for its copies: ``(R * B, ...)``."""
        if not self._batch:
            return np.broadcast_to(a, (self.n_copies, *a.shape))
        return np.repeat(a, self.n_copies, axis=0)

    def learn_one(self, x: Any, y: Any, *, action: Any = None) -> Bootstrap:
        """Every copy learns ``(x, y)`` with its own bootstrap weight."""
        x, y = float_array("x", x), float_array("y", y)
        p = self.n_features
        if x.shape != (*self._batch, p):
            raise ValueError(f"x must have shape {(*self._batch, p)}, got {x.shape}")
        if y.shape != self._batch:
            raise ValueError(f"y must have shape {self._batch}, got {y.shape}")
        check_finite("x", x)
        check_finite("y", y)
        k = self.step_weights()
        xs, ys = self._spread(x), self._spread(y)
        extra = {} if action is None else {"action": self._spread(np.asarray(action))}
        if self._native:
            self._inner.learn_one(xs, ys, weight=k, **extra)
        else:
            root = np.sqrt(k)
            self._inner.learn_one(xs * root[:, None], ys * root, **extra)
        self._step += 1
        return self

    # -- predictions --------------------------------------------------------------------------
    def predict_copies(self, x: Any) -> np.ndarray:
        """Every copy's prediction, ``(..., B, [K])`` for ``x`` ``(..., [K,] p)``."""
        x = float_array("x", x)
        if x.ndim < len(self._batch) + 1 or x.shape[-1] != self.n_features:
            raise ValueError(
                f"x must have shape {(*self._batch, self.n_features)} (optionally with an "
                f"action axis before the last), got {x.shape}"
            )
        inner = np.asarray(self._inner.predict_one(np.ascontiguousarray(self._spread(x))))
        return inner.reshape(*self._batch, self.n_copies, *inner.shape[1:])

    def predict_one(self, x: Any, *, return_sd: bool = False, include_noise: bool = False) -> Any:
        """The copies' mean prediction; with ``return_sd`` also their standard deviation (the
        bootstrap's sd of the mean; ``include_noise`` is accepted and ignored)."""
        copies = self.predict_copies(x)
        axis = len(self._batch)
        mean = copies.mean(axis=axis)
        if not return_sd:
            return float(mean) if mean.ndim == 0 else mean
        sd = copies.std(axis=axis)
        return (mean, sd) if mean.ndim else (float(mean), float(sd))

    # -- persistence --------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """The inner learner's state (keys prefixed ``inner.``) and the step count."""
        state = {f"inner.{k}": v for k, v in self._inner.get_state().items()}
        state["step"] = np.array(float(self._step))
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> Bootstrap:
        """Restore what :meth:`get_state` returned."""
        if "step" not in state:
            raise ValueError(f"state must have the key 'step', got {sorted(state)}")
        inner = {k[len("inner.") :]: v for k, v in state.items() if k.startswith("inner.")}
        self._inner.set_state(inner)
        self._step = int(np.asarray(state["step"]))
        self._block = None
        return self

    def clone(self) -> Bootstrap:
        """An untrained bootstrap with the same arguments (and the same weights)."""
        return Bootstrap(self.learner, n_copies=self.n_copies, weights=self.weights, seed=self.seed)

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "learner": self.learner,
            "n_copies": self.n_copies,
            "weights": self.weights,
            "seed": self.seed,
        }

    def __repr__(self) -> str:
        return (
            f"Bootstrap({self.learner!r}, n_copies={self.n_copies}, weights={self.weights!r}, "
            f"seed={self.seed!r})"
        )
