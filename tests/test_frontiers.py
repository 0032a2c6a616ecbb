"""Tests for notebook 09's library code: multimodal cold start and integrated gradients."""

from dataclasses import asdict

import keras
import numpy as np
import pytest
import tensorflow as tf

from rlrec_helpers import simulator as sim
from rlrec_helpers.agents import explain as ex
from rlrec_helpers.agents import multimodal as mm
from rlrec_helpers.agents.reinforce import AgentConfig, PolicyNetwork, load_pretrained


# --------------------------------------------------------------------------- integrated gradients


def _random_inputs(cfg: AgentConfig, length: int = 6, n: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    shown = rng.integers(0, cfg.n_topics, size=(length, cfg.slate_size))
    clicked = rng.integers(-1, cfg.slate_size, size=length)
    hist = {"shown_clusters": shown, "clicked": clicked, "watch_time": 4.0 * (clicked >= 0)}
    cand = np.zeros((n, cfg.n_features), np.float32)
    cand[np.arange(n), rng.integers(0, cfg.n_topics, n)] = 1.0
    cand[:, cfg.n_topics:] = rng.normal(size=(n, cfg.n_features - cfg.n_topics))
    return hist, cand


@pytest.fixture(scope="module")
def fresh_net():
    keras.utils.set_random_seed(3)
    return PolicyNetwork(**asdict(AgentConfig(n_topics=5, n_features=6, hidden=8, cluster_stats=True)))


@pytest.mark.parametrize("rule", ["gauss", "trapezoid"])
def test_ig_completeness_fresh_network(fresh_net, rule):
    hist, cand = _random_inputs(fresh_net.agent_config)
    h, c = ex.serving_inputs(fresh_net, hist, cand)
    assert c.shape == (8, fresh_net.agent_config.item_dim)
    res = ex.integrated_gradients(fresh_net, h, c, 2, n_steps=64, rule=rule)
    assert abs(res.delta) > 1e-3                     # a non-trivial difference to explain
    assert res.completeness_gap <= 0.01
    assert res.history.shape == h.shape and res.candidates.shape == c.shape
    # only the target's own inputs (and the history) can move its logit
    others = np.delete(res.candidates, 2, axis=0)
    assert np.abs(others).max() == 0.0
    assert np.abs(res.history[1:]).sum() > 0.0
    # the default baseline keeps the start token, so row 0 gets no attribution
    assert np.abs(res.history[0]).max() == 0.0


def test_ig_completeness_pretrained_and_explanation():
    agent = load_pretrained("default")
    sessions = ex.simulated_sessions(agent, "default", n_users=2, n_steps=8, seed=5)
    assert len(sessions) == 2
    s = sessions[0]
    assert s["history"]["shown_clusters"].shape == (8, 3)
    h, c = ex.serving_inputs(agent, s["history"], s["candidates"])
    for target in range(3):
        res = ex.integrated_gradients(agent, h, c, target)
        assert abs(res.delta) > 1e-3
        assert res.completeness_gap <= 0.01
    df = ex.explain_recommendation(agent, s["history"], s["candidates"], k=3)
    idx, _ = agent.recommend(s["history"], s["candidates"], k=3)
    np.testing.assert_array_equal(df["candidate"].to_numpy(), idx)
    np.testing.assert_array_equal(idx, s["slate"])       # same greedy slate as in the simulator
    assert (np.diff(df["score"].to_numpy()) <= 0).all()
    assert (df["completeness_gap"] <= 0.01).all()
    steps = df[[f"step_{t}" for t in range(9)]].to_numpy()
    groups = df[[col for col in df.columns if col.startswith(("cand_", "hist_"))]].to_numpy()
    delta = (df["score"] - df["baseline_score"]).to_numpy()
    hist_groups = df[[col for col in df.columns if col.startswith("hist_")]].to_numpy()
    np.testing.assert_allclose(steps.sum(1), hist_groups.sum(1), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(groups.sum(1), delta, rtol=0.01)


def test_ig_exact_on_linear_score():
    keras.utils.set_random_seed(1)
    net = PolicyNetwork(**asdict(AgentConfig(n_topics=4, n_features=6, hidden=5, cluster_stats=False)))
    net.item_embedding.kernel.assign(np.zeros(net.item_embedding.kernel.shape, np.float32))
    w = np.random.default_rng(0).normal(size=(6, 1)).astype(np.float32)
    net.feature_term.kernel.assign(w)                    # logit_i = w . x_i exactly
    hist, cand = _random_inputs(net.agent_config, n=5, seed=2)
    h, c = ex.serving_inputs(net, hist, cand)
    x0 = np.random.default_rng(1).normal(size=c.shape)
    for rule, n_steps in (("trapezoid", 2), ("gauss", 3)):
        res = ex.integrated_gradients(net, h, c, 4, baseline_candidates=x0, n_steps=n_steps, rule=rule)
        np.testing.assert_allclose(res.candidates[4], (c[4] - x0[4]) * w[:, 0], atol=1e-5)
        assert np.abs(res.history).max() == 0.0
        np.testing.assert_allclose(res.delta, float((c[4] - x0[4]) @ w[:, 0]), atol=1e-5)


def test_ig_validation(fresh_net):
    hist, cand = _random_inputs(fresh_net.agent_config)
    h, c = ex.serving_inputs(fresh_net, hist, cand)
    with pytest.raises(ValueError, match="history"):
        ex.integrated_gradients(fresh_net, h[:, :-1], c, 0)
    with pytest.raises(ValueError, match="candidates"):
        ex.integrated_gradients(fresh_net, h, c[:, :-1], 0)
    with pytest.raises(ValueError, match=rf"^target must be an integer in \[0, N - 1={c.shape[0] - 1}\], got {c.shape[0]}$"):
        ex.integrated_gradients(fresh_net, h, c, c.shape[0])
    with pytest.raises(ValueError, match="target"):
        ex.integrated_gradients(fresh_net, h, c, -1)
    with pytest.raises(ValueError, match="n_steps"):
        ex.integrated_gradients(fresh_net, h, c, 0, n_steps=1)
    with pytest.raises(ValueError, match="baseline_history"):
        ex.integrated_gradients(fresh_net, h, c, 0, baseline_history=np.zeros((2, h.shape[1])))
    with pytest.raises(ValueError, match="rule"):
        ex.integrated_gradients(fresh_net, h, c, 0, rule="simpson")
    with pytest.raises(ValueError, match="model"):
        ex.integrated_gradients(object(), h, c, 0)
    with pytest.raises(ValueError, match="k must"):
        ex.explain_recommendation(fresh_net, hist, cand, k=0)


# --------------------------------------------------------------------------- catalogue and encoders


@pytest.fixture(scope="module")
def cat():
    return mm.make_catalogue(seed=0)


def test_catalogue_split_and_seed(cat):
    assert cat.n_items == 300 and cat.text.shape == (300, 32) and cat.image.shape == (300, 48)
    assert np.intersect1d(cat.warm_ids, cat.cold_ids).size == 0
    np.testing.assert_array_equal(np.union1d(cat.warm_ids, cat.cold_ids), np.arange(300))
    np.testing.assert_array_equal(np.bincount(cat.topic[cat.cold_ids], minlength=20), np.full(20, 4))
    means = sim.cluster_quality_means(cat.config)
    assert np.abs(cat.quality - means[cat.topic]).max() < 0.5
    again, other = mm.make_catalogue(seed=0), mm.make_catalogue(seed=1)
    for name in ("quality", "text", "image", "cold_ids"):
        np.testing.assert_array_equal(getattr(again, name), getattr(cat, name))
    assert not np.array_equal(other.text, cat.text)
    assert not np.array_equal(other.cold_ids, cat.cold_ids)
    # missing modalities: all-zero rows, disjoint sets, so every item has at least one
    no_text, no_image = ~cat.text.any(1), ~cat.image.any(1)
    assert no_text.sum() == 120 and no_image.sum() == 120 and not (no_text & no_image).any()
    # each modality carries information on quality, but imperfectly; together they do better
    corr = {}
    for name, emb in (("text", cat.text), ("image", cat.image), ("both", np.c_[cat.text, cat.image])):
        x = np.c_[emb, np.ones(300)]
        fit = x @ np.linalg.lstsq(x, cat.quality, rcond=None)[0]
        corr[name] = np.corrcoef(fit, cat.quality)[0, 1]
    assert 0.3 < corr["text"] < 0.95 and 0.3 < corr["image"] < 0.95
    assert corr["both"] > max(corr["text"], corr["image"]) + 0.05


@pytest.mark.parametrize("kwargs, name", [
    ({"cold_fraction": 0.0}, "cold_fraction"), ({"cold_fraction": 0.01}, "cold_fraction"),
    ({"text_dim": 0}, "text_dim"), ({"items_per_topic": 1}, "items_per_topic"),
    ({"image_noise": (-1.0, 0.1)}, "image_noise"), ({"text_noise": 3.0}, "text_noise"),
    ({"missing": (0.6, 0.6)}, "missing"), ({"seed": -1}, "seed")])
def test_catalogue_validation(kwargs, name):
    with pytest.raises(ValueError, match=name):
        mm.make_catalogue(**kwargs)


@pytest.mark.parametrize("kind", mm.ENCODERS)
def test_encoder_shapes(kind):
    enc = mm.ItemEncoder(kind, n_items=30, text_dim=7, image_dim=5, dim=4, hidden=6)
    rng = np.random.default_rng(0)
    out = enc({"item_id": rng.integers(0, 30, (2, 3)), "text": rng.normal(size=(2, 3, 7)),
               "image": rng.normal(size=(2, 3, 5))})
    assert tuple(out.shape) == (2, 3, 4)
    assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("kind, bad", [("text", "text"), ("concat", "text"), ("gated", "text"),
                                       ("image", "image"), ("gated", "image")])
def test_encoder_dimension_mismatch(kind, bad):
    enc = mm.ItemEncoder(kind, n_items=30, text_dim=7, image_dim=5)
    x = {"item_id": np.arange(3), "text": np.zeros((3, 7)), "image": np.zeros((3, 5))}
    x[bad] = np.zeros((3, 6))
    with pytest.raises(ValueError, match=bad):
        enc(x)


def test_encoder_unknown_name():
    with pytest.raises(ValueError, match="encoder"):
        mm.ItemEncoder("audio", n_items=3, text_dim=2, image_dim=2)
    with pytest.raises(ValueError, match="encoder"):
        mm.train_multimodal("audio", mm.make_catalogue())


@pytest.mark.parametrize("pool", ["warm", "cold"])
def test_user_model_shows_only_pool_items(cat, pool):
    model = mm.CatalogueUserModel(cat, pool)
    env = sim.BatchEnv(cat.config, 16, seed=3, user_model=model)
    obs = env.reset()
    policy = sim.RandomPolicy(0)
    seen = []
    for _ in range(5):
        ids = mm.candidate_ids(obs)
        seen.append(ids)
        assert np.isin(ids, cat.pool(pool)).all()
        assert (np.sort(ids, 1)[:, 1:] != np.sort(ids, 1)[:, :-1]).all()   # distinct per row
        np.testing.assert_array_equal(obs["candidate_clusters"], cat.topic[ids])
        np.testing.assert_allclose(env.privileged()["candidate_quality"], cat.quality[ids])
        obs, _, _, _ = env.step(policy.act(obs, env))
    assert np.unique(np.concatenate(seen)).size > 0.5 * cat.pool(pool).size


# --------------------------------------------------------------------------- training and protocol


@pytest.fixture(scope="module")
def tiny(cat):
    agent, hist = mm.train_multimodal("id", cat, n_iters=3, batch_size=8, seed=4)
    return agent, hist


def test_tiny_training_and_evaluate(cat, tiny):
    agent, hist = tiny
    assert hist["return"].shape == (3,) and np.isfinite(hist["return"]).all()
    assert np.isfinite(hist["loss"]).all() and (hist["length"] > 0).all()
    res = mm.evaluate_multimodal(agent, cat, "cold", n_episodes=20, seed=1)
    assert isinstance(res, sim.EvalResult) and res.returns.shape == (20,)
    assert np.isfinite(res.returns).all() and res.mean_session_length > 0
    direct = sim.evaluate(agent, cat.config, n_episodes=20, seed=1, user_model=mm.CatalogueUserModel(cat, "cold"))
    np.testing.assert_array_equal(direct.returns, res.returns)
    # ID encoder: warm rows trained, cold rows untouched (never gathered during training)
    keras.utils.set_random_seed(4)
    init = mm.MultimodalPolicy("id", cat.n_items, cat.text_dim, cat.image_dim)
    w0 = init.encoder.embedding.embeddings.numpy()
    w1 = agent.model.encoder.embedding.embeddings.numpy()
    np.testing.assert_array_equal(w1[cat.cold_ids], w0[cat.cold_ids])
    assert np.abs(w1[cat.warm_ids] - w0[cat.warm_ids]).max() > 1e-4


def test_training_is_deterministic(cat, tiny):
    _, again = mm.train_multimodal("id", cat, n_iters=3, batch_size=8, seed=4)
    np.testing.assert_array_equal(again["return"], tiny[1]["return"])
    np.testing.assert_allclose(again["loss"], tiny[1]["loss"], rtol=1e-6)


def test_act_matches_batch_logits(cat):
    keras.utils.set_random_seed(0)
    model = mm.MultimodalPolicy("gated", cat.n_items, cat.text_dim, cat.image_dim)
    # the user tower and the item term start at zero (every logit 0): randomise them, or the
    # comparison below would compare zeros with zeros
    rng = np.random.default_rng(0)
    for layer in (model.tower, model.item_term):
        layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in layer.get_weights()])
    agent = mm.MultimodalAgent(model, cat, sample=True, seed=0)
    env = sim.BatchEnv(cat.config, 6, seed=2, user_model=mm.CatalogueUserModel(cat, "warm"))
    obs = env.reset()
    agent.reset(6)
    logits, cands, slates, clicks, masks = [], [], [], [], []
    for _ in range(7):
        active = obs["active"].copy()
        slate = agent.act(obs, env)
        logits.append(agent.last_logits)
        cands.append(agent.last_ids)
        slates.append(slate)
        obs, _, _, _ = env.step(slate)
        clicks.append(np.where(active, obs["clicked"], -1))
        masks.append(active)
    assert (np.stack(clicks) >= 0).any()
    v, b = agent.item_table()
    st = lambda a: tf.constant(np.stack(a, 1).astype(np.int32))  # noqa: E731
    tf_logits = mm.batch_logits(agent.model, v, b, st(cands), st(slates), st(clicks)).numpy()
    mask = np.stack(masks, 1)
    acted = np.stack(logits, 1)
    assert np.abs(acted[mask]).max() > 0.1 and acted[mask].std() > 0.05     # informative logits
    np.testing.assert_allclose(tf_logits[mask], acted[mask], rtol=1e-4, atol=1e-4)


