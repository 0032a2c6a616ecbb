"""A small causal-transformer "large model" recommender: pretrain on logs, then RL fine-tune.

The recipe of generative recommenders and of LLM post-training, at a size that runs on a
laptop: (1) pretrain a causal transformer on logged sessions by next-item prediction, (2)
fine-tune it as a slate policy against the simulator's long-term return with a KL penalty
``beta * KL(pi || pi_pretrained)`` to a frozen copy of the pretrained model.

**Items.** The simulator samples fresh documents every step, so "an item" is a catalogue
id ``topic * n_buckets + quality_bucket`` (:class:`ItemCatalogue`; default 20 topics x 100
buckets = 2,000 items), read from the candidate's cluster and its *noisy* quality column.
The simulator config must therefore have ``quality_signal_noise`` set
(:func:`transformer_env_config`).

**Tokens.** Position ``t`` of a session is the decision at step ``t``; its input token is
what the user did at step ``t-1``: the id of the clicked item, or ``NO_CLICK = n_items`` if
the slate was skipped; position 0 holds ``BOS = n_items + 1``. Two more inputs are added to
the token embedding: ``responses`` (0 at BOS, 1 no click, 2 click) and ``watch`` (minutes
watched at step ``t-1`` / document length).

**Model** (:class:`CausalTransformer`, Keras 3). Pre-norm blocks (attention + GELU MLP),
``n_layers`` of width ``d_model``. Attention is causal and *local*: in each layer, position
``t`` attends to positions ``t-window+1 .. t``; stacked, the layers relay information further
back, so the output at ``t`` depends on positions ``t - n_layers*(window-1) .. t`` (the
receptive field is ``n_layers*(window-1) + 1`` steps). Learned position embeddings are
indexed by ``min(t, window-1)``. So any session length works, training cost is bounded, and online
serving keeps a cache of the last ``window`` keys/values per layer (:meth:`TransformerAgent.act`
runs the same equations in numpy, one token per step). Hidden states ``h`` (B, L, d) are
scored against an output item table ``E`` (V, d) plus a bias ``b`` (V,):

* over the whole catalogue for next-item prediction (``h E^T + b``, full softmax, or
  sampled softmax with ``n_sampled`` uniform negatives and the log-Q correction);
* over the N candidates of a step for the slate policy (``h E[c]^T + b[c]``).

**Slate policy.** Slates of K are Plackett-Luce draws from the candidate softmax (Gumbel
top-K); serving is greedy top-K. ``KL(pi || pi_ref)`` is the KL between the two
Plackett-Luce *slate* distributions, estimated per step by the chain rule along the sampled
slate: ``sum_j KL(p_j || q_j)`` of the two softmaxes over the candidates not yet placed
(:func:`plackett_luce_kl`; its expectation over slates drawn from ``pi`` is the exact slate
KL, as in per-token KL penalties of LLM RLHF).

**Stage 1** (:func:`pretrain`): log sessions with a logging policy (default: the privileged
myopic policy, fine for *logging*), fit next-clicked-item prediction.
**Stage 2** (:func:`finetune`): policy gradient on the simulator's return with
``objective="reinforce"`` (returns-to-go minus a per-timestep mean baseline) or
``objective="grpo"`` (group-relative: G rollouts of the *same* users under common random
numbers, see :class:`GroupEnv`). The update (:func:`make_rl_train_step`) runs under any
``tf.distribute.Strategy`` (see :mod:`rlrec_helpers.agents.distributed`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from rlrec_helpers._timing import paired_medians
from rlrec_helpers._validate import check_choice, check_int, check_real
from rlrec_helpers.stats import check_ci_count
from rlrec_helpers.agents._training_loop import TrainingLoop
from rlrec_helpers.setup import quiet_tensorflow, seed_everything

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from rlrec_helpers.agents.persistence import load_keras_model, save_keras_model  # noqa: E402
from rlrec_helpers.agents.reinforce import discounted_returns  # noqa: E402
from rlrec_helpers.agents.reinforce import evaluate_agent as _evaluate_greedy  # noqa: E402

RESP_BOS, RESP_SKIP, RESP_CLICK = 0, 1, 2
OBJECTIVES = ("reinforce", "grpo")
#: Stated KL budget for fine-tuning: mean per-step slate KL(pi || pi_pretrained) in nats on
#: the fine-tuned policy's own (sampled) sessions, as measured by :func:`policy_kl`.
KL_BUDGET = 0.25
_NEG = -1e9  # "minus infinity" for masked logits (keeps softmax finite)
_LN_EPS = 1e-5


# ---------------------------------------------------------------------------------------
# Items and configuration
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
        check_int("n_topics", self.n_topics, lo=1)
        check_int("n_buckets", self.n_buckets, lo=1)
        check_real("quality_min", self.quality_min)
        check_real("quality_max", self.quality_max)
        if not self.quality_max > self.quality_min:
            raise ValueError(f"quality_max must be greater than quality_min, got "
                             f"[{self.quality_min}, {self.quality_max}]")

    @property
    def n_items(self) -> int:
        return self.n_topics * self.n_buckets

    def ids(self, topics: np.ndarray, quality: np.ndarray) -> np.ndarray:
        """Catalogue ids (same shape as ``topics``, int32) of candidates."""
        topics = np.asarray(topics)
        if topics.size and (topics.min() < 0 or topics.max() >= self.n_topics):
            raise ValueError(f"topics must be in [0, {self.n_topics}), got {topics.min()}..{topics.max()}")
        q = np.asarray(quality, dtype=np.float64)
        if not np.all(np.isfinite(q)):
            raise ValueError("quality must be finite")
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

    def candidate_ids(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """(B, N) ids of the candidates in a simulator observation.

        Needs the noisy quality column (last column of ``candidate_features``), i.e. a
        config with ``quality_signal_noise`` set.
        """
        feats = np.asarray(obs["candidate_features"])
        if feats.shape[-1] != self.n_topics + 1:
            raise ValueError(
                f"obs['candidate_features'] must have n_topics + 1 = {self.n_topics + 1} columns (a quality "
                f"column), got {feats.shape[-1]}; use transformer_env_config() (quality_signal_noise set)")
        return self.ids(obs["candidate_clusters"], feats[..., -1])


@dataclass(frozen=True)
class TransformerConfig:
    """Everything that fixes a :class:`TransformerAgent`: catalogue, slate and network shape.

    Attributes:
        n_topics, n_buckets, quality_min, quality_max: the :class:`ItemCatalogue`.
        slate_size: K, documents per slate; doc_length: minutes per document (scales watch).
        d_model, n_layers, n_heads, ff_mult: transformer width, depth, heads, MLP factor.
        window: attention window in steps (and number of position embeddings).
    """

    n_topics: int = 20
    n_buckets: int = 100
    quality_min: float = -3.0
    quality_max: float = 3.0
    slate_size: int = 3
    doc_length: float = 4.0
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    window: int = 32
    ff_mult: int = 2

    def validate(self) -> "TransformerConfig":
        for name in ("n_topics", "n_buckets", "slate_size", "d_model", "n_layers", "n_heads", "window",
                     "ff_mult"):
            check_int(name, getattr(self, name), lo=1)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        check_real("doc_length", self.doc_length, lo=0.0, lo_open=True)
        self.catalogue  # noqa: B018 - validates the quality range
        return self

    @property
    def catalogue(self) -> ItemCatalogue:
        return ItemCatalogue(self.n_topics, self.n_buckets, float(self.quality_min), float(self.quality_max))

    @property
    def n_items(self) -> int:
        return self.n_topics * self.n_buckets

    def model_kwargs(self) -> dict:
        return dict(n_items=self.n_items, d_model=self.d_model, n_layers=self.n_layers, n_heads=self.n_heads,
                    window=self.window, ff_mult=self.ff_mult)

    @classmethod
    def for_env(cls, env_config, **overrides) -> "TransformerConfig":
        """The config matching a simulator config (or preset name)."""
        from rlrec_helpers.simulator import get_preset

        c = get_preset(env_config)
        kw = dict(n_topics=c.n_topics, quality_min=float(c.quality_min), quality_max=float(c.quality_max),
                  slate_size=c.slate_size, doc_length=float(c.doc_length))
        kw.update(overrides)
        return cls(**kw).validate()


def transformer_env_config(preset="default", quality_signal_noise: float = 0.1):
    """The simulator config the transformer needs: ``preset`` with a noisy quality column."""
    from rlrec_helpers.simulator import get_preset

    check_real("quality_signal_noise", quality_signal_noise, 0.0)
    return replace(get_preset(preset), quality_signal_noise=float(quality_signal_noise)).validate()


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------
def _gelu(x):
    return keras.activations.gelu(x, approximate=True)


def band_mask_bias(length, window: int):
    """(L, L) additive attention bias: 0 where key j may be seen by query i
    (``i - window < j <= i``), -1e9 elsewhere (the dense form of the local causal mask)."""
    i = tf.range(length)[:, None]
    j = tf.range(length)[None, :]
    ok = tf.logical_and(j <= i, j > i - window)
    return tf.where(ok, 0.0, _NEG)


def _block_mask_bias(n_blocks, window: int):
    """(n_blocks, W, 2W) bias for blocked local attention: query a of block n sees key c of
    [previous block, own block] iff ``a < c <= a + W`` (block 0 has no previous block)."""
    a = tf.range(window)[:, None]
    c = tf.range(2 * window)[None, :]
    ok = tf.logical_and(c > a, c <= a + window)[None]
    first = tf.logical_and(ok, c >= window)
    ok = tf.concat([first, tf.repeat(ok, n_blocks - 1, axis=0)], axis=0)
    return tf.where(ok, 0.0, _NEG)


def local_causal_attention(q, k, v, window: int):
    """Causal attention in which position t sees positions ``t - window + 1 .. t``.

    q, k, v (B, L, H, dh) -> (B, L, H, dh). Computed by blocks of ``window`` queries that
    attend to their own and the previous block (2W keys), so the cost is O(L W), not O(L^2).
    """
    shape = tf.shape(q)
    b, L, h, dh = shape[0], shape[1], shape[2], shape[3]
    W = window
    nb = (L + W - 1) // W
    pad = nb * W - L
    blk = lambda x: tf.reshape(tf.pad(x, [[0, 0], [0, pad], [0, 0], [0, 0]]), (b, nb, W, h, dh))  # noqa: E731
    q, k, v = blk(q), blk(k), blk(v)
    prev = lambda x: tf.concat([tf.zeros_like(x[:, :1]), x[:, :-1]], axis=1)  # noqa: E731
    kk = tf.concat([prev(k), k], axis=2)  # (B, nb, 2W, H, dh)
    vv = tf.concat([prev(v), v], axis=2)
    s = tf.einsum("bnqhd,bnkhd->bhnqk", q, kk) / tf.sqrt(tf.cast(dh, q.dtype))
    p = tf.nn.softmax(s + _block_mask_bias(nb, W)[None, None], axis=-1)
    out = tf.einsum("bhnqk,bnkhd->bnqhd", p, vv)
    return tf.reshape(out, (b, nb * W, h, dh))[:, :L]


@keras.saving.register_keras_serializable(package="rlrec")
class CausalTransformer(keras.Model):
    """Pre-norm causal transformer over (item, response, watch) tokens with local attention.

    Args:
        n_items: catalogue size V (output table (V, d)); inputs also use NO_CLICK=V, BOS=V+1.
        d_model: width d; n_layers: blocks; n_heads: attention heads (d % n_heads == 0).
        window: attention window W in steps (position embeddings: W).
        ff_mult: MLP hidden width = ff_mult * d.
        seed: initialiser seed.
        agent_config: optional dict of a :class:`TransformerConfig` (stored in saved files).
    """

    def __init__(self, n_items: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                 window: int = 32, ff_mult: int = 2, seed: int = 0, agent_config: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("n_items", n_items), ("d_model", d_model), ("n_layers", n_layers),
                            ("n_heads", n_heads), ("window", window), ("ff_mult", ff_mult)):
            check_int(name, value, lo=1)
        check_int("seed", seed, lo=0)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_items, self.d_model, self.n_layers = int(n_items), int(d_model), int(n_layers)
        self.n_heads, self.window, self.ff_mult, self.seed = int(n_heads), int(window), int(ff_mult), int(seed)
        self.agent_config = dict(agent_config) if agent_config is not None else None
        d = self.d_model

        def init(k):
            return keras.initializers.TruncatedNormal(stddev=0.02, seed=self.seed * 1000 + k)

        self.tok_emb = keras.layers.Embedding(n_items + 2, d, embeddings_initializer=init(1), name="tok_emb")
        self.resp_emb = keras.layers.Embedding(3, d, embeddings_initializer=init(2), name="resp_emb")
        self.pos_emb = keras.layers.Embedding(window, d, embeddings_initializer=init(3), name="pos_emb")
        self.watch_proj = keras.layers.Dense(d, kernel_initializer=init(4), name="watch_proj")
        self.ln1, self.qkv, self.att_out, self.ln2, self.ff1, self.ff2 = [], [], [], [], [], []
        for i in range(self.n_layers):
            k = 10 + 10 * i
            self.ln1.append(keras.layers.LayerNormalization(epsilon=_LN_EPS, name=f"ln1_{i}"))
            self.qkv.append(keras.layers.Dense(3 * d, kernel_initializer=init(k), name=f"qkv_{i}"))
            self.att_out.append(keras.layers.Dense(d, kernel_initializer=init(k + 1), name=f"att_out_{i}"))
            self.ln2.append(keras.layers.LayerNormalization(epsilon=_LN_EPS, name=f"ln2_{i}"))
            self.ff1.append(keras.layers.Dense(self.ff_mult * d, kernel_initializer=init(k + 2), name=f"ff1_{i}"))
            self.ff2.append(keras.layers.Dense(d, kernel_initializer=init(k + 3), name=f"ff2_{i}"))
        self.ln_f = keras.layers.LayerNormalization(epsilon=_LN_EPS, name="ln_f")
        self.out_emb = self.add_weight(shape=(self.n_items, d), initializer=init(5), name="out_emb")
        self.out_bias = self.add_weight(shape=(self.n_items,), initializer="zeros", name="out_bias")
        self.build(None)

    def build(self, input_shape=None):
        if not self.tok_emb.built:
            d = self.d_model
            self.tok_emb.build((None,))
            self.resp_emb.build((None,))
            self.pos_emb.build((None,))
            self.watch_proj.build((None, 1))
            for i in range(self.n_layers):
                self.ln1[i].build((None, d))
                self.qkv[i].build((None, d))
                self.att_out[i].build((None, d))
                self.ln2[i].build((None, d))
                self.ff1[i].build((None, d))
                self.ff2[i].build((None, self.ff_mult * d))
            self.ln_f.build((None, d))
        self.built = True

    def get_config(self):
        return dict(n_items=self.n_items, d_model=self.d_model, n_layers=self.n_layers, n_heads=self.n_heads,
                    window=self.window, ff_mult=self.ff_mult, seed=self.seed, agent_config=self.agent_config)

    def hidden(self, items, responses, watch):
        """Hidden states (B, L, d) from items (B, L) int, responses (B, L) int, watch (B, L) float.

        In each layer, position t attends to positions ``max(0, t - window + 1) .. t`` only;
        through the ``n_layers`` stacked layers the output at t depends on positions
        ``max(0, t - n_layers * (window - 1)) .. t`` (receptive field
        ``n_layers * (window - 1) + 1``), and never on positions after t.
        """
        items = tf.cast(items, tf.int32)
        responses = tf.cast(responses, tf.int32)
        watch = tf.cast(watch, tf.float32)
        shape = tf.shape(items)
        b, L = shape[0], shape[1]
        h, dh = self.n_heads, self.d_model // self.n_heads
        pos = tf.minimum(tf.range(L), self.window - 1)
        x = self.tok_emb(items) + self.resp_emb(responses) + self.watch_proj(tf.expand_dims(watch, -1))
        x = x + self.pos_emb(pos)[None]
        for i in range(self.n_layers):
            y = self.ln1[i](x)
            qkv = tf.reshape(self.qkv[i](y), (b, L, 3, h, dh))
            a = local_causal_attention(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], self.window)
            x = x + self.att_out[i](tf.reshape(a, (b, L, self.d_model)))
            x = x + self.ff2[i](_gelu(self.ff1[i](self.ln2[i](x))))
        return self.ln_f(x)

    def call(self, inputs):
        """``inputs`` dict with "items", "responses", "watch" -> hidden (B, L, d)."""
        return self.hidden(inputs["items"], inputs["responses"], inputs["watch"])

    def item_logits(self, h):
        """Logits over the whole catalogue: (..., d) -> (..., V)."""
        return tf.tensordot(h, self.out_emb, [[-1], [1]]) + self.out_bias

    def candidate_logits(self, h, cand):
        """Logits of candidates: h (..., d), cand ids (..., N) int -> (..., N)."""
        cand = tf.cast(cand, tf.int32)
        e = tf.gather(self.out_emb, cand)
        return tf.einsum("...d,...nd->...n", h, e) + tf.gather(self.out_bias, cand)


def build_model(n_items: int, **kwargs) -> CausalTransformer:
    """Create a :class:`CausalTransformer` (weights are built at construction)."""
    return CausalTransformer(n_items, **kwargs)


def receptive_field(model: CausalTransformer, length: int | None = None, seed: int = 0) -> int:
    """Measured receptive field of ``model.hidden``: how many positions (counting itself) the
    item at position 0 of one random sequence of ``length`` steps influences (by more than 1e-6).

    ``length`` defaults to ``(n_layers + 1) * window`` so that the stack's reach,
    ``n_layers * (window - 1) + 1``, is visible; it must be >= 2.
    """
    length = (model.n_layers + 1) * model.window if length is None else length
    check_int("length", length, 2)
    rng = np.random.default_rng(seed)
    items = rng.integers(0, model.n_items, size=(1, length))
    responses = rng.integers(0, 3, size=(1, length))
    watch = rng.random((1, length)).astype(np.float32)
    changed = items.copy()
    changed[0, 0] = (changed[0, 0] + 1) % model.n_items
    diff = np.abs(model.hidden(changed, responses, watch).numpy() - model.hidden(items, responses, watch).numpy())
    moved = np.nonzero(diff.max(axis=(0, 2)) > 1e-6)[0]
    return int(moved.max()) + 1


def clone_model(model: CausalTransformer, trainable: bool = True) -> CausalTransformer:
    """A copy with the same config and weights (e.g. the frozen reference pi_pre)."""
    m = CausalTransformer.from_config(model.get_config())
    m.set_weights(model.get_weights())
    m.trainable = trainable
    return m


def count_params(model: keras.Model) -> int:
    return int(sum(int(np.prod(v.shape)) for v in model.weights))


class _OneBlasThread:
    """Context manager: numpy's bundled OpenBLAS runs on one thread inside the block.

    The decoder's matrices are tiny ((B, 64) x (64, 192)); multi-threaded BLAS then costs
    more than it saves, and on a busy machine its spinning threads made a step ~50x slower.
    A no-op if the library or its symbols cannot be found.
    """

    _lib = None
    _searched = False

    @classmethod
    def _find(cls):
        if not cls._searched:
            cls._searched = True
            import ctypes
            import glob
            import os

            root = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
            for path in glob.glob(os.path.join(root, "libscipy_openblas*")):
                try:
                    lib = ctypes.CDLL(path)
                    get, put = lib.scipy_openblas_get_num_threads64_, lib.scipy_openblas_set_num_threads64_
                except (OSError, AttributeError):
                    continue
                cls._lib = (get, put)
                break
        return cls._lib

    def __enter__(self):
        lib = self._find()
        self._old = None
        if lib is not None:
            self._old = int(lib[0]())
            if self._old != 1:
                lib[1](1)
        return self

    def __exit__(self, *exc):
        lib = self._find()
        if lib is not None and self._old not in (None, 1):
            lib[1](self._old)
        return False


class NumpyDecoder:
    """Incremental (one token per step) forward pass of a :class:`CausalTransformer` in numpy.

    Same equations as :meth:`CausalTransformer.hidden`, with a ring buffer of the last
    ``window`` keys/values per layer, so a step costs O(window) instead of O(t^2). All rows
    advance together (step index ``t`` shared by the batch).
    """

    def __init__(self, model: CausalTransformer, batch_size: int):
        m = model
        self.window, self.n_heads, self.d = m.window, m.n_heads, m.d_model
        self.dh = self.d // self.n_heads
        g = lambda v: np.asarray(v.numpy() if hasattr(v, "numpy") else v, np.float32)  # noqa: E731
        self.tok = g(m.tok_emb.embeddings)
        self.resp = g(m.resp_emb.embeddings)
        self.pos = g(m.pos_emb.embeddings)
        self.wk, self.wb = g(m.watch_proj.kernel)[0], g(m.watch_proj.bias)
        self.layers = []
        for i in range(m.n_layers):
            self.layers.append(dict(
                g1=g(m.ln1[i].gamma), b1=g(m.ln1[i].beta),
                wqkv=g(m.qkv[i].kernel), bqkv=g(m.qkv[i].bias),
                wo=g(m.att_out[i].kernel), bo=g(m.att_out[i].bias),
                g2=g(m.ln2[i].gamma), b2=g(m.ln2[i].beta),
                w1=g(m.ff1[i].kernel), c1=g(m.ff1[i].bias), w2=g(m.ff2[i].kernel), c2=g(m.ff2[i].bias)))
        self.gf, self.bf = g(m.ln_f.gamma), g(m.ln_f.beta)
        self.out_emb, self.out_bias = g(m.out_emb), g(m.out_bias)
        b = int(batch_size)
        shape = (b, self.n_heads, self.window, self.dh)
        self.k = [np.zeros(shape, np.float32) for _ in self.layers]
        self.v = [np.zeros(shape, np.float32) for _ in self.layers]
        self.t = 0

    @staticmethod
    def _ln(x, g, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + _LN_EPS) * g + b

    @staticmethod
    def _gelu(x):
        return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * (x * x * x))))

    def step(self, items: np.ndarray, responses: np.ndarray, watch: np.ndarray) -> np.ndarray:
        """Feed one token per row: items (B,), responses (B,), watch (B,) -> hidden (B, d)."""
        W, H, dh = self.window, self.n_heads, self.dh
        x = (self.tok[items] + self.resp[responses] + np.asarray(watch, np.float32)[:, None] * self.wk + self.wb
             + self.pos[min(self.t, W - 1)])
        slot, n = self.t % W, min(self.t + 1, W)
        b = x.shape[0]
        for i, p in enumerate(self.layers):
            y = self._ln(x, p["g1"], p["b1"])
            qkv = (y @ p["wqkv"] + p["bqkv"]).reshape(b, 3, H, dh)
            self.k[i][:, :, slot] = qkv[:, 1]
            self.v[i][:, :, slot] = qkv[:, 2]
            s = np.einsum("bhd,bhmd->bhm", qkv[:, 0], self.k[i][:, :, :n]) / np.sqrt(dh)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = np.einsum("bhm,bhmd->bhd", s, self.v[i][:, :, :n]).reshape(b, self.d)
            x = x + a @ p["wo"] + p["bo"]
            y = self._ln(x, p["g2"], p["b2"])
            x = x + self._gelu(y @ p["w1"] + p["c1"]) @ p["w2"] + p["c2"]
        self.t += 1
        return self._ln(x, self.gf, self.bf).astype(np.float32)

    def candidate_logits(self, h: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """(B, d), (B, N) ids -> (B, N) logits."""
        return np.einsum("bd,bnd->bn", h, self.out_emb[cand]) + self.out_bias[cand]


# ---------------------------------------------------------------------------------------
# Slate distribution: Plackett-Luce over the candidates
# ---------------------------------------------------------------------------------------
def _float_tensor(x):
    """float32 tensor, except that a float64 TF tensor/variable stays float64 (exact checks)."""
    if isinstance(x, (tf.Tensor, tf.Variable)) and x.dtype == tf.float64:
        return tf.convert_to_tensor(x)
    return tf.convert_to_tensor(x, tf.float32)


def _check_pl_slates(slates, n: int) -> None:
    """``ValueError`` unless every entry of ``slates`` (..., K) is in [0, n) and each slate's entries are distinct."""
    s = np.asarray(slates)
    if s.size and (s.min() < 0 or s.max() >= n):
        raise ValueError(f"slates must be in [0, N={n}), got range [{s.min()}, {s.max()}]")
    if s.size and s.shape[-1] > 1:
        srt = np.sort(s, axis=-1)
        dup = np.argwhere((srt[..., 1:] == srt[..., :-1]).any(-1))
        if dup.size:
            idx = tuple(int(i) for i in dup[0])
            where = ", ".join(map(str, idx))
            raise ValueError(f"slates must hold distinct positions in each slate, got slates[{where}] = {s[idx].tolist()}")


