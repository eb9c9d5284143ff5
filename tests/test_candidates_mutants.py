"""Tests that kill the mutants of ``ModelAveraging`` (``policies/escalation/candidates.py``)
and of the candidates' machinery (``_candidates_base.py``) in the seventh mutation run.

Each test asserts a closed form, a definition or a named error that a surviving mutant broke;
docs/mutation.md, "Seventh run: the escalation core", lists the mutants and why the others
are equivalent. The invariant Bayes factor's are in ``test_escalation_mutants.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.features import InteractionFeatures
from regretlab.learners import NormalInverseGammaRegression


def _averaged(n_replicates, steps=30, seed=18):
    from regretlab.policies.escalation import ModelAveraging

    fm = InteractionFeatures(2)
    base = NormalInverseGammaRegression(groups=fm, n_replicates=n_replicates)
    bma = ModelAveraging(learner=base, grid=(0.0, 0.1, 10.0), other_grids={"main": (1.0, 100.0)})
    rng = np.random.default_rng(seed)
    lead = () if n_replicates is None else (n_replicates,)
    for _ in range(steps):
        x = fm.transform(rng.uniform(-1, 1, (*lead, 2)))
        bma.learn_one(x, x[..., 1] - 0.5 * x[..., 3] + 0.3 * rng.standard_normal(lead))
    return fm, bma, rng


def _by_candidate(bma, x, **options):
    """Every candidate's prediction ``(C, R, ...)`` from the inner learner."""
    out = bma._inner.predict_one(bma._tile(x), **options)
    return tuple(bma._split(a) for a in (out if isinstance(out, tuple) else (out,)))


@pytest.mark.parametrize("n_replicates", [None, 2])
@pytest.mark.parametrize("actions", [False, True])
def test_model_averaging_predicts_the_weighted_mean_of_its_candidates(n_replicates, actions):
    """``predict_one`` is ``sum_i w_i mean_i``, one stream or replicates, with or without an
    action axis; the sd of the mean alone (``include_noise=False``) is the mixture's
    ``sqrt(sum_i w_i (sd_i^2 + mean_i^2) - mean^2)`` of the candidates' sds without noise."""
    fm, bma, rng = _averaged(n_replicates)
    lead = () if n_replicates is None else (n_replicates,)
    x = fm.transform(rng.uniform(-1, 1, (*lead, *((4,) if actions else ()), 2)))
    w = bma.weights if n_replicates is not None else bma.weights[:, None]
    w = w.reshape(w.shape + (1,) * (x.ndim - len(lead) - 1))
    (loc,) = _by_candidate(bma, x)
    mean = (w * loc).sum(axis=0)
    mean = mean if n_replicates is not None else mean[0]
    got = bma.predict_one(x)
    assert np.shape(got) == np.shape(mean)
    if np.ndim(mean) == 0:  # one stream, no actions: a plain float
        assert type(got) is float
    np.testing.assert_allclose(got, mean, rtol=1e-12)
    for noise in (True, False):
        loc, sd = _by_candidate(bma, x, return_sd=True, include_noise=noise)
        m = (w * loc).sum(axis=0)
        s = np.sqrt((w * (sd**2 + loc**2)).sum(axis=0) - m**2)
        got_m, got_s = bma.predict_one(x, return_sd=True, include_noise=noise)
        drop = (lambda a: a) if n_replicates is not None else (lambda a: a[0])
        np.testing.assert_allclose(got_m, drop(m), rtol=1e-12)
        np.testing.assert_allclose(got_s, drop(s), rtol=1e-9)
    with_noise = bma.predict_one(x, return_sd=True)[1]
    assert np.all(bma.predict_one(x, return_sd=True, include_noise=False)[1] < with_noise)


def test_recommended_for_a_learner_with_only_the_averaged_group():
    """With no other group, the default averages ``group`` alone over the ladder, with the
    learned-noise learner and the given prior odds and draw."""
    from regretlab.policies.escalation import ModelAveraging
    from regretlab.policies.escalation.evidence import LADDER

    bma = ModelAveraging.recommended(
        ("cross", "cross"), group="cross", n_replicates=2, off_weight=0.4, draw="leader"
    )
    assert type(bma) is ModelAveraging
    assert isinstance(bma.learner, NormalInverseGammaRegression)
    assert bma.learner.noise_shape == 1e-3
    assert bma.learner.noise_scale == 1e-3
    assert bma.learner.n_replicates == 2
    assert (bma.group, tuple(bma.grid), bma.off_weight, bma.draw) == (
        "cross",
        LADDER,
        0.4,
        "leader",
    )
    assert bma.other_grids is None
    np.testing.assert_array_equal(bma.candidates["cross"], LADDER)
    np.testing.assert_allclose(bma.weights[:, 0], np.r_[0.4, np.full(len(LADDER) - 1, 0.1)])


