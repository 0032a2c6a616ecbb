"""Off-policy evaluation (OPE) and off-policy correction, numpy only.

Notation (one row per logged impression, n rows, A actions):

- ``reward`` (n,): observed reward r_i (a click in OBD).
- ``action`` (n,) int: the logged action a_i, chosen by the behaviour policy β.
- ``propensity`` (n,): β(a_i | x_i), the logging probability, in (0, 1].
- ``action_dist`` (n, A): the evaluation policy π(· | x_i); each row sums to 1. For OBD, where
  π depends on the slot (an (n, A, L) array), pass ``select_position(action_dist, position)``,
  i.e. ``action_dist[np.arange(n), :, position]`` (not ``action_dist[:, :, position]``, which
  has shape (n, A, n)).
- ``q_hat`` (n, A): a reward model q̂(x_i, a) ≈ E[r | x_i, a].

Estimators of V(π) = E_x E_{a~π}[r]:

- IPS: mean(w_i r_i) with w_i = π(a_i|x_i) / β(a_i|x_i). Unbiased when β > 0 wherever π > 0.
- SNIPS: sum(w_i r_i) / sum(w_i). Slightly biased, much lower variance.
- DM: mean(Σ_a π(a|x_i) q̂(x_i, a)). No weights; as good as the reward model.
- DR: DM + mean(w_i (r_i − q̂(x_i, a_i))). Unbiased if either β or q̂ is right.
- switch-DR: DR's correction only where w_i ≤ τ; DM elsewhere.

Also here: the Monte-Carlo action distribution of a Bernoulli Thompson-sampling slate policy
(the OBD paper's protocol), a small cross-fitted logistic click model, the OBD OPE experiment,
and Chen et al. (2019)'s two simulations of off-policy (top-K) correction with exact gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from rlrec_helpers._validate import (check_choice, check_distribution, check_finite_array, check_int,
                                     check_probabilities, check_real)
from rlrec_helpers.stats import MeanCI, mean_ci

ESTIMATORS = ("IPS", "SNIPS", "DM", "DR")


# --------------------------------------------------------------------------- validation


def _as_1d(name: str, x, dtype=float) -> np.ndarray:
    arr = np.asarray(x, dtype=dtype)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (n,), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if dtype is float and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got NaN or inf")
    return arr


def check_propensity(propensity, name: str = "propensity") -> np.ndarray:
    """(n,) probabilities in (0, 1]; zero or negative values raise ``ValueError``."""
    p = _as_1d(name, propensity)
    if np.any(p <= 0) or np.any(p > 1):
        raise ValueError(f"{name} must be in (0, 1] for every row (positivity); got range "
                         f"[{p.min():.3g}, {p.max():.3g}]")
    return p


def check_action_dist(action_dist, n: int | None = None, name: str = "action_dist") -> np.ndarray:
    """(n, A) with n, A >= 1: finite non-negative rows summing to 1 (within
    :data:`rlrec_helpers._validate.SUM_TOL`), else ``ValueError``."""
    d = np.asarray(action_dist, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (n, n_actions), got shape {d.shape}")
    if n is not None and d.shape[0] != n:
        raise ValueError(f"{name} has {d.shape[0]} rows but the log has {n}")
    if d.shape[0] == 0:
        raise ValueError(f"{name} must have at least 1 row (n >= 1); got an empty log")
    return check_distribution(name, d, axis=1)


def _check_int_array(name: str, x) -> np.ndarray:
    """A 1-D integer array (the dtype must be an integer one), else ``ValueError``."""
    a = np.asarray(x)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D integer array, got dtype {a.dtype} shape {a.shape}")
    return a


def _check_index_range(name: str, a: np.ndarray, high: int, what: str) -> None:
    """Every entry of the integer array ``a`` must lie in [0, high)."""
    if a.size and (a.min() < 0 or a.max() >= high):
        raise ValueError(f"{name} must be in [0, {high}) ({what}), got "
                         f"range [{a.min()}, {a.max()}]")


def _check_log(reward, action, propensity, action_dist):
    r = _as_1d("reward", reward)
    a = _check_int_array("action", action)
    p = check_propensity(propensity)
    n = r.shape[0]
    if a.shape[0] != n or p.shape[0] != n:
        raise ValueError(f"reward, action and propensity must have the same length; got "
                         f"{n}, {a.shape[0]}, {p.shape[0]}")
    d = check_action_dist(action_dist, n)
    _check_index_range("action", a, d.shape[1], "columns of action_dist")
    return r, a, p, d


def _check_q(q_hat, d: np.ndarray) -> np.ndarray:
    q = np.asarray(q_hat, dtype=float)
    if q.shape != d.shape:
        raise ValueError(f"q_hat must have the shape of action_dist {d.shape}, got {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError("q_hat must be finite")
    return q


def select_position(action_dist, position) -> np.ndarray:
    """(n, A, L) slot-wise policy and (n,) slots -> (n, A) the policy of each row's slot."""
    d = np.asarray(action_dist, dtype=float)
    pos = np.asarray(position)
    if d.ndim != 3:
        raise ValueError(f"action_dist must be 3-D (n, n_actions, len_list), got {d.shape}")
    if pos.shape != (d.shape[0],):
        raise ValueError(f"position must have shape ({d.shape[0]},), got {pos.shape}")
    if not np.issubdtype(pos.dtype, np.integer):
        raise ValueError(f"position must be an integer array (slot indices), got dtype {pos.dtype}")
    if pos.size and (pos.min() < 0 or pos.max() >= d.shape[2]):
        raise ValueError(f"position must be in [0, {d.shape[2]}), got [{pos.min()}, {pos.max()}]")
    return d[np.arange(d.shape[0]), :, pos]


