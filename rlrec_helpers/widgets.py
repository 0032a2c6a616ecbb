"""Thin ``ipywidgets.interact`` wrappers around pure, tested helper functions.

Rule: a widget function here only wires controls to a function that lives (and is
unit-tested) elsewhere in ``rlrec_helpers``. Each ``*_widget`` returns the
``interactive`` object so tests and notebooks can inspect it; the notebook cell that
shows it is tagged ``nbval-ignore-output`` and the next cell calls the wrapped
function directly so that its output is compared by nbval.

Sections are grouped by notebook.
"""

from __future__ import annotations

from dataclasses import replace

import ipywidgets as widgets
import pandas as pd
import matplotlib.pyplot as plt

from rlrec_helpers._validate import check_choice
from rlrec_helpers.simulator import REWARD_UNITS, get_preset


def _interactive(fn, **controls):
    """``ipywidgets.interactive`` with continuous_update off for sliders (cheap redraws)."""
    for control in controls.values():
        if hasattr(control, "continuous_update"):
            control.continuous_update = False
    w = widgets.interactive(fn, **controls)
    return w


def _show_figure() -> None:
    plt.show()


# --- notebook 07: off-policy correction ---


def show_chen_simulation(sim: int = 2, correction: str = "topk", k: int = 2, lr: float = 0.2,
                         n_steps: int = 3000) -> dict:
    """Run Chen et al.'s simulation ``sim`` with one correction for ``n_steps`` exact gradient
    steps (step size ``lr``); print the expected reward of one draw and of a ``k``-draw slate;
    draw that slate reward at every step (convergence, or oscillation when the step is too large)
    and the final policy π(item). ``k`` is the slate size of the printed slate reward; only the
    ``"topk"`` correction also trains with it (λ_K).

    Wraps :func:`rlrec_helpers.ope.chen_summary` and
    :func:`rlrec_helpers.plotting.plot_policy_distributions`; returns chen_summary's dict.
    """
    from rlrec_helpers.ope import chen_summary
    from rlrec_helpers.plotting import plot_learning_curves, plot_policy_distributions

    out = chen_summary(sim, correction, k=k, lr=lr, n_steps=n_steps)
    print(f"step size {lr:.3g}: expected reward of one draw {out['expected_reward']:.4f}; "
          f"expected reward of a {k}-draw slate {out['slate_reward']:.4f}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    plot_learning_curves({f"{correction}, step size {lr:.3g}": out["slate_rewards"]}, x=out["step"],
                         xlabel="exact gradient step", ylabel=f"expected reward of a {k}-draw slate",
                         title="a curve that settles has converged; a thick band oscillates", ax=axes[0])
    plot_policy_distributions({correction: out["pi"]}, xlabel="item", ylabel="π(item)",
                              title=f"simulation {sim} after {n_steps} steps of size {lr:.3g}", ax=axes[1])
    fig.tight_layout()
    _show_figure()
    return out


def chen_simulation_widget():
    """Sliders over Chen et al.'s simulations: correction, K and step size -> final policy
    after 3000 exact gradient steps.

    Wraps :func:`show_chen_simulation` (and so :func:`rlrec_helpers.ope.chen_summary`).
    """
    from rlrec_helpers.ope import CORRECTIONS

    return _interactive(
        show_chen_simulation,
        sim=widgets.Dropdown(options=[1, 2], value=2, description="simulation"),
        correction=widgets.Dropdown(options=list(CORRECTIONS), value="topk", description="correction"),
        k=widgets.IntSlider(value=2, min=1, max=5, description="slate K"),
        lr=widgets.FloatLogSlider(value=0.2, base=10, min=-2, max=0.5, step=0.1, description="step size"),
        n_steps=widgets.fixed(3000),
    )


# --- notebook 03: policy gradient worked example ---

#: Gradient steps per redraw of the worked-example widget: notebook 03's raw-feature runs
#: (N_ITERS_RAW) use as many, so the widget reproduces its results (about 0.05 s a run).
WORKED_EXAMPLE_ITERS = 2000


