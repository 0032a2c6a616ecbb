"""Tests of rlrec_helpers.simulator (RecSim interest evolution, numpy)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rlrec_helpers import simulator as S
from rlrec_helpers.simulator import (
    PRESETS, BatchEnv, InterestEvolutionEnv, InterestQualityBlendPolicy, LongTermValuePolicy,
    MyopicPolicy, QualityGreedyPolicy, RandomPolicy, SimulatorConfig, evaluate, get_preset,
)
from rlrec_helpers.stats import mean_ci


# ----------------------------------------------------------------- configuration


def test_default_config_matches_recsim():
    c = get_preset("default")
    assert (c.n_topics, c.n_trashy, c.n_candidates, c.slate_size) == (20, 14, 10, 3)
    assert c.time_budget == 200.0 and c.doc_length == 4.0 and c.no_click_weight == 2.0
    assert c.refill_rate == pytest.approx(0.9 / 3.4) and c.no_click_cost == 0.5
    m = S.cluster_quality_means(c)
    assert m.shape == (20,)
    assert m[0] == -3.0 and m[13] == 0.0 and m[14] == 0.0 and m[19] == 3.0
    assert np.all(np.diff(m) >= 0)
    assert get_preset("costly_browsing").no_click_cost == 4.0
    assert set(PRESETS) >= {"default", "costly_browsing"}
    assert get_preset(c) is c


@pytest.mark.parametrize("field,value", [
    ("n_topics", 0), ("n_trashy", 21), ("slate_size", 11), ("slate_size", 0), ("choice_model", "softmaxx"),
    ("no_click_weight", 0.0), ("no_click_cost", -1.0), ("refill_rate", 1.5), ("interest_step", 2.0),
    ("doc_length", 0.0), ("time_budget", -5.0), ("quality_std", -0.1), ("quality_signal_noise", -1.0),
    ("quality_means", (1.0, 2.0)), ("quality_min", float("nan")), ("max_steps", 0),
])
def test_invalid_config_raises_naming_field(field, value):
    cfg = dataclasses.replace(SimulatorConfig(), **{field: value})
    with pytest.raises(ValueError, match=field):
        cfg.validate()
    with pytest.raises(ValueError):
        BatchEnv(cfg, 2, seed=0)


def test_unknown_preset_lists_known():
    with pytest.raises(ValueError, match="costly_browsing"):
        get_preset("nope")
    # the shared format (rlrec_helpers._validate.check_choice), presets in registration order
    with pytest.raises(ValueError, match=r"^preset must be one of 'default', 'costly_browsing', 'ecommerce', "):
        get_preset("nope")
    for bad in (["default"], 3, None):  # unhashable or not a name: ValueError, never TypeError
        with pytest.raises(ValueError, match=r"^preset must be one of "):
            get_preset(bad)


def test_unknown_reference_policy_and_choice_model_use_the_shared_message():
    with pytest.raises(ValueError, match=r"^name must be one of 'random', 'myopic', 'quality-greedy', "
                                         r"'long-term value', 'blend', 'heuristic', got 'oracle'$"):
        S.make_reference_policy("oracle")
    with pytest.raises(ValueError, match=r"^name must be one of .*, got \['random'\]$"):
        S.make_reference_policy(["random"])  # a dict lookup would raise TypeError
    with pytest.raises(ValueError, match=r"^choice_model must be one of 'proportional', 'mnl', got 'logit'$"):
        SimulatorConfig(choice_model="logit").validate()
    with pytest.raises(ValueError, match=r"^user_model must be one of 'interest_evolution', .*, got \{\}$"):
        SimulatorConfig(user_model={}).validate()


# ----------------------------------------------------------------- model pieces


def test_choice_probabilities_proportional_and_mnl():
    p = S.choice_probabilities([0.0, 0.0, 0.0])
    np.testing.assert_allclose(p, [0.2, 0.2, 0.2, 0.4])  # item weighs u.f + 1 = 1, no click 2
    p = S.choice_probabilities([1.0, -1.0, 0.5])
    np.testing.assert_allclose(p, np.array([2.0, 0.0, 1.5, 2.0]) / 5.5)
    mnl = dataclasses.replace(SimulatorConfig(), choice_model="mnl")
    p = S.choice_probabilities([0.0, 0.0, 0.0], mnl)
    e = np.exp(1.0)
    np.testing.assert_allclose(p, np.array([1, 1, 1, e]) / (3 + e))
    with pytest.raises(ValueError):
        S.choice_probabilities([2.0, 0.0, 0.0])


@pytest.mark.parametrize("w0", [1000.0, -1000.0, 51.0])
def test_mnl_no_click_weight_is_bounded(w0):
    mnl = dataclasses.replace(SimulatorConfig(), choice_model="mnl", no_click_weight=w0)
    with pytest.raises(ValueError, match=r"no_click_weight.*\[-50\.0, 50\.0\].*mnl"):
        S.choice_probabilities([0.0, 0.0, 0.0], mnl)
    with pytest.raises(ValueError, match="no_click_weight"):
        BatchEnv(mnl, 2, seed=0)
    ok = dataclasses.replace(SimulatorConfig(), choice_model="mnl", no_click_weight=50.0)
    p = S.choice_probabilities([1.0, 1.0, 1.0], ok)
    assert np.all(np.isfinite(p)) and abs(p.sum() - 1) < 1e-12
    # the proportional model keeps its own rule (w0 > 0, any finite size)
    dataclasses.replace(SimulatorConfig(), no_click_weight=1000.0).validate()


def test_interest_update_formula():
    (up, down), p_up = S.interest_update(np.array([0.5, -0.5, 1.0, -1.0]))
    alpha = 0.3 * (1 - 0.5)
    np.testing.assert_allclose(up[:2], [0.5 + alpha * 0.5, -0.5 + alpha * 1.5])
    np.testing.assert_allclose(down[:2], [0.5 - alpha * 0.5, -0.5 - alpha * 1.5])
    np.testing.assert_allclose(p_up, [0.75, 0.25, 1.0, 0.0])
    assert up[2] == 1.0 and down[3] == -1.0  # |u| = 1 is absorbing (alpha = 0)


# ----------------------------------------------------------------- batch env


def test_obs_shapes_and_dtypes():
    cfg = dataclasses.replace(SimulatorConfig(), quality_signal_noise=0.5)
    env = BatchEnv(cfg, 7, seed=3)
    obs = env.reset()
    assert obs["candidate_features"].shape == (7, 10, 21) and obs["candidate_features"].dtype == np.float32
    assert obs["candidate_clusters"].shape == (7, 10) and obs["candidate_clusters"].dtype == np.int64
    np.testing.assert_array_equal(obs["candidate_features"][..., :20].argmax(-1), obs["candidate_clusters"])
    assert np.all(obs["clicked"] == -1) and np.all(obs["clicked_cluster"] == -1)
    assert obs["clicked"].dtype == np.int64 and obs["watch_time"].dtype == np.float64
    assert obs["active"].dtype == bool and obs["active"].all()
    obs, r, term, info = env.step(np.tile([0, 1, 2], (7, 1)))
    assert r.shape == (7,) and r.dtype == np.float64 and term.dtype == bool
    assert info["truncated"].shape == (7,)
    p = env.privileged()
    assert p["interests"].shape == (7, 20) and p["candidate_quality"].shape == (7, 10)
    assert p["cluster_quality_means"].shape == (20,) and p["budget"].shape == (7,)
    # the noisy quality column is the true quality plus N(0, 0.5^2) noise: check the mean and the
    # sd of (signal - quality) on 20 000 candidates (standard errors 0.0035 and 0.0025)
    big = BatchEnv(cfg, 2000, seed=4)
    sig = big.reset()["candidate_features"][..., 20].astype(float)
    err = sig - big.privileged()["candidate_quality"]
    assert err.shape == (2000, 10)
    assert abs(err.mean()) < 4 * 0.5 / np.sqrt(err.size)
    assert err.std() == pytest.approx(0.5, rel=0.03)
    assert BatchEnv("default", 2, seed=0).reset()["candidate_features"].shape == (2, 10, 20)


@pytest.mark.parametrize("bad, message", [
    (np.tile([0, 1], (4, 1)), r"shape \(batch_size, slate_size\)"),          # wrong length
    (np.tile([0, 0, 1], (4, 1)), "duplicate"),                                 # duplicates
    (np.tile([0, 1, 10], (4, 1)), r"in \[0, n_candidates=10\)"),               # out of range
    (np.tile([-1, 1, 2], (4, 1)), r"in \[0, n_candidates=10\)"),               # negative
    (np.zeros((3, 3), dtype=int) + [0, 1, 2], r"shape \(batch_size, slate_size\)"),  # wrong batch
    (np.full((4, 3), 0.5), "integer"),                                         # non-integer
])
def test_invalid_slates_raise(bad, message):
    env = BatchEnv("default", 4, seed=0)
    env.reset()
    with pytest.raises(ValueError, match=message):
        env.step(bad)


def _rollout(env, policy, seed):
    obs = env.reset(seed=seed)
    policy.reset(env.batch_size)
    trace = []
    while obs["active"].any():
        s = policy.act(obs, env)
        obs, r, t, _ = env.step(s)
        trace.append((obs["candidate_clusters"].copy(), obs["clicked"].copy(), r.copy(), t.copy()))
    return trace


def test_same_seed_same_trajectory_and_different_seed_differs():
    a = _rollout(BatchEnv("default", 16, seed=0), RandomPolicy(5), seed=11)
    b = _rollout(BatchEnv("default", 16, seed=99), RandomPolicy(5), seed=11)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)
    c = _rollout(BatchEnv("default", 16, seed=0), RandomPolicy(5), seed=12)
    assert len(c) != len(a) or any(not np.array_equal(x[2], y[2]) for x, y in zip(a, c))


def test_budget_and_interest_dynamics_step_by_step():
    cfg = get_preset("default")
    env = BatchEnv(cfg, 256, seed=1)
    obs = env.reset()
    for _ in range(30):
        before = env.privileged()
        slates = MyopicPolicy().act(obs, env)
        obs2, r, term, _ = env.step(slates)
        after = env.privileged()
        act = obs["active"]
        clicked = (obs2["clicked"] >= 0) & act
        rows = np.nonzero(clicked)[0]
        pos = obs2["clicked"][rows]
        idx = slates[rows, pos]
        q = before["candidate_quality"][rows, idx]
        watch = np.minimum(before["budget"][rows], 4.0)
        np.testing.assert_allclose(r[rows], watch)
        np.testing.assert_allclose(after["budget"][rows],
                                   before["budget"][rows] - watch + (0.9 / 3.4) * watch * q)
        c = obs["candidate_clusters"][rows, idx]
        np.testing.assert_array_equal(obs2["clicked_cluster"][rows], c)
        u0 = before["interests"][rows, c]
        u1 = after["interests"][rows, c]
        (up, down), _ = S.interest_update(u0)
        assert np.all(np.isclose(u1, up) | np.isclose(u1, down))
        # other topics unchanged
        mask = np.ones_like(before["interests"], dtype=bool)
        mask[rows, c] = False
        np.testing.assert_array_equal(after["interests"][mask], before["interests"][mask])
        nc = np.nonzero(act & ~clicked)[0]
        np.testing.assert_allclose(after["budget"][nc], before["budget"][nc] - 0.5)
        assert np.all(r[nc] == 0)
        np.testing.assert_array_equal(term, act & (after["budget"] <= 0))
        obs = obs2


def test_inactive_users_frozen_until_reset():
    env = BatchEnv("costly_browsing", 64, seed=2)
    obs = env.reset()
    pol = RandomPolicy(0)
    frozen_seen = False
    while obs["active"].any():
        inactive = ~obs["active"]
        before = env.privileged()
        obs, r, t, _ = env.step(pol.act(obs, env))
        if inactive.any():
            frozen_seen = True
            assert np.all(r[inactive] == 0) and not t[inactive].any()
            np.testing.assert_array_equal(env.privileged()["budget"][inactive], before["budget"][inactive])
            assert not obs["active"][inactive].any()
    assert frozen_seen
    assert env.reset()["active"].all()


def test_autoreset_restarts_users_independently():
    env = BatchEnv("costly_browsing", 32, seed=3, autoreset=True)
    obs = env.reset()
    pol = RandomPolicy(1)
    finished, returns = 0, []
    for _ in range(200):
        obs, r, t, info = env.step(pol.act(obs, env))
        assert obs["active"].all()
        if t.any():
            finished += int(t.sum())
            returns.extend(info["episode_return"][t])
            assert np.all(obs["clicked"][t] == -1)
            np.testing.assert_allclose(env.privileged()["budget"][t], 200.0)
            assert np.all(np.isnan(info["episode_return"][~t]))
    assert finished > 32  # some rows restarted more than once
    # finished sessions look like costly-browsing random sessions (mean return ~ 106)
    assert 80 < np.mean(returns) < 135


def test_batch_agrees_with_reference_python_loop_in_distribution():
    cfg = get_preset("default")
    rng = np.random.default_rng(0)
    ref = np.array([S.reference_episode(cfg, rng) for _ in range(600)])
    res = evaluate(RandomPolicy(0), cfg, 3000, seed=4)
    r_ref, r_b = mean_ci(ref[:, 0]), res.mean_return
    se = np.hypot(r_ref.half_width, r_b.half_width) / 1.96
    assert abs(r_ref.mean - r_b.mean) < 4 * se
    assert abs(ref[:, 2].mean() - res.mean_session_length) < 4 * np.hypot(
        ref[:, 2].std() / np.sqrt(600), res.session_lengths.std() / np.sqrt(3000))


def test_evaluate_shared_seed_set_and_validation():
    a = evaluate(MyopicPolicy(), "default", 300, seed=9, batch_size=128)
    b = evaluate(MyopicPolicy(), "default", 300, seed=9, batch_size=128)
    np.testing.assert_array_equal(a.returns, b.returns)
    assert a.returns.shape == (300,) and a.mean_return.n == 300
    assert a.mean_clicks > 0 and a.mean_session_length > a.mean_clicks
    np.testing.assert_allclose(a.returns.mean(), a.mean_return.mean)
    # returns are whole clicks of 4 minutes except the last, shorter watch
    assert np.all(a.returns <= 4.0 * a.clicks + 1e-9)
    with pytest.raises(ValueError, match="n_episodes must be an integer >= 2"):
        evaluate(MyopicPolicy(), "default", 0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        evaluate(MyopicPolicy(), "default", 10, seed=-1)


# ----------------------------------------------------------------- policies


def _valid(sl, n):
    return np.all((sl >= 0) & (sl < n)) and all(np.unique(r).size == r.size for r in sl)


def test_policies_return_valid_slates_with_expected_choices():
    env = BatchEnv("default", 50, seed=5)
    obs = env.reset()
    p = env.privileged()
    cl = obs["candidate_clusters"]
    u = np.take_along_axis(p["interests"], cl, 1)
    m = p["cluster_quality_means"][cl]
    for pol in [RandomPolicy(0), MyopicPolicy(), QualityGreedyPolicy(), LongTermValuePolicy(1.0),
                InterestQualityBlendPolicy(2.0)]:
        pol.reset(50)
        sl = pol.act(obs, env)
        assert sl.shape == (50, 3) and _valid(sl, 10)
    sl = MyopicPolicy().act(obs, env)
    np.testing.assert_allclose(np.sort(np.take_along_axis(u, sl, 1), 1), np.sort(u, 1)[:, -3:])
    sl = QualityGreedyPolicy().act(obs, env)
    np.testing.assert_allclose(np.sort(np.take_along_axis(m, sl, 1), 1), np.sort(m, 1)[:, -3:])
    # LTV with weight 0 maximises click probability = myopic (proportional model)
    np.testing.assert_allclose(np.sort(np.take_along_axis(u, LongTermValuePolicy(0.0).act(obs, env), 1), 1),
                               np.sort(u, 1)[:, -3:])
    with pytest.raises(ValueError):
        LongTermValuePolicy(-1.0)
    with pytest.raises(ValueError):
        InterestQualityBlendPolicy(float("nan"))


def test_ltv_slate_is_exact_optimum_of_its_objective():
    import itertools
    cfg = get_preset("default")
    env = BatchEnv(cfg, 20, seed=6)
    obs = env.reset()
    p = env.privileged()
    lam = 0.8
    sl = LongTermValuePolicy(lam).act(obs, env)
    cl = obs["candidate_clusters"]
    u = np.take_along_axis(p["interests"], cl, 1)
    m = p["cluster_quality_means"][cl]

    def objective(row, s):
        w = u[row, list(s)] + 1.0
        pr = w / (w.sum() + 2.0)
        p0 = 2.0 / (w.sum() + 2.0)
        r = (pr * 4).sum()
        d = (pr * 4 * (1 - cfg.refill_rate * m[row, list(s)])).sum() + p0 * cfg.no_click_cost
        return r - lam * d

    for row in range(20):
        best = max(objective(row, s) for s in itertools.combinations(range(10), 3))
        assert objective(row, sl[row]) == pytest.approx(best, abs=1e-9)


def test_far_sighted_beats_myopic_on_both_presets():
    for preset in ("default", "costly_browsing"):
        my = evaluate(MyopicPolicy(), preset, 1000, seed=1)
        qg = evaluate(QualityGreedyPolicy(), preset, 1000, seed=1)
        assert qg.mean_return.low > my.mean_return.high
        assert qg.mean_session_length > my.mean_session_length


def test_calibration_against_slateq_table():
    rnd = evaluate(RandomPolicy(0), "default", 2000, seed=0)
    my = evaluate(MyopicPolicy(), "default", 2000, seed=0)
    assert rnd.mean_return.mean == pytest.approx(159.2, rel=0.03)
    assert my.mean_return.mean == pytest.approx(166.3, rel=0.03)


# ----------------------------------------------------------------- gymnasium


def test_gymnasium_env_passes_check_env():
    from gymnasium.utils.env_checker import check_env

    env = InterestEvolutionEnv("default")
    check_env(env, skip_render_check=True)
    env2 = InterestEvolutionEnv(dataclasses.replace(SimulatorConfig(), quality_signal_noise=0.3))
    check_env(env2, skip_render_check=True)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_gymnasium_make_builds_every_preset(preset):
    """gymnasium.make("rlrec/<preset>-v0", seed=...) is SimulatorEnv(preset, seed=...) behind the
    usual wrappers: same config, same observations and rewards step for step."""
    import gymnasium as gym

    from rlrec_helpers.simulator import GYM_IDS

    assert GYM_IDS[preset] == f"rlrec/{preset}-v0"
    made, direct = gym.make(GYM_IDS[preset], seed=11), InterestEvolutionEnv(preset, seed=11)
    assert made.unwrapped.config == get_preset(preset)
    (o1, _), (o2, _) = made.reset(), direct.reset()
    for _ in range(5):
        assert o1.keys() == o2.keys() and all(np.array_equal(o1[k], o2[k]) for k in o1)
        action = np.flatnonzero(o1["candidate_mask"])[:made.unwrapped.config.slate_size]
        (o1, r1, t1, u1, _), (o2, r2, t2, u2, _) = made.step(action), direct.step(action)
        assert (r1, t1, u1) == (r2, t2, u2)
        if t1 or u1:
            break


def test_gymnasium_env_seeding_validation_and_episode():
    env = InterestEvolutionEnv("costly_browsing")
    o1, _ = env.reset(seed=4)
    o2, _ = env.reset(seed=4)
    np.testing.assert_array_equal(o1["candidate_clusters"], o2["candidate_clusters"])
    assert env.observation_space.contains(o1)
    assert not env.action_space.contains(np.array([1, 1, 2]))
    with pytest.raises(ValueError):
        env.step(np.array([1, 1, 2]))
    with pytest.raises(ValueError):
        env.step(np.array([1, 2]))
    total, done, steps = 0.0, False, 0
    while not done:
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        total += r
        steps += 1
        done = term or trunc
    assert term and env.privileged()["budget"] <= 0
    assert total > 0 and steps > 10
    with pytest.raises(RuntimeError):
        env.step(np.array([0, 1, 2]))


def test_single_env_matches_batch_of_one_and_distribution():
    # identical trajectory to a batch of one with the same seed
    env = InterestEvolutionEnv("default")
    obs, _ = env.reset(seed=21)
    b = BatchEnv("default", 1, seed=21)
    bo = b.reset()
    np.testing.assert_array_equal(obs["candidate_clusters"], bo["candidate_clusters"][0])
    for _ in range(20):
        a = np.array([0, 1, 2])
        obs, r, term, _, _ = env.step(a)
        bo, br, bt, _ = b.step(a[None])
        assert r == br[0] and term == bt[0]
        if term:
            break
    # distribution: 300 single-env random episodes vs the batch evaluator
    rets = []
    env = InterestEvolutionEnv("default")
    for s in range(300):
        env.reset(seed=1000 + s)
        done, tot = False, 0.0
        while not done:
            _, r, term, trunc, _ = env.step(env.action_space.sample())
            tot += r
            done = term or trunc
        rets.append(tot)
    single = mean_ci(rets)
    batch = evaluate(RandomPolicy(3), "default", 2000, seed=8).mean_return
    assert abs(single.mean - batch.mean) < 4 * np.hypot(single.half_width, batch.half_width) / 1.96


def test_reset_after_construction_equals_seeded_reset():
    a = BatchEnv("default", 5, seed=13).reset()
    b = BatchEnv("default", 5, seed=0).reset(seed=13)
    np.testing.assert_array_equal(a["candidate_clusters"], b["candidate_clusters"])
    env = BatchEnv("default", 5, seed=13)
    env.reset()
    c = env.reset()  # a second reset draws new users and documents
    assert not np.array_equal(a["candidate_clusters"], c["candidate_clusters"])


def test_compare_policies_and_overrides():
    out = S.compare_policies(n_episodes=200, seed=1)
    assert list(out) == list(S.REFERENCE_POLICIES)
    assert out["quality-greedy"].mean_return.mean > out["myopic"].mean_return.mean
    small = S.compare_policies(n_episodes=200, seed=1, policies=("random",), slate_size=1, no_click_weight=6.0)
    assert small["random"].mean_return.mean < out["random"].mean_return.mean  # fewer clicks per step
    with pytest.raises(ValueError, match="unknown"):
        S.compare_policies(n_episodes=10, foo=1)
    with pytest.raises(ValueError, match="slate_size"):
        S.compare_policies(n_episodes=10, slate_size=11)
    with pytest.raises(ValueError):
        S.make_reference_policy("oracle")


def test_session_trace_consistent_with_evaluate():
    tr = S.session_trace(MyopicPolicy(), "default", 100, seed=2)
    ev = evaluate(MyopicPolicy(), "default", 100, seed=2, batch_size=100)
    # evaluate's first batch uses a derived seed; compare distributions loosely and shapes exactly
    assert tr["budget"].shape == tr["reward"].shape == tr["active"].shape
    assert tr["length"].max() == tr["budget"].shape[1]
    np.testing.assert_allclose(tr["episode_return"], tr["reward"].sum(1))
    assert np.all(tr["budget"][np.arange(100), tr["length"] - 1] == 0)
    assert abs(tr["episode_return"].mean() - ev.mean_return.mean) < 25
    # the trace is the rollout of the policy it was given: replay MyopicPolicy on the same users
    env = BatchEnv("default", 100, seed=2)
    obs, pol, rewards = env.reset(), MyopicPolicy(), []
    pol.reset(100)
    while obs["active"].any():
        obs, reward, _, _ = env.step(pol.act(obs, env))
        rewards.append(reward)
    np.testing.assert_array_equal(tr["reward"], np.stack(rewards, axis=1))
    assert np.all((tr["click_prob"] > 0) & (tr["click_prob"] < 1))
    # click rate matches the model's click probability on average
    act = tr["active"]
    assert abs(tr["clicked"][act].mean() - tr["click_prob"][act].mean()) < 0.02


def test_plot_policy_comparison_and_widget():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlrec_helpers import plotting, widgets

    res = S.compare_policies(n_episodes=50, seed=0, policies=("random", "myopic"))
    axes = plotting.plot_policy_comparison(res)
    assert len(axes) == 2 and "minutes" in axes[0].get_ylabel() and "steps" in axes[1].get_ylabel()
    assert len(axes[0].patches) == 2
    plt.close("all")
    with pytest.raises(ValueError):
        plotting.plot_policy_comparison({})
    out = widgets.show_simulator_comparison(n_episodes=50, slate_size=2)
    assert set(out) == set(S.REFERENCE_POLICIES)
    plt.close("all")
    w = widgets.simulator_widget()
    assert {c.description for c in w.children[:4]} >= {"slate K", "no-click w₀"}
    plt.close("all")


def test_single_env_constructor_seed_used_once():
    a, _ = InterestEvolutionEnv("default", seed=5).reset()
    env = InterestEvolutionEnv("default")
    b, _ = env.reset(seed=5)
    np.testing.assert_array_equal(a["candidate_clusters"], b["candidate_clusters"])
    env = InterestEvolutionEnv("default", seed=5)
    env.reset()
    c, _ = env.reset()
    assert not np.array_equal(a["candidate_clusters"], c["candidate_clusters"])


# ----------------------------------------------------------------- pluggable user models (issue 8)


def test_default_presets_are_bit_identical_to_the_original_port():
    """Regression snapshot, not a correctness check: the interest-evolution presets keep their
    random streams (values recorded before the user model became pluggable), so that committed
    notebook outputs and shipped-weight evaluations stay comparable. Correctness is checked
    independently elsewhere (the per-user reference loop, the SlateQ table values)."""
    assert evaluate(RandomPolicy(0), "default", 300, seed=1).mean_return.mean == pytest.approx(
        160.73070508340135, rel=1e-12)
    assert evaluate(MyopicPolicy(), "default", 300, seed=1).mean_return.mean == pytest.approx(
        169.00116191442555, rel=1e-12)
    assert evaluate(RandomPolicy(0), "costly_browsing", 300, seed=1).mean_return.mean == pytest.approx(
        106.34423534533492, rel=1e-12)
    assert evaluate(LongTermValuePolicy(1.0), "costly_browsing", 300, seed=1).mean_return.mean == \
        pytest.approx(154.84136073937, rel=1e-12)


def test_default_config_uses_interest_evolution_and_reports_mask():
    cfg = get_preset("default")
    assert cfg.user_model == "interest_evolution" and cfg.model_params is None
    assert isinstance(BatchEnv(cfg, 1, seed=0).model, S.InterestEvolutionModel)
    env = BatchEnv("default", 5, seed=0)
    obs = env.reset()
    assert obs["candidate_mask"].shape == (5, 10) and obs["candidate_mask"].dtype == bool
    assert obs["candidate_mask"].all()
    assert obs["candidate_features"].shape[-1] == cfg.n_features == len(cfg.feature_names)
    genv = InterestEvolutionEnv("default")
    o, _ = genv.reset(seed=0)
    assert "candidate_mask" in genv.observation_space.spaces and genv.observation_space.contains(o)
    assert o["candidate_mask"].all()
    assert set(genv.privileged()) == {"interests", "candidate_quality", "cluster_quality_means", "budget"}
    # the generic long-term heuristic is the LTV policy here
    np.testing.assert_array_equal(S.LongTermHeuristicPolicy(0.7).act(obs, env), LongTermValuePolicy(0.7).act(obs, env))
    np.testing.assert_array_equal(MyopicPolicy().act(obs, env), LongTermValuePolicy(0.0).act(obs, env))


def test_batch_env_accepts_a_plugged_user_model():
    from rlrec_helpers.simulator import BatchEnv, InterestEvolutionModel, SimulatorConfig, get_preset

    class FixedCluster(InterestEvolutionModel):
        def sample_items(self, rng, b):
            items = super().sample_items(rng, b)
            items["cluster"][:] = 3
            return items

    cfg = get_preset("default")
    env = BatchEnv(cfg, 4, seed=1, user_model=FixedCluster(cfg))
    obs = env.reset(seed=2)
    assert (obs["candidate_clusters"] == 3).all()
    assert (obs["candidate_features"][..., 3] == 1).all()
    with pytest.raises(ValueError, match="user_model must be None or a UserModel"):
        BatchEnv(cfg, 2, user_model="default")
    with pytest.raises(ValueError, match="user_model.config"):
        BatchEnv(cfg, 2, user_model=FixedCluster(SimulatorConfig(no_click_cost=4.0)))


def test_every_preset_names_its_reward_unit():
    from rlrec_helpers.simulator import PRESETS, REWARD_UNITS

    assert set(REWARD_UNITS) == set(PRESETS)
    assert all(isinstance(u, str) and u.strip() for u in REWARD_UNITS.values())


# ----------------------------------------------------------------- review R4 (API)


def _random_slates_of_one_call(policy, b=4, steps=3):
    """The slates ``policy`` shows in one run (reset, then ``steps`` acts) on a fixed env."""
    env = BatchEnv("default", b, seed=0)
    obs = env.reset()
    policy.reset(b)
    return [policy.act(obs, env) for _ in range(steps)]


def test_random_policy_evaluate_twice_on_one_instance_is_reproducible():
    """R4 #1: a second evaluate call of the same RandomPolicy gives the first call's episodes,
    and the first call (3 batches, so the stream runs on across batches) is unchanged: it equals
    a hand-rolled loop that draws from one generator seeded once, as before the fix."""
    pol = RandomPolicy(0)
    first = evaluate(pol, "default", 50, seed=1, batch_size=20)
    second = evaluate(pol, "default", 50, seed=1, batch_size=20)
    np.testing.assert_array_equal(first.returns, second.returns)
    np.testing.assert_array_equal(first.session_lengths, second.session_lengths)
    # first call of a fresh instance: one stream over all 3 batches (the pre-fix behaviour)
    rng = np.random.default_rng(0)
    expected = []
    for env in S.evaluation_envs("default", 50, 1, 20):
        obs, ret = env.reset(), np.zeros(env.batch_size)
        while obs["active"].any():
            sl = S._top_k(rng.random(obs["candidate_clusters"].shape), 3, obs.get("candidate_mask"))
            obs, r, _, _ = env.step(sl)
            ret += r
        expected.append(ret)
    np.testing.assert_array_equal(first.returns, np.concatenate(expected))
    # the order of evaluations no longer matters (benchmarks/simulator.py's calibration)
    pol = RandomPolicy(3)
    evaluate(pol, "default", 30, seed=2)
    after = evaluate(pol, "costly_browsing", 30, seed=2)
    fresh = evaluate(RandomPolicy(3), "costly_browsing", 30, seed=2)
    np.testing.assert_array_equal(after.returns, fresh.returns)
    # reset restarts the stream; reset_next_batch continues it
    a = _random_slates_of_one_call(pol)
    b = _random_slates_of_one_call(pol)
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    pol.reset(4)
    x = pol.act({"candidate_clusters": np.zeros((4, 10), int)}, BatchEnv("default", 4))
    pol.reset_next_batch(4)
    y = pol.act({"candidate_clusters": np.zeros((4, 10), int)}, BatchEnv("default", 4))
    assert not np.array_equal(x, y)


def test_count_unsuitable_is_reproducible_on_one_mask_ignoring_policy():
    """R4 #1: count_unsuitable resets a RandomPolicy (through MaskIgnoringPolicy) at each call.
    (Every user meets a masked product in the first batch, so the call never reaches batch 2.)"""
    pol = S.MaskIgnoringPolicy(RandomPolicy(0))
    a = S.count_unsuitable(pol, "finance", n_episodes=40, seed=1, batch_size=10)
    b = S.count_unsuitable(pol, "finance", n_episodes=40, seed=1, batch_size=10)
    assert a == b and a["unsuitable"] > 0


def test_mask_ignoring_policy_passes_reset_and_reset_next_batch_through():
    """reset restarts the wrapped RandomPolicy's stream; reset_next_batch continues it."""
    pol = S.MaskIgnoringPolicy(RandomPolicy(0))
    env = BatchEnv("finance", 4, seed=0)
    obs = env.reset()
    pol.reset(4)
    x = pol.act(obs, env)
    pol.reset_next_batch(4)
    y = pol.act(obs, env)
    assert not np.array_equal(x, y)                     # the stream went on
    pol.reset(4)
    np.testing.assert_array_equal(pol.act(obs, env), x)  # and restarts at the seed


