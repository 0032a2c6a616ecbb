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
    with pytest.raises(ValueError, match=r"^shares\['a'\] must sum to 1 \(within 1e-06\), got a sum of 1\.1$"):
        plotting.plot_category_shares({"a": np.array([0.5, 0.6])}, xlabel="c")
    with pytest.raises(ValueError,
                       match=r"^shares\['b'\] entries must be finite numbers >= 0, got shares\['b'\]\[1\] = -0\.5$"):
        plotting.plot_category_shares({"a": [0.5, 0.5], "b": [1.5, -0.5]}, xlabel="c")
    with pytest.raises(ValueError, match="same length"):
        plotting.plot_category_shares({"a": np.array([1.0]), "b": np.array([0.5, 0.5])}, xlabel="c")
    with pytest.raises(ValueError, match="label"):
        plotting.plot_category_shares({"a": np.array([1.0])}, xlabel="")
    matplotlib.pyplot.close("all")


# ------------------------------------------------ review fix: every plot_* validates its data
# Bad input raises ValueError naming the argument (and the expected shape or range) before any
# figure is drawn; valid input draws as before.

_NAN = float("nan")
_HIST_J = {"J": np.linspace(0.2, 0.9, 4), "policy": np.full((4, 3, 3), 1 / 3)}
_FT = {"return": np.array([160.0, 170.0, 180.0]), "kl": np.array([0.0, 0.05, 0.1])}


def _story(**override):
    import pandas as pd

    cols = {"step": [0, 1, 2], "shown": ["1 2 3"] * 3, "choice": ["1", "-", "2"], "reward": [1.0, 0.0, 2.0],
            "return": [1.0, 1.0, 3.0], "trust": [1.0, 1.0, 0.5]}
    cols.update(override)
    return pd.DataFrame(cols)


def _expl(**override):
    import pandas as pd

    cols = {"candidate": [4], "topic": [2], "step_0": [0.0], "step_1": [0.5], "step_2": [-0.25]}
    cols.update(override)
    return pd.DataFrame(cols)


class _CI:
    def __init__(self, mean, low, high):
        self.mean, self.low, self.high = mean, low, high