# --------------------------------------------------------------------------- estimators


def _raw_weights(a: np.ndarray, p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Unchecked π(a_i|x_i) / β(a_i|x_i); a tiny (subnormal) β gives inf, see :func:`_check_weights`."""
    with np.errstate(over="ignore"):
        return d[np.arange(p.shape[0]), a] / p


def _check_weights(w: np.ndarray, a: np.ndarray, p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``w`` (the weights an estimator uses) if every one and their sum is finite, else ``ValueError``."""
    if not np.all(np.isfinite(w)):
        i = int(np.argmax(~np.isfinite(w)))
        raise ValueError(f"propensity must be large enough that every importance weight action_dist[i, action[i]] / "
                         f"propensity[i] is finite, got propensity[{i}] = {float(p[i])!r} "
                         f"({float(d[i, a[i]])!r} / {float(p[i])!r} overflows)")
    with np.errstate(over="ignore"):
        total = w.sum()
    if not np.isfinite(total):
        raise ValueError(f"propensity must be large enough that the importance weights action_dist[i, action[i]] / "
                         f"propensity[i] have a finite sum, got weights summing to {float(total)!r} "
                         f"(smallest propensity {float(p.min())!r})")
    return w


def importance_weights(action, propensity, action_dist, max_weight: float | None = None) -> np.ndarray:
    """(n,) w_i = π(a_i|x_i) / β(a_i|x_i), optionally capped at ``max_weight``.

    ``max_weight``: ``None`` or ``inf`` (no cap), or a number > 0. A propensity so small that a
    weight (after the cap) or the sum of the weights overflows to inf raises ``ValueError``.
    """
    if max_weight is not None and not isinstance(max_weight, bool) and max_weight == np.inf:
        max_weight = None   # an infinite cap is no cap
    max_weight = check_real("max_weight", max_weight, 0.0, lo_open=True, allow_none=True)
    p = check_propensity(propensity)
    a = _check_int_array("action", action)
    d = check_action_dist(action_dist, p.shape[0])
    if a.shape != p.shape:
        raise ValueError(f"action and propensity must have the same length; got {a.shape[0]}, {p.shape[0]}")
    _check_index_range("action", a, d.shape[1], "columns of action_dist")
    w = _raw_weights(a, p, d)
    if max_weight is not None:
        w = np.minimum(w, max_weight)
    return _check_weights(w, a, p, d)


def ips(reward, action, propensity, action_dist, *, max_weight: float | None = None) -> float:
    """Inverse propensity scoring: mean(w_i r_i)."""
    r, a, p, d = _check_log(reward, action, propensity, action_dist)
    w = importance_weights(a, p, d, max_weight)
    return float(np.mean(w * r))


def snips(reward, action, propensity, action_dist, *, max_weight: float | None = None) -> float:
    """Self-normalised IPS: sum(w_i r_i) / sum(w_i). Raises if every weight is 0."""
    r, a, p, d = _check_log(reward, action, propensity, action_dist)
    w = importance_weights(a, p, d, max_weight)
    if w.sum() <= 0:
        raise ValueError("action_dist gives probability 0 to every logged action; SNIPS is undefined")
    return float(np.sum(w * r) / np.sum(w))


def dm(action_dist, q_hat) -> float:
    """Direct method: mean_i Σ_a π(a|x_i) q̂(x_i, a)."""
    d = check_action_dist(action_dist)
    q = _check_q(q_hat, d)
    return float(np.mean(np.sum(d * q, axis=1)))


def dr(reward, action, propensity, action_dist, q_hat, *, max_weight: float | None = None) -> float:
    """Doubly robust: DM + mean(w_i (r_i − q̂(x_i, a_i)))."""
    r, a, p, d = _check_log(reward, action, propensity, action_dist)
    q = _check_q(q_hat, d)
    w = importance_weights(a, p, d, max_weight)
    idx = np.arange(r.shape[0])
    return float(np.mean(np.sum(d * q, axis=1) + w * (r - q[idx, a])))


def switch_dr(reward, action, propensity, action_dist, q_hat, *, tau: float) -> float:
    """Switch-DR (Wang et al. 2017): DR's correction only for rows with w_i ≤ tau.

    ``tau``: a number > 0; ``inf`` keeps every row (plain DR). A weight above ``tau`` is not used,
    so it may overflow.
    """
    if not (isinstance(tau, (float, np.floating)) and tau == np.inf):
        tau = check_real("tau", tau, 0.0, lo_open=True)
    r, a, p, d = _check_log(reward, action, propensity, action_dist)
    q = _check_q(q_hat, d)
    w = _raw_weights(a, p, d)
    kept = _check_weights(np.where(w <= tau, w, 0.0), a, p, d)  # 0 for excluded rows (0 * inf was nan)
    idx = np.arange(r.shape[0])
    return float(np.mean(np.sum(d * q, axis=1) + kept * (r - q[idx, a])))


def estimate_all(reward, action, propensity, action_dist, q_hat) -> dict[str, float]:
    """{"IPS", "SNIPS", "DM", "DR"} estimates of V(π) on one log."""
    return {
        "IPS": ips(reward, action, propensity, action_dist),
        "SNIPS": snips(reward, action, propensity, action_dist),
        "DM": dm(action_dist, q_hat),
        "DR": dr(reward, action, propensity, action_dist, q_hat),
    }


def bootstrap_ci(
    estimator: Callable[..., float],
    arrays: Mapping[str, np.ndarray],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    **fixed,
) -> MeanCI:
    """Percentile bootstrap CI of ``estimator(**arrays, **fixed)``.

    Rows of every array in ``arrays`` (at least one array, each with at least one dimension,
    all with the same first dimension n >= 2) are resampled jointly with replacement ``n_boot``
    times. Returns a :class:`~rlrec_helpers.stats.MeanCI` whose ``mean`` is the estimate on the
    full log, ``low``/``high`` the percentile bounds and ``n`` the number of bootstrap resamples.
    Other input raises ``ValueError`` naming the argument.
    """
    check_int("n_boot", n_boot, 2)
    check_real("level", level, 0, 1, lo_open=True, hi_open=True)
    if not arrays:
        raise ValueError("arrays must map at least one name to an array of logged rows, got an empty mapping")
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.ndim == 0:
            raise ValueError(f"arrays[{k!r}] must have one row per logged sample (at least 1 dimension), "
                             f"got a scalar {v!r}")
    lengths = {k: v.shape[0] for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"arrays must share their first dimension, got lengths {lengths}")
    n = next(iter(lengths.values()))
    if n < 2:
        raise ValueError(f"arrays must hold at least 2 rows to resample (a bootstrap of one row has no "
                         f"spread), got {n}")
    point = float(estimator(**arrays, **fixed))
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, size=n)
        stats[b] = estimator(**{k: v[idx] for k, v in arrays.items()}, **fixed)
    low, high = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return MeanCI(point, float(low), float(high), n_boot, level)


