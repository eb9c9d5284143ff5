"""What the data-reading triggers share: a test that starts once the main effects are identified.

Both :class:`~regretlab.policies.escalation.EvidenceSwitch` and
:class:`~regretlab.policies.escalation.UncertaintyTrigger` ask, per replicate, whether a group
that is switched off (variance 0) earns its keep, using only the data after a start ``n0``
(by default ``2p`` observations: the first ``p`` determine the model, the next ``p`` give the
comparison something to stand on). At ``n0`` they take a snapshot of the learner's sufficient
statistics and of the candidates' log evidence; afterwards

- the alternative's predictive probability of the observations after ``n0`` is the ratio of
  its marginal likelihoods, ``p(y_1..t) / p(y_1..n0)`` (the chain rule), for a mixture over
  the ``ladder``'s positive values with equal weights;
- the null's fit to the same observations is a least-squares fit of the columns the null keeps,
  on the windowed statistics ``S(t) - S(n0)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from regretlab._lazy import lazy_function
from regretlab.learners.rank import solve_flat
from regretlab.learners.stats import SufficientStats

if TYPE_CHECKING:
    from scipy.special import logsumexp
else:
    logsumexp = lazy_function("scipy.special", "logsumexp")

__all__ = ["Window"]


def _learned_noise(model: Any) -> bool:
    """Whether the learner learns its noise (the null then maximises over it too)."""
    return hasattr(model, "noise_posterior")


class Window:
    """The per-replicate snapshot at the start of a test, and the statistics read from it.

    ``alternatives`` are the positive variances of ``group`` mixed with equal weights.
    """

    def __init__(self, group: str, alternatives: np.ndarray, start: int | None) -> None:
        self.group = group
        self.alternatives = alternatives
        self.start = start
        self._stats: SufficientStats | None = None
        self._alt0: np.ndarray | None = None
        self._null0: np.ndarray | None = None
        self.n0 = 0

    def ready(self, model: Any) -> bool:
        """Take the snapshot at the first call with ``n >= start``; ``True`` from then on."""
        if self._stats is not None:
            return True
        n = float(np.max(model.stats.n))
        p = int(model.n_features)
        if n < (2 * p if self.start is None else self.start):
            return False
        self._stats = SufficientStats(*(np.array(a, copy=True) for a in model.stats))
        self._alt0 = self.log_alternatives(model)
        self._null0 = model.log_evidence({self.group: np.zeros(1)})[0]
        self.n0 = int(n)
        return True

    def log_alternatives(self, model: Any) -> np.ndarray:
        """Log evidence of every alternative, ``(A, ...)``, on everything learned."""
        return np.asarray(model.log_evidence({self.group: self.alternatives}))

    def log_mixture_gain(self, model: Any, now: np.ndarray | None = None) -> np.ndarray:
        """``log`` of the alternatives' mixture predictive of the observations after ``n0``
        (``now``: :meth:`log_alternatives` if already computed)."""
        assert self._alt0 is not None
        now = self.log_alternatives(model) if now is None else now
        # Mixture weights at n0 are the equal prior weights updated by the first n0 points.
        return logsumexp(now, axis=0) - logsumexp(self._alt0, axis=0)

    def log_bayes_factors(self, model: Any, now: np.ndarray | None = None) -> np.ndarray:
        """Partial Bayes factors of each alternative against ``group`` off, ``(A, ...)``:
        the first ``n0`` observations serve as the training sample (O'Hagan 1995)."""
        assert self._alt0 is not None
        assert self._null0 is not None
        null = model.log_evidence({self.group: np.zeros(1)})[0]
        now = self.log_alternatives(model) if now is None else now
        return (now - self._alt0) - (null - self._null0)

    def log_null_fit(self, model: Any) -> np.ndarray:
        """The null's maximised log likelihood of the observations after ``n0``, ``(...)``.

        The null keeps every column whose prior variance is positive, except ``group``'s, and
        its weights (and, when the learner learns its noise, its noise variance) are fitted to
        those observations alone. ``+inf`` while the fit interpolates them.
        """
        assert self._stats is not None
        now = model.stats
        window = SufficientStats(*(a - b for a, b in zip(now, self._stats, strict=True)))
        keep = np.zeros(window.xty.shape, dtype=bool)
        for name, cols in model.columns.items():
            if name != self.group:
                on = np.asarray(model.get_prior_variance(name)) > 0.0
                keep[..., cols] = np.expand_dims(on, -1)
        # Columns the null drops are zeroed out of the fit: with every column flat, the
        # minimum-norm solution gives them weight 0.
        gram = window.xtx * (keep[..., :, None] & keep[..., None, :])
        xty = np.where(keep, window.xty, 0.0)
        fit = solve_flat(gram, xty, np.ones(gram.shape[-1], dtype=bool), with_covariance=False)
        rss = window.yty - np.einsum("...p,...p->...", fit.mean, xty)
        m = window.n
        if _learned_noise(model):
            dof = m - keep.sum(axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                value = -0.5 * m * (np.log(2 * np.pi * np.maximum(rss, 0.0) / m) + 1.0)
            return np.where((dof > 0) & (rss > 0.0), value, np.inf)
        beta = float(model.noise_precision)
        return 0.5 * m * np.log(beta / (2 * np.pi)) - 0.5 * beta * np.maximum(rss, 0.0)
