"""Gaps found by the full mutation-testing run of issue 20 (docs/mutation.md): each test kills
mutants that survived it, and was seen to fail with them planted by hand."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from regretlab.environments import BanditStep, LinearBandit
from regretlab.features import InteractionFeatures
from regretlab.learners import BayesianLinearRegression, DisjointBayesianLinearRegression
from regretlab.learners.gaussian import log_evidence
from regretlab.learners.stats import from_rows
from regretlab.policies import EpsilonGreedy, Greedy, LinUCB, Oracle, Random, ThompsonSampling
from regretlab.policies.escalation import EvidenceSwitch, ModelAveraging
from regretlab.simulate import Agent, Feedback, run_bandit

GROUPS = ("main", "main", "pairwise")


def _evidence(x: np.ndarray, y: np.ndarray, prior: np.ndarray) -> float:
    """log N(y; 0, X V X' + I) directly (noise precision 1)."""
    cov = x @ np.diag(prior) @ x.T + np.eye(len(y))
    return float(stats.multivariate_normal(np.zeros(len(y)), cov).logpdf(y))


def test_log_evidence_of_one_stream_and_of_replicates_under_one_prior():
    """Unbatched statistics, and batched ones with a prior without the replicate axis."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 6, 3)), rng.normal(size=(3, 6))
    prior = np.array([1.0, 0.5, 2.0])
    one = log_evidence(from_rows(x[0], y[0]), prior, 1.0)
    assert np.shape(one) == ()
    np.testing.assert_allclose(one, _evidence(x[0], y[0], prior), rtol=1e-10)
    # A near-perfect fit (y'y - m'X'y well below 1: no floor but 0 may touch it).
    close = x[0] @ np.array([0.1, -0.1, 0.05]) + 0.01 * y[0]
    got = log_evidence(from_rows(x[0], close), prior, 1.0)
    np.testing.assert_allclose(got, _evidence(x[0], close, prior), rtol=1e-10)
    batched = from_rows(x, y)  # (replicates, rows, p)
    want = [_evidence(x[i], y[i], prior) for i in range(3)]
    np.testing.assert_allclose(log_evidence(batched, prior, 1.0), want, rtol=1e-10)


def _averaging(**options):
    inner = BayesianLinearRegression(groups=GROUPS, n_replicates=2)
    return ModelAveraging(learner=inner, **options)


def test_model_averaging_grids_are_checked_and_named():
    with pytest.raises(ValueError, match=r"^grid must be"):
        _averaging(grid=(-1.0, 1.0))
    with pytest.raises(ValueError, match=r"among \['main'\] \(each once\), got 'pairwise'"):
        _averaging(grid=(0.0, 1.0), other_grids={"pairwise": [1.0]})
    with pytest.raises(ValueError, match=r"^other_grids\['main'\] must be a non-empty sequence"):
        _averaging(grid=(0.0, 1.0), other_grids={"main": ["wide"]})
    # 0 is a variance other groups may take (switched off) as well.
    bma = _averaging(grid=(0.0, 1.0), other_grids={"main": [0.0, 1.0]})
    assert bma.weights.shape == (4, 2)
    with pytest.raises(TypeError, match=r"^fit must be a sequence of group names"):
        _averaging(grid=(0.0, 1.0), fit="main")
    with pytest.raises(ValueError, match=r"^fit must name groups among \['main'\], got 'x'"):
        _averaging(grid=(0.0, 1.0), fit=("x",))


def test_off_weight_splits_a_value_over_its_repeated_candidates():
    """A value listed twice shares its prior weight; off_weight = 1 gives the others -inf
    quietly (no divide-by-zero warning)."""
    bma = _averaging(grid=(0.0, 1.0, 1.0), off_weight=0.5)
    np.testing.assert_allclose(bma.weights[:, 0], [0.5, 0.25, 0.25])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bma = _averaging(grid=(0.0, 1.0), off_weight=1.0)
    np.testing.assert_allclose(bma.weights[:, 0], [1.0, 0.0])


def test_epsilon_greedy_defaults_checks_and_tied_propensities():
    assert EpsilonGreedy().epsilon == 0.1
    for bad in (-0.5, np.nan):
        with pytest.raises(ValueError, match=r"^decay must be"):
            EpsilonGreedy(0.1, decay=bad)
    rng = np.random.default_rng(0)
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=3)
    tied = np.zeros((3, 4, len(GROUPS)))  # every action tied
    choice = EpsilonGreedy(0.2).select(model, tied, rng, step=1)
    np.testing.assert_allclose(choice.probability, 0.25)  # 0.2 / 4 + 0.8 / 4
    # Replicates explore independently: 64 replicates of pure exploration are not one action.
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=64)
    actions = EpsilonGreedy(1.0).select(model, np.zeros((64, 4, 3)), rng, step=1).actions
    assert len(np.unique(actions)) > 1


def test_exploration_on_one_stream():
    """Policies without a replicate axis: one action and one propensity per step."""
    env = LinearBandit(n_actions=3, context_dim=2, horizon=30, seed=4)
    agents = [
        Agent("eps", BayesianLinearRegression(groups=env.features), policy=EpsilonGreedy(0.3)),
        Agent("oracle", policy=Oracle()),
    ]
    run = run_bandit(env, agents, seed=0, log_steps=True)
    eps = run.steps[run.steps["agent"] == "eps"]
    assert set(np.round(eps["probability"], 12)) <= {0.1, round(0.1 + 0.7, 12)} | {
        round(0.1 + 0.7 / 2, 12),
        round(0.1 + 0.7 / 3, 12),
    }
    single = BayesianLinearRegression(groups=GROUPS)
    tied = np.zeros((4, len(GROUPS)))
    choice = EpsilonGreedy(0.0).select(single, tied, np.random.default_rng(0), step=1)
    assert choice.probability == 0.25
    means = np.array([0.5, 0.9, 0.9])
    choice = Oracle().select(None, np.zeros((3, 2)), np.random.default_rng(0), step=1, means=means)
    assert choice.actions in (1, 2)
    assert choice.probability == 0.5


def test_linucb_and_the_oracle_log_their_tie_shares_and_are_deterministic():
    rng = np.random.default_rng(0)
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=2)
    for policy in (LinUCB(1.0), Greedy()):
        choice = policy.select(model, np.zeros((2, 4, len(GROUPS))), rng, step=1)
        np.testing.assert_allclose(choice.probability, [0.25, 0.25])
        assert choice.deterministic is True
    means = np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    choice = Oracle().select(None, np.zeros((2, 3, 1)), rng, step=1, means=means)
    np.testing.assert_allclose(choice.probability, [0.5, 1.0])
    assert choice.deterministic is True
    with pytest.raises(ValueError, match=r"^Oracle needs the expected rewards: means must not"):
        Oracle().select(None, np.zeros((2, 3, 1)), rng, step=1)


class _Recorder:
    """A per-action learner that learns from propensities and records what it is taught."""

    learns_propensity = True

    def __init__(self, n_actions: int) -> None:
        self.n_actions = n_actions
        self.calls: list[tuple] = []

    def learn_one(self, x, y, *, action, probability):
        self.calls.append(
            (np.asarray(x).shape, np.asarray(action), np.asarray(probability), np.asarray(y))
        )

    def predict_one(self, x, **_):
        return np.zeros(np.shape(x)[:-1])

    def clone(self):
        return self  # the runner's fresh copy records here too


def test_a_learner_of_propensities_is_taught_the_rows_and_probabilities():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=4, n_replicates=2, seed=0)
    recorder = _Recorder(3)
    run = run_bandit(env, [Agent("r", recorder, policy=Random())], seed=1, log_steps=True)
    assert len(recorder.calls) == 4
    for t, (shape, action, probability, reward) in enumerate(recorder.calls, start=1):
        assert shape == (2, env.features.n_features)
        assert action.shape == (2,)
        np.testing.assert_allclose(probability, 1 / 3)
        np.testing.assert_allclose(reward, run.steps.loc[run.steps["step"] == t, "reward"])
    plain = run_bandit(env, [Agent("o", policy=Oracle())])
    assert plain.steps is None  # the step log is opt-in
    assert plain.regret["environment"].iloc[0].startswith("LinearBandit")
    assert LinUCB().alpha == 1.0


def test_the_step_log_has_named_columns_and_a_plain_index():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=5, n_replicates=2, seed=0)
    run = run_bandit(env, [Agent("o", policy=Oracle())], log_steps=True, environment="here")
    assert run.steps.columns.tolist() == [
        "environment", "agent", "replicate", "step", "action", "reward", "best_mean",
        "chosen_mean", "probability",
    ]  # fmt: skip
    assert run.steps.index.tolist() == list(range(10))
    assert repr(run).startswith("BanditResult(regret=<")
    assert set(run.steps["environment"]) == {"here"}
    assert set(run.steps["agent"]) == {"o"}


def test_log_evidence_with_a_flat_column_matches_the_limit_of_a_wide_prior():
    """A flat (``inf``) column: evidence up to a constant shared by priors with the same flat
    columns, so differences between two such priors equal the limit of a very wide prior
    (1e8: the difference moves by O(1e-8)). Replicate 1 has no data (its flat column is not
    determined): its evidence is -inf, and the batch takes the careful path for all."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(3, 8, 3)), rng.normal(size=(3, 8))
    x[1] = 0.0
    stats_ = from_rows(x, y)
    a, b = np.array([np.inf, 1.0, 0.5]), np.array([np.inf, 2.0, 0.1])
    got_a, got_b = log_evidence(stats_, a, 1.0), log_evidence(stats_, b, 1.0)
    assert np.isneginf(got_a[1])
    wide = 1e8
    want = [
        _evidence(x[i], y[i], np.r_[wide, a[1:]]) - _evidence(x[i], y[i], np.r_[wide, b[1:]])
        for i in (0, 2)
    ]
    np.testing.assert_allclose(got_a[[0, 2]] - got_b[[0, 2]], want, atol=1e-6)
    # Every replicate determined: the direct path gives the same differences.
    full = from_rows(x[[0, 2]], y[[0, 2]])
    diff = log_evidence(full, a, 1.0) - log_evidence(full, b, 1.0)
    np.testing.assert_allclose(diff, want, atol=1e-6)
    # One stream without the data to determine its flat column.
    assert np.isneginf(log_evidence(from_rows(x[1], y[1]), a, 1.0))


def test_action_probabilities_of_the_exploration_policies_in_closed_form():
    """What off-policy estimators read for a target policy: replicate 0 has one best action
    (3), replicate 1 two tied ones (1 and 2)."""
    rng = np.random.default_rng(0)
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=2)
    model.learn_one(np.tile([1.0, 0.0, 0.0], (2, 1)), np.ones(2))  # score grows with x_0
    designs = np.zeros((2, 4, len(GROUPS)))
    designs[:, :, 0] = [[0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 2.0, 1.0]]
    greedy = np.array([[0.0, 0.0, 0.0, 1.0], [0.0, 0.5, 0.5, 0.0]])
    means = designs[:, :, 0]
    for policy, want in [
        (Greedy(), greedy),
        (EpsilonGreedy(0.4, decay=1.0), 0.2 / 4 + 0.8 * greedy),  # epsilon_2 = 0.4 / 2
        (LinUCB(0.0), greedy),
        (Random(), np.full((2, 4), 0.25)),
        (Oracle(), greedy),
    ]:
        got = policy.action_probabilities(model, designs, rng, step=2, means=means)
        np.testing.assert_allclose(got, want, err_msg=repr(policy))
    # Thompson sampling with a tiny spread is greedy; shares of 4,000 draws (se <= 0.008).
    sampler = ThompsonSampling(scale=1e-9, propensity_draws=4000)
    shares = sampler.action_probabilities(model, designs, rng, step=2)
    np.testing.assert_allclose(shares, greedy, atol=0.05)
    shares = ThompsonSampling(scale=1e-9).action_probabilities(model, designs, rng, step=2)
    np.testing.assert_allclose(shares, greedy, atol=0.07)  # the default 1,000 draws
    with pytest.raises(ValueError, match=r"^Oracle needs the expected rewards: means must not"):
        Oracle().action_probabilities(model, designs, rng, step=2)
    single = BayesianLinearRegression(groups=GROUPS)
    got = EpsilonGreedy(0.4).action_probabilities(single, designs[1], rng, step=1)
    np.testing.assert_allclose(got, 0.25)  # untrained: every action tied
    assert [repr(p) for p in (Greedy(), Random(), Oracle())] == ["Greedy()", "Random()", "Oracle()"]


