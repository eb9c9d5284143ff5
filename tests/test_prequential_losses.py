"""The blocked agents' loss tallies: the compiled pass adds numpy's (and the step loop's) bits."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import InteractionStream
from regretlab.learners import BayesianLinearRegression
from regretlab.simulate import Agent, run_prequential
from regretlab.simulate import prequential as prequential_module
from regretlab.simulate._losses import _losses_source, add_losses, compiled_losses

# The loss pass as plain Python (numpy float64 scalars round as the compiled code does), so
# the runner's compiled path is exercised without numba too; and compiled where numba is on.
KERNELS = [pytest.param(None, id="numpy"), pytest.param(_losses_source, id="python")]
if compiled_losses() is not None:
    KERNELS.append(pytest.param(compiled_losses(), id="numba"))


def _losses(rng, shape):
    # Magnitudes over twelve decades: the order of the additions shows in the last bits.
    return rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 6, shape)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(("r", "m"), [(5, 19), (23, 6)])
def test_the_compiled_tallies_add_the_step_loops_bits(kernel, r, m):
    rng = np.random.default_rng(4)
    n, start = 30, 7
    y, mean = _losses(rng, (r, n)), _losses(rng, (r, n))
    yhat = _losses(rng, (r, m))
    expected, excess = _losses(rng, (3, r)), _losses(rng, (3, r))
    loop_expected, loop_excess = expected.copy(), excess.copy()
    for i in range(m):
        obs, mu = y[:, start + i], mean[:, start + i]
        loop_expected[2] += (yhat[:, i] - mu) ** 2
        loop_excess[2] += (yhat[:, i] - obs) ** 2 - (mu - obs) ** 2
    add_losses(2, yhat, y, mean, slice(start, start + m), expected, excess, kernel)
    assert np.array_equal(expected, loop_expected)  # bit for bit, other agents untouched
    assert np.array_equal(excess, loop_excess)
    # One stream: (m,) predictions, (n,) outputs, one tally per agent.
    tally, other = np.zeros(2), np.zeros(2)
    add_losses(1, yhat[0], y[0], mean[0], slice(start, start + m), tally, other, kernel)
    assert tally[1] == ((yhat[0] - mean[0, start : start + m]) ** 2).cumsum()[-1]
    assert tally[0] == other[0] == 0.0


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("n_replicates", [None, 4])
def test_a_run_tallies_the_same_bits_with_the_compiled_pass(monkeypatch, kernel, n_replicates):
    env = InteractionStream(x_dim=3, horizon=90, n_replicates=n_replicates, seed=2)
    agents = [
        Agent("blocked", BayesianLinearRegression(groups=env.features, n_replicates=n_replicates)),
        Agent(
            "wide prior",
            BayesianLinearRegression(
                groups=env.features, n_replicates=n_replicates, prior_variance=100.0
            ),
        ),
    ]
    # Small blocks and a checkpoint inside one: segments start inside blocks.
    options = {"checkpoints": [5, 37, 90], "block_memory": 2**14}
    monkeypatch.setattr(prequential_module, "compiled_losses", lambda: None)
    numpy_tallies = run_prequential(env, agents, **options).regret
    monkeypatch.setattr(prequential_module, "compiled_losses", lambda: kernel)
    compiled_tallies = run_prequential(env, agents, **options).regret
    assert np.array_equal(compiled_tallies["expected_regret"], numpy_tallies["expected_regret"])
    assert np.array_equal(compiled_tallies["excess_loss"], numpy_tallies["excess_loss"])
    assert (numpy_tallies["expected_regret"] > 0).all()
