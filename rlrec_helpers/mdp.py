"""Tabular Markov decision processes: dynamic programming and tabular TD control.

numpy only. Conventions (shapes use S = number of states, A = number of actions):

* ``P[s, a, s']`` is the transition probability P(s' | s, a), shape (S, A, S);
* ``R[s, a]`` is the *expected* immediate reward r(s, a), shape (S, A), in the MDP's
  ``reward_unit`` (for :func:`recommendation_mdp`: minutes of watch time per visit);
* a *policy* is either a deterministic array of action indices, shape (S,), or a
  stochastic matrix ``pi[s, a]`` = pi(a | s), shape (S, A), rows summing to 1;
* ``V`` has shape (S,) and ``Q`` shape (S, A), both in reward units (discounted sums).

Planning (the model P, R is known): :func:`evaluate_policy_exact`,
:func:`evaluate_policy_iterative`, :func:`policy_improvement`, :func:`policy_iteration`,
:func:`value_iteration`. Learning from sampled experience (the model is only used to
simulate): :func:`q_learning`, :func:`sarsa`.

Policy iteration is dynamic programming, not policy gradient (erratum on the article's
§3.1 and §3.2 steps 4–6); see ``notebooks/01_rl_basics.ipynb``.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field

import numpy as np

from rlrec_helpers._validate import (
    SUM_TOL, check_choice, check_distribution, check_finite_array, check_int, check_probability, check_real,
    is_int,
)

#: Tolerance on |sum - 1| for "each transition row P[s, a, :] sums to 1", "each policy row
#: pi[s, :] sums to 1" and the start distributions ``mu``/``start_dist``: an alias of the
#: package-wide :data:`rlrec_helpers._validate.SUM_TOL` (1e-6; 1e-8 before, so whatever was
#: valid then still is). The samplers close each cumulative row at 1, so a row's rounding error
#: (at most this tolerance) is absorbed by the probability of its last state.
ROW_SUM_TOL = SUM_TOL


# --------------------------------------------------------------------------- validation


def _check_gamma(gamma, *, name: str = "gamma", strict: bool = False) -> float:
    """Return ``gamma`` as float; require 0 <= gamma <= 1 (``strict``: gamma < 1)."""
    g = check_real(name, gamma, 0.0, 1.0)
    if strict and g >= 1.0:
        raise ValueError(
            f"{name} must be < 1 for infinite-horizon evaluation (the sum of rewards may "
            f"not converge at {name} = 1), got {gamma!r}"
        )
    return g


def _check_distribution(p, name: str, size: int) -> np.ndarray:
    """A (size,) distribution (:func:`rlrec_helpers._validate.check_distribution`) as a float array."""
    arr = np.asarray(p, dtype=float)
    if arr.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {arr.shape}")
    return check_distribution(name, arr)


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, dtype=float, copy=True)
    arr.setflags(write=False)
    return arr


# ------------------------------------------------------------------------------ the MDP


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite MDP (S, A, P, R, gamma) with a start distribution ``mu``.

    Attributes:
        P: transition probabilities P[s, a, s'], shape (S, A, S); every row P[s, a, :]
            is non-negative and sums to 1 (tolerance :data:`ROW_SUM_TOL`).
        R: expected immediate reward r(s, a), shape (S, A), in ``reward_unit``.
        gamma: discount factor in [0, 1] (planning and evaluation need gamma < 1).
        states, actions: names, length S and A (default ``s0, s1, ...``/``a0, ...``).
        mu: start-state distribution, shape (S,) (default uniform).
        reward_unit: unit of R, used for axis labels (e.g. ``"minutes"``).

    Every invalid argument raises ``ValueError`` naming it. Arrays are stored read-only.
    """

    P: np.ndarray
    R: np.ndarray
    gamma: float
    states: tuple[str, ...] | None = None
    actions: tuple[str, ...] | None = None
    mu: np.ndarray | None = None
    reward_unit: str = "reward units"
    _cum_P: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            P = np.asarray(self.P, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"P must be a numeric array of shape (S, A, S): {exc}") from None
        try:
            R = np.asarray(self.R, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"R must be a numeric array of shape (S, A): {exc}") from None
        if P.ndim != 3 or P.shape[0] != P.shape[2] or P.shape[0] < 1 or P.shape[1] < 1:
            raise ValueError(f"P must have shape (S, A, S) with S, A >= 1, got {P.shape}")
        S, A = P.shape[0], P.shape[1]
        if R.shape != (S, A):
            raise ValueError(f"R must have shape (S, A) = ({S}, {A}) to match P, got {R.shape}")
        check_distribution("P", P, axis=2)  # names the entry P[s, a, s'] or the row P[s, a, :]
        if not np.all(np.isfinite(R)):
            raise ValueError("R must contain only finite rewards (found NaN or inf)")
        gamma = _check_gamma(self.gamma)
        states = self._names(self.states, "states", S, "s")
        actions = self._names(self.actions, "actions", A, "a")
        mu = np.full(S, 1.0 / S) if self.mu is None else _check_distribution(self.mu, "mu", S)
        if not isinstance(self.reward_unit, str) or not self.reward_unit:
            raise ValueError(f"reward_unit must be a non-empty string, got {self.reward_unit!r}")
        cum = np.cumsum(P, axis=2)
        cum[..., -1] = 1.0  # guard the sampler against round-off in the last bin
        for name, value in (
            ("P", _readonly(P)), ("R", _readonly(R)), ("gamma", gamma), ("states", states),
            ("actions", actions), ("mu", _readonly(mu)), ("_cum_P", _readonly(cum)),
        ):
            object.__setattr__(self, name, value)

    @staticmethod
    def _names(names, arg: str, n: int, prefix: str) -> tuple[str, ...]:
        if names is None:
            return tuple(f"{prefix}{i}" for i in range(n))
        try:
            names = tuple(str(x) for x in names)
        except TypeError:  # not iterable, e.g. states=5
            raise ValueError(f"{arg} must be None or a sequence of {n} names, got {names!r}") from None
        if len(names) != n:
            raise ValueError(f"{arg} must have {n} names to match P, got {len(names)}")
        if len(set(names)) != n:
            raise ValueError(f"{arg} must be unique, got {names}")
        return names

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]

    @property
    def terminal(self) -> np.ndarray:
        """Boolean mask (S,): absorbing states with zero reward under every action.

        Episodes of :func:`q_learning`/:func:`sarsa` end when they reach one.
        """
        idx = np.arange(self.n_states)
        absorbing = np.all(self.P[idx, :, idx] == 1.0, axis=1)
        return absorbing & np.all(self.R == 0.0, axis=1)

    def with_gamma(self, gamma: float) -> "TabularMDP":
        """The same MDP with another discount factor."""
        return dataclasses.replace(self, gamma=gamma)

    def state_index(self, name: str) -> int:
        """Index of the state called ``name``."""
        return self.states.index(check_choice("state", name, self.states))

    def action_index(self, name: str) -> int:
        """Index of the action called ``name``."""
        return self.actions.index(check_choice("action", name, self.actions))

    def step(self, state: int, action: int, rng: np.random.Generator) -> tuple[float, int, bool]:
        """Sample one transition: returns (reward r_t, next state s_{t+1}, terminated)."""
        for name, value, n in (("state", state, self.n_states), ("action", action, self.n_actions)):
            try:
                index = None if isinstance(value, (bool, np.bool_)) else operator.index(value)
            except TypeError:
                index = None
            if index is None or not 0 <= index < n:
                raise ValueError(f"{name} must be an integer index in [0, {n - 1}], got {value!r}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}")
        s2 = int(np.searchsorted(self._cum_P[state, action], rng.random(), side="right"))
        return float(self.R[state, action]), s2, bool(self.terminal[s2])


