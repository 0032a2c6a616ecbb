"""Tests for rlrec_helpers.bandits: hand-computed updates, formulas, regret behaviour, validation."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlrec_helpers import bandits as b

# --------------------------------------------------------------------------- theory


def test_bernoulli_kl_hand_values():
    expected = 0.4 * math.log(0.4 / 0.5) + 0.6 * math.log(0.6 / 0.5)
    assert b.bernoulli_kl(0.4, 0.5) == pytest.approx(expected, rel=1e-12)
    assert b.bernoulli_kl(0.3, 0.3) == pytest.approx(0.0, abs=1e-15)
    assert b.bernoulli_kl(0.0, 0.5) == pytest.approx(math.log(2.0))
    assert b.bernoulli_kl(1.0, 0.25) == pytest.approx(math.log(4.0))


def test_lai_robbins_reference_for_the_ten_arm_testbed():
    env = b.bernoulli_testbed(best=0.5, others=0.4, n_arms=10)
    kl = 0.4 * math.log(0.8) + 0.6 * math.log(1.2)
    c = 9 * 0.1 / kl
    assert b.lai_robbins_constant(env.probs) == pytest.approx(c, rel=1e-12)
    curve = b.lai_robbins_curve(env.probs, 10_000)
    assert curve.shape == (10_000,) and curve[0] == 0.0
    assert curve[-1] == pytest.approx(c * math.log(10_000), rel=1e-12)
    assert 411 < curve[-1] < 413  # "about 412"


def test_lai_robbins_single_best_arm_only():
    assert b.lai_robbins_constant([0.5, 0.5]) == 0.0
    with pytest.raises(ValueError, match="probs"):
        b.lai_robbins_constant([1.0, 0.5])


# --------------------------------------------------------------------------- policies


def test_beta_posterior_hand_computed():
    ts = b.BernoulliTS(3, alpha0=1.0, beta0=2.0)
    ts.reset(2)
    ts.update(np.array([0, 2]), np.array([1.0, 0.0]))
    ts.update(np.array([0, 2]), np.array([1.0, 1.0]))
    ts.update(np.array([1, 2]), np.array([0.0, 0.5]))
    np.testing.assert_allclose(ts.alpha, [[3, 1, 1], [1, 1, 2.5]])
    np.testing.assert_allclose(ts.beta, [[2, 3, 2], [2, 2, 3.5]])
    np.testing.assert_allclose(ts.posterior_mean[0], [3 / 5, 1 / 4, 1 / 3])
    with pytest.raises(ValueError, match="rewards"):
        ts.update(np.array([0, 0]), np.array([2.0, 0.0]))


def test_beta_samples_have_the_posterior_moments():
    ts = b.BernoulliTS(2)
    ts.reset(40_000)
    for _ in range(3):
        ts.update(np.zeros(40_000, dtype=int), np.ones(40_000))   # arm 0: Beta(4, 1)
    s = ts.sample_means(np.random.default_rng(0))
    assert s[:, 0].mean() == pytest.approx(4 / 5, abs=0.005)
    assert s[:, 0].var() == pytest.approx(4 * 1 / (25 * 6), abs=0.002)
    assert s[:, 1].mean() == pytest.approx(0.5, abs=0.006)           # Beta(1, 1)


def test_gaussian_posterior_hand_computed():
    ts = b.GaussianTS(2, prior_mean=0.0, prior_var=1.0, noise_var=0.25)
    ts.reset(1)
    ts.update(np.array([0]), np.array([1.0]))
    ts.update(np.array([0]), np.array([0.5]))
    mean, var = ts.posterior()
    # precision 1 + 2/0.25 = 9; mean = (0 + 1.5/0.25) / 9
    np.testing.assert_allclose(var, [[1 / 9, 1.0]])
    np.testing.assert_allclose(mean, [[6 / 9, 0.0]])


def test_ucb1_plays_each_arm_once_then_follows_its_index():
    rng = np.random.default_rng(0)
    ucb = b.UCB1(4)
    ucb.reset(3)
    for k in range(4):
        arms = ucb.select(rng)
        assert np.all(arms == k)
        ucb.update(arms, rng.integers(0, 2, size=3).astype(float))
    for _ in range(30):
        arms = ucb.select(rng)
        ucb.update(arms, rng.integers(0, 2, size=3).astype(float))
    manual = ucb.sums / ucb.counts + np.sqrt(2.0 * math.log(ucb.t) / ucb.counts)
    np.testing.assert_allclose(ucb.indices(), manual, rtol=1e-12)
    np.testing.assert_array_equal(ucb.select(rng), manual.argmax(axis=1))
    assert ucb.t == 34 and ucb.counts.sum() == 3 * 34


def test_ucb1_index_is_infinite_for_unplayed_arms():
    ucb = b.UCB1(3)
    ucb.reset(1)
    ucb.update(np.array([1]), np.array([1.0]))
    idx = ucb.indices()
    assert np.isinf(idx[0, 0]) and np.isinf(idx[0, 2]) and idx[0, 1] == pytest.approx(1.0)


def test_epsilon_greedy_extremes_and_schedule():
    rng = np.random.default_rng(1)
    greedy = b.EpsilonGreedy(3, 0.0)
    greedy.reset(5)
    greedy.update(np.array([0, 1, 2, 0, 1]), np.array([0.2, 0.3, 0.9, -0.1, -0.5]))
    picks = greedy.select(rng)
    np.testing.assert_allclose(greedy.estimates[0], [0.2, 0.0, 0.0])
    assert list(picks[:3]) == [0, 1, 2]
    assert picks[3] in (1, 2) and picks[4] in (0, 2)  # ties broken among zero estimates
    uniform = b.EpsilonGreedy(4, 1.0)
    uniform.reset(20_000)
    freq = np.bincount(uniform.select(rng), minlength=4) / 20_000
    np.testing.assert_allclose(freq, 0.25, atol=0.015)
    dec = b.EpsilonGreedy(10, 1.0, decay_c=0.1, decay_d=0.1)
    dec.reset(1)
    assert dec.current_epsilon() == 1.0
    for _ in range(999):
        dec.update(np.array([0]), np.array([1.0]))
    assert dec.current_epsilon() == pytest.approx(0.1 * 10 / (0.01 * 1000))


def test_greedy_ties_are_random_across_runs():
    g = b.EpsilonGreedy(5, 0.0)
    g.reset(10_000)
    freq = np.bincount(g.select(np.random.default_rng(2)), minlength=5) / 10_000
    np.testing.assert_allclose(freq, 0.2, atol=0.02)


def _feed_linear(policy, n_steps, rng, per_arm=False):
    """Feed random contexts/rewards; return the list of (context, arms, rewards)."""
    log = []
    R, K, d = policy.n_runs, policy.n_arms, policy.dim
    for _ in range(n_steps):
        ctx = rng.standard_normal((R, K, d) if per_arm else (R, d))
        arms = rng.integers(K, size=R)
        r = rng.standard_normal(R)
        policy.update(arms, r, ctx)
        log.append((ctx, arms, r))
    return log


@pytest.mark.parametrize("per_arm", [False, True])
def test_linucb_sherman_morrison_matches_numpy_inverse(per_arm):
    rng = np.random.default_rng(3)
    pol = b.LinUCB(3, 4, alpha=0.7, reg=2.0)
    pol.reset(2)
    log = _feed_linear(pol, 50, rng, per_arm=per_arm)
    for r in range(2):
        for a in range(3):
            A = 2.0 * np.eye(4)
            bb = np.zeros(4)
            for ctx, arms, rew in log:
                if arms[r] == a:
                    x = ctx[r, a] if per_arm else ctx[r]
                    A += np.outer(x, x)
                    bb += rew[r] * x
            np.testing.assert_allclose(pol.A_inv[r, a], np.linalg.inv(A), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(pol.theta[r, a], np.linalg.solve(A, bb), rtol=1e-8, atol=1e-10)
    x = rng.standard_normal((2, 4))
    manual = np.array([[x[r] @ pol.theta[r, a] + 0.7 * math.sqrt(x[r] @ pol.A_inv[r, a] @ x[r])
                        for a in range(3)] for r in range(2)])
    np.testing.assert_allclose(pol.scores(x), manual, rtol=1e-10)
    np.testing.assert_array_equal(pol.select(rng, x), manual.argmax(axis=1))


def test_linear_ts_scalar_sampling_matches_full_parameter_sampling():
    """Sampling x·θ̃ directly gives the same arm frequencies as sampling θ̃ ~ N(θ, v²A⁻¹)."""
    rng = np.random.default_rng(4)
    n = 20_000
    pol = b.LinearTS(3, 3, v=0.5)
    pol.reset(n)
    for ctx, arm, rew in [([1, 0.5, -0.2], 0, 1.0), ([1, -0.3, 0.8], 1, 0.5),
                          ([1, 0.1, 0.1], 2, 0.2), ([1, 0.9, 0.4], 0, 0.0)]:
        pol.update(np.full(n, arm), np.full(n, rew), np.tile(ctx, (n, 1)))
    x = np.array([1.0, 0.4, 0.3])
    freq = np.bincount(pol.select(rng, np.tile(x, (n, 1))), minlength=3) / n
    chol = np.linalg.cholesky(0.5 ** 2 * pol.A_inv[0])               # (K, d, d), cov v²A⁻¹
    theta_tilde = pol.theta[0] + np.einsum("kij,nkj->nki", chol, rng.standard_normal((n, 3, 3)))
    full = (theta_tilde @ x).argmax(axis=1)                          # (n,)
    np.testing.assert_allclose(freq, np.bincount(full, minlength=3) / n, atol=0.02)
    pol0 = b.LinearTS(3, 3, v=0.0)
    pol0.reset(2)
    pol0.update(np.array([0, 1]), np.array([1.0, 1.0]), np.ones((2, 3)))
    np.testing.assert_array_equal(pol0.select(rng, np.ones((2, 3))), [0, 1])


# --------------------------------------------------------------------------- driver and regret


class _Fixed(b.Policy):
    name = "fixed"

    def __init__(self, n_arms, arm):
        super().__init__(n_arms)
        self.arm = arm

    def _select(self, rng, context=None):
        return np.full(self.n_runs, self.arm)

    def _update(self, arms, rewards, context=None):
        self.t += 1


def test_run_bandit_regret_bookkeeping():
    env = b.BernoulliBandit([0.2, 0.7, 0.5])
    h = b.run_bandit(_Fixed(3, 2), env, horizon=100, n_runs=4, seed=0)
    assert h["rewards"].shape == h["regret"].shape == h["arms"].shape == (4, 100)
    np.testing.assert_allclose(h["regret"][:, -1], 0.2 * 100)
    np.testing.assert_allclose(h["regret"][:, 9], 0.2 * 10)
    assert not h["optimal"].any() and set(np.unique(h["rewards"])) <= {0.0, 1.0}
    best = b.run_bandit(_Fixed(3, 1), env, horizon=50, n_runs=2, seed=0)
    assert best["regret"].max() == 0.0 and best["optimal"].all()
    assert best["rewards"].mean() == pytest.approx(0.7, abs=0.15)


def test_run_bandit_contextual_regret_uses_per_user_best():
    env = b.LogisticClickEnv(n_items=4, dim=3, seed=1)
    h = b.run_bandit(_Fixed(4, 0), env, horizon=200, n_runs=3, seed=0)
    assert np.all(np.diff(h["regret"], axis=1) >= 0)
    assert 0 < h["optimal"].mean() < 1   # item 0 is the best for some users only
    ctr = env.population_ctr(n_users=20_000)
    assert ctr["oracle"] > 1.3 * ctr["best_single_item"]


def test_regret_slope_and_epsilon_theory():
    c = np.cumsum(np.full((2, 10), 0.5), axis=1)
    np.testing.assert_allclose(b.regret_slope(c), [0.5, 0.5])
    c2 = np.concatenate([np.arange(1, 6, dtype=float), np.full(5, 5.0)])[None]
    np.testing.assert_allclose(b.regret_slope(c2, 0.0, 0.5), [1.0])
    np.testing.assert_allclose(b.regret_slope(c2, 0.5, 1.0), [0.0])
    assert b.epsilon_greedy_asymptotic_slope(b.bernoulli_testbed().probs, 0.1) == pytest.approx(0.009)


TESTBED = b.bernoulli_testbed(best=0.7, others=0.5, n_arms=5)


def _half_ratio(policy, horizon=4000, n_runs=20, seed=0, env=TESTBED):
    """Mean regret added in the second half divided by the regret of the first half."""
    reg = b.run_bandit(policy, env, horizon, n_runs, seed=seed, record_arms=False)["regret"]
    first = reg[:, horizon // 2 - 1].mean()
    return (reg[:, -1].mean() - first) / first, reg


@pytest.mark.parametrize("policy", [b.UCB1(5), b.BernoulliTS(5), b.GaussianTS(5),
                                    b.EpsilonGreedy(5, 1.0, decay_c=0.5, decay_d=0.2)],
                         ids=lambda p: p.name)
def test_sublinear_regret(policy):
    # logarithmic regret C·ln t adds C·ln 2 in the second half vs C·ln(T/2) in the first
    ratio, reg = _half_ratio(policy)
    assert ratio < 0.5, f"{policy.name}: second half / first half = {ratio:.3f}"
    assert reg[:, -1].mean() < 0.4 * TESTBED.gaps.mean() * 4000  # far below uniform play


def test_fixed_epsilon_and_greedy_have_linear_regret():
    ratio, reg = _half_ratio(b.EpsilonGreedy(5, 0.2))
    slope = b.regret_slope(reg).mean()
    theory = b.epsilon_greedy_asymptotic_slope(TESTBED.probs, 0.2)
    assert ratio > 0.8
    assert 0.8 * theory < slope < 1.5 * theory
    _, greedy = _half_ratio(b.EpsilonGreedy(5, 0.0), n_runs=40)
    assert (b.regret_slope(greedy) > 0).mean() > 0.2   # stuck on a worse arm in many runs


class _LinearEnv:
    """Well-specified linear contextual bandit: reward = x·θ_a + N(0, 0.1²), x = [1, u]."""

    def __init__(self, n_arms=4, dim=3, seed=0):
        rng = np.random.default_rng(seed)
        self.n_arms, self.context_dim = n_arms, dim + 1
        self.theta = np.concatenate([np.full((n_arms, 1), 0.5), rng.standard_normal((n_arms, dim))], 1)

    def observe(self, rng, n_runs):
        return np.concatenate([np.ones((n_runs, 1)), rng.standard_normal((n_runs, self.context_dim - 1))], 1)

    def mean_rewards(self, context, n_runs):
        return context @ self.theta.T

    def draw(self, means, rng):
        return means + 0.1 * rng.standard_normal(means.shape)


@pytest.mark.parametrize("make", [lambda: b.LinUCB(4, 4, alpha=0.5), lambda: b.LinearTS(4, 4, v=0.2)],
                         ids=["LinUCB", "LinearTS"])
def test_linear_policies_have_sublinear_regret_when_well_specified(make):
    ratio, reg = _half_ratio(make(), horizon=2000, n_runs=10, env=_LinearEnv())
    assert ratio < 0.5 and reg[:, -1].mean() < 100


def test_linucb_beats_context_free_ts_when_users_differ():
    env = b.LogisticClickEnv()
    lin = b.run_bandit(b.LinUCB(env.n_arms, env.context_dim), env, 2000, 10, seed=0)
    ts = b.run_bandit(b.BernoulliTS(env.n_arms), env, 2000, 10, seed=0)
    assert lin["rewards"].sum() > 1.2 * ts["rewards"].sum()


def test_compare_on_testbed_shapes():
    out = b.compare_on_testbed(epsilon=0.1, n_arms=3, gap=0.2, horizon=300, n_runs=4)
    assert set(out["curves"]) == {"greedy", "ε-greedy (ε=0.1)", "UCB1", "Thompson sampling (Beta)"}
    assert all(v.shape == (4, 300) for v in out["curves"].values())
    assert out["lai_robbins"].shape == (300,)
    np.testing.assert_allclose(out["probs"], [0.5, 0.3, 0.3])


def test_compare_on_testbed_epsilon_zero_keeps_four_distinct_curves():
    # ε = 0 used to name both ε-greedy policies "greedy", so one curve overwrote the other
    out = b.compare_on_testbed(epsilon=0.0, n_arms=3, gap=0.2, horizon=200, n_runs=3)
    assert set(out["curves"]) == {"greedy", "ε-greedy (ε=0)", "UCB1", "Thompson sampling (Beta)"}
    # the two greedy curves are independent runs (different seeds), not one copied under two names
    assert not np.array_equal(out["curves"]["greedy"], out["curves"]["ε-greedy (ε=0)"])


# --------------------------------------------------------------------------- validation

outside_unit = st.one_of(st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=True),
                         st.floats(min_value=1 + 1e-9, allow_nan=False, allow_infinity=True),
                         st.just(float("nan")))


@settings(max_examples=40, deadline=None)
@given(p=outside_unit, k=st.integers(0, 4))
def test_probabilities_outside_unit_interval_are_rejected(p, k):
    probs = [0.5] * 5
    probs[k] = p
    with pytest.raises(ValueError, match="probs"):
        b.BernoulliBandit(probs)
    with pytest.raises(ValueError, match="best"):
        b.bernoulli_testbed(best=p)
    with pytest.raises(ValueError, match="others"):
        b.bernoulli_testbed(others=p)


@settings(max_examples=40, deadline=None)
@given(p=st.floats(0.0, 1.0), n=st.integers(2, 20))
def test_valid_probabilities_are_accepted(p, n):
    env = b.bernoulli_testbed(best=max(p, 0.5), others=min(p, 0.5), n_arms=n)
    assert env.n_arms == n and np.all((env.probs >= 0) & (env.probs <= 1))


@settings(max_examples=40, deadline=None)
@given(eps=outside_unit)
def test_epsilon_outside_unit_interval_is_rejected(eps):
    with pytest.raises(ValueError, match="epsilon"):
        b.EpsilonGreedy(3, eps)
    with pytest.raises(ValueError, match="epsilon"):
        b.epsilon_greedy_asymptotic_slope([0.5, 0.4], eps)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(max_value=0))
def test_non_positive_horizon_is_rejected(h):
    with pytest.raises(ValueError, match="horizon"):
        b.run_bandit(b.UCB1(2), b.BernoulliBandit([0.1, 0.2]), horizon=h, n_runs=2)
    with pytest.raises(ValueError, match="horizon"):
        b.lai_robbins_curve([0.1, 0.2], h)


@settings(max_examples=30, deadline=None)
@given(dim=st.integers(1, 6), other=st.integers(1, 6), per_arm=st.booleans())
def test_mismatched_feature_dimensions_are_rejected(dim, other, per_arm):
    pol = b.LinUCB(3, dim)
    pol.reset(2)
    ctx = np.ones((2, 3, other) if per_arm else (2, other))
    if other == dim:
        assert pol.select(np.random.default_rng(0), ctx).shape == (2,)
        pol.update(np.array([0, 1]), np.array([1.0, 0.0]), ctx)
    else:
        with pytest.raises(ValueError, match="context"):
            pol.select(np.random.default_rng(0), ctx)
        with pytest.raises(ValueError, match="context"):
            pol.update(np.array([0, 1]), np.array([1.0, 0.0]), ctx)
    env = b.LogisticClickEnv(n_items=3, dim=other)
    if other + 1 != dim:
        with pytest.raises(ValueError, match="dim"):
            b.run_bandit(b.LinearTS(3, dim), env, horizon=5, n_runs=2)


def test_other_bad_inputs():
    lin = b.LinUCB(2, 2)
    lin.reset(1)
    with pytest.raises(ValueError, match="context"):
        lin.scores(None)
    pol = b.UCB1(3)
    pol.reset(2)
    with pytest.raises(ValueError, match="arms"):
        pol.update(np.array([0, 3]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="rewards"):
        pol.update(np.array([0, 1]), np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="n_arms"):
        b.run_bandit(b.UCB1(3), b.BernoulliBandit([0.1, 0.2]), horizon=5, n_runs=1)
    with pytest.raises(ValueError, match="gap"):
        b.compare_on_testbed(gap=0.0)
    with pytest.raises(ValueError, match="n_arms"):
        b.bernoulli_testbed(n_arms=1)


# --------------------------------------------------------------------------- plotting / widget glue


def test_plot_regret_curves_and_widget_function():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlrec_helpers import plotting, widgets

    curves = {"a": np.cumsum(np.ones((3, 50)), axis=1), "b": np.arange(50.0)}
    ax = plotting.plot_regret_curves(curves, reference_curves={"ref": np.log(np.arange(1, 51))})
    assert ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.lines) == 3 and len(ax.collections) == 1
    with pytest.raises(ValueError, match="reference curve"):
        plotting.plot_regret_curves(curves, reference_curves={"ref": np.ones(10)})
    plt.close("all")
    finals = widgets.show_bandit_comparison(epsilon=0.2, n_arms=3, gap=0.3, horizon=200, n_runs=3)
    assert set(finals) == {"greedy", "ε-greedy (ε=0.2)", "UCB1", "Thompson sampling (Beta)"}
    assert all(v >= 0 for v in finals.values())
    assert plt.gca().get_title() == "3 arms, gap 0.3, ε = 0.2: mean and 95% band over 3 runs"   # says what the bands are
    w = widgets.bandit_regret_widget()
    assert {c.description for c in w.children[:-1]} == {"ε", "arms", "gap"}
    plt.close("all")


# --------------------------------------------------------------------------- review fixes


def test_run_bandit_checks_bernoulli_ts_reward_range():
    with pytest.raises(ValueError, match=r"rewards must be in \[0, 1\]"):
        b.run_bandit(b.BernoulliTS(3), b.GaussianBandit([0.0, 1.0, 2.0]), 50, n_runs=4)


def test_run_bandit_rejects_contextual_policy_without_contexts():
    with pytest.raises(ValueError, match="contextual"):
        b.run_bandit(b.LinUCB(3, 2), b.BernoulliBandit([0.1, 0.2, 0.3]), 10, n_runs=2)


@pytest.mark.parametrize("best_index", [5, -1, 1.0])
def test_bernoulli_testbed_names_the_best_index_range(best_index):
    with pytest.raises(ValueError, match=rf"^best_index must be an integer in \[0, n_arms - 1=4\], got {best_index}$"):
        b.bernoulli_testbed(n_arms=5, best_index=best_index)


# --------------------------------------------------------------------------- review C (#15)


def test_bernoulli_kl_names_p_and_q_when_they_do_not_broadcast():
    """Review C #15: numpy's bare 'operands could not be broadcast together' came out."""
    msg = "p and q must broadcast to one shape, got shapes (2,) and (3,)"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        b.bernoulli_kl([0.1, 0.2], [0.3, 0.4, 0.5])
    assert b.bernoulli_kl([[0.1], [0.2]], [0.3, 0.4, 0.5]).shape == (2, 3)   # broadcasting still works