def show_worked_example(alpha: float = 1.0, feature_map: str = "bias", reading: str = "diagonal",
                        n_iters: int = WORKED_EXAMPLE_ITERS) -> float:
    """Run exact gradient ascent on the §4.3 task, print the final J and draw it; return final J.

    Wraps :func:`rlrec_helpers.policy_gradient.worked_example_run`,
    :func:`rlrec_helpers.policy_gradient.count_decreases` and
    :func:`rlrec_helpers.plotting.plot_ascent_history`.
    """
    from rlrec_helpers.plotting import plot_ascent_history
    from rlrec_helpers.policy_gradient import (WORKED_EXAMPLE_ACTION_LABELS, WORKED_EXAMPLE_STATE_LABELS,
                                               count_decreases, worked_example_run)

    hist = worked_example_run(alpha, feature_map, reading, n_iters=n_iters)
    drops = count_decreases(hist["J"])
    print(f"alpha={alpha:.4g}, features={feature_map}, reading={reading}: "
          f"J0={hist['J'][0]:.4f}, J{n_iters}={hist['J'][-1]:.4f}, steps where J fell: {drops}")
    plot_ascent_history(hist, title=f"α = {alpha:.3g}, features = {feature_map}, reading = {reading}",
                        state_labels=WORKED_EXAMPLE_STATE_LABELS, action_labels=WORKED_EXAMPLE_ACTION_LABELS)
    _show_figure()
    return float(hist["J"][-1])


def worked_example_widget():
    """Controls for α (log scale), the feature map and the reward reading of §4.3."""
    from rlrec_helpers.policy_gradient import FEATURE_MAPS, READINGS

    return _interactive(
        show_worked_example,
        alpha=widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=1.7, step=0.05, description="α"),
        feature_map=widgets.Dropdown(options=["none", *FEATURE_MAPS], value="bias", description="features"),
        reading=widgets.Dropdown(options=list(READINGS), value="diagonal", description="reading"),
        n_iters=widgets.fixed(WORKED_EXAMPLE_ITERS),
    )


# --- notebook 06: REINFORCE recommender ---


def show_reinforce_retrain(preset: str = "default", gamma: float = 0.99, entropy_coef: float = 0.01,
                           slate_size: int = 3, n_iters: int = 10, *, lr: float | None = None,
                           batch_size: int | None = None, n_eval: int = 300, seed: int = 0) -> dict:
    """Retrain a small REINFORCE agent live (``n_iters`` iterations of ``batch_size`` users,
    constant Adam step ``lr``; None: ``reinforce.LIVE_BATCH`` / ``reinforce.LIVE_LR``) and compare
    its greedy return (minutes per session, ``n_eval`` sessions) with the random policy,
    quality-greedy and the shipped pre-trained agent; print and draw it.

    Wraps :func:`rlrec_helpers.agents.reinforce.retrain_and_compare` and
    :func:`rlrec_helpers.plotting.plot_learning_curves`; returns its dict (``trained``,
    ``random``, ``quality_greedy``, ``pretrained`` or None, ``history``).
    """
    from rlrec_helpers.agents.reinforce import LIVE_BATCH, LIVE_LR, retrain_and_compare
    from rlrec_helpers.plotting import plot_learning_curves

    lr = LIVE_LR if lr is None else lr
    batch_size = LIVE_BATCH if batch_size is None else batch_size
    out = retrain_and_compare(preset, gamma=gamma, entropy_coef=entropy_coef, slate_size=slate_size,
                              n_iters=n_iters, lr=lr, batch_size=batch_size, n_eval=n_eval, seed=seed)
    refs = {"this agent after training (greedy slates)": out["trained"], "random": out["random"],
            "quality-greedy (privileged)": out["quality_greedy"]}
    if out["pretrained"] is not None:
        refs["shipped pre-trained agent (greedy)"] = out["pretrained"]
    shipped_k = get_preset(preset).slate_size
    if out["pretrained"] is not None:
        pretrained = format(out["pretrained"], ".4f")
    elif slate_size != shipped_k:
        pretrained = f"n/a (the shipped agent serves slates of {shipped_k}, not {slate_size})"
    else:
        pretrained = "n/a (no shipped weights found)"
    print(f"small agent (greedy): {out['trained']:.4f}; random: {out['random']:.4f}; "
          f"quality-greedy: {out['quality_greedy']:.4f}; pre-trained: {pretrained}")
    h = out["history"]
    plot_learning_curves({"training return (sampled slates)": h["return"]}, x=h["env_steps"],
                         xlabel="environment steps (user-steps)", ylabel="return (minutes)",
                         references=refs, title=f"{preset}: γ={gamma}, entropy {entropy_coef}, K={slate_size}")
    _show_figure()
    return out