# -- the fourth run (docs/mutation.md): survivors of the third run and its open items ---------


def test_thompson_action_probabilities_honour_the_mask_and_count_their_draws():
    """Shares of exactly ``propensity_draws`` draws (1000 by default): without ties every share
    is a multiple of 1/1000; an unavailable action gets none."""
    rng = np.random.default_rng(2)
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=3)
    designs = rng.normal(size=(3, 4, len(GROUPS)))
    shares = ThompsonSampling().action_probabilities(model, designs, rng, step=1)
    assert np.all(shares > 0.0)  # an untrained model: every action wins some draws
    np.testing.assert_allclose(shares * 1000, np.round(shares * 1000), atol=1e-9)
    mask = np.array([[True, False, True, True], [False, True, True, True], [True] * 4])
    masked = ThompsonSampling(propensity_draws=500).action_probabilities(
        model, designs, rng, step=1, available=mask
    )
    np.testing.assert_array_equal(masked[~mask], 0.0)
    np.testing.assert_allclose(masked.sum(axis=-1), 1.0)
    np.testing.assert_allclose(masked * 500, np.round(masked * 500), atol=1e-9)


def test_sampling_factor_of_an_exactly_singular_covariance():
    """Perfectly correlated weights (a rank-one covariance, as after a flat prior on a
    duplicated column): the 1e-12 jitter on the correlation's diagonal lifts its zero
    eigenvalue, so the factor exists and reproduces the covariance."""
    from regretlab.learners.gaussian import sampling_factor

    v = np.array([2.0, -1.0, 0.5])
    cov = np.outer(v, v)
    factor = sampling_factor(np.stack([cov, np.diag(v**2)]))
    np.testing.assert_allclose(factor[0] @ factor[0].T, cov, atol=1e-10)
    np.testing.assert_allclose(factor[1], np.diag(np.abs(v)) * np.sqrt(1 + 1e-12), rtol=1e-15)


