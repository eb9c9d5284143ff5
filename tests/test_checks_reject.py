"""Each generic check rejects a component broken in the way it is meant to catch."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from regretlab import checks
from regretlab.base import Choice, Event
from regretlab.environments import BanditStep, InteractionStream, LinearBandit
from regretlab.policies import Greedy
from regretlab.policies.escalation import DataSchedule, Fixed, apply_prior

# -- environments -----------------------------------------------------------------------------


class Bandit(LinearBandit):
    """A correct bandit to break: subclasses change one thing."""

    def __init__(self, **kwargs):
        super().__init__(n_actions=3, context_dim=2, horizon=30, n_replicates=2, seed=0, **kwargs)


class DropsAnAction(Bandit):
    def blocks(self, block_size=None):
        for block in super().blocks(block_size):
            yield BanditStep(block.context, block.rewards[..., :-1], block.means[..., :-1])


class GlobalNoise(Bandit):
    def blocks(self, block_size=None):
        for block in super().blocks(block_size):
            noise = np.random.normal(size=block.rewards.shape)  # noqa: NPY002
            yield BanditStep(block.context, block.means + noise, block.means)


class NoiseRestartsPerBlock(Bandit):
    """Its noise generator is reseeded for every block: the steps depend on ``block_size``."""

    def blocks(self, block_size=None):
        for block in super().blocks(block_size):
            rng = np.random.default_rng(1)
            yield BanditStep(
                block.context, block.means + rng.normal(size=block.means.shape), block.means
            )


class HandsOutItsState(Bandit):
    """Yields views of one stored block: a runner that writes into a step corrupts it."""

    def blocks(self, block_size=None):
        if not hasattr(self, "_cache"):
            self._cache = self.take(self.horizon)
        yield self._cache


class Unpicklable(Bandit):
    def __init__(self):
        super().__init__()
        self.transform = lambda x: x


class ShortStream(InteractionStream):
    """Claims 30 steps, yields 29."""

    def blocks(self, block_size=None):
        for block in super().blocks(block_size):
            yield type(block)(*(a[..., :-1, :] if a.ndim == 3 else a[..., :-1] for a in block))


@pytest.mark.parametrize(
    ("env", "check", "message"),
    [
        (DropsAnAction(), checks.check_environment_shapes, "must have shape"),
        (
            ShortStream(x_dim=2, horizon=30, n_replicates=2, seed=0, block_size=30),
            checks.check_environment_shapes,
            "blocks hold 29 steps",
        ),
        (GlobalNoise(), checks.check_environment_uses_no_global_random, "global numpy random"),
        (NoiseRestartsPerBlock(), checks.check_environment_ignores_block_size, "blocks(3)"),
        (HandsOutItsState(), checks.check_environment_blocks_are_fresh, "writing into a block"),
        (Unpicklable(), checks.check_environment_pickles, "cannot be pickled"),
    ],
    ids=lambda v: getattr(v, "__name__", type(v).__name__),
)
def test_environment_checks_reject(env, check, message):
    pristine = copy.deepcopy(env)
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(env)
    with pytest.raises(AssertionError):
        checks.check_environment(pristine)


# -- policies ---------------------------------------------------------------------------------


class ColumnOfActions(Greedy):
    """Actions of shape ``(R, 1)``: one axis too many."""

    def select(self, model, designs, rng, *, step, means=None):
        choice = super().select(model, designs, rng, step=step, means=means)
        return Choice(np.asarray(choice.actions)[..., None], None)


class GlobalTies(Greedy):
    def select(self, model, designs, rng, *, step, means=None):
        scores = np.asarray(model.predict_one(designs))
        scores = scores + 1e-9 * np.random.random(scores.shape)  # noqa: NPY002
        return Choice(scores.argmax(axis=-1), None)


class ScribblesOnDesigns(Greedy):
    def select(self, model, designs, rng, *, step, means=None):
        designs[..., 0] = 0.0
        return super().select(model, designs, rng, step=step, means=means)


class TeachesTheModel(Greedy):
    def select(self, model, designs, rng, *, step, means=None):
        choice = super().select(model, designs, rng, step=step, means=means)
        row = designs[..., 0, :]
        if getattr(model, "n_actions", None) is None:
            model.learn_one(row, np.ones(row.shape[:-1]))
        else:
            model.learn_one(row, np.ones(row.shape[:-1]), action=np.zeros(row.shape[:-1], int))
        return choice


class UnpicklablePolicy(Greedy):
    def __init__(self):
        self.score = lambda s: s


class ForgetsTies(Greedy):
    """Action probabilities whose rows do not sum to 1."""

    def action_probabilities(self, model, designs, rng, *, step, means=None):
        probs = super().action_probabilities(model, designs, rng, step=step, means=means)
        return 0.5 * probs + 0.25


class ClaimsCertainty(Greedy):
    """Deterministic choices whose logged probability is 1 while its table says 0.5."""

    def action_probabilities(self, model, designs, rng, *, step, means=None):
        k = designs.shape[-2]
        return np.full(designs.shape[:-1], 1.0 / k)


@pytest.mark.parametrize(
    ("policy", "check", "message"),
    [
        (ColumnOfActions(), checks.check_actions_are_valid, "replicate shape"),
        (GlobalTies(), checks.check_policy_uses_only_its_generator, "global numpy random"),
        (ScribblesOnDesigns(), checks.check_policy_leaves_inputs_alone, "mutated its designs"),
        (TeachesTheModel(), checks.check_policy_leaves_inputs_alone, "changed the learner"),
        (UnpicklablePolicy(), checks.check_policy_pickles, "cannot be pickled"),
        (ForgetsTies(), checks.check_action_probabilities, "sum to 1"),
        (ClaimsCertainty(), checks.check_action_probabilities, "deterministic choice"),
    ],
    ids=lambda v: getattr(v, "__name__", type(v).__name__),
)
def test_policy_checks_reject(policy, check, message):
    pristine = copy.deepcopy(policy)
    with pytest.raises(AssertionError, match=message):
        check(policy)
    with pytest.raises(AssertionError):
        checks.check_policy(pristine)


# -- schedulers -------------------------------------------------------------------------------


class Base:
    """A scheduler that switches the pairwise group on at step 40 (correct)."""

    def update(self, model, step):
        return apply_prior(model, "pairwise", 1.0, step) if step == 40 else []

    def clone(self):
        return type(self)()

    def __repr__(self):
        return type(self).__name__


class ReturnsATuple(Base):
    def update(self, model, step):
        return tuple(super().update(model, step))


class ForgetsTheStep(Base):
    def update(self, model, step):
        return [e._replace(step=0) for e in super().update(model, step)]


class SilentChange(Base):
    def update(self, model, step):
        super().update(model, step)
        return []


class CoinFlip(Base):
    def update(self, model, step):
        if np.random.random() < 0.05:  # noqa: NPY002
            return apply_prior(model, "pairwise", float(step), step)
        return []


class AddsAnObservation(Base):
    """Mutates its input beyond the prior: teaches the learner an extra observation."""

    def update(self, model, step):
        if step == 40:
            model.learn_one(np.ones((3, model.n_features)), np.zeros(3))
            return [Event(0, step, "main", 1.0, 2.0)]
        return []


class Remembers(Base):
    """``clone`` keeps what it learned: a used scheduler's clone does not start afresh."""

    def __init__(self, fired=None):
        self.fired = [] if fired is None else fired

    def update(self, model, step):
        if step == 40 and not self.fired:
            self.fired.append(step)
            return apply_prior(model, "pairwise", 1.0, step)
        return []

    def clone(self):
        return Remembers(self.fired)