def test_simulator_env_explicit_reset_seed_takes_precedence_over_the_constructor_seed():
    """R4 #5: after reset(seed=7), the next seedless reset continues from 7, whatever the
    constructor's seed (gymnasium semantics); the constructor seed is used by a first seedless
    reset only."""
    def second_episode(ctor_seed):
        env = S.SimulatorEnv("default", seed=ctor_seed)
        env.reset(seed=7)
        return env.reset()[0]["candidate_clusters"]

    np.testing.assert_array_equal(second_episode(5), second_episode(None))
    np.testing.assert_array_equal(second_episode(5), second_episode(11))
    first_of_5 = S.SimulatorEnv("default", seed=5).reset()[0]["candidate_clusters"]
    assert not np.array_equal(second_episode(5), first_of_5)
    env = S.SimulatorEnv("default", seed=5)
    np.testing.assert_array_equal(env.reset()[0]["candidate_clusters"], first_of_5)


def _brute_force_best(w, a, w0, a0, k, allowed):
    from itertools import combinations

    best = -np.inf
    for s in combinations(np.flatnonzero(allowed), k):
        s = list(s)
        best = max(best, (np.sum(w[s] * a[s]) + w0 * a0) / (np.sum(w[s]) + w0))
    return best


def test_best_ratio_slates_accepts_zero_weights_and_stays_exact():
    """R4 #3: w = 0 occurs in the proportional model (interest -1) and stays accepted; the
    validated function is still exact against brute force."""
    rng = np.random.default_rng(4)
    for _ in range(40):
        n, k = 7, int(rng.integers(1, 4))
        w = rng.exponential(size=(1, n)) * (rng.random((1, n)) > 0.3)
        a = rng.normal(size=(1, n))
        mask = rng.random((1, n)) < 0.8
        mask[0, :k] = True
        idx = S.best_ratio_slates(w, a, 1.5, -0.2, k, mask)
        got = (np.sum(w[0, idx[0]] * a[0, idx[0]]) - 0.3) / (np.sum(w[0, idx[0]]) + 1.5)
        assert mask[0, idx[0]].all() and idx.shape == (1, k)
        assert got == pytest.approx(_brute_force_best(w[0], a[0], 1.5, -0.2, k, mask[0]), abs=1e-12)


