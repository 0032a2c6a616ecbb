"""Tests for rlrec_helpers.ope: estimators, validation, bootstrap, OBD protocol, Chen sims."""

import numpy as np
import pytest

from rlrec_helpers import ope
from rlrec_helpers.data import load_bts_prior, load_open_bandit


@pytest.fixture(scope="module")
def bandit():
    return ope.SyntheticBandit.make(n_contexts=5, n_actions=4, seed=3)


def _rep_estimates(bandit, n_rep=400, n=500, seed=0, q_hat_fn=None):
    rng = np.random.default_rng(seed)
    out = {"IPS": [], "DR": [], "SNIPS": []}
    for _ in range(n_rep):
        log = bandit.log(n, rng)
        q_hat = q_hat_fn(log) if q_hat_fn else np.zeros_like(log["action_dist"])
        out["IPS"].append(ope.ips(log["reward"], log["action"], log["propensity"], log["action_dist"]))
        out["SNIPS"].append(ope.snips(log["reward"], log["action"], log["propensity"], log["action_dist"]))
        out["DR"].append(ope.dr(log["reward"], log["action"], log["propensity"], log["action_dist"], q_hat))
    return {k: np.array(v) for k, v in out.items()}


def test_ips_and_dr_are_unbiased(bandit):
    truth = bandit.true_value()
    # a deliberately wrong reward model: DR must stay unbiased because the propensities are right
    wrong_q = lambda log: np.full_like(log["action_dist"], 0.9)
    est = _rep_estimates(bandit, q_hat_fn=wrong_q)
    for name in ("IPS", "DR"):
        x = est[name]
        se = x.std(ddof=1) / np.sqrt(x.size)
        assert abs(x.mean() - truth) < 4 * se, (name, x.mean(), truth, se)
    # and the test can fail: a biased estimator (the naive on-log mean) is detected
    rng = np.random.default_rng(1)
    naive = np.array([bandit.log(500, rng)["reward"].mean() for _ in range(400)])
    se = naive.std(ddof=1) / np.sqrt(naive.size)
    assert abs(naive.mean() - truth) > 4 * se


def test_dr_with_true_model_has_lower_variance_than_ips(bandit):
    true_q = lambda log: bandit.q[log["context"]]
    est = _rep_estimates(bandit, n_rep=200, q_hat_fn=true_q)
    assert est["DR"].std() < est["IPS"].std()


def test_snips_of_behaviour_policy_is_on_policy_mean(bandit):
    rng = np.random.default_rng(0)
    log = bandit.log(1000, rng)
    behaviour = bandit.behavior[log["context"]]
    v = ope.snips(log["reward"], log["action"], log["propensity"], behaviour)
    assert v == pytest.approx(log["reward"].mean(), abs=1e-12)
    assert ope.ips(log["reward"], log["action"], log["propensity"], behaviour) == pytest.approx(
        log["reward"].mean(), abs=1e-12)


def test_dr_equals_ips_when_reward_model_is_zero(bandit):
    log = bandit.log(800, np.random.default_rng(2))
    zero = np.zeros_like(log["action_dist"])
    args = (log["reward"], log["action"], log["propensity"], log["action_dist"])
    assert ope.dr(*args, zero) == pytest.approx(ope.ips(*args), abs=1e-12)
    assert ope.dm(log["action_dist"], zero) == 0.0


def test_dm_with_true_model_is_exact_in_expectation(bandit):
    log = bandit.log(20_000, np.random.default_rng(4))
    v = ope.dm(log["action_dist"], bandit.q[log["context"]])
    assert v == pytest.approx(bandit.true_value(), abs=0.01)


def test_switch_dr_interpolates_between_dm_and_dr(bandit):
    log = bandit.log(800, np.random.default_rng(5))
    args = (log["reward"], log["action"], log["propensity"], log["action_dist"])
    q = np.full_like(log["action_dist"], 0.3)
    assert ope.switch_dr(*args, q, tau=1e9) == pytest.approx(ope.dr(*args, q))
    assert ope.switch_dr(*args, q, tau=1e-9) == pytest.approx(ope.dm(log["action_dist"], q))
    with pytest.raises(ValueError, match="tau"):
        ope.switch_dr(*args, q, tau=0)


def test_weight_capping_bounds_weights(bandit):
    log = bandit.log(500, np.random.default_rng(6))
    w = ope.importance_weights(log["action"], log["propensity"], log["action_dist"], max_weight=2.0)
    assert w.max() <= 2.0
    with pytest.raises(ValueError, match="max_weight"):
        ope.importance_weights(log["action"], log["propensity"], log["action_dist"], max_weight=0)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_bad_propensity_raises(bad):
    d = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match="propensity"):
        ope.ips([1.0, 0.0, 1.0], np.array([0, 1, 0]), [0.5, bad, 0.5], d)


def test_action_dist_not_summing_to_one_raises():
    d = np.array([[0.5, 0.5], [0.5, 0.4]])
    message = r"^action_dist rows must sum to 1 \(within 1e-06\), got action_dist\[1, :\] summing to 0\.9$"
    with pytest.raises(ValueError, match=message):
        ope.snips([1.0, 0.0], np.array([0, 1]), [0.5, 0.5], d)
    with pytest.raises(ValueError, match=message):
        ope.dm(d, np.zeros_like(d))
    with pytest.raises(ValueError,
                       match=r"^action_dist entries must be finite numbers >= 0, got action_dist\[0, 1\] = -0\.5$"):
        ope.check_action_dist([[1.5, -0.5]])
    with pytest.raises(ValueError, match=r"^pi must be a non-empty array with at least one axis, got shape \(3, 0\)$"):
        ope.check_action_dist(np.zeros((3, 0)), name="pi")
    # float32 rows (a TensorFlow softmax) are off by ~1e-7 and pass; rows off by 2e-6 do not
    f32 = (np.random.default_rng(0).dirichlet(np.ones(50), size=20)).astype(np.float32)
    assert ope.check_action_dist(f32).dtype == np.float64
    with pytest.raises(ValueError, match=r"rows must sum to 1 \(within 1e-06\)"):
        ope.check_action_dist([[0.5, 0.500002]])


