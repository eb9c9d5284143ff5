"""Figures people look at: convergence, cumulative regret, paired differences, coefficients.

Every plotting function takes ``ax=None`` and returns the ``Axes``; none calls ``plt.show()``.
pyplot is imported only to make a new figure when no ``ax`` is given, so code that passes its
own axes (as the seed study does, on a bare ``matplotlib.figure.Figure``) never touches a GUI
backend. :func:`save_figure` writes atomically.
"""

from __future__ import annotations

from regretlab.plots._common import save_figure
from regretlab.plots.convergence import plot_convergence
from regretlab.plots.escalation import plot_escalation_steps, plot_escalation_timeline
from regretlab.plots.regret import plot_coefficients, plot_paired_difference, plot_regret

__all__ = [
    "plot_coefficients",
    "plot_convergence",
    "plot_escalation_steps",
    "plot_escalation_timeline",
    "plot_paired_difference",
    "plot_regret",
    "save_figure",
]