_LC = dict(xlabel="step t", ylabel="return (min)")
_BAR = dict(xlabel="policy", ylabel="return (min)")
_PD = dict(xlabel="item", ylabel="probability")
_BAD_INPUTS = {
    # plot_learning_curves
    "lc empty curves": (lambda: plotting.plot_learning_curves({}, **_LC), r"^curves must map"),
    "lc NaN curve": (lambda: plotting.plot_learning_curves({"a": [1.0, _NAN, 2.0]}, **_LC),
                     r"curves\['a'\] entries must be finite numbers"),
    "lc inf curve": (lambda: plotting.plot_learning_curves({"a": np.array([[1.0, np.inf], [1.0, 2.0]])}, **_LC),
                     r"curves\['a'\] entries must be finite numbers"),
    "lc 3-D curve": (lambda: plotting.plot_learning_curves({"a": np.ones((2, 2, 2))}, **_LC),
                     r"curves\['a'\] must have shape \(T,\) or \(n_runs, T\)"),
    "lc empty curve": (lambda: plotting.plot_learning_curves({"a": np.ones((2, 0))}, **_LC), r"curves\['a'\]"),
    "lc NaN x": (lambda: plotting.plot_learning_curves({"a": [1.0, 2.0]}, x=[1.0, _NAN], **_LC),
                 r"^x entries must be finite numbers"),
    "lc x length": (lambda: plotting.plot_learning_curves({"a": [1.0, 2.0, 3.0]}, x=[1, 2], **_LC),
                    r"curves\['a'\] has 3 points; x must have shape \(T,\)"),
    "lc NaN reference": (lambda: plotting.plot_learning_curves({"a": [1.0, 2.0]}, references={"r": _NAN}, **_LC),
                         r"references\['r'\] entries must be finite numbers"),
    "lc level": (lambda: plotting.plot_learning_curves({"a": [1.0, 2.0]}, level=1.5, **_LC),
                 r"level must be a finite number in \(0, 1\), got 1.5"),
    # plot_heatmap
    "heatmap NaN": (lambda: plotting.plot_heatmap(np.array([[1.0, _NAN]]), row_labels=["s"], col_labels=["a", "b"],
                                                  xlabel="action", ylabel="state", cbar_label="reward"),
                    r"matrix entries must be finite numbers"),
    # plot_bars_with_ci (the first two are the review's toy inputs)
    "bars broadcast means": (lambda: plotting.plot_bars_with_ci(["a", "b"], [1.0], [0.5], [1.5], **_BAR),
                             r"means must have shape \(2,\)"),
    "bars NaN mean": (lambda: plotting.plot_bars_with_ci(["a"], [_NAN], [0.5], [2.0], **_BAR),
                      r"means entries must be finite numbers"),
    "bars short lows": (lambda: plotting.plot_bars_with_ci(["a", "b"], [1.0, 2.0], [0.5], [1.5, 2.5], **_BAR),
                        r"lows must have shape \(2,\)"),
    "bars long highs": (lambda: plotting.plot_bars_with_ci(["a"], [1.0], [0.5], [1.5, 2.5], **_BAR),
                        r"highs must have shape \(1,\)"),
    "bars inf high": (lambda: plotting.plot_bars_with_ci(["a"], [1.0], [0.5], [np.inf], **_BAR),
                      r"highs entries must be finite numbers"),
    "bars low above mean": (lambda: plotting.plot_bars_with_ci(["a"], [1.0], [1.5], [2.0], **_BAR),
                            r"lows must satisfy lows <= means <= highs"),
    "bars high below mean": (lambda: plotting.plot_bars_with_ci(["a", "b"], [1.0, 2.0], [0.5, 1.0], [1.5, 1.9], **_BAR),
                             r"highs must satisfy lows <= means <= highs.*'b'"),
    "bars no names": (lambda: plotting.plot_bars_with_ci([], [], [], [], **_BAR), r"^names must name at least one"),
    "bars duplicate names": (lambda: plotting.plot_bars_with_ci(["a", "a"], [1, 2], [0, 1], [2, 3], **_BAR),
                             r"^names must be distinct"),
    "bars NaN reference": (lambda: plotting.plot_bars_with_ci(["a"], [1.0], [0.5], [1.5], references={"r": _NAN},
                                                              **_BAR),
                           r"references\['r'\] entries must be finite numbers"),
    "bars inf value_range": (lambda: plotting.plot_bars_with_ci(["a"], [1.0], [0.5], [1.5], value_range=(0, np.inf),
                                                                **_BAR), r"value_range entries must be finite numbers"),
    # plot_policy_distributions
    "poldist empty": (lambda: plotting.plot_policy_distributions({}, **_PD), r"^policies must map"),
    "poldist NaN": (lambda: plotting.plot_policy_distributions({"a": [0.5, _NAN]}, **_PD),
                    r"policies\['a'\] entries must be finite numbers"),
    "poldist not probabilities": (lambda: plotting.plot_policy_distributions({"a": [1.5, -0.5]}, **_PD),
                                  r"policies\['a'\] must hold probabilities in \[0, 1\]"),
    "poldist item_labels": (lambda: plotting.plot_policy_distributions({"a": [0.5, 0.5]}, item_labels=["x", "y", "z"],
                                                                       **_PD),
                            r"item_labels must have one label per item \(2\)"),
    # plot_estimates_vs_truth
    "estimates cis length": (lambda: plotting.plot_estimates_vs_truth(["IPS", "DM"], [_CI(1.0, 0.5, 1.5)], 1.0, **_BAR),
                             r"cis must have one interval per name \(2\)"),
    "estimates NaN ci": (lambda: plotting.plot_estimates_vs_truth(["IPS"], [_CI(_NAN, 0.5, 1.5)], 1.0, **_BAR),
                         r"cis\[0\] \(mean, low, high\) entries must be finite numbers"),
    "estimates not a ci": (lambda: plotting.plot_estimates_vs_truth(["IPS"], [1.0], 1.0, **_BAR),
                           r"cis\[0\] must have mean, low and high"),
    "estimates NaN truth": (lambda: plotting.plot_estimates_vs_truth(["IPS"], [_CI(1.0, 0.5, 1.5)], _NAN, **_BAR),
                            r"truth entries must be finite numbers"),
    # plot_ascent_history
    "ascent missing key": (lambda: plotting.plot_ascent_history({"J": _HIST_J["J"]}),
                           r"history is missing .*'policy'"),
    "ascent NaN J": (lambda: plotting.plot_ascent_history({**_HIST_J, "J": np.array([0.2, _NAN, 0.5, 0.6])}),
                     r"history\['J'\] entries must be finite numbers"),
    "ascent J off axis": (lambda: plotting.plot_ascent_history({**_HIST_J, "J": np.array([0.2, 0.5, 1.2, 1.5])}),
                          r"history\['J'\] must lie in \[0, 1\]"),
    "ascent policy length": (lambda: plotting.plot_ascent_history({**_HIST_J, "policy": np.full((3, 3, 3), 1 / 3)}),
                             r"history\['policy'\] must have shape \(4, n_states, n_actions\)"),
    "ascent NaN policy": (lambda: plotting.plot_ascent_history({**_HIST_J, "policy": np.full((4, 3, 3), _NAN)}),
                          r"history\['policy'\] entries must be finite numbers"),
    "ascent state_labels": (lambda: plotting.plot_ascent_history(_HIST_J, state_labels=["a", "b"]),
                            r"state_labels must have 3 labels"),
    # plot_distributions (the first is the review's toy input)
    "dist NaN sample": (lambda: plotting.plot_distributions({"a": [1.0, _NAN, 2.0]}, xlabel="x"),
                        r"samples\['a'\] entries must be finite numbers"),
    "dist bins": (lambda: plotting.plot_distributions({"a": [1.0, 2.0]}, xlabel="x", bins=2.5),
                  r"bins must be an integer >= 1"),
    # plot_category_shares
    "shares empty array": (lambda: plotting.plot_category_shares({"a": []}, xlabel="c"), r"shares\['a'\] must"),
    "shares NaN": (lambda: plotting.plot_category_shares({"a": [_NAN, 1.0]}, xlabel="c"),
                   r"shares\['a'\] entries must be finite numbers"),
    # plot_preference_tracking (the first is the review's toy input)
    "pref cluster too big": (lambda: plotting.plot_preference_tracking(np.zeros((5, 3)), np.zeros((5, 3)), [7]),
                             r"clusters\[0\] must be an integer in \[0, T - 1=2\], got 7"),
    "pref negative cluster": (lambda: plotting.plot_preference_tracking(np.zeros((5, 3)), np.zeros((5, 3)), [-1]),
                              r"clusters\[0\] must be an integer in \[0, T - 1=2\], got -1"),
    "pref float cluster": (lambda: plotting.plot_preference_tracking(np.zeros((5, 3)), np.zeros((5, 3)), [1.5]),
                           r"clusters\[0\] must be an integer"),
    "pref no clusters": (lambda: plotting.plot_preference_tracking(np.zeros((5, 3)), np.zeros((5, 3)), []),
                         r"clusters must name at least one"),
    "pref duplicate clusters": (lambda: plotting.plot_preference_tracking(np.zeros((5, 3)), np.zeros((5, 3)), [1, 1]),
                                r"clusters must be distinct"),
    "pref NaN implied": (lambda: plotting.plot_preference_tracking(np.full((5, 3), _NAN), np.zeros((5, 3)), [0]),
                         r"implied entries must be finite numbers"),
    "pref NaN interests": (lambda: plotting.plot_preference_tracking(np.zeros((5, 3)), np.full((5, 3), _NAN), [0]),
                           r"interests entries must be finite numbers"),
    "pref empty session": (lambda: plotting.plot_preference_tracking(np.zeros((0, 3)), np.zeros((0, 3)), [0]),
                           r"implied must have shape \(L, T\)"),
    # plot_regret_curves (the first is the review's toy input)
    "regret empty": (lambda: plotting.plot_regret_curves({}), r"^curves must map"),
    "regret NaN between drawn steps": (lambda: plotting.plot_regret_curves(
        {"a": np.where(np.arange(50) == 1, _NAN, np.arange(50.0))}, n_points=2), r"curves\['a'\] entries must be finite numbers"),
    "regret unequal T": (lambda: plotting.plot_regret_curves({"a": np.ones((2, 50)), "b": np.ones((2, 40))}),
                         r"curves\['b'\] must have shape \(50,\) or \(n_runs, 50\)"),
    "regret NaN reference": (lambda: plotting.plot_regret_curves({"a": np.ones(5)},
                                                                 reference_curves={"r": np.full(5, _NAN)}),
                             r"reference_curves\['r'\] entries must be finite numbers"),
    "regret n_points": (lambda: plotting.plot_regret_curves({"a": np.ones(5)}, n_points=0),
                        r"n_points must be an integer >= 1"),
    # plot_policy_comparison
    "comparison NaN returns": (lambda: plotting.plot_policy_comparison({"p": _Eval([1.0, _NAN], [3, 4])}),
                               r"results\['p'\]\.returns entries must be finite numbers"),
    "comparison lengths": (lambda: plotting.plot_policy_comparison({"p": _Eval([1.0, 2.0], [3, 4, 5])}),
                           r"results\['p'\]\.session_lengths must have shape \(2,\)"),
    "comparison not a result": (lambda: plotting.plot_policy_comparison({"p": [1.0, 2.0]}),
                                r"results\['p'\] must have returns and session_lengths"),
    # plot_finetune_run (the first is the review's toy input)
    "finetune missing kl": (lambda: plotting.plot_finetune_run({"return": _FT["return"]}, pretrained_return=165.0),
                            r"history is missing the required key\(s\) \['kl'\]"),
    "finetune kl length": (lambda: plotting.plot_finetune_run({**_FT, "kl": np.zeros(2)}, pretrained_return=165.0),
                           r"history\['kl'\] must have shape \(3,\)"),
    "finetune NaN return": (lambda: plotting.plot_finetune_run({**_FT, "return": np.array([1.0, _NAN, 2.0])},
                                                               pretrained_return=165.0),
                            r"history\['return'\] entries must be finite numbers"),
    "finetune NaN pretrained": (lambda: plotting.plot_finetune_run(_FT, pretrained_return=_NAN),
                                r"pretrained_return entries must be finite numbers"),
    "finetune inf budget": (lambda: plotting.plot_finetune_run(_FT, pretrained_return=165.0, kl_budget=np.inf),
                            r"kl_budget entries must be finite numbers"),
    # plot_session_story
    "story NaN hidden": (lambda: plotting.plot_session_story(_story(trust=[1.0, _NAN, 0.5]), reward_unit="min"),
                         r"story\['trust'\] entries must be finite numbers"),
    "story NaN return": (lambda: plotting.plot_session_story(_story(**{"return": [1.0, np.inf, 3.0]}),
                                                             reward_unit="min"),
                         r"story\['return'\] entries must be finite numbers"),
    # plot_step_attributions
    "attributions NaN": (lambda: plotting.plot_step_attributions({"u": _expl(step_1=[_NAN])}),
                         r"explanations\['u'\] row 0 entries must be finite numbers"),
    "attributions missing topic": (lambda: plotting.plot_step_attributions({"u": _expl().drop(columns="topic")}),
                                   r"explanations\['u'\] is missing the required column\(s\) \['topic'\]"),
    "attributions no row 0": (lambda: plotting.plot_step_attributions({"u": _expl().set_axis([5])}),
                              r"explanations\['u'\] must have a row 0"),
}


