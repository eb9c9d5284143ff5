"""Replay evaluation (Li, Chu, Langford & Wang 2011) of uniformly logged data.

On a log whose actions were drawn uniformly, keep the rows where the evaluated policy picks the
logged action: they are distributed as the policy's own online interaction, one accepted event
per ``K`` logged rows on average. For a fixed target the estimate is the mean reward of the
accepted rows (standard error ``sd / sqrt(accepted)``); a learning policy is fed only the
accepted events, so its regret after ``N`` accepted events is distributed as its regret after
``N`` online steps.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from regretlab._random import SeedLike, children
from regretlab._validation import check_int
from regretlab.offpolicy.reward_models import design_rows
from regretlab.offpolicy.table import LoggedBandit
from regretlab.offpolicy.targets import check_probabilities

__all__ = ["ReplayEstimate", "check_uniform", "replay", "replay_learning"]


class ReplayEstimate(NamedTuple):
    """Per replicate ``(R,)``: the mean accepted reward ``value``, its ``se`` and the number
    of ``accepted`` rows.

    >>> ReplayEstimate(np.array([0.5]), np.array([0.1]), np.array([25])).accepted
    array([25])
    """

    value: np.ndarray
    se: np.ndarray
    accepted: np.ndarray


def check_uniform(log: LoggedBandit, *, rtol: float = 1e-9) -> None:
    """A ``ValueError`` unless every logged propensity is ``1 / K`` (replay's premise).

    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> check_uniform(from_frame(pd.DataFrame({"action": [0, 1], "propensity": [0.5, 0.9],
    ...                                        "reward": 1.0})))
    Traceback (most recent call last):
    ValueError: replay needs uniformly logged data (every propensity 1/K = 0.5), got ...
    """
    propensity = log.need("propensity", "replay")
    k = log.n_actions
    if not np.allclose(propensity, 1.0 / k, rtol=rtol, atol=0.0):
        bad = propensity.ravel()[np.argmax(np.abs(propensity.ravel() - 1.0 / k))]
        raise ValueError(
            f"replay needs uniformly logged data (every propensity 1/K = {1.0 / k:.6g}), got a "
            f"propensity of {bad:.6g}; use IPS, SNIPS or DR for other loggers"
            + (
                " (rows with unavailable actions are logged with 1/(available actions))"
                if log.available is not None
                else ""
            )
        )


def replay(log: LoggedBandit, probabilities: Any, *, seed: SeedLike = None) -> ReplayEstimate:
    """Replay a fixed target, ``pi(a | x_i)`` ``(R, n, K)``, on a uniformly logged ``log``.

    The target's action at each row is drawn from ``pi`` (inverse CDF, one uniform per row);
    the row counts when it equals the logged one.

    >>> import pandas as pd
    >>> from regretlab.offpolicy import from_frame
    >>> log = from_frame(pd.DataFrame({"action": [0, 1, 0, 1], "propensity": 0.5,
    ...                                "reward": [1.0, 0.0, 1.0, 0.0]}))
    >>> replay(log, np.tile([1.0, 0.0], (1, 4, 1)), seed=0)
    ReplayEstimate(value=array([1.]), se=array([0.]), accepted=array([2]))
    """
    check_uniform(log)
    pi = check_probabilities(probabilities, log)
    u = np.random.default_rng(seed).random(log.actions.shape)
    picked = (pi.cumsum(axis=-1) <= u[..., None]).sum(axis=-1)
    picked = np.minimum(picked, log.n_actions - 1)  # u within rounding of 1
    hit = picked == log.actions
    accepted = hit.sum(axis=-1)
    if (accepted == 0).any():
        raise ValueError("replay accepted no row in some replicate: the log is too short")
    value = (log.rewards * hit).sum(axis=-1) / accepted
    squares = ((log.rewards - value[:, None]) ** 2 * hit).sum(axis=-1)
    sd = np.sqrt(squares / np.maximum(accepted - 1, 1))
    return ReplayEstimate(value, sd / np.sqrt(accepted), accepted)


def replay_learning(
    log: LoggedBandit,
    learner: Any,
    policy: Any,
    *,
    features: Any = None,
    checkpoints: Any,
    seed: SeedLike = None,
) -> pd.DataFrame:
    """Replay a learning agent: it acts on every row and learns only the accepted ones.

    Each replicate runs its own clone of ``learner`` (one stream, ``n_replicates=None``) with
    generator child ``r`` of ``seed``; its pseudo-regret ``max_a mu(a) - mu(a_t)`` (from the
    log's true means) is summed over accepted events and recorded after ``N`` accepted events
    for each ``N`` in ``checkpoints``. Replicates whose log runs out before a checkpoint have no
    row for it.

    Returns
    -------
    pandas.DataFrame
        Columns ``replicate``, ``accepted`` (the checkpoint ``N``), ``pseudo_regret``,
        ``rows_used`` (logged rows read to get there).

    Examples
    --------
    >>> from regretlab.environments import LinearBandit
    >>> from regretlab.learners import BayesianLinearRegression
    >>> from regretlab.offpolicy import MemoryLog
    >>> from regretlab.policies import Random, ThompsonSampling
    >>> from regretlab.simulate import Agent, run_bandit
    >>> env = LinearBandit(n_actions=3, context_dim=2, horizon=300, n_replicates=2, seed=0)
    >>> log = MemoryLog()
    >>> _ = run_bandit(env, [Agent("uniform", policy=Random())], seed=1, log_to=log)
    >>> curve = replay_learning(log.logged("uniform"),
    ...     BayesianLinearRegression(groups=env.features.groups), ThompsonSampling(),
    ...     features=env.features, checkpoints=[10, 50], seed=2)
    >>> curve.columns.tolist(), curve["accepted"].tolist()
    (['replicate', 'accepted', 'pseudo_regret', 'rows_used'], [10, 50, 10, 50])
    """
    check_uniform(log)
    means = log.need("means", "replay_learning (its regret)")
    steps = sorted(
        {check_int("checkpoints", int(c), minimum=1) for c in np.atleast_1d(checkpoints)}
    )
    rows = design_rows(log, features)
    records = []
    for rep, child in enumerate(children(seed, log.n_replicates)):
        rng = np.random.default_rng(child)
        model = learner.clone()
        per_action = getattr(model, "n_actions", None) is not None
        regret, accepted, want = 0.0, 0, 0
        for i in range(log.n_rows):
            choice = policy.select(model, rows[rep, i], rng, step=accepted + 1, means=means[rep, i])
            action = int(choice.actions)
            if action != log.actions[rep, i]:
                continue
            accepted += 1
            reward = float(log.rewards[rep, i])
            if per_action:
                model.learn_one(rows[rep, i, action], reward, action=action)
            else:
                model.learn_one(rows[rep, i, action], reward)
            regret += float(means[rep, i].max() - means[rep, i, action])
            if accepted == steps[want]:
                records.append((rep, accepted, regret, i + 1))
                want += 1
                if want == len(steps):
                    break
    return pd.DataFrame(records, columns=["replicate", "accepted", "pseudo_regret", "rows_used"])