def test_model_averaging_fit_refits_on_its_schedule_and_never_switches_the_group_off():
    """``fit`` groups are set by type-II maximum likelihood at 2p observations and then at
    ``max(s + 10, ceil(1.1 s))`` (the documented schedule: every 10% more data, at least every
    10 steps), and as a continuous scale: never 0, even for a group whose true effect is 0
    (16 replicates: an evidence maximised at 0 somewhere is all but certain)."""
    r, groups = 16, ("main", "main", "null", "pairwise")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(125, r, 4))
    y = x @ np.array([1.0, -0.5, 0.0, 0.3]) + 0.5 * rng.normal(size=(125, r))
    inner = BayesianLinearRegression(groups=groups, n_replicates=r, noise_precision=4.0)
    bma = ModelAveraging(learner=inner, grid=(0.0, 1.0), fit=("null",))
    null = groups.index("null")
    before = bma.get_state()["prior_variance"][..., null].copy()
    changed = []
    for t in range(125):
        bma.learn_one(x[t], y[t])
        now = bma.get_state()["prior_variance"][..., null]
        if np.any(now != before):
            changed.append(t + 1)
            assert np.all(now > 0.0), t + 1
        before = now.copy()
    schedule = [8]
    while schedule[-1] < 125:
        schedule.append(max(schedule[-1] + 10, int(np.ceil(1.1 * schedule[-1]))))
    assert changed == schedule[:-1]  # ..., 98, 108, 119: odd steps too