@pytest.mark.parametrize("kwargs, name", [
    (dict(k=5), "k"), (dict(k=0), "k"), (dict(k=1.0), "k"), (dict(k=True), "k"),
    (dict(w=-np.ones((1, 3))), "w"), (dict(w=[[1.0, np.nan, 1.0]]), "w"), (dict(w=np.ones(3)), "w"),
    (dict(a=[[np.nan, 1.0, 2.0]]), "a"), (dict(a=[[1.0, 2.0]]), "a"), (dict(a=[[1.0, np.inf, 2.0]]), "a"),
    (dict(w0=np.nan), "w0"), (dict(w0=-1.0), "w0"), (dict(w0=0.0, w=[[0.0, 1.0, 1.0]]), "w0"),
    (dict(a0=np.inf), "a0"), (dict(w0=[1.0, 2.0]), "w0 and a0"),
    (dict(mask=[[True, False, False]]), "mask"), (dict(mask=np.ones((1, 3), int)), "mask"),
    (dict(mask=np.ones((2, 3), bool)), "mask"), (dict(n_iter=-1), "n_iter"),
])
def test_best_ratio_slates_rejects_invalid_arguments(kwargs, name):
    """R4 #3: each of these came back silently (wrong width, masked index, NaN ignored)."""
    args = dict(w=np.ones((1, 3)), a=[[1.0, 2.0, 3.0]], w0=1.0, a0=0.0, k=2, mask=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{name} must"):
        S.best_ratio_slates(**args)


def test_interest_evolution_slate_terms_asks_for_clusters():
    """R4 #8: a clear ValueError (not KeyError) when the clusters are missing; with
    clusters=obs['candidate_clusters'] it works. privileged() keeps its keys (notebook 05 prints them)."""
    env = BatchEnv("default", 2, seed=0)
    obs = env.reset()
    with pytest.raises(ValueError, match="clusters must be given"):
        env.model.slate_terms(env.privileged(), 1.0)
    w, a, w0, a0 = env.model.slate_terms(env.privileged(), 1.0, clusters=obs["candidate_clusters"])
    assert w.shape == a.shape == (2, env.config.n_candidates)
    assert set(env.privileged()) == {"interests", "candidate_quality", "cluster_quality_means", "budget"}


@pytest.mark.parametrize("kwargs, name", [
    (dict(max_len=0), "max_len"), (dict(max_len=2.5), "max_len"), (dict(n_users=0), "n_users"),
    (dict(n_users=2.0), "n_users"),
])
def test_session_trace_validates_n_users_and_max_len(kwargs, name):
    """R4 #13: max_len=0 failed inside np.stack and n_users=0 blamed batch_size."""
    with pytest.raises(ValueError, match=rf"^{name} must"):
        S.session_trace(RandomPolicy(0), "default", **{"n_users": 3, **kwargs})
    assert S.session_trace(RandomPolicy(0), "default", n_users=3, max_len=1)["reward"].shape == (3, 1)


# ----------------------------------------------------------------- review C: argument checks


_SHAPE = "action must have shape (slate_size,) = (3,)"


@pytest.mark.parametrize("action, message", [
    ([0, 1], f"{_SHAPE}, got (2,)"), ([[0, 1, 2]], f"{_SHAPE}, got (1, 3)"), (0, f"{_SHAPE}, got ()"),
    # ragged: numpy's own "inhomogeneous shape" message before
    ([0, [1, 2], 3], f"{_SHAPE}: a flat sequence of candidate indices, got a ragged list"),
    ([[0, 1], [2]], f"{_SHAPE}: a flat sequence of candidate indices, got a ragged list")])
def test_simulator_env_step_names_action_and_its_shape(action, message):
    """Review C #20: a wrong shape was reported as the batch env's ``slates`` (B, K)."""
    env = InterestEvolutionEnv("default", seed=0)
    env.reset()
    with pytest.raises(ValueError) as err:
        env.step(action)
    assert str(err.value) == message
    env.step([0, 1, 2])  # the env is still usable


@pytest.mark.parametrize("action", [[0, 0, 1], [0, 1, 10], [-1, 1, 2], [0.0, 1.0, 2.0]])
def test_simulator_env_step_names_action_for_bad_indices(action):
    """A duplicate, out-of-range or float action was reported as the batch env's ``slates``."""
    env = InterestEvolutionEnv("default", seed=0)
    env.reset()
    with pytest.raises(ValueError) as err:
        env.step(action)
    assert str(err.value) == ("action must be slate_size=3 distinct integer candidate indices in "
                              f"[0, n_candidates=10), got {list(action)}")
    env.step(np.array([0, 1, 2]))  # the env is still usable, numpy ints included


@pytest.mark.parametrize("n_iter", [2.7, "x", -1, True])
def test_long_term_value_policy_checks_n_iter(n_iter):
    """Review C #20: n_iter=2.7 became 2 and "x" raised int()'s own error."""
    with pytest.raises(ValueError) as err:
        LongTermValuePolicy(n_iter=n_iter)
    assert str(err.value) == f"n_iter must be an integer >= 0, got {n_iter!r}"
    assert LongTermValuePolicy(n_iter=np.int64(3)).n_iter == 3


@pytest.mark.parametrize("slate", [[0, 0, 0], [0, 1], [0, 1, 10], [-1, 0, 1], [0.0, 1.0, 2.0]])
def test_reference_episode_rejects_invalid_slates_like_batch_env(slate):
    """Review C #20: a duplicate or short slate was simulated, -1 wrapped round, 10 and 0.0
    raised raw IndexError/TypeError; BatchEnv.check_slates rejects all of them."""
    with pytest.raises(ValueError) as err:
        S.reference_episode("default", np.random.default_rng(0), choose=lambda c, i, m, k: slate)
    assert str(err.value) == ("choose must return slate_size=3 distinct integer candidate indices in "
                              f"[0, n_candidates=10), got {slate!r}")


# ----------------------------------------------------------------- fast paths of the batch step


def _stable_top_k(scores, k, mask=None):
    """The definition _top_k must keep: a stable descending sort (ties: lower index first)."""
    s = np.asarray(scores)
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 10])
def test_top_k_equals_the_stable_descending_sort(k):
    rng = np.random.default_rng(k)
    cases = [rng.random((200, 10)),                                   # no ties
             np.round(rng.random((200, 10)) * 3),                     # many ties (cluster means)
             np.where(rng.random((200, 10)) < 0.5, 0.0, -0.0),        # signed zeros are equal
             rng.random((200, 10)).astype(np.float32),                # float32 input
             np.round(rng.standard_normal((200, 10))).astype(np.int64),  # integers: the sort path
             np.where(rng.random((200, 10)) < 0.2, -np.inf, rng.random((200, 10))),  # -inf: sort path
             np.where(rng.random((200, 10)) < 0.2, np.inf, np.round(rng.random((200, 10))))]
    for scores in cases:
        got = S._top_k(scores, k)
        assert got.shape == (200, k) and np.array_equal(got, _stable_top_k(scores, k))
    mask = rng.random((200, 10)) < 0.8
    mask[:, :k] = True                                                # at least k allowed per row
    scores = np.round(rng.random((200, 10)) * 3)
    assert np.array_equal(S._top_k(scores, k, mask), _stable_top_k(scores, k, mask))