def plackett_luce_logprob(logits, slates):
    """log pi(slate) of an ordered slate drawn without replacement from softmax(logits).

    logits (..., N) float; slates (..., K) int positions into the N candidates. Returns (...,).
    Called eagerly, raises ``ValueError`` for a position outside [0, N) or a slate that repeats
    a position (probability 0); inside a ``tf.function`` nothing is checked (the train step
    checks its batch first, :func:`make_rl_train_step`).
    """
    logits = _float_tensor(logits)
    if tf.executing_eagerly() and logits.shape.rank:
        _check_pl_slates(slates, int(logits.shape[-1]))
    return _pl_logprob(logits, slates)


def _pl_logprob(logits, slates):
    """:func:`plackett_luce_logprob` without the check (padded batches hold repeated positions)."""
    logits = _float_tensor(logits)
    slates = tf.cast(slates, tf.int32)
    n = tf.shape(logits)[-1]
    neg = tf.constant(_NEG, logits.dtype)
    taken = tf.zeros_like(logits, dtype=tf.bool)
    total = tf.zeros_like(logits[..., 0])
    for j in range(slates.shape[-1]):
        onehot = tf.one_hot(slates[..., j], n, on_value=True, off_value=False, dtype=tf.bool)
        masked = tf.where(taken, neg, logits)
        chosen = tf.reduce_sum(tf.where(onehot, logits, tf.zeros_like(logits)), -1)
        total += chosen - tf.reduce_logsumexp(masked, -1)
        taken = tf.logical_or(taken, onehot)
    return total


