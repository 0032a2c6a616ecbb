r"""Multimodal item representations and cold start (article §2.3 point 2, §8.2).

The claim tested here: *content* features (text / image embeddings) let a recommender handle
cold-start items that an ID-embedding model has never seen.

**Catalogue** (:func:`make_catalogue`). ``M = T x items_per_topic`` items (default 20 x 15 =
300). Item ``j`` has a topic ``c_j`` (T topics, ``items_per_topic`` each) and a quality
``q_j = m_{c_j} + quality_spread * N(0, 1)`` with the interest-evolution cluster means ``m_c``
(:func:`rlrec_helpers.simulator.cluster_quality_means`) and spread [0.1]. Each item has two
synthetic modality embeddings made from the latent ``z_j = [e_{c_j} ; q_j / 3]`` (one-hot
topic, scaled quality) through a fixed random projection per modality, with
modality-specific noise on the latent (fixed per item: the embedding of an item never
changes):

* ``text`` (``text_dim`` [32]): ``text_j = [e_c + s_tt eps ; q/3 + s_tq eps'] A_text`` with
  ``text_noise = (s_tt, s_tq)`` [(0.3, 0.4)];
* ``image`` (``image_dim`` [48]): the same with ``image_noise`` [(0.5, 0.3)];

``eps`` are standard normal, ``A`` has i.i.d. N(0, 1) entries and each embedding column is
then standardised (mean 0, standard deviation 1 over the catalogue). Finally a modality is
**missing** for some items (an all-zero row: no description, no usable picture): ``missing``
[(0.4, 0.4)] are the shares of items without text and without image, drawn as *disjoint*
sets, so every item has at least one modality, 20% have both, and each modality alone
describes only 60% of the catalogue. That is what makes the two modalities complementary:
either one alone is informative but imperfect, and only a fusion sees every item. The items
are split, per topic, into *warm* (used for training) and *cold* (``cold_fraction`` [0.3] of
each topic, rounded: 4 of 15, never seen in training) with a seeded permutation.

**User model** (:class:`CatalogueUserModel`). Exactly the interest-evolution dynamics
(:class:`~rlrec_helpers.simulator.InterestEvolutionModel`) except that the N candidates of a
step are N distinct items drawn uniformly from one pool (warm or cold ids) of the catalogue,
with the catalogue's topic and quality. The candidate feature vector is the T one-hot topic
columns followed by one numeric column ``"item_id"``: the item's catalogue id as a float
(exact below 2^24). We chose a feature column because it travels through the unchanged
:class:`~rlrec_helpers.simulator.BatchEnv` observation and the ``evaluate`` loop. The policy
here reads *only* that column (and the click / active flags): never the one-hot topic,
``candidate_clusters`` nor the hidden interests. Sessions are short: :data:`CATALOGUE_CONFIG`
is the ``default`` preset with ``time_budget = 60`` minutes and ``max_steps = 50``, so an
episode lasts at most 50 steps (a clicked trashy item, q = -3, drains 7.2 minutes of budget,
a nutritious one, q = 3, 0.8: quality still decides the session length) and training is fast.

**Item encoders** (:class:`ItemEncoder`, by name, output width ``dim`` [16]):

* ``"id"``: a learned embedding row per item id (cold items' rows get no gradient in
  training, so they stay at their random initialisation);
* ``"text"`` / ``"image"``: ``Dense(dim)(relu(Dense(hidden)(x)))`` of one modality;
* ``"concat"``: the same MLP on ``[text ; image]``;
* ``"gated"``: gated fusion ``g = sigmoid(W [text ; image] + b)``,
  ``z = g * (P_t text) + (1 - g) * (P_i image)`` (width ``hidden``), then ``Dense(dim)(relu(z))``.

**Policy** (:class:`MultimodalPolicy`, :class:`MultimodalAgent`). With item vectors
``v_j = enc(j)`` (M, dim), the user state before step t is built from the same vectors:
``x_t = [mean v of the clicked items ; mean v of the shown-but-not-clicked items ;
clicks / steps ; first-step flag]`` (:func:`state_features`), the user tower
``u_t = tanh(W_u x_t + b_u)`` (dim) and the score of candidate j is
``logit_j = u_t . v_j + w . v_j + b`` (the second term is the per-item term). Slates:
Gumbel-top-K (Plackett–Luce sampling) while training, greedy top-K when evaluating.

**Training** (:func:`train_multimodal`): REINFORCE on the warm pool with returns-to-go, the
per-timestep mean baseline, advantage normalisation and an entropy bonus
(:func:`rlrec_helpers.agents.reinforce.reinforce_loss`), one ``tf.function`` step per
iteration. :func:`compare_encoders` trains every encoder and evaluates it on both pools.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np

from rlrec_helpers._validate import check_choice, check_int, check_real
from rlrec_helpers.stats import check_ci_count
from rlrec_helpers.agents._training_loop import TrainingLoop
from rlrec_helpers.setup import quiet_tensorflow, seed_everything

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from rlrec_helpers.agents.reinforce import (  # noqa: E402
    discounted_returns, greedy_top_k, gumbel_top_k, reinforce_loss)
from rlrec_helpers.simulator import (  # noqa: E402
    PRESETS, BatchEnv, EvalResult, InterestEvolutionModel, QualityGreedyPolicy, RandomPolicy,
    SimulatorConfig, cluster_quality_means, evaluate)

__all__ = [
    "CATALOGUE_CONFIG", "ENCODERS", "Catalogue", "make_catalogue", "CatalogueUserModel",
    "ItemEncoder", "MultimodalPolicy", "MultimodalAgent", "state_features", "rollout_catalogue",
    "candidate_ids", "batch_logits", "POOLS",
    "train_multimodal", "evaluate_multimodal", "compare_encoders",
]

#: Interest evolution with short sessions: 60-minute budget, at most 50 steps.
CATALOGUE_CONFIG = replace(PRESETS["default"], time_budget=60.0, max_steps=50)
#: Item encoders by name.
ENCODERS = ("id", "text", "image", "concat", "gated")
POOLS = ("warm", "cold")


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True, eq=False)
class Catalogue:
    """An item catalogue with two modality embeddings and a warm/cold split.

    Attributes: ``topic`` (M,) int64 in [0, T); ``quality`` (M,) float; ``text``
    (M, text_dim) float32; ``image`` (M, image_dim) float32; ``warm_ids`` / ``cold_ids``
    sorted int64 item ids (disjoint, together all M); ``config``: the simulator config the
    catalogue is meant for (``config.n_topics = T``).
    """

    topic: np.ndarray
    quality: np.ndarray
    text: np.ndarray
    image: np.ndarray
    warm_ids: np.ndarray
    cold_ids: np.ndarray
    config: SimulatorConfig

    @property
    def n_items(self) -> int:
        return int(self.topic.shape[0])

    @property
    def text_dim(self) -> int:
        return int(self.text.shape[1])

    @property
    def image_dim(self) -> int:
        return int(self.image.shape[1])

    def pool(self, name: str) -> np.ndarray:
        """The item ids of pool ``"warm"`` or ``"cold"``."""
        check_choice("pool", name, POOLS)
        return self.warm_ids if name == "warm" else self.cold_ids


def _noisy_pair(name: str, v) -> tuple[float, float]:
    try:
        a, b = v
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of numbers >= 0, got {v!r}") from None
    return (check_real(f"{name}[0]", a, 0.0), check_real(f"{name}[1]", b, 0.0))


def make_catalogue(items_per_topic: int = 15, *, text_dim: int = 32, image_dim: int = 48,
                   text_noise: tuple[float, float] = (0.3, 0.4),
                   image_noise: tuple[float, float] = (0.5, 0.3),
                   missing: tuple[float, float] = (0.4, 0.4),
                   quality_spread: float = 0.1, cold_fraction: float = 0.3, seed: int = 0,
                   config: SimulatorConfig | None = None) -> Catalogue:
    """Build a seeded catalogue (see the module docstring for the equations).

    Args:
        items_per_topic: items per topic, >= 2 (M = T x items_per_topic).
        text_dim, image_dim: widths of the two modality embeddings, >= 1.
        text_noise, image_noise: (topic noise, quality noise) standard deviations >= 0 added
            to the latent ``[e_c ; q / 3]`` before the modality's random projection.
        missing: (text share, image share) of items whose text / image embedding is
            missing (an all-zero row, i.e. the catalogue mean); the two sets are disjoint, so
            every item has at least one modality. Shares >= 0 with sum <= 1.
        quality_spread: per-item standard deviation of quality around its cluster mean, >= 0.
        cold_fraction: share of each topic's items held out as cold, in (0, 1); every topic
            keeps at least one warm and one cold item.
        seed: non-negative integer; the same seed gives the same catalogue.
        config: interest-evolution :class:`SimulatorConfig` (default :data:`CATALOGUE_CONFIG`);
            its ``n_topics`` and cluster quality means are used.

    A setting in which every item gets the same latent (one topic, no noise, no quality
    spread) raises ``ValueError``: the standardised embedding would be 0/0.
    """
    config = (CATALOGUE_CONFIG if config is None else config)
    if not isinstance(config, SimulatorConfig):
        raise ValueError(f"config must be a SimulatorConfig, got {type(config).__name__}")
    config = config.validate()
    if config.user_model != "interest_evolution" or config.quality_signal_noise is not None:
        raise ValueError("config must be an interest-evolution config with quality_signal_noise=None")
    per = check_int("items_per_topic", items_per_topic, 2, 100_000)
    text_dim = check_int("text_dim", text_dim, 1, 100_000)
    image_dim = check_int("image_dim", image_dim, 1, 100_000)
    tn, im = _noisy_pair("text_noise", text_noise), _noisy_pair("image_noise", image_noise)
    miss = _noisy_pair("missing", missing)
    if sum(miss) > 1.0:
        raise ValueError(f"missing shares must sum to <= 1, got {missing!r}")
    spread = check_real("quality_spread", quality_spread, 0.0)
    frac = check_real("cold_fraction", cold_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    seed = check_int("seed", seed, 0)
    n_cold = int(round(frac * per))
    if not 1 <= n_cold <= per - 1:
        raise ValueError(f"cold_fraction must leave at least one warm and one cold item per topic "
                         f"(items_per_topic={per}), got {cold_fraction!r}")
    t = config.n_topics
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    q_rng, split_rng, text_rng, image_rng, miss_rng = streams
    topic = np.repeat(np.arange(t, dtype=np.int64), per)
    quality = cluster_quality_means(config)[topic] + spread * q_rng.standard_normal(topic.size)
    onehot = np.eye(t)[topic]

    def modality(rng, noise, dim, name):
        latent = np.concatenate([onehot + noise[0] * rng.standard_normal(onehot.shape),
                                 (quality / 3.0 + noise[1] * rng.standard_normal(quality.shape))[:, None]],
                                axis=1)
        if np.all(latent == latent[0]):  # every column would have standard deviation 0 (or rounding noise)
            raise ValueError(f"the {name} embedding would be the same for every item (equal latents [e_c ; q / 3]): "
                             f"use {name}_noise > 0, quality_spread > 0 or more than one topic")
        proj = rng.standard_normal((t + 1, dim))
        emb = latent @ proj
        return ((emb - emb.mean(0)) / emb.std(0)).astype(np.float32)   # standardised columns

    text = modality(text_rng, tn, text_dim, "text")
    image = modality(image_rng, im, image_dim, "image")
    order = miss_rng.permutation(topic.size)
    n_text, n_image = int(round(miss[0] * topic.size)), int(round(miss[1] * topic.size))
    text[order[:n_text]] = 0.0
    image[order[n_text:n_text + n_image]] = 0.0
    cold = np.concatenate([c * per + split_rng.permutation(per)[:n_cold] for c in range(t)])
    is_cold = np.zeros(topic.size, bool)
    is_cold[cold] = True
    return Catalogue(topic, quality, text, image, np.flatnonzero(~is_cold), np.flatnonzero(is_cold),
                     config)


# --------------------------------------------------------------------------- user model


class CatalogueUserModel(InterestEvolutionModel):
    """Interest evolution whose candidates are N distinct items of one catalogue pool.

    Items: ``{"cluster": topic, "quality": catalogue quality, "item_id": id}`` (B, N); the
    features are the T one-hot topic columns then ``item_id`` (as float32). Everything else
    (users, choice, reward, budget, interest evolution) is :class:`InterestEvolutionModel`'s.
    Pass it to ``BatchEnv(catalogue.config, ..., user_model=...)`` or ``evaluate(...,
    user_model=...)``. Note: ``catalogue.config.n_features`` still says T (it is computed from
    the registered interest-evolution model); the observed width is T + 1.
    """

    def __init__(self, catalogue: Catalogue, pool: str = "warm"):
        if not isinstance(catalogue, Catalogue):
            raise ValueError(f"catalogue must be a Catalogue, got {type(catalogue).__name__}")
        super().__init__(catalogue.config)
        self.catalogue = catalogue
        self.pool_name = pool
        self.pool_ids = catalogue.pool(pool)
        if self.pool_ids.size < self.config.n_candidates:
            raise ValueError(f"the {pool} pool has {self.pool_ids.size} items, fewer than "
                             f"n_candidates={self.config.n_candidates}")

    @classmethod
    def numeric_feature_names(cls, config):
        return ("item_id",)

    def numeric_bounds(self):
        return np.zeros(1, np.float32), np.full(1, self.catalogue.n_items - 1, np.float32)

    def sample_items(self, rng, b):
        n, p = self.config.n_candidates, self.pool_ids.size
        pick = np.argpartition(rng.random((b, p)), n - 1, axis=1)[:, :n]  # N distinct per row
        ids = self.pool_ids[pick]
        return {"cluster": self.catalogue.topic[ids], "quality": self.catalogue.quality[ids],
                "item_id": ids}

    def features(self, items, state):
        return np.concatenate([self._eye[items["cluster"]],
                               items["item_id"][..., None].astype(np.float32)], axis=-1)


def candidate_ids(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    """The candidates' catalogue ids (B, N) int64 from an observation (last feature column)."""
    return np.rint(np.asarray(obs["candidate_features"])[..., -1]).astype(np.int64)


