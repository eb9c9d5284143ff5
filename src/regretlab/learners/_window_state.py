"""The ring of a sliding-window learner in its state: one check for every windowed learner
(:mod:`regretlab.learners.disjoint_window`, :mod:`regretlab.learners.arm_windows`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from regretlab._validation import check_state


def check_window_state(
    state: Mapping[str, np.ndarray],
    template: Mapping[str, np.ndarray],
    n_actions: int,
    noun: str = "actions",
) -> tuple[dict[str, np.ndarray], int, np.ndarray]:
    """``state`` checked against the keys and shapes of ``template`` (the learner's own
    ``get_state()``), and its ``window_count`` (a count >= 0) and ``window_action`` (``noun``
    in ``[0, n_actions)``): the arrays, the count and the actions, or a ``ValueError``.

    >>> template = {"window_count": np.asarray(0.0), "window_action": np.zeros(2)}
    >>> check_window_state({"window_count": 3.0, "window_action": [1.0, 0.0]}, template, 2)[1]
    3
    >>> check_window_state({"window_count": 3.0, "window_action": [2.0, 0.0]}, template, 2)
    Traceback (most recent call last):
    ValueError: state['window_action'] must be actions in [0, 2)
    >>> check_window_state({"window_count": 2.5, "window_action": [1.0, 0.0]}, template, 2)
    Traceback (most recent call last):
    ValueError: state['window_count'] must be a count >= 0, got 2.5
    """
    arrays = check_state(state, {k: np.shape(v) for k, v in template.items()})
    count, actions = float(arrays["window_count"]), arrays["window_action"]
    if count < 0 or count != round(count):
        raise ValueError(f"state['window_count'] must be a count >= 0, got {count}")
    if np.any((actions < 0) | (actions >= n_actions) | (actions != np.round(actions))):
        raise ValueError(f"state['window_action'] must be {noun} in [0, {n_actions})")
    return arrays, int(count), actions
