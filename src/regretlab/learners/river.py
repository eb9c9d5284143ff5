"""River regressors, one per replicate, behind regretlab's learner interface."""

from __future__ import annotations

import collections
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from regretlab._random import SeedLike, replicate_seeds
from regretlab._validation import as_float_array, check_finite, check_int
from regretlab.learners._grouping import check_groups
from regretlab.learners._river_seeds import seeded
from regretlab.learners._river_state import FORMAT, Decoder, Encoder, river_version

__all__ = ["RiverRegressor"]

logger = logging.getLogger(__name__)


class RiverRegressor:
    """Any river regressor (or pipeline), one independent copy per replicate.

    Each replicate's design row becomes a dict ``{name: value}`` of Python floats and goes to
    that replicate's river model, exactly as if river were run by hand on the same dicts.

    Parameters
    ----------
    factory
        A callable with no arguments returning a fresh river regressor or pipeline, such as
        ``river.linear_model.LinearRegression`` or
        ``lambda: preprocessing.StandardScaler() | linear_model.LinearRegression()``. The only
        positional parameter: ``RiverRegressor(linear_model.PARegressor, groups=...)``; the
        others are keyword-only.
    groups
        The feature group of every design column, or a feature map (its ``groups`` are used).
        River models ignore them; they are kept for schedulers and reports.
    names
        The river feature name of every column; by default the feature map's ``names``, else
        ``x0, x1, ...``. They must be unique strings.
    n_replicates
        ``None`` for one stream (``x`` of shape ``(p,)``), or ``R`` independent river models
        updated in lockstep (``x`` of shape ``(R, p)``).
    seed
        Seeds every ``seed`` parameter of the river model (see Notes). ``None`` leaves the seeds
        the factory chose.

    Notes
    -----
    **Seeds.** ``seed`` is turned into one ``SeedSequence`` per replicate (``seed`` itself for a
    single stream, else ``R`` spawned children). A depth-first walk of the model's
    ``_get_params()`` finds its ``seed`` parameters, nested estimators and pipeline steps
    included (estimators passed positionally, as to a ``TransformerUnion``, are not reached).
    The ``i``-th gets word ``i`` of ``child.generate_state(n, numpy.uint32)`` and the model is
    rebuilt with ``model.clone(params)``. Models without a ``seed`` parameter are left as the
    factory built them. :meth:`clone` reuses the same replicate seeds.

    **State.** :meth:`get_state` encodes every river model, without pickle, as one JSON string
    in a numpy unicode array. The encoder walks ``obj.__getstate__()`` (``vars(obj)`` for
    ordinary classes) and knows numbers, strings, ``None``, lists, tuples, sets, dicts
    (``dict``, ``OrderedDict``, ``Counter``, ``defaultdict``; key types kept), ``deque``, numpy
    arrays (bytes, dtype and memory order kept) and scalars, objects and classes of the
    ``river`` package, their bound methods, ``functools.partial``, and, handled explicitly,
    river's Rust ``VectorDict``, ``random.Random``, numpy ``RandomState`` and ``Generator``.
    Objects referenced twice are stored once, so shared references survive. Anything else
    (a lambda in a ``FuncTransformer``, a foreign class) is refused with the path to it.
    :meth:`set_state` rebuilds the models with ``factory()`` and sets their attributes from
    the decoded tree (through ``__setstate__`` where a river class defines it); it imports
    modules only under ``river.``.

    Examples
    --------
    >>> from river import linear_model
    >>> from regretlab.features import InteractionFeatures
    >>> fm = InteractionFeatures(x_dim=2)
    >>> model = RiverRegressor(factory=linear_model.BayesianLinearRegression, groups=fm)
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(200):
    ...     x = fm.transform(rng.uniform(-1, 1, 2))
    ...     model = model.learn_one(x, 1.0 + 2.0 * x[1] - x[2] + 0.1 * rng.normal())
    >>> round(model.predict_one(fm.transform([0.5, 0.5])), 1)
    1.5
    >>> batched = RiverRegressor(linear_model.PARegressor, groups=fm, n_replicates=3)
    >>> batched.learn_one(np.ones((3, 4)), np.zeros(3)).predict_one(np.ones((3, 2, 4))).shape
    (3, 2)
    >>> batched.weights.shape
    (3, 4)
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        *,
        groups: Any,
        names: Sequence[str] | None = None,
        n_replicates: int | None = None,
        seed: SeedLike = None,
    ) -> None:
        self.factory = factory
        self.groups = groups
        self.names = names
        self.n_replicates = n_replicates
        self.seed = seed
        if not callable(factory):
            raise TypeError(f"factory must be a callable returning a river model, got {factory!r}")
        self._labels = check_groups(groups)
        self._names = _check_names(
            names if names is not None else getattr(groups, "names", None), len(self._labels)
        )
        if n_replicates is not None:
            check_int("n_replicates", n_replicates, minimum=1)
        self._batch: tuple[int, ...] = () if n_replicates is None else (n_replicates,)
        self._children = None if seed is None else replicate_seeds(seed, n_replicates)
        self._models = self._build()
        self._n_seen = 0

    def _build(self) -> list[Any]:
        """Fresh river models, one per replicate, with their seeds set."""
        children: Sequence[np.random.SeedSequence | None] = self._children or [None] * (
            self.n_replicates or 1
        )
        models = [seeded(self.factory(), child) for child in children]
        for model in models[:1]:
            if not (hasattr(model, "learn_one") and hasattr(model, "predict_one")):
                raise TypeError(
                    f"factory must return a river regressor (with learn_one and predict_one), "
                    f"got {model!r}"
                )
        if len({id(m) for m in models}) != len(models):
            raise ValueError("factory must return a new river model on every call")
        return models

    @property
    def n_features(self) -> int:
        return len(self._labels)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The river feature name of every column."""
        return self._names

    @property
    def models(self) -> list[Any]:
        """The river models, one per replicate (read them; learning goes through this class)."""
        return list(self._models)

    @property
    def n_seen(self) -> np.ndarray:
        """Observations learned so far (per replicate)."""
        return np.full(self._batch, float(self._n_seen))

    # -- learning -----------------------------------------------------------------------------
    def learn_one(self, x: Any, y: Any) -> RiverRegressor:
        """Update with one observation per replicate: ``x`` ``(..., p)``, ``y`` ``(...)``."""
        x, y = self._check_xy(x, y, rows=False)
        self._learn(x, y)
        return self

    def learn_many(self, x: Any, y: Any) -> RiverRegressor:
        """Learn a block of rows in order (repeated :meth:`learn_one`).

        ``x`` has shape ``(..., m, p)`` and ``y`` ``(..., m)``; the whole block is validated
        before any row is learned.
        """
        x, y = self._check_xy(x, y, rows=True)
        nb = len(self._batch)
        for i in range(x.shape[nb]):
            self._learn(x[..., i, :], y[..., i])
        return self

    def _learn(self, x: np.ndarray, y: np.ndarray) -> None:
        names = self._names
        rows = x.reshape(-1, self.n_features).tolist()
        for model, row, target in zip(self._models, rows, y.reshape(-1).tolist(), strict=True):
            model.learn_one(dict(zip(names, row, strict=True)), target)
        self._n_seen += 1

    def _check_xy(self, x: Any, y: Any, *, rows: bool) -> tuple[np.ndarray, np.ndarray]:
        x = as_float_array("x", x, finite=False)
        y = as_float_array("y", y, finite=False)
        lead = (*self._batch, x.shape[-2]) if rows and x.ndim >= 2 else self._batch
        if rows and x.ndim < len(self._batch) + 2:
            raise ValueError(
                f"x must have shape {(*self._batch, 'm', self.n_features)}, got {x.shape}"
            )
        if x.shape != (*lead, self.n_features):
            raise ValueError(f"x must have shape {(*lead, self.n_features)}, got {x.shape}")
        if y.shape != lead:
            raise ValueError(f"y must have shape {lead}, got {y.shape}")
        # A sum of squares is non-finite exactly when an entry is NaN or inf (or it overflows,
        # which check_finite lets through): cheap on the hot path, the precise message only on
        # failure, and always before any river model has seen the row.
        xs, ys = x.reshape(-1), y.reshape(-1)
        if not math.isfinite(float(xs @ xs) + float(ys @ ys)):
            try:
                check_finite("x", x)
                check_finite("y", y)
            except ValueError as exc:
                where = "in the block starting at step" if rows else "at step"
                raise ValueError(f"{exc} ({where} {self._n_seen})") from None
        return x, y

    def predict_one(self, x: Any) -> Any:
        """Predictions for ``x`` ``(..., [K,] p)``: a float, or one per replicate (and action)."""
        x = as_float_array("x", x, finite=False)
        nb = len(self._batch)
        if x.ndim < nb + 1 or x.shape[:nb] != self._batch or x.shape[-1] != self.n_features:
            raise ValueError(
                f"x must have shape {(*self._batch, self.n_features)} (optionally with action "
                f"axes before the last), got {x.shape}"
            )
        xs = x.reshape(-1)
        if not math.isfinite(float(xs @ xs)):
            check_finite("x", x)
        names = self._names
        if x.ndim == 1:
            return float(self._models[0].predict_one(dict(zip(names, xs.tolist(), strict=True))))
        n_rows = math.prod(x.shape[nb:-1])
        blocks = x.reshape(len(self._models), n_rows, self.n_features).tolist()
        out = np.array(
            [
                [model.predict_one(dict(zip(names, row, strict=True))) for row in block]
                for model, block in zip(self._models, blocks, strict=True)
            ],
            dtype=float,
        )
        return out.reshape(x.shape[:-1])

    # -- linear models ------------------------------------------------------------------------
    @property
    def weights(self) -> np.ndarray:
        """The river model's linear ``weights`` in column order, ``(..., p)``.

        Columns the model has not seen weigh 0. River's own intercept is :attr:`intercept`.
        """
        out = []
        for model in self._models:
            weights = getattr(model, "weights", None)
            if not isinstance(weights, Mapping):
                raise AttributeError(
                    f"{type(model).__name__} does not expose linear weights (a `weights` dict); "
                    f"read its state through RiverRegressor.models"
                )
            # ``get`` rather than ``[]``: PARegressor's weights are a defaultdict.
            out.append([float(weights.get(name, 0.0)) for name in self._names])
        return np.array(out).reshape(*self._batch, self.n_features)

    @property
    def intercept(self) -> Any:
        """The river model's separate ``intercept``: a float, or ``(R,)``."""
        values = [getattr(model, "intercept", None) for model in self._models]
        if not all(isinstance(v, int | float | np.integer | np.floating) for v in values):
            raise AttributeError(
                f"{type(self._models[0]).__name__} does not expose a numeric `intercept`"
            )
        out = np.array(values, dtype=float).reshape(self._batch)
        return out if out.ndim else float(out)

    # -- persistence --------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """The river models' learned state as arrays: JSON text, no pickle (see Notes)."""
        encoder = Encoder()
        tree = {
            "format": FORMAT,
            "river": river_version(),
            "names": list(self._names),
            "models": [encoder.encode(m, f"models[{i}]") for i, m in enumerate(self._models)],
        }
        text = json.dumps(tree, separators=(",", ":"))
        return {"river_models": np.array(text), "n_seen": np.array(self._n_seen)}

    def set_state(self, state: Mapping[str, np.ndarray]) -> RiverRegressor:
        """Restore what :meth:`get_state` returned: fresh ``factory()`` models, saved attributes."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping of arrays, got {type(state).__name__}")
        missing = [k for k in ("river_models", "n_seen") if k not in state]
        if missing:
            raise ValueError(
                f"state is missing {missing}; expected keys ['river_models', 'n_seen']"
            )
        text = np.asarray(state["river_models"])
        if text.shape != () or text.dtype.kind != "U":
            raise ValueError(
                f"state['river_models'] must be a scalar unicode array, got dtype {text.dtype} "
                f"and shape {text.shape}"
            )
        tree = json.loads(str(text))
        if not isinstance(tree, dict) or tree.get("format") != FORMAT:
            raise ValueError(
                f"state['river_models'] is not a RiverRegressor state (format {FORMAT})"
            )
        saved = tree.get("models")
        if not isinstance(saved, list) or len(saved) != len(self._models):
            count = len(saved) if isinstance(saved, list) else 0
            raise ValueError(
                f"state holds {count} river models, this learner has {len(self._models)}"
            )
        if tree.get("names") != list(self._names):
            raise ValueError(
                f"state was saved with feature names {tree.get('names')}, this learner has "
                f"{list(self._names)}"
            )
        if tree.get("river") != river_version():
            logger.warning(
                "state saved with river %s, loading with %s", tree["river"], river_version()
            )
        decoder = Decoder()
        try:
            models = [
                decoder.decode_into(node, fresh)
                for node, fresh in zip(saved, self._build(), strict=True)
            ]
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ValueError(f"state['river_models'] is malformed: {exc!r}") from exc
        self._models = models
        self._n_seen = int(np.asarray(state["n_seen"]))
        return self

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "factory": self.factory,
            "groups": self.groups,
            "names": self.names,
            "n_replicates": self.n_replicates,
            "seed": self.seed,
        }

    def clone(self) -> RiverRegressor:
        """A new, untrained learner with the same arguments and the same replicate seeds."""
        # Not type(self)(**params): a SeedSequence seed would be spawned again (spawn advances
        # its parent) and the clone's replicates would get other seeds.
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin._models = twin._build()
        twin._n_seen = 0
        return twin

    def __repr__(self) -> str:
        return (
            f"RiverRegressor(factory={self.factory!r}, n_features={self.n_features}, "
            f"n_replicates={self.n_replicates!r}, seed={self.seed!r})"
        )


def _check_names(names: Any, p: int) -> tuple[str, ...]:
    if names is None:
        return tuple(f"x{i}" for i in range(p))
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"names must be a sequence of strings (one per column), got {names!r}")
    if len(names) != p or not all(isinstance(n, str) for n in names):
        raise ValueError(f"names must hold {p} strings (one per column), got {list(names)!r}")
    duplicate = next((n for n, c in collections.Counter(names).items() if c > 1), None)
    if duplicate is not None:
        raise ValueError(f"names must be unique, got {duplicate!r} more than once")
    return tuple(names)