# ----------------------------------------------------------------- returns and policies


def discount_weights(gamma: float, horizon: int) -> np.ndarray:
    """Weights gamma**t for t = 0..horizon-1, shape (horizon,)."""
    g = _check_gamma(gamma)
    horizon = check_int("horizon", horizon, 1)
    return g ** np.arange(horizon, dtype=float)


def discounted_return(rewards, gamma: float) -> float:
    """G_0 = sum_t gamma**t * r_t of a reward sequence (shape (T,), same unit as r)."""
    g = _check_gamma(gamma)
    r = np.asarray(rewards, dtype=float)
    if r.ndim != 1:
        raise ValueError(f"rewards must be a 1-D sequence, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("rewards must be finite")
    if r.size == 0:
        return 0.0
    return float(np.dot(g ** np.arange(r.size, dtype=float), r))


def as_policy_matrix(policy, n_states: int, n_actions: int) -> np.ndarray:
    """Return pi[s, a] = pi(a|s), shape (S, A), from a deterministic (S,) or stochastic (S, A) policy.

    ``policy`` must be an integer, bool or float array; strings, objects and complex numbers
    raise ``ValueError`` naming ``policy``.
    """
    try:
        arr = np.asarray(policy)
    except (TypeError, ValueError):  # ragged nested lists
        raise ValueError(f"policy must be an array of shape (S,) or (S, A), got {policy!r}") from None
    if arr.dtype.kind not in "iubf":
        raise ValueError(f"policy must be a numeric array (integer action indices or probabilities), "
                         f"got dtype {arr.dtype}")
    if arr.shape == (n_states,):
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise ValueError("policy of shape (S,) must hold integer action indices")
            arr = arr.astype(int)
        if np.any(arr < 0) or np.any(arr >= n_actions):
            raise ValueError(f"policy actions must be in [0, {n_actions - 1}], got {arr.tolist()}")
        pi = np.zeros((n_states, n_actions))
        pi[np.arange(n_states), arr] = 1.0
        return pi
    if arr.shape == (n_states, n_actions):
        return check_distribution("policy", arr.astype(float), axis=1)
    raise ValueError(
        f"policy must have shape (S,) = ({n_states},) or (S, A) = ({n_states}, {n_actions}), "
        f"got {arr.shape}"
    )


def policy_model(mdp: TabularMDP, policy) -> tuple[np.ndarray, np.ndarray]:
    """Reward r_pi (S,) and transition matrix P_pi (S, S) of the Markov chain under ``policy``."""
    pi = as_policy_matrix(policy, mdp.n_states, mdp.n_actions)
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    return r_pi, P_pi


def myopic_policy(mdp: TabularMDP) -> np.ndarray:
    """The greedy-now policy argmax_a R[s, a], shape (S,): optimal only when gamma = 0."""
    return np.argmax(mdp.R, axis=1)


def greedy_policy(Q: np.ndarray) -> np.ndarray:
    """argmax_a Q[s, a], shape (S,) (ties go to the lowest action index).

    ``Q`` must be a non-empty (S, A) array of finite numbers or ``-inf`` (a masked action), with a
    finite value in every row (a NaN would otherwise win the argmax).
    """
    Q = check_finite_array("Q", Q, (None, None), allow_neg_inf=True)
    masked = np.isneginf(Q).all(axis=1)
    if np.any(masked):
        raise ValueError(f"Q must have a finite value in every row (-inf masks an action), got row "
                         f"{int(np.flatnonzero(masked)[0])} all -inf")
    return np.argmax(Q, axis=1)


def epsilon_greedy_matrix(Q: np.ndarray, epsilon: float) -> np.ndarray:
    """pi[s, a] of the epsilon-greedy policy w.r.t. ``Q`` (S, A): greedy w.p. 1-eps, else uniform.

    ``Q`` must be a non-empty (S, A) array (so A >= 1) as in :func:`greedy_policy`.
    """
    eps = check_probability("epsilon", epsilon)
    Q = check_finite_array("Q", Q, (None, None), allow_neg_inf=True)
    S, A = Q.shape
    pi = np.full((S, A), eps / A)
    pi[np.arange(S), greedy_policy(Q)] += 1.0 - eps
    return pi


# --------------------------------------------------------------------- Bellman backups


def q_from_v(mdp: TabularMDP, V: np.ndarray) -> np.ndarray:
    """One-step lookahead Q[s, a] = R[s, a] + gamma * sum_s' P[s, a, s'] V[s'], shape (S, A).

    ``V`` must be a finite array of shape (S,).
    """
    V = check_finite_array("V", V, (mdp.n_states,))
    return mdp.R + mdp.gamma * (mdp.P @ V)


def bellman_expectation_backup(mdp: TabularMDP, V: np.ndarray, policy) -> np.ndarray:
    """(T^pi V)[s] = sum_a pi(a|s) (R[s, a] + gamma * P[s, a, :] @ V), shape (S,)."""
    pi = as_policy_matrix(policy, mdp.n_states, mdp.n_actions)
    return np.einsum("sa,sa->s", pi, q_from_v(mdp, V))


def bellman_optimality_backup(mdp: TabularMDP, V: np.ndarray) -> np.ndarray:
    """(T* V)[s] = max_a (R[s, a] + gamma * P[s, a, :] @ V), shape (S,)."""
    return q_from_v(mdp, V).max(axis=1)


# ------------------------------------------------------------------ policy evaluation


def evaluate_policy_exact(mdp: TabularMDP, policy) -> np.ndarray:
    """V^pi by solving the linear Bellman equation (I - gamma P_pi) V = r_pi. Needs gamma < 1."""
    _check_gamma(mdp.gamma, name="mdp.gamma", strict=True)
    r_pi, P_pi = policy_model(mdp, policy)
    return np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * P_pi, r_pi)