# --------------------------------------------------------------------------- network


class ItemEncoder(keras.layers.Layer):
    """Item vectors (..., dim) from item ids and/or modality embeddings (see module docstring).

    ``call({"item_id": (...,) int, "text": (..., text_dim), "image": (..., image_dim)})``;
    only the inputs the encoder ``kind`` needs are read (``"id"``: item_id; ``"text"``: text;
    ``"image"``: image; ``"concat"`` / ``"gated"``: both). A modality of the wrong width
    raises ``ValueError`` naming it.
    """

    def __init__(self, kind: str, n_items: int, text_dim: int, image_dim: int, dim: int = 16,
                 hidden: int = 32, **kwargs):
        super().__init__(**kwargs)
        check_choice("encoder", kind, ENCODERS)
        self.kind = kind
        self._args = dict(kind=kind, n_items=n_items, text_dim=text_dim, image_dim=image_dim,
                          dim=dim, hidden=hidden)
        self.n_items = check_int("n_items", n_items, 1)
        self.text_dim = check_int("text_dim", text_dim, 1)
        self.image_dim = check_int("image_dim", image_dim, 1)
        self.dim = check_int("dim", dim, 1)
        self.hidden = check_int("hidden", hidden, 1)
        if kind == "id":
            self.embedding = keras.layers.Embedding(self.n_items, self.dim, name="id_embedding")
            self.embedding.build((None,))
            return
        if kind == "gated":
            self.gate = keras.layers.Dense(self.hidden, activation="sigmoid", name="gate")
            self.proj_text = keras.layers.Dense(self.hidden, name="proj_text")
            self.proj_image = keras.layers.Dense(self.hidden, name="proj_image")
            self.gate.build((None, self.text_dim + self.image_dim))
            self.proj_text.build((None, self.text_dim))
            self.proj_image.build((None, self.image_dim))
        else:
            width = {"text": self.text_dim, "image": self.image_dim,
                     "concat": self.text_dim + self.image_dim}[kind]
            self.mlp = keras.layers.Dense(self.hidden, activation="relu", name="hidden")
            self.mlp.build((None, width))
        self.out = keras.layers.Dense(self.dim, name="out")
        self.out.build((None, self.hidden))

    def get_config(self):
        return {**super().get_config(), **self._args}

    def _modality(self, inputs, name: str, width: int):
        if name not in inputs or inputs[name] is None:
            raise ValueError(f"the {self.kind!r} encoder needs inputs[{name!r}] (..., {width})")
        x = tf.convert_to_tensor(inputs[name], tf.float32)
        if x.shape.rank is None or x.shape.rank < 1 or x.shape[-1] != width:
            raise ValueError(f"{name} must have shape (..., {name}_dim={width}), got {tuple(x.shape)}")
        return x

    def call(self, inputs):
        if not isinstance(inputs, Mapping):
            raise ValueError("inputs must be a dict with keys 'item_id', 'text' and/or 'image'")
        if self.kind == "id":
            if inputs.get("item_id") is None:
                raise ValueError("the 'id' encoder needs inputs['item_id'] (...,) int")
            return self.embedding(tf.cast(inputs["item_id"], tf.int32))
        if self.kind in ("text", "image"):
            width = self.text_dim if self.kind == "text" else self.image_dim
            return self.out(self.mlp(self._modality(inputs, self.kind, width)))
        text = self._modality(inputs, "text", self.text_dim)
        image = self._modality(inputs, "image", self.image_dim)
        both = tf.concat([text, image], axis=-1)
        if self.kind == "concat":
            return self.out(self.mlp(both))
        g = self.gate(both)
        z = g * self.proj_text(text) + (1.0 - g) * self.proj_image(image)
        return self.out(tf.nn.relu(z))


