"""Prequential prediction streams: all agents and replicates in lockstep.

At every step each agent predicts, then learns the observation (prequential or "test then
train" evaluation). All agents see the same inputs and the same noise (common random numbers),
so differences between them are paired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from regretlab._lazy import lazy_module
from regretlab._lazy import progress_bar as tqdm
from regretlab.base import PredictionStream
from regretlab.simulate._budget import DEFAULT_BLOCK_MEMORY, stream_steps
from regretlab.simulate._labels import label_column, readable_name, tables_repr
from regretlab.simulate._losses import add_losses, compiled_losses
from regretlab.simulate._segments import design, design_buffers
from regretlab.simulate.agents import (
    Agent,
    EventLog,
    check_checkpoints,
    prepare_agents,
    replicate_ids,
)
from regretlab.simulate.feedback import Feedback, FeedbackChannel

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

__all__ = ["PrequentialResult", "run_prequential"]


class PrequentialResult(NamedTuple):
    """``regret``: one row per agent x replicate x checkpoint; ``coefficients``: trajectories;
    ``events``: every prior change (agent, replicate, step, group, old, new). In ``regret``
    and ``coefficients`` the ``environment`` column is a categorical of one category: the
    label is stored once, not on every row.

    >>> from regretlab.environments import InteractionStream
    >>> from regretlab.learners import BayesianLinearRegression
    >>> env = InteractionStream(x_dim=2, horizon=20, n_replicates=2, seed=0)
    >>> agent = Agent("bayes", BayesianLinearRegression(groups=env.features, n_replicates=2))
    >>> result = run_prequential(env, [agent], checkpoints=[20])
    >>> result.regret.columns.tolist()[-2:], result.coefficients, len(result.events)
    (['expected_regret', 'excess_loss'], None, 0)
    """

    regret: pd.DataFrame
    coefficients: pd.DataFrame | None
    events: pd.DataFrame

    def __repr__(self) -> str:
        return tables_repr("PrequentialResult", self._asdict())


def _coefficients(learner: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Posterior mean and sd where the learner has them, else its weights, else nothing."""
    if hasattr(learner, "mean") and hasattr(learner, "sd"):
        return learner.mean, learner.sd
    weights = getattr(learner, "weights", None)
    return None if weights is None else (np.asarray(weights), None)