def bootstrap_estimates(reward, action, propensity, action_dist, q_hat, *, n_boot: int = 1000,
                        level: float = 0.95, seed: int = 0) -> dict[str, MeanCI]:
    """IPS, SNIPS, DM and DR with percentile-bootstrap CIs, vectorised (same resamples for all).

    Every estimator is a (ratio of) mean(s) of per-row terms, so each resample costs one
    gather. The reward model ``q_hat`` is held fixed: the DM/DR intervals do not include the
    variance of fitting q̂ (refit per resample, as :func:`obd_relative_errors` does, for that).
    Returns name -> MeanCI(mean=estimate on the full log, low, high, n=n_boot). The log must hold
    at least 2 rows (``ValueError`` otherwise, as :func:`bootstrap_ci`).
    """
    r, a, p, d = _check_log(reward, action, propensity, action_dist)
    if r.shape[0] < 2:
        raise ValueError(f"the log must hold at least 2 rows to resample (a bootstrap of one row has no "
                         f"spread), got {r.shape[0]}")
    q = _check_q(q_hat, d)
    check_int("n_boot", n_boot, 2)
    check_real("level", level, 0, 1, lo_open=True, hi_open=True)
    n = r.shape[0]
    w = _check_weights(_raw_weights(a, p, d), a, p, d)
    dm_i = np.sum(d * q, axis=1)
    terms = {"IPS": w * r, "DM": dm_i, "DR": dm_i + w * (r - q[np.arange(n), a])}
    point = {k: float(v.mean()) for k, v in terms.items()}
    if w.sum() <= 0:
        raise ValueError("action_dist gives probability 0 to every logged action; SNIPS is undefined")
    point["SNIPS"] = float(np.sum(w * r) / np.sum(w))
    rng = np.random.default_rng(seed)
    boots = {k: np.empty(n_boot) for k in ESTIMATORS}
    chunk = max(1, 2_000_000 // n)
    for s in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - s), n))
        with np.errstate(over="ignore"):
            w_sum = w[idx].sum(axis=1)
        if not np.all(np.isfinite(w_sum)):  # a resample that repeats a huge weight
            raise ValueError(f"propensity must be large enough that every bootstrap resample's importance weights "
                             f"have a finite sum, got a resample summing to inf (smallest propensity {float(p.min())!r})")
        for k, v in terms.items():
            boots[k][s:s + idx.shape[0]] = v[idx].mean(axis=1)
        if np.any(w_sum <= 0):
            raise ValueError(
                f"a bootstrap resample has importance weights summing to 0 (none of its rows is an "
                f"action that action_dist gives probability > 0), so its SNIPS is 0/0: the log has "
                f"too few matching rows ({int(np.count_nonzero(w > 0))} of {n} with weight > 0) "
                f"for a bootstrap of SNIPS")
        boots["SNIPS"][s:s + idx.shape[0]] = (w * r)[idx].sum(axis=1) / w_sum
    out = {}
    for k in ESTIMATORS:
        low, high = np.quantile(boots[k], [(1 - level) / 2, (1 + level) / 2])
        out[k] = MeanCI(point[k], float(low), float(high), n_boot, level)
    return out


