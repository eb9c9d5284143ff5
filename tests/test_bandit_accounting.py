"""The runner's compiled step accounting (numba, optional) gives the numpy accounting's results
to the last bit: regrets, choice counts and expected rewards, the step log, and the same errors."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.environments import AdversarialBandit, ArmAppears, LinearBandit, MultiArmedBandit
from regretlab.learners import ArmMeans, BayesianLinearRegression, BetaBernoulli
from regretlab.policies import UCB1, ConjugateThompsonSampling, Exp3, Oracle, Random
from regretlab.policies import ThompsonSampling as LinearTS
from regretlab.simulate import Agent, _accounting, run_bandit
from regretlab.simulate import choices as choices_module

# The compiled kernel where numba is on; without it the kernel's source runs as Python through
# the same wiring, so the compiled path's bookkeeping is tested in either mode.
KERNEL = _accounting._compiled() or _accounting.account_kernel


_SMALL = LinearBandit(n_actions=3, context_dim=1, horizon=60, n_replicates=5, seed=5)


def _tables(env, agents, checkpoints) -> list[np.ndarray]:
    run = run_bandit(env, agents(), seed=4, checkpoints=checkpoints, log_steps=True)
    assert run.steps is not None
    columns = [run.regret[c] for c in ("pseudo_regret", "realised_regret")]
    columns += [run.choices[c] for c in ("count", "optimal", "expected_reward")]
    columns += [run.steps[c] for c in ("action", "reward", "best_mean", "chosen_mean")]
    return [np.asarray(c) for c in columns]


def _arm_agents(k: int, r: int):
    return lambda: [
        Agent("ucb1", ArmMeans(n_actions=k, n_replicates=r), policy=UCB1()),
        Agent("ts", BetaBernoulli(n_actions=k, n_replicates=r), policy=ConjugateThompsonSampling()),
        Agent("exp3", ArmMeans(n_actions=k, n_replicates=r), policy=Exp3()),
        Agent("oracle", policy=Oracle()),
    ]


def _linear_agents(env):
    return lambda: [
        Agent("ts", BayesianLinearRegression(groups=env.features, n_replicates=env.n_replicates),
              policy=LinearTS()),
        Agent("random", policy=Random()),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("env", "agents"),
    [
        (MultiArmedBandit([0.2, 0.5, 0.5, 0.7], horizon=90, n_replicates=30, seed=1), None),
        (AdversarialBandit(horizon=90, n_replicates=20, seed=2), None),  # a stated best arm
        (LinearBandit(n_actions=3, context_dim=2, horizon=70, n_replicates=9, seed=3), "linear"),
        (
            ArmAppears(
                LinearBandit(n_actions=3, context_dim=1, horizon=60, n_replicates=5, seed=5),
                20,
                actions=(2,),
            ),
            "random",
        ),
    ],
)
def test_compiled_accounting_gives_the_numpy_accountings_bits(env, agents, monkeypatch):
    # Flushes of the pending expected rewards every 5 steps and at uneven checkpoints: the
    # sums must be rounded as numpy's bincount rounds them (sums of 5 from zero, then added).
    monkeypatch.setattr(choices_module._ChoiceTally, "_FLUSH", 5 * env.n_replicates)
    if agents is None:
        make = _arm_agents(env.n_actions, env.n_replicates)
    elif agents == "linear":
        make = _linear_agents(env)
    else:
        make = lambda: [Agent("random", policy=Random())]  # noqa: E731
    checkpoints = [1, 2, 13, 40, env.horizon]
    monkeypatch.setattr(_accounting, "_compiled", lambda: KERNEL)
    fast = _tables(env, make, checkpoints)
    monkeypatch.setattr(_accounting, "_compiled", lambda: None)
    slow = _tables(env, make, checkpoints)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    assert fast[2].sum() > 0  # choices were counted


def test_the_kernel_counts_what_a_loop_counts():
    # The kernel itself (compiled or not) against a plain loop, on ties with the comparator.
    rng = np.random.default_rng(0)
    r, k = 50, 4
    actions = rng.integers(0, k, r)
    rewards, means = rng.random(r * k), rng.integers(0, 3, r * k) / 2.0
    best = means.reshape(r, k).max(axis=1) * np.where(rng.random(r) < 0.3, 1.0, 1.5)
    pseudo, realised = np.ones(r), np.zeros(r)
    count, optimal = np.zeros(r * k, np.int64), np.zeros(r * k, np.int64)
    pending = np.full(r * k, 0.25)
    at, reward, mean = np.empty(r, np.intp), np.empty(r), np.empty(r)
    args = (rewards, means, best, pseudo, realised, count, optimal, pending, at, reward, mean)
    cells = np.arange(r) * k + actions
    hits = cells[means[cells] >= best]
    assert 0 < len(hits) < r  # some chosen arms optimal (ties included), some not
    # Two steps with the same choices: the counts and sums accumulate, the gathers do not.
    for steps in (1, 2):
        assert KERNEL(actions, k, *args) == -1
        np.testing.assert_array_equal(at, cells)
        np.testing.assert_array_equal(reward, rewards[cells])
        np.testing.assert_array_equal(mean, means[cells])
        np.testing.assert_array_equal(count, steps * np.bincount(cells, minlength=r * k))
        np.testing.assert_array_equal(optimal, steps * np.bincount(hits, minlength=r * k))
    np.testing.assert_array_equal(pseudo, 1.0 + (best - means[cells]) + (best - means[cells]))
    np.testing.assert_array_equal(realised, (best - rewards[cells]) + (best - rewards[cells]))
    gathered = np.bincount(cells, means[cells], r * k)
    np.testing.assert_array_equal(pending, 0.25 + gathered + gathered)
    bad = actions.copy()
    bad[17] = k
    assert KERNEL(bad, k, *args) == 17
    bad[3] = -1
    assert KERNEL(bad, k, *args) == 3


@pytest.mark.parametrize("actions", [np.array([0, -1, 2]), np.array([0, 3, 1])])
@pytest.mark.parametrize("compiled", [True, False])
def test_bad_actions_get_the_same_error_on_either_path(actions, compiled, monkeypatch):
    from regretlab.base import Choice

    class Fixed:
        def select(self, model, designs, rng, *, step, means=None):
            return Choice(actions, None)

    if not compiled:
        monkeypatch.setattr(_accounting, "_compiled", lambda: None)
    env = MultiArmedBandit([0.2, 0.5, 0.9], horizon=5, n_replicates=3, seed=0)
    with pytest.raises(ValueError, match=r"step 1, agent 'bad': actions must lie in \[0, 3\)"):
        run_bandit(env, [Agent("bad", policy=Fixed())])
