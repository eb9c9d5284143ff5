"""Model selection over whole bandit agents: CORRAL and regret balancing (issue 16)."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from regretlab.base import Choice
from regretlab.environments import LinearBandit
from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression
from regretlab.policies import Random, ThompsonSampling
from regretlab.policies.selection import (
    ChosenAgent,
    Corral,
    RegretBalancing,
    RegretBound,
    _bases,
    importance_weighted,
    log_barrier_step,
)
from regretlab.simulate import Agent, run_bandit


class FixedArm:
    """A base policy that always plays one arm (probability 1)."""

    def __init__(self, arm: int) -> None:
        self.arm = arm

    def select(self, model, designs, rng, *, step, means=None):
        shape = designs.shape[:-2]
        return Choice(np.full(shape, self.arm), np.ones(shape))


def _toy(selector_type, r=20, t=2000, seed=0, **kwargs):
    """Two fixed-arm bases, arm 0 worth 1 and arm 1 worth 0 (noise sd 0.1); drive the selector
    as run_bandit does and return it with the picks of every step."""
    bases = {"good": (None, FixedArm(0)), "bad": (None, FixedArm(1))}
    selector = selector_type(bases, n_replicates=r, **kwargs)
    rng, noise = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    designs = np.zeros((r, 2, 1))
    picks = np.empty((t, r), dtype=int)
    for step in range(1, t + 1):
        choice = selector.select(designs, rng, step=step)
        picks[step - 1] = selector._picks
        rewards = np.where(choice.actions == 0, 1.0, 0.0) + 0.1 * noise.normal(size=r)
        selector.learn_one(designs[:, 0], rewards)
    return selector, picks


def _ts_bases(env, r, priors=({"context:action": 0.0}, 1.0), cls=BayesianLinearRegression):
    return {
        f"b{i}": (cls(groups=env.features, prior_variance=p, n_replicates=r), ThompsonSampling())
        for i, p in enumerate(priors)
    }


# -- CORRAL's pieces ------------------------------------------------------------------------


def test_log_barrier_step_is_the_mirror_descent_solution():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=50).T  # (M, R)
    losses = np.zeros_like(p)
    losses[rng.integers(0, 4, 50), np.arange(50)] = rng.uniform(0, 30, 50)
    eta = rng.uniform(0.01, 0.5, size=p.shape)
    new = log_barrier_step(p, losses, eta)
    np.testing.assert_allclose(new.sum(axis=0), 1.0, rtol=0, atol=1e-12)
    assert np.all(new > 0)
    # 1/p' = 1/p + eta (l - lambda) with one lambda per replicate, inside [min l, max l].
    lam = losses - (1 / new - 1 / p) / eta
    np.testing.assert_allclose(lam, lam[:1].repeat(4, axis=0), rtol=0, atol=1e-6)
    assert np.all(lam[0] >= losses.min(axis=0) - 1e-9)
    assert np.all(lam[0] <= losses.max(axis=0) + 1e-9)
    # The base that lost has less probability, the others more.
    hit = losses > 0
    assert np.all(new[hit] < p[hit])
    assert np.all(new[~hit] >= p[~hit] - 1e-15)


def test_importance_weighted_estimate_is_unbiased():
    # Each base's value seen through one pick per draw; n draws; the estimate of base i has sd
    # v_i sqrt((1 - p_i) / p_i) / sqrt(n): bounds of 4.5 sd fail by chance with probability
    # about 7e-6 per base (3e-5 for the four).
    rng = np.random.default_rng(12345)
    values = np.array([0.3, 1.0, 2.5, 0.8])
    p = np.array([0.1, 0.2, 0.3, 0.4])
    n = 200_000
    picks = rng.choice(4, size=n, p=p)
    estimates = importance_weighted(np.take(values, picks), picks, np.repeat(p[:, None], n, axis=1))
    mean = estimates.mean(axis=1)
    sd = values * np.sqrt((1 - p) / p) / np.sqrt(n)
    assert np.all(np.abs(mean - values) < 4.5 * sd), (mean, values, sd)


def test_corral_distribution_keeps_its_floor_and_concentrates_on_the_better_base():
    t = 2000
    corral, picks = _toy(Corral, t=t, horizon=t, reward_range=(-0.5, 1.5))
    dist = corral.distribution
    np.testing.assert_allclose(dist.sum(axis=0), 1.0, rtol=0, atol=1e-12)
    assert corral.floor == pytest.approx(1 / (t * 2))
    assert np.all(dist >= corral.floor)
    # Stated margin: by T the good base has probability >= 0.9 in every replicate, and it was
    # picked in at least 90% of the second half's steps.
    assert np.all(dist[0] >= 0.9), dist[0]
    assert (picks[t // 2 :] == 0).mean() >= 0.9
    assert np.all(corral.pick_counts.sum(axis=0) == t)


def test_corral_floor_holds_and_starved_learning_rates_grow():
    corral, _ = _toy(Corral, r=5, t=300, horizon=300, learning_rate=2.0)
    # The learning rates grew for the starved base (rho doubling rule): beta > 1 applied.
    assert np.all(corral.distribution >= corral.floor)
    assert np.all(corral._eta[1] > 2.0)


def test_regret_balancing_eliminates_the_bad_base():
    rb, picks = _toy(RegretBalancing, bounds=[RegretBound(1), RegretBound(1)], confidence_scale=0.1)
    assert np.all(rb.active[0])
    assert not np.any(rb.active[1])
    # Eliminated early: the bad base's plays stop well before T.
    assert np.all(rb.pick_counts[1] < 100)
    assert np.all(picks[-100:] == 0)


def test_regret_balancing_balances_the_putative_bounds():
    # Two equally good bases: bounds sqrt(n) and sqrt(4 n) balance at n_0 = 4 n_1.
    bases = {"a": (None, FixedArm(0)), "b": (None, FixedArm(0))}
    rb = RegretBalancing(bases, bounds=[RegretBound(1), RegretBound(4)])
    designs = np.zeros((2, 1))
    for step in range(1, 501):
        rb.select(designs, np.random.default_rng(step), step=step)
        rb.learn_one(designs[0], 1.0)
    n = rb.pick_counts
    assert n.sum() == 500
    assert rb.active.all()
    assert abs(n[0] - 4 * n[1]) <= 4


# -- teaching only the picked replicates ------------------------------------------------------


def _masked_step_check(selector, env_seed=0, steps=40):
    """Drive ``selector`` on a LinearBandit; after every step, each base's state equals, per
    replicate, its state before the step where the replicate picked another base, and a
    separate model's that learned the same observation where it picked this one."""
    r = selector.n_replicates
    env = LinearBandit(n_actions=3, context_dim=2, horizon=steps, n_replicates=r, seed=env_seed)
    rng = np.random.default_rng(1)
    shadows = [m.clone() for m in selector._learners]  # learn everything, for the picked rows
    for step, block in enumerate(env, 1):
        designs = env.features.transform(block.context)
        before = [m.get_state() for m in selector._learners]
        choice = selector.select(designs, rng, step=step)
        picks = selector._picks.copy()
        chosen = designs[np.arange(r), choice.actions]
        y = block.rewards[np.arange(r), choice.actions]
        selector.learn_one(chosen, y)
        for i, learner in enumerate(selector._learners):
            after = learner.get_state()
            shadow = shadows[i]
            shadow.set_state(before[i])
            shadow.learn_one(chosen, y)
            taught = shadow.get_state()
            for key, value in after.items():
                mine = picks == i
                np.testing.assert_array_equal(value[~mine], before[i][key][~mine], err_msg=key)
                np.testing.assert_allclose(value[mine], taught[key][mine], rtol=1e-12)
    return selector


