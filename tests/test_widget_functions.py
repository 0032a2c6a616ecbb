"""The pure functions behind the widgets (review E #6, #7, #15): their printed text and values."""

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from rlrec_helpers import simulator as S
from rlrec_helpers import widgets as W
from rlrec_helpers.stats import MeanCI, mean_ci


def _result(lengths, returns=None):
    """A simulator.EvalResult with the given session lengths (steps) and returns (minutes)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    returns = np.asarray(lengths * 2.0 if returns is None else returns, dtype=float)
    clicks = lengths // 2
    m = float(returns.mean())   # truncation_summary reads lengths only; one session has no CI
    ci = mean_ci(returns) if returns.size > 1 else MeanCI(m, m, m, 1)
    return S.EvalResult(ci, returns, float(clicks.mean()), float(lengths.mean()), clicks, lengths)


# ------------------------------------------------------------ #6 simulator.truncation_summary


def test_truncation_summary_counts_sessions_at_the_step_cap():
    cfg = S.get_preset("default")
    res = {"a": _result([1000, 5, 1000, 3]), "b": _result([10, 20]), "c": _result([1000])}
    out = S.truncation_summary(res, cfg)
    assert out == {"max_steps": 1000, "break_even_quality": 1 / cfg.refill_rate,
                   "truncated": {"a": 0.5, "b": 0.0, "c": 1.0}}
    assert list(out["truncated"]) == ["a", "b", "c"]                   # the results' order
    assert S.truncation_summary(res, "default") == out                 # a preset name works too
    from dataclasses import replace

    short = S.truncation_summary(res, replace(cfg, max_steps=10, refill_rate=0.5))
    assert short == {"max_steps": 10, "break_even_quality": 2.0, "truncated": {"a": 0.5, "b": 1.0, "c": 1.0}}


def test_truncation_summary_break_even_only_for_interest_evolution():
    out = S.truncation_summary({"a": _result([3, 4])}, "ecommerce")
    assert out == {"max_steps": S.get_preset("ecommerce").max_steps, "break_even_quality": None,
                   "truncated": {"a": 0.0}}
    from dataclasses import replace

    assert S.truncation_summary({"a": _result([3])}, replace(S.get_preset("default"), refill_rate=0.0)) == \
        {"max_steps": 1000, "break_even_quality": None, "truncated": {"a": 0.0}}


@pytest.mark.parametrize("results, message", [
    ({}, "results must map at least one policy name to its evaluation result, got {}"),
    ({"a": [1, 2]}, "results['a'] must have a session_lengths array (e.g. a simulator.EvalResult), got list"),
])
def test_truncation_summary_checks_its_input(results, message):
    with pytest.raises(ValueError) as err:
        S.truncation_summary(results, "default")
    assert str(err.value) == message


def test_truncation_summary_rejects_empty_or_non_finite_lengths():
    from dataclasses import replace

    empty = replace(_result([1]), session_lengths=np.array([], dtype=np.int64))
    with pytest.raises(ValueError) as err:
        S.truncation_summary({"a": empty}, "default")
    assert str(err.value) == "results['a'].session_lengths must not be empty, got shape (0,)"
    with pytest.raises(ValueError, match=re.escape("preset must be one of")):
        S.truncation_summary({"a": _result([1])}, "nope")


def _fake_compare(results):
    def compare_policies(*args, **kwargs):
        compare_policies.kwargs = kwargs
        return results
    return compare_policies


def test_simulator_widget_prints_the_truncation_line_from_the_summary(monkeypatch, capsys):
    """The widget prints what truncation_summary returns, in the text notebook 05 shows."""
    res = {"random": _result([100, 200, 300]), "quality-greedy": _result([1000, 1000, 10, 20]),
           "long-term value": _result([1000, 30, 40, 50, 60])}
    fake = _fake_compare(res)
    monkeypatch.setattr(S, "compare_policies", fake)
    out = W.show_simulator_comparison(0.0, 5.0, 0.25, 1, n_episodes=4, seed=3)
    plt.close("all")
    assert fake.kwargs == {"n_episodes": 4, "seed": 3, "quality_min": 0.0, "quality_max": 5.0,
                           "no_click_weight": 0.25, "slate_size": 1}
    assert capsys.readouterr().out == (
        "quality means in [0.00, 5.00], no-click weight 0.25, slate size 1, 4 sessions per policy\n"
        "  random           return   400.0 ± 496.8 min,  200.0 steps, 100.0 clicks\n"
        "  quality-greedy   return  1015.0 ± 1809.9 min,  507.5 steps, 253.8 clicks\n"
        "  long-term value  return   472.0 ± 1061.0 min,  236.0 steps, 118.0 clicks\n"
        "  sessions cut off at max_steps = 1000 (their returns measure the cap: a click on quality above "
        "1/refill_rate = 3.78 refills more budget than it costs): quality-greedy 50%, long-term value 20%\n")
    assert out == {name: r.mean_return.mean for name, r in res.items()}
    monkeypatch.setattr(S, "compare_policies", _fake_compare({"random": _result([100, 200, 300])}))
    W.show_simulator_comparison(n_episodes=3)
    plt.close("all")
    assert "cut off" not in capsys.readouterr().out                    # nothing cut off: no line


def test_simulator_widget_output_of_notebook_05_is_unchanged(capsys):
    """The call and the committed output of notebook 05 (nbval compares them)."""
    W.show_simulator_comparison(quality_min=-3.0, quality_max=1.0, no_click_weight=2.0, slate_size=3,
                                n_episodes=300, seed=0)
    plt.close("all")
    assert capsys.readouterr().out == (
        "quality means in [-3.00, 1.00], no-click weight 2.00, slate size 3, 300 sessions per policy\n"
        "  random           return   150.7 ±   0.9 min,   66.8 steps,  38.2 clicks\n"
        "  myopic           return   156.0 ±   1.5 min,   56.1 steps,  39.6 clicks\n"
        "  quality-greedy   return   199.9 ±   1.5 min,   94.1 steps,  51.2 clicks\n"
        "  long-term value  return   202.1 ±   1.4 min,   93.2 steps,  51.8 clicks\n")


# ------------------------------------------------------------ #7 widgets.show_chen_simulation


def test_show_chen_simulation_prints_and_draws_chen_summary(capsys):
    from rlrec_helpers.ope import chen_summary

    plt.close("all")
    out = W.show_chen_simulation(2, "topk", k=2, lr=0.2, n_steps=50)
    ref = chen_summary(2, "topk", k=2, lr=0.2, n_steps=50)
    assert capsys.readouterr().out == (f"step size 0.2: expected reward of one draw {ref['expected_reward']:.4f}; "
                                       f"expected reward of a 2-draw slate {ref['slate_reward']:.4f}\n")
    assert out["expected_reward"] == ref["expected_reward"] and np.array_equal(out["pi"], ref["pi"])
    curve_ax, ax = plt.gcf().axes
    assert ax.get_title() == "simulation 2 after 50 steps of size 0.2"
    assert [p.get_height() for p in ax.patches] == list(ref["pi"])
    # the left panel draws the slate reward at every step, ending at the printed value
    (line,) = curve_ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(51))
    assert line.get_ydata()[-1] == ref["slate_reward"] and curve_ax.get_ylabel() == "expected reward of a 2-draw slate"
    plt.close("all")


def test_chen_summary_shows_the_oscillation_of_a_large_step():
    """Notebook 07 says too large a step makes simulation 2 oscillate: the per-step slate reward
    settles at step 0.2 and keeps jumping at 0.5; at the slider's maximum it settles on a worse
    slate than at 0.2, which the final policy alone would not show."""
    from rlrec_helpers.ope import chen_summary

    def late_jump(out):
        return float(np.abs(np.diff(out["slate_rewards"][-100:])).max())

    small, large = chen_summary(2, "topk", k=2, lr=0.2, n_steps=3000), chen_summary(2, "topk", k=2, lr=0.5, n_steps=3000)
    assert late_jump(small) < 1e-6 and late_jump(large) > 0.05
    top = chen_summary(2, "topk", k=2, lr=10 ** 0.5, n_steps=3000)
    assert top["slate_reward"] < 0.75 * small["slate_reward"]
    assert top["slate_rewards"].shape == top["step"].shape == (3001,)


def test_chen_widget_wraps_show_chen_simulation_with_3000_steps(capsys):
    w = W.chen_simulation_widget()
    plt.close("all")
    capsys.readouterr()
    assert w.f is W.show_chen_simulation and w.kwargs["n_steps"] == 3000
    # the notebook-07 widget's default printed text (3000 steps), unchanged
    w.f(sim=2, correction="topk", k=2, lr=0.2, n_steps=3000)
    assert capsys.readouterr().out == ("step size 0.2: expected reward of one draw 9.5233; "
                                       "expected reward of a 2-draw slate 14.2605\n")
    assert plt.gcf().axes[1].get_title() == "simulation 2 after 3000 steps of size 0.2"
    plt.close("all")


# ------------------------------------------------------------ #15 widgets.show_optimal_vs_myopic


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99])
def test_show_optimal_vs_myopic_prints_the_rows_of_mdp_optimal_vs_myopic(gamma, capsys):
    from rlrec_helpers.mdp import optimal_vs_myopic

    W.show_optimal_vs_myopic(gamma)
    lines = capsys.readouterr().out.splitlines()
    res = optimal_vs_myopic(gamma)
    assert lines[0] == f"gamma = {gamma:.2f}; values in discounted minutes"
    assert lines[1].split() == ["state", "optimal", "action", "V*", "V_myopic", "gain"]
    rows = [[line[:9].strip(), line[9:25].strip(), *line[25:].split()] for line in lines[2:]]
    assert [r[0] for r in rows] == list(res["states"])
    assert [r[1] for r in rows] == list(res["optimal_policy"])
    assert rows[-1][1] == "any (all tie)"   # churned is absorbing with reward 0: no action is better
    for col, key in ((2, "V_optimal"), (3, "V_myopic"), (4, "gain")):
        np.testing.assert_allclose([float(r[col]) for r in rows], res[key], atol=0.005 + 1e-12)


def test_show_optimal_vs_myopic_matches_notebook_01(capsys):
    W.show_optimal_vs_myopic(0.9)
    assert capsys.readouterr().out == (
        "gamma = 0.90; values in discounted minutes\n"
        "state    optimal action          V*        V_myopic    gain\n"
        "new      popular              35.06           19.75   15.31\n"
        "engaged  niche                41.05           22.61   18.44\n"
        "bored    fresh                29.42            9.94   19.48\n"
        "churned  any (all tie)         0.00            0.00    0.00\n")


# ------------------------------------------------------------ widget ranges an instructor can reach


def test_bandit_widget_reference_never_exceeds_the_largest_possible_regret():
    """C·ln t is asymptotic: for small gaps it lies above gap·t, the regret of never showing the
    best item. The widget draws it capped, over the whole slider grid of arms and gaps."""
    from rlrec_helpers.bandits import compare_on_testbed, lai_robbins_curve

    w = W.bandit_regret_widget()
    plt.close("all")
    arms, gap = (next(c for c in w.children if c.description == d) for d in ("arms", "gap"))
    assert gap.max == W.BANDIT_GAP_MAX < 0.5
    t = np.arange(1, 2001, dtype=float)
    above = 0
    for n_arms in (arms.min, 10, arms.max):
        for g in np.arange(gap.min, gap.max + 1e-9, 0.04):
            out = compare_on_testbed(n_arms=n_arms, gap=g, horizon=2000, n_runs=1)
            raw = lai_robbins_curve(out["probs"], 2000)
            np.testing.assert_array_equal(out["lai_robbins"], raw)
            np.testing.assert_allclose(out["max_regret"], g * t)
            np.testing.assert_array_equal(out["lai_robbins_capped"], np.minimum(raw, g * t))
            above += bool(raw[-1] > g * 2000)
    assert above > 0   # the uncapped curve does exceed gap·T somewhere on the grid


def test_bandit_widget_prints_when_the_bound_says_nothing(capsys):
    W.show_bandit_comparison(epsilon=0.1, n_arms=10, gap=0.1, horizon=2000, n_runs=2)
    first = capsys.readouterr().out.splitlines()[0]
    assert "above gap·T = 200.0, the regret of never showing the best item" in first
    (ax,) = plt.gcf().axes
    ref = next(line for line in ax.get_lines() if line.get_label().startswith("Lai–Robbins"))
    assert ref.get_ydata().max() <= 200.0
    plt.close("all")
    W.show_bandit_comparison(epsilon=0.1, n_arms=2, gap=0.4, horizon=2000, n_runs=2)
    assert "above gap·T" not in capsys.readouterr().out
    plt.close("all")


def test_greedy_still_gets_stuck_at_the_largest_gap():
    """Notebook 02: 'a larger gap (everything learns fast; greedy still gets stuck)'. At the
    slider's maximum greedy's regret stays far above Thompson sampling's; at gap 0.5 (the worse
    items never clicked) it would not."""
    from rlrec_helpers.bandits import compare_on_testbed

    top = compare_on_testbed(n_arms=10, gap=W.BANDIT_GAP_MAX, horizon=2000, n_runs=100, seed=0)["curves"]
    assert top["greedy"][:, -1].mean() > 5 * top["Thompson sampling (Beta)"][:, -1].mean()
    half = compare_on_testbed(n_arms=10, gap=0.5, horizon=2000, n_runs=100, seed=0)["curves"]
    assert half["greedy"][:, -1].mean() < half["Thompson sampling (Beta)"][:, -1].mean()


def test_simulator_widget_slate_leaves_a_choice():
    from rlrec_helpers.simulator import get_preset

    w = W.simulator_widget()
    plt.close("all")
    k = next(c for c in w.children if c.description == "slate K")
    assert k.max == W.SIMULATOR_SLATE_MAX == get_preset("default").n_candidates - 1


def test_worked_example_widget_runs_as_long_as_notebook_03(capsys):
    """The widget reproduces notebook 03's raw-feature result (alpha about 0.3 ends near 0.98),
    which 300 steps did not (J = 0.74)."""
    w = W.worked_example_widget()
    plt.close("all")
    assert w.kwargs["n_iters"] == W.WORKED_EXAMPLE_ITERS == 2000
    final = W.show_worked_example(alpha=10 ** -0.5, feature_map="raw", reading="diagonal")
    plt.close("all")
    capsys.readouterr()
    assert final > 0.97


@pytest.mark.parametrize("feature_map", ["none", "bias", "raw", "normalised", "centred"])
@pytest.mark.parametrize("reading", ["diagonal", "literal"])
def test_worked_example_widget_runs_for_every_menu_choice(feature_map, reading, capsys):
    from rlrec_helpers.policy_gradient import FEATURE_MAPS, READINGS

    assert set(FEATURE_MAPS) | {"none"} == {"none", "bias", "raw", "normalised", "centred"}
    assert set(READINGS) == {"diagonal", "literal"}
    final = W.show_worked_example(alpha=1.0, feature_map=feature_map, reading=reading, n_iters=50)
    plt.close("all")
    assert np.isfinite(final) and 0.0 <= final <= 1.0
    assert f"features={feature_map}, reading={reading}" in capsys.readouterr().out


@pytest.mark.parametrize("sim", [1, 2])
@pytest.mark.parametrize("correction", ["none", "standard", "topk"])
def test_chen_widget_runs_for_every_menu_choice(sim, correction, capsys):
    from rlrec_helpers.ope import CORRECTIONS

    assert set(CORRECTIONS) == {"none", "standard", "topk"}
    out = W.show_chen_simulation(sim, correction, k=3, lr=0.2, n_steps=100)
    plt.close("all")
    assert np.isclose(out["pi"].sum(), 1.0) and np.isfinite(out["slate_rewards"]).all()
    assert capsys.readouterr().out.startswith("step size 0.2:")


def test_reinforce_widget_draws_the_trained_agent_and_explains_a_missing_comparison(monkeypatch, capsys):
    import rlrec_helpers.agents.reinforce as R

    hist = {"return": np.array([100.0, 120.0]), "env_steps": np.array([10, 20])}
    fake = {"trained": 150.0, "random": 90.0, "quality_greedy": 160.0, "pretrained": None, "history": hist}
    monkeypatch.setattr(R, "retrain_and_compare", lambda *a, **k: fake)
    W.show_reinforce_retrain("default", slate_size=1)
    out = capsys.readouterr().out
    assert "pre-trained: n/a (the shipped agent serves slates of 3, not 1)" in out
    (ax,) = plt.gcf().axes
    refs = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()[1:]}
    assert refs["this agent after training (greedy slates)"] == 150.0 and refs["random"] == 90.0
    plt.close("all")
    W.show_reinforce_retrain("default", slate_size=3)
    assert "pre-trained: n/a (no shipped weights found)" in capsys.readouterr().out
    plt.close("all")


def test_finetune_kl_panel_keeps_a_small_kl_visible_under_its_budget():
    """Notebook 10's widget at β = 1: a KL of about 0.007 nats lay flat under the 0.25 budget on
    a linear axis. The axis is symmetric-log (the first KL, before any update, is 0)."""
    from rlrec_helpers.plotting import plot_finetune_run

    hist = {"return": np.array([1.0, 2.0, 3.0]), "kl": np.array([0.0, 0.004, 0.007])}
    _, ax_k = plot_finetune_run(hist, pretrained_return=2.0, kl_budget=0.25)
    assert ax_k.get_yscale() == "symlog" and ax_k.get_title().endswith("(log axis above 0.001)")
    assert ax_k.get_ylim()[0] == 0.0
    ax_k.figure.canvas.draw()
    assert ax_k.get_legend().get_window_extent().y1 <= ax_k.xaxis.label.get_window_extent().y0   # under the panel
    low, high = ax_k.get_ylim()
    span = ax_k.transData.transform([(0, 0.004), (0, 0.007), (0, 0.25)])[:, 1]
    # 0.004 -> 0.007 takes a visible share of the height of 0 -> 0.25 (1.2% on a linear axis)
    assert (span[1] - span[0]) / (span[2] - ax_k.transData.transform([(0, 0.0)])[0, 1]) > 0.05
    plt.close("all")


@pytest.mark.parametrize("alpha, expect", [(10 ** -0.9, "rises"), (10 ** -0.5, "near 0.98"),
                                           (10 ** -0.15, "stalls at 2/3"), (10 ** 0.5, "stays at 1/3")])
def test_worked_example_outcomes_that_notebook_03_tells_instructors_to_expect(alpha, expect):
    """Notebook 03 §6.3 lists what each slider setting shows (raw features, diagonal reading,
    the widget's 2,000 steps)."""
    from rlrec_helpers.policy_gradient import count_decreases, worked_example_run

    hist = worked_example_run(alpha, "raw", "diagonal", n_iters=W.WORKED_EXAMPLE_ITERS)
    j, falls = float(hist["J"][-1]), count_decreases(hist["J"])
    if expect == "rises":
        assert falls == 0 and abs(j - 0.94) < 0.01
    elif expect == "near 0.98":
        assert falls >= 100 and abs(j - 0.98) < 0.01
    elif expect == "stalls at 2/3":
        wrong = np.argmax(hist["policy"][-1], axis=1) != np.arange(3)
        assert abs(j - 2 / 3) < 0.01 and wrong.sum() == 1
    else:
        assert abs(j - 1 / 3) < 1e-4
    # with bias features every slider value rises at every step; P1 ('none') stays at 1/3
    assert count_decreases(worked_example_run(alpha, "bias", "diagonal", n_iters=W.WORKED_EXAMPLE_ITERS)["J"]) == 0
    assert abs(worked_example_run(alpha, "none", "diagonal", n_iters=200)["J"][-1] - 1 / 3) < 1e-9


def test_simulator_widget_outcome_that_notebook_05_tells_instructors_to_expect():
    """Notebook 05 §4: with max quality 0 quality-greedy still beats myopic (178.5 against 151.2
    on the widget's 300 sessions)."""
    res = S.compare_policies("default", n_episodes=300, seed=0, quality_min=-3.0, quality_max=0.0)
    qg, my = res["quality-greedy"].mean_return, res["myopic"].mean_return
    assert qg.low > my.high and abs(qg.mean - 178.5) < 0.05 and abs(my.mean - 151.2) < 0.05


def test_domain_session_widget_draws_the_return_in_the_policy_colour(capsys):
    from matplotlib.colors import to_hex
    from rlrec_helpers.plotting import PALETTE

    for policy, color in (("myopic", PALETTE[1]), ("heuristic", PALETTE[4]), ("random", PALETTE[9])):
        W.show_domain_session("ecommerce", policy, 4, agents={})
        assert to_hex(plt.gcf().axes[0].get_lines()[0].get_color()) == color
        plt.close("all")
    capsys.readouterr()


def test_worked_example_widget_labels_states_as_notebook_03_does(capsys):
    from rlrec_helpers.policy_gradient import WORKED_EXAMPLE_STATES

    W.show_worked_example(alpha=1.0, feature_map="bias", reading="diagonal", n_iters=5)
    heat = plt.gcf().axes[1]
    assert [t.get_text() for t in heat.get_yticklabels()] == ["(1,2,3)", "(4,5,6)", "(7,8,9)"]
    assert [t.get_text() for t in heat.get_xticklabels()] == ["e1", "e2", "e3"]
    assert len(WORKED_EXAMPLE_STATES) == 3
    plt.close("all")
    capsys.readouterr()