# --------------------------------------------------------------------------- synthetic bandit


@dataclass(frozen=True)
class SyntheticBandit:
    """A contextual bandit with known truth, for testing estimators.

    ``n_contexts`` discrete contexts (uniform), ``n_actions`` actions, Bernoulli rewards with
    means ``q`` (n_contexts, n_actions); behaviour and target policies are (n_contexts, n_actions).
    ``q`` must be in [0, 1]; every row of ``behavior`` and of ``target`` a distribution (a zero in
    ``behavior`` where ``target`` is positive is a support violation, under which IPS is biased:
    allowed, for demonstrations); else ``ValueError``. The three are stored as float arrays.
    """

    q: np.ndarray
    behavior: np.ndarray
    target: np.ndarray

    def __post_init__(self):
        q = check_finite_array("q", self.q, ndim=2)
        check_probabilities("q", self.q)
        object.__setattr__(self, "q", q)
        for name, positive in (("behavior", False), ("target", False)):
            pol = np.asarray(getattr(self, name), dtype=float)
            if pol.shape != q.shape:
                raise ValueError(f"{name} must have the shape of q {q.shape}, got {pol.shape}")
            object.__setattr__(self, name, check_distribution(name, pol, axis=1, positive=positive))

    @classmethod
    def make(cls, n_contexts: int = 5, n_actions: int = 4, seed: int = 0) -> "SyntheticBandit":
        """A random instance: ``n_contexts`` and ``n_actions`` are integers >= 1."""
        check_int("n_contexts", n_contexts, 1)
        check_int("n_actions", n_actions, 1)
        rng = np.random.default_rng(seed)
        q = rng.uniform(0.05, 0.6, size=(n_contexts, n_actions))
        behavior = rng.dirichlet(np.full(n_actions, 2.0), size=n_contexts)
        behavior = 0.8 * behavior + 0.2 / n_actions  # positivity: every action has β ≥ 0.05
        target = rng.dirichlet(np.full(n_actions, 0.5), size=n_contexts)
        return cls(q, behavior, target)

    def true_value(self) -> float:
        """V(target) = mean_x Σ_a π(a|x) q(x, a)."""
        return float(np.mean(np.sum(self.target * self.q, axis=1)))

    def log(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """n rows logged by the behaviour policy: context, action, reward, propensity, action_dist.

        ``n``: an integer >= 0; ``rng``: a ``numpy.random.Generator``."""
        check_int("n", n, 0)
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), got {rng!r}")
        x = rng.integers(0, self.q.shape[0], size=n)
        cum = np.cumsum(self.behavior[x], axis=1)
        a = (rng.random((n, 1)) > cum).sum(axis=1).clip(max=self.q.shape[1] - 1)
        r = (rng.random(n) < self.q[x, a]).astype(float)
        return {"context": x, "action": a.astype(np.int64), "reward": r,
                "propensity": self.behavior[x, a], "action_dist": self.target[x]}