@pytest.mark.parametrize("probs", [[[0.5, 0.4], [0.3, 0.2]], 0.5])
def test_theory_helpers_require_1d_probs(probs):
    """Review C #15: a 2-D probs was silently flattened (documented shape: (K,))."""
    shape = np.shape(probs)
    msg = f"probs must be 1-D (n_arms,), got shape {shape}"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        b.lai_robbins_constant(probs)
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        b.lai_robbins_curve(probs, 10)
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        b.epsilon_greedy_asymptotic_slope(probs, 0.1)


@pytest.mark.parametrize("kwargs, msg", [
    (dict(intercept=float("nan")), "intercept must be a finite number, got nan"),
    (dict(intercept=float("inf")), "intercept must be a finite number, got inf"),
    (dict(intercept="x"), "intercept must be a finite number, got 'x'"),
    (dict(seed=1.5), "seed must be None or an integer >= 0, got 1.5"),
    (dict(seed=-1), "seed must be None or an integer >= 0, got -1"),
    (dict(seed="0"), "seed must be None or an integer >= 0, got '0'"),
])
def test_logistic_click_env_checks_intercept_and_seed(kwargs, msg):
    """Review C #15: a NaN intercept gave NaN click rates; seed=1.5 raised a raw TypeError."""
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        b.LogisticClickEnv(**kwargs)


