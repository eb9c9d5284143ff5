"""Every exported learner, policy, scheduler and environment passes every generic check (a new
class is tested by being exported)."""

from __future__ import annotations

import inspect

import pytest

from regretlab import checks, environments, learners, policies
from regretlab.policies import escalation

GROUPS = ("intercept", "main", "main", "main", "pairwise", "pairwise")


def _river_factory():
    from river import linear_model

    return linear_model.LinearRegression()


# Constructor arguments beyond ``groups`` for learners that need them, and extra variants worth
# checking (a switched-off group, forgetting, a penalised group, an adaptive schedule).
EXAMPLES: dict[str, list[dict]] = {
    "BayesianLinearRegression": [
        {},
        {"prior_variance": {"pairwise": 0.0, "main": 10.0}, "noise_precision": 4.0},
        {"forgetting": 0.98},
    ],
    "NormalInverseGammaRegression": [{}, {"forgetting": 0.99, "noise_shape": 2.0}],
    "SGDLinearRegression": [
        {"l2": {"pairwise": 0.1}},
        {"schedule": "adagrad", "learning_rate": 0.1, "average": 10},
    ],
    "RiverRegressor": [{"factory": _river_factory}],
    "SlidingWindowBayesianLinearRegression": [
        {"window": 7},
        {"window": 1, "prior_variance": {"pairwise": 0.0}, "noise_precision": 3.0},
    ],
    "ChangepointBayesianLinearRegression": [
        {"hazard": 0.05, "max_run": 20},
        {"hazard": 0.3, "max_run": 3, "prior_variance": {"pairwise": 0.0}},
    ],
    "ModelAveraging": [{"grid": (0.0, 0.1, 1.0)}],
    "ChampionChallenger": [{"grid": (0.0, 1.0), "min_steps": 5}],
    "Hedge": [{"eta": "auto"}, {"eta": 0.5}],
    "BayesianGLM": [
        {},
        {"link": "log", "prior_variance": {"pairwise": 0.0, "main": 0.5}},
        {"prior_variance": {"intercept": float("inf")}, "refit_start": 20, "refresh_every": 7},
    ],
    "Bootstrap": [{"n_copies": 3}, {"n_copies": 2, "weights": "bernoulli", "glm": True}],
    "DisjointBayesianLinearRegression": [
        {"n_actions": 3},
        {"n_actions": 2, "prior_variance": {"pairwise": 0.0}, "noise_precision": 3.0},
    ],
    # Per-arm learners (issue 17): no groups; the design is one column per arm.
    "ArmMeans": [{"n_actions": 6}, {"n_actions": 6, "initial": 0.5}],
    "BetaBernoulli": [{"n_actions": 6}, {"n_actions": 6, "prior_alpha": 0.5, "prior_beta": 2.0}],
    "GammaPoisson": [{"n_actions": 6}, {"n_actions": 6, "prior_shape": 2.0, "prior_rate": 0.5}],
    # Forgetting per-action and per-arm learners (issue 18).
    "SlidingWindowDisjointBayesianLinearRegression": [
        {"n_actions": 3, "window": 4},
        {"n_actions": 2, "window": 1, "prior_variance": {"pairwise": 0.0}},
    ],
    "DiscountedDisjointBayesianLinearRegression": [{"n_actions": 3, "forgetting": 0.9}],
    "SlidingWindowArmMeans": [{"n_actions": 6, "window": 5}, {"n_actions": 6, "window": 1}],
    "DiscountedArmMeans": [{"n_actions": 6, "forgetting": 0.8}],
    "SlidingWindowBetaBernoulli": [{"n_actions": 6, "window": 3}],
    "DiscountedBetaBernoulli": [{"n_actions": 6, "forgetting": 0.7, "prior_alpha": 0.5}],
}


def _learner_classes():
    for module in (learners, escalation):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and hasattr(obj, "learn_one"):
                yield name, obj


def _cases():
    for name, cls in _learner_classes():
        for i, extra in enumerate(EXAMPLES.get(name, [None])):
            for check in checks.learner_checks():
                yield pytest.param(cls, extra, check, id=f"{name}[{i}]-{check.__name__}")


