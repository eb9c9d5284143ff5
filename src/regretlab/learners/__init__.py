"""Online learners and the batch reference fits they are checked against."""

from __future__ import annotations

from regretlab.learners.arm_posteriors import BetaBernoulli, GammaPoisson
from regretlab.learners.arm_windows import (
    DiscountedArmMeans,
    DiscountedBetaBernoulli,
    SlidingWindowArmMeans,
    SlidingWindowBetaBernoulli,
)
from regretlab.learners.arms import ArmMeans
from regretlab.learners.bayes import BayesianLinearRegression
from regretlab.learners.bootstrap import Bootstrap
from regretlab.learners.changepoint import ChangepointBayesianLinearRegression
from regretlab.learners.disjoint import DisjointBayesianLinearRegression
from regretlab.learners.disjoint_window import (
    DiscountedDisjointBayesianLinearRegression,
    SlidingWindowDisjointBayesianLinearRegression,
)
from regretlab.learners.drift_rules import changepoint_hazard, discount_factor, sliding_window
from regretlab.learners.glm import BayesianGLM
from regretlab.learners.nig import NormalInverseGammaRegression
from regretlab.learners.reference import GaussianPosteriorMean, LeastSquares, Ridge
from regretlab.learners.river import RiverRegressor
from regretlab.learners.sgd import SGDLinearRegression
from regretlab.learners.stats import SufficientStats
from regretlab.learners.window import SlidingWindowBayesianLinearRegression

__all__ = [
    "ArmMeans",
    "BayesianGLM",
    "BayesianLinearRegression",
    "BetaBernoulli",
    "Bootstrap",
    "ChangepointBayesianLinearRegression",
    "DiscountedArmMeans",
    "DiscountedBetaBernoulli",
    "DiscountedDisjointBayesianLinearRegression",
    "DisjointBayesianLinearRegression",
    "GammaPoisson",
    "GaussianPosteriorMean",
    "LeastSquares",
    "NormalInverseGammaRegression",
    "Ridge",
    "RiverRegressor",
    "SGDLinearRegression",
    "SlidingWindowArmMeans",
    "SlidingWindowBayesianLinearRegression",
    "SlidingWindowBetaBernoulli",
    "SlidingWindowDisjointBayesianLinearRegression",
    "SufficientStats",
    "changepoint_hazard",
    "discount_factor",
    "sliding_window",
]