@pytest.mark.parametrize("kwargs, msg", [
    (dict(n_users=0), "n_users must be an integer >= 1, got 0"),
    (dict(n_users=-1), "n_users must be an integer >= 1, got -1"),
    (dict(n_users=10.0), "n_users must be an integer >= 1, got 10.0"),
    (dict(seed=1.5), "seed must be None or an integer >= 0, got 1.5"),
])
def test_population_ctr_checks_n_users_and_seed(kwargs, msg):
    """Review C #15: n_users=0 returned NaN click rates."""
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        b.LogisticClickEnv(n_items=3, dim=2).population_ctr(**kwargs)


def test_logistic_click_env_valid_arguments_unchanged():
    env = b.LogisticClickEnv(n_items=4, dim=3, intercept=-1, seed=np.int64(3))
    ref = b.LogisticClickEnv(n_items=4, dim=3, intercept=-1.0, seed=3)
    np.testing.assert_array_equal(env.item_features, ref.item_features)
    assert env.population_ctr(n_users=np.int64(500), seed=2) == ref.population_ctr(n_users=500, seed=2)


def test_click_probabilities_refuses_non_finite_context():
    """NaN in the context came back as NaN click probabilities."""
    env = b.LogisticClickEnv(n_items=3, dim=2)
    for bad in (np.nan, np.inf):
        ctx = np.ones((2, 3))
        ctx[1, 2] = bad
        msg = f"context entries must be finite numbers, got context[1, 2] = {bad!r}"
        with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
            env.click_probabilities(ctx)