def evaluate_policy_iterative(
    mdp: TabularMDP,
    policy,
    *,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    V0: np.ndarray | None = None,
    return_deltas: bool = False,
):
    """V^pi by repeated Bellman expectation backups until max_s |V_{k+1} - V_k| < tol.

    Needs gamma < 1 (then the backup is a gamma-contraction). Returns V (S,), or
    (V, deltas) with deltas (n_iter,) the sup-norm change per sweep when ``return_deltas``.
    ``V0``: finite start values (S,) (default zeros). Raises ``RuntimeError`` if ``max_iter``
    sweeps are not enough.
    """
    _check_gamma(mdp.gamma, name="mdp.gamma", strict=True)
    check_real("tol", tol, 0.0, lo_open=True)
    max_iter = check_int("max_iter", max_iter, 1)
    r_pi, P_pi = policy_model(mdp, policy)
    V = np.zeros(mdp.n_states) if V0 is None else check_finite_array("V0", V0, (mdp.n_states,))
    deltas = []
    for _ in range(max_iter):
        V_new = r_pi + mdp.gamma * (P_pi @ V)
        delta = float(np.max(np.abs(V_new - V)))
        deltas.append(delta)
        V = V_new
        if delta < tol:
            return (V, np.array(deltas)) if return_deltas else V
    raise RuntimeError(
        f"policy evaluation did not reach tol={tol} within max_iter={max_iter} sweeps "
        f"(last change {deltas[-1]:.3g}); raise max_iter"
    )


