"""Learners made of candidates: one group's prior variance on a grid, all run side by side.

The candidates are the replicates of one inner learner, ``C x R`` of them (candidate-major), so
they see the same data and differ only in their group priors: ``group``'s variance on ``grid``
and, optionally, other groups' variances on ``other_grids`` (the candidates are then the
product of the grids, ``grid`` varying slowest). :class:`ModelAveraging` weights
their predictions by running evidence; ``champion.ChampionChallenger`` predicts with one and
promotes another when its progressive loss is better by a confidence margin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp

from regretlab.policies.escalation._candidates_base import _Candidates
from regretlab.policies.escalation._grids import _fitter, _log_prior, _moments, _pick
from regretlab.policies.escalation._grids import _fractional_evidence as fractional_evidence
from regretlab.policies.escalation.evidence import LADDER

__all__ = ["SCALES", "ModelAveraging"]

#: The recommended grid of the other groups' shared variance (relative to the noise): decades
#: from strong shrinkage (0.1: a signal a tenth of the noise) through the unit-information prior
#: (1: the prior weighs as much as one observation of a standardised feature) to the weak
#: prior 100.
SCALES = (0.1, 1.0, 10.0, 100.0)


class ModelAveraging(_Candidates):
    """Bayesian model averaging over a grid of ``group``'s prior variance (0 included).

    Each candidate's weight is its running evidence ``sum_t log p(y_t | y_<t)`` (the chain rule
    makes this the exact marginal likelihood) under a uniform prior over the grid; predictions,
    the posterior mean and sd, and posterior draws (a candidate drawn by weight, then its
    weights) are those of the mixture. One inner learner holds all candidates, so the grid costs
    one rank-one update per candidate per step. Where some candidates have a flat prior on a
    group that others shrink (``inf`` in ``other_grids``), the evidence starts after a common
    training sample, and until it has counted once the mixture uses only the candidates flat
    wherever any candidate is flat.

    Parameters
    ----------
    learner
        A grouped-prior Bayesian learner (known or learned noise); its other settings are kept.
    group
        The group whose variance is averaged over.
    grid
        Candidate variances of ``group``.
    other_grids
        Optional grids of other groups' variances (for example the main effects' scale,
        ``{"main": (0.1, 1, 10, 100)}``; a tuple key, or names joined by ``+`` as in
        ``"intercept+main"``, ties several groups to one variance),
        averaged over jointly: the candidates are every combination, with equal prior weight,
        and :attr:`weights` is over all of them.
    off_weight
        Prior probability that ``group`` is off (variance 0); the rest is spread evenly over
        its positive values (and evenly over the other grids). ``None``: every candidate
        equally likely.
    fit
        Groups whose variance every candidate sets itself by maximising its evidence
        (type-II maximum likelihood, :class:`EmpiricalBayes`), from ``2p`` observations on and
        then every 10% more data: a continuous scale instead of a grid, which keeps the number
        of averaged candidates (and the price of averaging) small.
    comparison
        How candidates that differ in their flat groups are compared once the common training
        sample of ``m`` observations is in. ``"fractional"``: fractional Bayes factors (O'Hagan
        1995), ``p(y_1..n) / int prior x likelihood(y_1..n)^(m / n)``, between the sets of
        candidates that share their flat groups (each set the mixture of its candidates; within
        a set, their exact evidence), recomputed up to ``n = 2p`` and then grown by the chain
        rule: the comparison keeps the training observations (a shrunk intercept far from the
        data loses at once, instead of lingering). ``"partial"``: partial Bayes factors, the
        evidence of the observations after the training sample only. Needs a learner with
        ``log_evidence(fraction=...)``; otherwise, and where all candidates share their flat
        groups, the comparison is partial.
    draw
        What :meth:`sample` (Thompson sampling's draw) draws from: ``"mixture"``, a candidate
        drawn by weight (exact model averaging); ``"leader"``, the candidate of highest weight
        (empirical Bayes). Predictions, the mean and the sd are the mixture's either way.

    Examples
    --------
    >>> from regretlab.learners import NormalInverseGammaRegression
    >>> base = NormalInverseGammaRegression(groups=("main", "pairwise"))
    >>> bma = ModelAveraging(learner=base, grid=(0.0, 1.0))
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(300):
    ...     x = rng.uniform(-1, 1, 2)
    ...     bma = bma.learn_one(x, x[0] + 0.1 * rng.normal())
    >>> bma.weights.round(2)
    array([0.91, 0.09])
    """

    def __init__(
        self,
        *,
        learner: Any,
        group: str = "pairwise",
        grid: Sequence[float] = LADDER,
        other_grids: Mapping[Any, Sequence[Any]] | None = None,
        off_weight: float | None = None,
        fit: Sequence[str] = (),
        comparison: str = "fractional",
        draw: str = "mixture",
    ) -> None:
        super().__init__(learner=learner, group=group, grid=grid, other_grids=other_grids)
        if comparison not in ("fractional", "partial"):
            raise ValueError(f"comparison must be 'fractional' or 'partial', got {comparison!r}")
        if draw not in ("mixture", "leader"):
            raise ValueError(f"draw must be 'mixture' or 'leader', got {draw!r}")
        self.draw = draw
        self.off_weight = off_weight
        self.fit = fit
        self.comparison = comparison
        self._log_prior = _log_prior(self._grid, off_weight)
        self._log_weight = np.repeat(self._log_prior[:, None], self._r, axis=1)
        self._leader = np.argmax(self._log_weight, axis=0)
        self._fitter = _fitter(fit, self._values, list(learner.columns))
        # Type-II maximum likelihood is wild while the data barely determine the model: fits
        # start at 2p observations (the candidates keep their given variance until then).
        self._next_fit = 2 * self.n_features
        self._counting = False
        self._flat_differs = any(
            np.isinf(v).any() and not np.isinf(v).all() for v in self._values.values()
        )
        # While the training sample comes in, the mixture predicts with the candidates that are
        # flat wherever any candidate is (their predictions do not depend on where the user puts
        # the origin of a flat group's scale; the others' would, before any evidence weighs them).
        flat = [np.isinf(v) for v in self._values.values() if np.isinf(v).any()]
        least = np.logical_and.reduce(flat) if flat else np.zeros(self._g, dtype=bool)
        self._start_penalty = np.where(least, 0.0, -np.inf)[:, None] if least.any() else None
        # The size of the common training sample once it is complete (-1: not yet).
        self._training = -1
        self._evidence = np.zeros_like(self._log_weight)  # log p(y_1..n) while fractional
        pattern = np.stack([np.isinf(v) for v in self._values.values()], axis=1)
        _, which = np.unique(pattern, axis=0, return_inverse=True)
        self._flat_sets = [np.flatnonzero(which.ravel() == k) for k in np.unique(which)]
        self._fractional = (
            comparison == "fractional"
            and self._flat_differs
            and callable(getattr(self._inner, "log_evidence", None))
        )

    def _in_training(self) -> bool:
        """Whether the common training sample is still incomplete (see :meth:`_training_done`)."""
        if not getattr(self._inner, "proper", True):
            return True
        if self._flat_differs and hasattr(self._inner, "noise_posterior"):
            shape, _ = self._inner.noise_posterior
            return bool(np.any(np.asarray(shape) < float(self._inner.noise_shape) + 0.5))
        return False

    def _mixing_log_weight(self) -> np.ndarray:
        """The log weights predictions and draws use: until the evidence has weighed the
        candidates once, only the least informative ones (flat wherever any candidate is)."""
        if self._start_penalty is not None and not self._counting:
            return self._log_weight + self._start_penalty
        return self._log_weight

    def _training_done(self) -> bool:
        """Whether every candidate's predictive is proper, so the evidence may start counting.

        The observations before are a training sample common to all candidates (a partial Bayes
        factor, or the fraction of a fractional one). Flat priors must be determined first.
        Where only some candidates have a flat prior on a group (``inf`` in an entry of
        ``other_grids``), a learned noise must also have one residual degree of freedom in every
        candidate: otherwise their predictive is, under a vague noise prior (``a_0 -> 0``),
        improper in scale and loses to the others for that reason alone. Candidates that share
        their flat columns compare fairly from the first proper step, by their exact evidence.
        """
        if self._in_training():
            return False
        self._counting = True
        return True

    @classmethod
    def recommended(
        cls,
        groups: Any,
        *,
        group: str = "pairwise",
        n_replicates: int | None = None,
        off_weight: float | None = None,
        draw: str = "leader",
    ) -> ModelAveraging:
        """The default escalation, by a rule that needs nothing known about the problem.

        - The noise is learned (:class:`~regretlab.learners.NormalInverseGammaRegression`) under
          a vague inverse-gamma prior, ``a_0 = b_0 = 1e-3`` (close to Jeffreys' ``1 / sigma^2``):
          the candidates' evidence then discriminates from the first observations instead of
          waiting for the data to overrule a guess of the noise level. The posterior means do
          not depend on this prior; only the weights between candidates do.
        - ``group`` starts switched off and is averaged over 0 and the decades 1e-3 .. 1e2
          (variances relative to the noise), jointly with one variance shared by every other
          group, on the decades from strong shrinkage to the weak prior, 0.1 .. 100
          (:data:`SCALES`): the signal-to-noise ratio of the rest of the model is not known
          either, and a fixed guess of it distorts the comparison between candidates (with a
          weak prior, a model without ``group`` looks over-fitted as soon as it has a few more
          observations than coefficients, and the looser candidates win the evidence for the
          wrong reason).
        - An ``"intercept"`` group is, in half of the prior mass, shrunk with the other groups
          and, in the other half, flat. The intercept is the one coefficient whose size depends
          on where the user puts the origin of ``y``: the flat half keeps the default's
          predictions from depending on that (a large intercept is not shrunk while the first
          observations come in), the shrunk half keeps the gain of shrinking a small one. A
          common training sample of ``m`` observations makes every candidate proper, with one
          residual degree of freedom for its noise; until then predictions and draws come from
          the flat half alone, so they do not depend on the origin of ``y`` either. The two
          halves are then compared by fractional Bayes factors (``comparison="fractional"``,
          O'Hagan 1995: a fraction ``m / n`` of the likelihood of all ``n`` observations
          calibrates the flat half, none is set aside), so the training observations count:
          a shrunk intercept far from the data loses at once rather than lingering for steps.

        - In a bandit, Thompson sampling draws from the candidate of highest weight
          (``draw="leader"``: empirical Bayes, the prior chosen by its evidence; predictions are
          the mixture's). The evidence against a looser candidate grows only as fast as the
          policy explores, so a draw by weight (``"mixture"``) keeps paying its exploration.

        All combinations have equal prior weight (``off_weight``: that prior probability on
        ``group`` off). Measured in ``benchmarks/RESULTS.md``, "Escalation you can trust" and
        "Issue 16, sixth session: the bandit scenarios".

        >>> bma = ModelAveraging.recommended(("intercept", "main", "pairwise"))
        >>> bma.grid
        (0.0, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
        >>> bma.other_grids[("intercept", "main")][::4]
        ((0.1, 0.1), (inf, 0.1))
        >>> len(bma.candidates["main"])  # 7 x (4 shrunk + 4 flat intercepts)
        56
        """
        from regretlab.learners import NormalInverseGammaRegression

        labels = tuple(dict.fromkeys(getattr(groups, "groups", groups)))
        prior = {g: (0.0 if g == group else 100.0) for g in labels}
        base = NormalInverseGammaRegression(
            groups=groups,
            prior_variance=prior,
            noise_shape=1e-3,
            noise_scale=1e-3,
            n_replicates=n_replicates,
        )
        others = tuple(g for g in labels if g != group)
        if not others:
            return cls(learner=base, group=group, grid=LADDER, off_weight=off_weight, draw=draw)
        shrunk = [tuple(s for _ in others) for s in SCALES]
        flat = [tuple(np.inf if g == "intercept" else s for g in others) for s in SCALES]
        entries = tuple(dict.fromkeys(shrunk + flat))  # one flat entry if only the intercept
        return cls(
            learner=base,
            group=group,
            grid=LADDER,
            other_grids={others: entries},
            off_weight=off_weight,
            draw=draw,
        )

    @property
    def weights(self) -> np.ndarray:
        """Posterior probability of every candidate, ``(G, ...)``."""
        log_weight = self._mixing_log_weight()
        w = np.exp(log_weight - log_weight.max(axis=0))
        w /= w.sum(axis=0)
        return w if self.n_replicates is not None else w[:, 0]

    def learn_one(self, x: Any, y: Any) -> ModelAveraging:
        x, y = self._check_xy(x, y)
        xs, ys = self._tile(x), self._tile(np.asarray(y))
        if self._counting or self._training_done():
            if self._training < 0:
                self._training = self._step
                if self._fractional_step(self._step + 1):  # log p(y_1..m), then the chain rule
                    self._evidence = self._split(self._inner.log_evidence())
            log_predictive = self._split(self._inner.log_predictive(xs, ys))
            if self._fractional_step(self._step + 1):
                self._evidence += log_predictive
            else:
                self._log_weight += log_predictive
        self._inner.learn_one(xs, ys)
        self._step += 1
        if self._counting and self._fractional_step(self._step):
            self._log_weight = self._fractional_log_weight()
        if (
            self._fitter is not None
            and self._step >= self._next_fit
            and getattr(self._inner, "proper", True)
        ):
            self._fitter.update(self._inner, self._step)
            # Refit on a geometric schedule (every 10% more data, at least every 10 steps
            # early on): a type-II maximum moves slowly once the data dominate.
            self._next_fit = max(self._step + 10, int(np.ceil(self._step * 1.1)))
        leader = np.argmax(self._log_weight, axis=0)
        self._record(self._leader, leader)
        self._leader = leader
        return self

    def _fractional_log_weight(self) -> np.ndarray:
        """Log weights by fractional Bayes factors between the sets of candidates that share
        their flat groups, each set a mixture of its candidates; exact evidence within a set.

        A set ``S`` (prior mass ``pi_S``) is scored ``p(y | S) / int prior_S x lik^b``, ``b = m
        / n``; a candidate's weight is its set's times its posterior weight within the set, so
        ``log w_i = log pi_i + log p_i(y) - log sum_{j in S} (pi_j / pi_S) p_j^b(y)``.
        """
        b = self._training / self._step
        part = fractional_evidence(self._inner, self._g, self.columns[self.group], b)
        out = self._log_prior[:, None] + self._evidence
        for members in self._flat_sets:
            prior = self._log_prior[members] - logsumexp(self._log_prior[members])
            out[members] -= logsumexp(prior[:, None] + part[members], axis=0)
        return out

    def _fractional_step(self, n: int) -> bool:
        """Whether the weights after ``n`` observations are fractional Bayes factors."""
        return self._fractional and 0 < self._training < n <= 2 * self.n_features

    def _mixture(self, x: np.ndarray, include_noise: bool) -> tuple[np.ndarray, np.ndarray]:
        loc, sd = self._inner.predict_one(
            self._tile(x), return_sd=True, include_noise=include_noise
        )
        return _moments(self._mixing_log_weight(), self._split(loc), self._split(sd))

    def predict_one(self, x: Any, *, return_sd: bool = False, include_noise: bool = True) -> Any:
        """The mixture's predictive mean (and sd) for ``x`` ``(..., [K,] p)``."""
        x = self._check_x(x)
        if not return_sd:
            loc = self._split(self._inner.predict_one(self._tile(x)))
            w = self.weights if self.n_replicates is not None else self.weights[:, None]
            return self._drop((w.reshape(w.shape + (1,) * (loc.ndim - 2)) * loc).sum(axis=0))
        mean, sd = self._mixture(x, include_noise)
        return self._drop(mean), self._drop(sd)

    @property
    def mean(self) -> np.ndarray:
        w = self.weights if self.n_replicates is not None else self.weights[:, None]
        return self._drop((w[..., None] * self._split(self._inner.mean)).sum(axis=0))

    @property
    def sd(self) -> np.ndarray:
        _, sd = _moments(
            self._mixing_log_weight(), self._split(self._inner.mean), self._split(self._inner.sd)
        )
        return self._drop(sd)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Per replicate a candidate (by weight, or the leader), then weights from its posterior."""
        if size is not None:
            raise ValueError("ModelAveraging.sample draws one vector per replicate; size=None")
        w = self.weights if self.n_replicates is not None else self.weights[:, None]
        pick = _pick(w, self.draw, rng)
        # Where the inner learner can, only the picked candidates' covariances are factored.
        rows = getattr(self._inner, "_sample_rows", None)
        if rows is not None:
            return self._drop(rows(rng, pick * self._r + np.arange(self._r)))
        return self._drop(self._split(self._inner.sample(rng))[pick, np.arange(self._r)])

    def get_state(self) -> dict[str, np.ndarray]:
        return {
            **self._inner.get_state(),
            "log_weight": self._log_weight.copy(),
            "step": np.asarray(self._step),
            "counting": np.asarray(self._counting),
            "training": np.asarray(self._training),
            "evidence": self._evidence.copy(),
        }

    def get_params(self) -> dict[str, Any]:
        return {
            **super().get_params(),
            "off_weight": self.off_weight,
            "fit": self.fit,
            "comparison": self.comparison,
            "draw": self.draw,
        }

    def set_state(self, state: Mapping[str, np.ndarray]) -> ModelAveraging:
        own = ("log_weight", "step", "counting", "training", "evidence")
        inner = {k: v for k, v in state.items() if k not in own}
        log_weight = np.asarray(state["log_weight"], dtype=float)
        if log_weight.shape != self._log_weight.shape:
            raise ValueError(
                f"state['log_weight'] must have shape {self._log_weight.shape}, "
                f"got {log_weight.shape}"
            )
        self._inner.set_state(inner)
        self._log_weight = log_weight.copy()
        self._step = int(state["step"])
        self._leader = np.argmax(self._log_weight, axis=0)
        self._next_fit = max(self._step + 1, 2 * self.n_features)
        self._counting = bool(state.get("counting", False))
        self._training = int(state.get("training", -1))
        evidence = state.get("evidence", np.zeros_like(self._log_weight))
        self._evidence = np.asarray(evidence, dtype=float).reshape(self._log_weight.shape).copy()
        return self

    def __repr__(self) -> str:
        others = "" if not self.other_grids else f", other_grids={dict(self.other_grids)}"
        return f"ModelAveraging(group={self.group!r}, grid={tuple(self.grid)}{others})"