# --------------------------------------------------------------------------- OBD protocol


def bts_action_dist(alpha, beta, *, len_list: int = 3, n_sim: int = 100_000, seed: int = 0,
                    chunk: int = 10_000) -> np.ndarray:
    """Monte-Carlo slot-wise action distribution of a Bernoulli Thompson-sampling slate policy.

    Each simulation draws θ_a ~ Beta(alpha_a, beta_a) for every item and shows the
    ``len_list`` items with the largest θ in decreasing order (slot 0 = largest), as the
    ZOZOTOWN BTS policy did. Returns (n_actions, len_list): column k is the frequency with
    which each item landed in slot k; every column sums to 1. ``alpha``, ``beta``: (n_actions,)
    finite and > 0.
    """
    alpha = np.asarray(alpha, dtype=float)
    beta = np.asarray(beta, dtype=float)
    if (alpha.ndim != 1 or alpha.shape != beta.shape or not np.all(np.isfinite(alpha))
            or not np.all(np.isfinite(beta)) or np.any(alpha <= 0) or np.any(beta <= 0)):
        raise ValueError("alpha and beta must be finite, positive 1-D arrays of the same length")
    n_actions = alpha.shape[0]
    check_int("len_list", len_list, 1, n_actions, hi_name="n_actions")
    check_int("n_sim", n_sim, 1)
    check_int("chunk", chunk, 1)
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_actions, len_list))
    done = 0
    while done < n_sim:
        m = min(chunk, n_sim - done)
        theta = rng.beta(alpha, beta, size=(m, n_actions))
        top = np.argsort(-theta, axis=1)[:, :len_list]
        for k in range(len_list):
            counts[:, k] += np.bincount(top[:, k], minlength=n_actions)
        done += m
    return counts / n_sim


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass
class ClickModel:
    """Logistic click model logit q̂(x, a, k) = b + u_a + v_k + c·x (ridge-penalised).

    Shapes: ``item`` (A,), ``slot`` (L,), ``ctx`` (d,). Fit by Newton's method (IRLS).
    """

    bias: float
    item: np.ndarray
    slot: np.ndarray
    ctx: np.ndarray

    def predict(self, context, position) -> np.ndarray:
        """(n, d) finite contexts and (n,) integer slots in [0, L) -> (n, A) click probabilities
        for every item; else ``ValueError``."""
        pos = _check_int_array("position", position)
        _check_index_range("position", pos, self.slot.shape[0], "slots of the model")
        x = np.asarray(context, dtype=float)
        if x.shape != (pos.shape[0], self.ctx.shape[0]):
            raise ValueError(f"context must have shape (len(position), d) = ({pos.shape[0]}, {self.ctx.shape[0]}), "
                             f"got {x.shape}")
        if x.size:
            check_finite_array("context", x)
        base = self.bias + self.slot[pos] + x @ self.ctx
        return _sigmoid(base[:, None] + self.item[None, :])


def fit_click_model(context, action, position, reward, *, n_actions: int, len_list: int = 3,
                    l2: float = 3.0, n_iter: int = 25) -> ClickModel:
    """Ridge logistic regression of clicks on item, slot and context one-hots (numpy IRLS).

    ``l2`` is the Gaussian-prior precision on every weight except the bias; with ~40 clicks
    per 10,000 rows it shrinks the per-item effects strongly towards the mean click rate.
    ``context`` (n, d) must be finite; ``n_actions``, ``len_list`` integers >= 1; ``n_iter`` an
    integer >= 0 (the number of Newton steps at most).
    """
    check_int("n_actions", n_actions, 1)
    check_int("len_list", len_list, 1)
    check_int("n_iter", n_iter, 0)
    x = np.asarray(context, dtype=float)
    a = np.asarray(action)
    pos = np.asarray(position)
    r = _as_1d("reward", reward)
    n = r.shape[0]
    if x.ndim != 2 or x.shape[0] != n or a.shape != (n,) or pos.shape != (n,):
        raise ValueError("context (n, d), action (n,), position (n,) and reward (n,) must agree in n")
    if x.size:
        check_finite_array("context", x)
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"action must be a 1-D integer array, got dtype {a.dtype}")
    if not np.issubdtype(pos.dtype, np.integer):
        raise ValueError(f"position must be a 1-D integer array, got dtype {pos.dtype}")
    _check_index_range("action", a, n_actions, "n_actions items")
    _check_index_range("position", pos, len_list, "len_list slots")
    check_real("l2", l2, 0.0, lo_open=True)
    d = x.shape[1]
    design = np.concatenate([np.ones((n, 1)), np.eye(n_actions)[a], np.eye(len_list)[pos], x], axis=1)
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 1e-6
    mean = np.clip(r.mean(), 1e-4, 1 - 1e-4)
    w = np.zeros(design.shape[1])
    w[0] = np.log(mean / (1 - mean))
    for _ in range(n_iter):
        p = _sigmoid(design @ w)
        grad = design.T @ (r - p) - penalty * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return ClickModel(float(w[0]), w[1:1 + n_actions], w[1 + n_actions:1 + n_actions + len_list],
                      w[1 + n_actions + len_list:1 + n_actions + len_list + d])


