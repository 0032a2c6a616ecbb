"""Off-policy REINFORCE from logged slates (Chen et al., WSDM 2019), in TensorFlow/Keras.

A recommender usually learns from logs written by an *earlier* policy β. Plain REINFORCE on
those logs follows E_β[G ∇log π(a|s)], which is the gradient of the wrong objective: it keeps
whatever β over-showed (Chen et al.'s simulation 1). This module implements the corrections:

- **importance weight** w = π(a|s) / β̂(a|s), where β̂ is a *learned behaviour-policy head*
  that shares the state encoder but receives ``stop_gradient`` of its output, so fitting β̂
  never changes the representation the policy uses;
- **weight capping** min(w, c): bounded variance for a little bias;
- **top-K correction** λ_K(a|s) = K (1 − π(a|s))^(K−1) = ∂/∂π [1 − (1 − π)^K]: for a slate of K
  *independent* draws from π, the probability that a is in the slate is 1 − (1 − π)^K, and λ_K
  is its derivative with respect to π. The slates served here are K *distinct* items (sampled
  without replacement), for which that formula is only an approximation; notebook 07 shows a
  case where λ_K then does worse than the plain capped weight.

Every item a that β showed in state s is one sample, with R = G (the return from that step)
if the user clicked it and 0 otherwise. Its loss is
``−stop_grad(min(w, c) · λ_K) · (R − b(s)) · log π(a|s)`` (b = 0 unless ``baseline=True``; a
learned b(s) on ``stop_gradient`` of the encoding), averaged over a minibatch; β̂ is fitted by
cross-entropy on the shown items (one warm-up epoch first, then alongside π).

The network is small and self-contained (no GRU encoder was available from
``agents.reinforce`` when this was written): the state is a fixed-size numpy summary of the
user's history (:class:`HistoryFeaturizer`), encoded by a dense layer; each candidate is scored
from its features and the encoded state.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from rlrec_helpers._validate import (check_bool, check_choice, check_finite_array, check_int, check_real,
                                     describe_range, is_real)
from rlrec_helpers.ope import check_reward_behavior
from rlrec_helpers.setup import quiet_tensorflow, seed_everything

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

CORRECTIONS = ("none", "is", "topk")


def topk_lambda(pi, k: int):
    """λ_K = K (1 − π)^(K−1) elementwise (works on numpy arrays and tensors)."""
    check_int("k", k, 1)
    return k * (1.0 - pi) ** (k - 1)


# --------------------------------------------------------------------------- state features


class HistoryFeaturizer:
    """Per-user history summary for a batch of users: (B, n_topics + 2) float32.

    Columns: exponentially decayed counts of clicked topics (decay ``decay`` per step), the
    previous step's watch time divided by ``time_scale``, and the step index / 100.
    """

    def __init__(self, n_topics: int, decay: float = 0.8, time_scale: float = 4.0):
        check_int("n_topics", n_topics, 1)
        check_real("decay", decay, 0, 1, hi_open=True)
        check_real("time_scale", time_scale, 0, lo_open=True)
        self.n_topics, self.decay, self.time_scale = n_topics, decay, time_scale
        self.dim = n_topics + 2
        self._counts = np.zeros((0, n_topics))
        self._last = np.zeros(0)
        self._t = 0

    def reset(self, batch_size: int) -> None:
        """Start ``batch_size`` (an integer >= 1) users with empty histories."""
        check_int("batch_size", batch_size, 1)
        self._counts = np.zeros((batch_size, self.n_topics))
        self._last = np.zeros(batch_size)
        self._t = 0

    def update(self, obs: dict) -> np.ndarray:
        """Fold in the feedback in ``obs`` (clicked_cluster, watch_time); return the state."""
        self._counts *= self.decay
        cc = np.asarray(obs["clicked_cluster"])
        hit = cc >= 0
        self._counts[np.nonzero(hit)[0], cc[hit]] += 1.0
        self._last = np.asarray(obs["watch_time"], dtype=float) / self.time_scale
        state = np.concatenate(
            [self._counts, self._last[:, None], np.full((cc.shape[0], 1), self._t / 100.0)], axis=1)
        self._t += 1
        return state.astype(np.float32)


# --------------------------------------------------------------------------- the network


class OffPolicyNet(keras.Model):
    """State encoder + policy head π + behaviour head β̂ (on stop_gradient of the encoding).

    call(state (B, S), cand (B, N, F)) -> (pi_logits (B, N), beta_logits (B, N)).
    """

    def __init__(self, hidden: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.encoder = keras.layers.Dense(hidden, activation="tanh", name="encoder")
        self.pi_cand = keras.layers.Dense(hidden, name="pi_cand")
        self.pi_out = keras.layers.Dense(1, name="pi_out")
        self.beta_state = keras.layers.Dense(hidden, name="beta_state")
        self.beta_cand = keras.layers.Dense(hidden, name="beta_cand")
        self.beta_out = keras.layers.Dense(1, name="beta_out")
        self.value = keras.layers.Dense(1, name="value")  # baseline b(s), on stop_gradient(h)

    def call(self, state, cand):
        h = self.encoder(state)
        pi_hidden = tf.tanh(self.pi_cand(cand) + h[:, None, :])
        pi_logits = tf.squeeze(self.pi_out(pi_hidden), -1)
        hb = self.beta_state(tf.stop_gradient(h))  # β̂ never shapes the encoder
        beta_hidden = tf.tanh(self.beta_cand(cand) + hb[:, None, :])
        beta_logits = tf.squeeze(self.beta_out(beta_hidden), -1)
        self.value(tf.stop_gradient(h))  # builds the baseline head on the first call (unused here)
        return pi_logits, beta_logits

    def baseline(self, state):
        """(B,) learned baseline b(s) on stop_gradient of the encoding."""
        return tf.squeeze(self.value(tf.stop_gradient(self.encoder(state))), -1)

    def policy_variables(self):
        return (self.encoder.trainable_variables + self.pi_cand.trainable_variables
                + self.pi_out.trainable_variables)

    def behaviour_variables(self):
        return (self.beta_state.trainable_variables + self.beta_cand.trainable_variables
                + self.beta_out.trainable_variables + self.value.trainable_variables)


# --------------------------------------------------------------------------- training


@dataclass
class OffPolicyConfig:
    """Hyper-parameters of :func:`train_off_policy`.

    :meth:`validate` raises ``ValueError`` unless ``k``, ``hidden``, ``epochs`` and ``batch_size``
    are integers >= 1, ``beta_warmup_epochs`` and ``seed`` integers >= 0, ``weight_cap`` a finite
    number > 0, or ``None`` or ``np.inf`` for no cap (the spelling of ``ope``'s ``max_weight``), ``learning_rate`` a finite number > 0 and ``baseline`` a bool.
    """

    correction: str = "topk"  # "none" | "is" | "topk"
    k: int = 3  # slate size for λ_K
    weight_cap: float | None = 10.0  # c in min(w, c); None or np.inf for no capping
    hidden: int = 32
    learning_rate: float = 3e-3
    epochs: int = 10
    batch_size: int = 512
    # subtract a learned b(s): leaves the gradient unbiased only with the uncapped weight and
    # correction="is" (weight_cap=np.inf); with λ_K or an active cap it adds a bias (see train_off_policy)
    baseline: bool = False
    beta_warmup_epochs: int = 1  # epochs that fit only β̂ and b(s), before any policy step
    seed: int = 0

    def validate(self) -> None:
        check_choice("correction", self.correction, CORRECTIONS)
        check_int("k", self.k, 1)
        cap = self.weight_cap
        no_cap = cap is None or isinstance(cap, numbers.Real) and not isinstance(cap, (bool, np.bool_)) and cap == math.inf
        if not (no_cap or (is_real(cap) and cap > 0)):
            raise ValueError(f"weight_cap must be a finite number > 0, or None or np.inf (no cap), got {cap!r}")
        check_int("hidden", self.hidden, 1)
        check_bool("baseline", self.baseline)
        check_int("seed", self.seed, 0)
        check_int("beta_warmup_epochs", self.beta_warmup_epochs, 0)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_real("learning_rate", self.learning_rate, 0, lo_open=True)


_LOG_AXES = {"state": 2, "cand": 3, "slate": 2, "click_row": 1, "action": 1, "ret": 1}


def _check_logs(logs: dict) -> dict:
    """The logs with every :func:`train_off_policy` entry as a numpy array (lists are accepted);
    ``ValueError`` for missing keys, wrong axes or lengths, non-finite ``state``, ``cand`` or
    ``ret``, a ``slate`` entry outside [0, N), or a click row or action out of range."""
    need = tuple(_LOG_AXES)
    missing = [k for k in need if k not in logs]
    if missing:
        raise ValueError(f"logs is missing keys {missing}; build it with log_interactions()")
    arrays = {}
    for key, axes in _LOG_AXES.items():
        try:
            arr = np.asarray(logs[key])
        except (TypeError, ValueError):   # ragged lists
            raise ValueError(f"logs[{key!r}] must be a rectangular array, got {logs[key]!r}") from None
        if arr.ndim != axes:
            raise ValueError(f"logs[{key!r}] must have {axes} ax{'is' if axes == 1 else 'es'}, got shape {arr.shape}")
        arrays[key] = arr
    a = arrays
    n, N = a["cand"].shape[:2]
    if a["state"].shape[0] != n or a["slate"].shape[0] != n:
        raise ValueError("logs['state'], ['cand'] and ['slate'] must have the same number of rows")
    if a["click_row"].shape != a["action"].shape or a["ret"].shape != a["action"].shape:
        raise ValueError("logs['click_row'], ['action'] and ['ret'] must have the same length")
    if a["action"].size == 0:
        raise ValueError("logs contain no clicks: nothing to learn from")
    for key in ("state", "cand", "ret"):   # a NaN here turns every weight into NaN
        arr = a[key]
        if not (arr.dtype.kind in "biuf" and arr.size and np.isfinite(arr).all()):
            check_finite_array(f"logs[{key!r}]", arr)
    slate = a["slate"]
    bad = (slate < 0) | (slate >= N)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        rng = describe_range(0, N, hi_open=True, hi_name="N")
        raise ValueError(f"logs['slate'] entries must be item indices{rng}, "
                         f"got logs['slate'][{', '.join(map(str, idx))}] = {slate[idx].item()!r}")
    if a["click_row"].max() >= n or a["click_row"].min() < 0 or a["action"].max() >= N or a["action"].min() < 0:
        raise ValueError("logs['click_row'] / ['action'] index outside the logged steps/candidates")
    return {**logs, **arrays}


def slate_rewards(logs: dict) -> np.ndarray:
    """(n, K) per-shown-item reward: the click's return G for the clicked item, else 0."""
    slate = np.asarray(logs["slate"])
    R = np.zeros(slate.shape, dtype=np.float32)
    rows, acts = np.asarray(logs["click_row"]), np.asarray(logs["action"])
    hit = slate[rows] == acts[:, None]
    if not np.all(hit.sum(axis=1) == 1):
        raise ValueError("every clicked action must appear exactly once in its logged slate")
    R[rows, hit.argmax(axis=1)] = np.asarray(logs["ret"], dtype=np.float32)
    return R


def train_off_policy(logs: dict, config: OffPolicyConfig | None = None):
    """Fit π (REINFORCE on logged slates, corrected per ``config.correction``), β̂ and b(s).

    Every item β showed is one REINFORCE sample (s, a, R) with R = G (the discounted return
    from that step) if the user clicked it, else 0. Its loss is
    ``−stop_grad(min(π/β̂, c) · λ_K) · (R − b(s)) · log π(a|s)``. With the *uncapped* weight
    w = π/β (``correction="is"``, ``weight_cap=np.inf``, β̂ = β),
    E_β[w (R − b(s)) ∇log π] = E_π[R ∇log π] for any b(s), because Σ_a π_a ∇log π_a = 0, so
    the learned baseline only removes variance. It is *not* unbiased otherwise: with λ_K the
    term it adds is b(s) Σ_a π_a λ_a ∇log π_a = b(s) ∇ Σ_a [1 − (1 − π_a)^K] ≠ 0, an active cap
    min(w, c) breaks the identity too, and without any weight (``"none"``) the baseline term
    is b(s) E_β[∇log π] ≠ 0 (part of the bias notebook 07 shows).

    Args:
        logs: from :func:`log_interactions` or :func:`make_bandit_logs`: ``state`` (n, S),
            ``cand`` (n, N, F) float32 per logged step; ``slate`` (n, K) items β showed;
            ``click_row`` (m,) step of each click, ``action`` (m,) clicked candidate,
            ``ret`` (m,) return from that step. Numpy arrays or lists; ``state``, ``cand`` and
            ``ret`` must be finite and ``slate`` entries in [0, N) (``ValueError`` otherwise).
        config: :class:`OffPolicyConfig`.

    Returns:
        (model, history): per-epoch arrays ``pg_loss``, ``beta_loss`` (cross-entropy of β̂ on
        the shown items), ``value_loss``, ``mean_weight`` (mean of the capped w·λ) and
        ``frac_capped`` (share of raw weights above the cap).
    """
    config = config or OffPolicyConfig()
    config.validate()
    logs = _check_logs(logs)
    seed_everything(config.seed, use_tf=True)
    model = OffPolicyNet(hidden=config.hidden)
    state = tf.constant(logs["state"], tf.float32)
    cand = tf.constant(logs["cand"], tf.float32)
    model(state[:1], cand[:1])
    model.baseline(state[:1])
    opt_pi = keras.optimizers.Adam(config.learning_rate)
    opt_beta = keras.optimizers.Adam(config.learning_rate)
    opt_pi.build(model.policy_variables())  # optimizer slots must exist before tf.function
    opt_beta.build(model.behaviour_variables())
    slate = np.asarray(logs["slate"], np.int64)
    R = slate_rewards(logs)
    R = R / max(float(np.mean(np.abs(np.asarray(logs["ret"])))), 1e-8)  # scale only
    n_steps = slate.shape[0]
    use_w = config.correction in ("is", "topk")
    use_lambda = config.correction == "topk"
    use_base = bool(config.baseline)
    cap = math.inf if config.weight_cap is None else float(config.weight_cap)
    k = float(config.k)

    @tf.function(reduce_retracing=True)
    def train_step(rows, shown, rew, update_pi):
        with tf.GradientTape(persistent=True) as tape:
            s_b, c_b = tf.gather(state, rows), tf.gather(cand, rows)
            pi_logits, beta_logits = model(s_b, c_b)
            logp = tf.gather(tf.nn.log_softmax(pi_logits), shown, batch_dims=1)   # (B, K)
            logb = tf.gather(tf.nn.log_softmax(beta_logits), shown, batch_dims=1)
            b = model.baseline(s_b)
            beta_loss = -tf.reduce_mean(logb)
            value_loss = tf.reduce_mean(tf.square(rew - b[:, None]))
            aux_loss = beta_loss + value_loss
            w = tf.ones_like(logp)
            if use_w:
                w = tf.minimum(tf.exp(logp - logb), cap)
            if use_lambda:
                # = w · topk_lambda(π, K), written out: topk_lambda groups it as w·(K·(1−π)^(K−1)),
                # which rounds differently in float32 from (w·K)·(1−π)^(K−1) and would change
                # notebook 07's trained policies (tests/test_off_policy.py checks this term).
                w = w * k * tf.pow(1.0 - tf.exp(logp), k - 1.0)
            w = tf.stop_gradient(w)
            adv = rew - tf.stop_gradient(b)[:, None] if use_base else rew
            pg_loss = -tf.reduce_mean(w * adv * logp)
        pv, bv = model.policy_variables(), model.behaviour_variables()
        if update_pi:
            opt_pi.apply_gradients(zip(tape.gradient(pg_loss, pv), pv))
        opt_beta.apply_gradients(zip(tape.gradient(aux_loss, bv), bv))
        del tape
        raw = tf.exp(logp - logb)
        return (pg_loss, beta_loss, value_loss, tf.reduce_mean(w),
                tf.reduce_mean(tf.cast(raw > cap, tf.float32)))

    rng = np.random.default_rng(config.seed)
    keys = ("pg_loss", "beta_loss", "value_loss", "mean_weight", "frac_capped")
    hist = {key: [] for key in keys}
    bs = config.batch_size
    for epoch in range(config.beta_warmup_epochs + config.epochs):
        order = rng.permutation(n_steps)
        acc = []
        warm = epoch < config.beta_warmup_epochs  # fit β̂ and b(s) before trusting their weights
        for s in range(0, n_steps, bs):
            rows = order[s:s + bs]
            out = train_step(tf.constant(rows), tf.constant(slate[rows]), tf.constant(R[rows]),
                             not warm)
            acc.append([float(x) for x in out])
        if warm:
            continue
        for key, v in zip(keys, np.mean(acc, axis=0)):
            hist[key].append(v)
    return model, {key: np.asarray(v) for key, v in hist.items()}


# --------------------------------------------------------------------------- numpy policies


def _gumbel_topk(logits: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """K distinct indices per row, drawn without replacement from softmax(logits) (Plackett-Luce)."""
    g = rng.gumbel(size=logits.shape)
    return np.argsort(-(logits + g), axis=1)[:, :k]


class ClusterSoftmaxPolicy:
    """A known behaviour policy: softmax over candidates with logit ``cluster_logits[topic]``.

    Slates are K draws without replacement (Plackett-Luce). Follows the simulator's slate
    policy protocol (``reset``, ``act``) and keeps a :class:`HistoryFeaturizer` so that the
    logging loop can record states.

    Random state, as the simulator's ``RandomPolicy``: ``reset`` restarts ``rng`` at ``seed``, so
    every ``simulator.evaluate`` or :func:`log_interactions` call on one object draws the same
    slates; within one call the stream runs on across batches (``reset_next_batch``).
    """

    def __init__(self, cluster_logits, seed: int = 0):
        self.cluster_logits = np.asarray(cluster_logits, dtype=float)
        if self.cluster_logits.ndim != 1 or self.cluster_logits.size == 0 \
                or not np.all(np.isfinite(self.cluster_logits)):
            raise ValueError(f"cluster_logits must be a 1-D array of n_topics finite numbers, "
                             f"got shape {self.cluster_logits.shape}")
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, batch_size: int) -> None:
        """Start a new run: the random stream restarts at ``seed``."""
        self.rng = np.random.default_rng(self.seed)

    def reset_next_batch(self, batch_size: int) -> None:
        """Next batch of the same run: the random stream goes on (no restart)."""

    def logits(self, obs: dict) -> np.ndarray:
        clusters = np.asarray(obs["candidate_clusters"])
        t = self.cluster_logits.size
        if clusters.size and (clusters.min() < 0 or clusters.max() >= t):
            raise ValueError(f"cluster_logits has {t} entries but obs['candidate_clusters'] holds topics in "
                             f"[{clusters.min()}, {clusters.max()}]: it needs one logit per topic "
                             f"(topics in [0, {t}))")
        return self.cluster_logits[clusters]

    def act(self, obs: dict, env=None) -> np.ndarray:
        n_topics = getattr(getattr(env, "config", None), "n_topics", None)
        if n_topics is not None and self.cluster_logits.size != n_topics:
            raise ValueError(f"cluster_logits must have length n_topics={n_topics} (one logit per topic), "
                             f"got {self.cluster_logits.size}")
        k = env.config.slate_size if env is not None else 3
        return _gumbel_topk(self.logits(obs), k, self.rng)


class KerasSlatePolicy:
    """Serve a trained :class:`OffPolicyNet` in the simulator: K items by Plackett-Luce
    sampling from π (``sample=True``) or the top-K logits (``sample=False``).

    ``reset`` starts the featurizer for a new batch and restarts ``rng`` at ``seed`` (so repeated
    ``simulator.evaluate`` calls agree); ``reset_next_batch`` starts the featurizer only."""

    def __init__(self, model: OffPolicyNet, featurizer: HistoryFeaturizer, *, sample: bool = True,
                 seed: int = 0):
        self.model, self.featurizer, self.sample = model, featurizer, sample
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, batch_size: int) -> None:
        self.featurizer.reset(batch_size)
        self.rng = np.random.default_rng(self.seed)

    def reset_next_batch(self, batch_size: int) -> None:
        self.featurizer.reset(batch_size)

    def act(self, obs: dict, env) -> np.ndarray:
        state = self.featurizer.update(obs)
        logits, _ = self.model(tf.constant(state), tf.constant(obs["candidate_features"], tf.float32))
        logits = logits.numpy().astype(float)
        k = env.config.slate_size
        if self.sample:
            return _gumbel_topk(logits, k, self.rng)
        return np.argsort(-logits, axis=1)[:, :k]


