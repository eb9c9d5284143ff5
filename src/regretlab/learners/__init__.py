"""Online learners and the batch reference fits they are checked against."""

from __future__ import annotations

from regretlab.learners.bayes import BayesianLinearRegression
from regretlab.learners.bootstrap import Bootstrap
from regretlab.learners.disjoint import DisjointBayesianLinearRegression
from regretlab.learners.glm import BayesianGLM
from regretlab.learners.nig import NormalInverseGammaRegression
from regretlab.learners.reference import GaussianPosteriorMean, LeastSquares, Ridge
from regretlab.learners.river import RiverRegressor
from regretlab.learners.sgd import SGDLinearRegression
from regretlab.learners.stats import SufficientStats

__all__ = [
    "BayesianGLM",
    "BayesianLinearRegression",
    "Bootstrap",
    "DisjointBayesianLinearRegression",
    "GaussianPosteriorMean",
    "LeastSquares",
    "NormalInverseGammaRegression",
    "Ridge",
    "RiverRegressor",
    "SGDLinearRegression",
    "SufficientStats",
]
