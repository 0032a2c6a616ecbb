import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from rlrec_helpers import plotting


def test_learning_curves_label_axes_and_draw_bands():
    plotting.set_theme()
    ax = plotting.plot_learning_curves(
        {"a": np.random.default_rng(0).random((4, 20)), "b": np.arange(20.0)},
        xlabel="step t", ylabel="regret (clicks)", references={"ref": 1.0},
    )
    assert ax.get_xlabel() == "step t" and ax.get_ylabel() == "regret (clicks)"
    assert len(ax.lines) == 3  # two means + one reference
    assert len(ax.collections) == 1  # only the multi-seed curve has a band


def test_plots_require_axis_labels():
    with pytest.raises(ValueError, match="xlabel"):
        plotting.plot_learning_curves({"a": np.ones(3)}, xlabel="", ylabel="y")


def test_heatmap_checks_label_shape():
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_heatmap(np.ones((2, 3)), row_labels=["a"], col_labels=["x", "y", "z"],
                              xlabel="action", ylabel="state")
    ax = plotting.plot_heatmap(np.ones((2, 3)), row_labels=["a", "b"], col_labels=["x", "y", "z"],
                               xlabel="action", ylabel="state")
    assert ax.get_xlabel() == "action"


def test_bars_with_ci():
    ax = plotting.plot_bars_with_ci(["p", "q"], [1, 2], [0.5, 1.5], [1.5, 2.5],
                                    xlabel="policy", ylabel="return (min)")
    assert len(ax.patches) == 2