def log_interactions(env_config, behaviour, *, n_users: int, seed: int, gamma: float = 0.9,
                     batch_size: int = 500) -> dict:
    """Run ``behaviour`` for ``n_users`` sessions in the simulator and return training logs.

    ``seed`` fixes the users (batch b of at most ``batch_size`` users is seeded
    ``seed + 7919 b``). The slates also depend on ``behaviour``'s own random numbers: as
    ``simulator.evaluate`` does, the first batch calls ``behaviour.reset`` and the later ones
    ``reset_next_batch`` when it has one (:class:`ClusterSoftmaxPolicy`,
    :class:`KerasSlatePolicy`, ``simulator.RandomPolicy``: their stream restarts at ``seed``
    once per call and runs on across its batches). Any other object with a ``seed`` and a numpy
    ``rng`` attribute also has ``rng`` restarted from ``seed`` first, so repeated calls give
    identical logs. ``behaviour``'s generator is left where logging ended.

    Returns a dict: ``state`` (n, S), ``cand`` (n, N, F) float32, ``slate`` (n, K),
    ``logged_logits`` (n, N) β's true logits when ``behaviour`` exposes ``logits`` (for checks),
    ``click_row`` (m,), ``action`` (m,), ``ret`` (m,) discounted return-to-go from the click's
    step, ``episode_return`` (n_users,) undiscounted session totals.
    """
    from rlrec_helpers.simulator import BatchEnv, _reset_policy, get_preset

    config = get_preset(env_config)
    check_int("n_users", n_users, 1)
    check_int("batch_size", batch_size, 1)
    check_real("gamma", gamma, 0, 1)
    if isinstance(getattr(behaviour, "rng", None), np.random.Generator) \
            and getattr(behaviour, "seed", None) is not None:
        behaviour.rng = np.random.default_rng(behaviour.seed)   # same logs on every call
    states, cands, slates, blogits, rows, acts, rets, ep_returns = [], [], [], [], [], [], [], []
    offset, done_users, b = 0, 0, 0
    while done_users < n_users:
        bsz = min(batch_size, n_users - done_users)
        env = BatchEnv(config, batch_size=bsz, seed=seed + 7919 * b)
        obs = env.reset()
        feat = HistoryFeaturizer(config.n_topics)
        feat.reset(bsz)
        _reset_policy(behaviour, bsz, first=b == 0)
        per_user_rewards: list[list[float]] = [[] for _ in range(bsz)]
        per_user_rows: list[list[int]] = [[] for _ in range(bsz)]
        per_user_click: list[list[int]] = [[] for _ in range(bsz)]
        while obs["active"].any():
            state = feat.update(obs)
            active = np.nonzero(obs["active"])[0]
            slate = behaviour.act(obs, env)
            new_obs, reward, _, _ = env.step(slate)
            for i_local, u in enumerate(active):
                row = offset + i_local
                per_user_rows[u].append(row)
                per_user_rewards[u].append(float(reward[u]))
                c = int(new_obs["clicked"][u])
                per_user_click[u].append(int(slate[u, c]) if c >= 0 else -1)
            states.append(state[active])
            cands.append(np.asarray(obs["candidate_features"], np.float32)[active])
            slates.append(slate[active])
            if hasattr(behaviour, "logits"):
                blogits.append(behaviour.logits(obs)[active])
            offset += active.size
            obs = new_obs
        for u in range(bsz):
            r = np.asarray(per_user_rewards[u])
            g = np.zeros_like(r)
            acc = 0.0
            for t in range(r.size - 1, -1, -1):
                acc = r[t] + gamma * acc
                g[t] = acc
            ep_returns.append(r.sum())
            for t, a in enumerate(per_user_click[u]):
                if a >= 0:
                    rows.append(per_user_rows[u][t]); acts.append(a); rets.append(g[t])
        done_users += bsz
        b += 1
    out = {
        "state": np.concatenate(states), "cand": np.concatenate(cands),
        "slate": np.concatenate(slates).astype(np.int64),
        "click_row": np.asarray(rows, np.int64), "action": np.asarray(acts, np.int64),
        "ret": np.asarray(rets, np.float32), "episode_return": np.asarray(ep_returns),
    }
    if blogits:
        out["logged_logits"] = np.concatenate(blogits)
    return out