def test_model_averaging_repr_names_its_grids():
    from regretlab.policies.escalation import ModelAveraging

    base = NormalInverseGammaRegression(groups=("main", "pairwise"))
    assert repr(ModelAveraging(learner=base, grid=(0.0, 1.0))) == (
        "ModelAveraging(group='pairwise', grid=(0.0, 1.0))"
    )
    tied = ModelAveraging(learner=base, grid=(0.0, 1.0), other_grids={"main": (1.0, 10.0)})
    assert repr(tied) == (
        "ModelAveraging(group='pairwise', grid=(0.0, 1.0), other_grids={'main': (1.0, 10.0)})"
    )


def test_model_averaging_state_without_the_newer_entries_and_a_bad_shape():
    """A state saved before the training sample was tracked (no ``counting``, ``training``,
    ``evidence``) restores as not yet counting, no training sample, zero evidence; a
    ``log_weight`` of the wrong shape is refused with both shapes named."""
    _, bma, _ = _averaged(2, steps=3)
    state = bma.get_state()
    old = {k: v for k, v in state.items() if k not in ("counting", "training", "evidence")}
    _, fresh, _ = _averaged(2, steps=0)
    restored = fresh.set_state(old).get_state()
    assert restored["counting"] == np.asarray(False)
    assert restored["training"] == -1
    np.testing.assert_array_equal(restored["evidence"], np.zeros_like(state["log_weight"]))
    np.testing.assert_array_equal(restored["log_weight"], state["log_weight"])
    bad = {**state, "log_weight": state["log_weight"][:, :1]}
    shape = state["log_weight"].shape
    with pytest.raises(
        ValueError,
        match=rf"state\['log_weight'\] must have shape \({shape[0]}, 2\), got \({shape[0]}, 1\)",
    ):
        fresh.set_state(bad)


def test_model_averaging_sample_on_one_stream_and_its_size_error():
    """On one stream a draw by weight is one vector; ``size`` is refused by name."""
    _, bma, rng = _averaged(None)
    draw = bma.sample(np.random.default_rng(3))
    assert draw.shape == (bma.n_features,)
    assert np.all(np.isfinite(draw))
    with pytest.raises(
        ValueError, match=r"^ModelAveraging\.sample draws one vector per replicate; size=None$"
    ):
        bma.sample(rng, size=2)


def test_the_training_sample_size_is_recorded_from_the_first_counted_step():
    """Candidates that share their flat groups count from the first proper step, 0 without
    flat groups; a flat intercept in half of them, with the noise known, needs one
    observation (then fractional Bayes factors, which differ from partial ones up to 2p)."""
    from regretlab.learners import BayesianLinearRegression
    from regretlab.policies.escalation import ModelAveraging

    _, fresh, _ = _averaged(2, steps=0)
    assert int(fresh.get_state()["training"]) == -1  # not yet
    _, bma, _ = _averaged(2, steps=3)
    assert int(bma.get_state()["training"]) == 0
    fm = InteractionFeatures(2)
    rng = np.random.default_rng(19)
    base = BayesianLinearRegression(groups=fm, n_replicates=2)
    grids = {"intercept": (1.0, np.inf)}
    frac = ModelAveraging(learner=base, grid=(0.0, 1.0), other_grids=grids)
    part = ModelAveraging(learner=base, grid=(0.0, 1.0), other_grids=grids, comparison="partial")
    differ = []
    for _ in range(2 * fm.n_features):
        x = fm.transform(rng.uniform(-1, 1, (2, 2)))
        y = 3.0 + x[..., 1] + 0.3 * rng.standard_normal(2)
        frac.learn_one(x, y)
        part.learn_one(x, y)
        differ.append(not np.allclose(frac.weights, part.weights, rtol=1e-6))
    assert int(frac.get_state()["training"]) == 1
    assert all(differ[1:])


