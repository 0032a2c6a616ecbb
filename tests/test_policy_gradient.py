"""Tests for rlrec_helpers.policy_gradient: hand-computed values (ERRATA.md), invariances,
finite differences on random instances, and REINFORCE converging to the exact gradient."""

import numpy as np
import pytest

from rlrec_helpers import policy_gradient as pg
from rlrec_helpers._validate import SUM_TOL

S = pg.WORKED_EXAMPLE_STATES
R1 = pg.worked_example_rewards("literal")
R2 = pg.worked_example_rewards("diagonal")


# ---------------------------------------------------------------- the §4.3 tables
def test_reward_tables():
    np.testing.assert_array_equal(R1, [[1, 0, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(R2, np.eye(3))
    assert S.shape == (3, 3)
    np.testing.assert_array_equal(S[1], [4, 5, 6])
    with pytest.raises(ValueError, match="reading"):
        pg.worked_example_rewards("for all i")


def test_worked_example_mdp_q_is_r_only_when_the_episode_ends():
    from rlrec_helpers import mdp

    rng = np.random.default_rng(5)
    one_step, continuing = pg.worked_example_mdp(), pg.worked_example_mdp(continuing=True)
    assert one_step.n_states == 4 and one_step.terminal.tolist() == [False, False, False, True]
    assert one_step.mu[3] == 0.0 and continuing.n_states == 3
    for _ in range(5):
        pi = pg.softmax_policy(rng.normal(size=3))
        q = mdp.q_of_policy(one_step, np.tile(pi, (4, 1)))
        np.testing.assert_allclose(q[:3], R1, atol=1e-12)
        # continuing: Q = r + gamma * V, with V = sum_a pi(a) r(., a) / (1 - gamma) averaged over states
        v = (R1 @ pi).mean() / (1 - 0.9)
        np.testing.assert_allclose(mdp.q_of_policy(continuing, np.tile(pi, (3, 1))), R1 + 0.9 * v, atol=1e-9)
    q_diag = mdp.q_of_policy(pg.worked_example_mdp("diagonal"), np.full((4, 3), 1 / 3))
    np.testing.assert_allclose(q_diag[:3], R2, atol=1e-12)
    with pytest.raises(ValueError, match="continuing"):
        pg.worked_example_mdp(continuing=1)
    with pytest.raises(ValueError, match="reading"):
        pg.worked_example_mdp("for all i")
    with pytest.raises(ValueError, match="gamma"):
        pg.worked_example_mdp(gamma=1.5)


def test_feature_maps():
    np.testing.assert_allclose(np.linalg.norm(pg.worked_example_features("normalised"), axis=1), 1.0)
    np.testing.assert_allclose(pg.worked_example_features("centred")[1], 0.0)
    b = pg.worked_example_features("bias")
    assert b.shape == (3, 4)
    np.testing.assert_allclose(b[:, 0], 1.0)
    np.testing.assert_allclose(b[:, 1:].mean(axis=0), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="kind"):
        pg.worked_example_features("pca")


# ---------------------------------------------------------------- values at θ = 0
def test_p1_values_at_zero():
    th = np.zeros(3)
    np.testing.assert_allclose(pg.softmax_policy(th), [1 / 3] * 3)
    assert pg.expected_reward(th, R1) == pytest.approx(1 / 9)
    assert pg.expected_reward(th, R2) == pytest.approx(1 / 3)
    np.testing.assert_allclose(pg.expected_reward_gradient(th, R1), np.array([2, -1, -1]) / 27, atol=1e-15)
    np.testing.assert_allclose(pg.expected_reward_gradient(th, R2), 0.0, atol=1e-15)


def test_p1_cannot_learn_diagonal():
    rng = np.random.default_rng(0)
    for _ in range(20):
        th = rng.normal(scale=3, size=3)
        assert pg.expected_reward(th, R2) == pytest.approx(1 / 3)
        np.testing.assert_allclose(pg.expected_reward_gradient(th, R2), 0.0, atol=1e-15)


def test_p2_raw_values_at_zero():
    th = np.zeros((3, 3))
    g1 = pg.expected_reward_gradient(th, R1, S)
    np.testing.assert_allclose(g1 * 27, [[2, 4, 6], [-1, -2, -3], [-1, -2, -3]], atol=1e-12)
    g2 = pg.expected_reward_gradient(th, R2, S)
    np.testing.assert_allclose(g2 * 3, [[-1, -1, -1], [0, 0, 0], [1, 1, 1]], atol=1e-12)
    pi = pg.softmax_policy(th, S)
    assert pi.shape == (3, 3)
    np.testing.assert_allclose(pi, 1 / 3)


def random_problem(seed: int, lo: int, hi: int):
    """A random one-step problem: (rng, (rewards, features, state distribution, θ)) with
    n_states, n_actions and the feature dimension drawn from [lo, hi)."""
    rng = np.random.default_rng(seed)
    n_s, n_a, d = (int(x) for x in rng.integers(lo, hi, size=3))
    return rng, (rng.normal(size=(n_s, n_a)), rng.normal(size=(n_s, d)), rng.dirichlet(np.ones(n_s)),
                 rng.normal(size=(n_a, d)))


@pytest.mark.parametrize("seed", range(3))
def test_hessian_matches_second_differences_of_j(seed):
    """Independent of the implementation's own route (differences of the exact gradient):
    central second differences of J itself, at random θ, problems and state distributions."""
    rng, (r, phi, dist, th) = random_problem(300 + seed, 2, 5)
    j = lambda t: pg.expected_reward(t.reshape(th.shape), r, phi, dist)  # noqa: E731
    n, h = th.size, 1e-4
    fd = np.zeros((n, n))
    e = np.eye(n) * h
    x = th.ravel()
    for a in range(n):
        for b in range(n):
            fd[a, b] = (j(x + e[a] + e[b]) - j(x + e[a] - e[b]) - j(x - e[a] + e[b]) + j(x - e[a] - e[b])) / (4 * h * h)
    np.testing.assert_allclose(pg.expected_reward_hessian(th, r, phi, dist), fd, atol=2e-5)


def test_hessian_eigenvalues_raw_features():
    h = pg.expected_reward_hessian(np.zeros((3, 3)), R2, S)
    ev = np.linalg.eigvalsh(h)
    assert ev[0] == pytest.approx(-5.897, abs=2e-3)
    assert ev[-1] == pytest.approx(5.897, abs=2e-3)
    assert 2 / ev[-1] == pytest.approx(0.339, abs=2e-3)


def test_gradient_sums_to_zero_over_actions():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n_s, n_a, d = rng.integers(1, 7, size=3)
        r = rng.normal(size=(n_s, n_a))
        phi = rng.normal(size=(n_s, d))
        g = pg.expected_reward_gradient(rng.normal(size=(n_a, d)), r, phi)
        np.testing.assert_allclose(g.sum(axis=0), 0.0, atol=1e-12)
        g1 = pg.expected_reward_gradient(rng.normal(size=n_a), r)
        assert abs(g1.sum()) < 1e-12


# ---------------------------------------------------------------- softmax properties
def test_shift_invariance():
    rng = np.random.default_rng(2)
    th = rng.normal(size=4)
    for c in (-7.0, 0.5, 100.0):
        np.testing.assert_allclose(pg.softmax_policy(th + c), pg.softmax_policy(th), atol=1e-14)
    # the article's update θ¹ = θ⁰ + α[1,1,1] leaves π and J unchanged
    for alpha in (0.1, 1.0, 10.0):
        assert pg.expected_reward(np.full(3, alpha), R1) == pytest.approx(pg.expected_reward(np.zeros(3), R1))


def test_stable_at_large_logits():
    th = np.array([1000.0, -1000.0, 999.0])
    p = pg.softmax_policy(th)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p, [1 / (1 + np.exp(-1)), 0.0, np.exp(-1) / (1 + np.exp(-1))], rtol=1e-12)
    phi = np.array([[1.0], [-1.0]])
    P = pg.softmax_policy(np.array([[1000.0], [0.0], [-1000.0]]), phi)
    np.testing.assert_allclose(P, [[1, 0, 0], [0, 0, 1]], atol=1e-300)
    g = pg.expected_reward_gradient(np.array([[1000.0], [0.0], [-1000.0]]), np.eye(2, 3), phi)
    assert np.all(np.isfinite(g))


# ---------------------------------------------------------------- finite differences
@pytest.mark.parametrize("seed", range(12))
def test_gradient_matches_finite_differences_random(seed):
    rng, (r, phi, dist, th) = random_problem(100 + seed, 1, 7)
    exact = pg.expected_reward_gradient(th, r, phi, dist)
    fd = pg.finite_difference_gradient(lambda t: pg.expected_reward(t, r, phi, dist), th)
    assert exact.shape == th.shape
    np.testing.assert_allclose(exact, fd, atol=1e-8)
    th1 = rng.normal(size=th.shape[0])
    fd1 = pg.finite_difference_gradient(lambda t: pg.expected_reward(t, r, None, dist), th1)
    np.testing.assert_allclose(pg.expected_reward_gradient(th1, r, None, dist), fd1, atol=1e-8)


def test_expected_reward_matches_explicit_sum():
    rng = np.random.default_rng(3)
    r = rng.normal(size=(4, 5))
    phi = rng.normal(size=(4, 2))
    th = rng.normal(size=(5, 2))
    dist = np.array([0.1, 0.2, 0.3, 0.4])
    total = 0.0
    for s in range(4):
        logits = th @ phi[s]
        p = np.exp(logits) / np.exp(logits).sum()
        total += dist[s] * (p * r[s]).sum()
    assert pg.expected_reward(th, r, phi, dist) == pytest.approx(total, rel=1e-12)


# ---------------------------------------------------------------- REINFORCE
@pytest.mark.parametrize("baseline", [None, "value", 0.5])
def test_reinforce_converges_to_exact(baseline):
    rng = np.random.default_rng(4)
    phi = pg.worked_example_features("bias")
    th = rng.normal(scale=0.5, size=(3, 4))
    exact = pg.expected_reward_gradient(th, R2, phi)
    est = pg.reinforce_gradient_estimate(th, R2, phi, n_samples=400_000, baseline=baseline, rng=rng)
    assert est.shape == exact.shape
    np.testing.assert_allclose(est, exact, atol=6e-3)
    # P1 on the literal reading
    est1 = pg.reinforce_gradient_estimate(np.zeros(3), R1, n_samples=400_000, baseline=baseline, rng=rng)
    np.testing.assert_allclose(est1, np.array([2, -1, -1]) / 27, atol=4e-3)


def test_reinforce_baseline_reduces_variance():
    phi = pg.worked_example_features("bias")
    th = np.zeros((3, 4))
    rng = np.random.default_rng(5)
    plain = np.array([pg.reinforce_gradient_estimate(th, R2, phi, n_samples=50, rng=rng) for _ in range(400)])
    based = np.array([pg.reinforce_gradient_estimate(th, R2, phi, n_samples=50, baseline="value", rng=rng)
                      for _ in range(400)])
    assert based.var(axis=0).sum() < 0.7 * plain.var(axis=0).sum()


def test_reinforce_variance_falls_as_one_over_n():
    rng = np.random.default_rng(6)
    th = np.zeros((3, 3))
    small = np.array([pg.reinforce_gradient_estimate(th, R2, S, n_samples=20, rng=rng) for _ in range(300)])
    large = np.array([pg.reinforce_gradient_estimate(th, R2, S, n_samples=200, rng=rng) for _ in range(300)])
    ratio = small.var(axis=0).sum() / large.var(axis=0).sum()
    assert 6 < ratio < 16  # 10 in expectation


# ---------------------------------------------------------------- gradient ascent
def test_gradient_ascent_reaches_one_with_bias_features():
    phi = pg.worked_example_features("bias")
    hist = pg.gradient_ascent(np.zeros((3, 4)), R2, phi, alpha=1.0, n_iters=300)
    assert hist["theta"].shape == (301, 3, 4)
    assert hist["J"].shape == (301,)
    assert hist["policy"].shape == (301, 3, 3)
    assert hist["J"][0] == pytest.approx(1 / 3)
    assert hist["J"][-1] > 0.99
    assert np.all(np.diff(hist["J"]) > -1e-12)  # monotone with a safe alpha


def test_gradient_ascent_caps():
    centred = pg.gradient_ascent(np.zeros((3, 3)), R2, pg.worked_example_features("centred"),
                                 alpha=5.0, n_iters=400)
    assert centred["J"][-1] == pytest.approx(7 / 9, abs=1e-3)
    assert centred["J"].max() < 7 / 9 + 1e-12
    p1 = pg.gradient_ascent(np.zeros(3), R1, alpha=5.0, n_iters=400)
    assert 0.33 < p1["J"][-1] < 1 / 3
    run = pg.worked_example_run(1.0, "none", "diagonal", n_iters=5)
    np.testing.assert_allclose(run["J"], 1 / 3)


# ---------------------------------------------------------------- validation
def test_validation_names_the_argument():
    th = np.zeros((3, 3))
    with pytest.raises(ValueError, match="theta"):
        pg.expected_reward(np.zeros((3, 2)), R2, S)
    with pytest.raises(ValueError, match="theta"):
        pg.softmax_policy(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="theta"):
        pg.expected_reward_gradient(np.array([[np.inf, 0, 0]] * 3), R2, S)
    with pytest.raises(ValueError, match="rewards"):
        pg.expected_reward(th, np.eye(4), S)
    with pytest.raises(ValueError, match="rewards"):
        pg.expected_reward(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="features"):
        pg.softmax_policy(th, np.ones(3))
    with pytest.raises(ValueError, match="state_dist"):
        pg.expected_reward(th, R2, S, state_dist=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="state_dist"):
        pg.expected_reward(th, R2, S, state_dist=[1.5, -0.5, 0.0])
    with pytest.raises(ValueError, match="state_dist"):
        pg.expected_reward_gradient(th, R2, S, state_dist=[0.5, 0.5])
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n_samples"):
        pg.reinforce_gradient_estimate(th, R2, S, n_samples=0, rng=rng)
    with pytest.raises(ValueError, match="baseline"):
        pg.reinforce_gradient_estimate(th, R2, S, n_samples=5, baseline="mean", rng=rng)
    with pytest.raises(ValueError, match="rng"):
        pg.reinforce_gradient_estimate(th, R2, S, n_samples=5, rng=0)
    with pytest.raises(ValueError, match="alpha"):
        pg.gradient_ascent(th, R2, S, alpha=-1.0, n_iters=3)
    with pytest.raises(ValueError, match="n_iters"):
        pg.gradient_ascent(th, R2, S, alpha=0.1, n_iters=-1)


# ---------------------------------------------------------------- notebook-03 plot and widget wrappers
def test_plot_and_widget_wrappers(capsys):
    import matplotlib.pyplot as plt

    from rlrec_helpers import plotting, widgets

    hist = pg.worked_example_run(1.0, "bias", "diagonal", n_iters=20)
    ax_j, ax_pi = plotting.plot_ascent_history(hist, title="t")
    assert ax_j.get_xlabel() and ax_j.get_ylabel() and ax_pi.get_xlabel() and ax_pi.get_ylabel()
    plt.close("all")
    j = widgets.show_worked_example(1.0, "bias", "diagonal", n_iters=20)
    assert j == pytest.approx(hist["J"][-1])
    assert "J20=" in capsys.readouterr().out
    w = widgets.worked_example_widget()
    assert {c.description for c in w.children if hasattr(c, "description")} >= {"α", "features", "reading"}
    plt.close("all")


# ---------------------------------------------------------------- review fixes (bad input)
def test_expected_reward_rejects_empty_rewards():
    with pytest.raises(ValueError, match="rewards must have n_states >= 1"):
        pg.expected_reward(np.zeros(3), np.empty((0, 3)))


@pytest.mark.parametrize("alpha", ["0.1", None, np.nan, 0.0, -1.0, True])
def test_gradient_ascent_rejects_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        pg.gradient_ascent(np.zeros(3), R2, alpha=alpha, n_iters=2)


# ---------------------------------------------------------------- reading a J curve (notebook 03, widget)
def test_decrease_steps_counts_and_largest_fall():
    J = np.array([0.0, 0.5, 0.4, 0.4, 0.4 - 1e-12, 0.9, 0.2, 0.3])
    np.testing.assert_array_equal(pg.decrease_steps(J), [1, 5])     # 1e-12 round-off is not a fall
    np.testing.assert_array_equal(pg.decrease_steps(J, tol=0.0), [1, 3, 5])
    assert pg.decrease_steps(J).dtype.kind == "i"
    assert pg.count_decreases(J) == 2 and isinstance(pg.count_decreases(J), int)
    assert pg.count_decreases(J, tol=0.2) == 1                      # only the 0.7 fall exceeds 0.2
    assert pg.largest_decrease(J) == pytest.approx(0.7)
    assert pg.count_decreases([1.0]) == 0 and pg.largest_decrease([1.0]) == 0.0
    assert pg.largest_decrease(np.arange(5.0)) == 0.0 and pg.count_decreases(list(np.arange(5.0))) == 0


def test_decrease_counts_on_worked_example_runs():
    safe = pg.worked_example_run(1.0, "bias", "diagonal", n_iters=100)["J"]
    assert pg.count_decreases(safe) == 0
    h = pg.worked_example_run(0.5, "raw", "diagonal", n_iters=100)
    falls = pg.decrease_steps(h["J"])
    assert falls.size > 10 and np.all(h["J"][falls + 1] < h["J"][falls])
    assert pg.count_decreases(h["J"]) == falls.size


@pytest.mark.parametrize("J, match", [
    (np.zeros((2, 3)), "J must be a non-empty 1-D"),
    (np.array([]), "J must be a non-empty 1-D"),
    (np.array(1.0), "J must be a non-empty 1-D"),
    (np.array([0.0, np.nan, 1.0]), "J must be finite"),
    (np.array([0.0, np.inf]), "J must be finite"),
])
def test_decrease_helpers_reject_bad_curves(J, match):
    for fn in (pg.decrease_steps, pg.count_decreases, pg.largest_decrease):
        with pytest.raises(ValueError, match=match):
            fn(J)


@pytest.mark.parametrize("tol", [-1e-9, np.nan, np.inf, "0", None, True])
def test_decrease_helpers_reject_bad_tol(tol):
    with pytest.raises(ValueError, match="tol must be a finite number >= 0"):
        pg.count_decreases(np.arange(3.0), tol=tol)


def test_widget_reports_count_decreases(capsys):
    import matplotlib.pyplot as plt

    from rlrec_helpers import widgets

    widgets.show_worked_example(0.5, "raw", "diagonal", n_iters=60)
    n = pg.count_decreases(pg.worked_example_run(0.5, "raw", "diagonal", n_iters=60)["J"])
    assert n > 0 and f"steps where J fell: {n}\n" in capsys.readouterr().out
    plt.close("all")


def test_policy_entropy_known_values_and_axes():
    assert pg.policy_entropy(np.full(10, 0.1)) == pytest.approx(np.log(10), abs=1e-12)
    assert pg.policy_entropy([1.0, 0.0, 0.0]) == 0.0                 # 0 log 0 = 0, no NaN
    assert pg.policy_entropy([0.5, 0.5, 0.0]) == pytest.approx(np.log(2), abs=1e-12)
    p = np.array([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])
    rows = -np.sum(p * np.log(p), axis=1)
    np.testing.assert_allclose(pg.policy_entropy(p), rows, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pg.policy_entropy(p.T, axis=0), rows, rtol=0, atol=1e-12)
    assert pg.policy_entropy(p).shape == (2,)
    # a softmax policy: between 0 and log(n_actions), largest at θ = 0
    h0 = pg.policy_entropy(pg.softmax_policy(np.zeros(4)))
    h1 = pg.policy_entropy(pg.softmax_policy(np.array([3.0, 0.0, 0.0, 0.0])))
    assert h0 == pytest.approx(np.log(4)) and 0 < h1 < h0


@pytest.mark.parametrize("probs, axis, message", [
    ([0.5, 0.6], -1, "probs must sum to 1 (within 1e-06), got a sum of 1.1"),
    ([[0.5, 0.5], [0.2, 0.2]], -1, "probs rows must sum to 1 (within 1e-06), got probs[1, :] summing to 0.4"),
    ([[0.5, 0.5], [0.2, 0.9]], 0, "probs columns must sum to 1 (within 1e-06), got probs[:, 1] summing to 1.4"),
    ([1.5, -0.5], -1, "probs entries must be finite numbers >= 0, got probs[1] = -0.5"),
    ([np.nan, 1.0], -1, "probs entries must be finite numbers >= 0, got probs[0] = nan"),
    ([], -1, "probs must be a non-empty array with at least one axis, got shape (0,)"),
    (0.5, -1, "probs must be a non-empty array with at least one axis, got shape ()"),
    ([0.5, 0.5], 1, "axis must be an integer in [-1, 0], got 1"),
])
def test_policy_entropy_rejects_bad_input(probs, axis, message):
    with pytest.raises(ValueError) as err:
        pg.policy_entropy(probs, axis=axis)
    assert str(err.value) == message


def test_policy_entropy_and_state_dist_share_the_package_tolerance():
    assert pg.DISTRIBUTION_TOL == SUM_TOL == 1e-6
    assert pg.policy_entropy([0.5, 0.5000009]) == pytest.approx(np.log(2), abs=1e-5)  # |sum - 1| = 0.9e-6
    with pytest.raises(ValueError, match=r"^probs must sum to 1 \(within 1e-06\), got a sum of 1\.0000011$"):
        pg.policy_entropy([0.5, 0.5000011])
    # state_dist accepts what its check accepts, also in the sampled estimate (rng.choice alone
    # would refuse |sum - 1| > 1.5e-8)
    d = np.array([0.5, 0.5 - 0.5 * SUM_TOL, 0.0])
    assert np.isfinite(pg.expected_reward(np.zeros(3), np.eye(3), state_dist=d))
    g = pg.reinforce_gradient_estimate(np.zeros(3), np.eye(3), state_dist=d, n_samples=50,
                                       rng=np.random.default_rng(0))
    assert g.shape == (3,) and np.all(np.isfinite(g))
    with pytest.raises(ValueError, match=r"^state_dist must sum to 1 \(within 1e-06\), got a sum of 0\.9$"):
        pg.expected_reward(np.zeros(3), np.eye(3), state_dist=[0.5, 0.4, 0.0])
    with pytest.raises(ValueError,
                       match=r"^state_dist entries must be finite numbers >= 0, got state_dist\[1\] = -0\.5$"):
        pg.expected_reward(np.zeros(3), np.eye(3), state_dist=[1.5, -0.5, 0.0])


def test_reinforce_gradient_estimate_draws_states_as_rng_choice_does():
    """s ~ d is drawn like rng.choice(n_states, n, p=d): the same draws from the same generator."""
    rewards = np.array([[1.0, 0.0, 0.5], [0.0, 2.0, 0.0], [0.3, 0.0, 1.0]])
    theta, d = np.array([0.2, -0.1, 0.4]), np.array([0.1, 0.2, 0.7])
    for seed in range(3):
        rng = np.random.default_rng(seed)  # the reference: rng.choice, then the action draw
        s = rng.choice(3, size=400, p=d)
        u = rng.random(400)
        pi = pg.softmax_policy(theta)
        a = np.minimum((u[:, None] > np.cumsum(pi)[None, :]).sum(axis=1), 2)
        ref = ((rewards[s, a])[:, None] * (np.eye(3)[a] - pi)).mean(axis=0)
        got = pg.reinforce_gradient_estimate(theta, rewards, state_dist=d, n_samples=400,
                                             rng=np.random.default_rng(seed))
        np.testing.assert_array_equal(got, ref)


# ---------------------------------------------------------------- review C fixes
import re  # noqa: E402

_OVERFLOW = ("features @ theta.T must be finite (the logits overflow; scale theta or features down), "
             "got logits[0, 0] = inf")


@pytest.mark.parametrize("call", [
    lambda: pg.softmax_policy([[1e308], [0.0]], [[10.0]]),
    lambda: pg.expected_reward([[1e308], [0.0]], [[1.0, 0.0]], [[10.0]]),
    lambda: pg.expected_reward_gradient([[1e308], [0.0]], [[1.0, 0.0]], [[10.0]]),
    lambda: pg.reinforce_gradient_estimate([[1e308], [0.0]], [[1.0, 0.0]], [[10.0]], n_samples=3,
                                           rng=np.random.default_rng(0)),
    lambda: pg.gradient_ascent([[1e308], [0.0]], [[1.0, 0.0]], [[10.0]], alpha=0.1, n_iters=1),
])
def test_overflowing_logits_name_theta_and_features(call):
    with pytest.raises(ValueError, match="^" + re.escape(_OVERFLOW) + "$"):
        call()


def test_gradient_ascent_blames_alpha_when_a_step_overflows_the_logits():
    # theta stays finite (2.5e159) but features @ theta.T = 2.5e309 overflows after the first step
    with pytest.raises(ValueError) as err:
        pg.gradient_ascent(np.zeros((2, 1)), [[1.0, 0.0]], [[1e150]], alpha=1e10, n_iters=1)
    assert str(err.value) == ("alpha=10000000000.0 made the logits features @ theta.T non-finite at iteration 1; "
                              "use a smaller alpha")


def test_worked_example_run_names_feature_map():
    with pytest.raises(ValueError) as err:
        pg.worked_example_run(0.1, "nope", "diagonal")
    assert str(err.value) == "feature_map must be one of 'none', 'raw', 'normalised', 'centred', 'bias', got 'nope'"
    assert pg.worked_example_run(0.1, "none", "diagonal", n_iters=2)["J"].shape == (3,)


@pytest.mark.parametrize("gamma", [1.0, -0.5, None, "0.9"])
def test_worked_example_mdp_gamma_is_in_0_1(gamma):
    with pytest.raises(ValueError) as err:
        pg.worked_example_mdp(gamma=gamma)
    assert str(err.value) == f"gamma must be a finite number in [0, 1), got {gamma!r}"
    assert pg.worked_example_mdp(gamma=0.0).gamma == 0.0