@pytest.mark.parametrize("case", list(_BAD_INPUTS))
def test_bad_plot_input_raises_a_value_error_naming_the_argument(case):
    call, match = _BAD_INPUTS[case]
    matplotlib.pyplot.close("all")
    with pytest.raises(ValueError, match=match):
        call()
    assert matplotlib.pyplot.get_fignums() == []   # rejected before any figure is drawn


def test_valid_edge_inputs_still_draw():
    # a CI equal to its mean up to rounding (1e-9 relative slack) is accepted and drawn with no bar
    ax = plotting.plot_bars_with_ci(["a", "b"], [1.0, 2.0], [1.0 + 1e-12, 1.5], [1.0, 2.0 - 1e-12], **_BAR)
    assert [p.get_height() for p in ax.patches] == [1.0, 2.0]
    # pandas Series with a non-default index (notebooks 08 and 09)
    import pandas as pd

    idx = [3, 7]
    ax = plotting.plot_bars_with_ci(pd.Series(["p", "q"], index=idx), pd.Series([1.0, 2.0], index=idx),
                                    pd.Series([0.5, 1.5], index=idx), pd.Series([1.5, 2.5], index=idx), **_BAR)
    assert [p.get_height() for p in ax.patches] == [1.0, 2.0]
    # numpy integer clusters (notebook 06 passes np.argsort output); curves of different T without x
    a, _ = plotting.plot_preference_tracking(np.zeros((5, 3)), np.zeros((5, 3)), list(np.array([2, 0])))
    assert [ln.get_label() for ln in a.lines] == ["cluster 2", "cluster 0"]
    ax = plotting.plot_learning_curves({"a": np.arange(5.0), "b": np.arange(8.0)}, **_LC)
    assert [len(ln.get_xdata()) for ln in ax.lines] == [5, 8]
    axes = plotting.plot_finetune_run(_FT, pretrained_return=165.0, kl_budget=0.1)
    assert len(axes) == 2 and len(axes[1].lines) == 2
    matplotlib.pyplot.close("all")