def test_evidence_terms_use_the_rank_tolerance_they_are_given():
    """Two flat columns whose data are nearly collinear (the equilibrated Gram matrix's
    smallest eigenvalue is about 1e-9): determined under the default tolerance 1e-12, not
    under 1e-6, where ``log|A|`` is ``inf`` (an evidence of ``-inf``)."""
    from regretlab.learners.gaussian import evidence_terms

    rng = np.random.default_rng(6)
    a, b, c = rng.normal(size=(3, 2, 20))
    x = np.stack([a, a + 1e-4 * b, c], axis=-1)  # two replicates
    y = a + c + rng.normal(size=(2, 20))
    data, prior = from_rows(x, y), np.array([np.inf, np.inf, 1.0])
    loose, _, _ = evidence_terms(data, prior, 1.0)
    assert np.isfinite(loose).all()
    strict, _, fit = evidence_terms(data, prior, 1.0, rank_tol=1e-6)
    assert np.isposinf(strict).all()
    assert np.isfinite(fit).all()


def test_thompson_and_off_weight_errors_name_their_argument_first():
    with pytest.raises(ValueError, match=r"^scale must be >= 0"):
        ThompsonSampling(-1.0)
    with pytest.raises(ValueError, match=r"^propensity_draws must be >= 0"):
        ThompsonSampling(propensity_draws=-1)
    for grid in ((1.0, 2.0), (0.0, 0.0)):
        with pytest.raises(ValueError, match=r"^off_weight needs a grid with 0 and at least one"):
            _averaging(grid=grid, off_weight=0.5)


