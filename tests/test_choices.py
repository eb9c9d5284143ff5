"""Arm choices and regret relative to the oracle (issue 20): run_bandit's ``choices`` table
against a loop over the environment's own draws, its summaries, figure, storage and report."""

from __future__ import annotations

import json
import shutil
import tomllib

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from regretlab.environments import AdversarialBandit, LinearBandit, MultiArmedBandit
from regretlab.experiments.experiment import parse_experiment
from regretlab.experiments.report import write_report
from regretlab.experiments.storage import SweepStore, load_sweep
from regretlab.experiments.sweep import run_sweep
from regretlab.learners import ArmMeans, BayesianLinearRegression
from regretlab.plots import choices_figure
from regretlab.policies import UCB1, Exp3, Oracle, Random, ThompsonSampling
from regretlab.simulate import Agent, choice_shares, optimal_share, oracle_share, run_bandit
from regretlab.simulate import choices as choices_module


def _expected(env, run, horizon):
    """The choices table rebuilt from the step log's actions and the environment's own block
    (means and comparator drawn afresh, not read from the runner)."""
    block = next(env.blocks(horizon)) if hasattr(env, "best_fixed_arm") else env.take(horizon)
    means = np.asarray(block.means, dtype=float)
    if means.ndim == 2:  # one stream: add the replicate axis
        means = means[None]
    stated = getattr(block, "best", None)
    best = means.max(-1) if stated is None else np.asarray(stated, float).reshape(means.shape[:2])
    steps = run.steps
    rows = []
    for agent in dict.fromkeys(steps["agent"]):
        mine = steps[steps["agent"] == agent].sort_values(["replicate", "step"])
        for r in np.sort(mine["replicate"].unique()):
            actions = mine.loc[mine["replicate"] == r, "action"].to_numpy()
            t = np.arange(len(actions))
            chosen = means[r, t, actions]
            optimal = chosen >= best[r, t]
            for step in np.sort(run.regret["step"].unique()):
                for a in range(env.n_actions):
                    pick = actions[:step] == a
                    rows.append({"agent": agent, "replicate": r, "step": step, "action": a,
                                 "count": int(pick.sum()),
                                 "optimal": int((pick & optimal[:step]).sum()),
                                 "expected_reward": float(chosen[:step][pick].sum())})  # fmt: skip
    return pd.DataFrame(rows)


def _compare(env, run, horizon):
    expected = _expected(env, run, horizon)
    keys = ["agent", "replicate", "step", "action"]
    got = run.choices.sort_values(keys).reset_index(drop=True)
    expected = expected.sort_values(keys).reset_index(drop=True)
    assert len(got) == len(expected)
    for column in ("agent", "replicate", "step", "action", "count", "optimal"):
        assert got[column].tolist() == expected[column].tolist(), column
    np.testing.assert_allclose(got["expected_reward"], expected["expected_reward"], rtol=1e-12)


@pytest.mark.parametrize("flush", [None, 3])
def test_choices_match_a_loop_over_the_linear_bandits_draws(monkeypatch, flush):
    if flush is not None:  # flush the buffered choices every few steps, between checkpoints
        monkeypatch.setattr(choices_module._ChoiceTally, "_FLUSH", flush)
    env = LinearBandit(n_actions=4, context_dim=2, horizon=60, n_replicates=3, seed=5)
    agents = [
        Agent("ts", BayesianLinearRegression(groups=env.features, n_replicates=3),
              policy=ThompsonSampling()),
        Agent("random", policy=Random()),
        Agent("oracle", policy=Oracle()),
    ]  # fmt: skip
    run = run_bandit(env, agents, seed=2, checkpoints=[1, 7, 30, 60], log_steps=True)
    _compare(env, run, 60)
    assert run.choices.columns.tolist() == [
        "environment",
        "agent",
        "replicate",
        "step",
        "action",
        "count",
        "optimal",
        "expected_reward",
    ]
    totals = run.choices.groupby(["agent", "replicate", "step"])[["count", "optimal"]].sum()
    assert (totals["count"] == totals.index.get_level_values("step")).all()
    oracle = totals.loc["oracle"]
    assert (oracle["optimal"] == oracle["count"]).all()


