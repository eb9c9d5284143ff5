"""The data-reading triggers: false alarms bounded, power where interactions are real (issue 16).

Streams are drawn here so the main effects and the intercept can be large (the e-value's promise
holds for any true main effects) and the noise heavy-tailed where a case says so. Each case is
``R`` replicates of a seeded stream fed in chunks of the check interval, as a run does.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from regretlab.features import InteractionFeatures
from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression
from regretlab.policies.escalation import EvidenceSwitch, UncertaintyTrigger
from regretlab.policies.escalation._invariant import InvariantTest, mixture
from regretlab.policies.escalation.evidence import LADDER

R = 200
EVERY = 10


def stream(
    seed, *, x_dim, scale, noise, horizon, main=1.0, intercept=0.0, tails=None, hetero=False
):
    """Inputs ~ U(-1, 1); main weights ~ U(-main, main); pairwise ~ U(-scale, scale); with
    ``hetero`` the noise sd is ``noise * sqrt(5) x_1^2`` (mean noise variance ``noise^2``)."""
    rng = np.random.default_rng(seed)
    fm = InteractionFeatures(x_dim)
    x = fm.transform(rng.uniform(-1, 1, (R, horizon, x_dim)))
    main_cols = np.array([g == "main" for g in fm.groups])
    pair_cols = np.array([g == "pairwise" for g in fm.groups])
    w = np.zeros((R, fm.n_features))
    w[:, 0] = intercept
    w[:, main_cols] = rng.uniform(-main, main, (R, main_cols.sum()))
    w[:, pair_cols] = rng.uniform(-scale, scale, (R, pair_cols.sum()))
    eps = rng.standard_t(tails, (R, horizon)) if tails else rng.standard_normal((R, horizon))
    if hetero:
        eps = eps * np.sqrt(5.0) * x[..., 1] ** 2
    return fm, x, np.einsum("rtp,rp->rt", x, w) + noise * eps


def first_escalation(trigger, *, learned=True, **case):
    """Step of each replicate's first escalation (``inf`` if none)."""
    fm, x, y = stream(**case)
    prior = {"intercept": 100.0, "main": 100.0, "pairwise": 0.0}
    if learned:
        model = NormalInverseGammaRegression(
            groups=fm, prior_variance=prior, noise_shape=1e-3, noise_scale=1e-3, n_replicates=R
        )
    else:
        model = BayesianLinearRegression(
            groups=fm, prior_variance=prior, noise_precision=1 / case["noise"] ** 2, n_replicates=R
        )
    first = np.full(R, np.inf)
    for step in range(EVERY, x.shape[1] + 1, EVERY):
        model.learn_many(x[:, step - EVERY : step], y[:, step - EVERY : step])
        for event in trigger.update(model, step):
            first[event.replicate] = min(first[event.replicate], step)
    return first


def false_alarm_bound(count):
    """Upper 99% Clopper-Pearson bound on the per-replicate false-alarm probability."""
    from scipy.stats import beta

    return 1.0 if count == R else float(beta.ppf(0.99, count + 1, R - count))


# The hard cases for the old Bayes-factor switch: x_dim 4 at noise 1 (it tested before
# there were as many observations as coefficients), large main effects and intercept (a vague
# prior that misfits them), and a stream without interactions at low noise.
NULL_CASES = {
    "x4_noise1": {"x_dim": 4, "noise": 1.0},
    "x3_big_main": {"x_dim": 3, "noise": 0.2, "main": 3.0, "intercept": 5.0},
    "x6_noise0.1": {"x_dim": 6, "noise": 0.1},
}


@pytest.mark.parametrize(("learned", "robust"), [(True, True), (False, True), (True, False)])
@pytest.mark.parametrize("case", list(NULL_CASES))
def test_evidence_switch_false_alarms_within_its_promise(case, learned, robust):
    # The promise is the Bayes factor's alone (robust=False); the robust gate only removes.
    first = first_escalation(
        EvidenceSwitch(every=EVERY, robust=robust),
        learned=learned,
        seed=11,
        scale=0.0,
        horizon=800,
        **NULL_CASES[case],
    )
    count = int(np.isfinite(first).sum())
    # Ville: P(ever) <= 1/20 per replicate. The 99% upper Clopper-Pearson bound of what we see
    # must admit 5%; a switch without the guarantee (the old Bayes-factor average) fails it.
    assert false_alarm_bound(count) >= 0.05 or count <= binom.ppf(0.99, R, 0.05)
    assert count <= binom.ppf(0.999, R, 0.05)


@pytest.mark.parametrize("case", list(NULL_CASES))
def test_uncertainty_trigger_false_alarms_stay_near_its_level(case):
    first = first_escalation(
        UncertaintyTrigger(every=EVERY), seed=12, scale=0.0, horizon=800, **NULL_CASES[case]
    )
    count = int(np.isfinite(first).sum())
    # Ville: P(ever) <= (1 - level) / level = 5.3% for every truth; 8% is the issue's
    # per-scenario bar (0.1% false-failure rate at a true 8%).
    assert count <= binom.ppf(0.999, R, 0.08)


