"""Exact policy gradients for one-step (contextual-bandit) problems, and the §4.3 example.

numpy only. A one-step problem has ``n_states`` states drawn from a distribution ``d(s)``,
``n_actions`` actions and a reward table ``r(s, a)``; because the episode ends after one
action, ``Q(s, a) = r(s, a)`` and the objective is

    J(θ) = Σ_s d(s) Σ_a π_θ(a|s) r(s, a)          (to be *maximised*).

Two policy classes are supported:

* ``features=None`` (P1, state-independent): ``theta`` has shape (n_actions,) and
  π(a) = softmax(θ)_a for every state.
* ``features`` of shape (n_states, d) (P2, linear softmax): ``theta`` has shape
  (n_actions, d) and the logits are ``features @ theta.T`` of shape (n_states, n_actions).

The exact gradient is the policy gradient theorem with Q = r:

    ∂J/∂logit(s, b) = d(s) π(b|s) (r(s, b) − V(s)),   V(s) = Σ_a π(a|s) r(s, a),

pulled back through the logits (a sum over states for P1, ``· φ(s)`` for P2).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from rlrec_helpers._validate import SUM_TOL, check_bool, check_choice, check_distribution, check_int, check_real

#: The three states of the article's §4.3, one per row: (1,2,3), (4,5,6), (7,8,9).
WORKED_EXAMPLE_STATES = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
#: The article's one-hot actions e1, e2, e3 (one per row).
WORKED_EXAMPLE_ACTIONS = np.eye(3)
#: Axis labels of the worked example's states and actions, for tables and heatmaps.
WORKED_EXAMPLE_STATE_LABELS = tuple("(" + ",".join(f"{v:g}" for v in s) + ")" for s in WORKED_EXAMPLE_STATES)
WORKED_EXAMPLE_ACTION_LABELS = ("e1", "e2", "e3")
#: Reward readings accepted by :func:`worked_example_rewards`.
READINGS = ("literal", "diagonal")
#: Feature maps accepted by :func:`worked_example_features`.
FEATURE_MAPS = ("raw", "normalised", "centred", "bias")


# ----------------------------------------------------------------------------- the §4.3 task
def worked_example_rewards(reading: str = "diagonal") -> np.ndarray:
    """The 3×3 reward table r(s, a) of §4.3 (rows: states (1,2,3), (4,5,6), (7,8,9); cols: e1..e3).

    Args:
        reading: ``"literal"`` — r = 1 if *some* i has s_i = a_i (computed from the states
            and one-hot actions, which gives a single 1 at (state (1,2,3), e1));
            ``"diagonal"`` — the intended task, action i is correct in state i (r = I₃).
    """
    if check_choice("reading", reading, READINGS) == "literal":
        s = WORKED_EXAMPLE_STATES[:, None, :]  # (3, 1, 3)
        a = WORKED_EXAMPLE_ACTIONS[None, :, :]  # (1, 3, 3)
        return np.any(s == a, axis=2).astype(float)
    return np.eye(3)  # "diagonal"


def worked_example_mdp(reading: str = "literal", *, continuing: bool = False, gamma: float = 0.9):
    """The §4.3 task as a :class:`~rlrec_helpers.mdp.TabularMDP`, to compute Q^π by policy evaluation.

    States 0–2 are the article's (1,2,3), (4,5,6), (7,8,9), drawn uniformly at the start;
    actions e1, e2, e3 with rewards :func:`worked_example_rewards` ``(reading)``.

    Args:
        reading: ``"literal"`` or ``"diagonal"`` (see :func:`worked_example_rewards`).
        continuing: ``False`` (the article's task) — every action ends the episode in a
            fourth, absorbing zero-reward state ``"end"`` (S = 4), so Q^π(s, a) = r(s, a) for
            every policy; ``True`` — a contrast, not the article's task: the next state is
            drawn uniformly from the three states again (S = 3), so Q^π depends on π.
        gamma: discount factor, a real number in [0, 1).
    """
    from rlrec_helpers.mdp import TabularMDP

    gamma = check_real("gamma", gamma, 0.0, 1.0, hi_open=True)
    check_bool("continuing", continuing)
    r = worked_example_rewards(reading)
    states = ("(1,2,3)", "(4,5,6)", "(7,8,9)")
    actions = ("e1", "e2", "e3")
    if continuing:
        P = np.full((3, 3, 3), 1.0 / 3.0)
        return TabularMDP(P=P, R=r, gamma=gamma, states=states, actions=actions)
    P = np.zeros((4, 3, 4))
    P[:, :, 3] = 1.0
    R = np.vstack([r, np.zeros((1, 3))])
    return TabularMDP(P=P, R=R, gamma=gamma, states=states + ("end",), actions=actions,
                      mu=np.array([1.0, 1.0, 1.0, 0.0]) / 3.0)


def worked_example_features(kind: str = "raw", states: np.ndarray | None = None) -> np.ndarray:
    """Feature matrix φ(s) for the states (default: :data:`WORKED_EXAMPLE_STATES`).

    Args:
        kind: ``"raw"`` φ = s; ``"normalised"`` φ = s/‖s‖₂; ``"centred"`` φ = s − mean_s(s)
            (no bias: the middle §4.3 state maps to 0 and J is capped at 7/9);
            ``"bias"`` φ = [1, (s − mean)/std] (column-standardised state plus a constant).
    Returns:
        (n_states, d) float array; d = n_features (+1 for ``"bias"``).
    """
    check_choice("kind", kind, FEATURE_MAPS)
    s = WORKED_EXAMPLE_STATES if states is None else np.asarray(states, dtype=float)
    if s.ndim != 2 or not np.all(np.isfinite(s)):
        raise ValueError(f"states must be a finite 2-D array (n_states, n_features), got shape {s.shape}")
    if kind == "raw":
        return s.copy()
    if kind == "normalised":
        norms = np.linalg.norm(s, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ValueError("states must have non-zero rows for kind='normalised'")
        return s / norms
    if kind == "centred":
        return s - s.mean(axis=0)
    std = s.std(axis=0)  # "bias"
    std = np.where(std > 0, std, 1.0)
    return np.hstack([np.ones((s.shape[0], 1)), (s - s.mean(axis=0)) / std])


# ----------------------------------------------------------------------------- validation
def _check_theta(theta, features):
    th = np.asarray(theta, dtype=float)
    if features is None:
        if th.ndim != 1 or th.size < 1:
            raise ValueError(f"theta must have shape (n_actions,) when features is None, got {th.shape}")
        phi = None
    else:
        phi = np.asarray(features, dtype=float)
        if phi.ndim != 2 or phi.shape[0] < 1 or phi.shape[1] < 1:
            raise ValueError(f"features must have shape (n_states, d), got {phi.shape}")
        if not np.all(np.isfinite(phi)):
            raise ValueError("features must be finite; got NaN or inf")
        if th.ndim != 2 or th.shape[1] != phi.shape[1]:
            raise ValueError(
                f"theta must have shape (n_actions, d={phi.shape[1]}) to match features, got {th.shape}"
            )
    if not np.all(np.isfinite(th)):
        raise ValueError("theta must be finite; got NaN or inf")
    return th, phi


def _check_problem(theta, rewards, features, state_dist):
    th, phi = _check_theta(theta, features)
    r = np.asarray(rewards, dtype=float)
    if r.ndim != 2:
        raise ValueError(f"rewards must have shape (n_states, n_actions), got {r.shape}")
    if r.shape[0] < 1 or r.shape[1] < 1:
        raise ValueError(f"rewards must have n_states >= 1 and n_actions >= 1, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("rewards must be finite; got NaN or inf")
    n_actions = th.shape[0]
    if r.shape[1] != n_actions:
        raise ValueError(f"rewards has {r.shape[1]} actions (columns) but theta has {n_actions}")
    if phi is not None and r.shape[0] != phi.shape[0]:
        raise ValueError(f"rewards has {r.shape[0]} states (rows) but features has {phi.shape[0]}")
    n_states = r.shape[0]
    if state_dist is None:
        d = np.full(n_states, 1.0 / n_states)
    else:
        d = np.asarray(state_dist, dtype=float)
        if d.shape != (n_states,):
            raise ValueError(f"state_dist must have shape (n_states={n_states},), got {d.shape}")
        d = check_distribution("state_dist", d)
    return th, r, phi, d


def _logits(th, phi):
    """The P2 logits ``phi @ th.T`` (n_states, n_actions); ``ValueError`` if any overflows."""
    with np.errstate(over="ignore"):  # reported below
        z = phi @ th.T
    bad = ~np.isfinite(z)
    if np.any(bad):
        s, a = np.argwhere(bad)[0]
        raise ValueError("features @ theta.T must be finite (the logits overflow; scale theta or features "
                         f"down), got logits[{s}, {a}] = {float(z[s, a])!r}")
    return z


def _policy_table(th, phi, n_states):
    """π(a|s) as an (n_states, n_actions) table for either policy class."""
    if phi is None:
        return np.broadcast_to(_softmax(th[None, :]), (n_states, th.shape[0]))
    return _softmax(_logits(th, phi))


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# ----------------------------------------------------------------------------- public API
def softmax_policy(theta, features=None) -> np.ndarray:
    """Softmax policy probabilities.

    Args:
        theta: (n_actions,) logits if ``features`` is None, else (n_actions, d) weights.
        features: optional (n_states, d) feature matrix φ.
    Returns:
        (n_actions,) probabilities (P1), or (n_states, n_actions) with rows summing to 1 (P2).
        Stable for large logits (the max logit is subtracted before ``exp``); ``ValueError`` if
        ``features @ theta.T`` overflows to inf.
    """
    th, phi = _check_theta(theta, features)
    if phi is None:
        return _softmax(th)
    return _softmax(_logits(th, phi))


def expected_reward(theta, rewards, features=None, state_dist=None) -> float:
    """J(θ) = Σ_s d(s) Σ_a π(a|s) r(s, a) for a one-step problem (reward units).

    Args:
        rewards: (n_states, n_actions) table r(s, a).
        state_dist: (n_states,) distribution d(s) (finite, >= 0, summing to 1 within
            :data:`DISTRIBUTION_TOL`); uniform if None.
    """
    th, r, phi, d = _check_problem(theta, rewards, features, state_dist)
    pi = _policy_table(th, phi, r.shape[0])
    return float(d @ (pi * r).sum(axis=1))


def expected_reward_gradient(theta, rewards, features=None, state_dist=None) -> np.ndarray:
    """Exact ∇_θ J (closed form), with the same shape as ``theta``."""
    th, r, phi, d = _check_problem(theta, rewards, features, state_dist)
    pi = _policy_table(th, phi, r.shape[0])
    v = (pi * r).sum(axis=1, keepdims=True)  # V(s), (n_states, 1)
    dlogits = d[:, None] * pi * (r - v)  # ∂J/∂logit(s, b), (n_states, n_actions)
    if phi is None:
        return dlogits.sum(axis=0)
    return dlogits.T @ phi


def expected_reward_hessian(theta, rewards, features=None, state_dist=None, eps: float = 1e-5) -> np.ndarray:
    """Hessian of J w.r.t. the flattened θ, by central differences of the exact gradient.

    Returns a symmetric (θ.size, θ.size) matrix (symmetrised to remove O(eps²) noise).
    """
    th, _, _, _ = _check_problem(theta, rewards, features, state_dist)
    check_real("eps", eps, 0, lo_open=True)
    n = th.size
    h = np.empty((n, n))
    for i in range(n):
        step = np.zeros(n)
        step[i] = eps
        step = step.reshape(th.shape)
        g_plus = expected_reward_gradient(th + step, rewards, features, state_dist)
        g_minus = expected_reward_gradient(th - step, rewards, features, state_dist)
        h[:, i] = (g_plus - g_minus).ravel() / (2 * eps)
    return 0.5 * (h + h.T)


def finite_difference_gradient(f: Callable[[np.ndarray], float], theta, eps: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient of a scalar function ``f`` at ``theta`` (any shape)."""
    th = np.asarray(theta, dtype=float)
    if not np.all(np.isfinite(th)):
        raise ValueError("theta must be finite; got NaN or inf")
    check_real("eps", eps, 0, lo_open=True)
    g = np.empty(th.size)
    flat = th.ravel()
    for i in range(th.size):
        up, down = flat.copy(), flat.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (f(up.reshape(th.shape)) - f(down.reshape(th.shape))) / (2 * eps)
    return g.reshape(th.shape)


def reinforce_gradient_estimate(
    theta,
    rewards,
    features=None,
    state_dist=None,
    *,
    n_samples: int,
    baseline=None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Monte-Carlo score-function (REINFORCE) estimate of ∇J from ``n_samples`` one-step episodes.

    Samples s ~ d, a ~ π(·|s), r = r(s, a) and averages (r − b(s)) ∇_θ log π(a|s).
    Unbiased for any baseline that does not depend on the sampled action.

    Args:
        n_samples: number of sampled (s, a, r) triples, >= 1.
        baseline: None (no baseline), a float, an (n_states,) array b(s), or ``"value"``
            for the exact state value V^π(s) (the usual variance-reducing choice).
        rng: numpy Generator (required, so results are reproducible).
    Returns:
        Array with the shape of ``theta``.
    """
    th, r, phi, d = _check_problem(theta, rewards, features, state_dist)
    check_int("n_samples", n_samples, 1)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n_states, n_actions = r.shape
    pi = _policy_table(th, phi, n_states)
    if baseline is None:
        b = np.zeros(n_states)
    elif isinstance(baseline, str):
        if baseline != "value":
            raise ValueError(f"baseline must be None, a number, an (n_states,) array or 'value', got {baseline!r}")
        b = (pi * r).sum(axis=1)
    else:
        b = np.broadcast_to(np.asarray(baseline, dtype=float), (n_states,)) if np.ndim(baseline) == 0 \
            else np.asarray(baseline, dtype=float)
        if b.shape != (n_states,) or not np.all(np.isfinite(b)):
            raise ValueError(f"baseline must be finite with shape () or (n_states={n_states},), got {np.shape(baseline)}")
    # s ~ d by rng.choice(n_states, n_samples, p=d)'s own algorithm (the same draws), without its
    # 1.5e-8 limit on |Σ d − 1|: state_dist is accepted within SUM_TOL
    cdf_s = np.cumsum(d)
    cdf_s /= cdf_s[-1]
    s = cdf_s.searchsorted(rng.random(int(n_samples)), side="right")
    u = rng.random(int(n_samples))
    cdf = np.cumsum(pi[s], axis=1)
    a = np.minimum((u[:, None] > cdf).sum(axis=1), n_actions - 1)
    adv = r[s, a] - b[s]  # (n,)
    score_logits = np.eye(n_actions)[a] - pi[s]  # ∇_logits log π(a|s), (n, n_actions)
    weighted = adv[:, None] * score_logits
    if phi is None:
        return weighted.mean(axis=0)
    return weighted.T @ phi[s] / n_samples


def gradient_ascent(
    theta0,
    rewards,
    features=None,
    state_dist=None,
    *,
    alpha: float,
    n_iters: int,
) -> dict[str, np.ndarray]:
    """Plain gradient *ascent* θ ← θ + α ∇J(θ) with the exact gradient.

    Returns a history dict:
        ``theta``: (n_iters + 1, *θ.shape) trajectory (row 0 is θ⁰);
        ``J``: (n_iters + 1,) objective values;
        ``policy``: (n_iters + 1, n_states, n_actions) π(a|s) along the way;
        ``grad_norm``: (n_iters + 1,) ‖∇J‖₂.
    """
    th, r, phi, d = _check_problem(theta0, rewards, features, state_dist)
    check_real("alpha", alpha, 0.0, lo_open=True)
    check_int("n_iters", n_iters, 0)
    n_states, n_actions = r.shape
    thetas = np.empty((n_iters + 1,) + th.shape)
    js = np.empty(n_iters + 1)
    policies = np.empty((n_iters + 1, n_states, n_actions))
    norms = np.empty(n_iters + 1)
    t = th.copy()
    for k in range(n_iters + 1):
        try:
            pi = _policy_table(t, phi, n_states)
        except ValueError:  # P2 logits overflow: theta0/features at k = 0, the step size after
            if k == 0:
                raise
            raise ValueError(f"alpha={alpha} made the logits features @ theta.T non-finite at iteration {k}; "
                             "use a smaller alpha") from None
        v = (pi * r).sum(axis=1)
        dlogits = d[:, None] * pi * (r - v[:, None])
        g = dlogits.sum(axis=0) if phi is None else dlogits.T @ phi
        thetas[k], js[k], policies[k], norms[k] = t, d @ v, pi, np.linalg.norm(g)
        if k < n_iters:
            t = t + alpha * g
            if not np.all(np.isfinite(t)):
                raise ValueError(f"alpha={alpha} made theta non-finite at iteration {k + 1}; use a smaller alpha")
    return {"theta": thetas, "J": js, "policy": policies, "grad_norm": norms}


def worked_example_run(alpha: float, feature_map: str, reading: str, n_iters: int = 300) -> dict[str, np.ndarray]:
    """Gradient ascent on the §4.3 task from θ = 0 (what the notebook-03 widget wraps).

    ``feature_map`` is ``"none"`` for the state-independent policy P1 or one of
    :data:`FEATURE_MAPS` for the linear-softmax policy P2; anything else raises ``ValueError``.
    """
    check_choice("feature_map", feature_map, ("none",) + FEATURE_MAPS)
    rewards = worked_example_rewards(reading)
    if feature_map == "none":
        return gradient_ascent(np.zeros(3), rewards, alpha=alpha, n_iters=n_iters)
    phi = worked_example_features(feature_map)
    return gradient_ascent(np.zeros((3, phi.shape[1])), rewards, phi, alpha=alpha, n_iters=n_iters)


# ----------------------------------------------------------------------------- reading a J curve
def _check_curve(J, tol: float) -> np.ndarray:
    j = np.asarray(J, dtype=float)
    if j.ndim != 1 or j.size < 1:
        raise ValueError(f"J must be a non-empty 1-D array of shape (n_iters + 1,), got shape {j.shape}")
    if not np.all(np.isfinite(j)):
        raise ValueError("J must be finite; got NaN or inf")
    check_real("tol", tol, 0.0)
    return j


def decrease_steps(J, tol: float = 1e-9) -> np.ndarray:
    """Iterations k at which the objective fell: J[k+1] < J[k] − tol.

    Args:
        J: (n_iters + 1,) objective values along a run (e.g. ``gradient_ascent(...)["J"]``,
            expected reward per step).
        tol: fall below which a step counts as flat (same unit as J, >= 0); the default
            ignores float round-off.
    Returns:
        (n_falls,) int array of the k (0-based, ascending), so ``history["theta"][k]`` is the
        parameter *before* the falling step.
    """
    j = _check_curve(J, tol)
    return np.flatnonzero(np.diff(j) < -tol)


def count_decreases(J, tol: float = 1e-9) -> int:
    """Number of steps where the objective fell by more than ``tol``: ``len(decrease_steps(J, tol))``."""
    return int(decrease_steps(J, tol).size)


def largest_decrease(J) -> float:
    """Largest single-step fall max_k (J[k] − J[k+1]) of a (n_iters + 1,) curve, 0.0 if it never falls."""
    j = _check_curve(J, 0.0)
    return float(max(0.0, -np.diff(j).min())) if j.size > 1 else 0.0


#: Tolerance on |Σ_a π(a) − 1| accepted by :func:`policy_entropy` and for ``state_dist``: an alias
#: of the package-wide :data:`rlrec_helpers._validate.SUM_TOL` (1e-6).
DISTRIBUTION_TOL = SUM_TOL


def policy_entropy(probs, axis: int = -1) -> np.ndarray | float:
    """Entropy H(π) = −Σ_a π(a) log π(a) in nats, with 0 · log 0 = 0.

    Args:
        probs: action probabilities, any shape with at least one axis; every slice along
            ``axis`` must be a distribution (finite, non-negative, summing to 1 within
            :data:`DISTRIBUTION_TOL` = :data:`rlrec_helpers._validate.SUM_TOL`).
        axis: the action axis, an integer in [-ndim, ndim - 1].
    Returns:
        A float for a 1-D ``probs``, else an array of ``probs``' shape without ``axis``.
        Between 0 (deterministic) and log(n_actions) (uniform).
    """
    p = check_distribution("probs", probs, axis)
    terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    h = terms.sum(axis=axis)
    return float(h) if h.ndim == 0 else h