def q_of_policy(mdp: TabularMDP, policy) -> np.ndarray:
    """Q^pi[s, a] = R[s, a] + gamma * P[s, a, :] @ V^pi (exact), shape (S, A)."""
    return q_from_v(mdp, evaluate_policy_exact(mdp, policy))


def start_value(mdp: TabularMDP, V: np.ndarray) -> float:
    """Expected return from the start distribution, sum_s mu[s] V[s] (reward units); V finite, (S,)."""
    return float(mdp.mu @ check_finite_array("V", V, (mdp.n_states,)))


# ------------------------------------------------------------------- policy iteration


@dataclass
class PlanResult:
    """Output of :func:`policy_iteration` and :func:`value_iteration`.

    policy (S,) int, V (S,), Q (S, A), n_iter, and a ``history`` dict of arrays
    (policy iteration: ``policy`` (k, S), ``V`` (k, S); value iteration: ``delta`` (k,),
    ``V`` (k, S)).
    """

    policy: np.ndarray
    V: np.ndarray
    Q: np.ndarray
    n_iter: int
    history: dict = field(default_factory=dict)


def policy_improvement(
    mdp: TabularMDP, V: np.ndarray, *, current=None, tol: float = 1e-9
) -> np.ndarray:
    """Greedy policy w.r.t. the one-step lookahead of ``V``, shape (S,).

    If a deterministic ``current`` policy is given, its action is kept wherever it is
    within ``tol`` of the best one, so ties never make policy iteration cycle.
    """
    check_real("tol", tol, 0.0)
    Q = q_from_v(mdp, V)
    new = greedy_policy(Q)
    if current is not None:
        cur = np.asarray(current)
        if cur.shape != (mdp.n_states,) or not np.issubdtype(cur.dtype, np.integer):
            raise ValueError(
                f"current must be a deterministic policy: an integer array of shape (S,) = "
                f"({mdp.n_states},) with actions in [0, {mdp.n_actions - 1}], got dtype "
                f"{cur.dtype} shape {cur.shape}"
            )
        as_policy_matrix(cur, mdp.n_states, mdp.n_actions)  # validates the action range
        idx = np.arange(mdp.n_states)
        keep = Q[idx, cur] >= Q[idx, new] - tol
        new = np.where(keep, cur, new)
    return new


