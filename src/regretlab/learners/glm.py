"""A Bayesian GLM (logit or log link) kept online by a full-covariance Laplace approximation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from regretlab._validation import (
    as_float_array,
    check_choice,
    check_finite,
    check_int,
    check_state,
    float_array,
)
from regretlab.learners import gaussian, stats
from regretlab.learners.bayes import BayesianLinearRegression
from regretlab.learners.glm_math import (
    LINKS,
    curvature,
    log_likelihood,
    mean_response,
    newton_map,
    site_step,
    sites,
)
from regretlab.learners.rank import DEFAULT_RANK_TOL

__all__ = ["BayesianGLM"]

# The Gaussian sites are held as the statistics of a linear-Gaussian model with this noise
# precision: its normalising term n/2 log(beta / 2 pi) is then 0, so the Gaussian formulas of
# the evidence and of a least-squares fit give the Laplace quantities with no constant to undo.
_BETA = 2.0 * math.pi
# An online step that shrinks a variance by more than this factor loses digits in the
# Sherman-Morrison update: the posterior is re-solved from the statistics instead.
_MAX_SHRINK = 1e3


class BayesianGLM(BayesianLinearRegression):
    """Bayesian logistic (``link="logit"``) or Poisson (``link="log"``) regression with one
    zero-mean Gaussian prior variance per feature group, kept online by a Laplace approximation.

    Every observation replaces its log likelihood by a second-order expansion (a Gaussian
    "site", :mod:`regretlab.learners.glm_math`) at the mode of the current Gaussian posterior
    times that observation: the mode lies on the line ``m + t S x``, found by a scalar Newton
    solve, and the covariance takes the rank-one update of the curvature there (O(p^2) per
    observation, replicates in lockstep). The sites are summed exactly into
    ``L = sum h x x'``, ``b`` and ``c`` (see :attr:`stats`), so the posterior
    ``N(P^{-1} b, P^{-1})``, ``P = diag(1/v) + L``, is recomputed from them every
    ``refresh_every`` steps and after every prior change.

    A GLM has no finite sufficient statistics, so a prior change is approximate: the Gaussian
    approximation of the likelihood (``P`` minus the old prior precision, and ``b``) is kept
    and the prior swapped. With ``refit_start`` the observations are stored and the posterior
    is refitted to the exact MAP by Newton's method (IRLS) when the count reaches
    ``refit_start`` and each time it doubles after that (amortised O(p^2) per observation);
    the sites are then re-expanded at the MAP, which makes the posterior the textbook Laplace
    approximation and :meth:`log_evidence` the Laplace evidence. :meth:`refit` does it at any
    time.

    Parameters
    ----------
    groups
        The feature group of every design column, or a feature map.
    prior_variance
        One variance for every group or ``{group: variance}`` (others get 1.0), scalar or one
        per replicate; ``0`` switches a group off, ``inf`` is a flat prior.
    link
        ``"logit"`` (rewards in {0, 1}) or ``"log"`` (counts >= 0).
    n_replicates
        ``None`` for one stream, else ``R`` models in lockstep.
    refit_start
        ``None`` (online only, nothing stored) or the observation count of the first refit to
        the MAP; the observations are then stored (``R n p`` floats).
    refresh_every
        Re-solve the posterior from the site statistics after this many online steps.
    rank_tol
        As for :class:`~regretlab.learners.BayesianLinearRegression` (flat priors).

    Notes
    -----
    The attribute ``noise_precision`` is ``2 pi``: :attr:`stats` writes the summed sites as the
    statistics of a linear-Gaussian model with that noise precision, whose log likelihood
    ``-pi (y'y - 2 w'X'y + w'X'X w)`` is the quadratic ``c + b'w - w'Lw/2`` exactly. The
    schedulers that read statistics and evidence (:class:`~regretlab.policies.escalation.
    UncertaintyTrigger`, ``EvidenceSwitch``, ``EmpiricalBayes``) then work on the Laplace
    approximation; their Gaussian guarantees hold only as far as it does.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.c_[np.ones(400), rng.normal(size=400)]
    >>> y = (rng.random(400) < 1 / (1 + np.exp(-(x @ [-1.0, 2.0])))).astype(float)
    >>> model = BayesianGLM(groups=("intercept", "main"), link="logit", refit_start=400)
    >>> model = model.learn_many(x, y)
    >>> model.mean.round(1)
    array([-1.1,  1.9])
    >>> round(model.predict_one(np.array([1.0, 0.5])), 2)
    0.46
    >>> BayesianGLM(groups=("main",), link="log").learn_one(np.ones(1), -1.0)
    Traceback (most recent call last):
    ValueError: y must be a count >= 0 for the log link (Poisson rewards), got -1.0
    """

    def __init__(
        self,
        *,
        groups: Any,
        prior_variance: float | Mapping[str, Any] = 1.0,
        link: str = "logit",
        n_replicates: int | None = None,
        refit_start: int | None = None,
        refresh_every: int = 256,
        rank_tol: float = DEFAULT_RANK_TOL,
    ) -> None:
        super().__init__(
            groups=groups,
            prior_variance=prior_variance,
            noise_precision=_BETA,
            n_replicates=n_replicates,
            refresh_every=refresh_every,
            rank_tol=rank_tol,
        )
        self.link = link
        self.refit_start = refit_start
        check_choice("link", link, LINKS)
        if refit_start is not None:
            check_int("refit_start", refit_start, minimum=1)
        self._factors = None  # no deferred corrections: every step updates in place
        self._next_refit = refit_start
        self._data: list[np.ndarray] = []  # x, y, weight, grown by doubling
        self._n_data = 0

    # -- input --------------------------------------------------------------------------------
    def _check_targets(self, y: np.ndarray) -> None:
        if self.link == "logit":
            bad = (y != 0.0) & (y != 1.0)
            if np.any(bad):
                raise ValueError(
                    "y must be 0 or 1 for the logit link (Bernoulli rewards), "
                    f"got {float(np.asarray(y)[bad].flat[0])}"
                )
        elif np.any(y < 0.0):
            raise ValueError(
                "y must be a count >= 0 for the log link (Poisson rewards), "
                f"got {float(np.asarray(y)[y < 0.0].flat[0])}"
            )

    def _check_weight(self, weight: Any, shape: tuple[int, ...]) -> np.ndarray | float:
        if weight is None:
            return 1.0
        w = float_array("weight", weight)
        if w.shape != shape:
            raise ValueError(f"weight must have shape {shape}, got {w.shape}")
        if not np.all(np.isfinite(w) & (w >= 0.0)):
            raise ValueError(f"weight must be finite and >= 0, got {w}")
        return w

    # -- learning -----------------------------------------------------------------------------
    def learn_one(self, x: Any, y: Any, *, weight: Any = None) -> BayesianGLM:
        """Learn one observation per replicate, ``x`` ``(..., p)``, ``y`` ``(...)``; an optional
        case ``weight`` ``(...)`` >= 0 multiplies its log likelihood (0 skips it)."""
        x, y = self._check_xy(x, y, rows=False)
        self._check_targets(y)
        w = self._check_weight(weight, self._batch)
        self._step(x, y, w)
        self._store(x[..., None, :], y[..., None], w)
        return self

    def learn_many(self, x: Any, y: Any) -> BayesianGLM:
        """Learn a block of rows in order, ``x`` ``(..., m, p)``, ``y`` ``(..., m)``: the same
        as ``learn_one`` row by row."""
        x, y = self._check_xy(x, y, rows=True)
        self._check_targets(y)
        for i in range(y.shape[-1]):
            self._step(x[..., i, :], y[..., i], 1.0)
            self._store(x[..., i : i + 1, :], y[..., i : i + 1], 1.0)
        return self

    def _step(self, x: np.ndarray, y: np.ndarray, w: np.ndarray | float) -> None:
        post = self._sync()
        mean, cov = post.mean, post.covariance
        sx = np.einsum("...pq,...q->...p", cov, x)
        q = np.einsum("...p,...p->...", x, sx)
        eta0 = np.einsum("...p,...p->...", x, mean)
        # An improper posterior (a flat prior the data do not pin down yet) has no mode on the
        # line: the site is expanded at the current prediction and the posterior re-solved.
        eta = site_step(self.link, eta0, q, y, w) if post.proper else eta0
        h, lin, const = sites(self.link, y, eta, w)
        st = self._stats
        # L's rank-one terms wait as rows sqrt(h / beta) x and are added one block at a time
        # (one batched product instead of an outer product per step).
        if self._n_buf == self._block:
            self._fold()
        self._buf_x[self._n_buf] = np.sqrt(h / _BETA)[..., None] * x
        self._n_buf += 1
        st.xty[...] += (lin / _BETA)[..., None] * x
        st.yty[...] += -2.0 * const / _BETA
        st.n[...] += 1.0
        shrink = h * q
        if not post.proper or np.max(shrink) > _MAX_SHRINK:
            self._post = None
            return
        mean += (lin - h * eta)[..., None] * sx
        cov -= np.einsum("...p,...q->...pq", (h / (1.0 + shrink))[..., None] * sx, sx)
        if self._sampling is not None:  # the same rank-one step, with precision h
            self._sampling.update(post, x, h)
        self._n_updates += 1

    def _fold(self) -> None:
        m = self._n_buf
        if m:
            rows = np.moveaxis(self._buf_x[:m], 0, -2)
            self._stats.xtx[...] += np.swapaxes(rows, -1, -2) @ rows
            self._n_buf = 0

    @property
    def n_seen(self) -> np.ndarray:
        """Observations learned so far (per replicate)."""
        return self._stats.n.copy()

    def _solve(self) -> gaussian.GaussianPosterior:
        self._fold()
        return super()._solve()

    def _sync(self, full: bool = False) -> gaussian.GaussianPosterior:
        post = self._post
        if post is None or not post.proper or self._n_updates >= self.refresh_every:
            post = self._post = self._solve()
            self._n_updates = 0
        return post

    def _sync_draws(self) -> gaussian.GaussianPosterior:
        return self._sync()  # the covariance is always current here

    # -- stored data and the refit ------------------------------------------------------------
    def _store(self, x: np.ndarray, y: np.ndarray, w: np.ndarray | float) -> None:
        if self.refit_start is None:
            return
        n, p = self._n_data, self.n_features
        if not self._data or n == self._data[1].shape[-1]:
            size = max(16, 2 * n)
            grown = [
                np.zeros((*self._batch, size, p)),
                np.zeros((*self._batch, size)),
                np.zeros((*self._batch, size)),
            ]
            if self._data:
                grown[0][..., :n, :] = self._data[0][..., :n, :]
                grown[1][..., :n] = self._data[1][..., :n]
                grown[2][..., :n] = self._data[2][..., :n]
            self._data = grown
        self._data[0][..., n, :] = x[..., 0, :]
        self._data[1][..., n] = y[..., 0]
        self._data[2][..., n] = w
        self._n_data = n + 1
        if self._next_refit is not None and self._n_data >= self._next_refit:
            self._next_refit *= 2
            self.refit()

    def refit(self) -> BayesianGLM:
        """Move the posterior to the exact MAP of the stored data under the current prior and
        re-expand every site there (Newton/IRLS to a Newton decrement of ``1e-10``; needs
        ``refit_start``)."""
        if self.refit_start is None:
            raise ValueError("refit needs the stored observations: build with refit_start=n")
        if self._n_data == 0:
            return self
        n = self._n_data
        x, y, w = self._data[0][..., :n, :], self._data[1][..., :n], self._data[2][..., :n]
        off = self._prior == 0.0
        with np.errstate(divide="ignore"):
            precision = np.where(off, 0.0, 1.0 / self._prior)
        start = self._sync().mean
        mode = newton_map(self.link, x, y, precision, start, weight=w, off=off)
        eta = np.einsum("...np,...p->...n", x, mode)
        h, lin, const = sites(self.link, y, eta, w)
        self._n_buf = 0
        self._stats = stats.SufficientStats(
            np.einsum("...np,...n,...nq->...pq", x, h / _BETA, x),
            np.einsum("...np,...n->...p", x, lin / _BETA),
            np.array(-2.0 * const.sum(axis=-1) / _BETA),
            np.full(self._batch, float(n)),
        )
        self._post = None
        return self

    def log_likelihood(self, weights: Any | None = None) -> np.ndarray:
        """The exact log likelihood of the stored data at ``weights`` (default: the posterior
        mean), per replicate (needs ``refit_start``)."""
        if self.refit_start is None:
            raise ValueError("log_likelihood needs the stored observations: use refit_start=n")
        w = self.mean if weights is None else float_array("weights", weights)
        n = self._n_data
        x, y, c = self._data[0][..., :n, :], self._data[1][..., :n], self._data[2][..., :n]
        eta = np.einsum("...np,...p->...n", x, w)
        return (c * log_likelihood(self.link, y, eta)).sum(axis=-1)

    # -- predictions --------------------------------------------------------------------------
    def predict_one(self, x: Any, *, return_sd: bool = False, include_noise: bool = True) -> Any:
        """Expected reward ``mu(x'm)`` at the posterior mode ``m`` for ``x`` ``(..., [K,] p)``.

        With ``return_sd`` also an sd: by the delta method, ``mu'(x'm) sd(x'w)`` for the mean
        reward (``include_noise=False``), plus the reward's own variance (``mu (1 - mu)`` or
        ``mu``) otherwise.
        """
        x = self._check_x(x)
        post = self._sync()
        if return_sd:
            eta, var = gaussian.predictive(post, x)
        else:
            eta = gaussian.predictive_mean(post, x)
        if not np.all(np.isfinite(eta)):
            check_finite("x", x)
        mu = mean_response(self.link, eta)
        if not return_sd:
            return float(mu) if mu.ndim == 0 else mu
        slope = curvature(self.link, mu)  # d mu / d eta for a canonical link
        total = slope * slope * var + (curvature(self.link, mu) if include_noise else 0.0)
        sd = np.sqrt(total)
        return (mu, sd) if mu.ndim else (float(mu), float(sd))

    def log_predictive(self, x: Any, y: Any) -> np.ndarray:
        """Log probability of ``y`` at ``x`` under the plug-in mean ``mu(x'm)`` (before learning
        it): a cheap stand-in for the posterior predictive."""
        x = self._check_x(x)
        y = float_array("y", y)
        eta = gaussian.predictive_mean(self._sync(), x)
        return log_likelihood(self.link, y, eta)

    # -- persistence --------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Site statistics, prior and (with ``refit_start``) the stored observations."""
        state = super().get_state()
        if self.refit_start is not None:
            n = self._n_data
            b, p = self._batch, self.n_features
            data = self._data or [np.zeros((*b, 0, p)), np.zeros((*b, 0)), np.zeros((*b, 0))]
            state["data_x"] = data[0][..., :n, :].copy()
            state["data_y"] = data[1][..., :n].copy()
            state["data_weight"] = data[2][..., :n].copy()
            state["next_refit"] = np.array(float(self._next_refit or 0))
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> BayesianGLM:
        """Restore what :meth:`get_state` returned (shapes must match this model)."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping of arrays, got {type(state).__name__}")
        b, p = self._batch, self.n_features
        shapes: dict[str, tuple[int, ...]] = {"xtx": (*b, p, p), "xty": (*b, p), "yty": b, "n": b}
        if self.refit_start is not None:
            n = int(np.shape(state.get("data_y", np.zeros((*b, 0))))[-1])
            shapes.update(
                {"data_x": (*b, n, p), "data_y": (*b, n), "data_weight": (*b, n), "next_refit": ()}
            )
        prior = as_float_array(
            "state['prior_variance']", state.get("prior_variance"), shape=(*b, p), finite=False
        )
        if np.isnan(prior).any() or (prior < 0).any():
            raise ValueError(f"state['prior_variance'] must be >= 0, got {prior}")
        arrays = check_state({k: v for k, v in state.items() if k != "prior_variance"}, shapes)
        self._prior = prior.copy()
        self._stats = stats.SufficientStats(*(arrays[k] for k in ("xtx", "xty", "yty", "n")))
        self._n_buf = 0
        self._post = None
        self._n_updates = 0
        if self.refit_start is not None:
            self._data = [arrays["data_x"], arrays["data_y"], arrays["data_weight"]] if n else []
            self._n_data = n
            self._next_refit = int(arrays["next_refit"])
        return self

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {
            "groups": self.groups,
            "prior_variance": self.prior_variance,
            "link": self.link,
            "n_replicates": self.n_replicates,
            "refit_start": self.refit_start,
            "refresh_every": self.refresh_every,
            "rank_tol": self.rank_tol,
        }
