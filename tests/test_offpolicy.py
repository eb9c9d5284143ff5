"""Off-policy estimators against the truth a simulator knows (issue 18's acceptance).

One fixed linear truth (so that an estimator's bias has the same sign in every replicate),
200 replicates of 120 steps logged by a uniform, an epsilon-greedy and a Thompson-sampling
policy (the latter two learning as they log), one fixed epsilon-greedy target.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest

from regretlab.environments import BanditStep
from regretlab.features import ActionFeatures
from regretlab.learners import BayesianLinearRegression
from regretlab.offpolicy import (
    IPS,
    SNIPS,
    DirectMethod,
    DoublyRobust,
    MemoryLog,
    RidgeRewardModel,
    SwitchDR,
    from_frame,
    target_probabilities,
    true_value,
)
from regretlab.policies import EpsilonGreedy, Random, ThompsonSampling
from regretlab.simulate import Agent, run_bandit

R, T, K, C = 200, 120, 3, 2
FEATURES = ActionFeatures(C, K)
MAIN_EFFECTS = ("intercept", "context", "action")


class FixedTruth:
    """A linear bandit whose weights are the same in every replicate (contexts and noise are
    each replicate's own): the truth of the tests below."""

    def __init__(self, weights, *, horizon, n_replicates, seed, noise_level=1.0):
        self.weights = np.asarray(weights)
        self.horizon, self.n_replicates, self.seed = horizon, n_replicates, seed
        self.noise_level = noise_level
        self.n_actions, self.context_dim = K, C
        self.features = FEATURES

    def blocks(self, block_size=None):
        rng = np.random.default_rng(self.seed)
        x = rng.uniform(-1, 1, (self.n_replicates, self.horizon, C))
        means = FEATURES.transform(x) @ self.weights
        noise = self.noise_level * rng.standard_normal(means.shape)
        yield BanditStep(x, means + noise, means)


class FixedModel:
    """A frozen linear model: the target's scores."""

    def __init__(self, weights):
        self.weights = np.asarray(weights)

    def predict_one(self, x):
        return np.asarray(x) @ self.weights


class Cell(NamedTuple):
    log: object
    pi: np.ndarray
    truth: np.ndarray


def _truth(interaction: float = 1.0) -> np.ndarray:
    weights = np.random.default_rng(18).uniform(-1, 1, FEATURES.n_features)
    weights[0] = 2.0  # rewards mostly positive, so a scaled weight moves every replicate alike
    weights[np.asarray(FEATURES.groups) == "context:action"] *= interaction
    return weights


def _target(interaction: float = 1.0) -> FixedModel:
    noise = np.random.default_rng(19).normal(0.0, 0.5, FEATURES.n_features)
    return FixedModel(_truth(interaction) + noise)


@pytest.fixture(scope="module")
def cells() -> dict[str, Cell]:
    env = FixedTruth(_truth(), horizon=T, n_replicates=R, seed=1)

    def model():
        return BayesianLinearRegression(groups=FEATURES.groups, n_replicates=R)

    agents = [
        Agent("uniform", policy=Random()),
        Agent("epsilon-greedy", model(), policy=EpsilonGreedy(0.3)),
        # scale 2 keeps every action's propensity well above 1 / (1 + draws) over 120 steps.
        Agent("thompson", model(), policy=ThompsonSampling(2.0, propensity_draws=300)),
    ]
    log = MemoryLog()
    run_bandit(env, agents, seed=2, log_to=log)
    target = _target()
    out = {}
    for agent in agents:
        logged = log.logged(agent.name)
        pi = target_probabilities(EpsilonGreedy(0.2), logged, model=target, features=FEATURES)
        out[agent.name] = Cell(logged, pi, true_value(logged, pi))
    return out


def _z(estimator, cell: Cell, log=None) -> float:
    """Mean error over the replicates in units of its standard error."""
    error = estimator.estimate(cell.log if log is None else log, cell.pi).value - cell.truth
    return float(error.mean() / (error.std(ddof=1) / np.sqrt(len(error))))


def _outside(cells, estimators, perturb=None) -> list[tuple[str, str, float]]:
    """The (logger, estimator, z) cells whose mean error is more than 3 standard errors."""
    bad = []
    for logger, cell in cells.items():
        log = cell.log
        if perturb is not None:
            log = log._replace(propensity=np.minimum(1.0, perturb(log)))
        for estimator in estimators:
            z = _z(estimator, cell, log)
            if abs(z) > 3.0:
                bad.append((logger, repr(estimator), z))
    return bad


ESTIMATORS = (IPS(), SNIPS(), DoublyRobust())


def test_ips_snips_dr_within_three_standard_errors_of_the_truth(cells):
    # 9 cells, each a two-sided 3-sigma check of a mean of 200 replicates: a correct estimator
    # fails one with probability ~0.27% (normal), so ~2.4% per run at most; the seeds are fixed.
    assert _outside(cells, ESTIMATORS) == []


def test_the_check_fails_when_the_propensities_are_off_by_20_percent(cells):
    # Every propensity overstated by 20%: IPS is biased by -1/6 of the value in every cell.
    overstated = _outside(cells, ESTIMATORS, lambda log: 1.2 * log.propensity)
    assert {c[0] for c in overstated if c[1].startswith("IPS")} == set(cells)
    # SNIPS cannot see a common factor; +20% on even actions and -20% on odd ones it sees.
    parity = _outside(
        cells, ESTIMATORS, lambda log: log.propensity * np.where(log.actions % 2, 0.8, 1.2)
    )
    assert {c[0] for c in parity if c[1] == "SNIPS()"} == set(cells)


def test_misspecified_reward_model_biases_dm_outside_its_interval_but_not_dr():
    # Strong context x action interactions, which a main-effects model cannot represent, and a
    # longer uniform log (1000 steps, 100 replicates): DM's interval narrows, its bias not.
    log = MemoryLog()
    env = FixedTruth(_truth(interaction=3.0), horizon=1000, n_replicates=100, seed=3)
    run_bandit(env, [Agent("uniform", policy=Random())], seed=4, log_to=log)
    logged = log.logged("uniform")
    target = _target(interaction=3.0)
    pi = target_probabilities(EpsilonGreedy(0.2), logged, model=target, features=FEATURES)
    cell = Cell(logged, pi, true_value(logged, pi))
    main_effects = RidgeRewardModel(groups=MAIN_EFFECTS)
    dm = DirectMethod(reward_model=main_effects).estimate(cell.log, cell.pi)
    dr = DoublyRobust(reward_model=main_effects).estimate(cell.log, cell.pi)

    def coverage(estimate):
        lo, hi = estimate.interval()
        return float(np.mean((lo <= cell.truth) & (cell.truth <= hi)))

    dm_bias = float(np.mean(dm.value - cell.truth))
    assert abs(dm_bias) > 1.96 * float(np.mean(dm.se))  # the bias lies outside DM's interval
    assert coverage(dm) < 0.5
    # DR's 95% intervals: 100 replicates cover >= 88% unless coverage is below nominal
    # (binomial sd 2.2%; P(<= 87 of 100 | 95%) = 0.2%).
    assert coverage(dr) >= 0.88
    assert abs(_z(DoublyRobust(reward_model=main_effects), cell)) < 3.0


def test_switch_dr_between_dm_and_dr(cells):
    cell = cells["thompson"]
    dr = DoublyRobust().estimate(cell.log, cell.pi).value
    dm = DirectMethod().estimate(cell.log, cell.pi).value
    np.testing.assert_allclose(SwitchDR(tau=np.inf).estimate(cell.log, cell.pi).value, dr)
    np.testing.assert_allclose(SwitchDR(tau=0.0).estimate(cell.log, cell.pi).value, dm)
    switched = SwitchDR(tau=2.0).estimate(cell.log, cell.pi)
    assert float(switched.max_weight.max()) <= 2.0


def test_snips_is_a_convex_combination_of_the_rewards(cells):
    for cell in cells.values():
        value = SNIPS().estimate(cell.log, cell.pi).value
        assert (value >= cell.log.rewards.min(axis=1) - 1e-12).all()
        assert (value <= cell.log.rewards.max(axis=1) + 1e-12).all()
        w = np.take_along_axis(cell.pi, cell.log.actions[..., None], -1)[..., 0]
        w = w / cell.log.propensity
        np.testing.assert_allclose(value, (w / w.sum(1, keepdims=True) * cell.log.rewards).sum(1))


def test_snips_equals_the_on_policy_mean_when_target_is_logger(rng):
    # A fixed epsilon-greedy logger: its logged propensities are the target's probabilities.
    n = 500
    x = rng.uniform(-1, 1, (1, n, C))
    model = FixedModel(rng.uniform(-1, 1, FEATURES.n_features))
    pi = EpsilonGreedy(0.3).action_probabilities(model, FEATURES.transform(x), rng, step=1)
    actions = (pi.cumsum(-1) <= rng.random((1, n, 1))).sum(-1)
    rewards = rng.normal(size=(1, n))
    frame = pd.DataFrame(
        {
            "action": actions[0],
            "propensity": np.take_along_axis(pi, actions[..., None], -1)[0, :, 0],
            "reward": rewards[0],
            **{f"context_{i}": x[0, :, i] for i in range(C)},
        }
    )
    log = from_frame(frame, n_actions=K)
    estimate = SNIPS().estimate(log, pi)
    assert float(estimate.value[0]) == pytest.approx(rewards.mean(), abs=1e-12)
    assert float(estimate.ess[0]) == pytest.approx(n)
    assert float(IPS().estimate(log, pi).value[0]) == pytest.approx(rewards.mean(), abs=1e-12)


def test_snips_equals_open_bandit_pipeline(cells):
    ope = pytest.importorskip("obp.ope")
    cell = cells["epsilon-greedy"]
    ours = SNIPS().estimate(cell.log, cell.pi).value
    for r in range(3):
        theirs = ope.SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(
            reward=cell.log.rewards[r],
            action=cell.log.actions[r],
            pscore=cell.log.propensity[r],
            action_dist=cell.pi[r][..., None],
        )
        assert float(ours[r]) == pytest.approx(theirs, rel=1e-12)


def test_ips_refuses_support_deficiency_the_others_report_it(cells):
    cell = cells["uniform"]
    greedy_log = cell.log._replace(deterministic=np.ones_like(cell.log.deterministic))
    with pytest.raises(ValueError, match="never takes"):
        IPS().estimate(greedy_log, cell.pi)
    deficiency = SNIPS().estimate(greedy_log, cell.pi).support_deficiency
    chosen = np.take_along_axis(cell.pi, cell.log.actions[..., None], -1)[..., 0]
    np.testing.assert_allclose(deficiency, (1 - chosen).mean(axis=1))
    assert (IPS().estimate(cell.log, cell.pi).support_deficiency == 0).all()


def test_clipping_caps_the_weights_and_biases_down(cells):
    cell = cells["thompson"]
    clipped = IPS(clip=2.0).estimate(cell.log, cell.pi)
    assert float(clipped.max_weight.max()) <= 2.0
    assert float(IPS().estimate(cell.log, cell.pi).max_weight.max()) > 2.0
    ess = IPS().estimate(cell.log, cell.pi).ess
    w = np.take_along_axis(cell.pi, cell.log.actions[..., None], -1)[..., 0] / cell.log.propensity
    np.testing.assert_allclose(ess, w.sum(1) ** 2 / (w**2).sum(1))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: IPS(clip=0.0), "clip must be > 0"),
        (lambda: SwitchDR(tau=-1.0), "tau"),
        (lambda: RidgeRewardModel(folds=1), "folds"),
        (lambda: RidgeRewardModel(alpha=0.0), "alpha must be > 0"),
        (lambda: RidgeRewardModel(groups="main"), "groups"),
    ],
)
def test_bad_settings_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_missing_columns_name_what_the_estimator_needs():
    log = from_frame(pd.DataFrame({"action": [0, 1], "reward": [1.0, 0.0]}))
    pi = np.full((1, 2, 2), 0.5)
    with pytest.raises(ValueError, match="IPS needs the log's 'propensity'"):
        IPS().estimate(log, pi)
    with pytest.raises(ValueError, match="needs the log's 'context'"):
        DirectMethod().estimate(log, pi)
    with pytest.raises(ValueError, match="sum to 1"):
        SNIPS().estimate(log._replace(propensity=np.full((1, 2), 0.5)), pi * 2)
    with pytest.raises(ValueError, match="groups"):
        DirectMethod(reward_model=RidgeRewardModel(groups=("nope",))).estimate(
            log._replace(context=np.zeros((1, 2, 1)), propensity=np.full((1, 2), 0.5)), pi
        )