# ------------------------------------------------ review E: plotting findings 2, 4, 5, 13, 14


def test_logy_rejects_values_a_log_axis_cannot_show():
    """Review E #2: zero and negative values were drawn on a log axis without complaint."""
    import re

    runs = np.array([[1.0, 0.0, -1.0, 2.0], [1.0, 0.5, 0.1, 2.0]])
    matplotlib.pyplot.close("all")
    with pytest.raises(ValueError, match=re.escape(
            "curves['a'] entries must be finite numbers > 0 with logy=True (a log axis shows only "
            "positive values), got curves['a'][0, 1] = 0.0")):
        plotting.plot_learning_curves({"a": runs}, logy=True, **_LC)
    with pytest.raises(ValueError, match=re.escape(
            "curves['b'] entries must be finite numbers > 0 with logy=True (a log axis shows only "
            "positive values), got curves['b'][2] = -3.0")):
        plotting.plot_learning_curves({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, -3.0]}, logy=True, **_LC)
    with pytest.raises(ValueError, match=re.escape(
            "references['floor'] must be a finite number > 0 with logy=True (a log axis shows only "
            "positive values), got 0.0")):
        plotting.plot_learning_curves({"a": [1.0, 2.0]}, references={"floor": 0.0}, logy=True, **_LC)
    assert matplotlib.pyplot.get_fignums() == []
    # without logy the same data are fine
    plotting.plot_learning_curves({"a": runs}, references={"floor": 0.0}, **_LC)
    matplotlib.pyplot.close("all")


def _band_y(ax):
    """Lower and upper edge of the single fill_between band of ``ax`` (one value per x)."""
    (poly,) = ax.collections
    ys = poly.get_paths()[0].vertices[:, 1]
    n = (len(ys) - 3) // 2   # path: (x0, high0), lower edge, (xn, highn), upper edge reversed, close
    return ys[1:n + 1], ys[n + 2:2 * n + 2][::-1]


def test_logy_band_is_computed_in_log_space_and_stays_positive():
    """Review E #2: the linear CI band went below 0 and matplotlib silently clipped it; with logy the
    band is mean · exp(±half_width / mean) (delta-method CI of log(mean)), the mean line unchanged."""
    from rlrec_helpers.stats import mean_ci_over_axis

    arr = np.abs(np.random.default_rng(0).normal(0.1, 1.0, size=(3, 5))) + 1e-3
    mean, low, high = mean_ci_over_axis(arr, axis=0)
    assert low.min() < 0   # the review's probe: the linear band would reach -1.37
    ax = plotting.plot_learning_curves({"a": arr}, logy=True, **_LC)
    lo, hi = _band_y(ax)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), mean)
    np.testing.assert_allclose(lo, mean * np.exp(-(mean - low) / mean))
    np.testing.assert_allclose(hi, mean * np.exp((high - mean) / mean))
    assert lo.min() > 0 and ax.get_yscale() == "log"
    matplotlib.pyplot.close("all")
    ax = plotting.plot_learning_curves({"a": arr}, **_LC)   # linear axis: the band as before
    lo, hi = _band_y(ax)
    np.testing.assert_allclose(lo, low)
    np.testing.assert_allclose(hi, high)
    matplotlib.pyplot.close("all")


