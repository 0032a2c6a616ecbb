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


# ------------------------------------------------- review C fixes (value arrays, Q, policies, names)


import re  # noqa: E402


def _raises(call, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        call()


@pytest.mark.parametrize("call, message", [
    (lambda m: M.q_from_v(m, [np.nan, 0, 0, 0]), "V entries must be finite numbers, got V[0] = nan"),
    (lambda m: M.bellman_optimality_backup(m, [0, np.inf, 0, 0]), "V entries must be finite numbers, got V[1] = inf"),
    (lambda m: M.bellman_expectation_backup(m, np.zeros(3), [0, 0, 0, 0]), "V must have shape (4,), got shape (3,)"),
    (lambda m: M.start_value(m, [1.0, 2.0]), "V must have shape (4,), got shape (2,)"),
    (lambda m: M.start_value(m, [np.nan, 0, 0, 0]), "V entries must be finite numbers, got V[0] = nan"),
    (lambda m: M.policy_improvement(m, [0, 0, 0, np.nan]), "V entries must be finite numbers, got V[3] = nan"),
    (lambda m: M.value_iteration(m, V0=[np.inf, 0, 0, 0], max_iter=50),
     "V0 entries must be finite numbers, got V0[0] = inf"),
    (lambda m: M.value_iteration(m, V0=[0.0, 0.0]), "V0 must have shape (4,), got shape (2,)"),
    (lambda m: M.evaluate_policy_iterative(m, [0, 1, 2, 0], V0=[np.inf, 0, 0, 0], max_iter=50),
     "V0 entries must be finite numbers, got V0[0] = inf"),
    (lambda m: M.evaluate_policy_iterative(m, [0, 1, 2, 0], V0=np.zeros((4, 1))),
     "V0 must have shape (4,), got shape (4, 1)"),
    (lambda m: M.q_learning(m, n_episodes=2, Q0=np.full((4, 3), np.nan)),
     "Q0 entries must be finite numbers, got Q0[0, 0] = nan"),
    (lambda m: M.sarsa(m, n_episodes=2, Q0=np.zeros(3)), "Q0 must have shape (4, 3), got shape (3,)"),
    (lambda m: M.q_learning(m, n_episodes=2, Q_ref=np.full((4, 3), np.nan)),
     "Q_ref entries must be finite numbers, got Q_ref[0, 0] = nan"),
    (lambda m: M.sarsa(m, n_episodes=2, Q_ref=np.zeros((3, 4))), "Q_ref must have shape (4, 3), got shape (3, 4)"),
])
def test_value_and_q_arrays_are_checked_for_shape_and_finiteness(rec, call, message):
    _raises(lambda: call(rec), message)


def test_checked_value_arrays_leave_valid_results_unchanged(rec):
    opt = M.policy_iteration(rec)
    assert M.start_value(rec, opt.V) == pytest.approx(opt.V[0])
    np.testing.assert_allclose(M.q_from_v(rec, opt.V), opt.Q)
    Q0 = np.ones((4, 3))
    Q, hist = M.q_learning(rec, n_episodes=5, Q0=Q0, Q_ref=opt.Q, rng=3)
    assert Q0.tolist() == np.ones((4, 3)).tolist()  # Q0 is copied, not updated in place
    assert hist["q_error"].shape == (5,) and np.all(np.isfinite(hist["q_error"]))
    vi = M.value_iteration(rec, V0=opt.V.tolist(), tol=1e-12)
    np.testing.assert_allclose(vi.V, opt.V, atol=1e-8)


@pytest.mark.parametrize("call, message", [
    (lambda: M.epsilon_greedy_matrix(np.zeros((2, 0)), 0.1), "Q must not be empty, got shape (2, 0)"),
    (lambda: M.epsilon_greedy_matrix([[np.nan, 1.0]], 0.1), "Q entries must be finite numbers or -inf, got Q[0, 0] = nan"),
    (lambda: M.greedy_policy([[np.nan, 1.0]]), "Q entries must be finite numbers or -inf, got Q[0, 0] = nan"),
    (lambda: M.greedy_policy([[np.inf, 1.0]]), "Q entries must be finite numbers or -inf, got Q[0, 0] = inf"),
    (lambda: M.greedy_policy([[0.0, 1.0], [-np.inf, -np.inf]]), "Q must have a finite value in every row (-inf masks an action), got row 1 all -inf"),
    (lambda: M.greedy_policy(np.zeros(3)), "Q must have shape (any, any), got shape (3,)"),
    (lambda: M.as_policy_matrix(np.array(["0", "1", "2", "0"]), 4, 3),
     "policy must be a numeric array (integer action indices or probabilities), got dtype <U1"),
    (lambda: M.as_policy_matrix(np.array([0, 1, 2, "a"], dtype=object), 4, 3),
     "policy must be a numeric array (integer action indices or probabilities), got dtype object"),
    (lambda: M.as_policy_matrix(np.array([0, 1, 2, 0], dtype=complex), 4, 3),
     "policy must be a numeric array (integer action indices or probabilities), got dtype complex128"),
    (lambda: M.TabularMDP(np.ones((1, 1, 1)), np.zeros((1, 1)), 0.9, states=5),
     "states must be None or a sequence of 1 names, got 5"),
    (lambda: M.TabularMDP(np.ones((1, 1, 1)), np.zeros((1, 1)), 0.9, actions=0.5),
     "actions must be None or a sequence of 1 names, got 0.5"),
])
def test_q_policy_and_name_arguments_raise_named_errors(call, message):
    _raises(call, message)


def test_string_policy_is_rejected_by_the_evaluators(rec):
    _raises(lambda: M.evaluate_policy_exact(rec, np.array(["0", "1", "2", "0"])),
            "policy must be a numeric array (integer action indices or probabilities), got dtype <U1")


def test_valid_q_and_policies_still_work():
    np.testing.assert_array_equal(M.greedy_policy([[0.0, 1.0], [2.0, 2.0]]), [1, 0])
    np.testing.assert_allclose(M.epsilon_greedy_matrix([[0.0, 1.0]], 0.2), [[0.1, 0.9]])
    np.testing.assert_array_equal(M.as_policy_matrix(np.array([True, False]), 2, 2), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(M.as_policy_matrix([0.0, 1.0], 2, 2), [[1, 0], [0, 1]])


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), "1", -1.0, 0.0, True, None])
def test_random_mdp_checks_reward_scale(scale):
    _raises(lambda: M.random_mdp(2, 2, reward_scale=scale), f"reward_scale must be a finite number > 0, got {scale!r}")