def test_thompson_sampling_names_non_finite_scores_and_logs_masked_propensities():
    """Finite designs whose scores overflow (a prior of variance 1e300): the error names the
    scores and the step. With a mask, the logged propensity is over the available actions: 1
    where only one is."""
    rng = np.random.default_rng(0)
    wide = BayesianLinearRegression(groups=("main", "main"), n_replicates=2, prior_variance=1e300)
    with pytest.raises(ValueError, match=r"^ThompsonSampling's scores at step 3 must be finite"):
        ThompsonSampling().select(wide, np.full((2, 3, 2), 1e200), rng, step=3)
    model = BayesianLinearRegression(groups=("main", "main"), n_replicates=2)
    mask = np.array([[False, True, False], [True, True, True]])
    designs = np.random.default_rng(1).normal(size=(2, 3, 2))
    choice = ThompsonSampling(propensity_draws=500).select(
        model, designs, rng, step=3, available=mask
    )
    assert choice.actions[0] == 1
    assert choice.probability[0] == 1.0
    assert 0.0 < choice.probability[1] < 1.0


@pytest.mark.parametrize("r", [None, 3])
def test_rank_one_update_with_deferred_factors_against_sherman_morrison(r):
    """The update with a factor buffer (batched, or one stream): the covariance is left alone
    and the update's row ``sqrt(beta / (1 + q)) S x`` goes to row ``n_factors`` (0 by
    default), so that ``S - F'F`` is the Sherman-Morrison covariance; a second update reads
    the first row."""
    from regretlab.learners import gaussian

    rng = np.random.default_rng(7)
    one = r is None
    r, p, beta = 1 if one else r, 4, 2.0
    a = rng.normal(size=(r, p, p))
    cov = a @ a.swapaxes(-1, -2) + np.eye(p)
    mean = rng.normal(size=(r, p))
    post = gaussian.GaussianPosterior(mean.copy(), cov.copy(), True)
    factors = np.zeros((r, 2, p))
    if one:  # the same arrays without the replicate axis (views: updated in place)
        post = gaussian.GaussianPosterior(post.mean[0], post.covariance[0], True)
    want_mean, want_cov = mean, cov
    for k in range(2):
        x, y = rng.normal(size=(r, p)), rng.normal(size=r)
        args = (x[0], y[0], factors[0]) if one else (x, y, factors)
        q, resid = gaussian.rank_one_update(
            post, args[0], args[1], beta, args[2], *((k,) if k else ())
        )
        sx = np.einsum("rpq,rq->rp", want_cov, x)
        want_q = beta * np.einsum("rp,rp->r", x, sx)
        np.testing.assert_allclose(q, want_q, rtol=1e-12)
        np.testing.assert_allclose(resid, y - np.einsum("rp,rp->r", x, want_mean), rtol=1e-12)
        gain = beta / (1 + want_q)
        want_mean = want_mean + (gain * (y - np.einsum("rp,rp->r", x, want_mean)))[:, None] * sx
        want_cov = want_cov - gain[:, None, None] * sx[:, :, None] * sx[:, None, :]
        used = factors[:, : k + 1]
        np.testing.assert_allclose(np.reshape(post.mean, (r, p)), want_mean, rtol=1e-10)
        np.testing.assert_allclose(cov - used.swapaxes(-1, -2) @ used, want_cov, atol=1e-10)
        np.testing.assert_array_equal(np.reshape(post.covariance, cov.shape), cov)  # untouched
    gaussian.absorb(post.covariance, factors[0] if one else factors, 2)
    np.testing.assert_allclose(np.reshape(post.covariance, cov.shape), want_cov, atol=1e-10)