def reinforce_widget(preset: str = "default", lr: float | None = None, batch_size: int | None = None):
    """Sliders for γ, the entropy weight, the slate size and the iterations: retrain a small
    agent live (``batch_size`` users per iteration, Adam step ``lr``; None:
    ``reinforce.LIVE_BATCH`` / ``reinforce.LIVE_LR``) and compare it with quality-greedy and the
    shipped pre-trained agent.

    Wraps :func:`show_reinforce_retrain` (and so
    :func:`rlrec_helpers.agents.reinforce.retrain_and_compare`).
    """
    from rlrec_helpers.agents.reinforce import LIVE_BATCH, LIVE_LR

    # resolved here as well as in show_reinforce_retrain: ipywidgets drops a fixed(None) argument
    lr = LIVE_LR if lr is None else lr
    batch_size = LIVE_BATCH if batch_size is None else batch_size
    return _interactive(
        show_reinforce_retrain,
        preset=widgets.fixed(preset),
        gamma=widgets.FloatSlider(value=0.99, min=0.8, max=1.0, step=0.01, description="γ"),
        entropy_coef=widgets.FloatLogSlider(value=0.01, base=10, min=-4, max=-0.5, step=0.25,
                                            description="entropy"),
        slate_size=widgets.IntSlider(value=3, min=1, max=6, description="slate size"),
        n_iters=widgets.IntSlider(value=10, min=5, max=80, step=5, description="iterations"),
        lr=widgets.fixed(lr),
        batch_size=widgets.fixed(batch_size),
        n_eval=widgets.fixed(300),
        seed=widgets.fixed(0),
    )


# --- notebook 02: bandits ---


def show_bandit_comparison(epsilon: float = 0.1, n_arms: int = 10, gap: float = 0.1,
                           horizon: int = 2000, n_runs: int = 100, seed: int = 0) -> dict:
    """Regret of greedy, ε-greedy, UCB1 and Thompson sampling on a Bernoulli testbed
    (best arm 0.5, the others 0.5 − gap): print the final regrets and draw the curves.

    Wraps :func:`rlrec_helpers.bandits.compare_on_testbed` and
    :func:`rlrec_helpers.plotting.plot_regret_curves`; returns name -> mean final regret.
    """
    from rlrec_helpers.bandits import compare_on_testbed
    from rlrec_helpers.plotting import plot_regret_curves

    out = compare_on_testbed(epsilon=epsilon, n_arms=n_arms, gap=gap, horizon=horizon,
                             n_runs=n_runs, seed=seed)
    finals = {name: float(c[:, -1].mean()) for name, c in out["curves"].items()}
    c_ln_t, worst = out["lai_robbins"][-1], out["max_regret"][-1]
    print(f"{n_arms} arms, gap {gap:.3g}, ε = {epsilon:.3g}, T = {horizon}, {n_runs} runs; "
          f"Lai–Robbins C·ln T = {c_ln_t:.1f}" + (
              f", above gap·T = {worst:.1f}, the regret of never showing the best item: at this horizon "
              "the asymptotic bound says nothing (the reference line is capped at gap·t)" if c_ln_t > worst else ""))
    for name, value in finals.items():
        print(f"  {name:<28} mean regret(T) = {value:.1f}")
    plot_regret_curves(out["curves"],
                       reference_curves={"Lai–Robbins C·ln t (asymptotic), capped at gap·t": out["lai_robbins_capped"]},
                       title=f"{n_arms} arms, gap {gap:.3g}, ε = {epsilon:.3g}: mean and 95% band over {n_runs} runs")
    _show_figure()
    return finals


#: Largest gap of the bandit widget: at 0.5 the worse items would never be clicked (0.5 − 0.5),
#: and greedy, which keeps the first item that earned a click, could no longer get stuck.
BANDIT_GAP_MAX = 0.45


def bandit_regret_widget():
    """Sliders for ε, the number of arms and the gap; redraws the regret curves."""
    return _interactive(
        show_bandit_comparison,
        epsilon=widgets.FloatSlider(value=0.1, min=0.0, max=0.5, step=0.01, description="ε"),
        n_arms=widgets.IntSlider(value=10, min=2, max=50, description="arms"),
        gap=widgets.FloatSlider(value=0.1, min=0.01, max=BANDIT_GAP_MAX, step=0.01, description="gap"),
        horizon=widgets.fixed(2000),
        n_runs=widgets.fixed(100),
        seed=widgets.fixed(0),
    )