def test_without_flat_groups_the_weights_are_the_exact_evidence_from_the_first_step():
    """No candidate has a flat group: the evidence counts from the first observation, so the
    weights are the prior times each candidate's exact marginal likelihood, normalised."""
    from regretlab.policies.escalation import ModelAveraging

    fm = InteractionFeatures(2)
    base = NormalInverseGammaRegression(groups=fm, n_replicates=2)
    bma = ModelAveraging(
        learner=base, grid=(0.0, 0.1, 10.0), other_grids={"main": (1.0, 100.0)}, off_weight=0.5
    )
    rng = np.random.default_rng(20)
    x = fm.transform(rng.uniform(-1, 1, (2, 12, 2)))
    y = x[..., 1] - 0.5 * x[..., 3] + 0.3 * rng.standard_normal((2, 12))
    for t in range(12):
        bma.learn_one(x[:, t], y[:, t])
    values = bma.candidates
    log_evidence = base.learn_many(x, y).log_evidence(
        {"pairwise": values["pairwise"], "main": values["main"]}
    )
    log_prior = np.log(np.where(values["pairwise"] == 0.0, 0.5 / 2, 0.5 / 4))
    want = log_prior[:, None] + log_evidence
    np.testing.assert_allclose(
        bma.weights,
        np.exp(want - want.max(axis=0)) / np.exp(want - want.max(axis=0)).sum(axis=0),
        rtol=1e-8,
    )
    assert bma.get_params()["off_weight"] == 0.5


@pytest.mark.parametrize(("restore", "expected"), [(3, [8, 18, 28]), (20, [21, 31])])
def test_a_restored_fit_refits_at_the_next_step_or_at_2p(restore, expected):
    """After ``set_state`` at step ``s`` the fitted group is refitted at the next step (at
    ``2p`` if that is later), then on the schedule ``max(s + 10, ceil(1.1 s))``."""
    from regretlab.learners import BayesianLinearRegression
    from regretlab.policies.escalation import ModelAveraging

    r, groups = 4, ("main", "main", "null", "pairwise")
    rng = np.random.default_rng(21)
    x = rng.normal(size=(40, r, 4))
    y = x @ np.array([1.0, -0.5, 0.0, 0.3]) + 0.5 * rng.normal(size=(40, r))

    def make():
        inner = BayesianLinearRegression(groups=groups, n_replicates=r, noise_precision=4.0)
        return ModelAveraging(learner=inner, grid=(0.0, 1.0), fit=("null",))

    first = make()
    for t in range(restore):
        first.learn_one(x[t], y[t])
    bma = make().set_state(first.get_state())
    before, changed = bma.get_state()["prior_variance"][..., 2].copy(), []
    for t in range(restore, 32):
        bma.learn_one(x[t], y[t])
        now = bma.get_state()["prior_variance"][..., 2]
        if np.any(now != before):
            changed.append(t + 1)
        before = now.copy()
    assert changed == expected


def test_the_fit_waits_until_the_candidates_are_proper():
    """A flat group's column is 0 for the first 12 steps, so the candidates are improper
    past 2p = 8: the fitted group keeps its variance until the first proper step (13)."""
    from regretlab.learners import BayesianLinearRegression
    from regretlab.policies.escalation import ModelAveraging

    r, groups = 3, ("flat", "main", "null", "pairwise")
    rng = np.random.default_rng(22)
    x = rng.normal(size=(20, r, 4))
    x[:12, :, 0] = 0.0
    y = x @ np.array([1.0, -0.5, 0.0, 0.3]) + 0.5 * rng.normal(size=(20, r))
    inner = BayesianLinearRegression(
        groups=groups, prior_variance={"flat": np.inf}, n_replicates=r, noise_precision=4.0
    )
    bma = ModelAveraging(learner=inner, grid=(0.0, 1.0), fit=("null",))
    start, changed = bma.get_state()["prior_variance"][..., 2].copy(), []
    for t in range(20):
        bma.learn_one(x[t], y[t])
        if np.any(bma.get_state()["prior_variance"][..., 2] != start):
            changed.append(t + 1)
    assert changed[0] == 13