def cross_fit_q_hat(context, action, position, reward, *, n_actions: int, len_list: int = 3,
                    n_folds: int = 3, seed: int = 0, l2: float = 3.0) -> np.ndarray:
    """(n, A) out-of-fold click predictions q̂(x_i, a, k_i): each row's model never saw that row."""
    reward = _as_1d("reward", reward)
    check_int("n_actions", n_actions, 1)
    check_int("len_list", len_list, 1)
    n = len(reward)
    # every row is predicted by a model fitted on the other folds: 2 <= n_folds <= n
    check_int("n_folds", n_folds, 2, n, hi_name="n")
    rng = np.random.default_rng(seed)
    fold = rng.permutation(n) % n_folds
    q = np.empty((n, n_actions))
    context, action, position, reward = map(np.asarray, (context, action, position, reward))
    for f in range(n_folds):
        tr, te = fold != f, fold == f
        model = fit_click_model(context[tr], action[tr], position[tr], reward[tr],
                                n_actions=n_actions, len_list=len_list, l2=l2)
        q[te] = model.predict(context[te], position[te])
    return q



def _check_slot_dist(slot_dist, log) -> np.ndarray:
    """``slot_dist`` as an (A, L) = (log.n_actions, log.len_list) float array whose every column
    is a distribution, else ``ValueError``."""
    sd = np.asarray(slot_dist, dtype=float)
    if sd.shape != (log.n_actions, log.len_list):
        raise ValueError(f"slot_dist must have shape (n_actions, len_list) = ({log.n_actions}, "
                         f"{log.len_list}), got {sd.shape}")
    return check_distribution("slot_dist", sd, axis=0)


def slot_action_dist(log, slot_dist) -> np.ndarray:
    """(n, A) action distribution of a slot-wise policy on a log's rows: row i is
    π(· | slot of row i), i.e. column ``log.position[i]`` of ``slot_dist`` (A, L).

    ``log`` has attributes position, n_actions, len_list (e.g.
    :class:`rlrec_helpers.data.OpenBanditData`); ``slot_dist`` as in :func:`obd_estimates`.
    """
    return _check_slot_dist(slot_dist, log).T[log.position]


def slot_frequencies(log) -> np.ndarray:
    """(A, L) empirical slot-wise distribution of a log: column k holds the share of the log's
    slot-k rows that showed each of the A items (what the logging policy actually did).

    ``log`` has attributes action, position, n_actions, len_list. Every slot must occur in the
    log, else ``ValueError``.
    """
    a = _check_int_array("log.action", log.action)
    pos = _check_int_array("log.position", log.position)
    _check_index_range("log.action", a, log.n_actions, "n_actions")
    _check_index_range("log.position", pos, log.len_list, "len_list")
    counts = np.zeros((log.n_actions, log.len_list))
    np.add.at(counts, (a, pos), 1.0)
    per_slot = counts.sum(axis=0)
    if np.any(per_slot == 0):
        raise ValueError(f"log must have rows in every slot 0..{log.len_list - 1}, got none in slot(s) "
                         f"{np.flatnonzero(per_slot == 0).tolist()}")
    return counts / per_slot


def obd_estimates(log, slot_dist: np.ndarray, *, seed: int = 0, l2: float = 3.0) -> dict[str, float]:
    """IPS/SNIPS/DM/DR of a slot-wise policy ``slot_dist`` (A, L) from one OBD-style log.

    ``log`` has attributes context, action, position, reward, propensity, n_actions, len_list
    (e.g. :class:`rlrec_helpers.data.OpenBanditData`). The reward model is cross-fitted.
    ``slot_dist`` (array-like, shape (log.n_actions, log.len_list)): column k is π(· | slot k).
    """
    dist = slot_action_dist(log, slot_dist)  # (n, A): π(· | slot of row i)
    q_hat = cross_fit_q_hat(log.context, log.action, log.position, log.reward,
                            n_actions=log.n_actions, len_list=log.len_list, seed=seed, l2=l2)
    return estimate_all(log.reward, log.action, log.propensity, dist, q_hat)