@pytest.mark.parametrize(("cls", "extra", "check"), list(_cases()))
def test_learner_check(cls, extra, check):
    assert extra is not None, f"add an example for {cls.__name__} to EXAMPLES in {__file__}"
    if cls is learners.Bootstrap:
        if check is checks.check_batched_equals_single:
            pytest.skip("each replicate draws its own bootstrap weights (by design)")
        extra = dict(extra)
        inner = (
            learners.BayesianGLM if extra.pop("glm", False) else learners.BayesianLinearRegression
        )
        check(cls(inner(groups=GROUPS), **extra))
    elif issubclass(cls, (escalation.ModelAveraging, escalation.ChampionChallenger)):
        base = learners.NormalInverseGammaRegression(groups=GROUPS)
        check(cls(learner=base, **extra))
    elif cls is escalation.Hedge:
        members = {
            "main": learners.BayesianLinearRegression(
                groups=GROUPS, prior_variance={"pairwise": 0.0}
            ),
            "sgd": learners.SGDLinearRegression(groups=GROUPS),
        }
        check(cls(members, **extra))
    elif hasattr(cls, "target_kind"):  # a per-arm learner
        check(cls(**extra))
    else:
        check(cls(groups=GROUPS, **extra))


POLICY_EXAMPLES: dict[str, list[dict]] = {
    "EpsilonGreedy": [{"epsilon": 0.2}, {"epsilon": 1.0, "decay": 1.0}],
    "LinUCB": [{"alpha": 2.0}],
    "UCB1": [{}, {"alpha": 0.5}],
    "KLUCB": [{}, {"family": "poisson", "c": 3.0}, {"family": "gaussian", "variance": 0.25}],
    "Softmax": [{"temperature": 0.5}],
    "Exp3": [{}, {"gamma": 0.3}],
    "ConjugateThompsonSampling": [{}, {"propensity_draws": 50}],
    "SquareCB": [{}, {"gamma_scale": 1.0, "gamma_exponent": 0.0, "reward_range": (-3.0, 3.0)}],
    "ThompsonSampling": [{}, {"scale": 0.5, "propensity_draws": 20}],
}


def _policy_cases():
    for name in policies.__all__:
        obj = getattr(policies, name)
        if inspect.isclass(obj) and hasattr(obj, "select"):
            for i, kwargs in enumerate(POLICY_EXAMPLES.get(name, [{}])):
                for check in checks.policy_checks():
                    yield pytest.param(obj, kwargs, check, id=f"{name}[{i}]-{check.__name__}")


@pytest.mark.parametrize(("cls", "kwargs", "check"), list(_policy_cases()))
def test_policy_check(cls, kwargs, check):
    check(cls(**kwargs))


SCHEDULER_EXAMPLES: dict[str, list[dict]] = {
    "Fixed": [{"prior_variance": {"pairwise": 1.0}}],
    # A Ramp, not a lambda: schedulers must pickle (check_scheduler_pickles).
    "DataSchedule": [{"group": "pairwise", "schedule": escalation.Ramp(1.0, 60), "every": 20}],
    "UncertaintyTrigger": [{"ladder": (0.0, 0.1, 1.0), "every": 5, "start": 20}],
    "EvidenceSwitch": [{"every": 10, "start": 20}, {"every": 5, "jump": False, "start": 20}],
    "EmpiricalBayes": [{"every": 15}],
}


def _scheduler_cases():
    for name in escalation.__all__:
        obj = getattr(escalation, name)
        if inspect.isclass(obj) and hasattr(obj, "update") and name != "Scheduler":
            for i, kwargs in enumerate(SCHEDULER_EXAMPLES.get(name, [None])):
                for check in checks.scheduler_checks():
                    yield pytest.param(obj, kwargs, check, id=f"{name}[{i}]-{check.__name__}")


@pytest.mark.parametrize(("cls", "kwargs", "check"), list(_scheduler_cases()))
def test_scheduler_check(cls, kwargs, check):
    assert kwargs is not None, f"add an example for {cls.__name__} to SCHEDULER_EXAMPLES"
    check(cls(**kwargs))


def _bandit(**kwargs):
    return environments.LinearBandit(n_actions=3, context_dim=2, horizon=30, seed=0, **kwargs)


def _stream(**kwargs):
    return environments.InteractionStream(x_dim=2, horizon=30, seed=0, **kwargs)


_LABELS = ["a", "b", "c", "a", "b", "b", "c", "a"]
_ROWS = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 1.0], [1.0, 2.0], [0.5, 0.5], [3, 1]]