def categorical_kl(logits_p, logits_q):
    """KL(softmax(p) || softmax(q)) over the last axis, in nats. (..., N) -> (...,)."""
    lp = tf.nn.log_softmax(_float_tensor(logits_p))
    lq = tf.nn.log_softmax(_float_tensor(logits_q))
    return tf.reduce_sum(tf.exp(lp) * (lp - lq), -1)


def _plackett_luce_terms(logits_p, logits_q, slates):
    """Per-position terms along a slate: lists (length K) of (...,) tensors ``logp[j]`` =
    log p(a_j | a_<j) and ``kl[j]`` = KL(p(. | a_<j) || q(. | a_<j)) over the candidates not yet placed."""
    logits_p = _float_tensor(logits_p)
    logits_q = tf.cast(_float_tensor(logits_q), logits_p.dtype)
    slates = tf.cast(slates, tf.int32)
    n = tf.shape(logits_p)[-1]
    neg = tf.constant(_NEG, logits_p.dtype)
    taken = tf.zeros_like(logits_p, dtype=tf.bool)
    zero = tf.zeros_like(logits_p)
    logps, kls = [], []
    for j in range(slates.shape[-1]):
        lp = tf.nn.log_softmax(tf.where(taken, neg, logits_p))
        lq = tf.nn.log_softmax(tf.where(taken, neg, logits_q))
        kls.append(tf.reduce_sum(tf.where(taken, zero, tf.exp(lp) * (lp - lq)), -1))
        onehot = tf.one_hot(slates[..., j], n, on_value=True, off_value=False, dtype=tf.bool)
        logps.append(tf.reduce_sum(tf.where(onehot, lp, zero), -1))
        taken = tf.logical_or(taken, onehot)
    return logps, kls


def plackett_luce_kl(logits_p, logits_q, slates):
    """Chain-rule KL of two Plackett-Luce slate distributions along a given slate, in nats.

    ``sum_j KL(p(. | a_<j) || q(. | a_<j))``: the KLs of the two softmaxes over the
    candidates not yet placed, before each position j of the slate ``a``. Averaged over
    slates drawn from p this is exactly ``KL(PL_p || PL_q)`` over ordered slates (chain rule);
    the first term alone is :func:`categorical_kl`. logits (..., N), slates (..., K) -> (...,).

    Its *value* is an unbiased estimate of the slate KL, but its gradient is not an unbiased
    estimate of the KL's gradient (the prefix ``a_<j`` was drawn from p): use
    :func:`plackett_luce_kl_surrogate` as a loss term. The two logits broadcast (same N). Called
    eagerly, raises ``ValueError`` for logits over different N or shapes that do not broadcast, a
    position outside [0, N) or a slate that repeats a position, as :func:`plackett_luce_logprob`.
    """
    _check_pl_kl_args(logits_p, logits_q, slates)
    return _pl_kl(logits_p, logits_q, slates)


def _pl_kl(logits_p, logits_q, slates):
    """:func:`plackett_luce_kl` without the check (padded batches hold repeated positions)."""
    _, kls = _plackett_luce_terms(logits_p, logits_q, slates)
    return tf.add_n(kls)


def _check_pl_kl_args(logits_p, logits_q, slates) -> None:
    """Eager-only checks of the two KL functions' arguments (nothing inside a ``tf.function``)."""
    if not tf.executing_eagerly():
        return
    shape_p, shape_q = tuple(np.shape(logits_p)), tuple(np.shape(logits_q))
    try:
        np.broadcast_shapes(shape_p, shape_q)
        same_n = bool(shape_p) and bool(shape_q) and shape_p[-1] == shape_q[-1]
    except ValueError:
        same_n = False
    if not same_n:
        raise ValueError(f"logits_p and logits_q must score the same N candidates, with shapes (..., N) that "
                         f"broadcast (e.g. one reference (N,) against a batch (B, N)), got {shape_p} and {shape_q}")
    _check_pl_slates(slates, int(shape_p[-1]))


def plackett_luce_kl_surrogate(logits_p, logits_q, slates):
    """KL penalty term for a loss, along a slate ``a`` drawn from p: (..., N), (..., K) -> (...,).

    ``sum_j KL_j + sum_i (l_i - stop_gradient(l_i)) * stop_gradient(sum_{j > i} KL_j)`` with
    ``KL_j`` the terms of :func:`plackett_luce_kl` and ``l_i = log p(a_i | a_<i)``. The second
    sum is exactly 0, so the *value* equals :func:`plackett_luce_kl`; its gradient adds the
    score-function term ``sum_j KL_j grad log p(a_<j)`` that the pathwise gradient of the
    chain-rule KL misses, so that, averaged over slates drawn from p, the gradient is the
    gradient of the exact slate ``KL(PL_p || PL_q)`` (q is treated as a constant). Checked
    eagerly as :func:`plackett_luce_kl`.
    """
    _check_pl_kl_args(logits_p, logits_q, slates)
    return _pl_kl_surrogate(logits_p, logits_q, slates)


def _pl_kl_surrogate(logits_p, logits_q, slates):
    """:func:`plackett_luce_kl_surrogate` without the check (padded batches hold repeated positions)."""
    logps, kls = _plackett_luce_terms(logits_p, logits_q, slates)
    total = tf.add_n(kls)
    later = tf.zeros_like(total)  # sum_{j > i} KL_j, built from the last position backwards
    for i in range(len(kls) - 1, -1, -1):
        total += (logps[i] - tf.stop_gradient(logps[i])) * tf.stop_gradient(later)
        later += kls[i]
    return total


def sample_slates(logits: np.ndarray, k: int, rng: np.random.Generator | None) -> np.ndarray:
    """Top-k of logits + Gumbel noise (= Plackett-Luce sampling); rng None -> greedy top-k.

    logits (B, N) -> (B, k) int positions, distinct in each row, best first.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (B, N), got {logits.shape}")
    check_int("k", k, 1, logits.shape[-1], hi_name="N")
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
    Surrogate per step: ``-adv * log pi(slate) + beta * KL_slate(pi || pi_ref)``, the KL
    along the sampled slate as :func:`plackett_luce_kl_surrogate` (value: :func:`plackett_luce_kl`;
    gradient: unbiased for the gradient of the exact slate KL), summed over steps and divided
    by ``global_batch_size * H``, so replica losses add up exactly to the single-device loss.
    Returns (loss, sum of masked KL, sum of mask) -- the last two for logging.
    """
    h = model.hidden(batch["items"], batch["responses"], batch["watch"])
    logits = model.candidate_logits(h, batch["cand"])
    h_ref = ref_model.hidden(batch["items"], batch["responses"], batch["watch"])
    ref_logits = tf.stop_gradient(ref_model.candidate_logits(h_ref, batch["cand"]))
    logp = _pl_logprob(logits, batch["slates"])
    penalty = _pl_kl_surrogate(logits, ref_logits, batch["slates"])
    kl = tf.stop_gradient(penalty)  # same value as plackett_luce_kl, for logging
    mask = tf.cast(batch["mask"], tf.float32)
    horizon = tf.cast(tf.shape(mask)[1], tf.float32)
    per_step = (-tf.cast(batch["adv"], tf.float32) * logp + beta * penalty) * mask
    loss = tf.reduce_sum(per_step) / (tf.cast(global_batch_size, tf.float32) * horizon)
    return loss, tf.reduce_sum(kl * mask), tf.reduce_sum(mask)


def next_item_loss(model, batch: Mapping, global_batch_size, n_sampled: int = 0, seed: int | None = None):
    """Next-clicked-item cross-entropy, full softmax (n_sampled=0) or sampled softmax.

    batch: items/responses (B, L), watch (B, L), target (B, L) int32 (catalogue id of the
    item clicked at that step), tmask (B, L) float32 (1 where there was a click).
    Sampled softmax draws ``n_sampled`` distinct negatives uniformly from the catalogue and
    corrects the logits by log Q (Jean et al. 2015), removing accidental hits.
    Returns (loss over the global batch, sum of masked CE, sum of mask).
    """
    h = model.hidden(batch["items"], batch["responses"], batch["watch"])
    d = tf.shape(h)[-1]
    m = tf.reshape(tf.cast(batch["tmask"], tf.float32), (-1,))
    keep = tf.where(m > 0)[:, 0]  # score clicked steps only (no-click and padding cost nothing)
    hf = tf.gather(tf.reshape(h, (-1, d)), keep)
    tgt = tf.gather(tf.reshape(tf.cast(batch["target"], tf.int32), (-1,)), keep)
    m = tf.gather(m, keep)
    if n_sampled:
        labels = tf.cast(tgt[:, None], tf.int64)
        sampled = tf.random.uniform_candidate_sampler(labels, num_true=1, num_sampled=n_sampled, unique=True,
                                                      range_max=model.n_items, seed=seed)
        ce = tf.nn.sampled_softmax_loss(
            weights=model.out_emb, biases=model.out_bias, labels=labels, inputs=hf, num_sampled=n_sampled,
            num_classes=model.n_items, num_true=1, sampled_values=sampled, remove_accidental_hits=True)
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


