"""Step logs (memory, Parquet in blocks), reading logs back, policy propensities, and replay."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from regretlab.environments import LinearBandit
from regretlab.features import ActionFeatures
from regretlab.learners import BayesianLinearRegression, DisjointBayesianLinearRegression
from regretlab.offpolicy import (
    MemoryLog,
    ParquetLog,
    from_frame,
    read_log,
    replay,
    replay_learning,
    target_probabilities,
    to_frame,
    true_value,
)
from regretlab.policies import EpsilonGreedy, Greedy, LinUCB, Oracle, Random, ThompsonSampling
from regretlab.simulate import Agent, run_bandit


def _env(horizon=60, n_replicates=4, seed=0, **kwargs):
    return LinearBandit(
        n_actions=3, context_dim=2, horizon=horizon, n_replicates=n_replicates, seed=seed, **kwargs
    )


def _agents(env):
    def blr():
        return BayesianLinearRegression(groups=env.features.groups, n_replicates=env.n_replicates)

    return [
        Agent("uniform", policy=Random()),
        Agent("eps", blr(), policy=EpsilonGreedy(0.2)),
        Agent("ts", blr(), policy=ThompsonSampling(propensity_draws=50)),
        Agent("greedy", blr(), policy=Greedy()),
        Agent("ucb", blr(), policy=LinUCB()),
        Agent("oracle", policy=Oracle()),
    ]


def test_logging_changes_no_result_and_parquet_equals_memory(tmp_path):
    env = _env()
    plain = run_bandit(env, _agents(env), seed=1, log_steps=True)
    memory = MemoryLog()
    logged = run_bandit(env, _agents(env), seed=1, log_steps=True, log_to=memory)
    pd.testing.assert_frame_equal(plain.regret, logged.regret)
    path = tmp_path / "log.parquet"
    writer = ParquetLog(path, block_rows=50)
    run_bandit(env, _agents(env), seed=1, log_to=writer)
    assert memory.closed
    for agent in memory.agents:
        ours, back = memory.logged(agent), read_log(path, agent=agent)
        for field in ("context", "actions", "propensity", "rewards", "means", "deterministic"):
            np.testing.assert_array_equal(getattr(back, field), getattr(ours, field))
        steps = plain.steps[plain.steps["agent"] == agent].sort_values(["replicate", "step"])
        np.testing.assert_array_equal(ours.actions.ravel(), steps["action"])
        np.testing.assert_array_equal(ours.rewards.ravel(), steps["reward"])
        np.testing.assert_array_equal(ours.propensity.ravel(), steps["probability"])
    assert memory.logged("greedy").deterministic.all()
    assert memory.logged("oracle").deterministic.all()
    assert not memory.logged("ts").deterministic.any()


def test_thompson_propensity_draws_leave_the_actions_alone():
    env = _env()
    runs = []
    for draws in (0, 20):
        model = BayesianLinearRegression(groups=env.features.groups, n_replicates=4)
        agent = Agent("ts", model, policy=ThompsonSampling(propensity_draws=draws))
        runs.append(run_bandit(env, [agent], seed=3, log_steps=True).steps)
    np.testing.assert_array_equal(runs[0]["action"], runs[1]["action"])
    assert runs[0]["probability"].isna().all()
    assert runs[1]["probability"].between(1 / 21, 1).all()


def test_parquet_log_holds_at_most_one_block(tmp_path):
    env = _env(horizon=3000, n_replicates=2)
    block_rows = 500
    uniform = [Agent("uniform", policy=Random())]
    run_bandit(env, uniform, seed=1, log_to=ParquetLog(tmp_path / "warm.parquet"))  # imports
    writer = ParquetLog(tmp_path / "log.parquet", block_rows=block_rows)
    held = set()
    record = writer.record

    def spy(*args, **kwargs):
        record(*args, **kwargs)
        held.add(writer.buffer_bytes)

    writer.record = spy
    tracemalloc.start()
    run_bandit(env, uniform, seed=1, log_to=writer)
    gc.collect()
    left, peak_logged = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Buffers of the whole steps in half the block (125 steps of 2 replicates), each full
    # buffer written as one row group: the writer's footer grows by row groups, not rows.
    assert writer.group_rows == 250
    assert writer.peak_rows == 250
    # The buffers are allocated once: 250 rows of 4 + 4 x 8 + 1 + 8 + (2 + 3) x 8 = 85 bytes.
    assert held == {250 * 85}
    assert writer.blocks_written == 6000 // 250 == 24
    pq = pytest.importorskip("pyarrow.parquet")
    groups = pq.ParquetFile(tmp_path / "log.parquet").metadata
    sizes = [groups.row_group(i).num_rows for i in range(groups.num_row_groups)]
    assert sizes == [250] * 24
    tracemalloc.start()
    run_bandit(env, uniform, seed=1)
    gc.collect()
    left_plain, peak_plain = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # One block is 500 rows x 12 columns x 8 bytes = 48 kB; the whole log would be 576 kB.
    # Python objects a run allocates anyway vary by a few kB.
    block_bytes = block_rows * 12 * 8
    assert peak_logged - peak_plain < 1.5 * block_bytes
    # Closed by the runner, the log holds no buffer any more though the object lives on (the
    # buffers are memory maps, which tracemalloc does not see; a run leaves about 3 kB more
    # with a log than without). What is left is read after a garbage collection: how much
    # cyclic garbage a run leaves uncollected depends on the process's earlier allocations
    # (it was 128 kB after some other test files, in CI).
    assert writer.buffer_bytes == 0
    assert left - left_plain < block_bytes / 4
    assert read_log(tmp_path / "log.parquet").actions.shape == (2, 3000)
    with pytest.raises(ValueError, match="is closed"):
        writer.record(
            "uniform",
            3001,
            np.zeros((2, 2)),
            Random().select(None, np.zeros((2, 3, 1)), np.random.default_rng(0), step=1),
            np.zeros(2),
            np.zeros((2, 3)),
        )


def test_step_log_refuses_a_policy_without_propensity():
    env = _env(horizon=5)
    model = BayesianLinearRegression(groups=env.features.groups, n_replicates=4)
    with pytest.raises(ValueError, match="propensity_draws"):
        run_bandit(env, [Agent("ts", model, policy=ThompsonSampling())], log_to=MemoryLog())


def test_read_log_csv_round_trip_and_validation(tmp_path):
    memory = MemoryLog()
    env = _env(horizon=10)
    run_bandit(env, [Agent("uniform", policy=Random())], seed=1, log_to=memory)
    log = memory.logged("uniform")
    path = tmp_path / "log.csv"
    to_frame(log).to_csv(path, index=False)
    back = read_log(path)
    np.testing.assert_allclose(back.means, log.means)
    np.testing.assert_array_equal(back.actions, log.actions)
    frame = to_frame(log)
    with pytest.raises(ValueError, match=r"propensity must lie in \(0, 1\], got 0.0"):
        from_frame(frame.assign(propensity=0.0))
    with pytest.raises(ValueError, match=r"got 1.5"):
        from_frame(frame.assign(propensity=1.5))
    with pytest.raises(ValueError, match=r"missing \['reward'\]"):
        from_frame(frame.drop(columns="reward"))
    with pytest.raises(ValueError, match=r"action must lie in \[0, 3\)"):
        from_frame(
            frame.assign(action=3).drop(columns=[f"mean_{a}" for a in range(3)]), n_actions=3
        )
    with pytest.raises(ValueError, match="same number of rows"):
        from_frame(frame.iloc[1:])
    with pytest.raises(ValueError, match="several agents"):
        from_frame(pd.concat([frame.assign(agent="a"), frame.assign(agent="b")]))
    with pytest.raises(ValueError, match="block_rows"):
        ParquetLog(tmp_path / "x.parquet", block_rows=0)


@pytest.mark.parametrize(
    "policy",
    [
        Random(),
        EpsilonGreedy(0.3),
        Greedy(),
        LinUCB(alpha=0.5),
        ThompsonSampling(propensity_draws=50),
    ],
)
def test_action_probabilities_match_the_choices(policy):
    # Empirical choice frequencies of 4000 replicates at one state against the probabilities.
    rng = np.random.default_rng(0)
    fm = ActionFeatures(2, 3)
    model = BayesianLinearRegression(groups=fm.groups, n_replicates=4000)
    x = np.tile(rng.uniform(-1, 1, 2), (4000, 1))
    rows = fm.transform(x)
    for _ in range(5):
        model.learn_one(rows[:, 0], np.full(4000, 0.5))
    probs = policy.action_probabilities(model, rows, np.random.default_rng(1), step=3)
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    choice = policy.select(model, rows, np.random.default_rng(2), step=3)
    freq = np.bincount(choice.actions, minlength=3) / 4000
    # Every replicate is in the same state: 4000 choices, binomial sd <= 0.008, so 0.035 is
    # 4.4 sd (the Monte Carlo probabilities, averaged over 4000 x 50 draws, add 0.001).
    np.testing.assert_allclose(freq, probs.mean(0), atol=0.035)
    if isinstance(policy, ThompsonSampling):
        # (1 + hits) / 51 has mean (1 + 50 p) / 51 whichever action was taken; averaged over
        # the ~1300 choices of an action its sd is below 0.002.
        for a in range(3):
            mean = choice.probability[choice.actions == a].mean()
            assert mean == pytest.approx((1 + 50 * probs.mean(0)[a]) / 51, abs=0.01)
    else:
        chosen = np.take_along_axis(probs, choice.actions[:, None], -1)[:, 0]
        np.testing.assert_allclose(choice.probability, chosen, atol=1e-12)


def test_oracle_and_deterministic_flags():
    means = np.array([[0.1, 0.7, 0.7]])
    choice = Oracle().select(
        None, np.zeros((1, 3, 1)), np.random.default_rng(0), step=1, means=means
    )
    assert choice.deterministic
    assert float(choice.probability[0]) == 0.5
    probs = Oracle().action_probabilities(None, np.zeros((1, 3, 1)), None, step=1, means=means)
    np.testing.assert_array_equal(probs, [[0.0, 0.5, 0.5]])
    assert (
        not EpsilonGreedy(0.1)
        .select(
            BayesianLinearRegression(groups=("main",)),
            np.eye(3)[:, :1],
            np.random.default_rng(0),
            step=1,
        )
        .deterministic
    )


def test_disjoint_thompson_monte_carlo_propensity_is_close_to_exact():
    # Two actions with independent normal scores: P(a=1) = Phi((m1 - m0) / sqrt(s0^2 + s1^2)).
    model = DisjointBayesianLinearRegression(groups=("main",), n_actions=2)
    model.learn_one(np.array([1.0]), 1.0, action=1)
    rows = np.ones((2, 1))
    loc, sd = model.predict_one(rows, return_sd=True, include_noise=False)
    from scipy.stats import norm

    exact = norm.cdf((loc[1] - loc[0]) / np.hypot(*sd))
    probs = ThompsonSampling(propensity_draws=20000).action_probabilities(
        model, rows, np.random.default_rng(0), step=1
    )
    # Monte Carlo sd sqrt(p (1 - p) / 20000) <= 0.0036; 0.015 is > 4 sd.
    assert probs[1] == pytest.approx(exact, abs=0.015)


def test_replay_of_a_fixed_target_covers_the_truth():
    env = _env(horizon=3000, n_replicates=20, seed=4, noise_level=0.5)
    memory = MemoryLog()
    run_bandit(env, [Agent("uniform", policy=Random())], seed=1, log_to=memory)
    log = memory.logged("uniform")
    pi = target_probabilities(Oracle(), log)
    estimate = replay(log, pi, seed=2)
    truth = true_value(log, pi)
    lo, hi = estimate.value - 1.96 * estimate.se, estimate.value + 1.96 * estimate.se
    # 20 replicates at 95%: >= 16 covered unless coverage is below nominal (P = 1.6%).
    assert ((lo <= truth) & (truth <= hi)).sum() >= 16
    assert abs((estimate.value - truth).mean()) < 3 * (estimate.value - truth).std() / np.sqrt(20)
    assert 900 < estimate.accepted.mean() < 1100  # about one row in K = 3
    with pytest.raises(ValueError, match="uniformly logged"):
        replay(log._replace(propensity=log.propensity * 0.9), pi)


def test_replay_of_a_learning_policy_matches_its_online_regret():
    r, n = 40, 60
    env = _env(horizon=3 * n + 150, n_replicates=r, seed=6, noise_level=0.5)
    memory = MemoryLog()
    run_bandit(env, [Agent("uniform", policy=Random())], seed=1, log_to=memory)
    log = memory.logged("uniform")
    learner = BayesianLinearRegression(groups=env.features.groups)
    curve = [10, 30, n]
    replayed = replay_learning(
        log, learner, ThompsonSampling(), features=env.features, checkpoints=curve, seed=2
    )
    assert len(replayed) == r * len(curve)  # every replicate reached n accepted events
    online_env = _env(horizon=n, n_replicates=r, seed=7, noise_level=0.5)
    model = BayesianLinearRegression(groups=env.features.groups, n_replicates=r)
    online = run_bandit(
        online_env, [Agent("ts", model, policy=ThompsonSampling())], seed=3, checkpoints=curve
    ).regret
    for step in curve:
        a = replayed[replayed["accepted"] == step]["pseudo_regret"].to_numpy()
        b = online[online["step"] == step]["pseudo_regret"].to_numpy()
        # Two independent samples of 40 at each point of the curve: the difference of means
        # within 3 standard errors (a false alarm in 3 points: < 1%).
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        assert abs(a.mean() - b.mean()) < 3 * se, step
    # and it is a real learning curve: well below uniform play's regret over n steps.
    final = replayed[replayed["accepted"] == n]["pseudo_regret"].to_numpy()
    uniform = (log.means.max(-1) - log.means.mean(-1))[:, :n].sum(1).mean()
    assert final.mean() < 0.7 * uniform


class _Overconfident:
    """Claims probability 1.2 for its uniform choice: a bad propensity."""

    def select(self, model, designs, rng, *, step, means=None):
        choice = Random().select(model, designs, rng, step=step)
        return choice._replace(probability=choice.probability * 3.6)


def test_parquet_log_refuses_propensities_outside_0_1(tmp_path):
    env = _env(horizon=5)
    with pytest.raises(ValueError, match=r"step 1, agent 'bad', replicate 0: propensity .* 1.2"):
        run_bandit(
            env, [Agent("bad", policy=_Overconfident())], log_to=ParquetLog(tmp_path / "x.pq")
        )
    with pytest.raises(ValueError, match=r"propensity must lie in \(0, 1\]"):
        run_bandit(env, [Agent("bad", policy=_Overconfident())], log_to=MemoryLog())
