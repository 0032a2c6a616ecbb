"""A small causal-transformer "large model" recommender: pretrain on logs, then RL fine-tune.

The model (:class:`CausalTransformer`, Keras 3) reads a user's item-and-response sequence
and produces one hidden vector per position, shape (B, L, d). Scores come from an output
item table of shape (n_items, d) plus a bias (n_items,):

* over the whole catalogue (next-item prediction, full or sampled softmax), and
* over the N candidates the simulator offers at a step (the slate policy).

Token conventions (shared by pretraining, rollouts and serving):

* position t holds what the user did at step t-1: the id of the clicked item, or
  ``NO_CLICK = n_items`` if the user skipped the slate; position 0 holds ``BOS = n_items+1``;
* ``responses`` is 0 at BOS, 1 for no click, 2 for a click; ``watch`` is minutes watched
  at step t-1 divided by the document length (a float, 0 without a click).

Items: the simulator samples fresh documents each step, so "an item" is a catalogue id
``topic * n_buckets + quality_bucket`` (:class:`ItemCatalogue`), which needs the noisy
quality column of the observations (``SimulatorConfig.quality_signal_noise`` set).

Stage 1 (:func:`pretrain`) fits next-clicked-item prediction on logs of a logging policy.
Stage 2 (:func:`finetune`) maximises the simulator's return with a KL penalty
``beta * KL(pi || pi_pretrained)`` and either REINFORCE with a baseline or a GRPO-style
group-relative advantage. :func:`make_rl_train_step` is written for any
``tf.distribute.Strategy`` (see :mod:`rlrec_helpers.agents.distributed`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from rlrec_helpers.stats import mean_ci  # noqa: E402

RESP_BOS, RESP_SKIP, RESP_CLICK = 0, 1, 2
OBJECTIVES = ("reinforce", "grpo")


# ---------------------------------------------------------------------------------------
# Items
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemCatalogue:
    """Maps a candidate (topic, observed quality) to a catalogue id in ``[0, n_items)``.

    ``id = topic * n_buckets + bucket`` with ``n_buckets`` equal-width quality buckets on
    ``[quality_min, quality_max]`` (values outside are clipped to the edge buckets).
    """

    n_topics: int = 20
    n_buckets: int = 100
    quality_min: float = -3.0
    quality_max: float = 3.0

    def __post_init__(self):
        if self.n_topics < 1:
            raise ValueError(f"n_topics must be >= 1, got {self.n_topics}")
        if self.n_buckets < 1:
            raise ValueError(f"n_buckets must be >= 1, got {self.n_buckets}")
        if not self.quality_max > self.quality_min:
            raise ValueError("quality_max must be greater than quality_min")

    @property
    def n_items(self) -> int:
        return self.n_topics * self.n_buckets

    def ids(self, topics: np.ndarray, quality: np.ndarray) -> np.ndarray:
        """Catalogue ids (same shape as ``topics``, int32) of candidates."""
        topics = np.asarray(topics)
        if topics.size and (topics.min() < 0 or topics.max() >= self.n_topics):
            raise ValueError(f"topics must be in [0, {self.n_topics}), got {topics.min()}..{topics.max()}")
        q = np.asarray(quality, dtype=np.float64)
        frac = (q - self.quality_min) / (self.quality_max - self.quality_min)
        bucket = np.clip(np.floor(frac * self.n_buckets), 0, self.n_buckets - 1).astype(np.int64)
        return (topics.astype(np.int64) * self.n_buckets + bucket).astype(np.int32)

    def topic_of(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(ids) // self.n_buckets

    def quality_of(self, ids: np.ndarray) -> np.ndarray:
        """Centre of each id's quality bucket."""
        b = np.asarray(ids) % self.n_buckets
        width = (self.quality_max - self.quality_min) / self.n_buckets
        return self.quality_min + (b + 0.5) * width

    @classmethod
    def for_config(cls, config, n_buckets: int = 100) -> "ItemCatalogue":
        """Catalogue matching a :class:`rlrec_helpers.simulator.SimulatorConfig`."""
        return cls(int(config.n_topics), int(n_buckets), float(config.quality_min), float(config.quality_max))

    def candidate_ids(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """(B, N) ids of the candidates in a simulator observation.

        Needs the noisy quality column (last column of ``candidate_features``), i.e. a
        config with ``quality_signal_noise`` set.
        """
        feats = np.asarray(obs["candidate_features"])
        if feats.shape[-1] != self.n_topics + 1:
            raise ValueError(
                "obs['candidate_features'] must have n_topics + 1 columns (a quality column); "
                "set SimulatorConfig.quality_signal_noise to a float"
            )
        return self.ids(obs["candidate_clusters"], feats[..., -1])


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="rlrec")
class CausalTransformer(keras.Model):
    """Pre-norm causal transformer over (item, response, watch) tokens.

    Args:
        n_items: catalogue size V (output table (V, d)); inputs also use NO_CLICK=V, BOS=V+1.
        d_model: width d; n_layers: blocks; n_heads: attention heads (d % n_heads == 0).
        max_len: longest sequence L (learned positions).
    """

    def __init__(self, n_items: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                 max_len: int = 32, ff_mult: int = 2, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        for name, value, lo in (("n_items", n_items, 1), ("d_model", d_model, 1), ("n_layers", n_layers, 1),
                                ("n_heads", n_heads, 1), ("max_len", max_len, 1), ("ff_mult", ff_mult, 1)):
            if int(value) < lo:
                raise ValueError(f"{name} must be >= {lo}, got {value}")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_items, self.d_model, self.n_layers = int(n_items), int(d_model), int(n_layers)
        self.n_heads, self.max_len, self.ff_mult, self.seed = int(n_heads), int(max_len), int(ff_mult), int(seed)
        init = lambda k: keras.initializers.TruncatedNormal(stddev=0.02, seed=seed * 1000 + k)  # noqa: E731
        self.tok_emb = keras.layers.Embedding(n_items + 2, d_model, embeddings_initializer=init(1), name="tok_emb")
        self.resp_emb = keras.layers.Embedding(3, d_model, embeddings_initializer=init(2), name="resp_emb")
        self.pos_emb = keras.layers.Embedding(max_len, d_model, embeddings_initializer=init(3), name="pos_emb")
        self.watch_proj = keras.layers.Dense(d_model, kernel_initializer=init(4), name="watch_proj")
        self.blocks = []
        for i in range(n_layers):
            k = 10 + 10 * i
            self.blocks.append(dict(
                ln1=keras.layers.LayerNormalization(epsilon=1e-5, name=f"ln1_{i}"),
                att=keras.layers.MultiHeadAttention(n_heads, d_model // n_heads, kernel_initializer=init(k),
                                                    name=f"att_{i}"),
                ln2=keras.layers.LayerNormalization(epsilon=1e-5, name=f"ln2_{i}"),
                ff1=keras.layers.Dense(ff_mult * d_model, activation="gelu", kernel_initializer=init(k + 1),
                                       name=f"ff1_{i}"),
                ff2=keras.layers.Dense(d_model, kernel_initializer=init(k + 2), name=f"ff2_{i}"),
            ))
        self.ln_f = keras.layers.LayerNormalization(epsilon=1e-5, name="ln_f")
        self.out_emb = self.add_weight(shape=(n_items, d_model), initializer=init(5), name="out_emb")
        self.out_bias = self.add_weight(shape=(n_items,), initializer="zeros", name="out_bias")

    def get_config(self):
        return dict(n_items=self.n_items, d_model=self.d_model, n_layers=self.n_layers, n_heads=self.n_heads,
                    max_len=self.max_len, ff_mult=self.ff_mult, seed=self.seed)

    def hidden(self, items, responses, watch):
        """Hidden states (B, L, d) from items (B, L) int, responses (B, L) int, watch (B, L) float."""
        L = tf.shape(items)[1]
        x = self.tok_emb(items) + self.resp_emb(responses) + self.watch_proj(tf.expand_dims(watch, -1))
        x = x + self.pos_emb(tf.range(L))[None]
        for b in self.blocks:
            y = b["ln1"](x)
            x = x + b["att"](y, y, use_causal_mask=True)
            x = x + b["ff2"](b["ff1"](b["ln2"](x)))
        return self.ln_f(x)

    def call(self, inputs):
        """``inputs`` dict with "items", "responses", "watch" -> hidden (B, L, d)."""
        return self.hidden(inputs["items"], inputs["responses"], inputs["watch"])

    def item_logits(self, h):
        """Logits over the whole catalogue: (..., d) -> (..., V)."""
        return tf.tensordot(h, self.out_emb, [[-1], [1]]) + self.out_bias

    def candidate_logits(self, h, cand):
        """Logits of candidates: h (..., d), cand ids (..., N) int -> (..., N)."""
        e = tf.gather(self.out_emb, cand)
        return tf.einsum("...d,...nd->...n", h, e) + tf.gather(self.out_bias, cand)


def build_model(n_items: int, **kwargs) -> CausalTransformer:
    """Create a :class:`CausalTransformer` and build its weights with a dummy batch."""
    m = CausalTransformer(n_items, **kwargs)
    z = tf.zeros((1, 2), tf.int32)
    m.candidate_logits(m.hidden(z, z, tf.zeros((1, 2))), z)
    return m


def clone_model(model: CausalTransformer, trainable: bool = True) -> CausalTransformer:
    """A copy with the same config and weights (e.g. the frozen reference pi_pre)."""
    m = build_model(**model.get_config())
    m.set_weights(model.get_weights())
    m.trainable = trainable
    return m


def count_params(model: keras.Model) -> int:
    return int(sum(int(np.prod(v.shape)) for v in model.weights))


# ---------------------------------------------------------------------------------------
# Slate distribution: Plackett-Luce over the candidates
# ---------------------------------------------------------------------------------------
def plackett_luce_logprob(logits, slates):
    """log pi(slate) of an ordered slate drawn without replacement from softmax(logits).

    logits (..., N) float; slates (..., K) int positions into the N candidates.
    Returns (...,).
    """
    n = tf.shape(logits)[-1]
    k = slates.shape[-1]
    neg = tf.constant(-1e9, logits.dtype)
    taken = tf.zeros_like(logits, dtype=tf.bool)
    total = tf.zeros_like(logits[..., 0])
    for j in range(k):
        onehot = tf.one_hot(slates[..., j], n, on_value=True, off_value=False, dtype=tf.bool)
        masked = tf.where(taken, neg, logits)
        chosen = tf.reduce_sum(tf.where(onehot, logits, tf.zeros_like(logits)), -1)
        total += chosen - tf.reduce_logsumexp(masked, -1)
        taken = tf.logical_or(taken, onehot)
    return total


def categorical_kl(logits_p, logits_q):
    """KL(softmax(p) || softmax(q)) over the last axis, in nats. (..., N) -> (...,)."""
    lp = tf.nn.log_softmax(logits_p)
    lq = tf.nn.log_softmax(logits_q)
    return tf.reduce_sum(tf.exp(lp) * (lp - lq), -1)


def sample_slates(logits: np.ndarray, k: int, rng: np.random.Generator | None) -> np.ndarray:
    """Top-k of logits + Gumbel noise (= Plackett-Luce sampling); rng None -> greedy top-k.

    logits (B, N) -> (B, k) int positions, distinct in each row.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if not 1 <= k <= logits.shape[-1]:
        raise ValueError(f"k must be in [1, {logits.shape[-1]}], got {k}")
    if rng is not None:
        logits = logits + rng.gumbel(size=logits.shape)
    return np.argsort(-logits, axis=-1, kind="stable")[:, :k]


# ---------------------------------------------------------------------------------------
# Losses and train steps (distribution-ready)
# ---------------------------------------------------------------------------------------
def rl_loss(model, ref_model, batch: Mapping, beta, global_batch_size):
    """KL-regularised policy-gradient surrogate, normalised by the *global* batch.

    batch: items/responses (B, H) int32, watch (B, H) float32, cand (B, H, N) int32,
    slates (B, H, K) int32, adv (B, H) float32, mask (B, H) float32 (1 = the user acted).
    Surrogate per step: -adv * log pi(slate) + beta * KL(pi(.|s) || pi_pre(.|s)), summed
    over steps and divided by (global_batch_size * H), so replica losses add up exactly
    to the single-device loss.
    Returns (loss, sum of masked KL, sum of mask) -- the last two for logging.
    """
    h = model.hidden(batch["items"], batch["responses"], batch["watch"])
    logits = model.candidate_logits(h, batch["cand"])
    h_ref = ref_model.hidden(batch["items"], batch["responses"], batch["watch"])
    ref_logits = tf.stop_gradient(ref_model.candidate_logits(h_ref, batch["cand"]))
    logp = plackett_luce_logprob(logits, batch["slates"])
    kl = categorical_kl(logits, ref_logits)
    mask = batch["mask"]
    horizon = tf.cast(tf.shape(mask)[1], tf.float32)
    per_step = (-batch["adv"] * logp + beta * kl) * mask
    loss = tf.reduce_sum(per_step) / (tf.cast(global_batch_size, tf.float32) * horizon)
    return loss, tf.reduce_sum(kl * mask), tf.reduce_sum(mask)


def next_item_loss(model, batch: Mapping, global_batch_size, n_sampled: int = 0, seed: int = 0):
    """Next-clicked-item cross-entropy, full softmax (n_sampled=0) or sampled softmax.

    batch: items/responses (B, L), watch (B, L), target (B, L) int32 (catalogue id of the
    item clicked at that step), tmask (B, L) float32 (1 where there was a click).
    Sampled softmax draws n_sampled negatives log-uniformly and corrects the logits by
    log Q (Jean et al. 2015; used for recommenders by Chen et al. 2019).
    Returns (loss over the global batch, sum of masked CE, sum of mask).
    """
    h = model.hidden(batch["items"], batch["responses"], batch["watch"])
    d = tf.shape(h)[-1]
    hf = tf.reshape(h, (-1, d))
    tgt = tf.reshape(batch["target"], (-1,))
    m = tf.reshape(batch["tmask"], (-1,))
    if n_sampled:
        ce = tf.nn.sampled_softmax_loss(
            weights=model.out_emb, biases=model.out_bias, labels=tf.cast(tgt[:, None], tf.int64), inputs=hf,
            num_sampled=n_sampled, num_classes=model.n_items, num_true=1, seed=seed)
    else:
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tgt, logits=model.item_logits(hf))
    L = tf.cast(tf.shape(batch["tmask"])[1], tf.float32)
    loss = tf.reduce_sum(ce * m) / (tf.cast(global_batch_size, tf.float32) * L)
    return loss, tf.reduce_sum(ce * m), tf.reduce_sum(m)


def _distribute(strategy, batch: Mapping):
    """Split a global batch into contiguous per-replica chunks (replica r gets chunk r)."""
    n = strategy.num_replicas_in_sync
    if n == 1:
        return {k: tf.convert_to_tensor(v) for k, v in batch.items()}
    sizes = {int(np.shape(v)[0]) for v in batch.values()}
    if len(sizes) != 1 or next(iter(sizes)) % n:
        raise ValueError(f"batch arrays must share a leading size divisible by {n} replicas, got {sizes}")
    per = next(iter(sizes)) // n

    def fn(ctx):
        i = ctx.replica_id_in_sync_group
        return {k: tf.convert_to_tensor(np.asarray(v)[i * per:(i + 1) * per]) for k, v in batch.items()}

    return strategy.experimental_distribute_values_from_function(fn)


def make_rl_train_step(model, ref_model, optimizer, strategy: tf.distribute.Strategy | None = None):
    """Compiled RL fine-tuning step that runs under any ``tf.distribute.Strategy``.

    ``model``, ``ref_model`` and ``optimizer`` must have been created under
    ``strategy.scope()``. Returns ``step(batch: dict of numpy, beta: float) ->
    (loss, kl_sum, n_steps)`` (global sums, floats). The optimizer sums gradients across
    replicas; each replica's loss is already divided by the global batch, so the update
    equals the single-device update on the same global batch.
    """
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():  # create slot variables now, not inside the compiled step
        optimizer.build(model.trainable_variables)

    def replica_fn(b, beta, gbs):
        with tf.GradientTape() as tape:
            loss, kl_sum, n = rl_loss(model, ref_model, b, beta, gbs)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, kl_sum, n

    @tf.function(reduce_retracing=True)
    def _step(dist_batch, beta, gbs):
        out = strategy.run(replica_fn, args=(dist_batch, beta, gbs))
        return tuple(strategy.reduce(tf.distribute.ReduceOp.SUM, o, axis=None) for o in out)

    def step(batch: Mapping, beta: float):
        gbs = int(np.shape(batch["mask"])[0])
        out = _step(_distribute(strategy, batch), tf.constant(beta, tf.float32), tf.constant(gbs, tf.int32))
        return tuple(float(o) for o in out)

    return step


def make_pretrain_step(model, optimizer, n_sampled: int = 0, strategy: tf.distribute.Strategy | None = None,
                       jit_compile: bool = False):
    """Compiled next-item step (full or sampled softmax); same contract as the RL step."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        optimizer.build(model.trainable_variables)

    def replica_fn(b, gbs):
        with tf.GradientTape() as tape:
            loss, ce_sum, n = next_item_loss(model, b, gbs, n_sampled=n_sampled)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, ce_sum, n

    @tf.function(reduce_retracing=True, jit_compile=jit_compile)
    def _step(dist_batch, gbs):
        out = strategy.run(replica_fn, args=(dist_batch, gbs))
        return tuple(strategy.reduce(tf.distribute.ReduceOp.SUM, o, axis=None) for o in out)

    def step(batch: Mapping):
        gbs = int(np.shape(batch["tmask"])[0])
        out = _step(_distribute(strategy, batch), tf.constant(gbs, tf.int32))
        return tuple(float(o) for o in out)

    return step


def synthetic_rl_batch(batch_size: int, horizon: int, n_items: int, n_candidates: int = 10, slate_size: int = 3,
                       seed: int = 0) -> dict:
    """A random batch with the shapes of :func:`rl_loss` (for tests, checks and benchmarks)."""
    if batch_size < 1 or horizon < 1:
        raise ValueError(f"batch_size and horizon must be >= 1, got {batch_size}, {horizon}")
    if not 1 <= slate_size <= n_candidates:
        raise ValueError(f"slate_size must be in [1, n_candidates={n_candidates}], got {slate_size}")
    rng = np.random.default_rng(seed)
    B, H = batch_size, horizon
    return dict(
        items=rng.integers(0, n_items + 2, (B, H)).astype(np.int32),
        responses=rng.integers(0, 3, (B, H)).astype(np.int32),
        watch=rng.random((B, H)).astype(np.float32),
        cand=rng.integers(0, n_items, (B, H, n_candidates)).astype(np.int32),
        slates=np.argsort(rng.random((B, H, n_candidates)), -1)[..., :slate_size].astype(np.int32),
        adv=rng.normal(size=(B, H)).astype(np.float32),
        mask=(rng.random((B, H)) < 0.9).astype(np.float32),
    )