def _compile(fn, strategy, scalars: tuple):
    """``tf.function`` of a step ``fn(batch, *scalars)``.

    On one replica the batch is a dict of plain tensors, and an input signature with
    unknown batch and time sizes (trailing sizes, e.g. the slate size K, fixed from the
    first batch) gives a single trace for all episode lengths. Distributed values cannot
    use a signature, so there ``reduce_retracing`` relaxes the shapes instead.
    """
    if strategy.num_replicas_in_sync > 1:
        return tf.function(fn, reduce_retracing=True, autograph=False)
    cache: dict = {}

    def call(batch, *args):
        key = tuple((k, v.dtype, tuple(v.shape[2:])) for k, v in batch.items())
        if key not in cache:
            sig = [{k: tf.TensorSpec([None, None, *v.shape[2:]], v.dtype) for k, v in batch.items()}]
            cache[key] = tf.function(fn, input_signature=sig + [tf.TensorSpec([], dt) for dt in scalars],
                                     autograph=False)
        return cache[key](batch, *args)

    return call


def _batch_arrays(batch: Mapping, name: str, *, ints: tuple, floats: tuple, like: tuple, ref: str,
                  ref_shape: str) -> dict:
    """``batch``'s keys ``ints + floats`` as numpy arrays (dtypes as given), checked: none missing,
    ``ints`` of an integer dtype, ``floats`` finite numbers, ``batch[ref]`` 2-D (``ref_shape``) and
    every key in ``like`` of its shape. ``name`` names the argument in the messages."""
    keys = ints + floats
    missing = [k for k in keys if k not in batch]
    if missing:
        raise ValueError(f"{name} is missing keys {missing}")
    raw = {k: np.asarray(batch[k]) for k in keys}
    for k in ints:
        if raw[k].size and not np.issubdtype(raw[k].dtype, np.integer):
            raise ValueError(f"{name}[{k!r}] must be integers, got dtype {raw[k].dtype}")
    for k in floats:
        if not (np.issubdtype(raw[k].dtype, np.number) or raw[k].dtype == bool) or \
                not np.all(np.isfinite(raw[k].astype(np.float64))):
            raise ValueError(f"{name}[{k!r}] must be finite numbers")
    shape = raw[ref].shape
    if len(shape) != 2:
        raise ValueError(f"{name}[{ref!r}] must have shape {ref_shape}, got {shape}")
    for k in like:
        if raw[k].shape != shape:
            raise ValueError(f"{name}[{k!r}] must have shape {shape} (as {name}[{ref!r}]), got {raw[k].shape}")
    return raw


def _rl_keys(batch: Mapping, n_items: int) -> dict:
    """The keys of :func:`rl_loss` as numpy arrays, checked: shapes agree, ``items`` in
    [0, n_items + 1] (NO_CLICK = n_items, BOS = n_items + 1), ``responses`` in [0, 2], ``cand``
    in [0, n_items), ``slates`` in [0, N) and distinct at each step with mask > 0, ``watch``/``adv``
    finite, ``mask`` in [0, 1]."""
    raw = _batch_arrays(batch, "batch", ints=("items", "responses", "cand", "slates"),
                        floats=("watch", "adv", "mask"), like=("items", "responses", "watch", "adv"),
                        ref="mask", ref_shape="(B, H)")
    bh = raw["mask"].shape
    for k in ("cand", "slates"):
        if raw[k].ndim != 3 or raw[k].shape[:2] != bh:
            raise ValueError(f"batch[{k!r}] must have shape {bh + ('?',)}, got {raw[k].shape}")
    n_cand = raw["cand"].shape[2]
    if not 1 <= raw["slates"].shape[2] <= n_cand:
        raise ValueError(f"batch['slates'] must hold K in [1, {n_cand}] positions per step, "
                         f"got {raw['slates'].shape[2]}")

    def in_range(k, lo, hi):  # [lo, hi)
        a = raw[k]
        if a.size and (a.min() < lo or a.max() >= hi):
            raise ValueError(f"batch[{k!r}] must be in [{lo}, {hi}), got range [{a.min()}, {a.max()}]")

    in_range("items", 0, n_items + 2)
    in_range("responses", 0, 3)
    in_range("cand", 0, n_items)
    in_range("slates", 0, n_cand)
    m = raw["mask"].astype(np.float64)
    if m.size and (m.min() < 0 or m.max() > 1):
        raise ValueError(f"batch['mask'] must be in [0, 1], got range [{m.min()}, {m.max()}]")
    srt = np.sort(raw["slates"], axis=-1)
    dup = np.argwhere((srt[..., 1:] == srt[..., :-1]).any(-1) & (m > 0))
    if dup.size:  # padded steps (mask 0) may repeat a position
        i, t = (int(x) for x in dup[0])
        raise ValueError(f"batch['slates'] must hold distinct positions at every step with mask > 0, "
                         f"got batch['slates'][{i}, {t}] = {raw['slates'][i, t].tolist()}")
    dt = dict(items=np.int32, responses=np.int32, watch=np.float32, cand=np.int32, slates=np.int32,
              adv=np.float32, mask=np.float32)
    return {k: raw[k].astype(dt[k]) for k in dt}


