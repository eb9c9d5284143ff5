"""The policy of an agent selector: it plays the action of the base agent the selector picked."""

from __future__ import annotations

from typing import Any

import numpy as np

from regretlab.base import Choice

__all__ = ["ChosenAgent"]


class ChosenAgent:
    """Plays the base agent that the agent's selector (its learner) picks for the step.

    ``select(model, ...)`` delegates to ``model.select(designs, rng, step=, means=)``, where
    ``model`` is the run's clone of a :class:`Corral` or :class:`RegretBalancing` (the runner
    passes it). It holds no state, so one instance serves every run.

    Examples
    --------
    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.policies import Greedy, ThompsonSampling
    >>> from regretlab.policies.selection import RegretBalancing
    >>> groups = ("intercept", "main")
    >>> bases = {"greedy": (BayesianLinearRegression(groups=groups), Greedy()),
    ...          "ts": (BayesianLinearRegression(groups=groups), ThompsonSampling())}
    >>> selector = RegretBalancing(bases, bounds=[lambda n: n**0.5, lambda n: 2 * n**0.5])
    >>> designs = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> choice = ChosenAgent().select(selector, designs, np.random.default_rng(0), step=1)
    >>> int(choice.actions) in (0, 1)
    True
    >>> ChosenAgent().select(None, designs, np.random.default_rng(0), step=1)
    Traceback (most recent call last):
    TypeError: ChosenAgent needs an agent selector (Corral, RegretBalancing) as the agent's \
learner, got NoneType
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
        """The picked base's action (see the class)."""
        chooser = getattr(model, "select", None)
        if not callable(chooser):
            raise TypeError(
                "ChosenAgent needs an agent selector (Corral, RegretBalancing) as the agent's "
                f"learner, got {type(model).__name__}"
            )
        if available is None:
            return chooser(designs, rng, step=step, means=means)
        return chooser(designs, rng, step=step, means=means, available=available)

    def __repr__(self) -> str:
        return "ChosenAgent()"
