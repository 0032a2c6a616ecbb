"""Tests for rlrec_helpers.mdp: DP solvers agree, TD control reaches the DP optimum, bad input fails."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rlrec_helpers import mdp as M


@pytest.fixture(scope="module")
def rec():
    return M.recommendation_mdp()


def test_recommendation_mdp_is_valid_and_documented(rec):
    assert rec.P.shape == (4, 3, 4) and rec.R.shape == (4, 3)
    np.testing.assert_allclose(rec.P.sum(axis=2), 1.0)
    assert M.recommendation_mdp.__doc__ and "churn" in M.recommendation_mdp.__doc__.lower()


def test_policy_iteration_and_value_iteration_agree(rec):
    pi = M.policy_iteration(rec)
    vi = M.value_iteration(rec, tol=1e-12)
    np.testing.assert_array_equal(pi.policy, vi.policy)
    np.testing.assert_allclose(pi.V, vi.V, atol=1e-8)


def test_exact_solve_equals_iterative(rec):
    policy = M.myopic_policy(rec)
    exact = M.evaluate_policy_exact(rec, policy)
    iterative = M.evaluate_policy_iterative(rec, policy, tol=1e-12)
    np.testing.assert_allclose(exact, iterative, atol=1e-8)


def test_optimal_policy_beats_myopic_in_the_long_run(rec):
    opt = M.policy_iteration(rec)
    myopic_v = M.evaluate_policy_exact(rec, M.myopic_policy(rec))
    assert np.all(opt.V >= myopic_v - 1e-9)
    assert np.any(opt.V > myopic_v + 1e-3), "the lesson needs myopic to be suboptimal"


def test_q_learning_converges_to_dp_optimum(rec):
    opt = M.policy_iteration(rec)
    Q, hist = M.q_learning(rec, n_episodes=3000, alpha=0.5, alpha_power=0.6, epsilon=0.2, rng=0)
    live = [s for s in range(rec.P.shape[0]) if not np.allclose(opt.Q[s], 0)]
    np.testing.assert_array_equal(M.greedy_policy(Q)[live], opt.policy[live])
    assert np.max(np.abs(Q[live] - opt.Q[live])) / np.max(np.abs(opt.Q)) < 0.15


def test_sarsa_learns_a_good_policy(rec):
    opt = M.policy_iteration(rec)
    Q, _ = M.sarsa(rec, n_episodes=3000, alpha=0.5, alpha_power=0.6, epsilon=0.1, rng=1)
    v = M.evaluate_policy_exact(rec, M.greedy_policy(Q))
    assert np.all(v >= 0.9 * opt.V - 1e-9)


def test_discounted_return():
    assert M.discounted_return([1.0, 1.0, 1.0], 0.5) == pytest.approx(1.75)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(P=np.full((2, 1, 2), 0.6), R=np.zeros((2, 1)), gamma=0.9), "P"),
        (dict(P=np.full((2, 1, 2), 0.5), R=np.zeros((3, 1)), gamma=0.9), "R"),
        (dict(P=np.full((2, 1, 2), 0.5), R=np.zeros((2, 1)), gamma=1.5), "gamma"),
        (dict(P=np.full((2, 1, 3), 1 / 3), R=np.zeros((2, 1)), gamma=0.9), "P"),
    ],
)
def test_bad_input_is_rejected(kwargs, word):
    with pytest.raises(ValueError, match=word):
        M.TabularMDP(**kwargs)


@settings(max_examples=25, deadline=None)
@given(n_states=st.integers(1, 6), n_actions=st.integers(1, 4), seed=st.integers(0, 10_000),
       gamma=st.floats(0.0, 0.95))
def test_pi_equals_vi_on_random_mdps(n_states, n_actions, seed, gamma):
    mdp = M.random_mdp(n_states, n_actions, gamma=gamma, rng=seed)
    pi = M.policy_iteration(mdp)
    vi = M.value_iteration(mdp, tol=1e-12)
    np.testing.assert_allclose(pi.V, vi.V, atol=1e-6)


_P2 = np.array([[[0.7, 0.3], [0.1, 0.9]], [[0.5, 0.5], [1.0, 0.0]]])


@pytest.mark.parametrize("P, mu, message", [
    (np.array([[[0.7, 0.3], [0.1, 0.9]], [[0.5, 0.5], [0.2, 0.2]]]), None,
     "P slices along axis 2 must sum to 1 (within 1e-06), got P[1, 1, :] summing to 0.4"),  # names (s, a)
    (np.array([[[0.7, 0.3], [1.5, -0.5]], [[0.5, 0.5], [1.0, 0.0]]]), None,
     "P entries must be finite numbers >= 0, got P[0, 1, 1] = -0.5"),
    (np.array([[[0.7, 0.3], [0.1, 0.9]], [[np.nan, 0.5], [1.0, 0.0]]]), None,
     "P entries must be finite numbers >= 0, got P[1, 0, 0] = nan"),
    (_P2, [0.5, 0.6], "mu must sum to 1 (within 1e-06), got a sum of 1.1"),
    (_P2, [1.5, -0.5], "mu entries must be finite numbers >= 0, got mu[1] = -0.5"),
    (_P2, [1.0], "mu must have shape (2,), got (1,)"),
])
def test_tabular_mdp_distribution_messages(P, mu, message):
    with pytest.raises(ValueError) as err:
        M.TabularMDP(P=P, R=np.zeros((2, 2)), gamma=0.9, mu=mu)
    assert str(err.value) == message


def test_row_sum_tolerance_is_the_package_tolerance_and_accepts_float32_rows():
    from rlrec_helpers._validate import SUM_TOL
    assert M.ROW_SUM_TOL == SUM_TOL == 1e-6
    P32 = _P2.astype(np.float32)  # P[0, 1, :] sums to 1 - 2.2e-8 in float32: was rejected at 1e-8
    mdp = M.TabularMDP(P=P32, R=np.zeros((2, 2)), gamma=0.9, mu=np.array([0.3, 0.7], np.float32))
    assert mdp.P.dtype == np.float64 and mdp._cum_P[..., -1].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    M.TabularMDP(P=_P2 + np.array([0.0, 0.9e-6]), R=np.zeros((2, 2)), gamma=0.9)  # just inside
    with pytest.raises(ValueError, match=r"^P slices along axis 2 must sum to 1 \(within 1e-06\)"):
        M.TabularMDP(P=_P2 + np.array([0.0, 1.1e-6]), R=np.zeros((2, 2)), gamma=0.9)  # just outside


@pytest.mark.parametrize("policy, message", [
    (np.vstack([np.full((3, 3), 1 / 3), [[0.25, 0.25, 0.0]]]),
     "policy rows must sum to 1 (within 1e-06), got policy[3, :] summing to 0.5"),
    (np.tile([1.5, -0.5, 0.0], (4, 1)), "policy entries must be finite numbers >= 0, got policy[0, 1] = -0.5"),
])
def test_stochastic_policy_messages(policy, message):
    with pytest.raises(ValueError) as err:
        M.as_policy_matrix(policy, 4, 3)
    assert str(err.value) == message


def test_start_dist_is_checked_like_mu(rec):
    with pytest.raises(ValueError, match=r"^start_dist must sum to 1 \(within 1e-06\), got a sum of 0\.5$"):
        M.q_learning(rec, n_episodes=1, start_dist=[0.5, 0.0, 0.0, 0.0])


def test_optimal_vs_myopic_coincide_at_gamma_zero_and_split_later():
    at0 = M.optimal_vs_myopic(0.0)
    np.testing.assert_allclose(at0["gain"], 0.0, atol=1e-12)
    at9 = M.optimal_vs_myopic(0.9)
    assert at9["optimal_policy"][:3] == ("popular", "niche", "fresh")
    assert at9["gain"][:3].min() > 0
    with pytest.raises(ValueError, match="gamma"):
        M.optimal_vs_myopic(1.0)


# ----------------------------------------------------------------- review fixes (bad input)


def test_unknown_names_use_the_shared_choice_message(rec):
    assert rec.state_index("bored") == 2 and rec.action_index("fresh") == 2
    with pytest.raises(ValueError, match=r"^state must be one of 'new', 'engaged', 'bored', 'churned', got 'gone'$"):
        rec.state_index("gone")
    with pytest.raises(ValueError, match=r"^action must be one of 'popular', 'niche', 'fresh', got 0$"):
        rec.action_index(0)
    with pytest.raises(ValueError, match=r"^evaluation must be one of 'exact', 'iterative', got 'mc'$"):
        M.policy_iteration(rec, evaluation="mc")


def test_policy_iteration_rejects_fractional_policy0(rec):
    with pytest.raises(ValueError, match="policy0 must hold integer action indices"):
        M.policy_iteration(rec, policy0=np.array([0.7, 1.0, 2.0, 0.0]))


@pytest.mark.parametrize("current", [
    np.array([0.0, 1.0, 2.0, 0.0]),                  # integer-valued floats
    np.eye(3)[[0, 1, 2, 0]].astype(int),              # an (S, A) matrix
    np.array([0, 1, 3, 0]),                           # out of range
])
def test_policy_improvement_requires_integer_current(rec, current):
    V = M.evaluate_policy_exact(rec, M.myopic_policy(rec))
    with pytest.raises(ValueError, match="current must be|policy actions must be in"):
        M.policy_improvement(rec, V, current=current)


@pytest.mark.parametrize("state, action, word", [
    (0, -1, "action"), (0, 3, "action"), (0, 1.0, "action"),
    (-1, 0, "state"), (4, 0, "state"), (1.0, 0, "state"),
])
def test_step_checks_state_and_action(rec, state, action, word):
    with pytest.raises(ValueError, match=rf"{word} must be an integer index in \[0, "):
        rec.step(state, action, np.random.default_rng(0))


@pytest.mark.parametrize("call, word", [
    (lambda: M.epsilon_greedy_matrix(np.zeros(3), 0.1), "Q must have shape"),
    (lambda: M.random_mdp(3, 2, rng=None), "rng must be"),
    (lambda: M.random_mdp(3, 2, rng="0"), "rng must be"),
])
def test_small_bad_inputs_name_the_argument(call, word):
    with pytest.raises(ValueError, match=word):
        call()