@pytest.mark.parametrize("behavior, message", [
    ([0.0, 1.0], "behavior entries must be finite numbers > 0, got behavior[0] = 0.0"),
    ([1.5, -0.5], "behavior entries must be finite numbers > 0, got behavior[1] = -0.5"),
    ([np.nan, 1.0], "behavior entries must be finite numbers > 0, got behavior[0] = nan"),
    ([0.5, 0.6], "behavior must sum to 1 (within 1e-06), got a sum of 1.1"),
    ([0.5, 0.25, 0.25], "reward and behavior must be 1-D arrays of the same length"),
])
def test_run_chen_simulation_checks_behavior(behavior, message):
    with pytest.raises(ValueError) as err:
        ope.run_chen_simulation(np.ones(2), behavior, "none", n_steps=1)
    assert str(err.value) == message


@pytest.mark.parametrize("reward", [[np.nan, 1.0], [1.0, np.inf]])
def test_one_step_problems_reject_a_non_finite_reward(reward):
    """run_chen_simulation (and off_policy.make_bandit_logs, through the same check) returned NaN."""
    with pytest.raises(ValueError, match=r"^reward must be finite, got \["):
        ope.run_chen_simulation(reward, [0.5, 0.5], "none", n_steps=2)


def test_mismatched_lengths_raise():
    d = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match="same length"):
        ope.ips([1.0, 0.0], np.array([0, 1, 0]), [0.5, 0.5, 0.5], d)
    with pytest.raises(ValueError, match="rows"):
        ope.ips([1.0, 0.0, 1.0], np.array([0, 1, 0]), [0.5, 0.5, 0.5], d[:2])
    with pytest.raises(ValueError, match="q_hat"):
        ope.dr([1.0, 0.0, 1.0], np.array([0, 1, 0]), [0.5, 0.5, 0.5], d, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="action"):
        ope.ips([1.0, 0.0, 1.0], np.array([0, 2, 0]), [0.5, 0.5, 0.5], d)
    with pytest.raises(ValueError, match="reward"):
        ope.ips([1.0, np.nan, 1.0], np.array([0, 1, 0]), [0.5, 0.5, 0.5], d)


def test_bootstrap_ci_covers_truth_and_validates(bandit):
    log = bandit.log(3000, np.random.default_rng(7))
    arrays = {k: log[k] for k in ("reward", "action", "propensity", "action_dist")}
    ci = ope.bootstrap_ci(ope.ips, arrays, n_boot=300, seed=0)
    assert ci.low < ci.mean < ci.high
    assert ci.low < bandit.true_value() < ci.high
    assert ci.n == 300
    with pytest.raises(ValueError, match="first dimension"):
        ope.bootstrap_ci(ope.ips, {**arrays, "reward": log["reward"][:10]}, n_boot=10)
    with pytest.raises(ValueError, match="n_boot"):
        ope.bootstrap_ci(ope.ips, arrays, n_boot=1)


def test_select_position():
    d = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    out = ope.select_position(d, np.array([1, 0]))
    np.testing.assert_array_equal(out, [d[0, :, 1], d[1, :, 0]])
    with pytest.raises(ValueError, match="position"):
        ope.select_position(d, np.array([2, 0]))


def test_bts_action_dist_columns_are_distributions():
    alpha = np.array([50.0, 10.0, 1.0, 1.0])
    beta = np.array([50.0, 90.0, 99.0, 99.0])
    dist = ope.bts_action_dist(alpha, beta, len_list=2, n_sim=20_000, seed=0)
    assert dist.shape == (4, 2)
    np.testing.assert_allclose(dist.sum(axis=0), 1.0)
    assert dist[0, 0] > 0.99  # item 0 (mean 0.5) is almost always on top
    assert dist[1, 1] > 0.99  # item 1 (mean 0.1) is almost always second
    assert np.all(dist.sum(axis=1) <= 1.0 + 1e-12)  # an item fills at most one slot of a slate
    # full ranking: every item is in exactly one slot; items 2 and 3 (the same prior) share
    # slots 2 and 3 half and half (standard error about 0.0035 with 20 000 draws)
    full = ope.bts_action_dist(alpha, beta, len_list=4, n_sim=20_000, seed=0)
    np.testing.assert_allclose(full.sum(axis=1), 1.0)
    assert full[0, 0] > 0.99 and full[1, 1] > 0.99
    np.testing.assert_allclose(full[2:, 2:], 0.5, atol=0.02)
    with pytest.raises(ValueError, match="len_list"):
        ope.bts_action_dist(alpha, beta, len_list=5)
    with pytest.raises(ValueError, match="positive"):
        ope.bts_action_dist(-alpha, beta)


def test_click_model_recovers_a_strong_item_effect():
    rng = np.random.default_rng(0)
    n, a_n = 20_000, 5
    a = rng.integers(0, a_n, n)
    pos = rng.integers(0, 3, n)
    x = rng.integers(0, 2, (n, 2)).astype(float)
    p = np.where(a == 2, 0.3, 0.05)
    r = (rng.random(n) < p).astype(float)
    m = ope.fit_click_model(x, a, pos, r, n_actions=a_n, l2=1.0)
    q = m.predict(x[:3], pos[:3])
    assert q.shape == (3, a_n)
    assert np.all(np.abs(q[:, 2] - 0.3) < 0.03) and np.all(np.abs(q[:, 0] - 0.05) < 0.02)
    q_cf = ope.cross_fit_q_hat(x, a, pos, r, n_actions=a_n, l2=1.0)
    assert q_cf.shape == (n, a_n) and np.all((q_cf > 0) & (q_cf < 1))
    # out of fold: fold 0's rows are predicted by a model fitted on the other two folds only
    fold = np.random.default_rng(0).permutation(n) % 3
    tr, te = fold != 0, fold == 0
    m0 = ope.fit_click_model(x[tr], a[tr], pos[tr], r[tr], n_actions=a_n, l2=1.0)
    np.testing.assert_allclose(q_cf[te], m0.predict(x[te], pos[te]), rtol=1e-12)
    # so a row's own reward never reaches its prediction (it does reach the other folds' rows)
    r2 = r.copy()
    r2[0] = 1.0 - r2[0]
    q_cf2 = ope.cross_fit_q_hat(x, a, pos, r2, n_actions=a_n, l2=1.0)
    np.testing.assert_array_equal(q_cf2[0], q_cf[0])
    assert np.any(q_cf2 != q_cf)