def test_logy_single_runs_draw_their_data_unchanged():
    """Notebooks 03, 06 and 10 pass single positive curves with logy=True: drawn as given, no band."""
    curve = np.array([2.1, 0.9, 0.35, 0.12, 0.05])
    ax = plotting.plot_learning_curves({"variance": curve, "other": curve * 0.5}, x=np.array([1, 2, 4, 8, 16]),
                                       logy=True, **_LC)
    assert np.array_equal(ax.lines[0].get_ydata(), curve) and np.array_equal(ax.lines[1].get_ydata(), curve * 0.5)
    assert np.array_equal(ax.lines[0].get_xdata(), [1, 2, 4, 8, 16])
    assert len(ax.collections) == 0 and ax.get_yscale() == "log"
    matplotlib.pyplot.close("all")


@pytest.mark.parametrize("xlabel", ["", "   ", None, 3])
def test_preference_tracking_requires_an_x_label(xlabel):
    """Review E #4: a blank xlabel drew two panels with no x label."""
    matplotlib.pyplot.close("all")
    with pytest.raises(ValueError) as err:
        plotting.plot_preference_tracking(np.zeros((5, 3)), np.zeros((5, 3)), [0], xlabel=xlabel)
    assert str(err.value) == ("xlabel must be a non-blank string (every axis carries a label and unit), "
                              f"got {xlabel!r}")
    assert matplotlib.pyplot.get_fignums() == []


@pytest.mark.parametrize("policy, message", [
    (np.full((4, 3, 3), -5.0),
     "history['policy'] entries must be finite numbers >= 0, got history['policy'][0, 0, 0] = -5.0"),
    (np.full((4, 3, 3), 0.5),
     "history['policy'] slices along axis 2 must sum to 1 (within 1e-06), got history['policy'][0, 0, :] summing to 1.5"),
    (np.concatenate([np.full((3, 3, 3), 1 / 3), np.array([[[1.0, 0.0, 0.0], [0.2, 0.2, 0.2], [0.0, 0.0, 1.0]]])]),
     "history['policy'] slices along axis 2 must sum to 1 (within 1e-06), got history['policy'][3, 1, :] "
     "summing to 0.6000000000000001"),
])
def test_ascent_history_policy_rows_must_be_distributions(policy, message):
    """Review E #5: any finite table was drawn under a colour bar labelled 'probability'."""
    matplotlib.pyplot.close("all")
    with pytest.raises(ValueError) as err:
        plotting.plot_ascent_history({**_HIST_J, "policy": policy})
    assert str(err.value) == message
    assert matplotlib.pyplot.get_fignums() == []


def test_session_story_blank_reward_unit_is_named():
    """Review E #13: the message named xlabel and ylabel, not reward_unit."""
    for bad in ("   ", "", None):
        with pytest.raises(ValueError) as err:
            plotting.plot_session_story(_story(), reward_unit=bad)
        assert str(err.value) == f"reward_unit must be a non-blank string such as 'price units', got {bad!r}"


def test_session_story_needs_a_hidden_state_column():
    """Review E #13: a story with no hidden-state columns drew an empty right panel."""
    story = _story().drop(columns="trust")
    matplotlib.pyplot.close("all")
    with pytest.raises(ValueError) as err:
        plotting.plot_session_story(story, reward_unit="price units")
    assert str(err.value) == ("story must have at least one hidden-state column after 'return' (the right "
                              "panel draws them), got columns ['step', 'shown', 'choice', 'reward', 'return']")
    assert matplotlib.pyplot.get_fignums() == []


def test_step_attribution_bars_sit_at_their_step_numbers():
    """Review E #14: step_0, step_5, step_9 were drawn at x = 0, 1, 2."""
    import pandas as pd

    df = pd.DataFrame({"candidate": [1], "topic": [2], "step_9": [0.3], "step_0": [0.1], "step_5": [-0.2]})
    (ax,) = plotting.plot_step_attributions({"u": df})
    assert [p.get_x() + p.get_width() / 2 for p in ax.patches] == pytest.approx([0.0, 5.0, 9.0])
    assert [p.get_height() for p in ax.patches] == [0.1, -0.2, 0.3]
    matplotlib.pyplot.close("all")
    with pytest.raises(ValueError) as err:
        plotting.plot_step_attributions({"u": df.rename(columns={"step_5": "step_x"})})
    assert str(err.value) == ("explanations['u'] column 'step_x' must be 'step_<t>' with t an integer >= 0 "
                              "(a history step)")
    assert matplotlib.pyplot.get_fignums() == []


# ------------------------------------------------------------ the figure review (session 15)


def test_reference_lines_get_distinct_styles_so_the_legend_tells_them_apart():
    refs = {"random": 1.0, "always correct": 3.0, "ceiling": 4.0}
    ax = plotting.plot_learning_curves({"agent": np.array([1.0, 2.0, 2.5])}, xlabel="episode",
                                       ylabel="return (clicks)", references=refs)
    styles = [ln.get_linestyle() for ln in ax.lines if ln.get_label() in refs]
    assert len(styles) == 3 and len(set(styles)) == 3
    ax = plotting.plot_bars_with_ci(["p"], [1.0], [0.5], [1.5], xlabel="policy", ylabel="return (min)",
                                    references={"a": 1.0, "b": 1.2})
    assert len({ln.get_linestyle() for ln in ax.lines if ln.get_label() in ("a", "b")}) == 2
    matplotlib.pyplot.close("all")


