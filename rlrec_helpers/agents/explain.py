r"""Explaining a recommendation with integrated gradients (article §8.3).

For the GRU policy of :mod:`rlrec_helpers.agents.reinforce` the logit of candidate ``i`` is
``f(h, c) = s_L(h) . E c_i + w . c_i`` where ``h`` (L + 1, D) is the encoded history
(:func:`~rlrec_helpers.agents.reinforce.encode_history`, D = 2 T + 4) and ``c`` (N, F') the
candidate inputs. Integrated gradients (Sundararajan et al. 2017) attribute
``f(x) - f(x0)`` to every input entry along the straight path ``x0 + a (x - x0)``:

    IG_j = (x_j - x0_j) * \int_0^1 df/dx_j (x0 + a (x - x0)) da,

computed with one batched ``tf.GradientTape`` pass over ``n_steps`` points of a
Gauss–Legendre rule (default; exact for polynomials of degree < 2 n_steps, so the smooth
tanh/sigmoid network is integrated to float32 precision) or the trapezoid rule. By the
fundamental theorem of calculus the attributions sum to ``f(x) - f(x0)`` (*completeness*);
:class:`IGResult` reports the relative gap.

**Baseline.** The default baseline is the all-zero input (no slate shown, nothing clicked,
clock at zero; candidates with no topic, quality 0 and no statistics) **except row 0 of the
history, the start token, which is kept**. The start token is the same for every user, so
attributing to it would only measure the model's prior, not this user's history; keeping it
gives row 0 exactly zero attribution and makes the baseline "a session of the same length in
which the user gave no feedback", so the per-step attributions answer "which of *her* past
steps mattered". Pass ``baseline_history`` to override (e.g. all zeros).
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from rlrec_helpers._validate import check_choice, check_int
from rlrec_helpers.setup import quiet_tensorflow

quiet_tensorflow()

import tensorflow as tf  # noqa: E402

from rlrec_helpers.agents.reinforce import (  # noqa: E402
    N_STATS, PolicyNetwork, ReinforceAgent, encode_history, greedy_top_k, serving_candidates)

__all__ = ["IGResult", "integrated_gradients", "default_baseline", "history_groups",
           "candidate_groups", "serving_inputs", "explain_recommendation", "simulated_sessions"]

RULES = ("gauss", "trapezoid")


@dataclass(frozen=True)
class IGResult:
    """Integrated-gradients attributions of one candidate's logit.

    ``history`` (L + 1, D) and ``candidates`` (N, F') attributions (logit units); ``score``
    and ``baseline_score`` the logit at the input and at the baseline; ``target`` the
    candidate index. ``completeness_gap`` = |sum(attributions) - (score - baseline_score)| /
    |score - baseline_score| (absolute gap if the difference is below 1e-8).
    """

    history: np.ndarray
    candidates: np.ndarray
    score: float
    baseline_score: float
    target: int

    @property
    def total(self) -> float:
        return float(self.history.sum() + self.candidates.sum())

    @property
    def delta(self) -> float:
        return self.score - self.baseline_score

    @property
    def completeness_gap(self) -> float:
        gap = abs(self.total - self.delta)
        return gap / abs(self.delta) if abs(self.delta) >= 1e-8 else gap


def _network(model) -> PolicyNetwork:
    if isinstance(model, ReinforceAgent):
        model = model.model
    if not isinstance(model, PolicyNetwork):
        raise ValueError(f"model must be a PolicyNetwork or ReinforceAgent, got {type(model).__name__}")
    return model


def _array(name: str, x, shape: tuple) -> np.ndarray:
    """float64 array of the given shape (None = any length >= 1) with finite values."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape {shape}") from None
    ok = a.ndim == len(shape) and all((s is None and d >= 1) or d == s for d, s in zip(a.shape, shape))
    if not ok:
        want = "(" + ", ".join("n>=1" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return a


def default_baseline(history: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The default IG baseline: zeros, with the history's start-token row 0 kept."""
    h0 = np.zeros_like(history)
    h0[0] = history[0]
    return h0, np.zeros_like(candidates)


def _rule(n_steps: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in [0, 1] and weights (summing to 1) of the quadrature rule."""
    if rule == "gauss":
        x, w = np.polynomial.legendre.leggauss(n_steps)
        return 0.5 * (x + 1.0), 0.5 * w
    a = np.linspace(0.0, 1.0, n_steps)
    w = np.full(n_steps, 1.0 / (n_steps - 1))
    w[[0, -1]] *= 0.5
    return a, w


def _logit(net: PolicyNetwork, history, candidates, target: int):
    """Logit of candidate ``target``: history (B, L + 1, D), candidates (B, N, F') -> (B,)."""
    state = net.encode(history)[:, -1]
    return net.score(state, candidates)[:, target]


def integrated_gradients(model, history, candidates, target: int, *, baseline_history=None,
                         baseline_candidates=None, n_steps: int = 64, rule: str = "gauss") -> IGResult:
    """Integrated gradients of the logit of candidate ``target`` (see module docstring).

    Args:
        model: a :class:`~rlrec_helpers.agents.reinforce.PolicyNetwork` (or a ``ReinforceAgent``).
        history: (L + 1, D) encoded history (row 0 = start token), D = ``config.input_dim``.
        candidates: (N, F') candidate inputs, F' = ``config.item_dim`` (features, plus the
            cluster statistics when the network uses them; see :func:`serving_inputs`).
        target: candidate index in [0, N).
        baseline_history, baseline_candidates: same shapes; default :func:`default_baseline`.
        n_steps: quadrature points >= 2.
        rule: ``"gauss"`` (Gauss–Legendre) or ``"trapezoid"``.
    Returns:
        :class:`IGResult` with attributions of the same shapes as the inputs.
    """
    net = _network(model)
    c = net.agent_config
    h = _array("history", history, (None, c.input_dim))
    x = _array("candidates", candidates, (None, c.item_dim))
    check_int("target", target, 0, x.shape[0] - 1, hi_name="N - 1")  # a candidate row
    check_int("n_steps", n_steps, 2)
    check_choice("rule", rule, RULES)
    h0, x0 = default_baseline(h, x)
    if baseline_history is not None:
        h0 = _array("baseline_history", baseline_history, h.shape)
    if baseline_candidates is not None:
        x0 = _array("baseline_candidates", baseline_candidates, x.shape)
    alpha, weight = _rule(int(n_steps), rule)
    a = alpha[:, None, None]
    hp = tf.constant((h0[None] + a * (h - h0)[None]).astype(np.float32))
    xp = tf.constant((x0[None] + a * (x - x0)[None]).astype(np.float32))
    w = tf.constant(weight.astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch([hp, xp])
        objective = tf.reduce_sum(w * _logit(net, hp, xp, int(target)))
    gh, gx = tape.gradient(objective, [hp, xp])
    ends = _logit(net, tf.constant(np.stack([h, h0]).astype(np.float32)),
                  tf.constant(np.stack([x, x0]).astype(np.float32)), int(target)).numpy()
    return IGResult(history=(h - h0) * gh.numpy().sum(0).astype(np.float64),
                    candidates=(x - x0) * gx.numpy().sum(0).astype(np.float64),
                    score=float(ends[0]), baseline_score=float(ends[1]), target=int(target))


# --------------------------------------------------------------------------- feature groups


def history_groups(n_topics: int) -> dict[str, slice]:
    """Column groups of an encoded history row (:func:`~rlrec_helpers.agents.reinforce.encode_feedback`)."""
    t = n_topics
    return {"shown": slice(0, t), "clicked": slice(t, 2 * t), "no_click": slice(2 * t, 2 * t + 1),
            "watch": slice(2 * t + 1, 2 * t + 2), "clock": slice(2 * t + 2, 2 * t + 4)}


def candidate_groups(net) -> dict[str, slice]:
    """Column groups of a candidate input: ``topic`` (T one-hot), ``quality`` (the numeric
    feature columns, e.g. the noisy quality signal; absent if none) and ``cluster_stats`` (the
    two history statistics, if the network uses them)."""
    c = _network(net).agent_config
    groups = {"topic": slice(0, c.n_topics)}
    if c.n_features > c.n_topics:
        groups["quality"] = slice(c.n_topics, c.n_features)
    if c.cluster_stats:
        groups["cluster_stats"] = slice(c.n_features, c.n_features + N_STATS)
    return groups


def serving_inputs(model, history, candidates) -> tuple[np.ndarray, np.ndarray]:
    """The network inputs for one user, as ``ReinforceAgent.recommend`` builds them.

    ``history``: dict ``shown_clusters`` (L, K) int, ``clicked`` (L,) int (-1 = none),
    ``watch_time`` (L,) minutes (or None); ``candidates``: (N, F) raw features. Returns the
    encoded history (L + 1, D) and the candidate inputs (N, F') (with the cluster statistics
    of the whole history appended when the network uses them).
    """
    net = _network(model)
    c = net.agent_config
    cand = _array("candidates", candidates, (None, c.n_features)).astype(np.float32)
    return encode_history(history, c), serving_candidates(history, cand, c)


def explain_recommendation(model, history, candidates, k: int | None = None, *, n_steps: int = 64,
                           rule: str = "gauss"):
    """"Why this recommendation": the top-k candidates with their attributions (pandas DataFrame).

    One row per recommended candidate, best first: ``rank``, ``candidate`` (index), ``topic``
    (argmax of its one-hot columns), ``score`` (logit), ``prob`` (softmax over the N
    candidates), ``baseline_score``, ``completeness_gap``; then the integrated-gradients
    attribution (logit units, default baseline) summed per feature group of the candidate
    (``cand_topic``, ``cand_quality``, ``cand_cluster_stats`` when present), per column
    group of the history (``hist_shown``, ``hist_clicked``, ``hist_no_click``,
    ``hist_watch``, ``hist_clock``) and per history step (``step_0`` = start token, ...,
    ``step_L`` = the last response). The :class:`IGResult` objects are in
    ``df.attrs["ig"]``. ``history``/``candidates``: raw, as for :func:`serving_inputs`.
    """
    import pandas as pd

    net = _network(model)
    c = net.agent_config
    hist, cand = serving_inputs(net, history, candidates)
    n = cand.shape[0]
    k = c.slate_size if k is None else k
    check_int("k", k, 1, n, hi_name="N")  # N: the candidate count
    state = net.encode(tf.constant(hist[None]))[:, -1]
    logits = net.score(state, tf.constant(cand[None]))[0].numpy().astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    rows, results = [], []
    for rank, i in enumerate(greedy_top_k(logits[None], int(k))[0]):
        ig = integrated_gradients(net, hist, cand, int(i), n_steps=n_steps, rule=rule)
        results.append(ig)
        row = {"rank": rank + 1, "candidate": int(i), "topic": int(np.argmax(cand[i, :c.n_topics])),
               "score": ig.score, "prob": float(probs[i]), "baseline_score": ig.baseline_score,
               "completeness_gap": ig.completeness_gap}
        row.update({f"cand_{g}": float(ig.candidates[i, s].sum()) for g, s in candidate_groups(net).items()})
        row.update({f"hist_{g}": float(ig.history[:, s].sum()) for g, s in history_groups(c.n_topics).items()})
        row.update({f"step_{t}": float(v) for t, v in enumerate(ig.history.sum(1))})
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["ig"] = results
    return df


def simulated_sessions(policy, env_config="default", *, n_users: int = 3, n_steps: int = 10,
                       seed: int = 0) -> list[dict]:
    """Histories and next-step candidates of a few simulated users, ready for explanation.

    Runs ``policy`` (any slate policy, e.g. ``load_pretrained("default")``) for up to
    ``n_steps`` steps on ``n_users`` users of ``env_config`` (preset name or config) with
    ``seed``. For each user returns a dict: ``history`` (``shown_clusters`` (L, K),
    ``clicked`` (L,), ``watch_time`` (L,) minutes) of the steps before the last decision,
    ``candidates`` (N, F) and ``candidate_clusters`` (N,) offered at that decision (step
    ``n_steps`` if the session lasted that long, else its last step), and ``slate`` (K,) the
    policy's choice then.
    """
    from rlrec_helpers.simulator import BatchEnv, get_preset

    check_int("n_users", n_users, 1)
    check_int("n_steps", n_steps, 0)
    check_int("seed", seed, 0)
    env = BatchEnv(get_preset(env_config), int(n_users), seed=int(seed))
    obs = env.reset(seed=int(seed))
    policy.reset(int(n_users))
    old = getattr(policy, "sample", None)
    if old is not None:
        policy.sample = False
    rec = {k: [] for k in ("shown", "clicked", "watch", "feats", "clusters", "slate", "active")}
    try:
        for _ in range(int(n_steps) + 1):
            slate = policy.act(obs, env)
            rec["feats"].append(obs["candidate_features"])
            rec["clusters"].append(obs["candidate_clusters"])
            rec["slate"].append(slate)
            rec["active"].append(obs["active"].copy())
            if len(rec["feats"]) > n_steps or not obs["active"].any():
                break
            rec["shown"].append(np.take_along_axis(obs["candidate_clusters"], slate, axis=1))
            obs, _, _, _ = env.step(slate)
            rec["clicked"].append(obs["clicked"])
            rec["watch"].append(obs["watch_time"])
    finally:
        if old is not None:
            policy.sample = old
    active = np.stack(rec["active"], 1)                                  # (B, S)
    out = []
    for u in range(int(n_users)):
        last = int(active[u].sum()) - 1                                  # last active decision
        k = rec["slate"][0].shape[1]
        shown = np.array([s[u] for s in rec["shown"][:last]], np.int64).reshape(last, k)
        out.append({"history": {"shown_clusters": shown,
                                "clicked": np.array([c[u] for c in rec["clicked"][:last]], np.int64),
                                "watch_time": np.array([w[u] for w in rec["watch"][:last]], float)},
                    "candidates": rec["feats"][last][u], "candidate_clusters": rec["clusters"][last][u],
                    "slate": rec["slate"][last][u]})
    return out