def state_features(sum_click, n_click, sum_skip, n_skip, step):
    """User-state inputs (..., 2 dim + 2) from running sums of item vectors.

    ``sum_click`` / ``sum_skip`` (..., dim): sums of the vectors of the clicked / shown but
    not clicked items so far; ``n_click`` / ``n_skip`` (...,) their counts; ``step`` (...,)
    the number of steps so far. Returns ``[mean clicked ; mean skipped ; n_click / max(step, 1) ;
    step == 0]`` as float32: a numpy array if every input is numpy, else a TF tensor.
    """
    args = (sum_click, n_click, sum_skip, n_skip, step)
    if all(isinstance(a, np.ndarray) for a in args):
        f32, cat, maximum = (lambda a: np.asarray(a, np.float32)), np.concatenate, np.maximum
    else:
        f32, cat, maximum = (lambda a: tf.cast(a, tf.float32)), tf.concat, tf.maximum
    sum_click, n_click, sum_skip, n_skip, step = (f32(a) for a in args)
    return cat([sum_click / maximum(n_click, 1.0)[..., None],
                sum_skip / maximum(n_skip, 1.0)[..., None],
                (n_click / maximum(step, 1.0))[..., None],
                f32(step == 0.0)[..., None]], axis=-1)


class MultimodalPolicy(keras.Model):
    """Item encoder + user tower + dot-product scoring head (Keras 3).

    :meth:`item_table` encodes the whole catalogue: ``(V (M, dim), b (M,))`` with the per-item
    term ``b_j = w . v_j + b0``; :meth:`logits` scores candidates ``(..., N)`` from state
    inputs ``x`` (..., 2 dim + 2) (:func:`state_features`) and candidate ids (..., N).
    """

    def __init__(self, encoder: str, n_items: int, text_dim: int, image_dim: int, dim: int = 16,
                 hidden: int = 32, **kwargs):
        super().__init__(**kwargs)
        self._args = dict(encoder=encoder, n_items=n_items, text_dim=text_dim, image_dim=image_dim,
                          dim=dim, hidden=hidden)
        self.encoder = ItemEncoder(encoder, n_items, text_dim, image_dim, dim, hidden, name="encoder")
        # zero-initialised heads: the untrained policy is uniform over the candidates
        self.tower = keras.layers.Dense(self.encoder.dim, activation="tanh", name="user_tower",
                                        kernel_initializer="zeros")
        self.item_term = keras.layers.Dense(1, name="item_term", kernel_initializer="zeros")
        self.tower.build((None, 2 * self.encoder.dim + 2))
        self.item_term.build((None, self.encoder.dim))
        self.built = True

    def get_config(self):
        return {**super().get_config(), **self._args}

    def item_table(self, item_ids, text, image):
        """(V (M, dim), b (M,)) for all catalogue items."""
        v = self.encoder({"item_id": item_ids, "text": text, "image": image})
        return v, tf.squeeze(self.item_term(v), -1)

    def logits(self, v, b, x, cand_ids):
        """Scores (..., N) = u(x) . v_cand + b_cand."""
        u = self.tower(x)
        return tf.einsum("...d,...nd->...n", u, tf.gather(v, cand_ids)) + tf.gather(b, cand_ids)