def test_horizontal_bars_read_top_to_bottom_in_the_given_order():
    ax = plotting.plot_bars_with_ci(["first", "second", "third"], [1, 2, 3], [0, 1, 2], [2, 3, 4],
                                    xlabel="return (min)", ylabel="policy", horizontal=True)
    assert ax.yaxis_inverted()
    tops = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    # on an inverted axis the smallest y is drawn at the top
    assert sorted(tops, key=tops.get) == ["first", "second", "third"]
    matplotlib.pyplot.close("all")


def test_heatmap_row_labels_are_horizontal_and_category_ticks_integers():
    ax = plotting.plot_heatmap(np.eye(2), row_labels=["s1", "s2"], col_labels=["a", "b"], xlabel="action",
                               ylabel="state", cbar=False)
    assert {t.get_rotation() for t in ax.get_yticklabels()} == {0.0}
    ax = plotting.plot_category_shares({"p": np.full(20, 0.05)}, xlabel="topic cluster")
    ax.figure.canvas.draw()
    ticks = ax.get_xticks()
    assert np.all(ticks == np.round(ticks))
    matplotlib.pyplot.close("all")


def test_policy_comparison_titles_say_what_the_error_bars_are():
    res = {"p": _Eval([1.0, 2.0, 3.0], [4, 5, 6]), "q": _Eval([2.0, 3.0, 4.0], [5, 6, 7])}
    axes = plotting.plot_policy_comparison(res)
    assert axes[0].get_title() == "mean return, 95% CI over 3 sessions"
    assert axes[1].get_title() == "mean session length, 95% CI over 3 sessions"
    matplotlib.pyplot.close("all")


def test_session_story_draws_one_or_two_hidden_columns_in_their_own_units():
    import pandas as pd

    story = pd.DataFrame({"step": [0, 1, 2], "choice": ["1", "-", "2"], "return": [1.0, 1.0, 3.0],
                          "trust": [0.98, 0.9, 0.5], "patience (views)": [15.0, 14.0, 13.5]})
    ax_a, ax_b = plotting.plot_session_story(story, reward_unit="price units")
    twin = [a for a in ax_b.figure.axes if a not in (ax_a, ax_b)]
    assert len(twin) == 1 and ax_b.get_ylabel() == "trust" and twin[0].get_ylabel() == "patience (views)"
    np.testing.assert_allclose(ax_b.lines[0].get_ydata(), [0.98, 0.9, 0.5])       # not / its maximum
    np.testing.assert_allclose(twin[0].lines[0].get_ydata(), [15.0, 14.0, 13.5])
    three = story.assign(energy=[2.0, 1.0, 0.5])
    _, ax_b = plotting.plot_session_story(three, reward_unit="price units")
    np.testing.assert_allclose(ax_b.lines[2].get_ydata(), [1.0, 0.5, 0.25])       # three: scaled
    matplotlib.pyplot.close("all")


def test_integer_x_values_get_integer_ticks():
    ax = plotting.plot_learning_curves({"v": np.array([1.0, 0.5, 0.4])}, x=np.array([0, 1, 2]),
                                       xlabel="epoch", ylabel="loss (nats)")
    ax.figure.canvas.draw()
    assert np.all(ax.get_xticks() == np.round(ax.get_xticks()))
    ax = plotting.plot_learning_curves({"v": np.array([1.0, 0.5, 0.4])}, x=np.array([0.0, 0.5, 1.0]),
                                       xlabel="quality", ylabel="loss (nats)")
    ax.figure.canvas.draw()
    assert not np.all(ax.get_xticks() == np.round(ax.get_xticks()))   # real-valued x keeps fine ticks
    matplotlib.pyplot.close("all")


def test_series_colors_keep_a_policy_colour_across_figures():
    first = plotting.series_colors(["REINFORCE (GRU, ours)", "myopic (privileged)", "random"])
    second = plotting.series_colors(["random", "quality-greedy (privileged)", "myopic", "REINFORCE (ours)"])
    assert first[1] == second[2] == plotting.PALETTE[1]            # myopic: orange in both
    assert first[0] == second[3] == plotting.PALETTE[0]            # the agent: blue in both
    assert first[2] == second[0] == plotting.PALETTE[9]            # random: grey in both
    # "hours" is not "ours", "randomised" is not "random": whole words only
    assert plotting.series_colors(["hours watched", "randomised"]) == list(plotting.PALETTE[:2])


def test_series_colors_are_distinct_within_a_figure():
    names = ["blend λ=2 (privileged, tuned)", "blend λ=2, interests from the posterior", "uncorrected",
             "myopic", "history-free control", "REINFORCE (GRU, ours)", "LinUCB bandit", "long-term w=0.7"]
    colors = plotting.series_colors(names)
    assert len(set(colors)) == len(names)
    assert colors[0] == plotting.PALETTE[3] and colors[1] != plotting.PALETTE[3]   # the second blend moves
    assert colors[4] == plotting.PALETTE[5] and colors[5] == plotting.PALETTE[0]   # history-free is not the agent
    many = plotting.series_colors([f"s{i}" for i in range(12)])   # more than ten: the palette cycles
    assert many[:10] == list(plotting.PALETTE) and many[10:] == list(plotting.PALETTE[:2])


