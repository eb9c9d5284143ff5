"""Figures people look at: convergence, cumulative regret, paired differences, coefficients.

The ``plot_*`` functions draw on given axes; the ``*_figure`` functions of
:mod:`regretlab.plots.report` draw a sweep report's figures, one environment each.

Every plotting function takes ``ax=None`` and returns the ``Axes``; none calls ``plt.show()``.
pyplot is imported only to make a new figure when no ``ax`` is given, so code that passes its
own axes (as the seed study does, on a bare ``matplotlib.figure.Figure``) never touches a GUI
backend. :func:`save_figure` writes atomically.
"""

from __future__ import annotations

from regretlab.plots._common import save_figure
from regretlab.plots.choices import choices_figure
from regretlab.plots.convergence import plot_convergence
from regretlab.plots.escalation import plot_escalation_steps, plot_escalation_timeline
from regretlab.plots.offpolicy import offpolicy_figure, plot_offpolicy
from regretlab.plots.regret import plot_coefficients, plot_paired_difference, plot_regret
from regretlab.plots.report import (
    coefficients_figure,
    convergence_figure,
    escalation_figure,
    paired_figure,
    posterior_figure,
    regret_figure,
)

__all__ = [
    "choices_figure",
    "coefficients_figure",
    "convergence_figure",
    "escalation_figure",
    "offpolicy_figure",
    "paired_figure",
    "plot_coefficients",
    "plot_convergence",
    "plot_escalation_steps",
    "plot_escalation_timeline",
    "plot_offpolicy",
    "plot_paired_difference",
    "plot_regret",
    "posterior_figure",
    "regret_figure",
    "save_figure",
]