def make_rl_train_step(model, ref_model, optimizer, strategy: tf.distribute.Strategy | None = None,
                       compiled: bool = True):
    """RL fine-tuning step (``tf.function``-compiled unless ``compiled=False``) for any strategy.

    ``model``, ``ref_model`` and ``optimizer`` must have been created under
    ``strategy.scope()``. Returns ``step(batch: dict of numpy, beta: float) ->
    (loss, kl_sum, n_steps)`` (global sums, floats); a bad batch (:func:`_rl_keys`) or ``beta``
    (not a finite number >= 0) raises ``ValueError`` before any update. The Keras optimizer all-reduces (sums)
    gradients across replicas; each replica's loss is already divided by the global batch,
    so the update equals the single-device update on the same global batch. (No gradient
    clipping: Keras clips *before* the all-reduce, which would break that equivalence.)
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

    def _raw(dist_batch, beta, gbs):
        out = strategy.run(replica_fn, args=(dist_batch, beta, gbs))
        return tuple(strategy.reduce(tf.distribute.ReduceOp.SUM, o, axis=None) for o in out)

    _step = _compile(_raw, strategy, (tf.float32, tf.int32)) if compiled else _raw

    def step(batch: Mapping, beta: float):
        check_real("beta", beta, 0.0)
        b = _rl_keys(batch, model.n_items)
        gbs = int(b["mask"].shape[0])
        out = _step(_distribute(strategy, b), tf.constant(beta, tf.float32), tf.constant(gbs, tf.int32))
        return tuple(float(o) for o in out)

    return step


_PRETRAIN_DTYPES = dict(items=np.int32, responses=np.int32, watch=np.float32, target=np.int32, tmask=np.float32)


def _pretrain_keys(batch: Mapping, n_items: int, name: str = "batch") -> dict:
    """The keys of :func:`next_item_loss` as numpy arrays (dtypes as given), checked: all (B, L)
    like ``tmask``, ``items`` in [0, n_items + 1] (NO_CLICK, BOS), ``responses`` in [0, 2],
    ``target`` in [0, n_items), ``watch`` finite, ``tmask`` in [0, 1]. ``name`` names the
    argument in the messages (``batch`` or ``logs``)."""
    if not isinstance(batch, Mapping):
        raise ValueError(f"{name} must be a dict of arrays from collect_logs(), got {type(batch).__name__}")
    raw = _batch_arrays(batch, name, ints=("items", "responses", "target"), floats=("watch", "tmask"),
                        like=("items", "responses", "watch", "target"), ref="tmask", ref_shape="(B, L)")
    for k, lo, hi in (("items", 0, n_items + 2), ("responses", 0, 3), ("target", 0, n_items)):
        a = raw[k]
        if a.size and (a.min() < lo or a.max() >= hi):
            raise ValueError(f"{name}[{k!r}] must be in [{lo}, {hi}), got range [{a.min()}, {a.max()}]")
    m = raw["tmask"].astype(np.float64)
    if m.size and (m.min() < 0 or m.max() > 1):
        raise ValueError(f"{name}['tmask'] must be in [0, 1], got range [{m.min()}, {m.max()}]")
    return raw


def _check_n_sampled(n_sampled, n_items: int) -> int:
    """0 (full softmax) or a number of sampled negatives in [1, n_items)."""
    if n_sampled == 0 and not isinstance(n_sampled, bool):
        return 0
    return check_int("n_sampled", n_sampled, lo=1, hi=int(n_items) - 1, hi_name="n_items - 1")


def make_pretrain_step(model, optimizer, n_sampled: int = 0, strategy: tf.distribute.Strategy | None = None,
                       compiled: bool = True):
    """Next-item step (full or sampled softmax); same contract as :func:`make_rl_train_step`.

    Returns ``step(batch) -> (loss, ce_sum, n_clicks)``; batch keys items, responses, watch,
    target, tmask (checked by :func:`_pretrain_keys` before any update: a bad batch raises
    ``ValueError``).
    """
    _check_n_sampled(n_sampled, model.n_items)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        optimizer.build(model.trainable_variables)

    def replica_fn(b, gbs):
        with tf.GradientTape() as tape:
            loss, ce_sum, n = next_item_loss(model, b, gbs, n_sampled=n_sampled)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, ce_sum, n

    def _raw(dist_batch, gbs):
        out = strategy.run(replica_fn, args=(dist_batch, gbs))
        return tuple(strategy.reduce(tf.distribute.ReduceOp.SUM, o, axis=None) for o in out)

    _step = _compile(_raw, strategy, (tf.int32,)) if compiled else _raw
    dt = _PRETRAIN_DTYPES

    def step(batch: Mapping):
        raw = _pretrain_keys(batch, model.n_items)
        b = {k: np.asarray(raw[k], dt[k]) for k in dt}
        gbs = int(b["tmask"].shape[0])
        out = _step(_distribute(strategy, b), tf.constant(gbs, tf.int32))
        return tuple(float(o) for o in out)

    return step


def synthetic_rl_batch(batch_size: int, horizon: int, n_items: int, n_candidates: int = 10, slate_size: int = 3,
                       seed: int = 0) -> dict:
    """A random batch with the shapes of :func:`rl_loss` (for tests, checks and benchmarks)."""
    check_int("batch_size", batch_size, lo=1)
    check_int("horizon", horizon, lo=1)
    check_int("n_items", n_items, lo=1)
    check_int("n_candidates", n_candidates, lo=1)
    check_int("slate_size", slate_size, 1, n_candidates, hi_name="n_candidates")
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


def synthetic_log_batch(batch_size: int, length: int, n_items: int, seed: int = 0) -> dict:
    """A random next-item batch (keys of :func:`next_item_loss`) for timing."""
    check_int("batch_size", batch_size, lo=1)
    check_int("length", length, lo=1)
    check_int("n_items", n_items, lo=1)
    rng = np.random.default_rng(seed)
    B, L = batch_size, length
    return dict(items=rng.integers(0, n_items + 2, (B, L)).astype(np.int32),
                responses=rng.integers(0, 3, (B, L)).astype(np.int32),
                watch=rng.random((B, L)).astype(np.float32),
                target=rng.integers(0, n_items, (B, L)).astype(np.int32),
                tmask=np.ones((B, L), np.float32))


# ---------------------------------------------------------------------------------------
# The agent
# ---------------------------------------------------------------------------------------
class TransformerAgent:
    """A :class:`CausalTransformer` behind the simulator's slate-policy interface.

    * ``reset(batch_size)`` / ``act(obs, env)``: the ``SlatePolicy`` protocol of
      :mod:`rlrec_helpers.simulator` (greedy slates unless ``sample=True``); ``act`` runs the
      network in numpy with a key/value cache (:class:`NumpyDecoder`), weights read at the
      first ``act`` after each ``reset``.
    * ``recommend(history, candidates, k)``: serving for one user.
    * ``save(path)`` / ``TransformerAgent.load(path, expected=...)``: ``.keras`` files.

    Args:
        model: a :class:`CausalTransformer` carrying an ``agent_config``, or a
            :class:`TransformerConfig` to build a fresh one (None: defaults).
        sample: draw Plackett-Luce slates (training) instead of greedy top-K (serving).
        seed: seeds the slate sampling (and a fresh model's initialisation).
    """

    def __init__(self, model: CausalTransformer | TransformerConfig | None = None, *, sample: bool = False,
                 seed: int = 0):
        if model is None:
            model = TransformerConfig()
        if isinstance(model, TransformerConfig):
            cfg = model.validate()
            model = CausalTransformer(**cfg.model_kwargs(), seed=int(seed), agent_config=asdict(cfg))
        if not isinstance(model, CausalTransformer):
            raise ValueError(f"model must be a CausalTransformer or TransformerConfig, got {type(model).__name__}")
        if model.agent_config is None:
            raise ValueError("model has no agent_config; build it from a TransformerConfig")
        self.model = model
        self.config = TransformerConfig(**model.agent_config).validate()
        if self.config.n_items != model.n_items:
            raise ValueError(f"agent_config has {self.config.n_items} items but the model has {model.n_items}")
        self.catalogue = self.config.catalogue
        self.sample = bool(sample)
        self.rng = np.random.default_rng(seed)
        self.reset(1)

    # -- SlatePolicy protocol ---------------------------------------------------------
    def reset(self, batch_size: int) -> None:
        """Start ``batch_size`` new sessions (clears the key/value cache)."""
        self._b = check_int("batch_size", batch_size, lo=1)
        self._dec = None
        self._prev_ids = None
        self.last_tokens = None
        self.last_cand = None
        self.last_logits = None

    @property
    def t(self) -> int:
        """Index of the next decision (0 right after ``reset``)."""
        return 0 if self._dec is None else self._dec.t

    def _tokens(self, obs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b, V = self._b, self.config.n_items
        if self._prev_ids is None:
            return np.full(b, V + 1, np.int32), np.full(b, RESP_BOS, np.int32), np.zeros(b, np.float32)
        clicked = np.asarray(obs["clicked"]).astype(np.int64)
        hit = clicked >= 0
        ids = np.take_along_axis(self._prev_ids, np.maximum(clicked, 0)[:, None], 1)[:, 0]
        items = np.where(hit, ids, V).astype(np.int32)
        resp = np.where(hit, RESP_CLICK, RESP_SKIP).astype(np.int32)
        watch = (np.asarray(obs["watch_time"], np.float32) / self.config.doc_length) * hit
        return items, resp, watch.astype(np.float32)

    def act(self, obs: Mapping[str, np.ndarray], env=None) -> np.ndarray:
        """Slates (B, K) of distinct candidate indices for one simulator step."""
        cand = self.catalogue.candidate_ids(obs)
        if cand.ndim != 2 or cand.shape[0] != self._b:
            raise ValueError(f"obs has {cand.shape[0] if cand.ndim else '?'} users, the agent was reset for "
                             f"{self._b}; call reset(batch_size)")
        k = self.config.slate_size
        if cand.shape[1] < k:
            raise ValueError(f"slate_size={k} is larger than the {cand.shape[1]} candidates")
        if self._dec is None:
            self._dec = NumpyDecoder(self.model, self._b)
        items, resp, watch = self._tokens(obs)
        with _OneBlasThread():
            h = self._dec.step(items, resp, watch)
            logits = self._dec.candidate_logits(h, cand)
        slates = sample_slates(logits, k, self.rng if self.sample else None)
        self._prev_ids = np.take_along_axis(cand, slates, 1)
        self.last_tokens, self.last_cand, self.last_logits = (items, resp, watch), cand, logits
        return slates

    # -- serving ----------------------------------------------------------------------
    def _history_tokens(self, history) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        V = self.config.n_items
        if history is None:
            items, watch = np.zeros(0, np.int64), np.zeros(0)
        else:
            if not isinstance(history, Mapping):
                raise ValueError("history must be None or a dict with keys 'clicked_items' (L,) int (catalogue "
                                 f"id, -1 = no click) and 'watch_time' (L,) float, got {type(history).__name__}")
            missing = {"clicked_items", "watch_time"} - set(history)
            if missing:
                raise ValueError(f"history is missing keys {sorted(missing)}")
            try:
                items = np.asarray(history["clicked_items"])
                watch = np.asarray(history["watch_time"], dtype=float)
            except (ValueError, TypeError) as err:
                raise ValueError(f"history arrays must be 1-D numbers: {err}") from None
            if items.ndim != 1 or watch.shape != items.shape:
                raise ValueError(f"history['clicked_items'] and history['watch_time'] must both have shape (L,), "
                                 f"got {items.shape} and {watch.shape}")
            if items.size and not np.issubdtype(items.dtype, np.integer):
                raise ValueError(f"history['clicked_items'] must be integers, got dtype {items.dtype}")
            if items.size and (items.min() < -1 or items.max() >= V):
                raise ValueError(f"history['clicked_items'] must be -1 (no click) or an id in [0, {V}), got range "
                                 f"[{items.min()}, {items.max()}]")
            if not np.all(np.isfinite(watch)) or (watch < 0).any():
                raise ValueError("history['watch_time'] must be finite and >= 0")
        hit = items >= 0
        tok = np.r_[V + 1, np.where(hit, items, V)].astype(np.int32)
        resp = np.r_[RESP_BOS, np.where(hit, RESP_CLICK, RESP_SKIP)].astype(np.int32)
        w = np.r_[0.0, np.where(hit, watch / self.config.doc_length, 0.0)].astype(np.float32)
        return tok, resp, w

    def recommend(self, history, candidates, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k candidates for one user.

        Args:
            history: ``None`` (new user) or a dict ``clicked_items`` (L,) int catalogue id of
                the item clicked at each past step (-1 = no click) and ``watch_time`` (L,)
                float minutes.
            candidates: (N, n_topics + 1) features (cluster one-hot + noisy quality), as in
                ``obs["candidate_features"][i]``.
            k: slate size, 1 <= k <= N (default: the configured slate size).
        Returns:
            ``(indices (k,) int64, scores (k,) float)``: scores = softmax probability over
            the N candidates, decreasing.
        """
        T = self.config.n_topics
        cand = np.asarray(candidates, dtype=np.float64)
        if cand.ndim != 2 or cand.shape[1] != T + 1 or cand.shape[0] < 1:
            raise ValueError(f"candidates must have shape (N, {T + 1}) (cluster one-hot + quality), got {cand.shape}")
        if not np.all(np.isfinite(cand)):
            raise ValueError("candidates must be finite")
        onehot = cand[:, :T]
        if not (np.all((onehot == 0) | (onehot == 1)) and np.all(onehot.sum(1) == 1)):
            raise ValueError("candidates[:, :n_topics] must be a one-hot cluster encoding")
        k = self.config.slate_size if k is None else k
        check_int("k", k, 1, cand.shape[0], hi_name="N")  # N: the candidate count
        tok, resp, w = self._history_tokens(history)
        ids = self.catalogue.ids(np.argmax(onehot, 1), cand[:, -1])
        h = self.model.hidden(tok[None], resp[None], w[None])[0, -1]
        logits = self.model.candidate_logits(h[None], ids[None])[0].numpy().astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        idx = np.argsort(-logits, kind="stable")[:int(k)]
        return idx.astype(np.int64), probs[idx]

    # -- persistence ------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the network (with its config) to a ``.keras`` file."""
        return save_keras_model(self.model, path)

    @classmethod
    def load(cls, path: str | Path, expected: TransformerConfig | None = None, **kwargs) -> "TransformerAgent":
        """Load a ``.keras`` file written by :meth:`save`.

        Raises ``ValueError`` if the file is missing, does not hold a
        :class:`CausalTransformer` agent, or its configuration differs from ``expected``.
        """
        model = load_keras_model(path, CausalTransformer, "TransformerAgent")
        if model.agent_config is None:
            raise ValueError(f"{str(path)!r} holds a CausalTransformer without an agent config, "
                             "not a TransformerAgent model")
        cfg = TransformerConfig(**model.agent_config)
        if expected is not None and cfg != expected:
            raise ValueError(f"model file {str(path)!r} was built for {cfg}, expected {expected}")
        return cls(model, **kwargs)

    def copy(self, trainable: bool = True, **kwargs) -> "TransformerAgent":
        """An independent agent with a copy of the weights."""
        return TransformerAgent(clone_model(self.model, trainable), **kwargs)


# ---------------------------------------------------------------------------------------
# Environments and rollouts
# ---------------------------------------------------------------------------------------
class GroupEnv:
    """``group_size`` copies of ``BatchEnv(config, n_users, seed)`` stepped together.

    Rows ``g * n_users + i`` hold copy g of user i. All copies share the seed, so with the
    simulator's separate random streams they meet the *same* users, the same candidate
    documents at every step and the same choice uniforms (common random numbers); their
    trajectories differ only through the slates the policy samples. This is the "group" of
    :func:`finetune`'s ``objective="grpo"``: G rollouts of one user, compared with each other.
    """

    def __init__(self, config, n_users: int, group_size: int, seed: int = 0):
        from rlrec_helpers.simulator import BatchEnv, get_preset

        self.config = get_preset(config)
        self.n_users = check_int("n_users", n_users, lo=1)
        self.group_size = check_int("group_size", group_size, lo=1)
        self.envs = [BatchEnv(self.config, self.n_users, seed=seed) for _ in range(self.group_size)]
        self.batch_size = self.n_users * self.group_size

    @staticmethod
    def _cat(parts):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def reset(self, seed: int | None = None) -> dict:
        return self._cat([e.reset(seed) for e in self.envs])

    def step(self, slates):
        a = np.asarray(slates)
        if a.ndim != 2 or a.shape[0] != self.batch_size:
            raise ValueError(f"slates must have shape ({self.batch_size}, K), got {a.shape}")
        outs = [e.step(a[g * self.n_users:(g + 1) * self.n_users]) for g, e in enumerate(self.envs)]
        obs = self._cat([o[0] for o in outs])
        reward = np.concatenate([o[1] for o in outs])
        term = np.concatenate([o[2] for o in outs])
        info = {"truncated": np.concatenate([o[3]["truncated"] for o in outs])}
        return obs, reward, term, info


def rollout(agent: TransformerAgent, env, *, max_len: int = 1000, seed: int | None = None) -> dict[str, np.ndarray]:
    """One episode per row of ``env`` (a ``BatchEnv`` or :class:`GroupEnv`) with ``agent``.

    Returns (B, L) arrays ``items``, ``responses``, ``watch`` (the input tokens), ``cand``
    (B, L, N) candidate ids, ``slates`` (B, L, K) int32, ``rewards`` (minutes), ``mask``
    (1 while the user was active when the slate was shown), plus ``episode_return`` and
    ``length`` (B,). ``max_len`` (steps at most) must be an integer >= 1.
    """
    check_int("max_len", max_len, lo=1)
    obs = env.reset(seed=seed)
    agent.reset(env.batch_size)
    keys = ("items", "responses", "watch", "cand", "slates", "rewards", "mask")
    rec: dict[str, list] = {k: [] for k in keys}
    for _ in range(max_len):
        active = np.asarray(obs["active"], dtype=bool)
        if not active.any():
            break
        slate = agent.act(obs, env)
        items, resp, watch = agent.last_tokens
        rec["items"].append(items)
        rec["responses"].append(resp)
        rec["watch"].append(watch)
        rec["cand"].append(agent.last_cand)
        rec["slates"].append(slate.astype(np.int32))
        rec["mask"].append(active.astype(np.float32))
        obs, reward, _, _ = env.step(slate)
        rec["rewards"].append(np.asarray(reward, np.float64) * active)
    out = {k: np.stack(v, axis=1) for k, v in rec.items()}
    out["episode_return"] = out["rewards"].sum(axis=1)
    out["length"] = out["mask"].sum(axis=1)
    return out


def session_history(batch: Mapping[str, np.ndarray], user: int, t: int, doc_length: float = 4.0) -> dict:
    """The serving history (for :meth:`TransformerAgent.recommend`) of row ``user`` of a
    :func:`rollout` batch just before decision ``t``: ``clicked_items`` (t,) and ``watch_time`` (t,).

    ``batch["items"]`` has shape (B, L): ``user`` must be in [0, B - 1] and ``t`` in [0, L - 1]."""
    L = batch["items"].shape[1]
    check_int("t", t, lo=0, hi=L - 1, hi_name="L - 1")
    check_int("user", user, lo=0, hi=batch["items"].shape[0] - 1, hi_name="B - 1")
    resp = batch["responses"][user, 1:t + 1]
    clicked = np.where(resp == RESP_CLICK, batch["items"][user, 1:t + 1], -1).astype(np.int64)
    return {"clicked_items": clicked, "watch_time": batch["watch"][user, 1:t + 1].astype(float) * doc_length}


def pad_time(batch: Mapping[str, np.ndarray], multiple: int = 16) -> dict[str, np.ndarray]:
    """Zero-pad every (B, L, ...) array to a length that is a multiple of ``multiple``
    (fewer distinct shapes -> fewer ``tf.function`` retraces). (B,) arrays are dropped.
    ``multiple`` must be an integer >= 1."""
    check_int("multiple", multiple, lo=1)
    out = {}
    for k, v in batch.items():
        v = np.asarray(v)
        if v.ndim < 2:
            continue
        L = v.shape[1]
        pad = (-L) % multiple
        out[k] = np.pad(v, [(0, 0), (0, pad)] + [(0, 0)] * (v.ndim - 2)) if pad else v
    return out


#: G_t = sum_{t' >= t} gamma^(t'-t) r_t' over active steps: (B, L) -> (B, L) (0 where mask=0);
#: the GRU agent's function, under the name this module's docstrings use.
returns_to_go = discounted_returns


def reinforce_advantages(rewards: np.ndarray, mask: np.ndarray, gamma: float) -> np.ndarray:
    """(G_t - mean over active users of G_t at step t) / std over all active steps: (B, L)."""
    mask = np.asarray(mask, np.float64)
    G = returns_to_go(rewards, mask, gamma)
    base = (G * mask).sum(0) / np.maximum(mask.sum(0), 1.0)
    adv = (G - base[None]) * mask
    n = max(mask.sum(), 1.0)
    std = np.sqrt(max((adv ** 2).sum() / n - (adv.sum() / n) ** 2, 0.0))
    return (adv / (std + 1e-6)).astype(np.float32)


def grpo_advantages(episode_return: np.ndarray, mask: np.ndarray, group_size: int) -> np.ndarray:
    """Group-relative advantages (GRPO, outcome supervision): (B, L) with B = G * n_users.

    Row ``g * n_users + i`` gets ``(R_gi - mean_g R_gi) / (std_g R_gi + 1e-6)`` at every
    active step (std over the G copies of user i; 0 advantage if all copies tie).
    Raises ``ValueError`` unless B is a multiple of ``group_size``, ``mask`` has B rows and
    the returns are finite.
    """
    group_size = check_int("group_size", group_size, lo=1)
    R = np.asarray(episode_return, np.float64)
    mask = np.asarray(mask, np.float64)
    if R.ndim != 1 or R.size == 0 or R.size % group_size:
        raise ValueError(f"episode_return must have shape (B,) with B a positive multiple of group_size="
                         f"{group_size}, got shape {R.shape}")
    if mask.ndim != 2 or mask.shape[0] != R.size:
        raise ValueError(f"mask must have shape ({R.size}, L) (one row per episode_return), got {mask.shape}")
    if not np.all(np.isfinite(R)):
        raise ValueError("episode_return must be finite")
    R = R.reshape(group_size, -1)
    A = (R - R.mean(0, keepdims=True)) / (R.std(0, keepdims=True) + 1e-6)
    return (A.reshape(-1)[:, None] * mask).astype(np.float32)


# ---------------------------------------------------------------------------------------
# Stage 1: logs and pretraining
# ---------------------------------------------------------------------------------------
def collect_logs(env_config, policy="myopic", *, n_sessions: int = 2000, seed: int = 0,
                 catalogue: ItemCatalogue | None = None, batch_size: int = 1000,
                 max_len: int = 1000) -> dict[str, np.ndarray]:
    """Log sessions of ``policy`` (a reference-policy name or a ``SlatePolicy``) as token sequences.

    Returns (S, L) arrays ``items``, ``responses``, ``watch`` (inputs, same conventions as
    the agent), ``target`` (catalogue id clicked at step t, 0 if none), ``tmask`` (1 where
    step t got a click), ``mask`` (1 while the session ran), and ``length`` (S,).
    """
    from rlrec_helpers.simulator import BatchEnv, get_preset, make_reference_policy

    cfg = get_preset(env_config)
    check_int("n_sessions", n_sessions, lo=1)
    check_int("batch_size", batch_size, lo=1)
    check_int("max_len", max_len, lo=1)
    cat = catalogue or TransformerConfig.for_env(cfg).catalogue
    if isinstance(policy, str):
        policy = make_reference_policy(policy, seed=seed)
    V = cat.n_items
    parts = []
    for j, start in enumerate(range(0, n_sessions, batch_size)):
        b = min(batch_size, n_sessions - start)
        env = BatchEnv(cfg, b, seed=int(np.random.SeedSequence([seed, j, 7]).generate_state(1)[0]))
        obs = env.reset()
        policy.reset(b)
        items, resp, watch, target, tmask, mask = [], [], [], [], [], []
        tok_i, tok_r, tok_w = np.full(b, V + 1, np.int32), np.zeros(b, np.int32), np.zeros(b, np.float32)
        for _ in range(max_len):
            active = obs["active"].copy()
            if not active.any():
                break
            cand = cat.candidate_ids(obs)
            slate = policy.act(obs, env)
            obs, _, _, _ = env.step(slate)
            hit = (obs["clicked"] >= 0) & active
            shown = np.take_along_axis(cand, slate, 1)
            ids = np.take_along_axis(shown, np.maximum(obs["clicked"], 0)[:, None], 1)[:, 0]
            items.append(tok_i)
            resp.append(tok_r)
            watch.append(tok_w)
            target.append(np.where(hit, ids, 0).astype(np.int32))
            tmask.append(hit.astype(np.float32))
            mask.append(active.astype(np.float32))
            tok_i = np.where(hit, ids, V).astype(np.int32)
            tok_r = np.where(hit, RESP_CLICK, RESP_SKIP).astype(np.int32)
            tok_w = (obs["watch_time"] / float(cfg.doc_length) * hit).astype(np.float32)
        parts.append({k: np.stack(v, 1) for k, v in dict(items=items, responses=resp, watch=watch, target=target,
                                                          tmask=tmask, mask=mask).items()})
    L = max(p["mask"].shape[1] for p in parts)
    out = {k: np.concatenate([np.pad(p[k], [(0, 0), (0, L - p[k].shape[1])]) for p in parts]) for k in parts[0]}
    out["length"] = out["mask"].sum(1)
    return out


@dataclass(frozen=True)
class PretrainConfig:
    """Stage-1 hyper-parameters.

    Attributes:
        n_sessions: logged sessions (a share ``holdout`` of them is held out for metrics).
        logging_policy: reference-policy name for the logs (default ``"myopic"``; any name
            :func:`rlrec_helpers.simulator.make_reference_policy` accepts).
        epochs: passes over the training logs; batch_size: sessions per step (batches group
            sessions of similar length to save padding).
        lr: Adam learning rate (finite, > 0); n_sampled: 0 = full softmax, else the number of
            sampled-softmax negatives (< the catalogue size, checked by :func:`pretrain`).
        holdout: share of sessions held out (in [0, 0.5]; 0: none, and the ``val_*`` histories
            are empty; a share that rounds to 0 sessions raises ``ValueError`` in :func:`pretrain`).
        seed: seeds the logs, the initialisation and the batches.
    """

    n_sessions: int = 1000
    logging_policy: str = "myopic"
    epochs: int = 2
    batch_size: int = 32
    lr: float = 3e-3
    n_sampled: int = 0
    holdout: float = 0.1
    seed: int = 0

    def validate(self) -> "PretrainConfig":
        check_int("n_sessions", self.n_sessions, lo=2)
        check_int("epochs", self.epochs, lo=1)
        check_int("batch_size", self.batch_size, lo=1)
        check_int("n_sampled", self.n_sampled, lo=0)
        check_int("seed", self.seed, lo=0)
        check_real("lr", self.lr, lo=0.0, lo_open=True)
        check_real("holdout", self.holdout, lo=0.0, hi=0.5)
        from rlrec_helpers.simulator import REFERENCE_POLICIES

        check_choice("logging_policy", self.logging_policy, (*REFERENCE_POLICIES, "blend", "heuristic"))
        return self


def next_item_metrics(model: CausalTransformer, logs: Mapping[str, np.ndarray], batch_size: int = 256) -> dict:
    """Full-softmax next-item metrics on logged sessions (averages over clicked steps):
    ``loss`` (mean cross-entropy, nats), ``perplexity`` = exp(loss), ``accuracy`` (top-1 over
    the whole catalogue). ``batch_size`` (sessions per forward pass) must be an integer >= 1."""
    check_int("batch_size", batch_size, lo=1)
    ce_sum, correct, n = 0.0, 0.0, 0.0
    S = logs["items"].shape[0]
    for s in range(0, S, batch_size):
        b = {k: tf.constant(logs[k][s:s + batch_size]) for k in ("items", "responses", "watch", "target", "tmask")}
        c, k, m = _metrics_fn(model, b)
        ce_sum, correct, n = ce_sum + float(c), correct + float(k), n + float(m)
    if n == 0:
        raise ValueError("logs contain no click to evaluate")
    loss = ce_sum / n
    return {"loss": loss, "perplexity": float(np.exp(loss)), "accuracy": correct / n}


def _metrics_fn(model, b):  # eager: forward only, no trace to pay for
    h = model.hidden(b["items"], b["responses"], b["watch"])
    keep = tf.where(tf.reshape(b["tmask"], (-1,)) > 0)[:, 0]  # clicked steps only
    h = tf.gather(tf.reshape(h, (-1, model.d_model)), keep)
    tgt = tf.gather(tf.reshape(tf.cast(b["target"], tf.int32), (-1,)), keep)
    logits = model.item_logits(h)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tgt, logits=logits)
    hit = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tgt), tf.float32)
    return tf.reduce_sum(ce), tf.reduce_sum(hit), tf.cast(tf.size(keep), tf.float32)