def _predict_learn_block(learner: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Predictions of a segment of steps, then learn them: ``x`` ``(*batch, m, p)`` and ``y``
    ``(*batch, m)`` replicate first, as the learners read them; the predictions as the learner
    returns them, ``(*batch, m)``."""
    return learner.predict_learn_many(x, y)


def run_prequential(
    env: PredictionStream,
    agents: list[Agent] | tuple[Agent, ...],
    *,
    checkpoints: np.ndarray | None = None,
    track_coefficients: bool = False,
    environment: str | None = None,
    progress: bool = False,
    feedback: Feedback | None = None,
    block_memory: int = DEFAULT_BLOCK_MEMORY,
    time_blocking: bool = True,
) -> PrequentialResult:
    """Predict, then learn, one step at a time for every agent over every replicate.

    Records at each checkpoint the cumulative expected regret ``sum_t (yhat_t - mean_t)^2`` and
    the realised excess loss ``sum_t [(yhat_t - y_t)^2 - (mean_t - y_t)^2]``, and optionally the
    coefficient trajectories (posterior mean and sd, or weights) against the true weights.

    Parameters
    ----------
    env
        A :class:`~regretlab.base.PredictionStream`: ``blocks()`` yields blocks with fields
        ``x``, ``y``, ``mean`` (time on the axis after the replicate axis); it also has
        ``horizon``, ``n_replicates``, ``features`` and, for coefficient tracking,
        ``true_weights``.
    agents
        The agents; names must be unique.
    checkpoints
        Steps (1-based) at which to record; default :func:`log_checkpoints`.
    track_coefficients
        Also record coefficient trajectories where the design is the environment's own.
    environment
        Label for the ``environment`` column; default the environment's ``repr``.
    progress
        Show a progress bar.
    feedback
        Delayed or batched learning (:class:`~regretlab.simulate.Feedback`); ``None``, as
        ``Feedback()``, learns every observation right after predicting it.
    block_memory
        Bytes of environment data (inputs, outputs, designs) held at once: the steps are read
        in blocks, and their designs made a segment of steps at a time, sized to fit (at
        least one step; half the budget at most for a segment's designs), so the memory does
        not grow with the horizon. Default 64 MiB. Any value gives the same results (bit for
        bit step by step; to rounding, about 1e-12, with ``time_blocking``, whose segments end
        with the blocks); longer segments cost the time-blocked learners less per step. The
        learners' state is freed before the result tables are built.
    time_blocking
        Let learners with ``predict_learn_many`` (such as
        :class:`~regretlab.learners.BayesianLinearRegression`) predict and learn each segment
        of steps in one call, blocked by time for the cache; agents with a scheduler, learners
        that report events, and runs with ``feedback`` go step by step. The predictions agree
        with the step-by-step loop (``False``) to about 1e-12, so the results do too. Their
        designs are made replicate first, ``(*batch, m, p)``, in a buffer reused for the next
        segment: ``predict_learn_many`` must not keep a reference to them.

    Examples
    --------
    >>> from regretlab.environments import InteractionStream
    >>> from regretlab.learners import BayesianLinearRegression
    >>> env = InteractionStream(x_dim=2, horizon=100, n_replicates=4, seed=0)
    >>> agent = Agent("bayes", BayesianLinearRegression(groups=env.features, n_replicates=4))
    >>> result = run_prequential(env, [agent], checkpoints=[10, 100])
    >>> result.regret[["agent", "replicate", "step"]].shape
    (8, 3)
    """
    if not isinstance(time_blocking, bool):
        raise TypeError(f"time_blocking must be True or False, got {time_blocking!r}")
    label = readable_name(env) if environment is None else environment
    batch = () if env.n_replicates is None else (env.n_replicates,)
    # The loop runs in its own frame: its learners' state and last block are freed before the
    # tables are built (and pandas is imported), not held beside them at the run's peak.
    names, records, coef_records, log = _run_steps(
        env,
        agents,
        checkpoints,
        label,
        track_coefficients=track_coefficients,
        progress=progress,
        feedback=feedback,
        block_memory=block_memory,
        time_blocking=time_blocking,
    )
    regret = _regret_table(records, names, label, batch)
    coefficients = (
        _coefficient_table(coef_records, names, label, env, batch) if track_coefficients else None
    )
    return PrequentialResult(regret, coefficients, log.table())


def _run_steps(
    env: PredictionStream,
    agents: list[Agent] | tuple[Agent, ...],
    checkpoints: np.ndarray | None,
    label: str,
    *,
    track_coefficients: bool,
    progress: bool,
    feedback: Feedback | None,
    block_memory: int,
    time_blocking: bool,
) -> tuple[
    list[str],
    list[tuple[int, int, np.ndarray, np.ndarray]],
    list[tuple[int, int, np.ndarray, np.ndarray | None]],
    EventLog,
]:
    """The time loop of :func:`run_prequential`: the tallies at every checkpoint."""
    names, learners, maps, schedulers = prepare_agents(agents, env)
    horizon = env.horizon
    steps = check_checkpoints(checkpoints, horizon)
    batch = () if env.n_replicates is None else (env.n_replicates,)
    log = EventLog(names, label)
    channel = None if feedback is None else FeedbackChannel(feedback, len(agents), env.n_replicates)

    # Agents whose learner predicts and learns whole blocks of rows (time blocking); the rest,
    # and every agent with a scheduler, events or delayed feedback, go step by step.
    blocked = [
        time_blocking
        and channel is None
        and schedulers[a] is None
        and callable(getattr(learner, "predict_learn_many", None))
        and not hasattr(learner, "pop_events")
        for a, learner in enumerate(learners)
    ]
    size, span = stream_steps(block_memory, env, maps)  # steps per block and per segment
    reuse = design_buffers(maps, blocked, batch, span)
    expected = np.zeros((len(agents), *batch))
    excess = np.zeros((len(agents), *batch))
    records: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    coef_records: list[tuple[int, int, np.ndarray, np.ndarray | None]] = []
    next_check = 0
    t = 0
    bar = tqdm(total=horizon, disable=not progress, desc=label, leave=False)
    # The blocked agents' losses in one compiled pass per segment where numba is on, by
    # numpy otherwise; both read the block replicate first.
    losses_kernel = compiled_losses() if any(blocked) else None
    time_first = not all(blocked)
    for block in env.blocks(size):
        # Observations first in every array, so each step reads contiguous (R, p) rows.
        x = np.moveaxis(block.x, -2, 0)
        # Outputs and means time first and contiguous where stepping agents read them (one
        # step's (R,) row at a time; strided rows cost 5x); replicate first and contiguous for
        # the tallies of the blocked agents.
        if time_first:
            y = np.ascontiguousarray(np.moveaxis(block.y, -1, 0))
            mean = np.ascontiguousarray(np.moveaxis(block.mean, -1, 0))
        block_y, block_mean = np.ascontiguousarray(block.y), np.ascontiguousarray(block.mean)
        n_steps = block.y.shape[-1]
        # Segments end at checkpoints, where the tallies (and coefficients) are recorded; only
        # one segment's designs exist at a time (see stream_steps).
        start = 0
        while start < n_steps:
            stop = min(n_steps, start + span)
            if next_check < len(steps):
                stop = min(stop, start + int(steps[next_check]) - t)
            rows = slice(start, stop)
            # Designs replicate first for the blocked agents (each replicate's rows contiguous,
            # as the kernels and X'X read them), time first for the agents that step (each
            # step's (R, p) rows contiguous); each made once per feature map.
            made: dict[tuple[int, bool], np.ndarray] = {}
            designs = [
                design(made, reuse, fm, block.x, x, rows, rep)
                for fm, rep in zip(maps, blocked, strict=True)
            ]
            for a, learner in enumerate(learners):
                if blocked[a]:
                    try:
                        yhat_block = _predict_learn_block(learner, designs[a], block.y[..., rows])
                    except (ValueError, TypeError) as exc:
                        where = (
                            f"step {t + 1}"
                            if stop - start == 1
                            else f"steps {t + 1}-{t + stop - start}"
                        )
                        raise type(exc)(f"{where}, agent {names[a]!r}: {exc}") from exc
                    add_losses(
                        a, yhat_block, block_y, block_mean, rows, expected, excess, losses_kernel
                    )
            for i in range(start, stop):
                step = t + 1 + i - start
                if channel is not None:
                    channel.begin(step)
                for a, learner in enumerate(learners):
                    if blocked[a]:
                        continue
                    boundary = True
                    try:
                        yhat = learner.predict_one(designs[a][i - start])
                        if channel is None:
                            learner.learn_one(designs[a][i - start], y[i])
                        else:
                            channel.send(a, step, designs[a][i - start], y[i], None)
                            boundary = channel.deliver(a, step, learner)
                    except (ValueError, TypeError) as exc:
                        raise type(exc)(f"step {step}, agent {names[a]!r}: {exc}") from exc
                    if boundary:
                        log.after_step(a, learner, schedulers[a], step)
                    expected[a] += (yhat - mean[i]) ** 2
                    excess[a] += (yhat - y[i]) ** 2 - (mean[i] - y[i]) ** 2
            t += stop - start
            start = stop
            if next_check < len(steps) and t == steps[next_check]:
                next_check += 1
                for a, learner in enumerate(learners):
                    records.append((a, t, expected[a].copy(), excess[a].copy()))
                    if track_coefficients and agents[a].features is None:
                        coef = _coefficients(learner)
                        if coef is not None:
                            coef_records.append((a, t, *coef))
        bar.update(n_steps)
    bar.close()
    return names, records, coef_records, log


def _regret_table(
    records: list[tuple[int, int, np.ndarray, np.ndarray]],
    names: list[str],
    label: str,
    batch: tuple[int, ...],
) -> pd.DataFrame:
    """One row per record and replicate, built column by column: no frame per checkpoint
    beside the concatenated table."""
    reps = replicate_ids(batch)
    n = len(reps)
    agents = np.array(names, dtype=object)[[a for a, *_ in records]]
    return pd.DataFrame(
        {
            "environment": label_column(label, n * len(records)),
            "agent": np.repeat(agents, n),
            "replicate": np.tile(reps, len(records)),
            "step": np.repeat(np.array([t for _, t, *_ in records], dtype=np.int64), n),
            "expected_regret": np.concatenate([np.atleast_1d(e) for *_, e, _ in records]),
            "excess_loss": np.concatenate([np.atleast_1d(x) for *_, x in records]),
        }
    )


def _coefficient_table(
    records: list[tuple[int, int, np.ndarray, np.ndarray | None]],
    names: list[str],
    label: str,
    env: Any,
    batch: tuple[int, ...],
) -> pd.DataFrame:
    reps = replicate_ids(batch)
    features = env.features
    truth = np.atleast_2d(env.true_weights)
    p = features.n_features
    frames = []
    for a, t, est, sd in records:
        est = np.atleast_2d(est)
        sd_values = np.full_like(est, np.nan) if sd is None else np.atleast_2d(sd)
        frames.append(
            pd.DataFrame(
                {
                    "environment": label_column(label, len(reps) * p),
                    "agent": names[a],
                    "replicate": np.repeat(reps, p),
                    "step": t,
                    "feature": np.tile(features.names, len(reps)),
                    "group": np.tile(features.groups, len(reps)),
                    "estimate": est.ravel(),
                    "sd": sd_values.ravel(),
                    "truth": truth.ravel(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
