"""The runners read environments in blocks sized from ``block_memory``; results never change."""

from __future__ import annotations

import pandas as pd
import pytest

from regretlab.environments import InteractionStream, LinearBandit, MultilevelStream
from regretlab.features import InteractionFeatures
from regretlab.learners import BayesianLinearRegression, DisjointBayesianLinearRegression
from regretlab.policies import ThompsonSampling
from regretlab.simulate import Agent, run_bandit, run_prequential
from regretlab.simulate._budget import DEFAULT_BLOCK_MEMORY, stream_block_size, stream_steps

BUDGETS = (1, 40_000, 300_000, DEFAULT_BLOCK_MEMORY)


class _Spy:
    """Passes an environment through, recording the block sizes asked for and handed out."""

    def __init__(self, env):
        self.env, self.asked, self.bytes = env, [], []

    def __getattr__(self, name):
        return getattr(self.env, name)

    def blocks(self, block_size=None):
        self.asked.append(block_size)
        for block in self.env.blocks(block_size):
            self.bytes.append(sum(a.nbytes for a in block))
            yield block


def _stream_agents(env):
    n = env.n_replicates
    return [
        Agent("bayes", BayesianLinearRegression(groups=env.features, n_replicates=n)),
        Agent(
            "tight",
            BayesianLinearRegression(groups=env.features, n_replicates=n, prior_variance=0.1),
        ),
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda: InteractionStream(x_dim=3, horizon=157, n_replicates=6, seed=4),
        lambda: MultilevelStream(
            n_contributors=[2, 3], cross_levels=[(0, 1, 1.0)], horizon=157, n_replicates=6, seed=4
        ),
    ],
    ids=["interaction", "multilevel"],
)
@pytest.mark.parametrize("blocking", [False, True])
def test_prequential_results_do_not_depend_on_the_budget(make, blocking):
    # Step by step the results are bit for bit the same under any budget. Time-blocked, the
    # numpy kernel folds its deferred corrections at segment ends, which follow the blocks:
    # the results then agree to rounding (the contract of time blocking, 1e-9).
    tables = []
    for budget in BUDGETS:
        env = _Spy(make())
        agents = _stream_agents(env.env)
        result = run_prequential(env, agents, block_memory=budget, time_blocking=blocking)
        tables.append(result.regret)
        sizes = [b // (env.n_replicates * 8) for b in env.bytes]
        assert sum(1 for _ in env.bytes) == -(-157 // env.asked[0])  # every step, last one short
        if budget == 1:
            assert env.asked == [1]
        assert max(sizes) > 0
    for other in tables[1:]:
        if blocking:
            pd.testing.assert_frame_equal(other, tables[0], check_exact=False, rtol=1e-9)
        else:
            pd.testing.assert_frame_equal(other, tables[0], check_exact=True)


def test_bandit_results_do_not_depend_on_the_budget():
    tables = []
    for budget in BUDGETS:
        env = _Spy(LinearBandit(n_actions=3, context_dim=2, horizon=157, n_replicates=6, seed=2))
        fm = InteractionFeatures(2, pairwise=False)
        model = DisjointBayesianLinearRegression(groups=fm, n_actions=3, n_replicates=6)
        agent = Agent("ts", model, features=fm, policy=ThompsonSampling())
        tables.append(run_bandit(env, [agent], seed=5, block_memory=budget).regret)
        assert len(env.asked) == 1
    for other in tables[1:]:
        pd.testing.assert_frame_equal(other, tables[0], check_exact=True)


def test_the_block_fits_the_budget_and_does_not_grow_with_the_horizon():
    budget = 2**20
    sizes = []
    for horizon in (20, 1_000, 10_000):
        env = InteractionStream(x_dim=4, horizon=horizon, n_replicates=50, seed=0)
        size, span = stream_steps(budget, env, [env.features])
        assert size == stream_block_size(budget, env, [env.features])
        block = next(env.blocks(size))
        design = env.features.transform(block.x[:, :span])
        # The two live blocks of data and one segment's designs stay within the budget.
        assert 2 * sum(a.nbytes for a in block) + design.nbytes <= budget
        sizes.append(size)
    assert sizes[0] == 20
    assert sizes[1] == sizes[2] < 1_000


@pytest.mark.parametrize("bad", [0, -5, 2.5, "64MB"])
def test_a_bad_budget_is_refused_by_name(bad):
    env = InteractionStream(x_dim=2, horizon=10, n_replicates=2, seed=0)
    with pytest.raises((ValueError, TypeError), match="block_memory"):
        run_prequential(env, _stream_agents(env), block_memory=bad)


SWEEP = """
name = "budget"
seed = 1
horizon = 60
replicates = 4
chunk_size = 2
checkpoints = [10, 60]
{extra}

[environments.stream]
type = "InteractionStream"
x_dim = 2

[agents.full]
learner = {{ type = "BayesianLinearRegression" }}
"""


def test_experiments_and_the_command_line_set_the_budget_without_changing_results(tmp_path):
    from regretlab.cli import main
    from regretlab.experiments import load_experiment
    from regretlab.experiments.storage import load_sweep

    plain, small = tmp_path / "plain.toml", tmp_path / "small.toml"
    plain.write_text(SWEEP.format(extra=""))
    small.write_text(SWEEP.format(extra="block_memory_mb = 0.001"))
    exp_plain, exp_small = load_experiment(plain), load_experiment(small)
    assert exp_plain.block_memory is None
    assert exp_small.block_memory == 1048
    # Not part of what the experiment is: the same digest, so a folder resumes under any budget.
    assert exp_small.digest() == exp_plain.digest()
    tables = {}
    for name, path, extra in [
        ("plain", plain, []),
        ("small", small, []),
        ("cli", plain, ["--block-memory-mb", "0.0005"]),
    ]:
        out = tmp_path / name
        argv = ["run", str(path), "--out", str(out), "--workers", "0", "--no-progress", *extra]
        assert main(argv) == 0
        tables[name] = load_sweep(out).regret
    for name in ("small", "cli"):  # time-blocked prediction: equal to rounding (1e-9)
        pd.testing.assert_frame_equal(tables[name], tables["plain"], check_exact=False, rtol=1e-9)


@pytest.mark.parametrize("bad", [0, -1, "64", True])
def test_a_bad_block_memory_mb_is_refused_by_name(tmp_path, bad):
    from regretlab.experiments import ExperimentError, parse_experiment

    raw = {
        "seed": 1,
        "horizon": 10,
        "replicates": 2,
        "block_memory_mb": bad,
        "environments": {"e": {"type": "InteractionStream", "x_dim": 2}},
        "agents": {"a": {"learner": {"type": "BayesianLinearRegression"}}},
    }
    with pytest.raises(ExperimentError, match="block_memory_mb: must be a positive number"):
        parse_experiment(raw, check=False)


def test_the_command_line_refuses_a_bad_budget(tmp_path, capsys):
    from regretlab.cli import main

    path = tmp_path / "plain.toml"
    path.write_text(SWEEP.format(extra=""))
    assert main(["run", str(path), "--block-memory-mb", "0"]) == 2
    assert "--block-memory-mb: must be a positive number" in capsys.readouterr().err
