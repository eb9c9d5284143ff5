"""What the package prints and labels reads well (issue 20)."""

from __future__ import annotations

from regretlab.cli import main
from regretlab.environments import LinearBandit
from regretlab.learners import BayesianLinearRegression
from regretlab.policies import Random
from regretlab.simulate import Agent, run_bandit, run_prequential


class PlainBandit:
    """A user's bandit without a __repr__: its label must not be ``<... object at 0x...>``."""

    def __init__(self) -> None:
        self._inner = LinearBandit(n_actions=2, context_dim=2, horizon=10, n_replicates=2, seed=0)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_labels_default_to_readable_names():
    result = run_bandit(PlainBandit(), [Agent("random", policy=Random())], seed=0)
    assert set(result.regret["environment"]) == {"PlainBandit"}


def test_result_reprs_are_short():
    from regretlab.environments import InteractionStream

    env = InteractionStream(x_dim=2, horizon=30, n_replicates=3, seed=0)
    agent = Agent("bayes", BayesianLinearRegression(groups=env.features, n_replicates=3))
    result = run_prequential(env, [agent], track_coefficients=True)
    text = repr(result)
    assert text.startswith("PrequentialResult(regret=<")
    assert "agents ['bayes']" in text
    assert len(text) < 200
    assert "\n" not in text
    bandit = run_bandit(PlainBandit(), [Agent("random", policy=Random())], seed=0)
    assert repr(bandit).startswith("BanditResult(regret=<")
    assert "steps=None" in repr(bandit)


def test_run_prints_grammatical_counts(tmp_path, capsys):
    path = tmp_path / "one.toml"
    path.write_text(
        "seed = 1\nhorizon = 20\nreplicates = 1\n"
        'environments.e = {type = "InteractionStream", x_dim = 2}\n'
        'agents.a = {learner = {type = "BayesianLinearRegression"}}\n'
    )
    args = ["run", str(path), "--out", str(tmp_path / "o"), "--workers", "0", "--no-progress"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "1 of 1 task to run in this process" in captured.err
    assert "to run on in this process" not in captured.err
    assert "1 task run, 0 already done" in captured.out
    assert main(args) == 0
    assert "0 of 1 task to run in this process" in capsys.readouterr().err


def test_the_demo_counts_replicated_and_single_stream_experiments(tmp_path, capsys, monkeypatch):
    from regretlab.studies import seed_study

    real = seed_study.seed_experiments

    def few(n_replicates):  # two experiments: one replicated, one on a single stream
        chosen = real(n_replicates=n_replicates)
        single = [e for e in chosen if e.n_replicates is None][:1]
        return [e for e in chosen if e.n_replicates is not None][:1] + single

    monkeypatch.setattr(seed_study, "seed_experiments", few)
    assert main(["demo", "--out", str(tmp_path), "--replicates", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    (single,) = [e.name for e in few(2) if e.n_replicates is None]
    assert f"2 experiments (1 of 2 replicates each and 1 on a single stream ({single}))" in out