# --- notebook 01: RL basics (discount factor) ---
def show_optimal_vs_myopic(gamma: float = 0.9) -> None:
    """Print the optimal policy and V* vs V_myopic (discounted minutes) of the recommendation MDP."""
    from rlrec_helpers.mdp import optimal_vs_myopic

    res = optimal_vs_myopic(gamma)
    print(f"gamma = {gamma:.2f}; values in discounted minutes")
    print(f"{'state':<9}{'optimal action':<16}{'V*':>10}{'V_myopic':>16}{'gain':>8}")
    for s, a, v, vm, g in zip(res["states"], res["optimal_policy"], res["V_optimal"],
                              res["V_myopic"], res["gain"]):
        print(f"{s:<9}{a:<16}{v:>10.2f}{vm:>16.2f}{g:>8.2f}")


def gamma_widget():
    """Slider for the discount factor gamma, redrawing :func:`show_optimal_vs_myopic`."""
    return _interactive(
        show_optimal_vs_myopic,
        gamma=widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="γ"),
    )


# --- notebook 05: user simulator ---


def show_simulator_comparison(quality_min: float = -3.0, quality_max: float = 3.0,
                              no_click_weight: float = 2.0, slate_size: int = 3,
                              n_episodes: int = 300, seed: int = 0) -> dict:
    """Reference policies on the interest-evolution simulator with changed quality means,
    no-click mass or slate size: print a table and draw return / session length with CIs.

    Wraps :func:`rlrec_helpers.simulator.compare_policies`,
    :func:`rlrec_helpers.simulator.truncation_summary` and
    :func:`rlrec_helpers.plotting.plot_policy_comparison`; returns name -> mean return.
    """
    from rlrec_helpers.plotting import plot_policy_comparison
    from rlrec_helpers import simulator

    overrides = dict(quality_min=quality_min, quality_max=quality_max, no_click_weight=no_click_weight,
                     slate_size=slate_size)
    res = simulator.compare_policies("default", n_episodes=n_episodes, seed=seed, **overrides)
    print(f"quality means in [{quality_min:.2f}, {quality_max:.2f}], no-click weight "
          f"{no_click_weight:.2f}, slate size {slate_size}, {n_episodes} sessions per policy")
    for name, r in res.items():
        print(f"  {name:<16} return {r.mean_return.mean:7.1f} ± {r.mean_return.half_width:5.1f} min,"
              f" {r.mean_session_length:6.1f} steps, {r.mean_clicks:5.1f} clicks")
    trunc = simulator.truncation_summary(res, replace(simulator.get_preset("default"), **overrides))
    if any(v > 0 for v in trunc["truncated"].values()):   # printed only then: the usual output is unchanged
        print(f"  sessions cut off at max_steps = {trunc['max_steps']} (their returns measure the cap: a click on "
              f"quality above 1/refill_rate = {trunc['break_even_quality']:.2f} refills more budget than it "
              "costs): " + ", ".join(f"{name} {v:.0%}" for name, v in trunc["truncated"].items() if v > 0))
    plot_policy_comparison(res)
    _show_figure()
    return {name: r.mean_return.mean for name, r in res.items()}


#: Upper end of the simulator widget's max-quality slider: below the break-even quality
#: 1/refill_rate = 3.78 of the default preset, above which a click refills more budget than it
#: costs and sessions run into the max_steps cap (tests/test_domains.py checks it).
SIMULATOR_QUALITY_MAX = 3.5


#: Largest slate of the simulator widget: n_candidates − 1 of the default preset. A slate of all
#: 10 candidates leaves a policy nothing to choose: the four would differ only by sampling noise.
SIMULATOR_SLATE_MAX = get_preset("default").n_candidates - 1


def simulator_widget(n_episodes: int = 300):
    """Sliders for the quality range, the no-click weight and the slate size (notebook 05);
    ``n_episodes`` sessions per policy."""
    return _interactive(
        show_simulator_comparison,
        quality_min=widgets.FloatSlider(value=-3.0, min=-5.0, max=0.0, step=0.25, description="min quality"),
        quality_max=widgets.FloatSlider(value=3.0, min=0.0, max=SIMULATOR_QUALITY_MAX, step=0.25,
                                        description="max quality"),
        no_click_weight=widgets.FloatSlider(value=2.0, min=0.25, max=8.0, step=0.25, description="no-click w₀"),
        slate_size=widgets.IntSlider(value=3, min=1, max=SIMULATOR_SLATE_MAX, description="slate K"),
        n_episodes=widgets.fixed(n_episodes),
        seed=widgets.fixed(0),
    )