@pytest.mark.parametrize("cls", [BayesianLinearRegression, NormalInverseGammaRegression])
def test_unpicked_replicates_state_is_exactly_unchanged(cls):
    env = LinearBandit(n_actions=3, context_dim=2, horizon=5, n_replicates=6, seed=0)
    corral = Corral(_ts_bases(env, 6, cls=cls), horizon=40, learning_rate=0.5)
    selector = _masked_step_check(corral)
    assert np.all(selector.pick_counts.min(axis=1) > 0)  # both bases were picked somewhere


def test_a_selector_that_teaches_every_replicate_fails_the_check(monkeypatch):
    # The planted bug: learn on all replicates and keep it.
    monkeypatch.setattr(_bases, "restore_unpicked", lambda name, mask, after, before: after)
    env = LinearBandit(n_actions=3, context_dim=2, horizon=5, n_replicates=6, seed=0)
    corral = Corral(_ts_bases(env, 6), horizon=40, learning_rate=0.5)
    with pytest.raises(AssertionError):
        _masked_step_check(corral)


class SharedCounter:
    """A learner whose step counter is shared by its replicates (breaks the state contract)."""

    n_replicates = 3
    n_features = 2

    def __init__(self):
        self.t = 0.0

    def learn_one(self, x, y):
        self.t += 1
        return self

    def predict_one(self, x):
        return np.zeros(3)

    def clone(self):
        return SharedCounter()

    def get_state(self):
        return {"t": np.asarray(self.t)}

    def set_state(self, state):
        self.t = float(state["t"])
        return self


