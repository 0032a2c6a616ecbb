"""The pure functions behind the widgets (review E #6, #7, #15): their printed text and values."""

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from rlrec_helpers import simulator as S
from rlrec_helpers import widgets as W
from rlrec_helpers.stats import mean_ci


def _result(lengths, returns=None):
    """A simulator.EvalResult with the given session lengths (steps) and returns (minutes)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    returns = np.asarray(lengths * 2.0 if returns is None else returns, dtype=float)
    clicks = lengths // 2
    return S.EvalResult(mean_ci(returns), returns, float(clicks.mean()), float(lengths.mean()), clicks, lengths)


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
    assert capsys.readouterr().out == (f"expected reward of one draw: {ref['expected_reward']:.4f}; "
                                       f"expected reward of a 2-draw slate: {ref['slate_reward']:.4f}\n")
    assert out["expected_reward"] == ref["expected_reward"] and np.array_equal(out["pi"], ref["pi"])
    (ax,) = plt.gcf().axes
    assert ax.get_title() == "simulation 2 after 50 exact gradient steps"
    assert [p.get_height() for p in ax.patches] == list(ref["pi"])
    plt.close("all")


def test_chen_widget_wraps_show_chen_simulation_with_3000_steps(capsys):
    w = W.chen_simulation_widget()
    plt.close("all")
    capsys.readouterr()
    assert w.f is W.show_chen_simulation and w.kwargs["n_steps"] == 3000
    # the notebook-07 widget's default printed text (3000 steps), unchanged
    w.f(sim=2, correction="topk", k=2, lr=0.2, n_steps=3000)
    assert capsys.readouterr().out == ("expected reward of one draw: 9.5233; "
                                       "expected reward of a 2-draw slate: 14.2605\n")
    assert plt.gcf().axes[0].get_title() == "simulation 2 after 3000 exact gradient steps"
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
    rows = [line.split() for line in lines[2:]]
    assert [r[0] for r in rows] == list(res["states"])
    assert [r[1] for r in rows] == list(res["optimal_policy"])
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
        "churned  popular               0.00            0.00    0.00\n")