# Small instances of every exported environment, for one stream and for replicates; wrappers
# around a bandit and a stream.
ENVIRONMENT_EXAMPLES: dict[str, list] = {
    "LinearBandit": [
        lambda: _bandit(),
        lambda: _bandit(n_replicates=3, context_pairwise=True, block_size=7),
    ],
    "GLMBandit": [
        lambda: environments.GLMBandit(n_actions=3, context_dim=2, horizon=30, seed=0),
        lambda: environments.GLMBandit(
            link="log", weight_scale=0.3, n_replicates=3, horizon=25, block_size=4, seed=2
        ),
        lambda: environments.GLMBandit(intercept=-4.5, context_pairwise=True, horizon=20, seed=1),
    ],
    "InteractionStream": [lambda: _stream(), lambda: _stream(n_replicates=3, block_size=5)],
    "MultilevelStream": [
        lambda: environments.MultilevelStream(contributors="cc_02", horizon=30, seed=0),
        lambda: environments.MultilevelStream(horizon=30, n_replicates=2, seed=1),
    ],
    "SupervisedBandit": [
        lambda: environments.SupervisedBandit(_ROWS, _LABELS, horizon=20, seed=0),
        lambda: environments.SupervisedBandit(
            _ROWS, _LABELS, encoding="-1/0", n_replicates=2, seed=1, block_size=3
        ),
    ],
    "MultiArmedBandit": [
        lambda: environments.MultiArmedBandit([0.2, 0.5, 0.9], horizon=30, seed=0),
        lambda: environments.MultiArmedBandit(
            [[1.0, 2.0], [0.5, 3.0]],
            reward=environments.Poisson(),
            horizon=30,
            n_replicates=2,
            seed=1,
            block_size=7,
        ),
        lambda: environments.MultiArmedBandit(
            [0.0, 1.0], reward=environments.Gaussian(0.5), horizon=30, n_replicates=3, seed=2
        ),
    ],
    "PiecewiseStationaryBandit": [
        lambda: environments.PiecewiseStationaryBandit(
            [[0.9, 0.1, 0.5], [0.1, 0.9, 0.5]], [11], horizon=30, n_replicates=2, seed=0
        ),
        lambda: environments.PiecewiseStationaryBandit(
            [[2.0, 1.0], [1.0, 2.0], [3.0, 0.0]],
            [5, 20],
            reward=environments.Poisson(),
            comparator="best_fixed",
            shuffle_arms=True,
            horizon=30,
            seed=1,
        ),
    ],
    "AdversarialBandit": [
        lambda: environments.AdversarialBandit(horizon=30, seed=0),
        lambda: environments.AdversarialBandit(horizon=30, n_replicates=3, seed=1, block_size=4),
    ],
    "AbruptChange": [
        lambda: environments.AbruptChange(_bandit(n_replicates=2), 12, seed=1),
        lambda: environments.AbruptChange(_stream(), 5, seed=2),
    ],
    "GradualDrift": [
        lambda: environments.GradualDrift(_bandit(n_replicates=2), 5, 15, seed=1),
        lambda: environments.GradualDrift(_stream(), 3, 8, seed=2),
    ],
    "ArmAppears": [
        lambda: environments.ArmAppears(_bandit(), 10, actions=(1,)),
        lambda: environments.ArmAppears(_bandit(n_replicates=2), 4, actions=[0, 2]),
    ],
    "InteractionOnset": [
        lambda: environments.InteractionOnset(_bandit(), 10),
        lambda: environments.InteractionOnset(_stream(n_replicates=2), 17, groups=("pairwise",)),
    ],
}


def _environment_cases():
    for name in environments.__all__:
        obj = getattr(environments, name)
        if inspect.isclass(obj) and hasattr(obj, "blocks"):
            for i, make in enumerate(ENVIRONMENT_EXAMPLES.get(name, [None])):
                for check in checks.environment_checks():
                    yield pytest.param(make, check, id=f"{name}[{i}]-{check.__name__}")


@pytest.mark.parametrize(("make", "check"), list(_environment_cases()))
def test_environment_check(make, check):
    assert make is not None, "add an example for the environment to ENVIRONMENT_EXAMPLES"
    check(make())


def _selector_examples():
    """Every exported agent selector over two Bayesian Thompson agents; teach both ways."""
    from regretlab.policies import ThompsonSampling, selection

    def bases():
        return {
            name: (
                learners.NormalInverseGammaRegression(
                    groups=GROUPS, prior_variance={"pairwise": v}, n_replicates=4
                ),
                ThompsonSampling(),
            )
            for name, v in (("main", 0.0), ("full", 1.0))
        }

    made = {
        "Corral": lambda teach: selection.Corral(
            bases(), horizon=40, learning_rate=2.0, teach=teach
        ),
        "RegretBalancing": lambda teach: selection.RegretBalancing(
            bases(),
            bounds=[selection.RegretBound(4), selection.RegretBound(6)],
            confidence_scale=0.1,
            teach=teach,
        ),
    }
    for name in selection.__all__:
        obj = getattr(selection, name)
        if inspect.isclass(obj) and hasattr(obj, "select") and hasattr(obj, "learn_one"):
            assert name in made, f"add an example for {name} to _selector_examples"
            for teach in ("picked", "all"):
                for check in checks.selector_checks():
                    yield pytest.param(
                        made[name], teach, check, id=f"{name}[{teach}]-{check.__name__}"
                    )


@pytest.mark.parametrize(("make", "teach", "check"), list(_selector_examples()))
def test_selector_check(make, teach, check):
    check(make(teach))