def test_choices_of_one_stream_and_against_a_stated_best_fixed_arm():
    env = MultiArmedBandit([0.2, 0.5, 0.4], horizon=40, seed=1)  # no replicate axis
    run = run_bandit(env, [Agent("ucb", ArmMeans(n_actions=3), policy=UCB1())], seed=0,
                     checkpoints=[10, 40], log_steps=True)  # fmt: skip
    assert run.choices["replicate"].unique().tolist() == [0]
    _compare(env, run, 40)
    # An adversarial bandit: optimal means reaching the best fixed arm's expected reward.
    env = AdversarialBandit(horizon=50, n_replicates=4, seed=3)
    agents = [Agent("exp3", ArmMeans(n_actions=2, n_replicates=4), policy=Exp3()),
              Agent("random", policy=Random())]  # fmt: skip
    run = run_bandit(env, agents, seed=1, checkpoints=[20, 50], log_steps=True)
    _compare(env, run, 50)


def test_oracle_share_is_the_expected_reward_over_the_oracles():
    env = MultiArmedBandit([0.2, 0.6], horizon=200, n_replicates=5, seed=0)
    agents = [Agent("oracle", policy=Oracle()), Agent("random", policy=Random())]
    run = run_bandit(env, agents, seed=1, checkpoints=[50, 200], log_steps=True)
    table = oracle_share(run.regret, run.choices)
    assert np.allclose(table.loc[table["agent"] == "oracle", "share"], 1.0)
    assert np.allclose(table["oracle_reward"], 0.6 * table["step"])
    steps = run.steps[run.steps["agent"] == "random"]
    final = steps.groupby("replicate")["chosen_mean"].sum() / (0.6 * 200)
    mine = table[(table["agent"] == "random") & (table["step"] == 200)].set_index("replicate")
    np.testing.assert_allclose(mine["share"], final, rtol=1e-12)
    # Not positive: undefined, not a misleading ratio.
    shifted = run.choices.assign(expected_reward=run.choices["expected_reward"] - 1000.0)
    assert oracle_share(run.regret, shifted)["share"].isna().all()


def test_optimal_share_per_stretch_and_cumulative():
    rows = [  # one agent, one arm always optimal: 1 of the first 2 steps, then 6 of 8
        {"environment": "e", "agent": "a", "replicate": 0, "step": s, "action": 0,
         "count": s, "optimal": o}
        for s, o in ((2, 1), (10, 7))
    ]  # fmt: skip
    table = pd.DataFrame(rows)
    assert optimal_share(table)["mean"].tolist() == [0.5, 0.75]
    assert optimal_share(table, cumulative=True)["mean"].tolist() == [0.5, 0.7]
    shares = choice_shares(table.assign(action=1))
    assert shares[["action", "mean"]].values.tolist() == [[1, 1.0]]


def test_bad_inputs_name_the_argument():
    with pytest.raises(TypeError, match="choices must be a pandas DataFrame"):
        choice_shares("choices.parquet")
    with pytest.raises(ValueError, match=r"choices must have the columns .* missing \['count'"):
        optimal_share(pd.DataFrame({"environment": ["e"], "agent": "a", "replicate": 0,
                                    "step": 1, "action": 0, "optimal": 0}))  # fmt: skip
    empty = pd.DataFrame(columns=["environment", "agent", "replicate", "step", "action",
                                  "count", "optimal"])  # fmt: skip
    with pytest.raises(ValueError, match="at least one row"):
        choice_shares(empty)
    with pytest.raises(TypeError, match="cumulative must be True or False"):
        optimal_share(empty, cumulative="yes")
    env = MultiArmedBandit([0.2, 0.6], horizon=10, n_replicates=2, seed=0)
    run = run_bandit(env, [Agent("o", policy=Oracle())])
    with pytest.raises(ValueError, match="regret must be run_bandit's regret table"):
        oracle_share(run.regret.drop(columns="pseudo_regret"), run.choices)