POWER_CASES = {
    "x4_i0.5_n1": {"x_dim": 4, "scale": 0.5, "noise": 1.0},
    "x6_i1_n0.5": {"x_dim": 6, "scale": 1.0, "noise": 0.5},
}


@pytest.mark.parametrize("trigger", [EvidenceSwitch, UncertaintyTrigger])
@pytest.mark.parametrize("case", list(POWER_CASES))
def test_triggers_fire_where_interactions_are_real(trigger, case):
    first = first_escalation(trigger(every=EVERY), seed=13, horizon=3000, **POWER_CASES[case])
    # The power bar: escalation by T in >= 90% of replicates at scale >= 0.5, noise <= 1.
    assert np.isfinite(first).mean() >= 0.9


def test_triggers_fire_before_2p_where_the_signal_is_strong():
    # The old rule waited for 2p = 22 observations; the invariant Bayes factor is defined from
    # k_0 + 1 = 6, and at noise 0.1 with interactions of scale 3 it is decisive by step 20.
    p = InteractionFeatures(4).n_features
    for trigger in (EvidenceSwitch(every=EVERY), UncertaintyTrigger(every=EVERY)):
        first = first_escalation(trigger, seed=14, x_dim=4, scale=3.0, noise=0.1, horizon=200)
        assert np.median(first) < 2 * p
        assert np.isfinite(first).mean() > 0.9


def test_evidence_switch_waits_for_its_start():
    first = first_escalation(
        EvidenceSwitch(every=EVERY, start=60), seed=14, x_dim=4, scale=3.0, noise=0.1, horizon=200
    )
    assert np.all(first[np.isfinite(first)] >= 60)
    assert np.isfinite(first).mean() > 0.9


HETERO = {"x_dim": 2, "noise": 1.0, "hetero": True, "scale": 0.0, "horizon": 1500}


def test_robust_gate_keeps_heteroscedastic_false_alarms_low():
    """Noise sd ~ x_1^2 inflates the score variance of the columns x_1 x_j 2.1x; the Bayes
    factor alone reads that as evidence (measured 39 of 200 here), the robust gate does not
    (measured 9)."""
    alone = first_escalation(EvidenceSwitch(every=EVERY, robust=False), seed=15, **HETERO)
    guarded = first_escalation(EvidenceSwitch(every=EVERY), seed=15, **HETERO)
    # 8% is the per-scenario bar; 0.1% false-failure rate if the true rate is 8%.
    assert np.isfinite(guarded).sum() <= binom.ppf(0.999, R, 0.08)
    # The case is hard: the unguarded factor exceeds what an 8% rate would give (planted-bug
    # check of the gate itself: with the inflation fixed at 1 the first assertion fails).
    assert np.isfinite(alone).sum() > binom.ppf(0.99, R, 0.08)


@pytest.mark.parametrize("robust", [True, False])
@pytest.mark.parametrize(("trigger", "odds"), [(EvidenceSwitch, 20.0), (UncertaintyTrigger, 19.0)])
def test_triggers_fire_exactly_where_the_factors_reach_the_threshold(trigger, odds, robust):
    """The rule, checked at every check of every replicate against the factor and the robust
    factor computed beside it on the same data: a replicate still off escalates iff the
    factor (and, with ``robust``, the robust factor) reaches the threshold. The statistical
    false-alarm tests above cannot see a threshold off by a factor of 2 or 4 (the measured rates
    stay under 5% with it: the factor is conservative on these streams); this test does, as the
    case has many checks with the factor between 1/4 of the threshold and the threshold."""
    fm, x, y = stream(16, x_dim=4, scale=0.5, noise=1.0, horizon=600, hetero=True)
    prior = {"intercept": 100.0, "main": 100.0, "pairwise": 0.0}

    def learned():
        return NormalInverseGammaRegression(
            groups=fm, prior_variance=prior, noise_shape=1e-3, noise_scale=1e-3, n_replicates=R
        )

    rule, model, beside = trigger(every=EVERY, robust=robust), learned(), learned()
    reference = InvariantTest("pairwise", np.array([v for v in LADDER if v > 0]))
    near = fired = 0
    for step in range(EVERY, x.shape[1] + 1, EVERY):
        for m in (model, beside):
            m.learn_many(x[:, step - EVERY : step], y[:, step - EVERY : step])
        off = np.asarray(model.get_prior_variance("pairwise")) == 0.0
        if not off.any():
            break
        log_bf, log_robust, ready = reference.update(beside)
        expected = off & ready & (mixture(log_bf) >= np.log(odds))
        if robust:
            expected &= mixture(log_robust) >= np.log(odds)
        escalated = np.zeros(R, dtype=bool)
        for event in rule.update(model, step):
            escalated[event.replicate] |= event.old == 0.0
        np.testing.assert_array_equal(escalated, expected, err_msg=f"step {step}")
        near += int((off & (mixture(log_bf) >= np.log(odds / 4)) & ~expected).sum())
        fired += int(expected.sum())
    assert near > 50, near
    assert fired > 50, fired