@pytest.mark.parametrize("seed", ["a", 1.5, -1])
def test_run_bandit_and_compare_on_testbed_check_seed(seed):
    """seed='a' raised a raw TypeError from SeedSequence (compare_on_testbed: from seed + i)."""
    msg = f"seed must be None or an integer >= 0, got {seed!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        b.run_bandit(b.UCB1(2), b.bernoulli_testbed(n_arms=2), 5, 2, seed=seed)
    msg = f"seed must be an integer >= 0, got {seed!r}"   # compare_on_testbed derives seed + i
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        b.compare_on_testbed(n_arms=2, horizon=5, n_runs=2, seed=seed)


def test_seed_none_means_fresh_entropy_as_in_numpy():
    """run_bandit, LogisticClickEnv and population_ctr accept seed=None (numpy's fresh entropy)."""
    out = b.run_bandit(b.UCB1(2), b.bernoulli_testbed(n_arms=2), 5, 2, seed=None)
    assert out["regret"].shape == (2, 5)
    env = b.LogisticClickEnv(n_items=3, dim=2, seed=None)
    assert set(env.population_ctr(n_users=10, seed=None)) == {"best_single_item", "oracle", "random"}


def test_regret_slope_refuses_non_finite_or_empty_regret():
    """NaN cumulative regret came back as NaN slopes."""
    c = np.ones((2, 4))
    c[1, 3] = np.nan
    msg = "cum_regret entries must be finite numbers, got cum_regret[1, 3] = nan"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        b.regret_slope(c)
    with pytest.raises(ValueError, match=f"^{re.escape('cum_regret must not be empty, got shape (0, 4)')}$"):
        b.regret_slope(np.ones((0, 4)))