def test_course_palette_puts_far_apart_colours_first():
    from matplotlib.colors import to_rgb
    rgb = np.array([to_rgb(c) for c in plotting.PALETTE[:6]])
    gaps = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1)[np.triu_indices(6, 1)]
    # seaborn's colorblind order has orange and vermilion (RGB distance 0.20) within its first four;
    # the closest of the course's first six are blue and green (0.30), which differ in hue
    assert gaps.min() > 0.25
    assert not {"#de8f05", "#d55e00"} <= set(plotting.PALETTE[:6])


def test_plots_draw_each_policy_in_its_colour():
    from matplotlib.colors import to_hex
    plotting.set_theme()
    ax = plotting.plot_learning_curves({"random": np.ones(3), "myopic (privileged)": np.ones(3)},
                                       xlabel="step", ylabel="return (minutes)")
    assert [to_hex(line.get_color()) for line in ax.lines] == [plotting.PALETTE[9], plotting.PALETTE[1]]
    ax = plotting.plot_bars_with_ci(["myopic", "REINFORCE (ours)"], [1.0, 2.0], [0.5, 1.5], [1.5, 2.5],
                                    xlabel="policy", ylabel="return (minutes)")
    assert [to_hex(p.get_facecolor()) for p in ax.patches] == [plotting.PALETTE[1], plotting.PALETTE[0]]
    ax = plotting.plot_category_shares({"myopic": np.full(4, 0.25), "REINFORCE": np.full(4, 0.25)},
                                       xlabel="cluster")
    assert [to_hex(line.get_color()) for line in ax.lines] == [plotting.PALETTE[1], plotting.PALETTE[0]]
    ax = plotting.plot_distributions({"REINFORCE": np.arange(5.0), "myopic": np.arange(5.0)},
                                     xlabel="session length (steps)")
    assert [to_hex(p.get_edgecolor()) for p in ax.patches] == [plotting.PALETTE[0], plotting.PALETTE[1]]
    ax = plotting.plot_policy_distributions({"logging": np.full(3, 1 / 3), "myopic": np.full(3, 1 / 3)},
                                            xlabel="item", ylabel="probability")
    assert {to_hex(p.get_facecolor()) for p in ax.patches[3:]} == {plotting.PALETTE[1]}
    matplotlib.pyplot.close("all")


def _legend_and_axes_boxes(fig, ax):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return ax.get_legend().get_window_extent(renderer), ax.bbox, ax


def test_a_long_legend_goes_outside_the_axes():
    """Four or more entries: the legend leaves the data area (to the right of a figure's only
    axes; under the x label of one panel among several, even after tight_layout)."""
    import matplotlib.pyplot as plt

    plotting.set_theme()
    four = {f"curve {i}": np.linspace(0, 1, 20) + i for i in range(4)}
    fig, ax = plt.subplots()
    plotting.plot_learning_curves(four, xlabel="step", ylabel="value (units)", ax=ax)
    legend, axes_box, _ = _legend_and_axes_boxes(fig, ax)
    assert legend.x0 >= axes_box.x1                                   # right of the axes
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    plotting.plot_learning_curves(four, xlabel="step", ylabel="value (units)", ax=axes[0])
    plotting.plot_learning_curves({"one": np.ones(5)}, xlabel="step", ylabel="value (units)", ax=axes[1])
    fig.tight_layout()
    legend, axes_box, ax0 = _legend_and_axes_boxes(fig, axes[0])
    label_bottom = ax0.xaxis.label.get_window_extent(fig.canvas.get_renderer()).y0
    assert legend.y1 <= label_bottom and legend.x1 <= axes[1].bbox.x0   # under the x label, not on the neighbour
    # three entries stay inside the axes
    fig, ax = plt.subplots()
    plotting.plot_learning_curves({k: four[k] for k in list(four)[:3]}, xlabel="step", ylabel="value (units)", ax=ax)
    legend, axes_box, _ = _legend_and_axes_boxes(fig, ax)
    assert axes_box.x0 <= legend.x0 and legend.x1 <= axes_box.x1 and axes_box.y0 <= legend.y0
    plt.close("all")


def test_callers_can_fix_colours_across_figures():
    from matplotlib.colors import to_hex

    names = ["grpo, β=0.1", "grpo, β=1.0"]
    fixed = dict(zip(names, plotting.series_colors(names)))
    # a later figure with the runs in another order, and one more series, keeps their colours
    later = plotting.series_colors(["pretrained", "grpo, β=1.0", "grpo, β=0.1"], fixed)
    assert later[1:] == [fixed["grpo, β=1.0"], fixed["grpo, β=0.1"]] and later[0] not in fixed.values()
    ax = plotting.plot_bars_with_ci(["pretrained", "grpo, β=1.0"], [1.0, 2.0], [0.5, 1.5], [1.5, 2.5],
                                    xlabel="model", ylabel="return (minutes)", colors=fixed)
    assert to_hex(ax.patches[1].get_facecolor()) == fixed["grpo, β=1.0"]
    ax = plotting.plot_learning_curves({"grpo, β=1.0": np.ones(3)}, xlabel="step", ylabel="return (minutes)",
                                       colors=fixed)
    assert to_hex(ax.lines[0].get_color()) == fixed["grpo, β=1.0"]
    ax = plotting.plot_regret_curves({"UCB1": np.ones((2, 5))}, colors={"UCB1": "#029e73"})
    assert to_hex(ax.lines[0].get_color()) == "#029e73"
    with pytest.raises(ValueError, match=r"colors\['a'\] must be a matplotlib colour"):
        plotting.series_colors(["a"], {"a": "not-a-colour"})
    assert plotting.policy_color("blend λ=2, revealed after 4 showings") == plotting.PALETTE[3]
    assert plotting.policy_color("heuristic") == plotting.policy_color("long-term value") == plotting.PALETTE[4]
    with pytest.raises(ValueError, match="name must contain one of the course's recurring policies"):
        plotting.policy_color("uncorrected")
    matplotlib.pyplot.close("all")