def _check_logs(logs, n_items: int) -> dict:
    """User-given :func:`pretrain` logs, checked (:func:`_pretrain_keys` under the name ``logs``,
    ids against the catalogue of ``n_items``) plus ``length`` (S,) finite in [0, L]."""
    if not isinstance(logs, Mapping):
        raise ValueError(f"logs must be a dict of arrays from collect_logs(), got {type(logs).__name__}")
    missing = [k for k in (*_PRETRAIN_DTYPES, "length") if k not in logs]
    if missing:
        raise ValueError(f"logs is missing keys {missing}")
    out = _pretrain_keys(logs, n_items, "logs")
    S, L = out["tmask"].shape
    length = np.asarray(logs["length"])
    if length.shape != (S,):
        raise ValueError(f"logs['length'] must have shape ({S},), got {length.shape}")
    if not (np.issubdtype(length.dtype, np.number) and np.all(np.isfinite(length))
            and (length.min(initial=0) >= 0) and (length.max(initial=0) <= L)):
        raise ValueError(f"logs['length'] must be finite numbers in [0, L={L}]")
    out["length"] = length
    return out


def _bucketed_batches(idx: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                      pool: int = 8) -> list[np.ndarray]:
    """Shuffled batches of session indices with similar lengths (less padding): shuffle, sort
    each pool of ``pool`` batches by length, cut it into batches, shuffle the batch order."""
    order = rng.permutation(idx)
    batches = []
    for c in range(0, len(order), batch_size * pool):
        part = order[c:c + batch_size * pool]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def pretrain(env_config=None, config: PretrainConfig | None = None, *,
             agent_config: TransformerConfig | None = None, logs: Mapping[str, np.ndarray] | None = None,
             strategy: tf.distribute.Strategy | None = None, progress: bool = False,
             compiled: bool = True) -> tuple[TransformerAgent, dict[str, np.ndarray]]:
    """Stage 1: log sessions with ``config.logging_policy``, fit next-clicked-item prediction.

    Args:
        env_config: simulator config with a quality column (default
            :func:`transformer_env_config`).
        config: :class:`PretrainConfig`; agent_config: network shape (default: for the env).
        logs: reuse logs from :func:`collect_logs` instead of collecting them (their ids must
            belong to ``agent_config``'s catalogue, else ``ValueError``).
        strategy: optional ``tf.distribute.Strategy`` for the update step.
        compiled: ``tf.function`` update step (False: eager, slower, no tracing cost).
    Returns:
        ``(agent, history)``: a greedy :class:`TransformerAgent` and a dict of arrays:
        ``step_loss`` (per update: the optimised loss, averaged over all B x L positions of the
        batch, so no-click and padding positions count as 0; sampled softmax if ``n_sampled``),
        ``step_click_loss`` (per update: the same loss per clicked position, the quantity to plot
        as a training curve: its mean over an epoch, weighted by clicks, is that epoch's ``train_loss``),
        per epoch (index 0 = before training) ``epoch``, ``train_loss`` (mean per click of
        the loss the epoch's updates optimised, NaN at epoch 0: the full-softmax
        cross-entropy if ``n_sampled == 0``, else the sampled-softmax loss over the true item
        and ``n_sampled`` negatives, which is lower and *not* comparable with ``val_loss``),
        ``val_loss``, ``val_perplexity``, ``val_accuracy`` (full softmax on the held-out sessions),
        ``wall_time`` (s since the start, logging included), and scalars ``n_tokens``
        (clicked training steps), ``log_seconds``.
    """
    cfg = (config or PretrainConfig()).validate()
    env_cfg = transformer_env_config() if env_config is None else env_config
    from rlrec_helpers.simulator import get_preset

    env_cfg = get_preset(env_cfg)
    acfg = (agent_config or TransformerConfig.for_env(env_cfg)).validate()
    _check_n_sampled(cfg.n_sampled, acfg.n_items)
    t0 = time.perf_counter()
    if logs is None:
        logs = collect_logs(env_cfg, cfg.logging_policy, n_sessions=cfg.n_sessions, seed=cfg.seed,
                            catalogue=acfg.catalogue)
    else:
        logs = _check_logs(logs, acfg.n_items)
    log_seconds = time.perf_counter() - t0
    S = logs["items"].shape[0]
    n_val = int(round(cfg.holdout * S))
    if cfg.holdout > 0 and n_val == 0:   # else the val_* histories would silently stay empty
        raise ValueError(f"holdout={cfg.holdout:g} of {S} logged sessions rounds to 0 held-out sessions, "
                         f"so there would be no validation metrics; use holdout=0 (no val_* metrics) "
                         f"or more sessions")
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(S)
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    keys = ("items", "responses", "watch", "target", "tmask")
    val = {k: logs[k][val_idx] for k in keys}
    seed_everything(cfg.seed, use_tf=True)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = CausalTransformer(**acfg.model_kwargs(), seed=cfg.seed, agent_config=asdict(acfg))
        opt = keras.optimizers.Adam(cfg.lr)
        step = make_pretrain_step(model, opt, n_sampled=cfg.n_sampled, strategy=strategy, compiled=compiled)
    hist = {k: [] for k in ("epoch", "train_loss", "val_loss", "val_perplexity", "val_accuracy", "wall_time")}
    step_loss, step_click_loss = [], []

    def log_epoch(e, train_loss):
        hist["epoch"].append(e)
        hist["train_loss"].append(train_loss)
        if n_val:
            m = next_item_metrics(model, val)
            hist["val_loss"].append(m["loss"])
            hist["val_perplexity"].append(m["perplexity"])
            hist["val_accuracy"].append(m["accuracy"])
        hist["wall_time"].append(time.perf_counter() - t0)

    log_epoch(0, np.nan)
    n_rep = strategy.num_replicas_in_sync
    epochs = range(1, cfg.epochs + 1)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="pretrain", leave=False)
    for e in epochs:
        ce_sum, n_sum = 0.0, 0.0
        for idx in _bucketed_batches(tr_idx, logs["length"], cfg.batch_size, rng):
            if len(idx) % n_rep:
                continue  # the last partial batch must split evenly over replicas
            b = pad_time({k: logs[k][idx][:, :int(logs["length"][idx].max())] for k in keys})
            loss, ce, n = step(b)
            step_loss.append(loss)
            step_click_loss.append(ce / max(n, 1.0))
            ce_sum, n_sum = ce_sum + ce, n_sum + n
        log_epoch(e, ce_sum / max(n_sum, 1.0))
    out = {k: np.asarray(v, float) for k, v in hist.items()}
    out["step_loss"] = np.asarray(step_loss, float)
    out["step_click_loss"] = np.asarray(step_click_loss, float)
    out["n_tokens"] = np.asarray(float(logs["tmask"][tr_idx].sum()))
    out["log_seconds"] = np.asarray(log_seconds)
    if n_rep > 1:
        model = clone_model(model)  # plain variables for serving and saving
    return TransformerAgent(model, seed=cfg.seed), out