def policy_iteration(
    mdp: TabularMDP,
    *,
    policy0=None,
    evaluation: str = "exact",
    tol: float = 1e-10,
    max_iter: int = 1_000,
) -> PlanResult:
    """Policy iteration: evaluate, improve greedily, repeat until the policy is stable.

    ``evaluation`` is ``"exact"`` (linear solve) or ``"iterative"`` (sweeps to ``tol``).
    Starts from ``policy0`` (S,) (default: action 0 everywhere). Needs gamma < 1.
    """
    _check_gamma(mdp.gamma, name="mdp.gamma", strict=True)
    check_choice("evaluation", evaluation, ("exact", "iterative"))
    max_iter = check_int("max_iter", max_iter, 1)
    if policy0 is None:
        policy = np.zeros(mdp.n_states, dtype=int)
    else:
        policy = np.asarray(policy0)
        if policy.shape != (mdp.n_states,):
            raise ValueError(f"policy0 must be a deterministic policy of shape (S,) = "
                             f"({mdp.n_states},), got {policy.shape}")
        if not np.issubdtype(policy.dtype, np.integer) and (
            policy.dtype.kind not in "bf"
            or not np.all(np.isfinite(policy)) or not np.all(policy == np.round(policy))
        ):
            raise ValueError(f"policy0 must hold integer action indices in [0, {mdp.n_actions - 1}], "
                             f"got {policy.tolist()}")
        as_policy_matrix(policy, mdp.n_states, mdp.n_actions)  # validates the action range
        policy = policy.astype(int)
    evaluate = (
        evaluate_policy_exact if evaluation == "exact"
        else (lambda m, p: evaluate_policy_iterative(m, p, tol=tol))
    )
    policies, values = [], []
    for k in range(1, max_iter + 1):
        V = evaluate(mdp, policy)
        policies.append(policy.copy())
        values.append(V)
        new = policy_improvement(mdp, V, current=policy)
        if np.array_equal(new, policy):
            return PlanResult(policy, V, q_from_v(mdp, V), k,
                              {"policy": np.array(policies), "V": np.array(values)})
        policy = new
    raise RuntimeError(f"policy iteration did not converge within max_iter={max_iter}")


