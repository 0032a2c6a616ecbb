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
                              xlabel="action", ylabel="state", cbar_label="reward (minutes)")
    ax = plotting.plot_heatmap(np.ones((2, 3)), row_labels=["a", "b"], col_labels=["x", "y", "z"],
                               xlabel="action", ylabel="state", cbar_label="reward (minutes)")
    assert ax.get_xlabel() == "action"
    matplotlib.pyplot.close("all")


@pytest.mark.parametrize("xlabel, ylabel", [(" ", "y"), ("x", "\t\n"), ("", "y"), (None, "y"), ("x", 3)])
def test_blank_axis_labels_are_rejected(xlabel, ylabel):
    with pytest.raises(ValueError, match="xlabel and ylabel are required non-blank"):
        plotting.plot_learning_curves({"a": np.ones(3)}, xlabel=xlabel, ylabel=ylabel)
    with pytest.raises(ValueError, match="xlabel and ylabel are required non-blank"):
        plotting.plot_bars_with_ci(["p"], [1], [0], [2], xlabel=xlabel, ylabel=ylabel)
    with pytest.raises(ValueError, match="xlabel and ylabel are required non-blank"):
        plotting.plot_heatmap(np.ones((1, 1)), row_labels=["a"], col_labels=["x"], xlabel=xlabel,
                              ylabel=ylabel, cbar_label="reward (minutes)")
    matplotlib.pyplot.close("all")


def test_session_story_rejects_blank_reward_unit():
    import pandas as pd

    story = pd.DataFrame({"step": [0], "choice": ["1"], "return": [1.0]})
    with pytest.raises(ValueError, match="non-blank"):
        plotting.plot_session_story(story, reward_unit="   ")


def test_heatmap_colour_bar_needs_a_label():
    kw = dict(row_labels=["a", "b"], col_labels=["x", "y"], xlabel="action", ylabel="state")
    for bad in (None, "", "  "):
        with pytest.raises(ValueError, match="cbar_label is required"):
            plotting.plot_heatmap(np.eye(2), cbar_label=bad, **kw)
    ax = plotting.plot_heatmap(np.eye(2), cbar_label="probability", **kw)
    assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_ylabel() == "probability"
    ax = plotting.plot_heatmap(np.eye(2), cbar=False, **kw)    # no colour bar: no label needed
    assert len(ax.figure.axes) == 1
    matplotlib.pyplot.close("all")


def test_ascent_history_heatmap_colour_bar_is_labelled():
    from rlrec_helpers import policy_gradient as pg

    _, ax_pi = plotting.plot_ascent_history(pg.worked_example_run(1.0, "bias", "diagonal", n_iters=5))
    cbar_axes = [a for a in ax_pi.figure.axes if a.get_ylabel() == "probability"]
    assert len(cbar_axes) == 1
    matplotlib.pyplot.close("all")


class _Eval:
    def __init__(self, returns, lengths):
        self.returns, self.session_lengths = np.asarray(returns, float), np.asarray(lengths, float)


def test_policy_comparison_reward_unit():
    res = {"p": _Eval([1.0, 2.0, 3.0], [4, 5, 6]), "q": _Eval([2.0, 3.0, 4.0], [5, 6, 7])}
    axes = plotting.plot_policy_comparison(res)                       # default keeps the old text
    assert axes[0].get_ylabel() == "session return (minutes watched)"
    assert axes[1].get_ylabel() == "session length (steps)"
    axes = plotting.plot_policy_comparison(res, reward_unit="price units")
    assert axes[0].get_ylabel() == "session return (price units)"
    assert axes[1].get_ylabel() == "session length (steps)"
    for bad in ("", " ", None):
        with pytest.raises(ValueError, match="reward_unit"):
            plotting.plot_policy_comparison(res, reward_unit=bad)
    matplotlib.pyplot.close("all")


def test_bars_with_ci():
    ax = plotting.plot_bars_with_ci(["p", "q"], [1, 2], [0.5, 1.5], [1.5, 2.5],
                                    xlabel="policy", ylabel="return (min)")
    assert len(ax.patches) == 2
    ax = plotting.plot_bars_with_ci(["p", "q"], [10, 12], [9, 11], [11, 13], xlabel="return (min)",
                                    ylabel="policy", horizontal=True, references={"bar": 11.5},
                                    value_range=(8, 14))
    assert ax.get_xlim() == (8, 14) and [ln.get_xdata()[0] for ln in ax.lines if ln.get_label() == "bar"] == [11.5]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["bar"]
    with pytest.raises(ValueError, match="value_range"):
        plotting.plot_bars_with_ci(["p"], [1], [0], [2], xlabel="x", ylabel="y", value_range=(2, 1))


def test_session_story_and_step_attribution_plots():
    import pandas as pd

    story = pd.DataFrame({"step": [0, 1, 2], "shown": ["1 2 3"] * 3, "choice": ["1", "-", "2"],
                          "reward": [1.0, 0.0, 2.0], "return": [1.0, 1.0, 3.0], "trust": [1.0, 1.0, 0.5]})
    ax_a, ax_b = plotting.plot_session_story(story, reward_unit="price units")
    assert ax_a.get_ylabel() == "cumulative reward (price units)" and len(ax_b.lines) == 1
    np.testing.assert_allclose(ax_b.lines[0].get_ydata(), [1.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="story"):
        plotting.plot_session_story(story.drop(columns="return"), reward_unit="x")
    expl = pd.DataFrame({"candidate": [4], "topic": [2], "step_0": [0.0], "step_1": [0.5], "step_2": [-0.25]})
    (ax,) = plotting.plot_step_attributions({"user 1": expl})
    assert [p.get_height() for p in ax.patches] == [0.0, 0.5, -0.25]
    with pytest.raises(ValueError, match="step_"):
        plotting.plot_step_attributions({"u": expl[["candidate", "topic"]]})


def test_category_shares_plot_checks_its_input():
    ax = plotting.plot_category_shares({"a": np.array([0.5, 0.25, 0.25]), "b": np.array([0.0, 0.0, 1.0])},
                                       xlabel="topic cluster", title="mix")
    assert len(ax.get_lines()) == 2 and ax.get_xlabel() == "topic cluster"
    assert ax.get_ylabel() == "share of shown documents"
    with pytest.raises(ValueError, match="sum to 1"):
        plotting.plot_category_shares({"a": np.array([0.5, 0.6])}, xlabel="c")
    with pytest.raises(ValueError, match="same length"):
        plotting.plot_category_shares({"a": np.array([1.0]), "b": np.array([0.5, 0.5])}, xlabel="c")
    with pytest.raises(ValueError, match="label"):
        plotting.plot_category_shares({"a": np.array([1.0])}, xlabel="")
    matplotlib.pyplot.close("all")
