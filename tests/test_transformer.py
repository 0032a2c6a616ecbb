"""Tests for rlrec_helpers.agents.transformer (the causal-transformer recommender)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from rlrec_helpers.agents import transformer as T
from rlrec_helpers.simulator import BatchEnv, evaluate

#: tiny catalogue and network so that every trace is fast (one layer: tracing a compiled
#: step costs time proportional to the graph size); two layers where only eager calls run
TINY = T.TransformerConfig(n_buckets=4, d_model=16, n_layers=1, n_heads=2, window=4, ff_mult=2)
TWO_LAYERS = replace(TINY, n_layers=2)
ENV = T.transformer_env_config()


@pytest.fixture(scope="module")
def tiny_agent():
    return T.TransformerAgent(TINY, seed=3)


@pytest.fixture(scope="module")
def two_layer_agent():
    return T.TransformerAgent(TWO_LAYERS, seed=4)


def _tokens(rng, b, L, n_items):
    return (rng.integers(0, n_items + 2, (b, L)).astype(np.int32), rng.integers(0, 3, (b, L)).astype(np.int32),
            rng.random((b, L)).astype(np.float32))


# ------------------------------------------------------------------ catalogue and config


def test_catalogue_ids_hand_computed():
    cat = T.ItemCatalogue(n_topics=3, n_buckets=4, quality_min=-2.0, quality_max=2.0)
    ids = cat.ids(np.array([0, 1, 2, 2]), np.array([-5.0, -0.1, 0.1, 1.99]))
    np.testing.assert_array_equal(ids, [0, 4 + 1, 8 + 2, 8 + 3])
    np.testing.assert_allclose(cat.quality_of(ids), [-1.5, -0.5, 0.5, 1.5])
    np.testing.assert_array_equal(cat.topic_of(ids), [0, 1, 2, 2])
    with pytest.raises(ValueError, match="topics"):
        cat.ids(np.array([3]), np.array([0.0]))


def test_candidate_ids_need_quality_column():
    cat = TINY.catalogue
    obs = BatchEnv("default", 2, seed=0).reset()
    with pytest.raises(ValueError, match="quality"):
        cat.candidate_ids(obs)
    obs = BatchEnv(ENV, 2, seed=0).reset()
    ids = cat.candidate_ids(obs)
    assert ids.shape == (2, ENV.n_candidates)
    np.testing.assert_array_equal(cat.topic_of(ids), obs["candidate_clusters"])


@pytest.mark.parametrize("bad, field", [(dict(d_model=10, n_heads=4), r"d_model \(10\) must be divisible by n_heads"),
                                        (dict(window=0), "window"), (dict(n_buckets=0), "n_buckets"),
                                        (dict(doc_length=0.0), "doc_length"),
                                        (dict(quality_min=1.0, quality_max=0.0), "quality_max must be greater"),
                                        (dict(doc_length=float("inf")), "doc_length"),
                                        (dict(doc_length=float("nan")), "doc_length"),
                                        (dict(quality_max=float("inf")), "quality_max"),
                                        (dict(quality_min=-float("inf")), "quality_min")])
def test_config_validation(bad, field):
    with pytest.raises(ValueError, match=field):
        replace(TINY, **bad).validate()


@pytest.mark.parametrize("bad, name", [(dict(quality_max=float("inf")), "quality_max"),
                                       (dict(quality_min=float("nan")), "quality_min"),
                                       (dict(quality_min=-float("inf")), "quality_min")])
def test_catalogue_rejects_non_finite_quality_range(bad, name):
    with pytest.raises(ValueError, match=name):
        T.ItemCatalogue(**bad)
    with pytest.raises(ValueError, match="doc_length"):
        replace(TINY, doc_length=float("inf")).validate()


def test_finetune_and_pretrain_config_validation():
    with pytest.raises(ValueError, match="objective"):
        T.FinetuneConfig(objective="ppo").validate()
    with pytest.raises(ValueError, match="beta"):
        T.FinetuneConfig(beta=-1.0).validate()
    with pytest.raises(ValueError, match="group_size"):
        T.FinetuneConfig(objective="grpo", batch_size=10, group_size=4).validate()
    with pytest.raises(ValueError, match="holdout"):
        T.PretrainConfig(holdout=0.9).validate()
    for bad in (float("inf"), float("nan"), 0.0, "1e-3"):
        with pytest.raises(ValueError, match="lr"):
            T.PretrainConfig(lr=bad).validate()
        with pytest.raises(ValueError, match="lr"):
            T.FinetuneConfig(lr=bad).validate()
    for bad in ("0.1", float("inf"), float("nan"), None, True):
        with pytest.raises(ValueError, match="beta"):
            T.FinetuneConfig(beta=bad).validate()
    with pytest.raises(ValueError, match="gamma"):
        T.FinetuneConfig(gamma="0.9").validate()


def test_n_sampled_must_be_below_the_catalogue_size(tiny_logs):
    import keras

    model = T.CausalTransformer(**TINY.model_kwargs(), seed=0)  # TINY: 80 items
    with pytest.raises(ValueError, match=r"^n_sampled must be an integer in \[1, n_items - 1=79\], got 80$"):
        T.make_pretrain_step(model, keras.optimizers.Adam(1e-3), n_sampled=TINY.n_items)
    with pytest.raises(ValueError, match="n_sampled"):
        T.pretrain(ENV, T.PretrainConfig(n_sessions=60, n_sampled=TINY.n_items), agent_config=TINY, logs=tiny_logs)
    T.make_pretrain_step(model, keras.optimizers.Adam(1e-3), n_sampled=TINY.n_items - 1, compiled=False)


# ------------------------------------------------------------------ model


def test_shapes(tiny_agent):
    m = tiny_agent.model
    rng = np.random.default_rng(0)
    items, resp, watch = _tokens(rng, 3, 7, m.n_items)
    h = m.hidden(items, resp, watch)
    assert h.shape == (3, 7, 16)
    assert m.item_logits(h).shape == (3, 7, m.n_items)
    cand = rng.integers(0, m.n_items, (3, 7, 5))
    assert m.candidate_logits(h, cand).shape == (3, 7, 5)
    # candidate logits are the catalogue logits at the candidates' ids
    full = m.item_logits(h).numpy()
    np.testing.assert_allclose(m.candidate_logits(h, cand).numpy(), np.take_along_axis(full, cand, -1), atol=1e-5)


def test_causal_and_local_masking(two_layer_agent):
    m = two_layer_agent.model
    rng = np.random.default_rng(1)
    items, resp, watch = _tokens(rng, 2, 12, m.n_items)
    h = m.hidden(items, resp, watch).numpy()
    # change the future (positions >= 6): outputs before 6 must not move, later ones must
    items2, watch2 = items.copy(), watch.copy()
    items2[:, 6:] = (items2[:, 6:] + 1) % m.n_items
    watch2[:, 6:] += 1.0
    h2 = m.hidden(items2, resp, watch2).numpy()
    np.testing.assert_allclose(h2[:, :6], h[:, :6], atol=1e-6)
    assert np.abs(h2[:, 6:] - h[:, 6:]).max() > 1e-3
    # change position 0: positions >= window only see positions > 0 through the layers
    # above, so with n_layers = 2 a token influences at most 2 * (window - 1) steps ahead
    items3 = items.copy()
    items3[:, 0] = (items3[:, 0] + 1) % m.n_items
    h3 = m.hidden(items3, resp, watch).numpy()
    reach = m.n_layers * (m.window - 1)
    assert np.abs(h3[:, :reach + 1] - h[:, :reach + 1]).max() > 1e-4
    np.testing.assert_allclose(h3[:, reach + 1:], h[:, reach + 1:], atol=1e-6)
    assert T.receptive_field(m, length=12) == min(reach + 1, 12)


@pytest.mark.parametrize("n_layers, window", [(1, 4), (2, 4), (3, 3)])
def test_receptive_field_is_layers_times_window_minus_one_plus_one(n_layers, window):
    m = T.build_model(30, d_model=16, n_layers=n_layers, n_heads=2, window=window, seed=0)
    assert T.receptive_field(m) == n_layers * (window - 1) + 1
    assert T.receptive_field(m, length=3) == min(3, n_layers * (window - 1) + 1)
    with pytest.raises(ValueError, match="length must be an integer >= 2"):
        T.receptive_field(m, length=1)


@pytest.mark.parametrize("L,W", [(5, 8), (37, 8), (10, 3), (3, 1)])
def test_blocked_attention_equals_dense_banded(L, W):
    import tensorflow as tf

    rng = np.random.default_rng(L)
    q, k, v = [tf.constant(rng.normal(size=(2, L, 2, 4)), tf.float32) for _ in range(3)]
    out = T.local_causal_attention(q, k, v, W).numpy()
    s = tf.einsum("blhd,bmhd->bhlm", q, k) / 2.0 + T.band_mask_bias(L, W)
    dense = tf.einsum("bhlm,bmhd->blhd", tf.nn.softmax(s, -1), v).numpy()
    np.testing.assert_allclose(out, dense, atol=1e-5)


def test_numpy_decoder_matches_model(two_layer_agent):
    m = two_layer_agent.model
    rng = np.random.default_rng(2)
    items, resp, watch = _tokens(rng, 3, 11, m.n_items)
    h = m.hidden(items, resp, watch).numpy()
    dec = T.NumpyDecoder(m, 3)
    hs = np.stack([dec.step(items[:, t], resp[:, t], watch[:, t]) for t in range(11)], 1)
    np.testing.assert_allclose(hs, h, atol=1e-4)


# ------------------------------------------------------------------ slate distribution


def _pl_prob(logits, slate):
    p, avail = 1.0, list(range(len(logits)))
    for a in slate:
        w = np.exp(logits[avail])
        p *= np.exp(logits[a]) / w.sum()
        avail.remove(a)
    return p


def test_plackett_luce_logprob_brute_force():
    logits = np.array([0.3, -1.0, 2.0, 0.5], np.float32)
    slates = np.array(list(itertools.permutations(range(4), 2)))
    lp = T.plackett_luce_logprob(np.repeat(logits[None], len(slates), 0), slates).numpy()
    brute = np.array([_pl_prob(logits.astype(float), s) for s in slates])
    np.testing.assert_allclose(np.exp(lp), brute, rtol=1e-5)
    assert abs(np.exp(lp).sum() - 1.0) < 1e-5


def test_plackett_luce_kl_is_exact_slate_kl_in_expectation():
    rng = np.random.default_rng(4)
    lp, lq = rng.normal(size=5), rng.normal(size=5)
    slates = np.array(list(itertools.permutations(range(5), 3)))
    p = np.array([_pl_prob(lp, s) for s in slates])
    q = np.array([_pl_prob(lq, s) for s in slates])
    exact = float((p * np.log(p / q)).sum())
    chain = T.plackett_luce_kl(np.repeat(lp[None], len(slates), 0), np.repeat(lq[None], len(slates), 0),
                               slates).numpy()
    assert (chain >= -1e-6).all()
    np.testing.assert_allclose((p * chain).sum(), exact, rtol=1e-4)
    # the first term alone is the categorical KL of the candidate softmax (a lower bound)
    first = float(T.categorical_kl(lp[None], lq[None]).numpy()[0])
    assert 0 < first < exact
    same = T.plackett_luce_kl(np.repeat(lp[None], 3, 0), np.repeat(lp[None], 3, 0), slates[:3]).numpy()
    np.testing.assert_allclose(same, 0.0, atol=1e-6)


def test_sample_slates_distinct_greedy_and_frequencies():
    logits = np.array([[2.0, 0.0, 1.0, -1.0]])
    np.testing.assert_array_equal(T.sample_slates(logits, 2, None), [[0, 2]])
    rng = np.random.default_rng(0)
    draws = T.sample_slates(np.repeat(logits, 20000, 0), 2, rng)
    assert all(len(set(r)) == 2 for r in draws[:100])
    freq = np.mean((draws[:, 0] == 2) & (draws[:, 1] == 0))
    assert abs(freq - _pl_prob(logits[0], [2, 0])) < 0.01
    with pytest.raises(ValueError, match="k must"):
        T.sample_slates(logits, 5, None)


def test_rl_loss_kl_zero_for_identical_models_and_positive_after_change(tiny_agent):
    m = tiny_agent.model
    ref = T.clone_model(m, trainable=False)
    batch = T.synthetic_rl_batch(4, 6, m.n_items, n_candidates=5, slate_size=2, seed=0)
    loss, kl_sum, n = T.rl_loss(m, ref, batch, 1.0, 4)
    assert abs(float(kl_sum)) < 1e-5 and float(n) == batch["mask"].sum()
    other = T.clone_model(m)
    other.out_bias.assign(np.random.default_rng(0).normal(size=m.n_items).astype(np.float32))
    _, kl2, _ = T.rl_loss(other, ref, batch, 1.0, 4)
    assert float(kl2) > 1e-2


def test_train_step_loss_equals_rl_loss_and_moves_weights(tiny_agent):
    import keras

    m = T.clone_model(tiny_agent.model)
    ref = T.clone_model(m, trainable=False)
    batch = T.synthetic_rl_batch(4, 6, m.n_items, n_candidates=5, slate_size=2, seed=1)
    expected = float(T.rl_loss(m, ref, batch, 0.5, 4)[0])
    w0 = m.get_weights()
    step = T.make_rl_train_step(m, ref, keras.optimizers.SGD(0.1))
    loss, _, _ = step(batch, 0.5)
    assert abs(loss - expected) < 1e-6
    assert max(np.abs(a - b).max() for a, b in zip(w0, m.get_weights())) > 1e-5
    # the reference is frozen
    np.testing.assert_array_equal(ref.get_weights()[0], w0[0])


def test_kl_surrogate_value_and_float64_gradient_are_exact():
    """Averaged over all ordered slates with their probabilities held fixed, the gradient of
    the KL penalty term equals the gradient of the exact enumerated slate KL."""
    import tensorflow as tf

    rng = np.random.default_rng(4)
    lp0, lq = rng.normal(size=5), rng.normal(size=5)
    slates = np.array(list(itertools.permutations(range(5), 3)))
    S = len(slates)
    v = tf.Variable(lp0, dtype=tf.float64)
    q = tf.constant(np.tile(lq, (S, 1)), tf.float64)
    with tf.GradientTape() as tape:
        logp = T.plackett_luce_logprob(tf.tile(v[None], (S, 1)), slates)
        logq = T.plackett_luce_logprob(q, slates)
        exact = tf.reduce_sum(tf.exp(logp) * (logp - logq))
    g_exact = tape.gradient(exact, v).numpy()
    p = tf.constant(np.exp(logp.numpy()))  # pi(s), held fixed
    with tf.GradientTape() as tape:
        pen = T.plackett_luce_kl_surrogate(tf.tile(v[None], (S, 1)), q, slates)
        expected_pen = tf.reduce_sum(p * pen)
    g = tape.gradient(expected_pen, v).numpy()
    np.testing.assert_allclose(g, g_exact, atol=1e-10)
    np.testing.assert_allclose(float(expected_pen), float(exact), rtol=1e-10)
    # the value is the chain-rule KL, unchanged
    np.testing.assert_array_equal(pen.numpy(), T.plackett_luce_kl(tf.tile(v[None], (S, 1)), q, slates).numpy())
    # the pathwise gradient alone is biased (it misses the score-function term)
    with tf.GradientTape() as tape:
        biased = tf.reduce_sum(p * T.plackett_luce_kl(tf.tile(v[None], (S, 1)), q, slates))
    assert np.abs(tape.gradient(biased, v).numpy() - g_exact).max() > 0.05


def test_rl_loss_kl_gradient_is_the_exact_slate_kl_gradient(two_layer_agent):
    """rl_loss with adv = 0 and mask = pi(s) (fixed) over all ordered slates of one state: its
    gradient is beta / B * grad KL(pi || pi_ref) over slates, computed by enumeration."""
    import tensorflow as tf

    m = T.clone_model(two_layer_agent.model)
    ref = T.clone_model(m, trainable=False)
    m.out_bias.assign(np.random.default_rng(1).normal(size=m.n_items).astype(np.float32))
    slates = np.array(list(itertools.permutations(range(5), 3)), np.int32)
    S = len(slates)
    rng = np.random.default_rng(2)
    items, resp, watch = _tokens(rng, 1, 4, m.n_items)
    cand = rng.choice(m.n_items, 5, replace=False).astype(np.int32)
    rep = lambda a: np.repeat(a, S, 0)  # noqa: E731
    batch = dict(items=rep(items), responses=rep(resp), watch=rep(watch), cand=rep(np.tile(cand, (1, 4, 1))),
                 slates=np.tile(slates[:, None], (1, 4, 1)), adv=np.zeros((S, 4), np.float32))

    def slate_logp(model):
        h = model.hidden(items, resp, watch)[:, -1]
        return T.plackett_luce_logprob(tf.tile(model.candidate_logits(h, cand[None]), (S, 1)), slates)

    with tf.GradientTape() as tape:
        logp, logq = slate_logp(m), tf.stop_gradient(slate_logp(ref))
        exact = tf.reduce_sum(tf.exp(logp) * (logp - logq))
    g_exact = tape.gradient(exact, m.trainable_variables)
    pi = np.exp(logp.numpy())
    assert abs(pi.sum() - 1) < 1e-5 and float(exact) > 0.05
    mask = np.zeros((S, 4), np.float32)
    mask[:, -1] = pi  # weight pi(s) on the last step (all rows share its state), nothing elsewhere
    beta, B = 0.7, 3
    with tf.GradientTape() as tape:
        loss, kl_sum, n = T.rl_loss(m, ref, dict(batch, mask=mask), beta, B)
    g = tape.gradient(loss, m.trainable_variables)
    scale = beta / (B * 4)  # the loss divides by global_batch_size * H
    np.testing.assert_allclose(float(kl_sum), float(exact), rtol=1e-4)
    np.testing.assert_allclose(float(loss), scale * float(exact), rtol=1e-4)
    dense = lambda x: np.zeros(v.shape) if x is None else tf.convert_to_tensor(x).numpy()  # noqa: E731
    pairs = [(dense(a), scale * dense(b)) for a, b, v in zip(g, g_exact, m.trainable_variables)]
    err = max(np.abs(a - b).max() for a, b in pairs)
    size = max(np.abs(b).max() for _, b in pairs)
    assert size > 1e-3 and err < 1e-3 * size, (err, size)


@pytest.mark.parametrize("key, value, match", [
    ("adv", np.nan, "adv"), ("adv", np.inf, "adv"), ("watch", np.nan, "watch"),
    ("cand", "n_items", "cand"), ("cand", -1, "cand"), ("items", "n_items+2", "items"), ("items", -1, "items"),
    ("responses", 3, "responses"), ("slates", 5, "slates"), ("slates", -1, "slates"), ("mask", 2.0, "mask"),
    ("mask", np.nan, "mask")])
def test_rl_step_rejects_bad_batches(tiny_agent, key, value, match):
    import keras

    m = T.clone_model(tiny_agent.model)
    ref = T.clone_model(m, trainable=False)
    step = T.make_rl_train_step(m, ref, keras.optimizers.SGD(0.1), compiled=False)
    batch = T.synthetic_rl_batch(2, 3, m.n_items, n_candidates=5, slate_size=2, seed=0)
    value = {"n_items": m.n_items, "n_items+2": m.n_items + 2}.get(value, value) if isinstance(value, str) else value
    w0 = m.get_weights()
    bad = {k: v.copy() for k, v in batch.items()}
    bad[key] = bad[key].astype(np.float64) if isinstance(value, float) else bad[key]
    bad[key].flat[1] = value
    with pytest.raises(ValueError, match=match):
        step(bad, 0.1)
    for a, b in zip(w0, m.get_weights()):  # no update was applied
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="shape"):
        step(dict(batch, adv=batch["adv"][:, :2]), 0.1)
    ok = dict(batch, items=batch["items"].copy())
    ok["items"][:, 0], ok["items"][0, 1] = m.n_items + 1, m.n_items  # BOS and NO_CLICK ids are valid inputs
    step(ok, 0.1)


# ------------------------------------------------------------------ agent and serving


def test_agent_acts_in_simulator_and_rollout_matches_model(tiny_agent, two_layer_agent):
    res = evaluate(tiny_agent, ENV, n_episodes=6, seed=1)
    assert res.returns.shape == (6,)
    assert np.isfinite(res.mean_return.mean) and res.mean_return.mean > 0
    agent = tiny_agent.copy(sample=True, seed=1)
    batch = T.rollout(agent, BatchEnv(ENV, 3, seed=5), max_len=9, seed=5)
    assert batch["slates"].shape == (3, 9, ENV.slate_size)
    assert batch["cand"].shape == (3, 9, ENV.n_candidates)
    # token conventions: BOS first, then the clicked item or NO_CLICK
    V = TINY.n_items
    assert (batch["items"][:, 0] == V + 1).all() and (batch["responses"][:, 0] == T.RESP_BOS).all()
    clicked = batch["responses"][:, 1:] == T.RESP_CLICK
    shown = np.take_along_axis(batch["cand"][:, :-1], batch["slates"][:, :-1], -1)
    assert all(batch["items"][:, 1:][clicked][i] in shown[clicked][i] for i in range(int(clicked.sum())))
    assert (batch["items"][:, 1:][~clicked] == V).all()
    # the training forward pass on the recorded tokens gives the logits the agent acted on
    # (10 steps > window = 4: the decoder's ring buffer wraps around)
    for a in (tiny_agent, two_layer_agent):
        toks, cands, logits = _replay(a.copy(seed=1), env_seed=5, n=10)
        h = a.model.hidden(*toks)
        np.testing.assert_allclose(a.model.candidate_logits(h, cands).numpy(), logits, atol=1e-4)


def _replay(agent, env_seed, n):
    """``n`` greedy steps of 3 users: tokens (items, responses, watch) (3, n), candidate ids
    (3, n, N) and the logits the agent computed (3, n, N)."""
    env = BatchEnv(ENV, 3, seed=env_seed)
    obs = env.reset(seed=env_seed)
    agent.reset(3)
    rec = []
    for _ in range(n):
        s = agent.act(obs, env)
        rec.append((*agent.last_tokens, agent.last_cand, agent.last_logits))
        obs, *_ = env.step(s)
    cols = [np.stack(c, 1) for c in zip(*rec)]
    return tuple(cols[:3]), cols[3], cols[4]


def _history():
    return {"clicked_items": np.array([5, -1, 17, 30]), "watch_time": np.array([4.0, 0.0, 4.0, 2.5])}


def _cands(n=6, seed=0):
    obs = BatchEnv(ENV, 1, seed=seed).reset()
    return obs["candidate_features"][0][:n]


def test_recommend_shapes_and_scores(tiny_agent):
    idx, scores = tiny_agent.recommend(_history(), _cands(), k=3)
    assert idx.shape == (3,) and len(set(idx.tolist())) == 3
    assert np.all(np.diff(scores) <= 1e-12) and 0 < scores.sum() <= 1 + 1e-9
    idx0, _ = tiny_agent.recommend(None, _cands())
    assert idx0.shape == (TINY.slate_size,)


@pytest.mark.parametrize("history,match", [
    ({"clicked_items": [1, 2]}, "missing"),
    ({"clicked_items": np.array([1, 2]), "watch_time": np.array([1.0])}, "shape"),
    ({"clicked_items": np.array([1, 10_000]), "watch_time": np.array([1.0, 1.0])}, "clicked_items"),
    ({"clicked_items": np.array([1.5, 2.0]), "watch_time": np.array([1.0, 1.0])}, "integers"),
    ({"clicked_items": np.array([1, 2]), "watch_time": np.array([1.0, -1.0])}, "watch_time"),
    ([1, 2, 3], "dict"),
])
def test_recommend_rejects_malformed_history(tiny_agent, history, match):
    with pytest.raises(ValueError, match=match):
        tiny_agent.recommend(history, _cands())


def test_recommend_rejects_bad_k_and_candidates(tiny_agent):
    with pytest.raises(ValueError, match="k must"):
        tiny_agent.recommend(None, _cands(4), k=5)
    with pytest.raises(ValueError, match="k must"):
        tiny_agent.recommend(None, _cands(4), k=0)
    with pytest.raises(ValueError, match="candidates"):
        tiny_agent.recommend(None, np.zeros((4, 3)))
    bad = _cands(4).copy()
    bad[0, :20] = 0.0
    with pytest.raises(ValueError, match="one-hot"):
        tiny_agent.recommend(None, bad)


def test_recommend_reproduces_the_greedy_slates_of_a_session(two_layer_agent):
    agent = two_layer_agent.copy()
    env = BatchEnv(ENV, 2, seed=11)
    obs = env.reset(seed=11)
    agent.reset(2)
    feats, slates, rec = [], [], {"items": [], "responses": [], "watch": []}
    for _ in range(7):  # 7 steps > window = 4
        s = agent.act(obs, env)
        feats.append(obs["candidate_features"])
        slates.append(s)
        for k, v in zip(("items", "responses", "watch"), agent.last_tokens):
            rec[k].append(v)
        obs, *_ = env.step(s)
    batch = {k: np.stack(v, 1) for k, v in rec.items()}
    for t in (0, 3, 6):
        hist = T.session_history(batch, 1, t, doc_length=ENV.doc_length)
        assert hist["clicked_items"].shape == (t,)
        idx, _ = agent.recommend(hist, feats[t][1], k=ENV.slate_size)
        np.testing.assert_array_equal(idx, slates[t][1])
    with pytest.raises(ValueError, match="t must"):
        T.session_history(batch, 0, 7)


def test_save_load_round_trip_and_errors(tiny_agent, tmp_path):
    path = tiny_agent.save(tmp_path / "agent.keras")
    loaded = T.TransformerAgent.load(path, expected=TINY)
    for seed in range(3):
        a = tiny_agent.recommend(_history(), _cands(seed=seed), k=3)
        b = loaded.recommend(_history(), _cands(seed=seed), k=3)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-6)
    with pytest.raises(ValueError, match="expected"):
        T.TransformerAgent.load(path, expected=replace(TINY, n_buckets=5))
    with pytest.raises(ValueError, match="keras"):
        tiny_agent.save(tmp_path / "agent.h5")
    with pytest.raises(ValueError, match="not a file"):
        T.TransformerAgent.load(tmp_path / "missing.keras")
    import keras

    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other.save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="TransformerAgent"):
        T.TransformerAgent.load(tmp_path / "other.keras")
    (tmp_path / "junk.keras").write_text("not a model")
    with pytest.raises(ValueError, match="could not load"):
        T.TransformerAgent.load(tmp_path / "junk.keras")


# ------------------------------------------------------------------ training


def test_group_env_common_random_numbers_and_grpo_advantages():
    env = T.GroupEnv(ENV, n_users=3, group_size=2, seed=9)
    obs = env.reset(seed=9)
    np.testing.assert_array_equal(obs["candidate_clusters"][:3], obs["candidate_clusters"][3:])
    same = np.tile(np.array([[0, 1, 2]]), (6, 1))
    for _ in range(5):
        obs, r, _, _ = env.step(same)
        np.testing.assert_array_equal(r[:3], r[3:])
        np.testing.assert_array_equal(obs["candidate_features"][:3], obs["candidate_features"][3:])
    ret = np.array([1.0, 5.0, 2.0, 3.0, 5.0, 2.0])  # copies of users 0,1,2 in rows (0,3), (1,4), (2,5)
    adv = T.grpo_advantages(ret, np.ones((6, 2)), group_size=2)
    np.testing.assert_allclose(adv[:3, 0] + adv[3:, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(adv[:, 0], [-1, 0, 0, 1, 0, 0], atol=1e-5)
    with pytest.raises(ValueError, match=r"group_size=4.*\(6,\)"):
        T.grpo_advantages(ret, np.ones((6, 2)), group_size=4)
    with pytest.raises(ValueError, match="mask"):
        T.grpo_advantages(ret, np.ones((4, 2)), group_size=2)
    with pytest.raises(ValueError, match="episode_return"):
        T.grpo_advantages(np.r_[ret[:5], np.nan], np.ones((6, 2)), group_size=2)


def test_reinforce_advantages_hand_computed():
    r = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    mask = np.array([[1, 1, 1], [1, 1, 0]], float)
    G = T.returns_to_go(r, mask, 1.0)
    np.testing.assert_allclose(G, [[3, 2, 2], [1, 1, 0]])
    adv = T.reinforce_advantages(r, mask, 1.0)
    assert adv[1, 2] == 0.0
    raw = np.array([[1, 0.5, 0], [-1, -0.5, 0]])
    np.testing.assert_allclose(adv, raw / raw[mask > 0].std(), rtol=1e-5)


@pytest.fixture(scope="module")
def tiny_logs():
    return T.collect_logs(ENV, "myopic", n_sessions=60, seed=0, catalogue=TINY.catalogue)


def test_collect_logs_conventions(tiny_logs):
    logs = tiny_logs
    assert logs["items"].shape == logs["target"].shape == logs["mask"].shape
    assert (logs["items"][:, 0] == TINY.n_items + 1).all()
    # the token after a click is the clicked item; tmask only where the session ran
    t1 = logs["tmask"][:, :-1] > 0
    np.testing.assert_array_equal(logs["items"][:, 1:][t1], logs["target"][:, :-1][t1])
    assert (logs["tmask"] <= logs["mask"]).all()
    np.testing.assert_array_equal(logs["length"], logs["mask"].sum(1))


def test_pretraining_reduces_loss(tiny_logs):
    cfg = T.PretrainConfig(n_sessions=60, epochs=3, batch_size=16, lr=1e-2, holdout=0.2)
    agent, hist = T.pretrain(ENV, cfg, agent_config=TINY, logs=tiny_logs)
    assert isinstance(agent, T.TransformerAgent) and agent.config == TINY
    for k in ("val_loss", "val_perplexity", "val_accuracy", "train_loss", "wall_time", "epoch"):
        assert hist[k].shape == (4,)
    assert abs(hist["val_loss"][0] - np.log(TINY.n_items)) < 0.5  # untrained: about uniform
    assert hist["val_loss"][-1] < hist["val_loss"][0] - 0.3
    np.testing.assert_allclose(hist["val_perplexity"], np.exp(hist["val_loss"]), rtol=1e-6)
    assert hist["val_accuracy"][-1] > hist["val_accuracy"][0]
    # per clicked position: starts near ln(n_items) (untrained: about uniform), unlike step_loss,
    # which averages over every position, no-click and padding included
    assert hist["step_click_loss"].shape == hist["step_loss"].shape
    assert abs(hist["step_click_loss"][0] - np.log(TINY.n_items)) < 0.5
    assert (hist["step_click_loss"] > hist["step_loss"]).all()
    n = len(hist["step_loss"]) // 3
    assert hist["step_loss"][-n:].mean() < hist["step_loss"][:n].mean()


def test_sampled_softmax_training_reduces_full_loss(tiny_logs):
    import keras
    import tensorflow as tf

    model = T.CausalTransformer(**TINY.model_kwargs(), seed=1)
    b = {k: tiny_logs[k][:16] for k in ("items", "responses", "watch", "target", "tmask")}
    opt = keras.optimizers.Adam(1e-2)
    full0 = float(T.next_item_loss(model, b, 16)[1]) / float(b["tmask"].sum())
    sampled = []
    for _ in range(15):  # eager steps: no trace to pay for
        with tf.GradientTape() as tape:
            loss, ce, n = T.next_item_loss(model, b, 16, n_sampled=8)
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        sampled.append(float(ce) / float(n))
    full1 = float(T.next_item_loss(model, b, 16)[1]) / float(b["tmask"].sum())
    assert full1 < full0 - 0.3
    # the sampled loss (9 classes) is below the full one (80 classes) at the same parameters
    assert np.mean(sampled[:3]) < full0


def test_short_finetune_logs_kl_and_return(tiny_agent):
    cfg = T.FinetuneConfig(objective="grpo", beta=0.0, n_iters=3, batch_size=8, group_size=2, lr=3e-2,
                           max_len=20, eval_every=3, eval_episodes=4)
    before = [w.copy() for w in tiny_agent.model.get_weights()]
    agent, hist = T.finetune(tiny_agent, ENV, cfg)
    for k in ("return", "length", "kl", "loss", "env_steps", "wall_time"):
        assert hist[k].shape == (3,) and np.all(np.isfinite(hist[k]))
    np.testing.assert_array_equal(hist["iteration"], [1, 2, 3])
    assert abs(hist["kl"][0]) < 1e-5  # first batch: the policy is still the reference
    assert hist["kl"][-1] > 1e-4  # beta = 0: the policy moves away
    assert (hist["return"] > 0).all() and hist["eval_iteration"].tolist() == [3]
    # the pretrained agent is untouched; the fine-tuned one differs
    for a, b in zip(before, tiny_agent.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    kl = T.policy_kl(agent, tiny_agent, ENV, n_episodes=4)
    assert kl["slate_kl"] > 0 and kl["first_kl"] >= 0 and kl["steps"] > 0
    # the seed fixes the slate sampling too, and the agent's own stream is left untouched
    state = agent.rng.bit_generator.state
    again = T.policy_kl(agent, tiny_agent, ENV, n_episodes=4)
    assert again == kl
    assert agent.rng.bit_generator.state == state
    kl5 = T.policy_kl(agent, tiny_agent, ENV, n_episodes=4, seed=5)
    assert T.policy_kl(agent, tiny_agent, ENV, n_episodes=4, seed=5) == kl5
    assert kl5 != kl  # another seed: other users and slates (kl used the default seed)
    assert T.policy_kl(agent, tiny_agent, ENV, n_episodes=4, seed=6) != kl5
    assert agent.rng.bit_generator.state == state and agent.sample is False
    assert T.policy_kl(tiny_agent, tiny_agent.copy(), ENV, n_episodes=4)["slate_kl"] < 1e-5


def test_kl_penalty_keeps_policy_closer(tiny_agent):
    """Same rollouts seeds, eager steps: a large beta keeps the KL to the reference smaller."""
    kls = {}
    for beta in (0.0, 5.0):
        cfg = T.FinetuneConfig(objective="reinforce", beta=beta, n_iters=4, batch_size=8, lr=3e-2, max_len=15)
        agent, hist = T.finetune(tiny_agent, ENV, cfg, compiled=False)
        assert hist["kl"].shape == (4,) and abs(hist["kl"][0]) < 1e-5
        kls[beta] = T.policy_kl(agent, tiny_agent, ENV, n_episodes=8)["slate_kl"]
    assert kls[5.0] < kls[0.0]


def test_compare_finetuning_structure(tiny_agent):
    cfg = T.FinetuneConfig(objective="reinforce", n_iters=1, batch_size=4, max_len=10)
    out = T.compare_finetuning(tiny_agent, ENV, betas=(0.5,), objectives=("reinforce",), config=cfg, n_eval=6,
                               kl_episodes=3, compiled=False)
    run = out["runs"][("reinforce", 0.5)]
    assert set(run) == {"agent", "result", "kl", "seconds", "history", "beats_pretrained"}
    assert out["pretrained"].returns.shape == (6,) and run["result"].returns.shape == (6,)
    expected = run["result"].mean_return.mean > out["pretrained"].mean_return.mean and \
        not run["result"].mean_return.overlaps(out["pretrained"].mean_return)
    assert run["beats_pretrained"] == expected and run["history"]["kl"].shape == (1,)


@pytest.mark.parametrize("pre_returns, run_returns, beats", [
    ([10.0, 10.5, 9.5, 10.0], [20.0, 20.5, 19.5, 20.0], True),   # higher, CIs far apart
    ([20.0, 20.5, 19.5, 20.0], [10.0, 10.5, 9.5, 10.0], False),  # lower
    ([10.0, 10.5, 9.5, 10.0], [0.0, 30.0, 2.0, 12.0], False),    # higher mean (11) but the CIs overlap
])
def test_compare_finetuning_beats_pretrained_known_answers(tiny_agent, monkeypatch, pre_returns, run_returns,
                                                           beats):
    """beats_pretrained on evaluation results with a known answer (evaluate_agent stubbed)."""
    from rlrec_helpers.simulator import EvalResult
    from rlrec_helpers.stats import mean_ci

    def fake_evaluate(agent, env_cfg, n_episodes, seed):
        r = np.asarray(pre_returns if agent is tiny_agent else run_returns)
        ones = np.ones_like(r)
        return EvalResult(mean_ci(r), r, 1.0, 1.0, ones, ones)

    monkeypatch.setattr(T, "evaluate_agent", fake_evaluate)
    cfg = T.FinetuneConfig(objective="reinforce", n_iters=1, batch_size=4, max_len=5)
    out = T.compare_finetuning(tiny_agent, ENV, betas=(0.5,), objectives=("reinforce",), config=cfg, n_eval=4,
                               kl_episodes=2, compiled=False)
    np.testing.assert_array_equal(out["pretrained"].returns, pre_returns)
    assert out["runs"][("reinforce", 0.5)]["beats_pretrained"] is beats


def test_timing_helpers_return_ratios(monkeypatch):
    out = T.sampled_vs_full_softmax_timing(200, batch_size=2, length=4, n_sampled=16, n_steps=1, d_model=16,
                                           n_heads=2, n_layers=1, window=4, compiled=False)
    assert set(out) == {"full", "sampled", "speedup"}  # measured seconds: no wall-clock assertion
    np.testing.assert_allclose(out["speedup"], out["full"] / out["sampled"])
    # what is timed: a full-softmax and a sampled-softmax step, compiled by default, and the
    # compiled steps really run as tf.function graphs (the loss is traced, not run eagerly)
    import tensorflow as tf

    made, loss_calls = [], []
    real_make, real_loss = T.make_pretrain_step, T.next_item_loss

    def spy_make(*args, **kwargs):
        made.append((kwargs.get("n_sampled"), kwargs.get("compiled")))
        return real_make(*args, **kwargs)

    def spy_loss(*args, **kwargs):
        loss_calls.append((kwargs.get("n_sampled"), tf.executing_eagerly()))
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(T, "make_pretrain_step", spy_make)
    monkeypatch.setattr(T, "next_item_loss", spy_loss)
    T.sampled_vs_full_softmax_timing(200, batch_size=2, length=4, n_sampled=16, n_steps=2, d_model=16, n_heads=2,
                                     n_layers=1, window=4, compiled=False)
    # an untimed block of 2 steps each, then the timed blocks alternate: 4 eager losses per side
    assert made == [(0, False), (16, False)] and loss_calls == ([(0, True)] * 2 + [(16, True)] * 2) * 2
    made.clear(), loss_calls.clear()
    T.sampled_vs_full_softmax_timing(200, batch_size=2, length=4, n_sampled=16, n_steps=2, d_model=16,
                                     n_heads=2, n_layers=1, window=4)
    assert made == [(0, True), (16, True)]
    # 4 calls per side, but each graph is traced once: the Python loss runs once, in graph mode
    assert loss_calls == [(0, False), (16, False)]
    with pytest.raises(ValueError, match="n_sampled"):
        T.sampled_vs_full_softmax_timing(10, n_sampled=10)


def test_summarize_finetune_and_the_notebook10_widget_function():
    import matplotlib

    matplotlib.use("Agg")
    from rlrec_helpers import widgets

    hist = {"return": np.array([160.0, 170.0, 180.0, 190.0]), "kl": np.array([0.0, 0.05, 0.1, 0.08])}
    s = T.summarize_finetune(hist)
    assert s == pytest.approx({"iterations": 4, "final_return": 180.0, "mean_kl": 0.0575, "max_kl": 0.1,
                               "final_kl": 0.08})
    with pytest.raises(ValueError, match="kl"):
        T.summarize_finetune({"return": hist["return"]})
    with pytest.raises(ValueError, match="equally long"):
        T.summarize_finetune({"return": hist["return"], "kl": hist["kl"][:2]})
    runs = {("grpo", 0.1): (None, hist)}
    assert widgets.show_finetune_run(runs, ("grpo", 0.1), 165.0) == s
    with pytest.raises(ValueError, match="key must be one of"):
        widgets.show_finetune_run(runs, ("reinforce", 0.1), 165.0)
    w = widgets.finetune_runs_widget(runs, 165.0)
    assert w.children[0].value == ("grpo", 0.1)
