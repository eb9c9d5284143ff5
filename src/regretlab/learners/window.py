"""Sliding-window Bayesian linear regression: the posterior of the last ``W`` observations.

The model of sliding-window Thompson sampling and SW-LinUCB (Garivier & Moulines 2011; Cheung,
Simchi-Levi & Zhu 2019): the conjugate Gaussian posterior under the grouped prior of
:class:`~regretlab.learners.BayesianLinearRegression`, given only the most recent ``window``
observations of each replicate. See :mod:`regretlab.learners.drift_rules` for a window length
set from the horizon and the expected number of changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from regretlab._validation import check_int, check_state
from regretlab.learners import gaussian, stats
from regretlab.learners.bayes import _STATE_KEYS, BayesianLinearRegression
from regretlab.learners.rank import DEFAULT_RANK_TOL

__all__ = ["SlidingWindowBayesianLinearRegression"]


class SlidingWindowBayesianLinearRegression(BayesianLinearRegression):
    """Conjugate Gaussian linear regression on the last ``window`` observations only.

    Every replicate keeps its last ``window`` rows in a ring. A new row is added to the exact
    sufficient statistics and the row it pushes out of the window is subtracted (downdated), so
    the posterior equals a batch fit on the window; the statistics are re-summed from the ring
    every ``max(window, refresh_every)`` rows so rounding cannot build up. The posterior is
    re-solved (O(p^3)) whenever it is read after new data, since a downdate is not a
    Sherman-Morrison update of the cached posterior. Prior changes
    (:meth:`~regretlab.learners.BayesianLinearRegression.set_prior_variance`) stay exact.

    Parameters
    ----------
    groups, prior_variance, noise_precision, n_replicates, refresh_every, rank_tol
        As for :class:`~regretlab.learners.BayesianLinearRegression` (there is no
        ``forgetting``: the window is the forgetting).
    window
        Number of most recent observations the posterior is conditioned on, ``>= 1``.

    Examples
    --------
    >>> model = SlidingWindowBayesianLinearRegression(groups=("main",), window=2)
    >>> for x, y in [(1.0, 5.0), (1.0, 1.0), (1.0, 1.0)]:
    ...     model = model.learn_one(np.array([x]), y)
    >>> float(model.n_seen), model.mean.round(3)  # the first row has left: mean 2 / (1 + 2)
    (2.0, array([0.667]))
    """

    def __init__(
        self,
        *,
        groups: Any,
        window: int,
        prior_variance: float | Mapping[str, Any] = 1.0,
        noise_precision: float = 1.0,
        n_replicates: int | None = None,
        refresh_every: int = 1024,
        rank_tol: float = DEFAULT_RANK_TOL,
    ) -> None:
        super().__init__(
            groups=groups,
            prior_variance=prior_variance,
            noise_precision=noise_precision,
            n_replicates=n_replicates,
            refresh_every=refresh_every,
            rank_tol=rank_tol,
        )
        self.window = window
        check_int("window", window, minimum=1)
        width = 1 if n_replicates is None else n_replicates
        p = self.n_features
        # The ring, replicate first: row i of replicate r is at (count[r] - 1 - i) % window
        # positions back from the next slot; counts may differ after a partial restore.
        self._ring_x = np.zeros((width, window, p))
        self._ring_y = np.zeros((width, window))
        self._count = np.zeros(width, dtype=np.int64)
        self._since_resum = 0

    # -- the window ---------------------------------------------------------------------------
    def _accumulate(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add rows ``(..., m, p)`` in order; subtract the rows they push out of the window."""
        width, w, p = self._ring_x.shape
        x = x.reshape(width, -1, p)
        y = y.reshape(width, -1)
        flat = stats.SufficientStats(
            *(a.reshape(width, *a.shape[len(self._batch) :]) for a in self._stats)
        )
        reps = np.arange(width)[:, None]
        for lo in range(0, y.shape[1], w):
            new_x, new_y = x[:, lo : lo + w], y[:, lo : lo + w]
            ages = self._count[:, None] + np.arange(new_y.shape[1])
            slots = ages % w
            leaving = (ages >= w).astype(float)
            old_x = self._ring_x[reps, slots] * leaving[..., None]
            old_y = self._ring_y[reps, slots] * leaving
            added, removed = stats.from_rows(new_x, new_y), stats.from_rows(old_x, old_y)
            for total, plus, minus in zip(flat[:3], added[:3], removed[:3], strict=True):
                total += plus - minus
            flat.n[...] += new_y.shape[1] - leaving.sum(axis=1)
            self._ring_x[reps, slots] = new_x
            self._ring_y[reps, slots] = new_y
            self._count += new_y.shape[1]
        self._since_resum += y.shape[1]
        if self._since_resum >= max(w, self.refresh_every):
            self._resum()

    def _resum(self) -> None:
        """The statistics summed afresh from the ring (exactly those of the window)."""
        w = self._ring_x.shape[1]
        filled = (np.arange(w)[None, :] < np.minimum(self._count, w)[:, None]).astype(float)
        fresh = stats.from_rows(self._ring_x * filled[..., None], self._ring_y * filled)
        fresh = fresh._replace(n=filled.sum(axis=1))
        for total, part in zip(self._stats, fresh, strict=True):
            total[...] = part.reshape(total.shape)
        self._since_resum = 0

    def _apply_pending(self) -> gaussian.GaussianPosterior:
        if self._n_applied == self._n_buf and self._post is not None:
            return self._post
        return self._refresh()

    @property
    def n_seen(self) -> np.ndarray:
        """Observations in the window (per replicate)."""
        return self.stats.n

    # -- persistence --------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """The statistics, the prior and the window's rows (replicate axis first)."""
        state = super().get_state()
        single = self.n_replicates is None
        ring_x, ring_y = self._ring_x.copy(), self._ring_y.copy()
        count = self._count.astype(float)
        return {
            **state,
            "window_x": ring_x[0] if single else ring_x,
            "window_y": ring_y[0] if single else ring_y,
            "window_count": count[0] if single else count,
        }

    def set_state(self, state: Mapping[str, np.ndarray]) -> SlidingWindowBayesianLinearRegression:
        """Restore what :meth:`get_state` returned (shapes must match this model)."""
        template = self.get_state()
        arrays = check_state(state, {k: np.shape(v) for k, v in template.items()})
        width = self._ring_x.shape[0]
        count = arrays["window_count"].reshape(width)
        if (count < 0).any() or (count != np.round(count)).any():
            raise ValueError(f"state['window_count'] must be counts >= 0, got {count}")
        super().set_state({k: arrays[k] for k in _STATE_KEYS})
        self._ring_x[...] = arrays["window_x"].reshape(self._ring_x.shape)
        self._ring_y[...] = arrays["window_y"].reshape(self._ring_y.shape)
        self._count[...] = count.astype(np.int64)
        return self

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        params = super().get_params()
        del params["forgetting"]
        return {**params, "window": self.window}
