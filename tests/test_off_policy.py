"""Tests for rlrec_helpers.agents.off_policy (TF): corrections, behaviour head, capping."""

import numpy as np
import pytest
import tensorflow as tf

from rlrec_helpers.agents import off_policy as op


def chen_sim1_logs(n=6000, seed=0):
    """Chen et al.'s simulation 1 as logs: 10 items, r_i = i, β_i = (11 − i)/55, always clicked."""
    beta = (11.0 - np.arange(1, 11)) / 55.0
    return op.make_bandit_logs(np.arange(1.0, 11.0), beta, n=n, seed=seed), beta


def pi_of(model, logs):
    return op.policy_of(model, logs)


@pytest.fixture(scope="module")
def sim1():
    return chen_sim1_logs()


def test_correction_fixes_chen_simulation_1(sim1):
    logs, beta = sim1
    cfg = dict(epochs=15, batch_size=256, learning_rate=0.01, hidden=16, seed=0, k=1)
    unc, h_unc = op.train_off_policy(logs, op.OffPolicyConfig(correction="none", **cfg))
    cor, h_cor = op.train_off_policy(logs, op.OffPolicyConfig(correction="is", weight_cap=50.0, **cfg))
    pi_u, _ = pi_of(unc, logs)
    pi_c, beta_hat = pi_of(cor, logs)
    r = np.arange(1, 11)
    assert pi_u @ r < 7.0  # uncorrected stays near π ∝ rβ (value 5.5)
    assert pi_c @ r > 8.5  # corrected climbs towards item 10
    assert pi_c[-1] > pi_u[-1] + 0.3
    # the behaviour head learned β from the logged actions
    np.testing.assert_allclose(beta_hat, beta, atol=0.03)
    assert set(h_cor) >= {"pg_loss", "beta_loss", "mean_weight", "frac_capped"}
    entropy = -np.sum(beta * np.log(beta))  # the best achievable cross-entropy of β̂
    assert abs(h_cor["beta_loss"][-1] - entropy) < 0.02 and entropy < np.log(10) - 0.1