def test_obd_bts_from_random_logs():
    rand, bts = load_open_bandit("random", "all"), load_open_bandit("bts", "all")
    alpha, beta = load_bts_prior("all")
    slot = ope.bts_action_dist(alpha, beta, n_sim=20_000, seed=0)
    est = ope.obd_estimates(rand, slot)
    truth = bts.on_policy_value()
    assert truth == pytest.approx(0.0042)
    for name, v in est.items():  # every estimate is in the right ballpark (40 clicks!)
        assert 0.5 * truth < v < 1.5 * truth, (name, v)
    rel = ope.obd_relative_errors(rand, slot, truth, n_runs=3, seed=0)
    assert rel["estimates"].shape == (3, 4) and np.all(rel["DM"] >= 0)
    # the protocol, rebuilt independently: run b resamples the rows with the seed's generator
    # (one stream for all runs) and refits the reward model with seed + b
    rng = np.random.default_rng(0)
    for b in range(3):
        boot = rand.subset(rng.integers(0, rand.n_rounds, size=rand.n_rounds))
        e = ope.obd_estimates(boot, slot, seed=b)
        for j, k in enumerate(ope.ESTIMATORS):
            assert rel["estimates"][b, j] == pytest.approx(e[k], rel=1e-12), (b, k)
            assert rel[k][b] == pytest.approx(abs(e[k] - truth) / truth, rel=1e-12), (b, k)
    # each run is its own resample, none of them the full log
    for j, k in enumerate(ope.ESTIMATORS):
        assert len(set(rel["estimates"][:, j].tolist())) == 3, k
        assert not np.any(np.isclose(rel["estimates"][:, j], est[k], rtol=1e-12, atol=0)), k


# ---------------------------------------------------------------- Chen et al. 2019


def test_chen_gradient_matches_finite_differences():
    r, b = ope.chen_sim2()
    theta = np.random.default_rng(0).normal(size=r.size)
    f = lambda t: ope.expected_slate_reward(ope.softmax(t), r, 2)
    eps = 1e-6
    fd = np.array([(f(theta + eps * e) - f(theta - eps * e)) / (2 * eps) for e in np.eye(r.size)])
    np.testing.assert_allclose(ope.chen_gradient(theta, r, b, "topk", k=2), fd, atol=1e-6)
    g_std = ope.chen_gradient(theta, r, b, "standard")
    fd_std = np.array([(ope.softmax(theta + eps * e) @ r - ope.softmax(theta - eps * e) @ r) / (2 * eps)
                       for e in np.eye(r.size)])
    np.testing.assert_allclose(g_std, fd_std, atol=1e-6)
    with pytest.raises(ValueError, match="correction"):
        ope.chen_gradient(theta, r, b, "magic")


def test_topk_correction_values():
    np.testing.assert_allclose(ope.topk_correction([0.0, 0.5, 1.0], 2), [2.0, 1.0, 0.0])
    np.testing.assert_allclose(ope.topk_correction([0.3], 1), [1.0])
    with pytest.raises(ValueError, match="k"):
        ope.topk_correction([0.3], 0)


def test_chen_simulation_1():
    r, b = ope.chen_sim1()
    unc = ope.run_chen_simulation(r, b, "none", lr=0.2, n_steps=5000)
    np.testing.assert_allclose(unc["pi"][-1], r * b / np.sum(r * b), atol=1e-3)
    assert unc["expected_reward"][-1] == pytest.approx(5.5, abs=0.2)
    cor = ope.run_chen_simulation(r, b, "standard", lr=0.2, n_steps=5000)
    assert cor["pi"][-1, -1] >= 0.95 and cor["expected_reward"][-1] >= 9.5


def test_chen_simulation_2():
    r, b = ope.chen_sim2()
    std = ope.run_chen_simulation(r, b, "standard", k=2, lr=0.2, n_steps=5000)
    top = ope.run_chen_simulation(r, b, "topk", k=2, lr=0.2, n_steps=5000)
    assert std["pi"][-1, 0] >= 0.99
    assert top["pi"][-1, 1] >= 0.35
    assert top["pi"][-1, 0] == pytest.approx(10 / 19, abs=0.01)  # the analytic optimum
    assert top["slate_reward"][-1] >= 1.3 * std["slate_reward"][-1]


def test_chen_summary_and_notebook07_plots_and_widget():
    out = ope.chen_summary(1, "none", n_steps=3000)
    assert out["expected_reward"] == pytest.approx(5.5, abs=0.2) and out["pi"].shape == (10,)
    with pytest.raises(ValueError, match=r"^sim must be one of 1, 2, got 3$"):
        ope.chen_summary(3)

    import matplotlib.pyplot as plt

    from rlrec_helpers import plotting, widgets
    from rlrec_helpers.stats import MeanCI

    ax = plotting.plot_policy_distributions({"a": out["pi"], "b": out["pi"][::-1]}, xlabel="item",
                                            ylabel="probability")
    assert len(ax.patches) == 20
    with pytest.raises(ValueError, match="same length"):
        plotting.plot_policy_distributions({"a": np.ones(3), "b": np.ones(2)}, xlabel="x", ylabel="y")
    ax = plotting.plot_estimates_vs_truth(["IPS"], [MeanCI(1.0, 0.5, 1.5, 10)], 1.2, xlabel="estimator",
                                          ylabel="value")
    assert ax.get_lines()[-1].get_ydata()[0] == pytest.approx(1.2)
    plt.close("all")
    w = widgets.chen_simulation_widget()
    assert {c.description for c in w.children[:-1]} >= {"simulation", "correction", "slate K", "step size"}
    plt.close("all")