def test_integer_ticks_thin_out_on_a_narrow_axis():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    plotting.plot_learning_curves({"a": np.ones(4801)}, x=np.arange(4801), xlabel="step", ylabel="p", ax=axes[0])
    fig.canvas.draw()
    ticks = [t for t in axes[0].get_xticks() if 0 <= t <= 4800]
    assert ticks == [round(t) for t in ticks] and len(ticks) <= 6   # MaxNLocator(integer=True) alone drew 9+
    plt.close("all")


def test_estimates_legend_and_session_story_legend_leave_the_data_area():
    import pandas as pd
    import matplotlib.pyplot as plt
    from rlrec_helpers.stats import MeanCI

    plotting.set_theme()
    ax = plotting.plot_estimates_vs_truth(["IPS", "SNIPS"], [MeanCI(1.0, 0.5, 1.5, 10), MeanCI(1.1, 0.7, 1.5, 10)],
                                          1.0, xlabel="estimator", ylabel="click rate")
    ax.figure.canvas.draw()
    assert ax.get_legend().get_window_extent().x0 >= ax.bbox.x1
    story = pd.DataFrame({"step": np.arange(5), "choice": ["-", "a", "-", "b", "-"], "reward": np.ones(5),
                          "return": np.arange(1.0, 6.0), "trust": np.linspace(1, 2, 5), "patience": np.linspace(9, 1, 5)})
    ax_a, ax_b = plotting.plot_session_story(story, reward_unit="price units")
    fig = ax_b.figure
    fig.canvas.draw()
    legend = ax_b.get_legend().get_window_extent()
    assert legend.y1 <= ax_b.xaxis.label.get_window_extent().y0                # under the panel's x label
    assert [t.get_text() for t in ax_b.get_legend().get_texts()] == ["trust", "patience"]
    plt.close("all")


def test_outside_legends_work_on_vector_backends_and_when_drawn_twice():
    """The first version asked the canvas for its renderer, which only Agg canvases have; and a
    second legend call (plot_regret_curves adds its references) measured the first legend too."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import FigureCanvasPdf
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    curves = {f"policy {i}": np.ones((2, 50)).cumsum(1) * (i + 1) for i in range(4)}
    for canvas in (FigureCanvasPdf, FigureCanvasSVG):
        fig, axes = plt.subplots(1, 2)
        canvas(fig)
        plotting.plot_learning_curves(curves, xlabel="step", ylabel="regret (clicks)", ax=axes[0])
        assert axes[0].get_legend() is not None
        plt.close(fig)
    gaps = []
    for refs in (None, {"reference": np.arange(50.0)}):
        fig, axes = plt.subplots(1, 2)
        plotting.plot_regret_curves(curves, reference_curves=refs, ax=axes[0])
        fig.canvas.draw()
        label_bottom = axes[0].xaxis.label.get_window_extent().y0
        gaps.append(label_bottom - axes[0].get_legend().get_window_extent().y1)
        plt.close(fig)
    assert abs(gaps[0] - gaps[1]) < 2.0   # pixels: the second legend sits where the first would


def test_fixed_colours_count_in_any_spelling_and_policy_comparison_needs_two_episodes():
    plotting.set_theme()   # "C1" is the course palette's orange
    assert plotting.series_colors(["a", "myopic"], {"a": "C1"})[1] != plotting.PALETTE[1]
    assert plotting.series_colors(["a", "myopic"], {"a": "#DE8F05"})[1] != plotting.PALETTE[1]
    from rlrec_helpers.simulator import evaluate

    one = evaluate.__globals__["EvalResult"](None, np.array([3.0]), 1.0, 2.0, np.array([1]), np.array([2]))
    with pytest.raises(ValueError, match=r"^results\['x'\]\.returns must hold at least 2 episodes"):
        plotting.plot_policy_comparison({"x": one})


def test_session_story_draws_the_return_in_its_policy_colour():
    import pandas as pd
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    story = pd.DataFrame({"step": np.arange(3), "choice": ["-", "a", "-"], "reward": [0.0, 1.0, 0.0],
                          "return": [0.0, 1.0, 1.0], "trust": [1.0, 1.1, 1.1]})
    for policy, color in (("myopic", plotting.PALETTE[1]), ("random", plotting.PALETTE[9]),
                          ("REINFORCE", plotting.PALETTE[0]), (None, plotting.PALETTE[0])):
        ax_a, _ = plotting.plot_session_story(story, reward_unit="price units", policy=policy)
        assert to_hex(ax_a.get_lines()[0].get_color()) == color
        plt.close("all")