def make_bandit_logs(reward, behavior, *, n: int, seed: int = 0) -> dict:
    """Logs of a one-step problem (Chen et al.'s simulations): every row shows all A items
    (one-hot features), β draws one item, the user always takes it and earns ``reward[a]``.

    ``reward``, ``behavior`` (A,): ``behavior`` a distribution with every entry > 0 (summing to 1
    within :data:`rlrec_helpers._validate.SUM_TOL`); ``n`` an integer >= 1.
    Returns the :func:`train_off_policy` format with a constant state and ``slate`` (n, 1).
    """
    reward, behavior = check_reward_behavior(reward, behavior)
    check_int("n", n, 1)
    rng = np.random.default_rng(seed)
    n_items = reward.shape[0]
    # a ~ β by rng.choice(n_items, n, p=behavior)'s own algorithm (the same draws), without its
    # 1.5e-8 limit on |Σ β − 1|: behavior is accepted within SUM_TOL
    cdf = np.cumsum(behavior)
    cdf /= cdf[-1]
    action = cdf.searchsorted(rng.random(n), side="right").astype(np.int64)
    return {
        "state": np.zeros((n, 2), np.float32),
        "cand": np.broadcast_to(np.eye(n_items, dtype=np.float32), (n, n_items, n_items)).copy(),
        "slate": action[:, None], "click_row": np.arange(n, dtype=np.int64), "action": action,
        "ret": reward[action].astype(np.float32),
    }


def policy_of(model: OffPolicyNet, logs: dict, row: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(π, β̂) over the candidates of logged step ``row``, each (N,) summing to 1."""
    pi_logits, beta_logits = model(tf.constant(logs["state"][row:row + 1]),
                                   tf.constant(logs["cand"][row:row + 1]))
    return tf.nn.softmax(pi_logits)[0].numpy(), tf.nn.softmax(beta_logits)[0].numpy()