@pytest.mark.parametrize(
    ("scheduler", "check", "message"),
    [
        (ReturnsATuple(), checks.check_scheduler_reports_every_change, "return a list"),
        (ForgetsTheStep(), checks.check_scheduler_reports_every_change, "an event of step 0"),
        (SilentChange(), checks.check_scheduler_reports_every_change, "was not reported"),
        (CoinFlip(), checks.check_scheduler_uses_no_global_random, "global numpy random"),
        (AddsAnObservation(), checks.check_scheduler_changes_are_exact, "fresh fit"),
        (Remembers(), checks.check_scheduler_is_deterministic, "kept its memory|different"),
        (
            DataSchedule("pairwise", lambda t: min(1.0, t / 60), every=20),
            checks.check_scheduler_pickles,
            "cannot be pickled",
        ),
    ],
    ids=lambda v: getattr(v, "__name__", type(v).__name__),
)
def test_scheduler_checks_reject(scheduler, check, message):
    pristine = copy.deepcopy(scheduler)
    with pytest.raises(AssertionError, match=message):
        check(scheduler)
    with pytest.raises(AssertionError):
        checks.check_scheduler(pristine)


def test_checks_leave_the_global_random_state_as_they_found_it():
    np.random.seed(5)  # noqa: NPY002
    before = np.random.get_state()  # noqa: NPY002
    with pytest.raises(AssertionError):
        checks.check_environment_uses_no_global_random(GlobalNoise())
    after = np.random.get_state()  # noqa: NPY002
    assert np.array_equal(before[1], after[1])
    assert before[2] == after[2]
    checks.check_scheduler(Fixed({"pairwise": 1.0}))
