"""Fractional Bayes factors (O'Hagan 1995) in model averaging, checked against a direct oracle.

The oracle works with ``n x n`` covariances of ``y`` (the learners work with ``p x p``
precisions of the weights), integrates a flat group out in closed form, and is written from the
definition ``log int prior x likelihood^b``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import gammaln, logsumexp

from regretlab.environments import InteractionStream
from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression
from regretlab.policies.escalation import ModelAveraging

A0 = B0 = 1e-3


def _log_fractional(x, y, variances, b, a0=A0, b0=B0):
    """``log int N(w; 0, s2 V) 1[flat] IG(s2; a0, b0) prod_i N(y_i; x_i'w, s2)^b dw ds2``.

    ``variances`` per column, ``inf`` flat (Lebesgue measure, not scaled by the noise).
    """
    n = len(y)
    flat = np.isinf(variances)
    z = np.sqrt(b) * y
    proper = x[:, ~flat] * variances[~flat]
    m = np.eye(n) + b * proper @ x[:, ~flat].T  # cov of sqrt(b) y given s2 = 1, flat part aside
    m_inv = np.linalg.inv(m)
    f = np.sqrt(b) * x[:, flat]
    k = int(flat.sum())
    log_det = np.linalg.slogdet(m)[1]
    quad = z @ m_inv @ z
    if k:
        g = f.T @ m_inv @ f
        log_det += np.linalg.slogdet(g)[1]
        proj = m_inv @ f
        quad -= (proj.T @ z) @ np.linalg.solve(g, proj.T @ z)
    shape = a0 + 0.5 * (n * b - k)
    return (
        -0.5 * (n * b - k) * np.log(2 * np.pi)
        - 0.5 * log_det
        + a0 * np.log(b0)
        - gammaln(a0)
        + gammaln(shape)
        - shape * np.log(b0 + 0.5 * quad)
    )


def _stream(x_dim=2, n=12, seed=5, shift=0.0):
    env = InteractionStream(
        x_dim=x_dim, interaction_scale=1.0, noise_level=0.3, horizon=n, n_replicates=3, seed=seed
    )
    obs = env.take(n)
    return env, env.features.transform(obs.x + 0.0), obs.y + shift


@pytest.mark.parametrize("b", [1.0, 0.4])
def test_log_evidence_with_a_fraction_is_the_fractional_marginal_likelihood(b):
    env, design, y = _stream(n=9)
    prior = {"intercept": 2.0, "main": 0.5, "pairwise": 3.0}
    nig = NormalInverseGammaRegression(
        groups=env.features, prior_variance=prior, noise_shape=A0, noise_scale=B0, n_replicates=3
    )
    nig.learn_many(design, y)
    variances = np.array([2.0, 0.5, 0.5, 3.0])
    want = [_log_fractional(design[r], y[r], variances, b) for r in range(3)]
    np.testing.assert_allclose(nig.log_evidence(fraction=b), want, rtol=1e-9)
    # Known noise: the same definition with the noise variance fixed at 1 / precision.
    blr = BayesianLinearRegression(
        groups=env.features, prior_variance=prior, noise_precision=4.0, n_replicates=3
    )
    blr.learn_many(design, y)
    cov = np.eye(9) / 4.0 + b * design[0] * variances @ design[0].T  # prior not scaled
    resid = np.sqrt(b) * y[0]
    direct = (
        0.5 * 9 * (1 - b) * np.log(2 * np.pi / 4.0)
        - 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1]
        - 0.5 * resid @ np.linalg.solve(cov, resid)
    )
    np.testing.assert_allclose(blr.log_evidence(fraction=b)[0], direct, rtol=1e-9)
    with pytest.raises(ValueError, match="fraction"):
        nig.log_evidence(fraction=0.0)


ENTRIES = ((0.1, 0.1), (np.inf, 0.1), (np.inf, 10.0), (1.0, 1.0))
# Sets of unequal prior mass (3 shrunk, 2 flat): each set's own prior must be normalised.
UNEQUAL = ((0.1, 0.1), (np.inf, 0.1), (np.inf, 10.0), (1.0, 1.0), (10.0, 10.0))
# Four flat patterns (intercept, main, both, neither): a training sample of 3 flat columns + 1.
FOUR_SETS = ((0.1, 0.1), (np.inf, 0.1), (0.1, np.inf), (np.inf, np.inf), (1.0, 1.0))


def _bma(env, comparison="fractional", entries=ENTRIES):
    base = NormalInverseGammaRegression(
        groups=env.features,
        n_replicates=3,
        prior_variance={"intercept": 1.0, "main": 1.0, "pairwise": 0.0},
        noise_shape=A0,
        noise_scale=B0,
    )
    return ModelAveraging(
        learner=base,
        grid=(0.0, 1.0),
        other_grids={"intercept+main": entries},
        off_weight=0.3,
        comparison=comparison,
    )


@pytest.mark.parametrize(
    ("steps", "entries"),
    [
        (3, ENTRIES),
        (5, ENTRIES),
        (8, ENTRIES),
        (12, ENTRIES),
        (5, UNEQUAL),
        (12, UNEQUAL),
        (6, FOUR_SETS),
        (12, FOUR_SETS),
    ],
)
def test_weights_are_fractional_bayes_factors_between_the_flat_sets_then_the_chain_rule(
    steps, entries
):
    """Two observations train (the flat twins' intercept and one noise degree of freedom; four
    with a flat main group too); up to 2p = 8 observations each set of candidates sharing their
    flat groups is scored by its fractional Bayes factor with b = m / n, candidates within a set
    by their whole evidence;
    after 2p the fraction stays that of step 8 and the evidence grows by the chain rule."""
    env, design, y = _stream(shift=3.0)
    bma = _bma(env, entries=entries)
    for t in range(steps):
        bma.learn_one(design[:, t], y[:, t])
    values = bma.candidates
    variances = np.stack(
        [values["intercept"], values["main"], values["main"], values["pairwise"]], axis=1
    )
    size = len(entries)
    log_prior = np.log(np.where(values["pairwise"] == 0.0, 0.3 / size, 0.7 / size))
    pattern = np.isinf(variances)
    sets = [(pattern == row).all(axis=1) for row in np.unique(pattern, axis=0)]
    train = int(pattern.sum(axis=1).max()) + 1  # the flattest candidate's columns + 1 for noise
    upto = min(steps, 8)
    want = np.empty((len(variances), 3))
    for r in range(3):
        full = np.array(
            [_log_fractional(design[r, :steps], y[r, :steps], v, 1.0) for v in variances]
        )
        part = np.array(
            [_log_fractional(design[r, :upto], y[r, :upto], v, train / upto) for v in variances]
        )
        for members in sets:
            prior = log_prior[members] - logsumexp(log_prior[members])
            want[members, r] = log_prior[members] + full[members] - logsumexp(prior + part[members])
    want = np.exp(want - logsumexp(want, axis=0))
    np.testing.assert_allclose(bma.weights, want, rtol=1e-6, atol=1e-12)
    # A state round trip keeps the training sample's size (and so the fraction).
    copy = _bma(env, entries=entries).set_state(bma.get_state())
    for t in range(steps, 12):
        copy.learn_one(design[:, t], y[:, t])
        bma.learn_one(design[:, t], y[:, t])
    np.testing.assert_allclose(copy.weights, bma.weights, rtol=1e-12)


def test_a_far_intercept_stops_costing_once_the_comparison_keeps_the_training_sample():
    """Intercept 1000 noise sds from 0: with partial Bayes factors the strongly shrunk twins keep
    about 1% of the weight for several steps, each hundreds of sds off; the fractional
    comparison sees at once that the training observations agree far more closely than their
    size. Deterministic seeds; the gap is a factor of about 10 (a factor 3 is asserted)."""
    env = InteractionStream(
        x_dim=2, interaction_scale=0.3, noise_level=1.0, horizon=12, n_replicates=40, seed=11
    )
    obs = env.take(12)
    design = env.features.transform(obs.x + 0.0)
    regret = {}
    for comparison in ("partial", "fractional"):
        rule = ModelAveraging.recommended(env.features, n_replicates=40)
        bma = ModelAveraging(**{**rule.get_params(), "comparison": comparison})
        total = np.zeros(40)
        for t in range(12):
            if t >= 2:
                total += (bma.predict_one(design[:, t]) - obs.mean[:, t] - 1000.0) ** 2
            bma.learn_one(design[:, t], obs.y[:, t] + 1000.0)
        regret[comparison] = total.mean()
    assert regret["fractional"] * 3 < regret["partial"]


def test_comparison_must_be_named():
    env, _, _ = _stream()
    with pytest.raises(ValueError, match="comparison must be 'fractional' or 'partial'"):
        _bma(env, comparison="intrinsic")
    assert _bma(env, "partial").clone().comparison == "partial"
