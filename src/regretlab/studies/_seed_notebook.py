"""The seed notebook's Bayesian regressor, copied verbatim (only formatted).

``000_609c5d60a6787acb.txt``: the reference our closed forms and the seed-study benchmark are
measured against (``tests/test_reference.py``, ``benchmarks/seed_study.py``). Not part of the
public API; kept as written, quirks included (``inc_alpha``, the intercept's prior variance).
"""

# mypy: ignore-errors
# ruff: noqa

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["BayesLinearRegressor", "cov_split_base_int"]


class BayesLinearRegressor:
    def __init__(
        self,
        number_of_features,
        mean=None,
        cov=None,
        alpha=1e6,
        beta=1,
        fit_intercept: bool = True,
    ):
        self.fit_intercept = fit_intercept
        self.number_of_features = number_of_features

        if self.fit_intercept:
            self.number_of_features = self.number_of_features + 1

        # prior distribution on weights
        if mean is None:
            self.mean = np.array([[0] * (self.number_of_features)], dtype=float).T

        if cov is None:
            self.cov = alpha * np.identity(self.number_of_features)
        else:
            self.cov = cov
        self.cov_inv = np.linalg.inv(self.cov)
        self.cov_init = self.cov

        self.beta = beta  # process noise

    def fit(self, X, y):
        return self.update(X, y)

    def update(self, X, y, inc_alpha=None):
        """
        Perform a bayesian update step
        """
        if isinstance(X, pd.DataFrame):
            X = X.to_numpy()
        if self.fit_intercept:
            X = np.hstack([np.full((X.shape[0], 1), 1), X])
        if len(X.shape) == 1:
            X = X[np.newaxis, :]
        if len(y.shape) == 1:
            y = y[:, np.newaxis]
        if X.shape[1] > self.number_of_features:
            X = X[:, : self.number_of_features]

        # update state of covariance and means
        cov_n_inv = self.cov_inv + self.beta * X.T @ X
        cov_n = np.linalg.inv(cov_n_inv)
        mean_n = cov_n @ (self.cov_inv @ self.mean + self.beta * X.T @ y)

        if inc_alpha is not None:
            # cov_n = cov_n - (cov_n - self.cov_init) * inc_alpha
            cov_n = cov_n + inc_alpha * np.identity(self.number_of_features)

            cov_n_inv = np.linalg.inv(cov_n)

        self.cov_inv = cov_n_inv
        self.cov = cov_n
        self.mean = mean_n

    def predict(self, X, return_std: bool = False) -> [np.array, np.array]:
        if isinstance(X, pd.DataFrame):
            X = X.to_numpy()
        if self.fit_intercept:
            X = np.hstack([np.full((X.shape[0], 1), 1), X])
        if X.shape[1] > self.number_of_features:
            X = X[:, : self.number_of_features]

        mean = X @ self.mean
        if not return_std:
            return mean

        if X.shape[0] < 1_000:  # noqa: SIM108 (verbatim)
            scale = np.sqrt(np.sum(X @ self.cov @ X.T, axis=1))
        else:
            scale = None
        return mean, scale

    @property
    def coef_(self):
        return self.mean.flatten()

    @property
    def scale_(self):
        return np.sqrt(np.diag(self.cov))

    @staticmethod
    def callback(model) -> dict:
        return {"coef": model.coef_, "scale": model.scale_}


def cov_split_base_int(
    n_base: int,
    n_int: int,
    alpha_base: float = 1e6,
    alpha_int: float = 1e3,
    fit_intercept: bool = True,
) -> np.array:
    fit_intercept = int(fit_intercept)
    cov = np.identity(fit_intercept + n_base + n_int)
    cov[fit_intercept : n_base + fit_intercept] = (
        cov[fit_intercept : n_base + fit_intercept] * alpha_base
    )
    cov[n_base + fit_intercept :] = cov[n_base + fit_intercept :] * alpha_int
    return cov