def test_random_mdp_reward_scale_keeps_the_draws():
    base = M.random_mdp(3, 2, rng=7)
    np.testing.assert_array_equal(M.random_mdp(3, 2, rng=7, reward_scale=2.0).R, base.R * 2.0)
    np.testing.assert_array_equal(M.random_mdp(3, 2, rng=7, reward_scale=2.0).P, base.P)


@pytest.mark.parametrize("gamma", [None, "0.9", 1.0, -0.1, float("nan"), True])
def test_optimal_vs_myopic_checks_gamma(gamma):
    _raises(lambda: M.optimal_vs_myopic(gamma), f"gamma must be a finite number in [0, 1), got {gamma!r}")


def test_optimal_vs_myopic_accepts_numpy_floats():
    assert M.optimal_vs_myopic(np.float64(0.9))["optimal_policy"][:3] == ("popular", "niche", "fresh")


def test_step_needs_a_generator_and_improvement_a_tolerance():
    import re

    m = M.recommendation_mdp()
    with pytest.raises(ValueError, match=re.escape("rng must be a numpy.random.Generator") + ".*got 0"):
        m.step(0, 0, 0)
    V = np.zeros(m.n_states)
    for tol in (np.nan, -1.0, "0"):
        with pytest.raises(ValueError, match=re.escape(f"tol must be a finite number >= 0, got {tol!r}")):
            M.policy_improvement(m, V, tol=tol)
    assert M.policy_improvement(m, V, tol=0).shape == (m.n_states,)


def test_minus_inf_masks_an_action_in_greedy_policies():
    Q = np.array([[0.0, -np.inf, -1.0], [-np.inf, -5.0, -np.inf]])
    assert M.greedy_policy(Q).tolist() == [0, 1]
    assert M.epsilon_greedy_matrix(Q, 0.0).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