def test_a_learner_with_shared_state_is_refused_when_picks_differ():
    bases = {"a": (SharedCounter(), FixedArm(0)), "b": (SharedCounter(), FixedArm(1))}
    corral = Corral(bases, horizon=10)
    designs = np.zeros((3, 2, 2))
    for step in range(1, 50):
        corral.select(designs, np.random.default_rng(step), step=step)
        if 0 < (corral._picks == 0).sum() < 3:
            with pytest.raises(TypeError, match=r"state entry 't' .* no replicate axis"):
                corral.learn_one(designs[:, 0], np.zeros(3))
            return
        corral.learn_one(designs[:, 0], np.zeros(3))
    pytest.fail("the picks never differed between replicates")


# -- through the runner --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["corral", "balancing"])
def test_selectors_run_through_run_bandit_reproducibly(kind):
    r, t = 5, 120
    env = LinearBandit(n_actions=3, context_dim=2, horizon=t, n_replicates=r, seed=4)
    if kind == "corral":
        selector = Corral(_ts_bases(env, r), horizon=t)
    else:
        selector = RegretBalancing(_ts_bases(env, r), bounds=[RegretBound(6), RegretBound(12)])
    agent = Agent(kind, selector, policy=ChosenAgent())
    a = run_bandit(env, [agent], seed=2, log_steps=True)
    b = run_bandit(env, [agent], seed=2, log_steps=True)
    pd_equal = a.regret.equals(b.regret) and a.steps.equals(b.steps)
    assert pd_equal
    assert a.steps["probability"].isna().all()  # Thompson sampling reports no propensity
    # The agent's own learner is untouched (the runner taught a clone).
    assert np.all(selector.pick_counts == 0)
    assert set(a.events["group"]) <= {"base"}
    # Pickles (process pools), and the state survives numpy.savez.
    clone = pickle.loads(pickle.dumps(selector))
    assert clone.names == selector.names
    run = selector.clone()
    designs = env.features.transform(next(iter(env)).context)
    for step in range(1, 30):
        choice = run.select(designs, np.random.default_rng(step), step=step)
        run.learn_one(designs[np.arange(r), choice.actions], np.ones(r))
    buffer = io.BytesIO()
    np.savez(buffer, **run.get_state())
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as saved:
        restored = selector.clone().set_state(dict(saved))
    for step in range(30, 40):
        c1 = run.select(designs, np.random.default_rng(step), step=step)
        c2 = restored.select(designs, np.random.default_rng(step), step=step)
        np.testing.assert_array_equal(c1.actions, c2.actions)
        run.learn_one(designs[np.arange(r), c1.actions], np.ones(r))
        restored.learn_one(designs[np.arange(r), c2.actions], np.ones(r))
    np.testing.assert_allclose(run.predict_one(designs), restored.predict_one(designs))


