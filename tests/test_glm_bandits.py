"""GLMBandit, SquareCB, the Bootstrap learner, bootstrapped and GLM Thompson sampling,
Monte Carlo propensities, and the escalation schedulers on a GLM."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import norm

from regretlab import learners, policies
from regretlab.environments import Bernoulli, GLMBandit, LinearBandit, Poisson
from regretlab.policies import escalation
from regretlab.simulate import Agent, run_bandit

# -- the environment ------------------------------------------------------------------------


@pytest.mark.parametrize("link", ["logit", "log"])
def test_means_are_the_link_of_the_linear_bandit(link):
    """Same seed, same truth and contexts as LinearBandit; means = mu(eta)."""
    kwargs = {"n_actions": 3, "context_dim": 2, "horizon": 40, "n_replicates": 2, "seed": 5}
    glm = GLMBandit(link=link, weight_scale=0.5, **kwargs).take(40)
    linear = LinearBandit(**kwargs)
    np.testing.assert_array_equal(glm.context, linear.take(40).context)
    eta = np.einsum("rmkp,rp->rmk", linear.features.transform(glm.context), linear.true_weights)
    mu = expit(0.5 * eta) if link == "logit" else np.exp(0.5 * eta)
    np.testing.assert_allclose(glm.means, mu, rtol=1e-12)


def test_intercept_sets_the_click_rate():
    env = GLMBandit(
        n_actions=5, context_dim=1, intercept=-4.5, horizon=2000, n_replicates=50, seed=0
    )
    assert np.all(env.true_weights[:, 0] == -4.5)
    block = env.take(2000)
    # Rewards are Bernoulli(means): the realised rate is within 4 binomial sd of the mean rate
    # (false-failure rate about 6e-5).
    n = block.rewards.size
    rate = block.means.mean()
    assert 0.01 < rate < 0.03
    assert abs(block.rewards.mean() - rate) < 4 * np.sqrt(rate / n)
    assert set(np.unique(block.rewards)) <= {0.0, 1.0}


def test_poisson_rewards_have_the_means():
    env = GLMBandit(link="log", weight_scale=0.3, horizon=3000, n_replicates=20, seed=1)
    block = env.take(3000)
    assert np.all(block.rewards == np.floor(block.rewards))
    # Sum of Poisson draws: mean = variance = sum of the means (4 sd, ~6e-5 false failures).
    total = block.means.sum()
    assert abs(block.rewards.sum() - total) < 4 * np.sqrt(total)


def test_take_with_a_start_is_a_slice_of_the_blocks():
    env = GLMBandit(link="log", weight_scale=0.5, horizon=30, n_replicates=3, seed=2, block_size=7)
    whole = np.concatenate([b.rewards for b in env.blocks()], axis=1)
    np.testing.assert_array_equal(env.take(25, start=11).rewards, whole[:, 11:25])
    single = GLMBandit(horizon=30, seed=2)
    np.testing.assert_array_equal(single.take(30, start=4).means, single.take(30).means[4:])


def test_environment_rejects_bad_arguments():
    with pytest.raises(ValueError, match="link must be one of"):
        GLMBandit(link="identity")
    with pytest.raises(ValueError, match="the log link gives means"):
        GLMBandit(link="log", reward=Bernoulli())
    with pytest.raises(TypeError, match="reward must be a reward model"):
        GLMBandit(reward="bernoulli")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_actions must be >= 2"):
        GLMBandit(n_actions=1)
    assert GLMBandit(reward=Poisson(), horizon=5, seed=0).take(5).rewards.shape == (5, 5)


# -- SquareCB -------------------------------------------------------------------------------


def test_inverse_gap_weights_closed_form():
    scores = np.array([[0.2, 0.9, 0.5], [0.4, 0.4, 0.1]])
    probs = policies.inverse_gap_weights(scores, np.array([1, 0]), 20.0)
    np.testing.assert_allclose(probs[0, [0, 2]], [1 / (3 + 20 * 0.7), 1 / (3 + 20 * 0.4)])
    np.testing.assert_allclose(probs[1, 1], 1 / 3)  # a tie has gap 0
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0)


def test_squarecb_draws_with_its_probabilities():
    """Action frequencies over many replicates match the closed form; so do the propensities."""
    r, k = 20_000, 3
    model = learners.BayesianLinearRegression(groups=("main",) * 3, n_replicates=r)
    model.learn_one(np.tile(np.eye(3)[0], (r, 1)), np.full(r, 0.8))
    designs = np.broadcast_to(np.eye(3), (r, k, 3))
    policy = policies.SquareCB(gamma_scale=10.0)
    choice = policy.select(model, designs, np.random.default_rng(0), step=4)
    scores = np.asarray(model.predict_one(designs))[0]
    expected = policies.inverse_gap_weights(scores, np.array(0), policy.gamma_at(4))
    freq = np.bincount(choice.actions, minlength=k) / r
    # 4.5 binomial sd per action (false failures below 1e-4 in all).
    assert np.all(np.abs(freq - expected) < 4.5 * np.sqrt(expected * (1 - expected) / r))
    np.testing.assert_allclose(choice.probability, expected[choice.actions])
    assert policy.gamma_at(4) == 20.0


def test_squarecb_scales_rewards():
    model = learners.BayesianLinearRegression(groups=("main", "main"))
    model.learn_one(np.array([1.0, 0.0]), 10.0)
    wide = policies.SquareCB(reward_range=(-20.0, 20.0)).select(
        model, np.eye(2), np.random.default_rng(1), step=1
    )
    # Predictions 5 and 0 scale to 0.625 and 0.5: the other action has 1 / (2 + 10 * 0.125)
    # (unscaled and clipped to [0, 1] it would be 1 / (2 + 10)).
    other = 1 / (2 + 10 * 0.125)
    assert float(wide.probability) in (pytest.approx(other), pytest.approx(1 - other))
    with pytest.raises(ValueError, match="reward_range"):
        policies.SquareCB(reward_range=(1.0, 1.0))
    with pytest.raises(ValueError, match="gamma_scale must be >= 0"):
        policies.SquareCB(gamma_scale=-1.0)


# -- the bootstrap --------------------------------------------------------------------------


def test_bootstrap_weights_squared_loss_exactly():
    """A learner without ``weight=`` learns row * sqrt(k): X'X and X'y weighted by k."""
    rng = np.random.default_rng(0)
    boot = learners.Bootstrap(learners.BayesianLinearRegression(groups=("main",) * 3), n_copies=4)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    weights = []
    for row, target in zip(x, y, strict=True):
        weights.append(boot.step_weights().copy())
        boot.learn_one(row, target)
    k = np.array(weights)  # (T, B)
    stats = boot._inner.stats
    np.testing.assert_allclose(stats.xtx, np.einsum("tb,tp,tq->bpq", k, x, x), atol=1e-10)
    np.testing.assert_allclose(stats.xty, np.einsum("tb,tp,t->bp", k, x, y), atol=1e-10)
    assert abs(k.mean() - 1.0) < 0.3
    assert k.min() == 0.0


def test_bootstrap_weights_do_not_depend_on_the_replicate_count():
    make = lambda r: learners.Bootstrap(  # noqa: E731
        learners.BayesianGLM(groups=("main",) * 2, n_replicates=r), n_copies=3, seed=4
    )
    two, five = make(2), make(5)
    for _ in range(300):  # across a block boundary
        np.testing.assert_array_equal(two.step_weights(), five.step_weights()[:6])
        two._step += 1
        five._step += 1


def test_bootstrapped_ts_probability_is_the_share_of_copies():
    rng = np.random.default_rng(3)
    boot = learners.Bootstrap(
        learners.BayesianLinearRegression(groups=("main",) * 2, n_replicates=4), n_copies=7
    )
    for _ in range(5):
        boot.learn_one(rng.normal(size=(4, 2)), rng.normal(size=4))
    designs = rng.normal(size=(4, 3, 2))
    choice = policies.BootstrappedThompsonSampling().select(boot, designs, rng, step=6)
    copies = boot.predict_copies(designs)  # (4, 7, 3)
    share = (copies.argmax(axis=-1)[..., None] == np.arange(3)).mean(axis=1)
    np.testing.assert_allclose(choice.probability, share[np.arange(4), choice.actions])
    with pytest.raises(TypeError, match=r"wrap the learner in regretlab\.learners\.Bootstrap"):
        policies.BootstrappedThompsonSampling().select(boot._inner, designs, rng, step=1)


# -- Thompson sampling on the GLM and its propensities --------------------------------------


def test_thompson_action_probabilities_match_the_exact_probability():
    """Per-action Gaussian scores: P(a0 > a1) = Phi(gap / sd); Monte Carlo within 4 sd."""
    model = learners.DisjointBayesianLinearRegression(groups=("main",), n_actions=2)
    model.learn_one(np.ones(1), 0.5, action=0)
    loc, sd = model.predict_one(np.ones((2, 1)), return_sd=True, include_noise=False)
    exact = norm.cdf((loc[0] - loc[1]) / np.hypot(*sd))
    m = 20_000
    p = policies.ThompsonSampling(propensity_draws=m).action_probabilities(
        model, np.ones((2, 1)), np.random.default_rng(0), step=1
    )[0]
    assert abs(p - exact) < 4 * np.sqrt(exact * (1 - exact) / m) + 1 / m


def test_glm_thompson_sampling_uses_the_shared_posterior_interface():
    model = learners.BayesianGLM(groups=("main",) * 2, n_replicates=3)
    model.learn_one(np.ones((3, 2)), np.array([1.0, 0.0, 1.0]))
    choice = policies.ThompsonSampling(propensity_draws=50).select(
        model, np.broadcast_to(np.eye(2), (3, 2, 2)), np.random.default_rng(0), step=2
    )
    assert choice.actions.shape == (3,)
    assert np.all((choice.probability > 0) & (choice.probability <= 1))


def test_every_glm_agent_beats_random_on_a_logistic_bandit():
    r = 30
    env = GLMBandit(
        n_actions=5, context_dim=1, horizon=1500, n_replicates=r, seed=0, intercept=-2.0
    )
    glm = learners.BayesianGLM(groups=env.features, n_replicates=r)
    agents = [
        Agent("glm-ts", glm, policy=policies.ThompsonSampling()),
        Agent("glm-squarecb", glm, policy=policies.SquareCB()),
        Agent(
            "boot-ts",
            learners.Bootstrap(glm, n_copies=8),
            policy=policies.BootstrappedThompsonSampling(),
        ),
        Agent("random", policy=policies.Random()),
    ]
    final = run_bandit(env, agents, seed=1, checkpoints=[1500]).regret
    regret = final.groupby("agent").pseudo_regret.mean()
    # Seeded: every learner ends below half of uniform random's regret (measured ~0.2-0.35).
    for name in ("glm-ts", "glm-squarecb", "boot-ts"):
        assert regret[name] < 0.5 * regret["random"], regret


# -- escalation on a GLM --------------------------------------------------------------------


@pytest.mark.parametrize(
    "scheduler",
    [
        escalation.EvidenceSwitch("context:action", every=20),
        escalation.UncertaintyTrigger("context:action", every=20),
    ],
)
def test_data_driven_schedulers_escalate_a_glm_only_with_interactions(scheduler):
    r = 20
    fired = {}
    for scale in (0.0, 2.0):
        env = GLMBandit(
            n_actions=3,
            context_dim=2,
            horizon=1200,
            n_replicates=r,
            seed=7,
            interaction_scale=scale,
            intercept=-0.5,
        )
        glm = learners.BayesianGLM(
            groups=env.features, n_replicates=r, prior_variance={"context:action": 0.0}
        )
        agent = Agent("esc", glm, policy=policies.Random(), scheduler=scheduler)
        events = run_bandit(env, [agent], seed=1, checkpoints=[1200]).events
        fired[scale] = events.replicate.nunique()
    # Seeded: with strong interactions most replicates escalate, without them at most 2 of 20
    # (a 5% nominal false-escalation rate; the GLM's is approximate, via Laplace evidence).
    assert fired[2.0] >= 12, fired
    assert fired[0.0] <= 2, fired


def test_model_averaging_runs_over_a_glm():
    """ModelAveraging over the interaction variance works on a BayesianGLM (weights from its
    plug-in predictive probabilities) and passes the learner checks."""
    from regretlab import checks

    groups = ("intercept", "main", "main", "pairwise")
    averaged = escalation.ModelAveraging(
        learner=learners.BayesianGLM(groups=groups), group="pairwise", grid=(0.0, 0.1, 1.0)
    )
    checks.check_learner(averaged)