def obd_relative_errors(log, slot_dist: np.ndarray, ground_truth: float, *, n_runs: int = 30,
                        seed: int = 0, l2: float = 3.0) -> dict[str, np.ndarray]:
    """The OBD paper's protocol: relative error |V̂ − V| / V over ``n_runs`` bootstrap logs.

    Each run resamples the log's rows with replacement, refits the cross-fitted reward model
    and computes every estimator. Returns estimator name -> (n_runs,) relative errors, plus
    ``"estimates"`` -> (n_runs, 4) raw estimates in the order of :data:`ESTIMATORS`.
    """
    check_real("ground_truth", ground_truth, 0.0, lo_open=True)
    check_int("n_runs", n_runs, 1)
    slot_dist = _check_slot_dist(slot_dist, log)
    rng = np.random.default_rng(seed)
    est = np.empty((n_runs, len(ESTIMATORS)))
    for b in range(n_runs):
        boot = log.bootstrap(rng)
        e = obd_estimates(boot, slot_dist, seed=seed + b, l2=l2)
        est[b] = [e[k] for k in ESTIMATORS]
    rel = np.abs(est - ground_truth) / ground_truth
    out = {k: rel[:, j] for j, k in enumerate(ESTIMATORS)}
    out["estimates"] = est
    return out


# --------------------------------------------------------------------------- Chen et al. 2019


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax(theta) -> np.ndarray:
    """π = softmax(θ) along the last axis: exp(θ − max θ) / Σ exp(θ − max θ).

    ``theta``: a non-empty array of finite numbers (any shape; a scalar gives 1.0), else
    ``ValueError``. Returns a float array of the same shape whose last-axis slices sum to 1.
    """
    return _softmax(check_finite_array("theta", theta))


def _topk(pi: np.ndarray, k: int) -> np.ndarray:
    return k * (1.0 - pi) ** (k - 1)


def topk_correction(pi, k: int) -> np.ndarray:
    """λ_K(a) = K (1 − π(a))^(K−1): the top-K multiplier of Chen et al. (2019), eq. (9).

    ``pi``: a non-empty array of probabilities in [0, 1]; ``k``: slate size, an integer >= 1."""
    check_int("k", k, 1)
    return _topk(check_probabilities("pi", pi), k)


CORRECTIONS = ("none", "standard", "topk")


def chen_gradient(theta, reward, behavior, correction: str, k: int = 1) -> np.ndarray:
    """Exact full-batch gradient of the logged REINFORCE objective for a softmax policy.

    The logs are infinitely many draws a ~ β with rewards ``reward`` (A,). With
    ∇ log π(a) = e_a − π for π = softmax(θ):

    - ``"none"``: E_β[r_a ∇log π(a)] = Σ_a β_a r_a (e_a − π) (ignores that β ≠ π);
    - ``"standard"``: E_β[(π_a/β_a) r_a ∇log π(a)] = Σ_a π_a r_a (e_a − π), the on-policy gradient;
    - ``"topk"``: E_β[(π_a/β_a) λ_K(a) r_a ∇log π(a)], the gradient of E[reward of a K-draw slate].

    ``theta`` (A,) finite; ``reward``, ``behavior`` as in :func:`check_reward_behavior`; ``k`` an
    integer >= 1 (used by ``"topk"`` only, checked always); else ``ValueError``.
    """
    check_choice("correction", correction, CORRECTIONS)
    r, b = check_reward_behavior(reward, behavior)
    theta = check_finite_array("theta", theta, shape=r.shape)
    check_int("k", k, 1)
    return _chen_gradient(theta, r, b, correction, k)


def _chen_gradient(theta: np.ndarray, r: np.ndarray, b: np.ndarray, correction: str, k: int) -> np.ndarray:
    """:func:`chen_gradient` on checked float arrays."""
    pi = _softmax(theta)
    if correction == "none":
        c = b * r
    elif correction == "standard":
        c = pi * r
    else:  # "topk": λ_K(a) of topk_correction
        c = pi * _topk(pi, k) * r
    return c - c.sum() * pi


