"""Candidate grids of model averaging: values, prior weights, fitted groups, moments."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from regretlab._validation import check_real
from regretlab.learners import NormalInverseGammaRegression
from regretlab.learners.stats import SufficientStats
from regretlab.policies.escalation.evidence import EmpiricalBayes, _grid

__all__ = [
    "_candidate_values",
    "_fitter",
    "_fractional_evidence",
    "_log_prior",
    "_moments",
    "_pick",
]


def _candidate_values(
    group: str,
    grid: Sequence[float],
    other_grids: Mapping[Any, Sequence[Any]] | None,
    groups: list[str],
) -> dict[str, np.ndarray]:
    """Every averaged group's variance per candidate, ``(C,)`` each: the product of the grids.

    A key of ``other_grids`` is a group name, or several that share one variance: a tuple of
    names or the names joined by ``+`` (``"intercept+main"``, the form experiment files can write).
    For several names the grid's entries may also be tuples, one variance per name
    (``{("intercept", "main"): [(1, 1), (inf, 1)]}``: the intercept shrunk with the main effects,
    or flat). Other groups' variances may be ``inf`` (a flat prior).
    """
    grids: dict[tuple[str, ...], np.ndarray] = {(group,): _grid("grid", grid)[:, None]}
    if other_grids is not None and not isinstance(other_grids, Mapping):
        raise TypeError(f"other_grids must map group names to variance grids, got {other_grids!r}")
    taken = {group}
    for key, values in (other_grids or {}).items():
        if isinstance(key, str):
            names = (key,) if key in groups else tuple(key.split("+"))
        else:
            names = tuple(key)
        for name in names:
            if name in taken or name not in groups:
                allowed = [g for g in groups if g not in taken]
                raise ValueError(
                    f"other_grids keys must name groups among {allowed} (each once), got {key!r}"
                )
            taken.add(name)
        grids[names] = _joint_grid(f"other_grids[{key!r}]", values, len(names))
    rows = [np.concatenate(combo) for combo in itertools.product(*grids.values())]
    product = np.array(rows, dtype=float)
    columns = [name for key in grids for name in key]
    return {name: product[:, k].copy() for k, name in enumerate(columns)}


def _joint_grid(name: str, values: Sequence[Any], width: int) -> np.ndarray:
    """``(n, width)`` variances: a plain grid repeated across the names, or tuples of ``width``."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        array = np.empty((0, 0))
    if array.ndim == 1:
        array = np.repeat(array[:, None], width, axis=1)
    if (
        array.ndim != 2
        or array.shape[0] == 0
        or array.shape[1] != width
        or np.isnan(array).any()
        or (array < 0).any()
    ):
        raise ValueError(
            f"{name} must be a non-empty sequence of variances >= 0 (inf: flat), or of tuples "
            f"of {width} such variances (one per group), got {values!r}"
        )
    return array


def _log_prior(grid: np.ndarray, off_weight: float | None) -> np.ndarray:
    """Log prior weight of every candidate: uniform, or ``off_weight`` on the group's 0."""
    if off_weight is None:
        return np.full(len(grid), -np.log(len(grid)))
    check_real("off_weight", off_weight, minimum=0.0, exclusive_minimum=True, maximum=1.0)
    off = grid == 0.0
    if not off.any() or off.all():
        raise ValueError("off_weight needs a grid with 0 and at least one positive variance")
    # Each distinct value of the group gets its share; other groups' grids split it evenly.
    values, counts = np.unique(grid, return_counts=True)
    n_on = (values > 0).sum()
    share = np.where(off, off_weight, (1.0 - off_weight) / n_on)
    per_value = dict(zip(values.tolist(), counts.tolist(), strict=True))
    weight = share / np.array([per_value[v] for v in grid.tolist()])
    with np.errstate(divide="ignore"):
        return np.log(weight)


def _fitter(fit: Sequence[str], values: Mapping[str, np.ndarray], groups: list[str]) -> Any:
    """An :class:`EmpiricalBayes` over ``fit``, which must be groups nothing else averages."""
    if isinstance(fit, str):
        raise TypeError(f"fit must be a sequence of group names, got {fit!r}")
    for name in fit:
        if name not in groups or name in values:
            allowed = [g for g in groups if g not in values]
            raise ValueError(f"fit must name groups among {allowed}, got {name!r}")
    return EmpiricalBayes(groups=tuple(fit), include_zero=False, every=1) if fit else None


def _moments(
    log_weight: np.ndarray, loc: np.ndarray, sd: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of the mixture of candidates ``(G, R, ...)`` with log weights ``(G, R)``.

    A candidate of weight 0 adds nothing, even where its sd is infinite (a learned noise
    variance before the data can bound it).
    """
    w = np.exp(log_weight - log_weight.max(axis=0))
    w = (w / w.sum(axis=0)).reshape(w.shape + (1,) * (loc.ndim - 2))
    mean = (w * loc).sum(axis=0)
    second = (w * np.where(w > 0.0, sd**2 + loc**2, 0.0)).sum(axis=0)
    return mean, np.sqrt(np.maximum(second - mean**2, 0.0))


def _pick(weights: np.ndarray, draw: str, rng: np.random.Generator) -> np.ndarray:
    """The candidate a Thompson draw comes from, per replicate, from weights ``(G, R)``:
    drawn by weight (``"mixture"``) or the one of highest weight (``"leader"``)."""
    if draw == "leader":
        return np.argmax(weights, axis=0)
    pick = (rng.random(weights.shape[1]) > np.cumsum(weights, axis=0)).sum(axis=0)
    return np.minimum(pick, weights.shape[0] - 1)


def _fractional_evidence(
    inner: Any, n_candidates: int, pivot: np.ndarray, fraction: float
) -> np.ndarray:
    """``log int prior_j x likelihood^b`` of every candidate ``(G, R)``, ``b = fraction``.

    The candidates are the replicate blocks of ``inner`` (candidate-major) and share their
    statistics, so a normal-inverse-gamma learner scores them all from one eigendecomposition
    of the ``pivot`` columns' block per replicate (:mod:`regretlab.learners._pivot_evidence`)
    instead of one factorisation per candidate; other learners score their own statistics.
    """
    # Reading the statistics folds the row just learned into them, which drops a cached
    # posterior that has not applied it yet: the next prediction would re-solve every candidate
    # from the statistics (O(p^3) each). Applying the row first, O(p^2), keeps it.
    sync = getattr(inner, "_sync", None)
    if sync is not None:
        sync()
    if not isinstance(inner, NormalInverseGammaRegression):
        part = inner.log_evidence(fraction=fraction)
        return np.asarray(part).reshape(n_candidates, -1)
    data = inner.stats
    r = len(data.n) // n_candidates
    shared = SufficientStats(*(fraction * a[:r] for a in data))
    prior = np.empty(data.xty.shape)
    for group, columns in inner.columns.items():
        prior[:, columns] = inner.get_prior_variance(group)[:, None]
    return inner._log_evidence(prior.reshape(n_candidates, r, -1), shared, pivot)