def test_bootstrap_estimates_agree_with_the_scalar_estimators(bandit):
    log = bandit.log(2000, np.random.default_rng(8))
    q = bandit.q[log["context"]] * 0.8
    args = (log["reward"], log["action"], log["propensity"], log["action_dist"])
    table = ope.bootstrap_estimates(*args, q, n_boot=400, seed=0)
    assert table["IPS"].mean == pytest.approx(ope.ips(*args))
    assert table["SNIPS"].mean == pytest.approx(ope.snips(*args))
    assert table["DM"].mean == pytest.approx(ope.dm(log["action_dist"], q))
    assert table["DR"].mean == pytest.approx(ope.dr(*args, q))
    slow = ope.bootstrap_ci(ope.ips, dict(zip(("reward", "action", "propensity", "action_dist"), args)),
                            n_boot=400, seed=1)
    assert table["IPS"].low == pytest.approx(slow.low, rel=0.15)
    assert table["IPS"].high == pytest.approx(slow.high, rel=0.15)
    for ci in table.values():
        assert ci.low <= ci.mean <= ci.high
    with pytest.raises(ValueError, match="n_boot"):
        ope.bootstrap_estimates(*args, q, n_boot=1)


# --------------------------------------------------------------------------- input validation (review)


def _small_log(n=40, seed=0):
    return ope.SyntheticBandit.make(n_contexts=3, n_actions=4, seed=1).log(n, np.random.default_rng(seed))


@pytest.mark.parametrize("n_folds", [0, -1, 1, 41, 2.0, True])
def test_cross_fit_q_hat_rejects_bad_n_folds(n_folds):
    rng = np.random.default_rng(0)
    n = 40
    with pytest.raises(ValueError, match=r"n_folds must be an integer in \[2, n=40\], got "):
        ope.cross_fit_q_hat(rng.normal(size=(n, 2)), rng.integers(0, 4, n), rng.integers(0, 3, n),
                            (rng.random(n) < 0.3).astype(float), n_actions=4, n_folds=n_folds)


def test_bootstrap_estimates_never_returns_nan_for_snips():
    n, A = 30, 3
    action = np.zeros(n, dtype=np.int64)
    action[0] = 1                                   # one row the target policy can play
    dist = np.tile([0.0, 1.0, 0.0], (n, 1))
    args = (np.ones(n), action, np.full(n, 0.5), dist, np.zeros((n, A)))
    # a resample that misses row 0 has SNIPS weights summing to 0 (0/0)
    with pytest.raises(ValueError, match="too few matching rows.*bootstrap of SNIPS"):
        ope.bootstrap_estimates(*args, n_boot=200, seed=0)
    # no logged action has probability > 0: the point estimate itself is undefined, like snips()
    dist0 = np.tile([0.0, 0.0, 1.0], (n, 1))
    with pytest.raises(ValueError, match="SNIPS is undefined"):
        ope.bootstrap_estimates(np.ones(n), action, np.full(n, 0.5), dist0, np.zeros((n, A)), n_boot=10)


@pytest.mark.parametrize("action", [[-1, 0], [0, 4], [0.0, 1.0], [0.5, 1.0]])
def test_importance_weights_checks_action(action):
    dist = np.full((2, 4), 0.25)
    with pytest.raises(ValueError, match="action must be"):
        ope.importance_weights(action, [0.5, 0.5], dist)


@pytest.mark.parametrize("truth", [np.nan, np.inf, 0.0, -1.0])
def test_obd_relative_errors_rejects_non_finite_or_non_positive_truth(truth):
    with pytest.raises(ValueError, match="ground_truth must be a finite number > 0"):
        ope.obd_relative_errors(None, np.full((3, 1), 1 / 3), truth, n_runs=1)


@pytest.mark.parametrize("chunk", [0, -5, 2.5])
def test_bts_action_dist_rejects_bad_chunk(chunk):
    with pytest.raises(ValueError, match="chunk must be an integer >= 1"):
        ope.bts_action_dist([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], len_list=2, n_sim=10, chunk=chunk)


def test_dm_rejects_empty_log():
    with pytest.raises(ValueError, match="action_dist must have at least 1 row"):
        ope.dm(np.empty((0, 3)), np.empty((0, 3)))


@pytest.mark.parametrize("bad", [
    {"action": [-1, 0, 1, 2]}, {"action": [0, 1, 2, 4]}, {"action": [0.0, 1.0, 2.0, 3.0]},
    {"position": [0, 1, 2, 3]}, {"position": [-1, 0, 1, 2]}, {"position": [0.0, 1.0, 2.0, 0.0]},
])
def test_fit_click_model_checks_action_and_position(bad):
    args = {"context": np.zeros((4, 2)), "action": [0, 1, 2, 3], "position": [0, 1, 2, 0],
            "reward": [0.0, 1.0, 0.0, 1.0]}
    args.update(bad)
    name = next(iter(bad))
    with pytest.raises(ValueError, match=rf"{name} must be"):
        ope.fit_click_model(**args, n_actions=4, len_list=3)


@pytest.mark.parametrize("correction, kwargs, name", [
    ("standard", {"k": -1}, "k"), ("none", {"k": 0}, "k"), ("standard", {"k": 1.5}, "k"),
    ("topk", {"k": 2, "record_every": 0}, "record_every"),
    ("topk", {"k": 2, "record_every": 2.0}, "record_every"),
    ("standard", {"lr": 0.0}, "lr"), ("standard", {"lr": -0.1}, "lr"),
    ("standard", {"lr": np.nan}, "lr"), ("standard", {"lr": "0.1"}, "lr"),
])
def test_run_chen_simulation_checks_k_record_every_lr(correction, kwargs, name):
    r, beta = ope.chen_sim2()
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        ope.run_chen_simulation(r, beta, correction, n_steps=10, **kwargs)


# ----------------------------------------------------------------- review R4 (API)


def test_module_docstring_slot_hint_gives_the_right_shape():
    """R4 #9: the docstring said ``action_dist[:, :, position]``, which is (n, A, n)."""
    assert "select_position(action_dist, position)" in ope.__doc__
    assert "pass ``action_dist[:, :, position]``" not in ope.__doc__
    d = np.random.default_rng(0).dirichlet(np.ones(4), size=(5, 3)).transpose(0, 2, 1)   # (5, 4, 3)
    pos = np.array([0, 2, 1, 1, 0])
    assert ope.select_position(d, pos).shape == (5, 4)
    np.testing.assert_array_equal(ope.select_position(d, pos), d[np.arange(5), :, pos])