class MultimodalAgent:
    """A :class:`MultimodalPolicy` behind the simulator's slate-policy protocol.

    ``reset(batch_size)`` / ``act(obs, env)`` -> (B, K) slates (greedy unless ``sample``).
    The candidates' catalogue ids are read from the ``item_id`` feature column; the agent
    keeps, per user, running sums of the vectors of clicked and skipped items. The item
    table is recomputed at the first ``act`` after each ``reset``. The model's encoder must
    have been built for the catalogue (same ``n_items``, ``text_dim``, ``image_dim``).
    """

    def __init__(self, model: MultimodalPolicy, catalogue: Catalogue, *, sample: bool = False,
                 seed: int = 0):
        if not isinstance(model, MultimodalPolicy):
            raise ValueError(f"model must be a MultimodalPolicy, got {type(model).__name__}")
        if not isinstance(catalogue, Catalogue):
            raise ValueError(f"catalogue must be a Catalogue, got {type(catalogue).__name__}")
        for name in ("n_items", "text_dim", "image_dim"):
            mine, theirs = getattr(model.encoder, name), getattr(catalogue, name)
            if mine != theirs:
                raise ValueError(f"model.encoder.{name} ({mine}) must equal catalogue.{name} ({theirs})")
        self.model, self.catalogue = model, catalogue
        self.encoder_name = model.encoder.kind
        self.sample = bool(sample)
        self.rng = np.random.default_rng(seed)
        self._ids = tf.constant(np.arange(catalogue.n_items), tf.int32)
        self._text = tf.constant(catalogue.text)
        self._image = tf.constant(catalogue.image)
        self.reset(1)

    def item_table(self):
        """(V (M, dim), b (M,)) tensors for the whole catalogue."""
        return self.model.item_table(self._ids, self._text, self._image)

    def reset(self, batch_size: int) -> None:
        b = check_int("batch_size", batch_size, 1)
        d = self.model.encoder.dim
        self._sums = np.zeros((2, b, d), np.float32)   # clicked, skipped
        self._counts = np.zeros((2, b), np.float32)
        self._t = np.zeros(b, np.float32)
        self._shown = None
        self._table = None
        self.last_ids = self.last_logits = None

    def act(self, obs: Mapping[str, np.ndarray], env=None) -> np.ndarray:
        ids = candidate_ids(obs)
        b, n = ids.shape
        k = self.catalogue.config.slate_size
        if b != self._t.shape[0]:
            raise ValueError(f"obs has {b} users but the agent was reset for {self._t.shape[0]}")
        if self._table is None:   # numpy copies of the item table and the user tower
            v, bias = self.item_table()
            self._table = (v.numpy(), bias.numpy(), self.model.tower.kernel.numpy(),
                           self.model.tower.bias.numpy())
        v, bias, w_u, b_u = self._table
        if self._shown is not None:   # fold in the response to the previous slate
            pos = np.asarray(obs["clicked"], np.int64)
            hit = np.zeros(self._shown.shape, np.float32)
            rows = np.flatnonzero(pos >= 0)
            hit[rows, pos[rows]] = 1.0
            vec = v[self._shown]                                   # (B, K, d)
            self._sums[0] += (vec * hit[..., None]).sum(1)
            self._sums[1] += (vec * (1.0 - hit)[..., None]).sum(1)
            self._counts += np.stack([hit.sum(1), (1.0 - hit).sum(1)])
        x = state_features(self._sums[0], self._counts[0], self._sums[1], self._counts[1], self._t)
        u = np.tanh(x @ w_u + b_u)                      # MultimodalPolicy.logits in numpy
        logits = np.einsum("bd,bnd->bn", u, v[ids]) + bias[ids]
        slates = gumbel_top_k(logits, k, self.rng) if self.sample else greedy_top_k(logits, k)
        self._shown = np.take_along_axis(ids, slates, axis=1)
        self._t = self._t + 1.0
        self.last_ids, self.last_logits = ids, logits
        return slates


