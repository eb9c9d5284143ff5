"""The roles a user can supply, as protocols: exactly what the runners call.

Classes do not inherit from these; they conform, and :mod:`regretlab.checks` verifies the
behaviour the signatures cannot say (shapes, determinism, pickling, no global random state).
``R`` is the replicate axis, absent for one stream (``n_replicates=None``); ``m`` the steps of a
block; ``K`` the actions; ``p`` the design columns.

- :class:`PredictionStream` (blocks of :class:`StreamBlock`) feeds
  :func:`~regretlab.simulate.run_prequential`; :class:`BanditEnvironment` (blocks of
  :class:`BanditBlock`) feeds :func:`~regretlab.simulate.run_bandit`.
- An :class:`~regretlab.simulate.Agent` is a :class:`FeatureMap`, a :class:`Learner`, a
  :class:`Policy` (bandits) and a :class:`Scheduler`; a policy returns a :class:`Choice`, a
  scheduler a list of :class:`Event`.

Examples
--------
>>> from regretlab.environments import LinearBandit
>>> from regretlab.policies import Greedy
>>> from regretlab.policies.escalation import Fixed
>>> isinstance(LinearBandit(horizon=5, seed=0), BanditEnvironment)
True
>>> isinstance(Greedy(), Policy), isinstance(Fixed(), Scheduler)
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "BanditBlock",
    "BanditEnvironment",
    "Choice",
    "Event",
    "FeatureMap",
    "Learner",
    "Policy",
    "PredictionStream",
    "Scheduler",
    "StepLog",
    "StreamBlock",
]


class Choice(NamedTuple):
    """What a policy returns: chosen ``actions`` ``(R,)`` (``()`` for one stream), integers in
    ``[0, K)``, and, where known, the ``probability`` of each choice (propensities for
    off-policy evaluation), else ``None``.

    ``deterministic`` marks a policy that picks its action as a function of what it has seen
    (greedy, LinUCB, the oracle): its ``probability`` is 1, or ``1 / n`` among ``n`` tied best
    actions, and every other action has probability 0, so inverse-propensity estimators cannot
    evaluate another policy from its log (:mod:`regretlab.offpolicy` reports the support
    deficiency).

    The propensity contract: ``probability`` has the shape of ``actions`` and holds, per
    replicate, the probability in ``(0, 1]`` with which the policy would pick the action it
    returned, given everything before the step (its learner's state and the designs), over its
    own randomness. It is exact for the closed-form rules (``Random``, ``EpsilonGreedy``,
    ``Softmax``, ``Exp3``); the deterministic rules (``Greedy``, ``UCB1``, ``KLUCB``,
    ``BayesUCB``) report ``1 / (number of tied maxima)``, 1 without ties;
    ``ConjugateThompsonSampling(propensity_draws=n)`` reports a Monte Carlo estimate
    ``(hits + 1) / (n + 1)``; ``None`` means unknown. The runner logs it (``log_steps``) and
    passes it to a learner with ``learns_propensity = True`` as ``learn_one(...,
    probability=)`` (EXP3's importance weights).

    Examples
    --------
    >>> Choice(np.array([0, 2]), None).actions
    array([0, 2])
    >>> Choice(np.array([1]), np.array([1.0]), deterministic=True).deterministic
    True
    """

    actions: np.ndarray
    probability: np.ndarray | None
    deterministic: bool = False


class Event(NamedTuple):
    """One change of a group's prior variance in one replicate at one step (what a scheduler
    reports; ``replicate`` is 0 for one stream).

    Examples
    --------
    >>> Event(replicate=0, step=10, group="pairwise", old=0.0, new=1.0).new
    1.0
    """

    replicate: int
    step: int
    group: str
    old: float
    new: float


@runtime_checkable
class FeatureMap(Protocol):
    """Maps raw inputs ``(..., n_inputs)`` to a design ``(..., n_features)`` with named groups.

    A bandit's map may add an action axis: ``(..., context_dim) -> (..., K, n_features)``
    (then it has ``n_actions``); a map without one serves every action alike.

    Examples
    --------
    >>> from regretlab.features import InteractionFeatures
    >>> isinstance(InteractionFeatures(2), FeatureMap)
    True
    """

    @property
    def n_inputs(self) -> int:
        """The length of a raw input row."""
        ...

    @property
    def n_features(self) -> int:
        """The number of design columns."""
        ...

    @property
    def groups(self) -> tuple[str, ...]:
        """The feature group of every design column."""
        ...

    @property
    def names(self) -> tuple[str, ...]:
        """A readable name for every design column."""
        ...

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The design of ``x``; leading axes are kept, ``x`` is left as it was."""
        ...


@runtime_checkable
class Learner(Protocol):
    """An online regression model over a design vector, ``R`` replicates on the leading axis.

    ``learn_one(x (R, p), y (R,))`` learns one observation per replicate (a per-action learner,
    one with ``n_actions``, also takes ``action=`` ``(R,)``); ``predict_one`` takes ``(R, p)``
    or ``(R, K, p)`` and returns ``(R,)`` or ``(R, K)``. ``clone()`` is an untrained copy with
    the same arguments: the runners clone the agent's learner for every run. A learner whose
    ``n_replicates`` attribute differs from the environment's is refused.

    Optional: ``predict_learn_many(x (R, m, p), y (R, m)) -> (R, m)`` predicts each of ``m``
    rows, then learns it, as ``predict_one`` then ``learn_one`` would step by step;
    :func:`~regretlab.simulate.run_prequential` then hands it every step between two
    checkpoints (time blocking).

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> isinstance(BayesianLinearRegression(groups=("main",)), Learner)
    True
    """

    def learn_one(self, x: np.ndarray, y: np.ndarray | float) -> Learner:
        """Learn one observation per replicate; returns ``self``."""
        ...

    def predict_one(self, x: np.ndarray) -> np.ndarray | float:
        """The prediction for design rows ``x``, before learning them."""
        ...

    def clone(self) -> Learner:
        """An untrained learner with the same constructor arguments."""
        ...


@runtime_checkable
class StreamBlock(Protocol):
    """Steps of a prediction stream: inputs ``x`` ``(R, m, n_inputs)``, targets ``y`` and
    noise-free means ``mean`` ``(R, m)``; without ``R`` for one stream.
    :class:`~regretlab.environments.Observations` is one.

    >>> from regretlab.environments import InteractionStream
    >>> block = next(InteractionStream(x_dim=2, horizon=4, seed=0).blocks())
    >>> isinstance(block, StreamBlock), block.x.shape, block.y.shape
    (True, (4, 2), (4,))
    """

    @property
    def x(self) -> np.ndarray: ...

    @property
    def y(self) -> np.ndarray: ...

    @property
    def mean(self) -> np.ndarray: ...


@runtime_checkable
class BanditBlock(Protocol):
    """Steps of a bandit: ``context`` ``(R, m, context_dim)``, the reward every action would
    have earned ``rewards`` and their expectations ``means`` ``(R, m, K)``; without ``R`` for
    one stream. :class:`~regretlab.environments.BanditStep` is one. A block may also have
    ``best`` ``(R, m)``, the expected reward regret is measured against (default
    ``means.max(-1)``; :class:`~regretlab.environments.ArmStep` of an adversarial bandit holds
    the best fixed arm's).

    >>> from regretlab.environments import LinearBandit
    >>> block = next(LinearBandit(n_actions=3, context_dim=2, horizon=4, seed=0).blocks())
    >>> isinstance(block, BanditBlock), block.context.shape, block.means.shape
    (True, (4, 2), (4, 3))
    """

    @property
    def context(self) -> np.ndarray: ...

    @property
    def rewards(self) -> np.ndarray: ...

    @property
    def means(self) -> np.ndarray: ...


@runtime_checkable
class PredictionStream(Protocol):
    """An environment of ``horizon`` observations that knows its truth (``mean``).

    :func:`~regretlab.simulate.run_prequential` calls ``blocks()`` once and reads the steps in
    order; ``features`` is the design the truth is linear in (the default feature map), and
    coefficient tracking reads ``true_weights``. Blocks are fresh arrays, made with the
    environment's own generators (never the global ``np.random``), and the steps do not depend
    on ``block_size``.

    Examples
    --------
    >>> from regretlab.environments import InteractionStream
    >>> isinstance(InteractionStream(horizon=5, seed=0), PredictionStream)
    True
    """

    horizon: int
    n_replicates: int | None

    @property
    def features(self) -> FeatureMap: ...

    def blocks(self, block_size: int | None = None) -> Iterator[StreamBlock]:
        """Consecutive blocks of up to ``block_size`` steps (``None``: the environment's own
        choice), from the first step, ``horizon`` steps in all."""
        ...


@runtime_checkable
class BanditEnvironment(Protocol):
    """A contextual bandit of ``horizon`` steps that knows every action's expected reward.

    :func:`~regretlab.simulate.run_bandit` calls ``blocks(block_size)`` once, with a
    ``block_size`` of its own choosing (from ``n_replicates``, ``n_actions`` and
    ``context_dim``), so the steps must not depend on it. The environment draws the reward of
    every action (common random numbers for all agents of a replicate) with its own generators,
    never the global ``np.random``. ``features`` maps a context to the ``(K, p)`` design rows.

    Examples
    --------
    >>> from regretlab.environments import SupervisedBandit
    >>> env = SupervisedBandit([[0.0], [1.0]], ["a", "b"], seed=0)
    >>> isinstance(env, BanditEnvironment)
    True
    """

    horizon: int
    n_replicates: int | None
    n_actions: int
    context_dim: int

    @property
    def features(self) -> FeatureMap: ...

    def blocks(self, block_size: int | None = None) -> Iterator[BanditBlock]:
        """Consecutive blocks of up to ``block_size`` steps (``None``: the environment's own
        choice), from the first step, ``horizon`` steps in all."""
        ...


@runtime_checkable
class Policy(Protocol):
    """Turns a learner's predictions or posterior into one action per replicate.

    ``select`` gets the agent's learner (``None`` for a model-free policy), the design rows
    ``(R, K, p)`` of every action (``(K, p)`` for one stream; possibly a read-only broadcast
    view), the policy's own generator, the 1-based ``step`` and the true expected rewards
    ``means`` ``(R, K)`` (for oracles only) and, when the environment has actions that cannot
    be chosen at the step, their mask ``available`` ``(R, K)`` (True = may be chosen; passed
    only then, so a policy without the keyword still runs elsewhere): the policy never picks an
    unavailable action and its propensities are over the available ones
    (:mod:`regretlab.policies.availability`). It draws only from ``rng``, leaves its arguments
    as they were (the learner is taught by the runner, not by the policy) and returns a
    :class:`Choice`.

    Examples
    --------
    >>> from regretlab.policies import Random
    >>> choice = Random().select(None, np.zeros((2, 3, 1)), np.random.default_rng(0), step=1)
    >>> choice.actions.shape
    (2,)
    """

    def select(
        self,
        model: Any,
        designs: np.ndarray,
        rng: np.random.Generator,
        *,
        step: int,
        means: np.ndarray | None = None,
        available: np.ndarray | None = None,
    ) -> Choice:
        """The actions for this step (see the class)."""
        ...


@runtime_checkable
class StepLog(Protocol):
    """Receives every decision of a bandit run: what :func:`~regretlab.simulate.run_bandit`
    calls with ``log_to=``.

    ``record`` gets, after each agent's decision at step ``step`` (1-based), the step's
    ``context`` ``(R, context_dim)``, the chosen ``actions`` and the policy's :class:`Choice`
    (its ``probability`` is the logging propensity), the revealed ``rewards`` ``(R,)`` and
    every action's expected reward ``means`` ``(R, K)``; without ``R`` for one stream. A run
    whose environment makes actions unavailable (blocks with an ``available`` field, such as
    :class:`~regretlab.environments.ArmAppears`) also passes ``available=``, that step's mask
    (booleans shaped as ``means``), at every step; a log that cannot take it is refused before
    the first step of such a run. The
    arrays belong to the runner and may change after the call: copy what is kept. ``close``
    is called once when the run ends (also when it fails).
    :class:`~regretlab.offpolicy.ParquetLog` writes them to Parquet in blocks.

    Examples
    --------
    >>> from regretlab.offpolicy import MemoryLog
    >>> isinstance(MemoryLog(), StepLog)
    True
    """

    def record(
        self,
        agent: str,
        step: int,
        context: np.ndarray,
        choice: Choice,
        rewards: np.ndarray,
        means: np.ndarray,
        available: np.ndarray | None = None,
    ) -> None:
        """Keep one step of one agent (see the class)."""
        ...

    def close(self) -> None:
        """The run is over: flush and release what is held."""
        ...


@runtime_checkable
class Scheduler(Protocol):
    """Reads posterior summaries after a step and sets group prior variances on the learner.

    The runners call ``clone()`` once per run and then ``update(model, step)`` after the
    learner has learned step ``step`` (1-based). The scheduler changes the learner only through
    ``set_prior_variance`` and reports every change it made as an :class:`Event`.

    Examples
    --------
    >>> from regretlab.policies.escalation import Fixed
    >>> isinstance(Fixed({"pairwise": 1.0}), Scheduler)
    True
    """

    def update(self, model: Any, step: int) -> list[Event]:
        """Change the learner's prior variances if the rule says so; return the changes."""
        ...

    def clone(self) -> Scheduler:
        """A fresh scheduler with the same arguments (no memory of earlier runs)."""
        ...