@pytest.mark.parametrize("call, name", [
    (lambda: ope.run_chen_simulation(*ope.chen_sim1(), "bogus", n_steps=0), "correction"),
    (lambda: ope.run_chen_simulation(*ope.chen_sim1(), "topk", n_steps=-1), "n_steps"),
    (lambda: ope.run_chen_simulation(*ope.chen_sim1(), "topk", n_steps=2.5), "n_steps"),
    (lambda: ope.topk_correction(0.5, 2.5), "k"),
    (lambda: ope.topk_correction(0.5, True), "k"),
    (lambda: ope.expected_slate_reward([0.5, 0.5], [1.0, 2.0], 0), "k"),
    (lambda: ope.expected_slate_reward([0.5, 0.5], [1.0, 2.0], 1.5), "k"),
])
def test_chen_helpers_validate_their_arguments(call, name):
    """R4 #12: a bogus correction with n_steps=0 returned a history; the others returned
    numbers (topk_correction(0.5, 2.5) = 0.884, expected_slate_reward(.., 0) = 0) or numpy errors."""
    with pytest.raises(ValueError, match=rf"^{name} must"):
        call()


def test_chen_helpers_valid_calls_unchanged():
    r, beta = ope.chen_sim1()
    h = ope.run_chen_simulation(r, beta, "topk", k=2, n_steps=0)
    assert h["step"].tolist() == [0] and h["pi"].shape == (1, 10)
    assert ope.expected_slate_reward([0.5, 0.5], [1.0, 2.0], np.int64(2)) == pytest.approx(3 * 0.75)
    np.testing.assert_allclose(ope.topk_correction([0.5], np.int64(3)), [0.75])


def test_fit_click_model_rejects_nan_l2():
    """R4 #13: l2=NaN passed 'l2 <= 0' and produced NaN weights."""
    args = dict(context=np.zeros((4, 2)), action=[0, 1, 2, 3], position=[0, 1, 2, 0],
                reward=[0.0, 1.0, 0.0, 1.0], n_actions=4, len_list=3)
    for bad in (np.nan, np.inf, 0.0, -1.0, "3"):
        with pytest.raises(ValueError, match="^l2 must be a finite number > 0"):
            ope.fit_click_model(**args, l2=bad)
    assert np.isfinite(ope.fit_click_model(**args, l2=np.float64(3.0)).item).all()


def test_select_position_requires_integer_positions():
    """R4 #13: float positions raised a numpy IndexError."""
    d = np.full((2, 3, 2), 1 / 3)
    with pytest.raises(ValueError, match="^position must be an integer array"):
        ope.select_position(d, [0.0, 1.0])


@pytest.mark.parametrize("call, name", [
    (lambda log: ope.bootstrap_ci(ope.ips, log, n_boot=10.5), "n_boot"),
    (lambda log: ope.bootstrap_estimates(**log, q_hat=np.zeros_like(log["action_dist"]), n_boot=10.5), "n_boot"),
    (lambda log: ope.bootstrap_estimates(**log, q_hat=np.zeros_like(log["action_dist"]), n_boot=1), "n_boot"),
    (lambda log: ope.bts_action_dist([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], n_sim=10.5), "n_sim"),
    (lambda log: ope.bts_action_dist([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], len_list=2.5), "len_list"),
])
def test_counts_must_be_integers(bandit, call, name):
    """R4 #13: n_boot=10.5 and n_sim=10.5 raised a numpy TypeError."""
    log = bandit.log(50, np.random.default_rng(0))
    log = {k: log[k] for k in ("reward", "action", "propensity", "action_dist")}
    with pytest.raises(ValueError, match=rf"^{name} must be an integer"):
        call(log)


class _TinyLog:
    """An OBD-style log: 3 items, 2 slots, 30 rows, uniform random logging."""

    n_actions, len_list = 3, 2

    def __init__(self):
        rng = np.random.default_rng(0)
        self.context = rng.normal(size=(30, 2))
        self.action = rng.integers(0, 3, size=30)
        self.position = rng.integers(0, 2, size=30)
        self.reward = (rng.random(30) < 0.3).astype(float)
        self.propensity = np.full(30, 1 / 3)


@pytest.mark.parametrize("slot_dist", [np.full((2, 3), 1 / 3), np.full((3, 3), 1 / 3), np.full(3, 1 / 3)])
def test_obd_estimates_checks_slot_dist(slot_dist):
    """R4 #13: the shape of slot_dist was not checked against the log (a transposed (L, A)
    array failed with a numpy IndexError)."""
    with pytest.raises(ValueError, match=r"^slot_dist must have shape \(n_actions, len_list\) = \(3, 2\)"):
        ope.obd_estimates(_TinyLog(), slot_dist)
    with pytest.raises(ValueError, match=r"^slot_dist must have shape"):
        ope.obd_relative_errors(_TinyLog(), slot_dist, 0.1)


def test_obd_estimates_accepts_a_list_slot_dist():
    """R4 #13: a list raised AttributeError (.T); it now gives the array's estimates."""
    sd = [[0.5, 0.2], [0.3, 0.3], [0.2, 0.5]]
    assert ope.obd_estimates(_TinyLog(), sd) == ope.obd_estimates(_TinyLog(), np.array(sd))


# ----------------------------------------------------------------- review C (input validation)

import re  # noqa: E402

_R, _A = [1.0, 0.0, 1.0], np.array([0, 1, 1])
_D, _Q = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]]), np.full((3, 2), 0.5)
_TINY_P = [0.5, 0.5, 1e-310]                     # a subnormal propensity: 0.9 / 1e-310 overflows
_OVERFLOW = ("propensity must be large enough that every importance weight action_dist[i, action[i]] / "
             "propensity[i] is finite, got propensity[2] = 1e-310 (0.9 / 1e-310 overflows)")


@pytest.mark.parametrize("call", [
    lambda: ope.importance_weights(_A, _TINY_P, _D),
    lambda: ope.ips(_R, _A, _TINY_P, _D),
    lambda: ope.snips(_R, _A, _TINY_P, _D),
    lambda: ope.dr(_R, _A, _TINY_P, _D, _Q),
    lambda: ope.estimate_all(_R, _A, _TINY_P, _D, _Q),
    lambda: ope.bootstrap_estimates(_R, _A, _TINY_P, _D, _Q, n_boot=10),
])
def test_estimators_reject_an_overflowing_importance_weight(call):
    """C #1: ips -> inf, snips -> nan, dr -> inf, bootstrap_estimates -> NaN CIs."""
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == _OVERFLOW