# --------------------------------------------------------------------------- training


def rollout_catalogue(agent: MultimodalAgent, env: BatchEnv, *, seed: int | None = None) -> dict[str, np.ndarray]:
    """One episode per user of ``env`` with ``agent``; a training batch (all (B, L, ...)).

    ``cand_ids`` (B, L, N) int32, ``slates`` (B, L, K) int32, ``clicked`` (B, L) int32 slate
    position clicked in response (-1: none or user inactive), ``rewards`` (B, L), ``mask``
    (B, L) (user active when the slate was shown), ``episode_return`` (B,).
    """
    obs = env.reset(seed=seed)
    agent.reset(env.batch_size)
    cands, slates, clicks, rewards, masks = [], [], [], [], []
    while obs["active"].any():
        active = obs["active"].copy()
        slate = agent.act(obs, env)
        cands.append(agent.last_ids.astype(np.int32))
        slates.append(slate.astype(np.int32))
        obs, reward, _, _ = env.step(slate)
        clicks.append(np.where(active, obs["clicked"], -1).astype(np.int32))
        rewards.append(reward * active)
        masks.append(active.astype(np.float32))
    out = {k: np.stack(v, axis=1) for k, v in
           (("cand_ids", cands), ("slates", slates), ("clicked", clicks), ("rewards", rewards),
            ("mask", masks))}
    out["episode_return"] = out["rewards"].sum(1)
    return out