# ---------------------------------------------------------------------------------------
# Stage 2: RL fine-tuning
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FinetuneConfig:
    """Stage-2 hyper-parameters.

    Attributes:
        objective: ``"reinforce"`` (returns-to-go minus the per-timestep mean over the batch,
            divided by their std) or ``"grpo"``. GRPO here means: ``batch_size / G`` users,
            each run G times from the *same* start (same user, same candidate documents and
            same choice randomness at every step, :class:`GroupEnv`), so the G episodes differ
            only through the policy's sampled slates; each episode's advantage is its return
            minus the mean of its group, divided by the group's std, applied to every step of
            the episode (outcome supervision). There is no learned value function. As in
            GRPO the KL to the reference is a loss term, not a reward term; unlike the paper
            we take one on-policy update per batch (so the clipped importance ratio is 1 and
            drops out) and use the analytic chain-rule KL (:func:`plackett_luce_kl`).
        beta: KL weight (>= 0) of ``beta * KL_slate(pi || pi_pretrained)`` per step. With
            the defaults, beta = 0.1 keeps :func:`policy_kl` well under :data:`KL_BUDGET`;
            beta = 0 drifts past it; beta = 1 barely moves the policy.
        n_iters: rollout + update iterations.
        batch_size: episodes per iteration (both objectives); for ``grpo`` it is
            ``batch_size / group_size`` users x ``group_size`` copies.
        group_size: G for ``grpo`` (>= 2, divides ``batch_size``).
        gamma: discount of the returns-to-go (``reinforce``; ``grpo`` uses the episode return).
        lr: Adam learning rate (finite, > 0).
        eval_every / eval_episodes: greedy evaluation every that many iterations (0 = never).
        seed: seeds the slate sampling and the rollouts.
    """

    objective: str = "grpo"
    beta: float = 0.1
    n_iters: int = 25
    batch_size: int = 64
    group_size: int = 4
    gamma: float = 1.0
    lr: float = 1e-3
    max_len: int = 1000
    eval_every: int = 0
    eval_episodes: int = 300
    seed: int = 0

    def validate(self) -> "FinetuneConfig":
        check_choice("objective", self.objective, OBJECTIVES)
        check_real("beta", self.beta, lo=0.0)
        for name in ("n_iters", "batch_size", "max_len"):
            check_int(name, getattr(self, name), lo=1)
        check_ci_count("eval_episodes", self.eval_episodes)   # its returns get a 95% CI
        check_int("eval_every", self.eval_every, lo=0)
        check_int("seed", self.seed, lo=0)
        check_int("group_size", self.group_size, lo=2 if self.objective == "grpo" else 1)
        if self.objective == "grpo" and self.batch_size % self.group_size:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of group_size ({self.group_size})")
        check_real("gamma", self.gamma, lo=0.0, hi=1.0)
        check_real("lr", self.lr, lo=0.0, lo_open=True)
        return self


def evaluate_agent(agent, env_config, n_episodes: int = 500, seed: int = 12345, batch_size: int = 1000):
    """Greedy evaluation on the simulator's shared seed set: the GRU agent's
    :func:`rlrec_helpers.agents.reinforce.evaluate_agent`, with 500 episodes by default."""
    return _evaluate_greedy(agent, env_config, n_episodes=n_episodes, seed=seed, batch_size=batch_size)