def test_estimators_reject_importance_weights_whose_sum_overflows():
    """C #1: two finite weights 9e307 sum to inf (IPS inf, SNIPS inf/inf = nan)."""
    args = ([1.0, 1.0], np.array([0, 0]), [1e-308, 1e-308], [[0.9, 0.1], [0.9, 0.1]])
    message = ("propensity must be large enough that the importance weights action_dist[i, action[i]] / "
               "propensity[i] have a finite sum, got weights summing to inf (smallest propensity 1e-308)")
    for est in (ope.ips, ope.snips):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            est(*args)
    # a bootstrap resample that repeats the huge-weight row overflows although the log does not
    args = ([1.0, 1.0, 1.0], np.array([0, 0, 0]), [1e-308, 0.5, 0.5], [[0.9, 0.1]] * 3)
    assert np.isfinite(ope.ips(*args))
    message = ("propensity must be large enough that every bootstrap resample's importance weights have a "
               "finite sum, got a resample summing to inf (smallest propensity 1e-308)")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ope.bootstrap_estimates(*args, np.zeros((3, 2)), n_boot=50, seed=0)


def test_capped_and_switched_weights_may_overflow():
    """C #1: a capped weight is the cap, and switch-DR drops a weight above tau (0 * inf was nan)."""
    assert ope.ips(_R, _A, _TINY_P, _D, max_weight=10.0) == pytest.approx((0.4 + 10.0) / 3)
    # rows 0 and 1 keep their correction (w = 0.4, 0.8), row 2 (w = inf > tau) is DM only
    expected = np.mean([0.5 + 0.4 * (1 - 0.5), 0.5 + 0.8 * (0 - 0.5), 0.5])
    assert ope.switch_dr(_R, _A, _TINY_P, _D, _Q, tau=1e308) == pytest.approx(expected)
    assert ope.switch_dr(_R, _A, [0.5, 0.5, 0.25], _D, _Q, tau=1.0) == pytest.approx(expected)


@pytest.mark.parametrize("call, message", [
    (lambda: ope.ips(_R, _A, [0.5, 0.5, 0.25], _D, max_weight="1"),
     "max_weight must be None or a finite number > 0, got '1'"),
    (lambda: ope.ips(_R, _A, [0.5, 0.5, 0.25], _D, max_weight=True),
     "max_weight must be None or a finite number > 0, got True"),
    (lambda: ope.importance_weights(_A, [0.5, 0.5, 0.25], _D, max_weight=np.nan),
     "max_weight must be None or a finite number > 0, got nan"),
    (lambda: ope.switch_dr(_R, _A, [0.5, 0.5, 0.25], _D, _Q, tau="1"), "tau must be a finite number > 0, got '1'"),
    (lambda: ope.switch_dr(_R, _A, [0.5, 0.5, 0.25], _D, _Q, tau=np.nan), "tau must be a finite number > 0, got nan"),
    (lambda: ope.switch_dr(_R, _A, [0.5, 0.5, 0.25], _D, _Q, tau=-1.0), "tau must be a finite number > 0, got -1.0"),
])
def test_max_weight_and_tau_are_checked_numbers(call, message):
    """C #19: a str raised TypeError from '>', True was accepted as 1."""
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_obd_estimates_checks_slot_dist_columns():
    """C #2: the error named action_dist and a log row instead of slot_dist's bad column."""
    sd = [[0.5, 0.5], [0.25, 0.25], [0.75, 0.25]]
    message = "slot_dist columns must sum to 1 (within 1e-06), got slot_dist[:, 0] summing to 1.5"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ope.obd_estimates(_TinyLog(), sd)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ope.obd_relative_errors(_TinyLog(), sd, 0.1, n_runs=1)
    bad = [[0.5, np.nan], [0.25, 0.25], [0.25, 0.25]]
    with pytest.raises(ValueError, match=re.escape("slot_dist entries must be finite numbers >= 0, got slot_dist[0, 1] = nan")):
        ope.obd_estimates(_TinyLog(), bad)


@pytest.mark.parametrize("call, message", [
    (lambda: ope.softmax([np.inf, 0.0]), "theta entries must be finite numbers, got theta[0] = inf"),
    (lambda: ope.softmax([]), "theta must not be empty, got shape (0,)"),
    (lambda: ope.topk_correction([np.nan, 0.5], 2), "pi must be probabilities in [0, 1], got [nan, 0.5]"),
    (lambda: ope.topk_correction([2.0], 3), "pi must be probabilities in [0, 1], got [2.0]"),
    (lambda: ope.chen_gradient(np.zeros(3), np.ones(4), np.ones(4) / 4, "none"), "theta must have shape (4,), got shape (3,)"),
    (lambda: ope.chen_gradient([np.nan, 0.0], [1.0, 2.0], [0.5, 0.5], "standard"),
     "theta entries must be finite numbers, got theta[0] = nan"),
    (lambda: ope.chen_gradient(np.zeros(2), [np.nan, 1.0], [0.5, 0.5], "none"), "reward must be finite, got [nan, 1.0]"),
    (lambda: ope.chen_gradient(np.zeros(2), [1.0, 2.0], [0.5, 0.6], "none"),
     "behavior must sum to 1 (within 1e-06), got a sum of 1.1"),
    (lambda: ope.chen_gradient(np.zeros(2), [1.0, 2.0], [0.5, 0.5], "standard", k=0), "k must be an integer >= 1, got 0"),
    (lambda: ope.expected_slate_reward([np.nan, 0.5], [1.0, 2.0], 2), "pi entries must be finite numbers >= 0, got pi[0] = nan"),
    (lambda: ope.expected_slate_reward([0.5, 0.6], [1.0, 2.0], 2), "pi must sum to 1 (within 1e-06), got a sum of 1.1"),
    (lambda: ope.expected_slate_reward([[0.5, 0.5]], [1.0, 2.0], 2), "pi must be 1-D (one probability per item), got shape (1, 2)"),
    (lambda: ope.expected_slate_reward([0.5, 0.5], [1.0, 2.0, 3.0], 2), "reward must have shape (2,), got shape (3,)"),
    (lambda: ope.expected_slate_reward([0.5, 0.5], [1.0, np.inf], 2), "reward entries must be finite numbers, got reward[1] = inf"),
])
def test_chen_helpers_validate_their_arrays(call, message):
    """C #10: softmax/topk_correction/expected_slate_reward returned NaN; chen_gradient raised a
    numpy broadcasting error."""
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_softmax_valid_inputs_unchanged():
    assert ope.softmax.__doc__
    np.testing.assert_allclose(ope.softmax([0.0, np.log(3.0)]), [0.25, 0.75])
    np.testing.assert_allclose(ope.softmax([[1.0, 1.0], [-2.0, -2.0]]), [[0.5, 0.5], [0.5, 0.5]])
    assert ope.softmax(3.0) == 1.0