def batch_logits(model: MultimodalPolicy, v, b, cand_ids, slates, clicked):
    """Training-time logits (B, L, N): the state at step t reads the responses of steps < t.

    Same equations as :meth:`MultimodalAgent.act`, vectorised over time with exclusive
    cumulative sums of the clicked / skipped item vectors.
    """
    k = slates.shape[-1]
    shown = tf.gather(cand_ids, slates, batch_dims=2)                     # (B, L, K)
    vec = tf.gather(v, shown)                                             # (B, L, K, d)
    hit = tf.one_hot(clicked, k, dtype=tf.float32)                        # -1 -> zeros
    seen = 1.0 - hit                                                      # shown, skipped
    cum = lambda x: tf.cumsum(x, axis=1, exclusive=True)  # noqa: E731
    steps = tf.cast(tf.range(tf.shape(clicked)[1]), tf.float32)[None, :] + tf.zeros_like(
        tf.cast(clicked, tf.float32))
    x = state_features(cum(tf.einsum("blk,blkd->bld", hit, vec)), cum(tf.reduce_sum(hit, -1)),
                       cum(tf.einsum("blk,blkd->bld", seen, vec)), cum(tf.reduce_sum(seen, -1)), steps)
    return model.logits(v, b, x, cand_ids)


class _Trainer:
    """Adam + one compiled REINFORCE step for a :class:`MultimodalAgent`'s network."""

    def __init__(self, agent: MultimodalAgent, *, lr: float, gamma: float, entropy_coef: float,
                 max_grad_norm: float = 1.0):
        self.agent, self.gamma, self.entropy_coef = agent, gamma, entropy_coef
        self.max_grad_norm = max_grad_norm
        self.optimizer = keras.optimizers.Adam(learning_rate=lr)
        self.optimizer.build(agent.model.trainable_variables)
        k = agent.catalogue.config.slate_size
        self._step = tf.function(self._raw_step, input_signature=(
            tf.TensorSpec([None, None, None], tf.int32), tf.TensorSpec([None, None, k], tf.int32),
            tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.float32),
            tf.TensorSpec([None, None], tf.float32)))

    def _raw_step(self, cand_ids, slates, clicked, returns, mask):
        model = self.agent.model
        variables = model.trainable_variables
        with tf.GradientTape() as tape:
            v, b = self.agent.item_table()
            logits = batch_logits(model, v, b, cand_ids, slates, clicked)
            parts = reinforce_loss(logits, tf.zeros_like(returns), slates, returns, mask,
                                   baseline="mean", normalize=True,
                                   entropy_coef=self.entropy_coef, value_coef=0.0)
        grads = tape.gradient(parts["loss"], variables)
        grads, _ = tf.clip_by_global_norm(grads, self.max_grad_norm)
        self.optimizer.apply_gradients(zip(grads, variables))
        return parts

    def step(self, batch: Mapping[str, np.ndarray]) -> dict[str, float]:
        returns = discounted_returns(batch["rewards"], batch["mask"], self.gamma)
        out = self._step(tf.constant(batch["cand_ids"]), tf.constant(batch["slates"]),
                         tf.constant(batch["clicked"]), tf.constant(returns, tf.float32),
                         tf.constant(batch["mask"]))
        return {k: float(v) for k, v in out.items()}