def test_the_in_place_rank_one_update_of_a_strided_covariance():
    """One stream whose covariance is a strided view (neither C- nor Fortran-ordered): the
    Sherman-Morrison update is written into it."""
    from regretlab.learners import gaussian

    rng = np.random.default_rng(1)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + np.eye(5)
    store = np.zeros((10, 10))
    view = store[::2, ::2]
    view[...] = cov
    assert not view.flags.c_contiguous
    assert not view.flags.f_contiguous
    mean, x, y, beta = rng.normal(size=5), rng.normal(size=5), 0.7, 2.0
    post = gaussian.GaussianPosterior(mean.copy(), view, True)
    gaussian.rank_one_update(post, x, np.float64(y), beta)
    sx = cov @ x
    np.testing.assert_allclose(store[::2, ::2], cov - beta * np.outer(sx, sx) / (1 + beta * x @ sx))
    np.testing.assert_array_equal(store[1::2], 0.0)


class _StridedFeatures(InteractionFeatures):
    """The same design as a strided view (every other column of a doubled array): not
    contiguous in memory, as a user's map may return."""

    def transform(self, x):
        return np.repeat(super().transform(x), 2, axis=-1)[..., ::2]


class _SingleFeatures(InteractionFeatures):
    """The design in single precision (``float32``), or rounded to it (``float64``)."""

    def __init__(self, d: int, dtype: type) -> None:
        super().__init__(d, pairwise=False)
        self.dtype = dtype

    def transform(self, x):
        return super().transform(x).astype(np.float32).astype(self.dtype)


