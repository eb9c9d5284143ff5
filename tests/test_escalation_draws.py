"""What Thompson sampling acts on when the model is a mixture of candidates (issue 16, sixth
session): ``ModelAveraging(draw=...)`` and the prior odds of ``recommended(off_weight=...)``."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import LinearBandit
from regretlab.learners import NormalInverseGammaRegression
from regretlab.policies import ThompsonSampling
from regretlab.policies.escalation import ModelAveraging
from regretlab.simulate import Agent, run_bandit

GRID = (0.0, 0.01, 1.0)


def _trained(draw: str, n: int = 40, r: int = 3) -> tuple[ModelAveraging, list]:
    """A mixture over the pairwise variance fed ``n`` observations of a stream with weak
    interactions, and for every candidate the same prior run as a single learner on the data."""
    rng = np.random.default_rng(11)
    base = NormalInverseGammaRegression(
        groups=("intercept", "main", "main", "pairwise"),
        prior_variance={"intercept": 10.0, "main": 10.0, "pairwise": 0.0},
        n_replicates=r,
    )
    bma = ModelAveraging(learner=base, grid=GRID, draw=draw)
    singles = []
    for v in GRID:
        single = base.clone()
        single.set_prior_variance("pairwise", v)
        singles.append(single)
    for _ in range(n):
        x = rng.uniform(-1, 1, (r, 2))
        design = np.column_stack([np.ones(r), x, x[:, 0] * x[:, 1]])
        y = 1.0 + x[:, 0] - x[:, 1] + 0.4 * design[:, 3] + 0.3 * rng.normal(size=r)
        bma.learn_one(design, y)
        for single in singles:
            single.learn_one(design, y)
    return bma, singles


def test_leader_draws_are_the_leading_candidates_posterior_draws():
    bma, singles = _trained("leader")
    leader = np.argmax(bma.weights, axis=0)
    # The replicates must not all lead with one candidate, or a transposed pick would pass.
    assert len(set(leader.tolist())) > 1 or bma.weights.max(axis=0).min() < 0.9
    n = 4000
    rng = np.random.default_rng(3)
    draws = np.stack([bma.sample(rng) for _ in range(n)])  # (n, R, p)
    for r, g in enumerate(leader):
        single = singles[g]
        mean = single.mean[r]
        sd = single.sd[r]
        # Student-t draws with finite variance (df = 2 a_n > 2 here): the sample mean is within
        # 5 standard errors of the posterior mean with probability > 1 - 6e-7 per coordinate.
        np.testing.assert_array_less(np.abs(draws[:, r].mean(axis=0) - mean), 5 * sd / np.sqrt(n))


def test_mixture_draws_average_over_the_candidates_by_weight():
    bma, singles = _trained("mixture")
    w = bma.weights  # (G, R)
    means = np.stack([s.mean for s in singles])  # (G, R, p)
    mixture = np.einsum("gr,grp->rp", w, means)
    second = np.einsum("gr,grp->rp", w, np.stack([s.sd**2 + s.mean**2 for s in singles]))
    sd = np.sqrt(second - mixture**2)
    n = 4000
    rng = np.random.default_rng(4)
    draws = np.stack([bma.sample(rng) for _ in range(n)])
    # Same bound as above (a mixture of t's with finite variance): false failure < 1e-5 overall.
    np.testing.assert_array_less(np.abs(draws.mean(axis=0) - mixture), 5 * sd / np.sqrt(n))


def test_the_leader_rule_changes_draws_only():
    a, _ = _trained("mixture")
    b, _ = _trained("leader")
    x = np.column_stack([np.ones(3), np.full((3, 2), 0.5), np.full(3, 0.25)])
    np.testing.assert_array_equal(a.predict_one(x), b.predict_one(x))
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.mean, b.mean)
    assert b.get_params()["draw"] == "leader"
    assert b.clone().draw == "leader"


def test_bad_draw_is_named():
    base = NormalInverseGammaRegression(groups=("main", "pairwise"))
    with pytest.raises(ValueError, match="draw must be 'mixture' or 'leader', got 'best'"):
        ModelAveraging(learner=base, grid=GRID, draw="best")
    with pytest.raises(ValueError, match="draw"):
        ModelAveraging.recommended(("main", "pairwise"), draw="best")


def test_recommended_puts_off_weight_on_off_and_passes_draw():
    groups = ("intercept", "context", "action", "context:action")
    bma = ModelAveraging.recommended(groups, group="context:action", off_weight=0.5, draw="leader")
    off = bma.candidates["context:action"] == 0.0
    # Before the evidence only the flat-intercept half mixes; "off" keeps half of it.
    assert bma.weights[off].sum() == pytest.approx(0.5)
    assert bma.weights[~off].sum() == pytest.approx(0.5)
    assert bma.draw == "leader"
    uniform = ModelAveraging.recommended(groups, group="context:action")
    assert uniform.draw == "leader"  # the default rule draws from its leader
    assert uniform.weights[uniform.candidates["context:action"] == 0.0].sum() == pytest.approx(
        1 / 7
    )


def test_leader_draws_run_in_a_bandit_and_escalate_on_interactions():
    env = LinearBandit(
        n_actions=3, context_dim=2, interaction_scale=1.0, horizon=300, n_replicates=8, seed=2
    )
    bma = ModelAveraging.recommended(
        env.features, group="context:action", n_replicates=8, draw="leader"
    )
    result = run_bandit(env, [Agent("leader", bma, policy=ThompsonSampling())], seed=1)
    # Interactions of scale 1 at noise 1 (the runner trains a copy; its leader changes are the
    # events): every replicate's leader takes them on at some step, and most keep them at T
    # (this seed: 7 of 8; one replicate's draw of the truth has interactions too small).
    changes = result.events[result.events["group"] == "context:action"]
    last = changes.sort_values("step", kind="stable").groupby("replicate")["new"].last()
    assert changes[changes["new"] > 0]["replicate"].nunique() == 8
    assert (last > 0).sum() >= 7


def test_in_a_bandit_the_evidence_against_interactions_grows_only_with_exploration():
    """One action played throughout: its ``context:action`` columns repeat the ``context``
    columns, so the data cannot weigh the interaction candidates (their Bayes factor stays
    near 1); the same contexts with the actions spread out rule them out."""
    from regretlab.features import ActionFeatures

    features = ActionFeatures(context_dim=2, n_actions=3)
    weights = {}
    for design in ("one action", "uniform"):
        rng = np.random.default_rng(5)
        base = NormalInverseGammaRegression(
            groups=features,
            prior_variance={g: 100.0 for g in features.groups} | {"context:action": 0.0},
            n_replicates=20,
        )
        bma = ModelAveraging(learner=base, group="context:action", grid=(0.0, 1.0))
        truth = rng.uniform(-1, 1, features.n_features)
        truth[np.array(features.groups) == "context:action"] = 0.0
        for _ in range(400):
            rows = features.transform(rng.uniform(-1, 1, (20, 2)))  # (R, K, p)
            action = np.zeros(20, int) if design == "one action" else rng.integers(0, 3, 20)
            x = rows[np.arange(20), action]
            bma.learn_one(x, x @ truth + rng.normal(size=20))
        weights[design] = bma.weights[1]
    # Measured on this seed: one action, 0.498 in all 20 replicates (prior 0.5: the data only
    # see the interactions' prior variance along the context columns); uniform actions,
    # median 0.004, largest 0.13.
    assert weights["one action"].min() > 0.45
    assert np.median(weights["uniform"]) < 0.01


@pytest.mark.parametrize("draw", ["leader", "mixture"])
def test_draws_factor_only_the_picked_candidates_with_the_whole_draws_bits(draw):
    # ModelAveraging.sample factors only the picked candidates' covariances (the inner learner's
    # _sample_rows): the draws, and the generator's state after them, are the whole batch's.
    bma, _ = _trained(draw, n=16, r=5)  # leaders 2, 1, 2, 2, 0
    if draw == "leader":
        # Rows are candidate-major: a pick read replicate-major differs only where the
        # replicates do not all lead with one candidate.
        assert len(set(np.argmax(bma.weights, axis=0).tolist())) > 1
    for seed in range(4):
        fast, whole = np.random.default_rng(seed), np.random.default_rng(seed)
        got = bma.sample(fast)
        pick = _pick_like_sample(bma, whole)
        expected = bma._split(bma._inner.sample(whole))[pick, np.arange(5)]
        np.testing.assert_array_equal(got, expected)
        assert fast.random() == whole.random()


def _pick_like_sample(bma: ModelAveraging, rng: np.random.Generator) -> np.ndarray:
    from regretlab.policies.escalation._grids import _pick

    return _pick(bma.weights, bma.draw, rng)