def train_multimodal(encoder: str, catalogue: Catalogue, *, n_iters: int = 80, batch_size: int = 64,
                     lr: float = 5e-3, gamma: float = 0.98, entropy_coef: float = 0.01, dim: int = 16,
                     hidden: int = 32, seed: int = 0) -> tuple[MultimodalAgent, dict[str, np.ndarray]]:
    """Train a policy with item encoder ``encoder`` by REINFORCE on the catalogue's WARM pool.

    Each iteration rolls out ``batch_size`` sessions (Gumbel-top-K slates) and applies one
    compiled update (returns-to-go with discount ``gamma``, per-timestep mean baseline,
    normalised advantages, entropy bonus ``entropy_coef``, Adam step ``lr``, gradient-norm
    clip 1). Returns ``(agent, history)``: the agent in greedy mode and per-iteration arrays
    ``iteration``, ``return`` (mean undiscounted training return, minutes), ``length``
    (mean session steps), ``entropy``, ``loss``, ``wall_time`` (s, cumulative).
    """
    check_choice("encoder", encoder, ENCODERS)
    if not isinstance(catalogue, Catalogue):
        raise ValueError(f"catalogue must be a Catalogue, got {type(catalogue).__name__}")
    n_iters = check_int("n_iters", n_iters, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    lr = check_real("lr", lr, 0.0, lo_open=True)
    gamma = check_real("gamma", gamma, 0.0, 1.0)
    entropy_coef = check_real("entropy_coef", entropy_coef, 0.0)
    seed = check_int("seed", seed, 0)
    seed_everything(seed, use_tf=True)
    model = MultimodalPolicy(encoder, catalogue.n_items, catalogue.text_dim, catalogue.image_dim,
                             dim=dim, hidden=hidden)
    agent = MultimodalAgent(model, catalogue, sample=True, seed=seed)
    trainer = _Trainer(agent, lr=lr, gamma=gamma, entropy_coef=entropy_coef)
    env = BatchEnv(catalogue.config, batch_size, seed=seed,
                   user_model=CatalogueUserModel(catalogue, "warm"))
    loop = TrainingLoop(n_iters, ("return", "length", "entropy", "loss", "wall_time"))
    for it in loop:
        with loop.timed():
            batch = rollout_catalogue(agent, env, seed=seed * 1_000_003 + it)
            stats = trainer.step(batch)
        loop.log({"return": float(batch["episode_return"].mean()), "length": float(batch["mask"].sum(1).mean()),
                  "entropy": stats["entropy"], "loss": stats["loss"], "wall_time": loop.wall_time})
    agent.sample = False
    return agent, loop.history()


def evaluate_multimodal(agent, catalogue: Catalogue, pool: str = "cold", n_episodes: int = 500,
                        seed: int = 2024) -> EvalResult:
    """Evaluate any slate policy (greedy for a :class:`MultimodalAgent`) on one pool.

    Runs :func:`rlrec_helpers.simulator.evaluate` with a :class:`CatalogueUserModel` on
    ``pool`` (``"warm"`` or ``"cold"``); same seed = same users and candidates for every
    policy. Return in minutes watched per session (at most 50 steps). A
    :class:`MultimodalAgent` must be evaluated on its own ``agent.catalogue``.
    """
    if not isinstance(catalogue, Catalogue):
        raise ValueError(f"catalogue must be a Catalogue, got {type(catalogue).__name__}")
    if isinstance(agent, MultimodalAgent) and agent.catalogue is not catalogue:
        raise ValueError("agent was built for another catalogue; evaluate it on agent.catalogue")
    user_model = CatalogueUserModel(catalogue, pool)
    n_episodes = check_ci_count("n_episodes", n_episodes)   # the returns get a 95% CI
    old = getattr(agent, "sample", None)
    if old is not None:
        agent.sample = False
    try:
        return evaluate(agent, catalogue.config, n_episodes=n_episodes, seed=seed,
                        batch_size=min(n_episodes, 1000), user_model=user_model)
    finally:
        if old is not None:
            agent.sample = old


def compare_encoders(encoders: Sequence[str] = ENCODERS, catalogue: Catalogue | None = None, *,
                     n_iters: int = 80, batch_size: int = 64, n_episodes: int = 500,
                     seed: int = 0, eval_seed: int = 2024, references: bool = True,
                     return_agents: bool = False):
    """Train one policy per encoder on the warm pool; evaluate it on the warm and cold pools.

    Returns a pandas DataFrame, one row per encoder (then the reference rows ``random`` and
    the privileged ``quality-greedy`` if ``references``), with columns ``encoder``,
    ``warm_return``, ``warm_low``, ``warm_high``, ``cold_return``, ``cold_low``, ``cold_high``
    (mean return in minutes and its 95% CI over ``n_episodes`` sessions, common random
    numbers across rows) and ``final_train_return`` (mean of the last 5 iterations; NaN for
    the untrained references). ``catalogue`` defaults to ``make_catalogue(seed=seed)``.
    Training wall times (s) are in ``df.attrs["train_seconds"]``. With ``return_agents``
    the result is ``(df, {encoder: trained MultimodalAgent})``.
    """
    import pandas as pd

    encoders = tuple(encoders)
    if not encoders or any(e not in ENCODERS for e in encoders):
        raise ValueError(f"encoders must be a non-empty sequence of names from {ENCODERS}, got {encoders!r}")
    catalogue = make_catalogue(seed=seed) if catalogue is None else catalogue
    rows, agents, took = [], {}, {}

    def row(name, policy, train_return):
        r = {"encoder": name}
        for pool in POOLS:
            res = evaluate_multimodal(policy, catalogue, pool, n_episodes=n_episodes, seed=eval_seed)
            m = res.mean_return
            r.update({f"{pool}_return": m.mean, f"{pool}_low": m.low, f"{pool}_high": m.high})
        r["final_train_return"] = train_return
        rows.append(r)

    for name in encoders:
        t0 = time.perf_counter()
        agent, hist = train_multimodal(name, catalogue, n_iters=n_iters, batch_size=batch_size, seed=seed)
        took[name] = time.perf_counter() - t0
        agents[name] = agent
        row(name, agent, float(hist["return"][-5:].mean()))
    if references:
        row("random", RandomPolicy(seed), float("nan"))
        row("quality-greedy", QualityGreedyPolicy(), float("nan"))
    df = pd.DataFrame(rows)
    df.attrs["train_seconds"] = took
    return (df, agents) if return_agents else df


def compare_encoders_over_seeds(seeds: Sequence[int] = (0, 1, 2), catalogue: Catalogue | None = None, *,
                                encoders: Sequence[str] = ENCODERS, **kwargs):
    """:func:`compare_encoders` once per *training* seed, on one catalogue and one evaluation seed.

    One training run per encoder measures only that run: its CI covers the evaluation noise,
    not the spread between training runs, which here is larger. Returns ``(per_seed, summary)``:
    ``per_seed`` has the columns of :func:`compare_encoders` plus ``seed`` (the references
    ``random`` and ``quality-greedy`` once, with the first seed); ``summary`` has one row per
    encoder (then the references) with ``warm_return``/``cold_return`` (mean over seeds, minutes)
    and ``warm_low``/``warm_high``/``cold_low``/``cold_high`` (95% Student-t CI over the seeds;
    the references' rows keep their evaluation CI). ``catalogue`` defaults to ``make_catalogue(seed=0)``.
    """
    import pandas as pd

    from rlrec_helpers.stats import mean_ci

    seeds = tuple(seeds)
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be at least 2 distinct non-negative integers, got {seeds!r}")
    seeds = tuple(check_int(f"seeds[{i}]", x, 0) for i, x in enumerate(seeds))
    catalogue = make_catalogue(seed=0) if catalogue is None else catalogue
    parts = [compare_encoders(encoders, catalogue, seed=int(s), references=(i == 0), **kwargs).assign(seed=int(s))
             for i, s in enumerate(seeds)]
    per_seed = pd.concat(parts, ignore_index=True)
    rows = []
    for name in encoders:
        r = {"encoder": name}
        for pool in POOLS:
            ci = mean_ci(per_seed.loc[per_seed["encoder"] == name, f"{pool}_return"].to_numpy())
            r.update({f"{pool}_return": ci.mean, f"{pool}_low": ci.low, f"{pool}_high": ci.high})
        rows.append(r)
    refs = per_seed[~per_seed["encoder"].isin(encoders)]
    cols = ["encoder"] + [f"{p}_{k}" for p in POOLS for k in ("return", "low", "high")]
    summary = pd.concat([pd.DataFrame(rows), refs[cols]], ignore_index=True)
    return per_seed, summary