def value_iteration(
    mdp: TabularMDP,
    *,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    V0: np.ndarray | None = None,
) -> PlanResult:
    """Value iteration: V_{k+1} = T* V_k until max_s |V_{k+1} - V_k| < tol; greedy policy.

    Needs gamma < 1. With the stopping rule, max_s |V - V*| <= gamma * tol / (1 - gamma).
    ``V0``: finite start values (S,) (default zeros).
    """
    _check_gamma(mdp.gamma, name="mdp.gamma", strict=True)
    check_real("tol", tol, 0.0, lo_open=True)
    max_iter = check_int("max_iter", max_iter, 1)
    V = np.zeros(mdp.n_states) if V0 is None else check_finite_array("V0", V0, (mdp.n_states,))
    deltas, values = [], []
    for k in range(1, max_iter + 1):
        V_new = bellman_optimality_backup(mdp, V)
        delta = float(np.max(np.abs(V_new - V)))
        deltas.append(delta)
        values.append(V_new)
        V = V_new
        if delta < tol:
            Q = q_from_v(mdp, V)
            return PlanResult(greedy_policy(Q), V, Q, k,
                              {"delta": np.array(deltas), "V": np.array(values)})
    raise RuntimeError(f"value iteration did not reach tol={tol} within max_iter={max_iter}")


# ------------------------------------------------------------------ tabular TD control


def _td_control(
    mdp: TabularMDP,
    *,
    on_policy: bool,
    n_episodes: int,
    alpha: float,
    alpha_power: float,
    epsilon: float,
    max_steps: int,
    start_dist,
    rng,
    Q0,
    Q_ref,
):
    n_episodes = check_int("n_episodes", n_episodes, 1)
    max_steps = check_int("max_steps", max_steps, 1)
    check_real("alpha", alpha, 0.0, 1.0, lo_open=True)
    check_real("alpha_power", alpha_power, 0.0, 1.0)
    eps = check_probability("epsilon", epsilon)
    S, A, gamma = mdp.n_states, mdp.n_actions, mdp.gamma
    start = mdp.mu if start_dist is None else _check_distribution(start_dist, "start_dist", S)
    if is_int(rng):
        rng = np.random.default_rng(int(rng))
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator or an integer seed, got {rng!r}")
    # a copy: Q is updated in place
    Q = np.zeros((S, A)) if Q0 is None else np.array(check_finite_array("Q0", Q0, (S, A)))
    if Q_ref is not None:
        Q_ref = check_finite_array("Q_ref", Q_ref, (S, A))
    terminal = mdp.terminal
    Q[terminal] = 0.0  # the value of an absorbing zero-reward state is 0
    counts = np.zeros((S, A))
    cum_start = np.cumsum(start)
    cum_start[-1] = 1.0
    cum_P, R = mdp._cum_P, mdp.R

    def choose(s: int) -> int:
        if rng.random() < eps:
            return int(rng.integers(A))
        return int(np.argmax(Q[s]))

    returns = np.zeros(n_episodes)
    lengths = np.zeros(n_episodes, dtype=int)
    q_error = np.zeros(n_episodes) if Q_ref is not None else None
    for ep in range(n_episodes):
        s = int(np.searchsorted(cum_start, rng.random(), side="right"))
        a = choose(s)
        G, disc, t = 0.0, 1.0, 0
        while not terminal[s] and t < max_steps:
            r = R[s, a]
            s2 = int(np.searchsorted(cum_P[s, a], rng.random(), side="right"))
            done = terminal[s2]
            a2 = choose(s2)
            if done:
                target = r
            elif on_policy:
                target = r + gamma * Q[s2, a2]
            else:
                target = r + gamma * Q[s2].max()
            counts[s, a] += 1
            step = alpha / counts[s, a] ** alpha_power
            Q[s, a] += step * (target - Q[s, a])
            G += disc * r
            disc *= gamma
            s, a, t = s2, a2, t + 1
        returns[ep], lengths[ep] = G, t
        if q_error is not None:
            q_error[ep] = np.max(np.abs(Q - Q_ref))
    history = {"return": returns, "length": lengths, "visits": counts}
    if q_error is not None:
        history["q_error"] = q_error
    return Q, history