def test_probability_is_the_product_of_the_pick_and_the_base_policy():
    r = 4
    env = LinearBandit(n_actions=3, context_dim=2, horizon=5, n_replicates=r, seed=0)
    bases = {"random": (None, Random()), "ts": _ts_bases(env, r)["b0"]}
    corral = Corral(bases, horizon=100)
    designs = env.features.transform(next(iter(env)).context)
    assert corral.select(designs, np.random.default_rng(0), step=1).probability is None
    bases = {"a": (None, Random()), "b": (None, FixedArm(2))}
    corral = Corral(bases, horizon=100, n_replicates=r)
    choice = corral.select(designs, np.random.default_rng(0), step=1)
    expected = np.where(corral._picks == 0, 0.5 / 3, 0.5 * 1.0)
    np.testing.assert_allclose(choice.probability, expected)


# -- bad input ---------------------------------------------------------------------------------


def test_bad_input_is_refused():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=5, n_replicates=4, seed=0)
    two = _ts_bases(env, 4)
    with pytest.raises(ValueError, match="at least 2 base agents, got 1"):
        Corral({"a": two["b0"]}, horizon=10)
    with pytest.raises(ValueError, match="at least 2 base agents"):
        RegretBalancing({"a": two["b0"]}, bounds=[RegretBound(1)])
    other = BayesianLinearRegression(groups=env.features, n_replicates=5)
    with pytest.raises(ValueError, match="bases must share n_replicates"):
        Corral({"a": two["b0"], "b": (other, ThompsonSampling())}, horizon=10)
    with pytest.raises(ValueError, match="n_replicates=5 does not match"):
        Corral(two, horizon=10, n_replicates=5)
    for bad in (0.0, -1.0, float("nan"), "fast"):
        with pytest.raises((ValueError, TypeError), match="learning_rate"):
            Corral(two, horizon=10, learning_rate=bad)
    with pytest.raises(ValueError, match="horizon must be >= 2"):
        Corral(two, horizon=1)
    for bad in ((1.0, 0.0), "fixed", (0.0, float("inf")), (1.0,)):
        with pytest.raises(ValueError, match="reward_range"):
            Corral(two, horizon=10, reward_range=bad)
    with pytest.raises(TypeError, match=r"bases\['a'\] must be a \(learner, policy\) pair"):
        Corral({"a": "ts", "b": two["b1"]}, horizon=10)
    with pytest.raises(TypeError, match="policy must have a select"):
        Corral({"a": (two["b0"][0], "greedy"), "b": two["b1"]}, horizon=10)
    with pytest.raises(ValueError, match="features=None"):
        Corral(
            [
                Agent("a", two["b0"][0], features=env.features, policy=ThompsonSampling()),
                Agent("b", *two["b1"][:1], policy=ThompsonSampling()),
            ],
            horizon=10,
        )
    with pytest.raises(ValueError, match="one bound per base"):
        RegretBalancing(two, bounds=[RegretBound(1)])
    with pytest.raises(ValueError, match=r"bounds\['b1'\] must map"):
        RegretBalancing(two, bounds=[RegretBound(1), lambda n: -n])
    with pytest.raises(ValueError, match="delta"):
        RegretBalancing(two, bounds=[RegretBound(1), RegretBound(2)], delta=1.0)
    corral = Corral(two, horizon=10)
    with pytest.raises(ValueError, match="needs the picks of a select"):
        corral.learn_one(np.zeros((4, env.features.n_features)), np.zeros(4))
    designs = env.features.transform(next(iter(env)).context)
    corral.select(designs, np.random.default_rng(0), step=1)
    with pytest.raises(ValueError, match="y must have shape"):
        corral.learn_one(designs[:, 0], np.zeros(3))
    with pytest.raises(ValueError, match="y"):
        corral.learn_one(designs[:, 0], np.full(4, np.nan))


def test_agents_as_bases_and_clone_is_fresh():
    env = LinearBandit(n_actions=3, context_dim=2, horizon=60, n_replicates=3, seed=1)
    two = _ts_bases(env, 3)
    agents = [Agent(name, learner, policy=policy) for name, (learner, policy) in two.items()]
    corral = Corral(agents, horizon=60)
    assert corral.names == ["b0", "b1"]
    run_bandit(env, [Agent("c", corral, policy=ChosenAgent())], seed=0)
    fresh = corral.clone()
    assert fresh.names == corral.names
    assert np.all(fresh.pick_counts == 0)
    assert fresh._learners[0] is not corral._learners[0]


