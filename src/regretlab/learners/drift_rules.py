"""Window lengths, discounts and hazards set by a stated rule from the horizon and the number of
changes a user expects, so that a non-stationary learner is configured the same way on a new
problem (never tuned to a benchmark).

With ``T`` the horizon and ``C >= 1`` the expected number of changes (breakpoints) in it:

=====================  =======================================  ==============================
learner                rule                                     source
=====================  =======================================  ==============================
sliding window         ``W = ceil(2 sqrt(T log(T) / C))``       Garivier & Moulines (2011),
                                                                the window of SW-UCB
                                                                (rewards in [0, 1])
discounting            ``gamma = 1 - sqrt(C / T) / 4``          Garivier & Moulines (2011),
                                                                the discount of D-UCB
changepoint hazard     ``h = C / T``                            the prior of Adams & MacKay
                                                                (2007) whose expected number
                                                                of changes in ``T`` steps is
                                                                ``C``
=====================  =======================================  ==============================

The discount's effective memory ``1 / (1 - gamma)`` is ``4 sqrt(T / C)``. For nonsensical
inputs (as many changes as steps) the values are clipped: the window to ``[1, T]``, the discount
to at least ``1/2`` and the hazard to at most ``1/2``.

Garivier, A. and Moulines, E. (2011). On upper-confidence bound policies for switching bandit
problems. ALT 2011.
"""

from __future__ import annotations

import math

from regretlab._validation import check_int, check_real

__all__ = ["changepoint_hazard", "discount_factor", "sliding_window"]


def _check(horizon: int, n_changes: float) -> tuple[int, float]:
    t = check_int("horizon", horizon, minimum=1)
    c = check_real("n_changes", n_changes, minimum=0.0, exclusive_minimum=True)
    return t, c


def sliding_window(horizon: int, n_changes: float) -> int:
    """``ceil(2 sqrt(T log T / C))``, in ``[1, T]``.

    >>> sliding_window(3000, 3)
    179
    """
    t, c = _check(horizon, n_changes)
    return int(max(1, min(t, math.ceil(2.0 * math.sqrt(t * math.log(t) / c)))))


def discount_factor(horizon: int, n_changes: float) -> float:
    """``1 - sqrt(C / T) / 4`` (memory ``1 / (1 - gamma) = 4 sqrt(T / C)`` steps).

    >>> round(discount_factor(3000, 3), 5)
    0.99209
    """
    t, c = _check(horizon, n_changes)
    return max(0.5, 1.0 - math.sqrt(c / t) / 4.0)


def changepoint_hazard(horizon: int, n_changes: float) -> float:
    """``C / T`` (at most 1/2): the hazard whose expected number of changes in ``T`` steps is
    ``C``.

    >>> changepoint_hazard(3000, 3)
    0.001
    """
    t, c = _check(horizon, n_changes)
    return min(0.5, c / t)
