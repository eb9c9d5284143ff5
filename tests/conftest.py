"""Shared fixtures: one fixed test seed (scikit-learn style) and a headless plotting backend."""

from __future__ import annotations

import matplotlib

# Tests never open windows; the library's figures are written with Agg (DESIGN.md).
matplotlib.use("Agg")

import numpy as np
import pytest

TEST_SEED = 20240607


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with the suite's fixed seed for every test that asks for one."""
    return np.random.default_rng(TEST_SEED)