SELECTION_FILE = """
seed = 3
horizon = 60
replicates = 3

[environments.personal]
type = "LinearBandit"
n_actions = 3
context_dim = 2
interaction_scale = 1.0

[agents.corral]
policy = { type = "ChosenAgent" }
[agents.corral.learner]
type = "Corral"
reward_range = [-4.0, 4.0]
[agents.corral.learner.bases.main]
learner = { type = "BayesianLinearRegression", prior_variance = { "context:action" = 0.0 } }
policy = { type = "ThompsonSampling" }
[agents.corral.learner.bases.full]
learner = { type = "BayesianLinearRegression" }
policy = { type = "ThompsonSampling" }

[agents.balancing]
policy = { type = "ChosenAgent" }
[agents.balancing.learner]
type = "RegretBalancing"
[agents.balancing.learner.bases.main]
learner = { type = "BayesianLinearRegression", prior_variance = { "context:action" = 0.0 } }
policy = { type = "ThompsonSampling" }
[agents.balancing.learner.bases.full]
learner = { type = "BayesianLinearRegression" }
policy = { type = "ThompsonSampling" }
"""


def test_selectors_can_be_written_in_an_experiment_file(tmp_path):
    from regretlab.experiments.experiment import load_experiment
    from regretlab.experiments.registry import ExperimentError

    path = tmp_path / "selection.toml"
    path.write_text(SELECTION_FILE)
    exp = load_experiment(path)
    env = exp.build_environment("personal", n_replicates=3, seed=1)
    corral, balancing = exp.build_agents(env, seed=2)
    assert isinstance(corral.learner, Corral)
    assert corral.learner.horizon == 60
    assert corral.learner.names == ["main", "full"]
    # d counted from the priors: main effects 1 + 2 + 3 = 6 columns, the full model 12.
    assert [b.dimension for b in balancing.learner.bounds] == [6, 12]
    result = run_bandit(env, [corral, balancing], seed=0)
    assert np.isfinite(result.regret.pseudo_regret).all()
    bad = SELECTION_FILE.replace(
        'type = "ThompsonSampling" }\n\n[agents.balancing]',
        'type = "Thompson" }\n\n[agents.balancing]',
    )
    path.write_text(bad)
    with pytest.raises(ExperimentError, match=r"bases.full.policy.type: unknown policy"):
        load_experiment(path)


def test_model_averaging_as_a_base_is_refused_clearly():
    # Its candidates x replicates share one leading axis: not the replicate-first contract.
    from regretlab.policies.escalation import ModelAveraging

    r = 4
    env = LinearBandit(n_actions=3, context_dim=2, horizon=60, n_replicates=r, seed=0)
    bma = ModelAveraging.recommended(env.features, group="context:action", n_replicates=r)
    bases = {"bma": (bma, ThompsonSampling()), "main": _ts_bases(env, r)["b0"]}
    agent = Agent("c", Corral(bases, horizon=60, learning_rate=5.0), policy=ChosenAgent())
    with pytest.raises(TypeError, match=r"bases\['bma'\]: state entry .* no replicate axis"):
        run_bandit(env, [agent], seed=0)


def test_teach_all_gives_every_base_every_observation():
    r = 4
    env = LinearBandit(n_actions=3, context_dim=2, horizon=30, n_replicates=r, seed=2)
    corral = Corral(_ts_bases(env, r), horizon=30, teach="all")
    shadows = [m.clone() for m in corral._learners]
    rng = np.random.default_rng(0)
    for step, block in enumerate(env, 1):
        designs = env.features.transform(block.context)
        choice = corral.select(designs, rng, step=step)
        chosen = designs[np.arange(r), choice.actions]
        y = block.rewards[np.arange(r), choice.actions]
        corral.learn_one(chosen, y)
        for shadow in shadows:
            shadow.learn_one(chosen, y)
    for learner, shadow in zip(corral._learners, shadows, strict=True):
        for key, value in learner.get_state().items():
            np.testing.assert_array_equal(value, shadow.get_state()[key])
    with pytest.raises(ValueError, match="teach"):
        Corral(_ts_bases(env, r), horizon=30, teach="some")