def test_bandit_runs_record_scheduler_events_and_take_a_non_contiguous_design():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=150, n_replicates=4, seed=2)
    switched = BayesianLinearRegression(
        groups=env.features, n_replicates=4, prior_variance={"context:action": 0}
    )
    switch = EvidenceSwitch("context:action", every=5)
    agents = [Agent("switch", switched, policy=ThompsonSampling(), scheduler=switch)]
    events = run_bandit(env, agents, seed=3, environment="here").events
    assert len(events) > 0
    assert set(events["environment"]) == {"here"}
    assert set(events["agent"]) == {"switch"}
    assert set(events["group"]) == {"context:action"}
    assert (events["step"] % 5 == 0).all()
    assert (events["old"] == 0.0).all()
    # A map without an action axis (a per-action learner's), contiguous or not.
    runs = []
    for fm in (InteractionFeatures(2, pairwise=False), _StridedFeatures(2, pairwise=False)):
        disjoint = DisjointBayesianLinearRegression(groups=fm, n_actions=3, n_replicates=4)
        agent = Agent("d", disjoint, features=fm, policy=ThompsonSampling())
        runs.append(run_bandit(env, [agent], seed=3, log_steps=True))
    # A float32 design: its rows are the same numbers as the float64 copy's.
    for fm in (_SingleFeatures(2, np.float32), _SingleFeatures(2, np.float64)):
        disjoint = DisjointBayesianLinearRegression(groups=fm, n_actions=3, n_replicates=4)
        agent = Agent("d", disjoint, features=fm, policy=ThompsonSampling())
        runs.append(run_bandit(env, [agent], seed=3, log_steps=True))
    assert not runs[1].steps["action"].eq(0).all()
    for a, b, c, d in zip(*runs, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        pd.testing.assert_frame_equal(c, d, check_exact=True)


class _StepBandit:
    """Every action's reward at step ``t`` is ``t``: a learner can tell which step it is taught."""

    n_actions, context_dim = 2, 1

    def __init__(self, horizon: int, n_replicates: int) -> None:
        self.horizon, self.n_replicates = horizon, n_replicates
        self.features = SimpleNamespace(transform=lambda c: c, n_features=1, groups=("main",))

    def blocks(self, block_size=None):
        shape = (self.n_replicates, self.horizon, self.n_actions)
        steps = np.broadcast_to(np.arange(1.0, self.horizon + 1)[:, None], shape).copy()
        yield BanditStep(np.zeros((self.n_replicates, self.horizon, 1)), steps, steps)


class _LearnedAt:
    """Records at which step (counted by ``predict_one``) each step's reward is learned."""

    def __init__(self, horizon: int, n_replicates: int) -> None:
        self.n_replicates, self.now = n_replicates, 0
        self.learned_at = np.zeros((n_replicates, horizon), int)

    def predict_one(self, x):
        self.now += 1
        return np.zeros(np.shape(x)[:-1])

    def learn_one(self, x, y):
        for r, s in enumerate(np.asarray(y).astype(int)):
            if s > 0:
                self.learned_at[r, s - 1] = self.now
        return self

    def clone(self):
        return self

    def get_state(self):
        return {"learned_at": self.learned_at.copy()}

    def set_state(self, state):
        self.learned_at = state["learned_at"].copy()
        return self


def test_random_delays_in_a_bandit_run_are_drawn_per_replicate():
    """Geometric delays (mean 3) are each replicate's own: the replicates learn a step's reward
    at different steps, each at or after the step, as in prequential runs."""
    env, recorder = _StepBandit(60, 4), _LearnedAt(60, 4)
    feedback = Feedback(delay="geometric", mean_delay=3.0, seed=2)
    run_bandit(env, [Agent("rec", recorder, policy=Greedy())], seed=0, feedback=feedback)
    seen = recorder.learned_at[:, :40]  # every step up to 40 learned by the end
    assert np.all(seen >= np.arange(1, 41))
    assert np.any(seen != seen[:1]), "every replicate learned every step at the same time"


def test_action_probabilities_under_a_mask_in_closed_form():
    """As the closed forms above, with the best action of replicate 0 (3) and one of the tied
    best of replicate 1 (1) unavailable: greedy rules move all their mass to action 2 (and
    choose it), uniform ones spread it over the three available actions."""
    rng = np.random.default_rng(0)
    model = BayesianLinearRegression(groups=GROUPS, n_replicates=2)
    model.learn_one(np.tile([1.0, 0.0, 0.0], (2, 1)), np.ones(2))  # score grows with x_0
    designs = np.zeros((2, 4, len(GROUPS)))
    designs[:, :, 0] = [[0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 2.0, 1.0]]
    mask = np.array([[True, True, True, False], [True, False, True, True]])
    greedy = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    uniform = mask / 3.0
    for policy, want in [
        (Greedy(), greedy),
        (EpsilonGreedy(0.4, decay=1.0), 0.2 * uniform + 0.8 * greedy),  # epsilon_2 = 0.2
        (LinUCB(0.0), greedy),
        (Random(), uniform),
        (Oracle(), greedy),
    ]:
        got = policy.action_probabilities(
            model, designs, rng, step=2, means=designs[:, :, 0], available=mask
        )
        np.testing.assert_allclose(got, want, err_msg=repr(policy))
    for policy in (Greedy(), LinUCB(0.0), Oracle()):  # and choose the best available action
        choice = policy.select(model, designs, rng, step=2, means=designs[:, :, 0], available=mask)
        np.testing.assert_array_equal(choice.actions, [2, 2], err_msg=repr(policy))
        np.testing.assert_allclose(choice.probability, 1.0)


def test_bandit_runs_refuse_feedback_for_propensity_learners_and_keep_a_learners_events():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=150, n_replicates=4, seed=2)
    agents = [Agent("o", policy=Oracle()), Agent("r", _Recorder(3), policy=Random())]
    with pytest.raises(ValueError, match=r"^feedback \(delayed or batched learning\) does not "):
        run_bandit(env, agents, feedback=Feedback())
    with pytest.raises(ValueError, match=r"the learners of \['r'\] learn from"):
        run_bandit(env, agents, feedback=Feedback())
    # A learner that reports its own prior changes (model averaging's leader), no scheduler.
    inner = BayesianLinearRegression(groups=env.features, n_replicates=4)
    bma = ModelAveraging(learner=inner, group="context:action", grid=(0.0, 1.0))
    events = run_bandit(env, [Agent("bma", bma, policy=ThompsonSampling())], seed=3).events
    assert len(events) > 0
    assert set(events["agent"]) == {"bma"}