@pytest.mark.parametrize("alpha, beta", [([np.nan, 1.0], [1.0, 1.0]), ([np.inf, 1.0], [1.0, 1.0]),
                                         ([1.0, 1.0], [1.0, np.nan]), ([1.0, 1.0], [np.inf, 1.0])])
def test_bts_action_dist_rejects_non_finite_alpha_beta(alpha, beta):
    """C #11: NaN/inf passed the '<= 0' check and gave a wrong distribution."""
    with pytest.raises(ValueError) as err:
        ope.bts_action_dist(alpha, beta, len_list=1, n_sim=100)
    assert str(err.value) == "alpha and beta must be finite, positive 1-D arrays of the same length"


_CLICK = dict(context=np.zeros((4, 1)), action=[0, 1, 0, 1], position=[0, 1, 0, 1], reward=[1.0, 0.0, 1.0, 0.0])


@pytest.mark.parametrize("call, message", [
    (lambda: ope.fit_click_model(**{**_CLICK, "context": [[np.nan], [0.0], [0.0], [0.0]]}, n_actions=2, len_list=2),
     "context entries must be finite numbers, got context[0, 0] = nan"),
    (lambda: ope.fit_click_model(**_CLICK, n_actions=2.5, len_list=2), "n_actions must be an integer >= 1, got 2.5"),
    (lambda: ope.fit_click_model(**_CLICK, n_actions=2, len_list="2"), "len_list must be an integer >= 1, got '2'"),
    (lambda: ope.fit_click_model(**_CLICK, n_actions=2, len_list=2, n_iter="a"), "n_iter must be an integer >= 0, got 'a'"),
    (lambda: ope.fit_click_model(**_CLICK, n_actions=2, len_list=2, n_iter=-1), "n_iter must be an integer >= 0, got -1"),
    (lambda: ope.ClickModel(0.0, np.zeros(3), np.zeros(2), np.zeros(1)).predict(np.zeros((2, 1)), [0, 5]),
     "position must be in [0, 2) (slots of the model), got range [0, 5]"),
    (lambda: ope.ClickModel(0.0, np.zeros(3), np.zeros(2), np.zeros(1)).predict(np.zeros((2, 1)), [0.0, 1.0]),
     "position must be a 1-D integer array, got dtype float64 shape (2,)"),
    (lambda: ope.ClickModel(0.0, np.zeros(3), np.zeros(2), np.zeros(1)).predict(np.zeros((2, 3)), [0, 1]),
     "context must have shape (len(position), d) = (2, 1), got (2, 3)"),
    (lambda: ope.ClickModel(0.0, np.zeros(3), np.zeros(2), np.zeros(1)).predict([[0.0], [np.nan]], [0, 1]),
     "context entries must be finite numbers, got context[1, 0] = nan"),
    (lambda: ope.cross_fit_q_hat(**{**_CLICK, "reward": 1.0}, n_actions=2, len_list=2),
     "reward must be 1-D of shape (n,), got shape ()"),
    (lambda: ope.cross_fit_q_hat(**_CLICK, n_actions=2.5, len_list=2), "n_actions must be an integer >= 1, got 2.5"),
])
def test_click_model_validates_its_arguments(call, message):
    """C #12: a NaN context was fitted (bias nan); bad integers and positions raised numpy errors."""
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_click_model_valid_calls_unchanged():
    m = ope.fit_click_model(**_CLICK, n_actions=np.int64(2), len_list=2, n_iter=0)
    assert m.bias == pytest.approx(0.0) and not m.item.any()
    assert ope.fit_click_model(**{**_CLICK, "context": np.zeros((4, 0))}, n_actions=2, len_list=2).ctx.shape == (0,)
    np.testing.assert_allclose(m.predict(np.zeros((2, 1)), np.array([0, 1])), 0.5)


@pytest.mark.parametrize("call, message", [
    (lambda: ope.SyntheticBandit.make(n_contexts=0), "n_contexts must be an integer >= 1, got 0"),
    (lambda: ope.SyntheticBandit.make(n_actions=0), "n_actions must be an integer >= 1, got 0"),
    (lambda: ope.SyntheticBandit.make(n_actions=2.0), "n_actions must be an integer >= 1, got 2.0"),
    (lambda: ope.SyntheticBandit(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2))),
     "behavior rows must sum to 1 (within 1e-06), got behavior[0, :] summing to 2.0"),
    (lambda: ope.SyntheticBandit([[1.5, 0.5], [0.5, 0.5]], np.full((2, 2), 0.5), np.full((2, 2), 0.5)),
     "q must be probabilities in [0, 1], got [[1.5, 0.5], [0.5, 0.5]]"),
    (lambda: ope.SyntheticBandit([0.5, 0.5], np.full((2, 2), 0.5), np.full((2, 2), 0.5)),
     "q must have 2 axes, got shape (2,)"),
    (lambda: ope.SyntheticBandit(np.full((2, 2), 0.5), [[1.5, -0.5], [0.5, 0.5]], np.full((2, 2), 0.5)),
     "behavior entries must be finite numbers >= 0, got behavior[0, 1] = -0.5"),
    (lambda: ope.SyntheticBandit(np.full((2, 2), 0.5), np.full((2, 3), 1 / 3), np.full((2, 2), 0.5)),
     "behavior must have the shape of q (2, 2), got (2, 3)"),
    (lambda: ope.SyntheticBandit(np.full((2, 2), 0.5), np.full((2, 2), 0.5), [[1.0, 0.0], [0.25, 0.25]]),
     "target rows must sum to 1 (within 1e-06), got target[1, :] summing to 0.5"),
    (lambda: ope.SyntheticBandit(np.full((2, 2), 0.5), np.full((2, 2), 0.5), np.full((2,), 0.5)),
     "target must have the shape of q (2, 2), got (2,)"),
    (lambda: ope.SyntheticBandit.make().log(5, 0),
     "rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), got 0"),
    (lambda: ope.SyntheticBandit.make().log(-1, np.random.default_rng(0)), "n must be an integer >= 0, got -1"),
    (lambda: ope.SyntheticBandit.make().log(2.5, np.random.default_rng(0)), "n must be an integer >= 0, got 2.5"),
])
def test_synthetic_bandit_validates_its_arguments(call, message):
    """C #13: n_contexts=0 gave a nan true value, n_actions=0 a ZeroDivisionError, non-distribution
    policies a value of 2.0, and an int rng an AttributeError."""
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_synthetic_bandit_valid_inputs_unchanged():
    b = ope.SyntheticBandit.make(n_contexts=np.int64(3), n_actions=2, seed=1)
    c = ope.SyntheticBandit(b.q.tolist(), b.behavior.tolist(), b.target.tolist())  # lists are converted
    assert c.true_value() == b.true_value()
    log_b, log_c = b.log(20, np.random.default_rng(0)), c.log(np.int64(20), np.random.default_rng(0))
    for k in log_b:
        np.testing.assert_array_equal(log_b[k], log_c[k])
    assert b.log(0, np.random.default_rng(0))["action"].shape == (0,)


