"""Contributor settings of the multilevel stream (seed 004): examples, alignment, checks.

``{level: {contributor: (mu, sigma)}}`` tables as the seed writes them, aligned so that each
level's means sum to zero; random settings drawn as the seed's ``gen_contributer_coefficients``;
and the validation of the settings :class:`~regretlab.environments.MultilevelStream` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from regretlab._validation import check_int, check_real

__all__ = ["EXAMPLES", "Coefficients", "align_coefficients", "random_coefficients"]

Coefficients = dict[Any, dict[int, tuple[float, float]]]

#: The seed's hand-written settings, ``{level: {contributor: (mu, sigma)}}``, before alignment.
EXAMPLES: dict[str, Coefficients] = {
    "cc_01": {0: {0: (0.0, 5.0)}, 1: {0: (1.0, 1.0), 1: (-1.0, 1.0)}},
    "cc_02": {0: {0: (0.0, 5.0)}, 1: {0: (0.0, 1.0), 1: (0.0, 1.0), 2: (0.0, 1.0), 3: (4.0, 2.0)}},
}


def align_coefficients(
    coefficients: Mapping[Any, Mapping[int, tuple[float, float]]],
) -> Coefficients:
    """The seed's ``align_coefficients``: subtract each level's average mean from its means.

    >>> align_coefficients(EXAMPLES["cc_02"])[1]
    {0: (-1.0, 1.0), 1: (-1.0, 1.0), 2: (-1.0, 1.0), 3: (3.0, 2.0)}
    """
    out: Coefficients = {}
    for level, table in coefficients.items():
        avg = float(np.mean([mu for mu, _ in table.values()]))
        out[level] = {k: (float(mu) - avg, float(sd)) for k, (mu, sd) in table.items()}
    return out


def random_coefficients(
    n_contributors: Sequence[int],
    contributor_avg: float,
    contributor_sig: float,
    rng: np.random.Generator,
) -> Coefficients:
    """The seed's ``gen_contributer_coefficients`` drawn with ``rng`` instead of ``np.random``.

    For every level, then every contributor: the mean from ``N(contributor_avg, 1)``, then the
    sd from ``lognormal(contributor_sig, 1)`` (the seed's draw order); then aligned.

    >>> c = random_coefficients([1, 3], 0.0, 0.0, np.random.default_rng(0))
    >>> [len(level) for level in c.values()], round(sum(mu for mu, _ in c[1].values()), 12)
    ([1, 3], 0.0)
    """
    raw = {
        level: {k: (rng.normal(contributor_avg), rng.lognormal(contributor_sig)) for k in range(m)}
        for level, m in enumerate(n_contributors)
    }
    return align_coefficients(raw)


def _centred(table: np.ndarray) -> np.ndarray:
    """Double centring: rows and columns sum to zero (a pure interaction)."""
    return table - table.mean(axis=0) - table.mean(axis=1, keepdims=True) + table.mean()


def _setting(
    contributors: Any, n_contributors: Any
) -> tuple[Coefficients | None, list[Any], list[int]]:
    """Validated, aligned coefficients of a named or given setting (``None`` for random ones),
    the level keys and the contributors per level."""
    if contributors is not None and n_contributors is not None:
        raise ValueError("give contributors or n_contributors, not both")
    if n_contributors is not None:
        if isinstance(n_contributors, str) or not isinstance(n_contributors, Sequence):
            raise TypeError(f"n_contributors must be a sequence of counts, got {n_contributors!r}")
        if not n_contributors:
            raise ValueError("n_contributors must name at least one level, got none")
        counts = [
            check_int(f"n_contributors[{i}]", m, minimum=1) for i, m in enumerate(n_contributors)
        ]
        return None, list(range(len(counts))), counts
    if contributors is None:
        contributors = "cc_02"
    if isinstance(contributors, str):
        if contributors not in EXAMPLES:
            raise ValueError(
                f"contributors must be one of {sorted(EXAMPLES)} or a mapping, got {contributors!r}"
            )
        contributors = EXAMPLES[contributors]
    if not isinstance(contributors, Mapping) or not contributors:
        raise TypeError(
            "contributors must be an example name or a non-empty mapping "
            f"{{level: {{contributor: (mu, sigma)}}}}, got {contributors!r}"
        )
    contributors = _numbered(contributors)
    keys = list(contributors)
    if keys != list(range(len(keys))) and not all(isinstance(k, str) for k in keys):
        raise ValueError(f"contributors levels must be numbered 0 .. L - 1 or named, got {keys}")
    clean: Coefficients = {}
    for level, table in contributors.items():
        label = f"contributors[{level!r}]"
        table = _numbered(table) if isinstance(table, Mapping) else table
        if not isinstance(table, Mapping) or not table or set(table) != set(range(len(table))):
            raise ValueError(
                f"{label} must map contributors 0 .. m - 1 to (mu, sigma), got {table!r}"
            )
        clean[level] = {}
        for k in range(len(table)):
            pair = table[k]
            if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValueError(f"{label}[{k}] must be a pair (mu, sigma), got {pair!r}")
            mu = check_real(f"{label}[{k}] mu", pair[0])
            sd = check_real(f"{label}[{k}] sigma", pair[1], minimum=0.0)
            clean[level][k] = (mu, sd)
    return align_coefficients(clean), keys, [len(t) for t in clean.values()]


def _numbered(table: Mapping[Any, Any]) -> Mapping[Any, Any]:
    """Keys ``"0" .. "n-1"`` (as configuration files write them) as the integers they number."""
    keys = list(table)
    digits = bool(keys) and all(isinstance(k, str) and k.isdigit() for k in keys)
    if digits and sorted(int(k) for k in keys) == list(range(len(keys))):
        return {int(k): table[k] for k in sorted(keys, key=int)}
    return table


def _parse_cross_levels(
    cross_levels: Any, keys: list[Any], counts: list[int]
) -> tuple[list[tuple[int, int]], list[float]]:
    if cross_levels is None:
        return [], []
    if isinstance(cross_levels, str) or not isinstance(cross_levels, Sequence):
        raise TypeError(
            f"cross_levels must be a sequence of (level_a, level_b, scale), got {cross_levels!r}"
        )
    pairs, scales = [], []
    for entry in cross_levels:
        if isinstance(entry, str) or not isinstance(entry, Sequence) or len(entry) != 3:
            raise ValueError(
                f"cross_levels entries must be (level_a, level_b, scale), got {entry!r}"
            )
        a, b, scale = entry
        for level in (a, b):
            if level not in keys or isinstance(level, bool):
                raise ValueError(f"cross_levels names unknown level {level!r}; levels are {keys}")
        ia, ib = keys.index(a), keys.index(b)
        if ia == ib or (ia, ib) in pairs or (ib, ia) in pairs:
            raise ValueError(f"cross_levels pair ({a!r}, {b!r}) is repeated or not two levels")
        if min(counts[ia], counts[ib]) < 2:
            raise ValueError(
                f"cross_levels pair ({a!r}, {b!r}): a level with one contributor has no "
                "interaction (its double-centred effect is zero)"
            )
        scales.append(check_real(f"cross_levels scale of ({a!r}, {b!r})", scale, minimum=0.0))
        pairs.append((ia, ib))
    return pairs, scales