def test_compare_encoders_small(cat):
    df = mm.compare_encoders(("text",), cat, n_iters=2, batch_size=8, n_episodes=30)
    assert list(df["encoder"]) == ["text", "random", "quality-greedy"]
    for pool in ("warm", "cold"):
        assert (df[f"{pool}_low"] <= df[f"{pool}_return"]).all()
        assert (df[f"{pool}_return"] <= df[f"{pool}_high"]).all()
    qg, rnd = df.set_index("encoder").loc["quality-greedy"], df.set_index("encoder").loc["random"]
    assert qg["cold_return"] > rnd["cold_return"]        # the privileged reference is informative
    with pytest.raises(ValueError, match="encoders"):
        mm.compare_encoders(("id", "sound"), cat)


def test_compare_encoders_over_seeds_summarises_training_runs(cat):
    from rlrec_helpers.stats import mean_ci

    kw = dict(n_iters=2, batch_size=8, n_episodes=30)
    per_seed, summary = mm.compare_encoders_over_seeds((3, 5), cat, encoders=("text",), **kw)
    assert list(per_seed["encoder"]) == ["text", "random", "quality-greedy", "text"]
    assert list(per_seed["seed"]) == [3, 3, 3, 5]
    single = mm.compare_encoders(("text",), cat, seed=5, references=False, **kw)
    assert per_seed.iloc[3]["cold_return"] == single.iloc[0]["cold_return"]   # each seed is a separate run
    text = per_seed[per_seed["encoder"] == "text"]
    assert text["cold_return"].nunique() == 2                                  # ...with different results
    row = summary.set_index("encoder").loc["text"]
    ci = mean_ci(text["cold_return"].to_numpy())
    assert (row["cold_return"], row["cold_low"], row["cold_high"]) == (ci.mean, ci.low, ci.high)
    assert list(summary["encoder"]) == ["text", "random", "quality-greedy"]
    for bad in ((3,), (3, 3), (3, -1)):
        with pytest.raises(ValueError, match="seeds"):
            mm.compare_encoders_over_seeds(bad, cat, encoders=("text",), **kw)
