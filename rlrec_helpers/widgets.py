"""Thin ``ipywidgets.interact`` wrappers around pure, tested helper functions.

Rule: a widget function here only wires controls to a function that lives (and is
unit-tested) elsewhere in ``rlrec_helpers``. Each ``*_widget`` returns the
``interactive`` object so tests and notebooks can inspect it; the notebook cell that
shows it is tagged ``nbval-ignore-output`` and the next cell calls the wrapped
function directly so that its output is compared by nbval.

Sections are grouped by notebook.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt


def _interactive(fn, **controls):
    """``ipywidgets.interactive`` with continuous_update off for sliders (cheap redraws)."""
    for control in controls.values():
        if hasattr(control, "continuous_update"):
            control.continuous_update = False
    w = widgets.interactive(fn, **controls)
    return w


def _show_figure() -> None:
    plt.show()
