"""The machinery every learner made of candidates shares: one inner learner whose replicates
are the candidates (``C x R``, candidate-major), inputs tiled over them, events and parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from regretlab._validation import check_finite, float_array
from regretlab.policies.escalation._grids import _candidate_values
from regretlab.policies.escalation.base import Event

__all__ = ["_Candidates"]


class _Candidates:
    """Shared machinery: the inner learner, tiling inputs over candidates, state, events."""

    def __init__(
        self,
        *,
        learner: Any,
        group: str,
        grid: Sequence[float],
        other_grids: Mapping[Any, Sequence[Any]] | None = None,
    ) -> None:
        self.learner = learner
        self.group = group
        self.grid = grid
        self.other_grids = other_grids
        for method in ("get_params", "set_prior_variance", "log_predictive"):
            if not callable(getattr(learner, method, None)):
                raise TypeError(
                    f"learner must be a grouped-prior Bayesian learner with {method}(), "
                    f"got {type(learner).__name__}"
                )
        if group not in learner.columns:
            raise ValueError(f"group must be one of {list(learner.columns)}, got {group!r}")
        self._values = _candidate_values(group, grid, other_grids, list(learner.columns))
        self._grid = self._values[group]
        self.n_replicates = learner.n_replicates
        self._r = 1 if self.n_replicates is None else self.n_replicates
        self._g = len(self._grid)
        params = learner.get_params()
        prior = params.get("prior_variance", 1.0)
        if isinstance(prior, Mapping):  # per-replicate values repeat for every candidate
            prior = {k: np.tile(v, self._g) if np.ndim(v) == 1 else v for k, v in prior.items()}
        self._inner = type(learner)(
            **{**params, "prior_variance": prior, "n_replicates": self._g * self._r}
        )
        for name, values in self._values.items():
            self._inner.set_prior_variance(name, np.repeat(values, self._r))
        self._step = 0
        self._events: list[Event] = []

    @property
    def n_features(self) -> int:
        return int(self.learner.n_features)

    @property
    def columns(self) -> dict[str, np.ndarray]:
        return self.learner.columns

    @property
    def candidates(self) -> dict[str, np.ndarray]:
        """The prior variance of every averaged group, one value per candidate, ``(C,)`` each."""
        return {name: values.copy() for name, values in self._values.items()}

    def _lead(self) -> tuple[int, ...]:
        return () if self.n_replicates is None else (self.n_replicates,)

    def _tile(self, array: np.ndarray) -> np.ndarray:
        """``(..., rest)`` per replicate -> ``(G * R, rest)`` for the inner learner."""
        block = array if self.n_replicates is not None else array[None]
        return np.broadcast_to(block, (self._g, *block.shape)).reshape(
            self._g * self._r, *block.shape[1:]
        )

    def _split(self, array: np.ndarray) -> np.ndarray:
        """Inner ``(G * R, ...)`` -> ``(G, R, ...)``."""
        return np.asarray(array).reshape(self._g, self._r, *np.shape(array)[1:])

    def _drop(self, array: np.ndarray) -> Any:
        out = array if self.n_replicates is not None else array[0]
        return float(out) if np.ndim(out) == 0 else out

    def _check_xy(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        x, y = float_array("x", x), float_array("y", y)
        lead = self._lead()
        if x.shape != (*lead, self.n_features):
            raise ValueError(f"x must have shape {(*lead, self.n_features)}, got {x.shape}")
        if y.shape != lead:
            raise ValueError(f"y must have shape {lead}, got {y.shape}")
        check_finite("x", x)
        check_finite("y", y)
        return x, y

    def _check_x(self, x: Any) -> np.ndarray:
        x = float_array("x", x)
        lead = self._lead()
        if x.shape[: len(lead)] != lead or x.ndim < len(lead) + 1 or x.shape[-1] != self.n_features:
            raise ValueError(
                f"x must have shape {(*lead, self.n_features)} (optionally with "
                f"action axes before the last), got {x.shape}"
            )
        return x

    def _record(self, old: np.ndarray, new: np.ndarray) -> None:
        """One event per replicate and group whose variance differs between two candidates."""
        for r in np.flatnonzero(old != new):
            for name, values in self._values.items():
                before, after = float(values[old[r]]), float(values[new[r]])
                if before != after:
                    self._events.append(Event(int(r), self._step, name, before, after))

    def pop_events(self) -> list[Event]:
        """Changes of the leading candidate since the last call (for escalation timelines)."""
        events, self._events = self._events, []
        return events

    def get_params(self) -> dict[str, Any]:
        return {
            "learner": self.learner,
            "group": self.group,
            "grid": self.grid,
            "other_grids": self.other_grids,
        }

    def clone(self) -> Any:
        return type(self)(**self.get_params())
