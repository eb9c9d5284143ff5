"""The pivot-block evidence shortcut against the factorisation per candidate it replaces.

``pivot_evidence_terms`` diagonalises the pivot group's block once per replicate; the oracle is
``gaussian.evidence_terms`` (one Cholesky factorisation per candidate). The two differ only in
rounding (eigenvalues against pivots, about 1e-13 relative here), so 1e-9 is asserted.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from regretlab.environments import InteractionStream
from regretlab.features import InteractionFeatures
from regretlab.learners import NormalInverseGammaRegression, gaussian
from regretlab.learners._pivot_evidence import pivot_evidence_terms
from regretlab.learners.stats import from_rows
from regretlab.policies.escalation import ModelAveraging, candidates

FEATURES = InteractionFeatures(3)  # intercept, 3 main effects, 3 pairwise products
GROUPS = np.asarray(FEATURES.groups)
PIVOT = np.flatnonzero(GROUPS == "pairwise")


def _candidate_priors(n_replicates):
    """Pairwise off, tiny, unit and weak; the intercept flat or shrunk; two main scales."""
    rows = []
    for v, intercept, main in itertools.product(
        (0.0, 1e-3, 1.0, 100.0), (np.inf, 0.1), (0.1, 10.0)
    ):
        rows.append(np.where(GROUPS == "pairwise", v, np.where(GROUPS == "main", main, intercept)))
    return np.repeat(np.array(rows)[:, None, :], n_replicates, axis=1)


def _stats(n, seed=3, shift=5.0):
    rng = np.random.default_rng(seed)
    x = FEATURES.transform(rng.uniform(-1, 1, (3, n, 3)))
    y = x @ np.array([2.0, 1.0, -1.0, 0.5, 0.3, 0.0, -0.2]) + shift + 0.3 * rng.normal(size=(3, n))
    return from_rows(x, y)


@pytest.mark.parametrize("n", [3, 6, 40])
@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_pivot_terms_equal_one_factorisation_per_candidate(n, beta):
    """Fewer rows than pivot columns (a singular pivot block), as many, and many more."""
    data, prior = _stats(n), _candidate_priors(3)
    fast = pivot_evidence_terms(data, prior, beta, PIVOT, rank_tol=1e-12)
    assert fast is not None
    want = gaussian.evidence_terms(data, prior, beta, rank_tol=1e-12)
    for got, expected in zip(fast, want, strict=True):
        assert got.shape == (len(prior), 3)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_the_shortcut_declines_where_it_does_not_apply():
    data, prior = _stats(6), _candidate_priors(3)
    uneven = prior.copy()
    uneven[..., PIVOT[0]] = 2.0
    flat_pivot = prior.copy()
    flat_pivot[..., PIVOT] = np.inf
    rest_off = prior.copy()
    rest_off[..., 1] = 0.0
    for bad in (uneven, flat_pivot, rest_off):
        assert pivot_evidence_terms(data, bad, 1.0, PIVOT, rank_tol=1e-12) is None
    # A flat intercept that no observation has determined yet: the general path decides.
    assert pivot_evidence_terms(_stats(0), prior, 1.0, PIVOT, rank_tol=1e-12) is None
    # Priors without a candidate axis over the statistics.
    assert pivot_evidence_terms(data, prior[0], 1.0, PIVOT, rank_tol=1e-12) is None


def _old_fractional_evidence(inner, n_candidates, pivot, fraction):
    """The computation before the shortcut: one factorisation per candidate and replicate, the
    statistics read without first bringing the cached posterior up to date."""
    return np.asarray(inner.log_evidence(fraction=fraction)).reshape(n_candidates, -1)


def test_model_averaging_matches_the_factorisation_per_candidate(monkeypatch):
    """The recommended rule through its fractional phase (to 2p = 22 at x_dim 4) and beyond: its
    predictions and weights equal the old computation's to 1e-9 at every step; a far
    intercept (20) makes the flat and shrunk sets disagree."""
    env = InteractionStream(
        x_dim=4, interaction_scale=0.5, noise_level=0.2, horizon=30, n_replicates=4, seed=8
    )
    obs = env.take(30)
    design = env.features.transform(obs.x + 0.0)
    fast = ModelAveraging.recommended(env.features, n_replicates=4)
    old = ModelAveraging.recommended(env.features, n_replicates=4)
    for t in range(30):
        x, y = design[:, t], obs.y[:, t] + 20.0
        want = old.predict_one(x)
        np.testing.assert_allclose(fast.predict_one(x), want, rtol=1e-9, atol=1e-9)
        with monkeypatch.context() as patch:
            patch.setattr(candidates, "fractional_evidence", _old_fractional_evidence)
            old.learn_one(x, y)
        fast.learn_one(x, y)
        np.testing.assert_allclose(fast.weights, old.weights, rtol=1e-9, atol=1e-12)
    assert isinstance(fast.learner, NormalInverseGammaRegression)