# --- notebook 10: large-model fine-tuning ---


def show_finetune_run(runs, key, pretrained_return: float) -> dict:
    """Print the summary of one fine-tuning run and plot its return and KL curves.

    Args:
        runs: ``{(objective, beta): (agent, history)}`` as built in notebook 10.
        key: which run, e.g. ``("grpo", 0.1)``.
        pretrained_return: greedy return of the pretrained model (minutes).
    Returns:
        ``transformer.summarize_finetune`` of the run.
    """
    from rlrec_helpers.agents.transformer import KL_BUDGET, summarize_finetune
    from rlrec_helpers.plotting import plot_finetune_run

    check_choice("key", key, runs)
    history = runs[key][1]
    summary = summarize_finetune(history)
    print(f"{key[0]}, beta={key[1]}: {summary['iterations']} iterations, sampled return of the last 3 "
          f"iterations {summary['final_return']:.2f} min, mean KL {summary['mean_kl']:.4f}, max KL {summary['max_kl']:.4f} nats/step")
    plot_finetune_run(history, pretrained_return=pretrained_return, kl_budget=KL_BUDGET,
                      title=f"{key[0]}, β = {key[1]}")
    _show_figure()
    return summary


def finetune_runs_widget(runs, pretrained_return: float):
    """A dropdown over the fine-tuning runs of notebook 10 (no retraining); wraps
    :func:`show_finetune_run`."""
    options = [(f"{obj}, β = {beta}", (obj, beta)) for obj, beta in runs]
    return _interactive(lambda key: show_finetune_run(runs, key, pretrained_return),
                        key=widgets.Dropdown(options=options, value=options[0][1], description="run"))


# --- notebook 08: application domains ---

#: Reward unit of each application preset (axis labels).
#: Reward unit per preset (``simulator.REWARD_UNITS``, re-exported for notebook 08's plots).
DOMAIN_REWARD_UNITS = REWARD_UNITS


def show_domain_session(domain: str, policy: str, user_seed: int, agents) -> "pd.DataFrame":
    """Simulate and plot one user's session in ``domain`` under ``policy``; return the story.

    Args:
        domain: a preset name of ``simulator.DOMAIN_PRESETS``.
        policy: ``"random"``, ``"myopic"``, ``"heuristic"`` or ``"RL"`` (``agents[domain]``).
        user_seed: which simulated user (the seed of a one-user environment).
        agents: ``{domain: trained agent}`` for the ``"RL"`` choice.
    Returns:
        The :func:`simulator.session_story` DataFrame.
    """
    from rlrec_helpers.plotting import plot_session_story
    from rlrec_helpers.simulator import DOMAIN_POLICIES, DOMAIN_PRESETS, make_reference_policy, session_story

    check_choice("domain", domain, DOMAIN_PRESETS)
    check_choice("policy", policy, DOMAIN_POLICIES + ("RL",))
    if policy == "RL":
        if domain not in agents:
            raise ValueError(f"agents has no trained agent for domain {domain!r}")
        pol = agents[domain]
    else:
        pol = make_reference_policy(policy, seed=user_seed)
    story = session_story(pol, domain, seed=user_seed)
    print(f"{domain}, {policy}, user {user_seed}: {len(story)} steps, "
          f"{int((story['choice'] != '-').sum())} responses, return {story['return'].iloc[-1]:.2f}")
    print(story.head(8).round(3).to_string(index=False))
    plot_session_story(story, reward_unit=DOMAIN_REWARD_UNITS[domain], title=f"{domain}: {policy}",
                       policy="REINFORCE" if policy == "RL" else policy)
    _show_figure()
    return story


def domain_session_widget(agents):
    """Dropdowns (domain, policy) and a user slider over :func:`show_domain_session`."""
    from rlrec_helpers.simulator import DOMAIN_POLICIES, DOMAIN_PRESETS

    return _interactive(
        lambda domain, policy, user_seed: show_domain_session(domain, policy, user_seed, agents),
        domain=widgets.Dropdown(options=list(DOMAIN_PRESETS), value="ecommerce", description="domain"),
        policy=widgets.Dropdown(options=list(DOMAIN_POLICIES) + ["RL"], value="RL", description="policy"),
        user_seed=widgets.IntSlider(value=0, min=0, max=20, description="user"),
    )