def test_candidates_name_x_and_y_in_their_errors():
    """Inputs that are not real numbers, or of the wrong shape, are refused by name."""
    fm, bma, _ = _averaged(2, steps=0)
    words = np.full((2, fm.n_features), "a")
    for call in (bma.predict_one, lambda x: bma.learn_one(x, np.zeros(2))):
        with pytest.raises(TypeError, match=r"^x must be array-like of numbers"):
            call(words)
    with pytest.raises(TypeError, match=r"^y must be array-like of numbers"):
        bma.learn_one(np.zeros((2, fm.n_features)), ["a", "b"])
    with pytest.raises(ValueError, match=r"^x must have shape \(2, 4\) \(optionally with action"):
        bma.predict_one(np.zeros((3, fm.n_features)))
    with pytest.raises(ValueError, match=r"^x must have shape \(2, 4\), got \(3, 4\)$"):
        bma.learn_one(np.zeros((3, fm.n_features)), np.zeros(3))
    with pytest.raises(ValueError, match=r"^y must have shape \(2,\), got \(3,\)$"):
        bma.learn_one(np.zeros((2, fm.n_features)), np.zeros(3))
    with pytest.raises(ValueError, match=r"^x must have shape \(2, 4\) \(optionally"):
        bma.predict_one(np.zeros((2, 5)))
    # Four replicates of four features: a vector of length 4 has the replicates' length and
    # the features' both, but no feature axis.
    _, four, _ = _averaged(4, steps=0)
    with pytest.raises(ValueError, match=r"^x must have shape \(4, 4\) \(optionally"):
        four.predict_one(np.zeros(4))


def test_candidates_refuse_non_finite_inputs_and_bad_settings_by_name():
    from regretlab.policies.escalation import ModelAveraging

    fm, bma, _ = _averaged(2, steps=0)
    x = np.zeros((2, fm.n_features))
    with pytest.raises(ValueError, match=r"^x must be finite"):
        bma.learn_one(np.where(np.eye(2, fm.n_features) > 0, np.nan, x), np.zeros(2))
    with pytest.raises(ValueError, match=r"^y must be finite"):
        bma.learn_one(x, np.array([0.0, np.inf]))
    with pytest.raises(TypeError, match=r"got object$"):
        ModelAveraging(learner=object())
    base = NormalInverseGammaRegression(groups=fm)
    with pytest.raises(
        ValueError, match=r"^group must be one of \['intercept', 'main', 'pairwise'\], got 'no'$"
    ):
        ModelAveraging(learner=base, group="no")


def test_leader_changes_are_events_with_their_step_and_both_values():
    """Each change of the leading candidate is one event per replicate and per group whose
    variance differs: the step it happened at, the variance before and after."""
    fm = InteractionFeatures(2)
    _, bma, _ = _averaged(3, steps=0)
    rng = np.random.default_rng(23)
    values = bma.candidates
    leader = np.argmax(bma.weights, axis=0)
    expected, got = [], []
    for t in range(40):
        x = fm.transform(rng.uniform(-1, 1, (3, 2)))
        bma.learn_one(x, x[..., 1] + (t > 20) * 2.0 * x[..., 3] + 0.3 * rng.standard_normal(3))
        now = np.argmax(bma.weights, axis=0)
        for r in np.flatnonzero(now != leader):
            for name, v in values.items():
                if v[leader[r]] != v[now[r]]:
                    expected.append((int(r), t + 1, name, v[leader[r]], v[now[r]]))
        leader = now
        got += [tuple(e) for e in bma.pop_events()]
    assert len(expected) >= 2
    assert got == expected


def test_a_per_replicate_prior_of_a_group_not_averaged_is_kept_for_every_candidate():
    """A learner whose main effects have one prior variance per replicate: every candidate of
    replicate ``r`` keeps ``r``'s value, so replicate ``r`` of the average is the average built
    on a one-replicate learner with that value (same data, same weights, same predictions)."""
    from regretlab.policies.escalation import ModelAveraging

    fm = InteractionFeatures(2)
    rng = np.random.default_rng(3)
    x = fm.transform(rng.uniform(-1, 1, (3, 30, 2)))
    y = x @ np.array([0.5, 1.0, -2.0, 1.5]) + 0.3 * rng.standard_normal((3, 30))
    main = np.array([0.05, 1.0, 50.0])

    def average(prior_main, r):
        learner = NormalInverseGammaRegression(
            groups=fm,
            prior_variance={"intercept": 10.0, "main": prior_main, "pairwise": 0.0},
            n_replicates=r,
        )
        return ModelAveraging(learner=learner, grid=(0.0, 0.1, 10.0))

    many = average(main, 3)
    for t in range(30):
        many.learn_one(x[:, t], y[:, t])
    for r in range(3):
        one = average(float(main[r]), 1)
        for t in range(30):
            one.learn_one(x[r : r + 1, t], y[r : r + 1, t])
        np.testing.assert_allclose(many.weights[:, r], one.weights[:, 0], rtol=1e-10)
        np.testing.assert_allclose(
            many.predict_one(x[:, 0])[r], one.predict_one(x[r : r + 1, 0])[0], rtol=1e-10
        )
