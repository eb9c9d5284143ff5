"""Escalation: schedulers read the data (or do not), change priors exactly, and are recorded."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import InteractionStream
from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression
from regretlab.policies.escalation import (
    ChampionChallenger,
    EmpiricalBayes,
    EvidenceSwitch,
    Fixed,
    ModelAveraging,
    UncertaintyTrigger,
    apply_prior,
)
from regretlab.simulate import Agent, run_prequential

R = 20


def _run(scale, agents_for, noise=0.3, horizon=600, seed=4):
    env = InteractionStream(
        x_dim=4,
        interaction_scale=scale,
        noise_level=noise,
        horizon=horizon,
        n_replicates=R,
        seed=seed,
    )
    return env, run_prequential(env, agents_for(env), checkpoints=[horizon])


def _main_only(env, noise=0.3):
    return BayesianLinearRegression(
        groups=env.features,
        n_replicates=env.n_replicates,
        noise_precision=1 / noise**2,
        prior_variance={"main": 10.0, "pairwise": 0.0},
    )


def test_evidence_switch_escalates_with_interactions_and_rarely_without():
    def agents(env):
        return [Agent("s", _main_only(env), scheduler=EvidenceSwitch(every=10))]

    _, strong = _run(1.0, agents)
    _, none = _run(0.0, agents)
    escalated = strong.events[strong.events.new > 0].replicate.nunique()
    false = none.events[none.events.new > 0].replicate.nunique()
    # Strong interactions (weights ~ U(-1, 1), noise sd 0.3) are unmistakable after a few
    # dozen steps: every replicate escalates. Without them, Ville's inequality bounds the chance
    # of ever escalating by 1/20 per replicate: 20 replicates expect at most 1; 3 allows slack.
    assert escalated == R
    assert false <= 3
    first = strong.events[strong.events.new > 0].groupby("replicate").step.min()
    assert first.median() <= 100


def test_empirical_bayes_learns_a_small_variance_without_interactions():
    def agents(env):
        return [Agent("eb", _main_only(env), scheduler=EmpiricalBayes(every=10))]

    _, none = _run(0.0, agents)
    _, strong = _run(1.0, agents)
    final = none.events.sort_values("step").groupby("replicate").new.last()
    final = final.reindex(range(R), fill_value=0.0)
    # The maximum-likelihood variance of a null component is 0 or small (a boundary estimate);
    # weights ~ U(-1, 1) have variance 1/3, so escalation to that scale is unmistakable.
    assert np.median(final) < 1e-2
    strong_final = strong.events.sort_values("step").groupby("replicate").new.last()
    assert np.median(strong_final) > 0.05


def test_uncertainty_trigger_reads_the_data_with_known_noise():
    """DESIGN.md: a trigger on the main effects' posterior sd is a clock with known noise (the
    sd ignores y). This one reads the interaction group's own posterior probability, so it fires
    where interactions are strong and (almost) never where there are none."""

    def agents(env):
        return [Agent("t", _main_only(env), scheduler=UncertaintyTrigger(every=5))]

    _, strong = _run(1.0, agents)
    _, none = _run(0.0, agents)
    assert strong.events.replicate.nunique() == R
    # P(v > 0 | y) >= 0.95 under the null: about 5% per replicate, 20 replicates expect 1.
    assert none.events.replicate.nunique() <= 3


def test_empirical_bayes_estimates_the_interaction_variance():
    env = InteractionStream(
        x_dim=6, interaction_scale=1.0, noise_level=0.3, horizon=3000, n_replicates=R, seed=8
    )
    obs = env.take(3000)
    model = _main_only(env).learn_many(env.features.transform(obs.x), obs.y)
    EmpiricalBayes(every=1).update(model, step=3000)
    estimate = model.get_prior_variance("pairwise")
    truth = (env.true_weights[:, 7:] ** 2).mean(axis=1)
    # Type-II maximum likelihood of a variance from 15 well-determined weights: its relative
    # error is about sqrt(2 / 15) = 0.37 per replicate, and the grid refinement adds little.
    ratio = estimate / truth
    assert np.median(ratio) == pytest.approx(1.0, abs=0.25)


def test_model_averaging_weights_follow_the_evidence():
    def agents(env):
        base = NormalInverseGammaRegression(
            groups=env.features, n_replicates=R, prior_variance={"main": 100.0, "pairwise": 0.0}
        )
        return [Agent("bma", ModelAveraging(learner=base, grid=(0.0, 0.01, 1.0, 100.0)))]

    for scale, favoured in ((0.0, 0), (1.0, 2)):
        env = InteractionStream(
            x_dim=4, interaction_scale=scale, noise_level=0.3, horizon=600, n_replicates=R, seed=4
        )
        bma = agents(env)[0].learner.clone()
        obs = env.take(600)
        design = env.features.transform(obs.x)
        for t in range(600):
            bma.learn_one(design[:, t], obs.y[:, t])
        # Relative to the noise (variance 0.09), weights ~ U(-1, 1) have variance ~3.7.
        assert np.mean(np.argmax(bma.weights, axis=0) == favoured) >= 0.8 if scale else True
        if not scale:
            assert np.mean(bma.weights[0] > 0.3) >= 0.8
        probe = design[:, 0]
        per = bma._split(bma._inner.predict_one(bma._tile(probe)))
        np.testing.assert_allclose(bma.predict_one(probe), (bma.weights * per).sum(axis=0))


def test_champion_challenger_promotes_on_interactions():
    def agents(env):
        base = _main_only(env)
        return [Agent("cc", ChampionChallenger(learner=base, grid=(0.0, 1.0)))]

    _, strong = _run(1.0, agents)
    assert strong.events.replicate.nunique() == R
    assert (strong.events.new == 1.0).all()


def test_fixed_and_apply_prior_report_changes_only():
    env = InteractionStream(x_dim=2, horizon=10, n_replicates=3, seed=0)
    model = _main_only(env)
    assert apply_prior(model, "pairwise", 0.0, step=1) == []
    events = apply_prior(model, "pairwise", np.array([0.0, 2.0, 0.0]), step=5)
    assert [(e.replicate, e.step, e.old, e.new) for e in events] == [(1, 5, 0.0, 2.0)]
    fixed = Fixed({"pairwise": 3.0})
    assert len(fixed.update(model, 1)) == 3
    assert fixed.update(model, 2) == []
    with pytest.raises(ValueError, match="group"):
        apply_prior(model, "nope", 1.0, step=1)


def test_scheduler_events_reach_the_result_table():
    def agents(env):
        return [Agent("switch", _main_only(env), scheduler=EvidenceSwitch(every=10))]

    _, result = _run(1.0, agents)
    assert list(result.events.columns) == [
        "environment",
        "agent",
        "replicate",
        "step",
        "group",
        "old",
        "new",
    ]
    assert (result.events.group == "pairwise").all()
    assert (result.events.step % 10 == 0).all()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: EvidenceSwitch(ladder=(-1.0, 1.0)), "ladder"),
        (lambda: EvidenceSwitch(threshold=0.5), "threshold"),
        (lambda: EmpiricalBayes(groups="pairwise"), "groups"),
        (lambda: EmpiricalBayes(grid=(0.0, 1.0)), "grid"),
        (lambda: UncertaintyTrigger(level=1.0), "level"),
        (lambda: UncertaintyTrigger(every=0), "every"),
        (lambda: ModelAveraging(learner=object()), "learner"),
    ],
)
def test_bad_parameters(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_model_averaging_over_several_groups_weights_every_combination_by_its_evidence():
    env = InteractionStream(
        x_dim=3, interaction_scale=1.0, noise_level=0.5, horizon=80, n_replicates=R, seed=7
    )
    base = NormalInverseGammaRegression(
        groups=env.features, n_replicates=R, prior_variance={"main": 100.0, "pairwise": 0.0}
    )
    bma = ModelAveraging(
        learner=base,
        grid=(0.0, 1.0, 100.0),
        other_grids={("intercept", "main"): (0.1, 10.0)},
    )
    values = bma.candidates
    # The product, `grid` varying slowest; tied groups share their value.
    np.testing.assert_array_equal(values["pairwise"], [0, 0, 1, 1, 100, 100])
    np.testing.assert_array_equal(values["main"], [0.1, 10] * 3)
    np.testing.assert_array_equal(values["intercept"], values["main"])
    obs = env.take(80)
    design = env.features.transform(obs.x)
    plain = base.clone()
    for t in range(80):
        bma.learn_one(design[:, t], obs.y[:, t])
        plain.learn_one(design[:, t], obs.y[:, t])
    # Running evidence (chain rule) == the exact evidence of each combination, so the weights
    # are the posterior over combinations under a uniform prior.
    evidence = plain.log_evidence(candidates=values)
    expected = np.exp(evidence - evidence.max(axis=0))
    np.testing.assert_allclose(bma.weights, expected / expected.sum(axis=0), rtol=1e-8, atol=1e-12)
    assert bma.weights.shape == (6, R)
    # Events name every group whose variance changed with the leading combination.
    events = bma.pop_events()
    assert {e.group for e in events} <= {"pairwise", "main", "intercept"}
    assert any(e.group == "pairwise" for e in events)


def test_model_averaging_with_a_one_value_other_grid_is_the_plain_average():
    env = InteractionStream(x_dim=3, interaction_scale=1.0, noise_level=0.5, horizon=40, seed=3)
    groups = {"main": 10.0, "pairwise": 0.0}
    plain = ModelAveraging(
        learner=NormalInverseGammaRegression(groups=env.features, prior_variance=groups),
        grid=(0.0, 1.0),
    )
    tied = ModelAveraging(
        learner=NormalInverseGammaRegression(
            groups=env.features, prior_variance={**groups, "main": 3.0}
        ),
        grid=(0.0, 1.0),
        other_grids={"main": (10.0,)},
    )
    obs = env.take(40)
    design = env.features.transform(obs.x)
    for t in range(40):
        plain.learn_one(design[t], obs.y[t])
        tied.learn_one(design[t], obs.y[t])
    np.testing.assert_allclose(tied.weights, plain.weights, rtol=1e-12)
    np.testing.assert_allclose(tied.predict_one(design[0]), plain.predict_one(design[0]))
    assert tied.clone().other_grids == {"main": (10.0,)}


def test_tuple_entries_give_tied_groups_their_own_values_and_flat_twins_share_a_training_sample():
    env = InteractionStream(
        x_dim=2, interaction_scale=1.0, noise_level=0.3, horizon=30, n_replicates=R, seed=5
    )
    obs = env.take(30)
    design = env.features.transform(obs.x + 0.0)
    design_y = obs.y + 4.0  # a large intercept, where the flat twin should win
    entries = [(0.1, 0.1), (np.inf, 0.1), (np.inf, 10.0)]
    base = NormalInverseGammaRegression(
        groups=env.features,
        n_replicates=R,
        prior_variance={"intercept": 1.0, "main": 1.0, "pairwise": 0.0},
        noise_shape=1e-3,
        noise_scale=1e-3,
    )
    bma = ModelAveraging(
        learner=base,
        grid=(0.0, 1.0),
        other_grids={"intercept+main": entries},
        comparison="partial",
    )
    values = bma.candidates
    np.testing.assert_array_equal(values["intercept"], [0.1, np.inf, np.inf] * 2)
    np.testing.assert_array_equal(values["main"], [0.1, 0.1, 10.0] * 2)
    # Every candidate as its own learner; its evidence counted from the third observation: the
    # first determines the flat intercepts, the second gives their noise a residual degree of
    # freedom (a partial Bayes factor with a common training sample of two observations).
    log_w = []
    for c in range(len(values["main"])):
        one = base.clone()
        for group, v in values.items():
            one.set_prior_variance(group, v[c])
        total = np.zeros(R)
        for t in range(30):
            if t >= 2:
                total += one.log_predictive(design[:, t], design_y[:, t])
            one.learn_one(design[:, t], design_y[:, t])
        log_w.append(total)
    for t in range(30):
        bma.learn_one(design[:, t], design_y[:, t])
    log_w = np.array(log_w)
    expected = np.exp(log_w - log_w.max(axis=0))
    np.testing.assert_allclose(bma.weights, expected / expected.sum(axis=0), rtol=1e-8, atol=1e-12)
    flat = np.isinf(values["intercept"])
    assert (bma.weights[flat].sum(axis=0) > 0.5).all()


@pytest.mark.parametrize(
    ("other_grids", "error", "match"),
    [
        ({"intercept+main": [(1.0, 1.0, 1.0)]}, ValueError, "tuples of 2"),
        ({"intercept+main": [(1.0, np.nan)]}, ValueError, "other_grids"),
        ({"intercept+main": [(1.0, -1.0)]}, ValueError, "other_grids"),
        ({"intercept+main": []}, ValueError, "non-empty"),
        ({"pairwise": (1.0,)}, ValueError, "other_grids keys"),
        ({"nope": (1.0,)}, ValueError, "other_grids keys"),
        ({"main": (1.0,), ("intercept", "main"): (1.0,)}, ValueError, "each once"),
        ({"main": (-1.0,)}, ValueError, "other_grids"),
        ([("main", (1.0,))], TypeError, "other_grids"),
    ],
)
def test_model_averaging_rejects_bad_other_grids(other_grids, error, match):
    base = NormalInverseGammaRegression(groups=("intercept", "main", "pairwise"))
    with pytest.raises(error, match=match):
        ModelAveraging(learner=base, other_grids=other_grids)


def test_names_joined_by_plus_tie_groups_like_a_tuple():
    base = NormalInverseGammaRegression(groups=("intercept", "main", "pairwise"))
    joined = ModelAveraging(learner=base, grid=(0.0, 1.0), other_grids={"intercept+main": (1, 10)})
    tupled = ModelAveraging(
        learner=base, grid=(0.0, 1.0), other_grids={("intercept", "main"): (1, 10)}
    )
    for name, values in tupled.candidates.items():
        np.testing.assert_array_equal(joined.candidates[name], values)
    with pytest.raises(ValueError, match="other_grids keys"):
        ModelAveraging(learner=base, other_grids={"intercept+nope": (1.0,)})


@pytest.mark.parametrize(("top", "steps", "match"), [(-1.0, 10, "top"), (1.0, 0, "steps")])
def test_ramp_rejects_bad_arguments(top, steps, match):
    from regretlab.policies.escalation import Ramp

    with pytest.raises(ValueError, match=match):
        Ramp(top, steps)


def test_mixture_sd_is_finite_or_inf_never_nan_before_the_noise_is_bounded():
    # With a vague noise prior the Student-t variances are infinite for the first observation;
    # switched-off columns keep variance 0, and the mixture adds no NaN.
    bma = ModelAveraging.recommended(("intercept", "main", "main", "pairwise"), n_replicates=3)
    bma.learn_one(np.ones((3, 4)), np.ones(3))
    sd = bma.sd
    assert not np.isnan(sd).any()
    assert np.isinf(sd[:, :3]).all()
    inner = NormalInverseGammaRegression(
        groups=("main", "pairwise"), prior_variance={"pairwise": 0.0}, noise_shape=1e-3
    ).learn_one(np.ones(2), 1.0)
    np.testing.assert_array_equal(np.diag(inner.covariance)[1], 0.0)
    assert np.isinf(inner.covariance[0, 0])


def test_model_averaging_prior_weights_put_off_weight_on_zero():
    base = NormalInverseGammaRegression(groups=("intercept", "main", "pairwise"))
    bma = ModelAveraging(
        learner=base, grid=(0.0, 1.0, 10.0), other_grids={"main": (1.0, 100.0)}, off_weight=0.5
    )
    # Off: 1/2 split over the two main scales; each positive value 1/4, split likewise.
    np.testing.assert_allclose(bma.weights, [0.25, 0.25, 0.125, 0.125, 0.125, 0.125])
    with pytest.raises(ValueError, match="off_weight"):
        ModelAveraging(learner=base, grid=(0.0, 1.0), off_weight=1.5)
    with pytest.raises(ValueError, match="off_weight"):
        ModelAveraging(learner=base, grid=(1.0, 10.0), off_weight=0.5)


def test_model_averaging_with_a_flat_intercept_counts_evidence_once_determined():
    rng = np.random.default_rng(3)
    base = NormalInverseGammaRegression(
        groups=("intercept", "main", "pairwise"),
        prior_variance={"intercept": np.inf, "pairwise": 0.0},
        n_replicates=4,
    )
    bma = ModelAveraging(learner=base, grid=(0.0, 1.0))
    x = np.column_stack([np.ones(4), rng.uniform(-1, 1, (4, 2))])
    bma.learn_one(x, 5.0 + x[:, 1])  # the flat intercept is undetermined before this row
    np.testing.assert_allclose(bma.weights, 0.5)
    for _ in range(40):
        x = np.column_stack([np.ones(4), rng.uniform(-1, 1, (4, 2))])
        bma.learn_one(x, 5.0 + x[:, 1] + 0.1 * rng.normal(size=4))
    assert np.all(bma.weights[0] > 0.5)  # no interaction: "off" is favoured
    assert np.all(np.isfinite(bma.predict_one(x)))


def test_model_averaging_fits_a_group_by_evidence_from_2p():
    rng = np.random.default_rng(4)
    groups = ("intercept", "main", "main", "pairwise")
    base = NormalInverseGammaRegression(
        groups=groups, prior_variance={"intercept": np.inf, "main": 1.0}, n_replicates=3
    )
    bma = ModelAveraging(learner=base, grid=(0.0, 1.0), fit=("main",))
    for _ in range(2 * len(groups)):
        x = np.column_stack([np.ones(3), rng.uniform(-1, 1, (3, 3))])
        y = 3.0 * x[:, 1] - 2.0 * x[:, 2] + 0.2 * rng.normal(size=3)
        before = bma._inner.get_prior_variance("main").copy()
        bma.learn_one(x, y)
    assert np.all(before == 1.0)  # untouched before 2p
    fitted = bma._inner.get_prior_variance("main")
    assert np.all(fitted > 1.0)  # main effects of size 2-3 want a wider prior than 1
    with pytest.raises(ValueError, match="fit"):
        ModelAveraging(learner=base, grid=(0.0, 1.0), fit=("pairwise",))


def test_hedge_stays_within_its_bound_of_the_best_member():
    """Exp-concavity: with labels in [-1, 1] (width 2) and eta = 1/(2 * 2^2), the weighted mean's
    cumulative squared loss is at most the best member's plus log(K) / eta, on every replicate."""
    from regretlab.learners import SGDLinearRegression
    from regretlab.policies.escalation import Hedge

    rng = np.random.default_rng(9)
    r, groups = 8, ("intercept", "main", "main", "pairwise")
    members = {
        "main": BayesianLinearRegression(
            groups=groups, prior_variance={"pairwise": 0.0}, n_replicates=r
        ),
        "full": BayesianLinearRegression(groups=groups, n_replicates=r),
        "sgd": SGDLinearRegression(groups=groups, n_replicates=r),
    }
    hedge = Hedge(members, eta=1 / 8)
    own = np.zeros((3, r))
    mixed = np.zeros(r)
    for _ in range(400):
        u = rng.uniform(-1, 1, (r, 2))
        x = np.column_stack([np.ones(r), u, u[:, 0] * u[:, 1]])
        y = np.clip(0.3 * u[:, 0] + 0.5 * u[:, 0] * u[:, 1] + 0.3 * rng.uniform(-1, 1, r), -1, 1)
        preds = np.clip([m.predict_one(x) for m in members.values()], -1, 1)
        mixed += (np.clip(hedge.predict_one(x), -1, 1) - y) ** 2
        own += (preds - y) ** 2
        hedge.learn_one(x, y)
    assert np.all(mixed <= own.min(axis=0) + np.log(3) * 8 + 1e-9)
    with pytest.raises(ValueError, match="at least 2"):
        Hedge([members["main"]])