@pytest.mark.parametrize("k", [1, 2, 3, 8, 9, 12])
def test_sample_choice_is_the_cumulative_weight_rule(k):
    """The column-by-column sums for small K give exactly np.cumsum's positions, also for
    uniforms that land on a boundary of the cumulative weights."""
    rng = np.random.default_rng(k)
    w = np.round(rng.random((500, k)) * 4) / 4                        # exact sums, zeros included
    w0 = np.where(rng.random(500) < 0.5, 2.0, 0.5)
    cum = np.cumsum(w, axis=1)
    total = cum[:, -1] + w0
    u = rng.random(500)
    j = rng.integers(0, k, 500)
    on_edge = rng.random(500) < 0.3
    u = np.where(on_edge, cum[np.arange(500), j] / total, u)          # x hits a boundary exactly
    expected = ((u * total)[:, None] >= cum).sum(axis=1)
    got = S._sample_choice(w, w0, u)
    assert np.array_equal(got, expected) and got.dtype == expected.dtype
    assert (got == k).any() and (got < k).any()                      # both no-click and clicks


@pytest.mark.parametrize("slate_size", [2, 5, 6, 7])
def test_every_pair_of_slate_positions_is_checked_for_duplicates(slate_size):
    cfg = S.SimulatorConfig(slate_size=slate_size)
    env = BatchEnv(cfg, 3, seed=0)
    env.reset()
    good = np.tile(np.arange(slate_size), (3, 1))
    for i in range(slate_size):
        for j in range(i + 1, slate_size):
            bad = good.copy()
            bad[1, j] = bad[1, i]
            with pytest.raises(ValueError, match="duplicate"):
                env.step(bad)
    env.step(good[:, ::-1])


def test_top_k_keeps_the_sort_for_long_double_and_negative_k():
    """float64 cannot hold every longdouble score: those keep the stable sort (review of the fast path)."""
    eps = np.finfo(np.longdouble).eps
    if eps >= np.finfo(np.float64).eps:
        pytest.skip("longdouble is float64 on this platform")
    scores = np.array([[1.0, 1.0 + 4 * eps]], dtype=np.longdouble)
    assert S._top_k(scores, 1).tolist() == [[1]]
    assert S._top_k(np.array([[5.0, 1.0, 3.0]]), -1).shape == (1, 2)   # numpy's slice, as before