def finetune(pretrained: TransformerAgent, env_config=None, config: FinetuneConfig | None = None, *,
             strategy: tf.distribute.Strategy | None = None, progress: bool = False, eval_seed: int = 777,
             callback: Callable[[int, dict], None] | None = None,
             compiled: bool = True) -> tuple[TransformerAgent, dict[str, np.ndarray]]:
    """Stage 2: KL-regularised policy-gradient fine-tuning of a copy of ``pretrained``.

    The loss per step is ``-A * log pi(slate) + beta * KL_slate(pi || pi_pretrained)``
    (:func:`rl_loss`), with ``A`` from :func:`reinforce_advantages` or :func:`grpo_advantages`;
    one Adam update per rollout batch (on-policy), computed by :func:`make_rl_train_step`
    under ``strategy`` (default: the current one; ``compiled=False`` runs it eagerly).
    ``pretrained`` is not modified; its frozen copy is the KL reference.

    Returns:
        ``(agent, history)``: the fine-tuned greedy agent and per-iteration arrays
        ``iteration``, ``return`` (mean undiscounted return of the sampled training
        episodes, minutes), ``length`` (steps), ``kl`` (mean per-step slate KL to the
        pretrained policy on the states of that batch, nats, before the update), ``loss``,
        ``env_steps`` (cumulative user-steps), ``wall_time`` (s, excluding evaluation), and,
        with ``eval_every``, ``eval_iteration`` / ``eval_return`` (greedy, ``eval_episodes``
        episodes of seed ``eval_seed``).
    """
    from rlrec_helpers.simulator import BatchEnv, get_preset

    if not isinstance(pretrained, TransformerAgent):
        raise ValueError(f"pretrained must be a TransformerAgent, got {type(pretrained).__name__}")
    cfg = (config or FinetuneConfig()).validate()
    env_cfg = get_preset(transformer_env_config() if env_config is None else env_config)
    seed_everything(cfg.seed, use_tf=True)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = clone_model(pretrained.model)
        ref = clone_model(pretrained.model, trainable=False)
        opt = keras.optimizers.Adam(cfg.lr)
        step = make_rl_train_step(model, ref, opt, strategy, compiled=compiled)
    agent = TransformerAgent(model, sample=True, seed=cfg.seed)
    if cfg.objective == "grpo":
        env = GroupEnv(env_cfg, cfg.batch_size // cfg.group_size, cfg.group_size, seed=cfg.seed)
    else:
        env = BatchEnv(env_cfg, cfg.batch_size, seed=cfg.seed)
    loop = TrainingLoop(cfg.n_iters, ("return", "length", "kl", "loss", "env_steps", "wall_time",
                                      "eval_iteration", "eval_return"),
                        eval_every=cfg.eval_every, progress=progress,
                        desc=f"finetune ({cfg.objective}, beta={cfg.beta:g})", callback=callback)
    steps = 0
    for it in loop:
        with loop.timed():
            batch = rollout(agent, env, max_len=cfg.max_len, seed=cfg.seed * 1_000_003 + it)
            if cfg.objective == "grpo":
                batch["adv"] = grpo_advantages(batch["episode_return"], batch["mask"], cfg.group_size)
            else:
                batch["adv"] = reinforce_advantages(batch["rewards"], batch["mask"], cfg.gamma)
            loss, kl_sum, n = step(pad_time(batch), cfg.beta)
        steps += int(batch["mask"].sum())
        kl = kl_sum / max(n, 1.0)
        loop.log({"return": float(batch["episode_return"].mean()), "length": float(batch["length"].mean()),
                  "kl": kl, "loss": loss, "env_steps": steps, "wall_time": loop.wall_time})
        if loop.eval_due(it):
            res = evaluate_agent(agent, env_cfg, n_episodes=cfg.eval_episodes, seed=eval_seed)
            loop.log({"eval_iteration": it + 1, "eval_return": res.mean_return.mean})
        loop.end_iteration(it, {k: v[-1] for k, v in loop.hist.items() if v},
                           ret=f"{loop.hist['return'][-1]:.1f}", kl=f"{kl:.3f}")
    out = loop.history()
    if strategy.num_replicas_in_sync > 1:
        model = clone_model(model)  # plain variables for serving and saving
    return TransformerAgent(model, seed=cfg.seed), out


def _kl_fn(model, ref, b):  # eager: forward only
    h = model.hidden(b["items"], b["responses"], b["watch"])
    lp = model.candidate_logits(h, b["cand"])
    hr = ref.hidden(b["items"], b["responses"], b["watch"])
    lq = ref.candidate_logits(hr, b["cand"])
    m = tf.cast(b["mask"], tf.float32)
    slate = _pl_kl(lp, lq, b["slates"])   # padded (masked) steps may repeat positions
    first = categorical_kl(lp, lq)
    return tf.reduce_sum(slate * m), tf.reduce_sum(first * m), tf.reduce_sum(m)


def policy_kl(agent: TransformerAgent, reference: TransformerAgent, env_config=None, *, n_episodes: int = 200,
              seed: int = 4242) -> dict[str, float]:
    """KL(agent || reference) on the states the agent visits when it samples its slates.

    Rolls out ``n_episodes`` sampled sessions of ``agent`` and returns ``slate_kl`` (mean per
    step of :func:`plackett_luce_kl` along the sampled slates: an unbiased estimate of the
    per-step KL between the two Plackett-Luce slate distributions, nats), ``first_kl`` (the
    KL of the candidate softmaxes, i.e. of the first slate position) and ``steps``.
    ``seed`` seeds both the users and the slate sampling: equal seeds give equal results, and
    the agent's own random stream (``agent.rng``) is left untouched. Both must be
    :class:`TransformerAgent` s with the same item catalogue, else ``ValueError``.
    """
    from rlrec_helpers.simulator import BatchEnv, get_preset

    for name, a in (("agent", agent), ("reference", reference)):
        if not isinstance(a, TransformerAgent):
            raise ValueError(f"{name} must be a TransformerAgent, got {type(a).__name__}")
    if reference.catalogue != agent.catalogue:
        raise ValueError(f"reference has catalogue {reference.catalogue}, the agent {agent.catalogue}; "
                         "they must be equal")

    env_cfg = get_preset(transformer_env_config() if env_config is None else env_config)
    env = BatchEnv(env_cfg, check_int("n_episodes", n_episodes, lo=1), seed=seed)
    old, old_rng = agent.sample, agent.rng
    agent.sample = True
    agent.rng = np.random.default_rng(seed)
    try:
        batch = rollout(agent, env, seed=seed)
    finally:
        agent.sample, agent.rng = old, old_rng
    s, f, n = _kl_fn(agent.model, reference.model, pad_time(batch))
    n = float(n)
    return {"slate_kl": float(s) / n, "first_kl": float(f) / n, "steps": n}


def compare_finetuning(pretrained: TransformerAgent, env_config=None, *, betas=(0.0, 0.1, 1.0),
                       objectives=OBJECTIVES, config: FinetuneConfig | None = None, n_eval: int = 500,
                       eval_seed: int = 12345, kl_episodes: int = 200, **finetune_kwargs) -> dict:
    """Fine-tune one copy of ``pretrained`` per (objective, beta) and evaluate everything.

    ``config`` gives the other hyper-parameters; ``finetune_kwargs`` go to :func:`finetune`.

    Returns ``{"pretrained": EvalResult, "runs": {(objective, beta): dict(agent=the fine-tuned
    agent, result=EvalResult (greedy, ``n_eval`` episodes, seed ``eval_seed``),
    kl=:func:`policy_kl` dict, seconds=fine-tuning wall time, history=:func:`finetune`
    history, beats_pretrained=bool (mean higher and the 95% CIs do not overlap))}}``.
    """
    env_cfg = transformer_env_config() if env_config is None else env_config
    base = (config or FinetuneConfig()).validate()
    check_ci_count("n_eval", n_eval)
    pre = evaluate_agent(pretrained, env_cfg, n_eval, seed=eval_seed)
    runs = {}
    for obj in objectives:
        for beta in betas:
            t0 = time.perf_counter()
            agent, hist = finetune(pretrained, env_cfg, replace(base, objective=obj, beta=float(beta)),
                                   **finetune_kwargs)
            secs = time.perf_counter() - t0
            res = evaluate_agent(agent, env_cfg, n_eval, seed=eval_seed)
            kl = policy_kl(agent, pretrained, env_cfg, n_episodes=kl_episodes)
            beats = res.mean_return.mean > pre.mean_return.mean and not res.mean_return.overlaps(pre.mean_return)
            runs[(obj, float(beta))] = dict(agent=agent, result=res, kl=kl, seconds=secs, history=hist,
                                            beats_pretrained=beats)
    return {"pretrained": pre, "runs": runs}


# ---------------------------------------------------------------------------------------
# Timing helpers (benchmarks/large_model.py)
# ---------------------------------------------------------------------------------------
def _time_calls(fns: Mapping[str, Callable[[], object]], n_steps: int, repeats: int = 1) -> dict[str, float]:
    """Seconds per call of each side, all treated alike: ``{name: median seconds per call}``.

    :func:`rlrec_helpers._timing.paired_medians` on blocks of ``n_steps`` calls: one untimed
    block each (tracing), then ``repeats`` alternating timed blocks, so a burst of load from
    another process hits every side instead of one (as ``reinforce.step_throughput`` does).
    """
    check_int("n_steps", n_steps, lo=1)
    check_int("repeats", repeats, lo=1)

    def block(fn):
        def run() -> None:
            for _ in range(n_steps):
                fn()
        return run

    per_block = paired_medians({name: block(fn) for name, fn in fns.items()}, repeats)
    return {name: t / n_steps for name, t in per_block.items()}


def rl_step_throughput(batch_size: int = 64, horizon: int = 64, n_items: int = 2000, n_steps: int = 5,
                       seed: int = 0, repeats: int = 1, **model_kwargs) -> dict[str, float]:
    """Fine-tuning-step throughput (updates/s), ``tf.function`` vs eager, same model and batch.

    Each mode is warmed up once; with ``repeats`` > 1 the two modes alternate, ``n_steps``
    updates each time, and the medians are reported (``repeats`` must be an integer >= 1).
    Returns ``compiled``, ``eager`` (steps/s) and ``ratio`` = compiled / eager.
    """
    check_int("repeats", repeats, lo=1)
    batch = synthetic_rl_batch(batch_size, horizon, n_items, seed=seed)
    steps = {}
    for name, compiled in (("eager", False), ("compiled", True)):
        model = CausalTransformer(n_items, seed=seed, **model_kwargs)
        ref = clone_model(model, trainable=False)
        step = make_rl_train_step(model, ref, keras.optimizers.Adam(1e-4), compiled=compiled)
        steps[name] = lambda step=step: step(batch, 0.1)
    out = {name: 1.0 / secs for name, secs in _time_calls(steps, n_steps, repeats).items()}
    out["ratio"] = out["compiled"] / out["eager"]
    return out


def sampled_vs_full_softmax_timing(n_items: int, *, batch_size: int = 8, length: int = 32, n_sampled: int = 512,
                                   n_steps: int = 3, seed: int = 0, compiled: bool = True, repeats: int = 1,
                                   **model_kwargs) -> dict[str, float]:
    """Seconds per compiled pretraining step with the full and the sampled softmax.

    One model of ``n_items`` items, a synthetic batch of ``batch_size x length`` clicked
    tokens, Adam; both steps include the embedding-table updates (dense Adam updates of
    the (V, d) tables cost O(V d) in both). Each step is warmed up once; with ``repeats`` > 1
    the two alternate, ``n_steps`` steps each time, and the medians are reported (``repeats``
    must be an integer >= 1). Returns ``full``, ``sampled`` (s/step) and ``speedup`` =
    full / sampled.
    """
    check_int("n_items", n_items, lo=2)
    check_int("n_sampled", n_sampled, 1, n_items - 1, hi_name="n_items - 1")
    check_int("repeats", repeats, lo=1)
    batch = synthetic_log_batch(batch_size, length, n_items, seed=seed)
    model = CausalTransformer(n_items, seed=seed, **model_kwargs)
    steps = {}
    for name, ns in (("full", 0), ("sampled", n_sampled)):
        step = make_pretrain_step(model, keras.optimizers.Adam(1e-4), n_sampled=ns, compiled=compiled)
        steps[name] = lambda step=step: step(batch)
    out = _time_calls(steps, n_steps, repeats)
    out["speedup"] = out["full"] / out["sampled"]
    return out


def summarize_finetune(history: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Scalars of a :func:`finetune` history: ``iterations``, ``final_return`` (mean of the
    last 3 iterations' sampled returns), ``mean_kl``, ``max_kl``, ``final_kl`` (nats/step).

    Raises ``ValueError`` for a history without ``return``/``kl`` or with no iterations.
    """
    for key in ("return", "kl"):
        if key not in history:
            raise ValueError(f"history must contain {key!r} (a finetune() history), got keys {sorted(history)}")
    ret, kl = np.asarray(history["return"], float), np.asarray(history["kl"], float)
    if ret.size == 0 or ret.shape != kl.shape:
        raise ValueError(f"history['return'] and history['kl'] must be non-empty and equally long, "
                         f"got {ret.shape} and {kl.shape}")
    return {"iterations": int(ret.size), "final_return": float(ret[-3:].mean()),
            "mean_kl": float(kl.mean()), "max_kl": float(kl.max()), "final_kl": float(kl[-1])}