def test_the_choices_figure_has_the_run_in_its_title_and_one_label_per_agent():
    env = MultiArmedBandit([0.2, 0.5, 0.4], horizon=300, n_replicates=6, seed=0)
    agents = [Agent("oracle", policy=Oracle()), Agent("random", policy=Random()),
              Agent("ucb", ArmMeans(n_actions=3, n_replicates=6), policy=UCB1())]  # fmt: skip
    run = run_bandit(env, agents, seed=1, environment="arms")
    fig = choices_figure(run.choices, "arms")
    assert fig.get_suptitle() == "arms: arm choices, horizon 300, 6 replicates"
    heat, curves = fig.axes[:2]
    grid = heat.images[0].get_array()
    assert grid.shape == (3, 3)
    np.testing.assert_allclose(grid[0], [0.0, 1.0, 0.0])  # the oracle: always arm 1
    np.testing.assert_allclose(np.asarray(grid).sum(axis=1), 1.0)
    labels = curves.get_legend_handles_labels()[1]
    assert labels == ["oracle", "random", "ucb"]
    assert any(isinstance(c, PolyCollection) for c in curves.collections)  # a 95% band
    assert np.allclose(curves.get_lines()[0].get_ydata(), 1.0)


SWEEP = """
name = "choices"
seed = 4
horizon = 120
replicates = 4
chunk_size = 2
checkpoints = [10, 60, 120]
reference = "random"

[environments.arms]
type = "MultiArmedBandit"
means = [0.1, 0.5, 0.3]

[agents.oracle]
policy = { type = "Oracle" }

[agents.ucb]
learner = { type = "ArmMeans" }
policy = { type = "UCB1" }

[agents.random]
policy = { type = "Random" }
"""


def test_a_bandit_report_shows_arm_choices_and_the_share_of_the_oracle(tmp_path):
    exp = parse_experiment(tomllib.loads(SWEEP))
    run_sweep(exp, tmp_path)
    results = load_sweep(tmp_path)
    assert results.choices is not None
    assert sorted(results.choices["replicate"].unique()) == [0, 1, 2, 3]
    assert len(results.choices) == 3 * 4 * 3 * 3  # agents x replicates x checkpoints x arms
    names = {p.name for p in write_report(tmp_path)}
    assert {"arm_choices.csv", "oracle.csv", "choices_arms.png"} <= names
    oracle = pd.read_csv(tmp_path / "report" / "oracle.csv")
    row = oracle[(oracle["agent"] == "oracle") & (oracle["measure"] == "reward_share")]
    assert row["mean"].item() == pytest.approx(1.0)
    last = oracle[oracle["measure"] == "optimal_share_last"]
    assert last["first_step"].unique().tolist() == [61]
    # The random agent's share of the oracle's reward agrees with the rows it came from.
    final = results.regret[(results.regret["agent"] == "random") & (results.regret["step"] == 120)]
    mine = results.choices[(results.choices["agent"] == "random")
                           & (results.choices["step"] == 120)]  # fmt: skip
    reward = mine.groupby("replicate")["expected_reward"].sum().to_numpy()
    share = reward / (reward + final["pseudo_regret"].to_numpy())
    row = oracle[(oracle["agent"] == "random") & (oracle["measure"] == "reward_share")]
    assert row["mean"].item() == pytest.approx(share.mean())
    text = (tmp_path / "report.md").read_text()
    assert "## Arm choices and the oracle" in text
    assert "| `oracle` | 100.0 [100.0, 100.0] % | 100.0 [100.0, 100.0] % |" in text
    assert "![Arm choices and optimal actions: arms](report/choices_arms.png)" in text


def test_a_folder_from_before_the_choices_still_reports_and_a_damaged_one_is_redone(tmp_path):
    exp = parse_experiment(tomllib.loads(SWEEP))
    run_sweep(exp, tmp_path / "new")
    reference = load_sweep(tmp_path / "new").choices
    # A damaged choices file: its task is redone, and the table comes back the same.
    victim = tmp_path / "new" / "choices" / "arms-00001.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert set(SweepStore(tmp_path / "new").verify()[1]) == {"arms-00001"}
    assert run_sweep(exp, tmp_path / "new").n_done == 1
    pd.testing.assert_frame_equal(load_sweep(tmp_path / "new").choices, reference)
    # An old folder: manifest lines without choices, no choices files.
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "new", old)
    shutil.rmtree(old / "choices")
    lines = []
    for line in (old / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        for key in ("files", "sha256", "rows"):
            entry[key].pop("choices")
        lines.append(json.dumps(entry))
    (old / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    results = load_sweep(old)
    assert results.choices is None
    assert results.n_finished == 2
    names = {p.name for p in write_report(old)}
    assert "oracle.csv" not in names
    assert "run the experiment into a new folder" in (old / "report.md").read_text()