def test_run_bandit_checkpoints_before_the_horizon_and_plain_indices():
    """Checkpoints that end before the horizon (the run goes on past the last one), and result
    tables with a plain 0..n-1 index, as one concatenated table should have (fourth run,
    ``run_bandit`` mutants 326, 340, 342 and 358)."""
    env = LinearBandit(n_actions=3, context_dim=2, horizon=30, n_replicates=3, seed=2)
    result = run_bandit(
        env, [Agent("random", policy=Random())], seed=1, checkpoints=[5, 10], log_steps=True
    )
    assert sorted(result.regret["step"].unique()) == [5, 10]
    for table in (result.regret, result.steps):
        pd.testing.assert_index_equal(table.index, pd.RangeIndex(len(table)))


def test_run_bandit_with_a_one_step_block_and_one_replicate():
    """A block of a single step (horizon 1) and a single replicate: the runner's fast paths
    (a time-first view, rows shared by every replicate) must not assume two of either (fifth
    run, ``_time_first`` mutant 13)."""
    from regretlab.environments import MultiArmedBandit
    from regretlab.learners import ArmMeans
    from regretlab.policies import UCB1

    for r in (1, 2):
        env = LinearBandit(n_actions=3, context_dim=2, horizon=1, n_replicates=r, seed=4)
        result = run_bandit(env, [Agent("random", policy=Random())], seed=1, checkpoints=[1])
        assert len(result.regret) == r
        # Arms without context: one row table shared by every replicate, taught each step.
        arms = MultiArmedBandit([0.2, 0.8], horizon=20, n_replicates=r, seed=4)
        agent = Agent("ucb1", ArmMeans(n_actions=2, n_replicates=r), policy=UCB1())
        result = run_bandit(arms, [agent], seed=1, checkpoints=[20])
        assert len(result.regret) == r