def test_behaviour_head_does_not_train_the_encoder(sim1):
    logs, _ = sim1
    model = op.OffPolicyNet(hidden=8)
    state = tf.constant(np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32))
    cand = tf.constant(logs["cand"][:4])
    model(state, cand)
    with tf.GradientTape() as tape:
        _, beta_logits = model(state, cand)
        loss = tf.reduce_sum(beta_logits ** 2)
    grads = tape.gradient(loss, model.encoder.trainable_variables)
    assert all(g is None or float(tf.reduce_max(tf.abs(g))) == 0.0 for g in grads)
    with tf.GradientTape() as tape:
        pi_logits, _ = model(state, cand)
        loss = tf.reduce_sum(pi_logits ** 2)
    grads = tape.gradient(loss, model.encoder.trainable_variables)
    assert any(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_weight_cap_is_applied(sim1):
    logs, _ = sim1
    cfg = op.OffPolicyConfig(correction="is", weight_cap=1.5, epochs=6, learning_rate=0.02,
                             hidden=16, batch_size=256)
    _, hist = op.train_off_policy(logs, cfg)
    assert np.all(hist["mean_weight"] <= 1.5 + 1e-6)
    assert hist["frac_capped"][-1] > 0.0
    # A cap below every raw weight (the raw weights start near 1: π and β̂ are both near uniform)
    # must bind on every sample: the weights used are all exactly c, so their mean is c, whereas
    # uncapped weights average about 1. The loss must use those capped weights too: with w ≡ c
    # it is c times the uncorrected loss (Adam is invariant to the constant scale, so the two
    # runs follow the same parameters up to float error).
    small = dict(epochs=2, learning_rate=0.02, hidden=16, batch_size=256, seed=0)
    cap = 1e-3
    _, h_cap = op.train_off_policy(logs, op.OffPolicyConfig(correction="is", weight_cap=cap, **small))
    _, h_none = op.train_off_policy(logs, op.OffPolicyConfig(correction="none", **small))
    np.testing.assert_allclose(h_cap["frac_capped"], 1.0)
    np.testing.assert_allclose(h_cap["mean_weight"], cap, rtol=1e-5)
    np.testing.assert_allclose(h_none["mean_weight"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(h_cap["pg_loss"], cap * h_none["pg_loss"], rtol=0.01)
    # and with no cap the weights are not all clipped: their mean is near 1, far above the small cap
    _, h_inf = op.train_off_policy(logs, op.OffPolicyConfig(correction="is", weight_cap=np.inf, **small))
    np.testing.assert_allclose(h_inf["frac_capped"], 0.0)
    assert np.all(h_inf["mean_weight"] > 100 * cap)
    # None is the other spelling of no cap (as ope's max_weight): the same run
    _, h_nocap = op.train_off_policy(logs, op.OffPolicyConfig(correction="is", weight_cap=None, **small))
    for key in ("mean_weight", "frac_capped", "pg_loss"):
        np.testing.assert_array_equal(h_nocap[key], h_inf[key])


def test_topk_lambda():
    np.testing.assert_allclose(op.topk_lambda(np.array([0.0, 0.5, 1.0]), 3), [3.0, 0.75, 0.0])
    np.testing.assert_allclose(op.topk_lambda(np.array([0.2]), 1), [1.0])
    for k in (0, 2.5, True):
        with pytest.raises(ValueError, match="k must be an integer >= 1"):
            op.topk_lambda(np.array([0.2]), k)


def test_config_and_logs_validation(sim1):
    logs, _ = sim1
    with pytest.raises(ValueError, match="correction"):
        op.OffPolicyConfig(correction="magic").validate()
    with pytest.raises(ValueError, match="weight_cap"):
        op.OffPolicyConfig(weight_cap=0).validate()
    with pytest.raises(ValueError, match="missing keys"):
        op.train_off_policy({"state": logs["state"]})
    bad = dict(logs, action=logs["action"] + 20)
    with pytest.raises(ValueError, match="index"):
        op.train_off_policy(bad)


def test_gumbel_topk_distinct_and_follows_logits():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([[0.7, 0.1, 0.1, 0.1]])).repeat(20_000, 0)
    s = op._gumbel_topk(logits, 2, rng)
    assert np.all(s[:, 0] != s[:, 1])
    assert abs(np.mean(s[:, 0] == 0) - 0.7) < 0.02


def test_history_featurizer():
    f = op.HistoryFeaturizer(n_topics=3, decay=0.5)
    f.reset(2)
    s0 = f.update({"clicked_cluster": np.array([-1, -1]), "watch_time": np.zeros(2)})
    assert s0.shape == (2, 5) and np.all(s0 == 0)
    s1 = f.update({"clicked_cluster": np.array([2, -1]), "watch_time": np.array([4.0, 0.0])})
    np.testing.assert_allclose(s1[0, :4], [0, 0, 1, 1])
    s2 = f.update({"clicked_cluster": np.array([-1, -1]), "watch_time": np.zeros(2)})
    assert s2[0, 2] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="decay"):
        op.HistoryFeaturizer(3, decay=1.0)


def test_make_bandit_logs_validation():
    logs = op.make_bandit_logs([1.0, 2.0], [0.25, 0.75], n=4000, seed=0)
    assert logs["cand"].shape == (4000, 2, 2) and logs["slate"].shape == (4000, 1)
    assert abs(np.mean(logs["action"] == 1) - 0.75) < 0.03
    np.testing.assert_array_equal(logs["ret"], logs["action"] + 1.0)
    with pytest.raises(ValueError, match=r"^behavior must sum to 1 \(within 1e-06\), got a sum of 1\.1$"):
        op.make_bandit_logs([1.0, 2.0], [0.5, 0.6], n=10)
    with pytest.raises(ValueError, match=r"^behavior entries must be finite numbers > 0, got behavior\[0\] = 0\.0$"):
        op.make_bandit_logs([1.0, 2.0], [0.0, 1.0], n=10)


def test_make_bandit_logs_draws_like_rng_choice_and_accepts_the_package_tolerance():
    beta = np.array([0.1, 0.2, 0.3, 0.4])
    logs = op.make_bandit_logs(np.arange(4.0), beta, n=500, seed=3)
    np.testing.assert_array_equal(logs["action"], np.random.default_rng(3).choice(4, size=500, p=beta))
    assert logs["action"].dtype == np.int64
    # |sum - 1| = 5e-7: within SUM_TOL, though rng.choice itself refuses anything beyond 1.5e-8
    beta = np.array([0.25, 0.7500005])
    logs = op.make_bandit_logs([1.0, 2.0], beta, n=100, seed=0)
    np.testing.assert_array_equal(logs["action"], np.random.default_rng(0).choice(2, size=100, p=beta / beta.sum()))


def test_slate_rewards_and_baseline_training():
    logs = {
        "state": np.zeros((3, 2), np.float32), "cand": np.ones((3, 4, 2), np.float32),
        "slate": np.array([[0, 1], [2, 3], [1, 2]]), "click_row": np.array([0, 2]),
        "action": np.array([1, 1]), "ret": np.array([5.0, 7.0], np.float32),
    }
    np.testing.assert_array_equal(op.slate_rewards(logs), [[0, 5], [0, 0], [7, 0]])
    with pytest.raises(ValueError, match="slate"):
        op.slate_rewards(dict(logs, action=np.array([3, 1])))
    sim, _ = chen_sim1_logs(n=3000)
    cfg = op.OffPolicyConfig(correction="is", k=1, baseline=True, epochs=4, learning_rate=0.01,
                             hidden=8, batch_size=256, weight_cap=50.0)
    model, hist = op.train_off_policy(sim, cfg)
    assert hist["value_loss"][-1] < 1.0  # b(s) learned the (scaled) mean reward
    pi, _ = op.policy_of(model, sim)
    assert pi @ np.arange(1, 11) > 7.0  # with the weight, the baseline keeps the gradient unbiased
    with pytest.raises(ValueError, match="beta_warmup_epochs"):
        op.OffPolicyConfig(beta_warmup_epochs=-1).validate()


def test_log_interactions_and_serving_in_the_simulator():
    from rlrec_helpers import simulator

    cfg = simulator.get_preset("default")
    env = simulator.BatchEnv(cfg, batch_size=1, seed=0)
    env.reset()
    means = np.asarray(env.privileged()["cluster_quality_means"])
    behaviour = op.ClusterSoftmaxPolicy(-0.5 * means, seed=0)
    logs = op.log_interactions(cfg, behaviour, n_users=40, seed=0, gamma=1.0, batch_size=20)
    n = logs["slate"].shape[0]
    assert logs["state"].shape == (n, cfg.n_topics + 2)
    assert logs["cand"].shape[:2] == (n, cfg.n_candidates)
    assert logs["slate"].shape == (n, cfg.slate_size)
    assert logs["episode_return"].shape == (40,) and logs["action"].size > 0
    # with gamma = 1 the return from a user's first click is that user's whole session return
    assert logs["ret"].max() == pytest.approx(logs["episode_return"].max())
    assert op.slate_rewards(logs).sum() == pytest.approx(logs["ret"].sum())
    # gamma = 0: ret is the click's own reward, and only clicks are rewarded, so the rets add up
    # to the users' session totals
    logs0 = op.log_interactions(cfg, behaviour, n_users=40, seed=0, gamma=0.0, batch_size=20)
    assert np.array_equal(logs0["click_row"], logs["click_row"])  # the same sessions
    assert np.all((logs0["ret"] > 0) & (logs0["ret"] <= cfg.doc_length))  # r = min(budget, L)
    assert logs0["ret"].sum() == pytest.approx(logs0["episode_return"].sum())
    # one user's discounted return-to-go by hand (one user: row = step, so steps come from click_row)
    one = {g: op.log_interactions(cfg, behaviour, n_users=1, seed=3, gamma=g) for g in (0.0, 0.9, 1.0)}
    t, r = one[0.0]["click_row"], one[0.0]["ret"].astype(float)
    assert t.size >= 5 and r.sum() == pytest.approx(one[0.0]["episode_return"][0])
    for g in (0.9, 1.0):
        assert np.array_equal(one[g]["click_row"], t)
        hand = [sum(g ** (t[k] - t[j]) * r[k] for k in range(j, t.size)) for j in range(t.size)]
        np.testing.assert_allclose(one[g]["ret"], hand, rtol=1e-5)
    model, _ = op.train_off_policy(logs, op.OffPolicyConfig(epochs=1, batch_size=256))
    served = op.KerasSlatePolicy(model, op.HistoryFeaturizer(cfg.n_topics), seed=0)
    res = simulator.evaluate(served, cfg, 20, seed=0)
    assert res.returns.shape == (20,) and np.all(res.returns > 0)


@pytest.mark.parametrize("kwargs, field", [
    ({"n_topics": 3, "time_scale": 0.0}, "time_scale"), ({"n_topics": 3, "time_scale": -4.0}, "time_scale"),
    ({"n_topics": 3, "time_scale": float("inf")}, "time_scale"),
    ({"n_topics": 3, "time_scale": float("nan")}, "time_scale"),
    ({"n_topics": 0}, "n_topics"), ({"n_topics": 2.5}, "n_topics"), ({"n_topics": True}, "n_topics"),
])
def test_history_featurizer_validates_n_topics_and_time_scale(kwargs, field):
    with pytest.raises(ValueError, match=field):
        op.HistoryFeaturizer(**kwargs)


def test_cluster_softmax_policy_checks_logits_against_the_topics():
    from rlrec_helpers import simulator

    env = simulator.BatchEnv("default", 4, seed=0)
    obs = env.reset()
    short = op.ClusterSoftmaxPolicy(np.zeros(5), seed=0)
    with pytest.raises(ValueError, match="cluster_logits"):
        short.act(obs, env)
    with pytest.raises(ValueError, match="cluster_logits"):
        short.logits(obs)
    with pytest.raises(ValueError, match="cluster_logits"):
        op.ClusterSoftmaxPolicy(np.zeros(25), seed=0).act(obs, env)
    for bad in (np.zeros((2, 20)), [], [0.0, float("nan")]):
        with pytest.raises(ValueError, match="cluster_logits"):
            op.ClusterSoftmaxPolicy(bad)
    slates = op.ClusterSoftmaxPolicy(np.zeros(20), seed=0).act(obs, env)
    assert slates.shape == (4, 3)


@pytest.mark.parametrize("k", [2.5, 0, True, -1])
def test_off_policy_config_requires_integer_k(k):
    with pytest.raises(ValueError, match=r"k must be an integer >= 1"):
        op.OffPolicyConfig(k=k).validate()
    op.OffPolicyConfig(k=np.int64(2)).validate()


@pytest.mark.parametrize("cap", [np.inf, 1.5])
def test_topk_training_weight_matches_an_independent_computation(cap):
    """mean_weight of a correction="topk" step is mean over shown items of min(π/β̂, c)·K(1−π)^(K−1)."""
    rng = np.random.default_rng(3)
    n, n_cand, k_slate = 12, 5, 2
    logs = {"state": rng.normal(size=(n, 4)).astype(np.float32),
            "cand": rng.normal(size=(n, n_cand, 3)).astype(np.float32),
            "slate": np.stack([rng.permutation(n_cand)[:k_slate] for _ in range(n)]).astype(np.int64),
            "click_row": np.arange(0, n, 2, dtype=np.int64)}
    logs["action"] = logs["slate"][logs["click_row"], 0].copy()
    logs["ret"] = rng.uniform(1.0, 5.0, size=logs["action"].shape).astype(np.float32)
    # one full-batch step, no warm-up, a step size too small to move float32 weights visibly:
    # mean_weight is then the weight at the model's (returned) parameters
    cfg = op.OffPolicyConfig(correction="topk", k=3, weight_cap=cap, epochs=1, beta_warmup_epochs=0,
                             batch_size=64, hidden=8, learning_rate=1e-12, seed=1)
    model, hist = op.train_off_policy(logs, cfg)
    pi, beta = map(np.stack, zip(*(op.policy_of(model, logs, r) for r in range(n))))   # (n, N) each
    p = np.take_along_axis(pi.astype(float), logs["slate"], 1)
    b = np.take_along_axis(beta.astype(float), logs["slate"], 1)
    expected = np.mean(np.minimum(p / b, cap) * 3 * (1 - p) ** 2)
    assert p.std() > 0.02                     # π varies across shown items, so the forms differ
    assert hist["mean_weight"][0] == pytest.approx(expected, rel=1e-5)
    # the helper gives the same λ_K; "is" leaves it out
    np.testing.assert_allclose(op.topk_lambda(p, 3), 3 * (1 - p) ** 2)
    _, hist_is = op.train_off_policy(logs, cfg.__class__(**{**vars(cfg), "correction": "is"}))
    assert hist_is["mean_weight"][0] == pytest.approx(np.mean(np.minimum(p / b, cap)), rel=1e-5)


def test_log_interactions_is_reproducible_with_one_behaviour_object():
    from rlrec_helpers import simulator

    cfg = simulator.get_preset("default")
    logits = np.linspace(-1.5, 1.5, cfg.n_topics)
    behaviour = op.ClusterSoftmaxPolicy(logits, seed=4)
    first = op.log_interactions(cfg, behaviour, n_users=6, seed=2, batch_size=3)
    simulator.evaluate(behaviour, cfg, 3, seed=0)          # uses (and moves) the behaviour's rng
    again = op.log_interactions(cfg, behaviour, n_users=6, seed=2, batch_size=3)
    fresh = op.log_interactions(cfg, op.ClusterSoftmaxPolicy(logits, seed=4), n_users=6, seed=2, batch_size=3)
    for key in first:
        np.testing.assert_array_equal(again[key], first[key])
        np.testing.assert_array_equal(fresh[key], first[key])
    other = op.log_interactions(cfg, op.ClusterSoftmaxPolicy(logits, seed=5), n_users=6, seed=2, batch_size=3)
    assert not np.array_equal(other["slate"][:20], first["slate"][:20])   # the behaviour's seed matters


def test_off_policy_policies_restart_their_stream_per_call_like_random_policy():
    """ClusterSoftmaxPolicy and KerasSlatePolicy follow simulator.RandomPolicy's rule: every
    evaluate call on one object gives the same result; within one call the stream runs on
    across batches (the batches are not copies of each other)."""
    from rlrec_helpers import simulator

    cfg = simulator.get_preset("default")
    behaviour = op.ClusterSoftmaxPolicy(np.linspace(-1.0, 1.0, cfg.n_topics), seed=3)
    a = simulator.evaluate(behaviour, cfg, 8, seed=1, batch_size=4)
    b = simulator.evaluate(behaviour, cfg, 8, seed=1, batch_size=4)
    np.testing.assert_array_equal(a.returns, b.returns)
    # same users in both batches (seed per batch differs, so compare draws instead): the second
    # batch's first slate is not the first batch's first slate replayed
    env = simulator.BatchEnv(cfg, batch_size=2, seed=0)
    obs = env.reset()
    behaviour.reset(2)
    first = behaviour.act(obs, env)
    behaviour.reset_next_batch(2)
    assert not np.array_equal(behaviour.act(obs, env), first)
    behaviour.reset(2)
    np.testing.assert_array_equal(behaviour.act(obs, env), first)

    logs = op.log_interactions(cfg, behaviour, n_users=20, seed=0, batch_size=20)
    model, _ = op.train_off_policy(logs, op.OffPolicyConfig(epochs=1, batch_size=64))
    served = op.KerasSlatePolicy(model, op.HistoryFeaturizer(cfg.n_topics), seed=0)
    r1 = simulator.evaluate(served, cfg, 6, seed=2, batch_size=3)
    r2 = simulator.evaluate(served, cfg, 6, seed=2, batch_size=3)
    np.testing.assert_array_equal(r1.returns, r2.returns)