class _SlotLog:
    """An OBD-style log of 6 rows, 3 items and 2 slots."""
    n_actions, len_list = 3, 2
    action = np.array([0, 2, 2, 1, 1, 1])
    position = np.array([0, 0, 0, 1, 1, 0])


def test_slot_frequencies_counts_items_per_slot():
    f = ope.slot_frequencies(_SlotLog)
    # slot 0 rows: items 0, 2, 2, 1; slot 1 rows: items 1, 1
    np.testing.assert_array_equal(f, [[0.25, 0.0], [0.25, 1.0], [0.5, 0.0]])


def test_slot_frequencies_needs_every_slot():
    class NoSlot1(_SlotLog):
        position = np.zeros(6, int)

    message = "log must have rows in every slot 0..1, got none in slot(s) [1]"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ope.slot_frequencies(NoSlot1)


def test_slot_action_dist_picks_each_rows_slot_column():
    sd = np.array([[0.2, 0.5], [0.3, 0.5], [0.5, 0.0]])
    rows = ope.slot_action_dist(_SlotLog, sd)
    np.testing.assert_array_equal(rows, sd.T[_SlotLog.position])
    assert rows[3].tolist() == [0.5, 0.5, 0.0] and rows[0].tolist() == [0.2, 0.3, 0.5]
    with pytest.raises(ValueError, match="slot_dist"):
        ope.slot_action_dist(_SlotLog, sd[:, :1])


def test_obd_bts_log_is_not_the_simulated_bts_policy():
    """The BTS log's item-by-slot frequencies are far from π simulated from prior_bts.yaml:
    farther than sampling noise allows (the production policy differs from the simulated one)."""
    bts = load_open_bandit("bts", "all")
    a, b = load_bts_prior("all")
    sd = ope.bts_action_dist(a, b, n_sim=20_000, seed=0)
    tv = 0.5 * np.abs(ope.slot_frequencies(bts) - sd).sum(axis=0)
    rng = np.random.default_rng(0)
    fake = type("Fake", (), {"n_actions": bts.n_actions, "len_list": bts.len_list, "position": bts.position,
                             "action": np.array([rng.choice(bts.n_actions, p=sd[:, k] / sd[:, k].sum())
                                                 for k in bts.position])})
    tv_noise = 0.5 * np.abs(ope.slot_frequencies(fake) - sd).sum(axis=0)
    assert (tv > 0.3).all() and (tv_noise < 0.1).all()


def test_an_infinite_cap_is_no_cap_and_support_violations_are_allowed():
    """max_weight=inf and tau=inf meant "no cap" before the validation round; they still do."""
    assert ope.ips(_R, _A, [0.5, 0.5, 0.5], _D, max_weight=np.inf) == ope.ips(_R, _A, [0.5, 0.5, 0.5], _D)
    assert ope.switch_dr(_R, _A, [0.5, 0.5, 0.5], _D, _Q, tau=np.inf) == ope.dr(_R, _A, [0.5, 0.5, 0.5], _D, _Q)
    for bad in (-np.inf, np.nan):
        with pytest.raises(ValueError, match="max_weight must be None or a finite number > 0"):
            ope.ips(_R, _A, [0.5, 0.5, 0.5], _D, max_weight=bad)
        with pytest.raises(ValueError, match="tau must be a finite number > 0"):
            ope.switch_dr(_R, _A, [0.5, 0.5, 0.5], _D, _Q, tau=bad)
    # a behaviour that never shows action 1 where the target does: allowed (IPS is then biased)
    sb = ope.SyntheticBandit(np.full((1, 2), 0.5), [[1.0, 0.0]], [[0.5, 0.5]])
    logs = sb.log(100, np.random.default_rng(0))
    assert (logs["action"] == 0).all() and (logs["propensity"] == 1.0).all()


@pytest.mark.parametrize("arrays, message", [
    ({}, "arrays must map at least one name to an array of logged rows, got an empty mapping"),
    ({"reward": 1.0}, "arrays['reward'] must have one row per logged sample (at least 1 dimension), got a scalar"),
    ({"reward": np.ones(1)}, "arrays must hold at least 2 rows to resample (a bootstrap of one row has no spread), got 1"),
])
def test_bootstrap_ci_refuses_logs_it_cannot_resample(arrays, message):
    with pytest.raises(ValueError) as err:
        ope.bootstrap_ci(lambda reward: float(np.mean(reward)), arrays, n_boot=10)
    assert str(err.value).startswith(message)


def test_bootstrap_estimates_refuses_a_one_row_log():
    """It returned a zero-width '95% CI' for every estimator."""
    with pytest.raises(ValueError, match=r"^the log must hold at least 2 rows to resample \(a bootstrap of one "
                                         r"row has no spread\), got 1$"):
        ope.bootstrap_estimates(np.array([1.0]), np.array([0]), np.array([0.5]), [[0.5, 0.5]], [[0.2, 0.3]], n_boot=10)