def expected_slate_reward(pi, reward, k: int) -> float:
    """E[Σ of rewards of the distinct items in K i.i.d. draws from π] = Σ_a r_a (1 − (1 − π_a)^K).

    ``pi`` (A,) a distribution (finite, >= 0, summing to 1); ``reward`` (A,) finite; ``k``: number
    of draws, an integer >= 1. Else ``ValueError``."""
    check_int("k", k, 1)
    pi = check_distribution("pi", pi)
    if pi.ndim != 1:
        raise ValueError(f"pi must be 1-D (one probability per item), got shape {pi.shape}")
    reward = check_finite_array("reward", reward, shape=pi.shape)
    return float(np.sum(reward * (1.0 - (1.0 - pi) ** k)))


def check_reward_behavior(reward, behavior) -> tuple[np.ndarray, np.ndarray]:
    """A one-step problem with A items (Chen et al.'s simulations): ``reward`` (A,) and a
    ``behavior`` distribution (A,) with every entry > 0, as float arrays; else ``ValueError``."""
    reward = np.asarray(reward, dtype=float)
    behavior = np.asarray(behavior, dtype=float)
    if reward.shape != behavior.shape or reward.ndim != 1:
        raise ValueError("reward and behavior must be 1-D arrays of the same length")
    if not np.all(np.isfinite(reward)):
        raise ValueError(f"reward must be finite, got {reward.tolist()!r}")
    return reward, check_distribution("behavior", behavior, positive=True)


def run_chen_simulation(reward, behavior, correction: str, *, k: int = 1, lr: float = 0.1,
                        n_steps: int = 5000, record_every: int = 10) -> dict[str, np.ndarray]:
    """Gradient ascent on θ ∈ R^A from θ = 0 with :func:`chen_gradient`.

    ``reward`` (A,); ``behavior`` (A,) a distribution with every entry > 0 (summing to 1 within
    :data:`rlrec_helpers._validate.SUM_TOL`); ``correction`` in :data:`CORRECTIONS`; ``k`` integer
    >= 1; ``lr`` finite > 0; ``n_steps`` integer >= 0; ``record_every`` integer >= 1. Returns a
    history: ``step`` (T,), ``pi`` (T, A), ``expected_reward`` (T,) = Σ π r, ``slate_reward`` (T,)
    = :func:`expected_slate_reward` with ``k``.
    """
    check_choice("correction", correction, CORRECTIONS)
    check_int("n_steps", n_steps, 0)
    reward, behavior = check_reward_behavior(reward, behavior)
    check_int("k", k, 1)
    check_int("record_every", record_every, 1)
    check_real("lr", lr, 0.0, lo_open=True)
    theta = np.zeros_like(reward)
    steps, pis = [], []
    for t in range(n_steps + 1):
        if t % record_every == 0 or t == n_steps:
            steps.append(t)
            pis.append(_softmax(theta))
        if t < n_steps:  # the arguments were checked above
            theta = theta + lr * _chen_gradient(theta, reward, behavior, correction, k)
    pi = np.array(pis)
    return {
        "step": np.array(steps),
        "pi": pi,
        "expected_reward": pi @ reward,
        "slate_reward": np.array([expected_slate_reward(p, reward, k) for p in pi]),
    }


def chen_sim1() -> tuple[np.ndarray, np.ndarray]:
    """Simulation 1: 10 items, r_i = i, β_i = (11 − i)/55 (β favours the worst items)."""
    i = np.arange(1, 11, dtype=float)
    return i, (11.0 - i) / 55.0


def chen_sim2(n_items: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Simulation 2: r = (10, 9, 1, …, 1), β uniform."""
    r = np.ones(n_items)
    r[0], r[1] = 10.0, 9.0
    return r, np.full(n_items, 1.0 / n_items)


def chen_summary(sim: int = 2, correction: str = "topk", *, k: int = 2, lr: float = 0.2,
                 n_steps: int = 5000) -> dict:
    """Run Chen simulation ``sim`` (1 or 2) with one correction; return the final policy.

    Returns {"pi": (10,), "expected_reward": float, "slate_reward": float (K draws), "step": (T,),
    "slate_rewards": (T,) the K-draw slate reward at every step 0..n_steps, so T = n_steps + 1 (a
    step size too large for the task shows as a curve that jumps between values instead of
    settling)}. The pure function behind the notebook-07 widget.
    """
    check_choice("sim", sim, (1, 2))
    check_int("n_steps", n_steps, 0)
    reward, behavior = chen_sim1() if sim == 1 else chen_sim2()
    h = run_chen_simulation(reward, behavior, correction, k=k, lr=lr, n_steps=n_steps,
                            record_every=1)
    return {"pi": h["pi"][-1], "expected_reward": float(h["expected_reward"][-1]),
            "slate_reward": float(h["slate_reward"][-1]), "step": h["step"],
            "slate_rewards": h["slate_reward"]}