def q_learning(
    mdp: TabularMDP,
    *,
    n_episodes: int,
    alpha: float = 0.1,
    alpha_power: float = 0.0,
    epsilon: float = 0.1,
    max_steps: int = 1_000,
    start_dist=None,
    rng: np.random.Generator | int = 0,
    Q0: np.ndarray | None = None,
    Q_ref: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """Tabular Q-learning (off-policy TD control) with an epsilon-greedy behaviour policy.

    Update: Q[s,a] += alpha_n * (r + gamma * max_a' Q[s',a'] - Q[s,a]) with step size
    alpha_n = alpha / n(s,a)**alpha_power (n = visits so far; power in (0.5, 1] meets
    the Robbins–Monro conditions, 0 gives a constant step). Episodes start from
    ``start_dist`` (default ``mdp.mu``) and end at a terminal state or after ``max_steps``.

    Returns ``(Q, history)``: Q (S, A) in reward units; history ``return`` (n_episodes,)
    discounted return of each episode, ``length`` (n_episodes,) steps, ``visits`` (S, A)
    update counts, and ``q_error`` (n_episodes,) = max |Q - Q_ref| if ``Q_ref`` is given.
    ``Q0`` (start values, default zeros) and ``Q_ref`` must be finite arrays of shape (S, A).
    """
    return _td_control(mdp, on_policy=False, n_episodes=n_episodes, alpha=alpha,
                       alpha_power=alpha_power, epsilon=epsilon, max_steps=max_steps,
                       start_dist=start_dist, rng=rng, Q0=Q0, Q_ref=Q_ref)


def sarsa(
    mdp: TabularMDP,
    *,
    n_episodes: int,
    alpha: float = 0.1,
    alpha_power: float = 0.0,
    epsilon: float = 0.1,
    max_steps: int = 1_000,
    start_dist=None,
    rng: np.random.Generator | int = 0,
    Q0: np.ndarray | None = None,
    Q_ref: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """Tabular SARSA (on-policy TD control), same arguments and outputs as :func:`q_learning`.

    Target r + gamma * Q[s', a'] uses the action a' actually taken by the epsilon-greedy
    policy, so with a fixed epsilon SARSA learns the value of that exploring policy,
    not of the optimal one.
    """
    return _td_control(mdp, on_policy=True, n_episodes=n_episodes, alpha=alpha,
                       alpha_power=alpha_power, epsilon=epsilon, max_steps=max_steps,
                       start_dist=start_dist, rng=rng, Q0=Q0, Q_ref=Q_ref)


# ---------------------------------------------------------------------- example MDPs


def random_mdp(
    n_states: int, n_actions: int, gamma: float = 0.9, *, rng: np.random.Generator | int = 0,
    reward_scale: float = 1.0,
) -> TabularMDP:
    """A random MDP: Dirichlet(1) transition rows and uniform rewards in [0, reward_scale).

    ``reward_scale`` must be a finite number > 0.
    """
    S = check_int("n_states", n_states, 1)
    A = check_int("n_actions", n_actions, 1)
    reward_scale = check_real("reward_scale", reward_scale, 0.0, lo_open=True)
    if is_int(rng):
        rng = np.random.default_rng(int(rng))
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator or an integer seed, got {rng!r}")
    P = rng.dirichlet(np.ones(S), size=(S, A))
    P /= P.sum(axis=2, keepdims=True)
    R = rng.random((S, A)) * reward_scale
    return TabularMDP(P, R, gamma)


RECOMMENDATION_STATES = ("new", "engaged", "bored", "churned")
RECOMMENDATION_ACTIONS = ("popular", "niche", "fresh")


def recommendation_mdp(gamma: float = 0.9) -> TabularMDP:
    """A four-state user-engagement MDP for a video recommender.

    One step is one visit (session) of one user; the agent picks which kind of content to
    put first. Reward is the expected watch time of that visit, in **minutes**; gamma is
    per visit. Episodes start with a ``new`` user (``mu`` = [1, 0, 0, 0]); ``churned``
    is absorbing with zero reward (the user has left).

    States: new, engaged, bored, churned. Actions: popular (what everyone watches),
    niche (matched to the user's narrow interests), fresh (new releases/diverse items).

    Expected reward R[s, a] (minutes per visit)::

                   popular  niche  fresh
        new            6      2      3
        engaged       10      7      8
        bored          4      2      3
        churned        0      0      0

    Transition probabilities P[s, a, s'] (columns s' = new, engaged, bored, churned)::

        new,     popular   0    0.50  0.40  0.10
        new,     niche     0    0.30  0.20  0.50
        new,     fresh     0    0.70  0.10  0.20
        engaged, popular   0    0.40  0.50  0.10
        engaged, niche     0    0.85  0.10  0.05
        engaged, fresh     0    0.60  0.30  0.10
        bored,   popular   0    0.05  0.55  0.40
        bored,   niche     0    0.20  0.45  0.35
        bored,   fresh     0    0.50  0.30  0.20
        churned, any       0    0     0     1

    The story: popular content pays the most minutes *now* in every state, so the myopic
    policy plays ``popular`` everywhere. But it bores engaged users (half of them become
    bored) and does not win bored users back. Niche keeps engaged users engaged; fresh is
    the best way to win bored users back. For gamma = 0.9 the optimal policy is
    (new: popular, engaged: niche, bored: fresh) and beats the myopic one from every
    non-terminal state; for gamma = 0 the two coincide.
    """
    S, A = len(RECOMMENDATION_STATES), len(RECOMMENDATION_ACTIONS)
    R = np.array([
        [6.0, 2.0, 3.0],
        [10.0, 7.0, 8.0],
        [4.0, 2.0, 3.0],
        [0.0, 0.0, 0.0],
    ])
    P = np.zeros((S, A, S))
    P[0] = [[0, 0.50, 0.40, 0.10], [0, 0.30, 0.20, 0.50], [0, 0.70, 0.10, 0.20]]
    P[1] = [[0, 0.40, 0.50, 0.10], [0, 0.85, 0.10, 0.05], [0, 0.60, 0.30, 0.10]]
    P[2] = [[0, 0.05, 0.55, 0.40], [0, 0.20, 0.45, 0.35], [0, 0.50, 0.30, 0.20]]
    P[3, :, 3] = 1.0
    return TabularMDP(P, R, gamma, states=RECOMMENDATION_STATES, actions=RECOMMENDATION_ACTIONS,
                      mu=np.array([1.0, 0.0, 0.0, 0.0]), reward_unit="minutes")


def optimal_vs_myopic(gamma: float) -> dict:
    """Solve the recommendation MDP at discount ``gamma`` and compare with the myopic policy.

    Returns a dict with the optimal policy (action names per state; ``"any (all tie)"`` in a
    state where every action has the same Q*, such as the absorbing ``churned``), the optimal
    and myopic state values V(s) (minutes of discounted watch time) and ``gain`` = V* - V_myopic.
    ``gamma`` must be a real number in [0, 1) (not None, a string or a bool).
    """
    gamma = check_real("gamma", gamma, 0.0, 1.0, hi_open=True)
    mdp = recommendation_mdp(gamma=gamma)
    opt = policy_iteration(mdp)
    v_myopic = evaluate_policy_exact(mdp, myopic_policy(mdp))
    q = q_from_v(mdp, opt.V)
    tie = np.ptp(q, axis=1) <= 1e-12 * np.maximum(1.0, np.abs(q).max(axis=1))
    return {
        "states": mdp.states,
        "optimal_policy": tuple("any (all tie)" if t else mdp.actions[a] for a, t in zip(opt.policy, tie)),
        "V_optimal": opt.V,
        "V_myopic": v_myopic,
        "gain": opt.V - v_myopic,
    }