@pytest.mark.parametrize("rng", [0, None, "a"])
def test_policy_select_requires_a_generator(rng):
    """select(0) raised a raw AttributeError ('int' object has no attribute 'random')."""
    pol = b.EpsilonGreedy(3)
    pol.reset(2)
    with pytest.raises(ValueError, match=f"^{re.escape(f'rng must be a numpy Generator, got {rng!r}')}$"):
        pol.select(rng)
    lin = b.LinUCB(3, 2)
    lin.reset(2)
    with pytest.raises(ValueError, match=f"^{re.escape(f'rng must be a numpy Generator, got {rng!r}')}$"):
        lin.select(rng, np.ones((2, 2)))


@pytest.mark.parametrize("make", [lambda: b.LinUCB(3, 2), lambda: b.LinearTS(3, 2)], ids=["LinUCB", "LinearTS"])
def test_linear_policies_refuse_a_context_that_overflows(make):
    """Left alone at the last stop: a context near 1e200 made x'A^-1 x overflow, the
    Sherman-Morrison step left A^-1 unchanged and theta came out as 1e200 without a word."""
    pol = make()
    pol.reset(2)
    big = np.array([[1e200, 1.0], [1.0, 1.0]])
    msg = ("context is too large for the linear model: {} overflows to inf or NaN (largest |context| "
           "entry 1e+200); rescale the features, e.g. to unit norm")
    with pytest.raises(ValueError) as err:
        pol.update(np.array([0, 1]), np.array([1.0, 0.0]), big)
    assert str(err.value) == msg.format("xᵀA⁻¹x")
    np.testing.assert_array_equal(pol.theta, 0.0)                   # refused before any change
    with pytest.raises(ValueError) as err:
        pol.select(np.random.default_rng(0), big)
    assert str(err.value) == msg.format("x·θ_a or xᵀA_a⁻¹x")
    pol.update(np.array([0, 1]), np.array([1.0, 0.0]), big / 1e200)  # rescaled: fine
    assert np.isfinite(pol.theta).all() and pol.select(np.random.default_rng(0), big / 1e200).shape == (2,)
