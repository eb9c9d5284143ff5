"""Experiment files: the feedback table, non-stationary learners set by rule, drift wrappers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from regretlab.experiments import ExperimentError, parse_experiment
from regretlab.experiments.sweep import plan_tasks, run_task
from regretlab.learners import changepoint_hazard, discount_factor, sliding_window
from regretlab.simulate import Feedback, run_bandit


def _raw(**extra):
    return {
        "seed": 3,
        "horizon": 60,
        "replicates": 4,
        "chunk_size": 2,
        "checkpoints": [30, 60],
        "environments": {
            "e": {
                "type": "LinearBandit",
                "n_actions": 3,
                "context_dim": 2,
                "drift": [
                    {"type": "GradualDrift", "start": 10, "stop": 30},
                    {"type": "ArmAppears", "at_step": 40, "actions": [1]},
                ],
            }
        },
        "agents": {
            "window": {
                "learner": {"type": "SlidingWindowBayesianLinearRegression", "n_changes": 2},
                "policy": {"type": "ThompsonSampling"},
            },
            "discounted": {
                "learner": {"type": "BayesianLinearRegression.discounted", "forgetting": 0.9},
                "policy": {"type": "LinUCB"},
            },
            "bocpd": {
                "learner": {"type": "ChangepointBayesianLinearRegression", "n_changes": 2},
                "policy": {"type": "ThompsonSampling"},
            },
        },
        **extra,
    }


def test_learners_take_their_values_from_the_stated_rules():
    exp = parse_experiment(_raw())
    env = exp.build_environment("e", n_replicates=2, seed=0)
    window, discounted, bocpd = (a.learner for a in exp.build_agents(env))
    assert window.window == sliding_window(60, 2)
    assert discounted.forgetting == 0.9
    assert bocpd.hazard == changepoint_hazard(60, 2)
    raw = _raw()
    raw["agents"]["discounted"]["learner"] = {
        "type": "BayesianLinearRegression.discounted",
        "n_changes": 3,
    }
    env = parse_experiment(raw).build_environment("e", n_replicates=2, seed=0)
    assert parse_experiment(raw).build_agents(env)[1].learner.forgetting == discount_factor(60, 3)


@pytest.mark.parametrize(
    ("learner", "match"),
    [
        ({"type": "SlidingWindowBayesianLinearRegression"}, "set exactly one of window and"),
        (
            {"type": "ChangepointBayesianLinearRegression", "hazard": 0.1, "n_changes": 2},
            "set exactly one of hazard and n_changes",
        ),
        ({"type": "SlidingWindowBayesianLinearRegression", "window": 0}, "window must be >= 1"),
    ],
)
def test_bad_learner_settings_fail_at_parse_time(learner, match):
    raw = _raw()
    raw["agents"]["window"]["learner"] = learner
    with pytest.raises(ExperimentError, match=match):
        parse_experiment(raw)


def test_feedback_table_round_trips_and_only_changes_the_digest_when_set():
    plain = parse_experiment(_raw())
    assert plain.feedback is None
    assert "feedback" not in plain.to_dict()
    exp = parse_experiment(_raw(feedback={"delay": "poisson", "mean_delay": 2.0, "batch_size": 3}))
    assert exp.feedback == Feedback(delay="poisson", mean_delay=2.0, batch_size=3)
    again = parse_experiment(json.loads(json.dumps(exp.to_dict())))
    assert again == exp
    assert again.digest() == exp.digest() != plain.digest()


@pytest.mark.parametrize(
    ("feedback", "match"),
    [
        ({"delay": -1}, "feedback: delay must be >= 0, got -1"),
        ({"batch_size": 0}, "feedback: batch_size must be >= 1, got 0"),
        ({"delay": "geometric"}, "feedback: mean_delay is needed"),
        ({"lag": 2}, "feedback.lag: unknown key"),
        (3, "feedback: must be a table"),
    ],
)
def test_bad_feedback_tables_are_named(feedback, match):
    with pytest.raises(ExperimentError, match=match):
        parse_experiment(_raw(feedback=feedback))


def test_a_task_runs_with_the_feedback_seeded_from_its_own_branch():
    exp = parse_experiment(_raw(feedback={"delay": "geometric", "mean_delay": 2.0}))
    task = plan_tasks(exp)[1]
    tables = run_task(exp, task)
    # The same run by hand: the delays' seed is child 3 of the chunk seed.
    chunk = np.random.SeedSequence(
        task.environment_seed.entropy, spawn_key=task.environment_seed.spawn_key[:-1]
    )
    env = exp.build_environment("e", n_replicates=2, seed=task.environment_seed)
    feedback = Feedback(delay="geometric", mean_delay=2.0, seed=chunk.spawn(4)[3])
    by_hand = run_bandit(
        env,
        exp.build_agents(env, seed=task.learner_seed),
        seed=task.policy_seed,
        checkpoints=np.array([30, 60]),
        environment="e",
        feedback=feedback,
    ).regret
    by_hand["replicate"] += task.start
    pd.testing.assert_frame_equal(tables["regret"], by_hand, check_exact=True)
    no_feedback = run_task(parse_experiment(_raw()), plan_tasks(parse_experiment(_raw()))[1])
    assert not no_feedback["regret"].equals(tables["regret"])