def test_the_default_predicts_the_same_before_its_evidence_wherever_the_origin_of_y_is():
    """Until the evidence has weighed its candidates once, the default predicts with its flat
    twins only: shifting ``y`` by any constant shifts those predictions by exactly it (the
    shrunk twins would pull a large intercept towards 0 with half the weight)."""
    env = InteractionStream(
        x_dim=2, interaction_scale=1.0, noise_level=0.5, horizon=8, n_replicates=1, seed=3
    )
    obs = env.take(8)
    design = env.features.transform(obs.x + 0.0)
    runs = []
    for shift in (0.0, 1000.0):
        bma = ModelAveraging.recommended(env.features, n_replicates=1)
        preds, sds = [], []
        for t in range(8):
            mean, sd = bma.predict_one(design[:, t], return_sd=True)
            preds.append(mean[0])
            sds.append(sd[0])
            bma.learn_one(design[:, t], obs.y[:, t] + shift)
        runs.append((np.array(preds), np.array(sds), bma))
    (base, base_sd, _), (moved, moved_sd, bma) = runs
    # Steps 2 and 3 come before any evidence (a training sample of two observations): equal
    # up to rounding at the scale of the shift; from step 4 the shrunk twins take part.
    np.testing.assert_allclose(moved[1:3] - 1000.0, base[1:3], atol=1e-9)
    np.testing.assert_allclose(moved_sd[1:3], base_sd[1:3], rtol=1e-9)
    flat = np.isinf(bma.candidates["intercept"])
    assert bma.weights[~flat].sum() < 1e-6  # the evidence then drops the shrunk ones
    # The restored state keeps the start behaviour: a copy made before the evidence predicts
    # like the original, one made after predicts with every candidate.
    fresh = ModelAveraging.recommended(env.features, n_replicates=1)
    fresh.learn_one(design[:, 0], obs.y[:, 0] + 1000.0)
    copy = ModelAveraging.recommended(env.features, n_replicates=1).set_state(fresh.get_state())
    np.testing.assert_array_equal(copy.predict_one(design[:, 1]), fresh.predict_one(design[:, 1]))
    later = ModelAveraging.recommended(env.features, n_replicates=1).set_state(bma.get_state())
    np.testing.assert_array_equal(later.predict_one(design[:, 7]), bma.predict_one(design[:, 7]))
