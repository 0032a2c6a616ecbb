"""Argument checks of the transformer, multimodal and distributed helpers (review I).

Every test checks the whole ``ValueError`` message; tiny configs keep each one fast.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from rlrec_helpers.agents import distributed as D
from rlrec_helpers.agents import multimodal as M
from rlrec_helpers.agents import transformer as T
from rlrec_helpers.simulator import BatchEnv

TINY = T.TransformerConfig(n_buckets=4, d_model=8, n_layers=1, n_heads=2, window=4, ff_mult=2)  # 80 items
ENV = T.transformer_env_config()


def _raises(msg):
    return pytest.raises(ValueError, match="^" + re.escape(msg) + "$")


def _model(n_items=100):
    return T.CausalTransformer(n_items, d_model=8, n_layers=1, n_heads=2, window=4)


@pytest.fixture(scope="module")
def tiny_logs():
    return T.collect_logs(ENV, n_sessions=4, catalogue=TINY.catalogue, max_len=5)


# ------------------------------------------------------------------ finding 3: step batches and beta


def _pretrain_step():
    import keras

    m = _model()
    return m, T.make_pretrain_step(m, keras.optimizers.Adam(1e-3), compiled=False)


def _changed(batch, key, value):
    out = {k: v.copy() for k, v in batch.items()}
    out[key] = out[key].astype(np.float64) if isinstance(value, float) else out[key]
    out[key][0, 0] = value
    return out


@pytest.mark.parametrize("key, value, msg", [
    ("watch", np.nan, "batch['watch'] must be finite numbers"),
    ("tmask", np.nan, "batch['tmask'] must be finite numbers"),
    ("target", 105, "batch['target'] must be in [0, 100), got range [{lo}, {hi}]"),
    ("target", -1, "batch['target'] must be in [0, 100), got range [{lo}, {hi}]"),
    ("items", 109, "batch['items'] must be in [0, 102), got range [{lo}, {hi}]"),
    ("responses", 3, "batch['responses'] must be in [0, 3), got range [{lo}, {hi}]"),
    ("tmask", 2.0, "batch['tmask'] must be in [0, 1], got range [{lo}, {hi}]"),
])
def test_pretrain_step_rejects_bad_batches_before_updating(key, value, msg):
    m, step = _pretrain_step()
    bad = _changed(T.synthetic_log_batch(2, 3, 100), key, value)
    w0 = m.get_weights()
    with _raises(msg.format(lo=bad[key].min(), hi=bad[key].max())):
        step(bad)
    for a, b in zip(w0, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_pretrain_step_rejects_missing_keys_and_shapes():
    _, step = _pretrain_step()
    b = T.synthetic_log_batch(2, 3, 100)
    with _raises("batch is missing keys ['tmask']"):
        step({k: v for k, v in b.items() if k != "tmask"})
    with _raises("batch['target'] must have shape (2, 3) (as batch['tmask']), got (2, 2)"):
        step(dict(b, target=b["target"][:, :2]))
    with _raises("batch['items'] must be integers, got dtype float64"):
        step(dict(b, items=b["items"].astype(float)))
    step(b)  # the valid batch still trains


def test_rl_step_rejects_bad_beta_and_duplicate_slates():
    import keras

    m = _model()
    step = T.make_rl_train_step(m, T.clone_model(m, trainable=False), keras.optimizers.Adam(1e-3), compiled=False)
    b = T.synthetic_rl_batch(2, 3, 100)
    w0 = m.get_weights()
    for beta in (float("nan"), -1.0, "0.1", True):
        with _raises(f"beta must be a finite number >= 0, got {beta!r}"):
            step(b, beta)
    dup = {k: v.copy() for k, v in b.items()}
    dup["mask"][0, 1] = 1.0
    dup["slates"][0, 1] = [4, 4, 0]
    with _raises("batch['slates'] must hold distinct positions at every step with mask > 0, "
                 "got batch['slates'][0, 1] = [4, 4, 0]"):
        step(dup, 0.1)
    for a, c in zip(w0, m.get_weights()):
        np.testing.assert_array_equal(a, c)
    dup["mask"][0, 1] = 0.0  # a padded step (mask 0) may hold anything in range
    step(dup, 0.1)


# ------------------------------------------------------------------ finding 5: names


def test_pretrain_config_checks_logging_policy():
    with _raises("logging_policy must be one of 'random', 'myopic', 'quality-greedy', 'long-term value', "
                 "'blend', 'heuristic', got 'nope'"):
        T.PretrainConfig(logging_policy="nope").validate()
    T.PretrainConfig(logging_policy="random").validate()


def test_mirrored_equivalence_names_its_arguments():
    with _raises("global_batch must be an integer >= n_devices=2, got 0"):
        D.mirrored_equivalence(2, global_batch=0)
    with _raises("horizon must be an integer >= 1, got 0"):
        D.mirrored_equivalence(2, global_batch=4, horizon=0)
    # finding 10: NaN results from beta = nan or lr = 0
    with _raises("beta must be a finite number >= 0, got nan"):
        D.mirrored_equivalence(2, global_batch=4, horizon=2, beta=float("nan"))
    with _raises("lr must be a finite number > 0, got 0.0"):
        D.mirrored_equivalence(2, global_batch=4, horizon=2, lr=0.0)
    with _raises("seed must be an integer >= 0, got -1"):
        D.mirrored_equivalence(2, global_batch=4, horizon=2, seed=-1)


# ------------------------------------------------------------------ finding 6


@pytest.mark.parametrize("bad", [True, "0.1", -0.1, float("inf")])
def test_transformer_env_config_noise(bad):
    with _raises(f"quality_signal_noise must be a finite number >= 0, got {bad!r}"):
        T.transformer_env_config(quality_signal_noise=bad)
    assert T.transformer_env_config(quality_signal_noise=np.float32(0.5)).quality_signal_noise == 0.5


# ------------------------------------------------------------------ finding 7: mismatched objects


@pytest.fixture(scope="module")
def small_catalogue():
    return M.make_catalogue(items_per_topic=4, text_dim=4, image_dim=4, cold_fraction=0.5)  # 80 items


@pytest.mark.parametrize("args, msg", [
    (("id", 10, 4, 4), "model.encoder.n_items (10) must equal catalogue.n_items (80)"),
    (("text", 80, 5, 4), "model.encoder.text_dim (5) must equal catalogue.text_dim (4)"),
    (("image", 80, 4, 3), "model.encoder.image_dim (3) must equal catalogue.image_dim (4)"),
])
def test_multimodal_agent_must_match_its_catalogue(small_catalogue, args, msg):
    with _raises(msg):
        M.MultimodalAgent(M.MultimodalPolicy(*args, dim=4, hidden=4), small_catalogue)


def test_evaluate_multimodal_needs_the_agents_catalogue(small_catalogue):
    agent = M.MultimodalAgent(M.MultimodalPolicy("text", 80, 4, 4, dim=4, hidden=4), small_catalogue)
    other = M.make_catalogue(items_per_topic=4, text_dim=4, image_dim=4, cold_fraction=0.5, seed=1)
    with _raises("agent was built for another catalogue; evaluate it on agent.catalogue"):
        M.evaluate_multimodal(agent, other, "warm", n_episodes=2)
    M.evaluate_multimodal(agent, small_catalogue, "warm", n_episodes=2)


def test_pretrain_checks_the_logs(tiny_logs):
    pc = T.PretrainConfig(n_sessions=4, epochs=1, batch_size=2)
    five = replace(TINY, n_buckets=2)  # 40 items, the logs hold ids of 80
    it, tgt = tiny_logs["items"], tiny_logs["target"]
    with _raises(f"logs['items'] must be in [0, 42), got range [{it.min()}, {it.max()}]"):  # BOS = 81
        T.pretrain(ENV, pc, agent_config=five, logs=tiny_logs)
    wrong = dict(tiny_logs, items=np.minimum(it, 41))  # only the targets are out of range now
    with _raises(f"logs['target'] must be in [0, 40), got range [{tgt.min()}, {tgt.max()}]"):
        T.pretrain(ENV, pc, agent_config=five, logs=wrong)
    with _raises("logs is missing keys ['length']"):
        T.pretrain(ENV, pc, agent_config=TINY, logs={k: v for k, v in tiny_logs.items() if k != "length"})
    with _raises("logs must be a dict of arrays from collect_logs(), got list"):
        T.pretrain(ENV, pc, agent_config=TINY, logs=[1])
    bad = dict(tiny_logs, watch=tiny_logs["watch"].copy())
    bad["watch"][0, 0] = np.nan
    with _raises("logs['watch'] must be finite numbers"):
        T.pretrain(ENV, pc, agent_config=TINY, logs=bad)
    S = tgt.shape[0]
    with _raises(f"logs['length'] must have shape ({S},), got (3,)"):
        T.pretrain(ENV, pc, agent_config=TINY, logs=dict(tiny_logs, length=tiny_logs["length"][:3]))


def test_pretrain_refuses_a_holdout_that_rounds_to_no_session(tiny_logs):
    """Left alone at the last stop: the val_* histories came back empty without a word."""
    pc = T.PretrainConfig(n_sessions=4, epochs=1, batch_size=2, holdout=0.1)
    with _raises("holdout=0.1 of 4 logged sessions rounds to 0 held-out sessions, so there would be no "
                 "validation metrics; use holdout=0 (no val_* metrics) or more sessions"):
        T.pretrain(ENV, pc, agent_config=TINY, logs=tiny_logs)
    _, hist = T.pretrain(ENV, replace(pc, holdout=0.0), agent_config=TINY, logs=tiny_logs, compiled=False)
    assert hist["val_loss"].shape == (0,) and hist["train_loss"].shape == (2,)
    _, hist = T.pretrain(ENV, replace(pc, holdout=0.25), agent_config=TINY, logs=tiny_logs, compiled=False)
    assert hist["val_loss"].shape == (2,) and np.isfinite(hist["val_loss"]).all()


def test_policy_kl_needs_a_matching_reference():
    env = replace(ENV, max_steps=2)
    agent = T.TransformerAgent(TINY)
    with _raises("reference must be a TransformerAgent, got str"):
        T.policy_kl(agent, "x", env, n_episodes=2)
    other = T.TransformerAgent(replace(TINY, n_buckets=3))
    with _raises(f"reference has catalogue {other.catalogue}, the agent {agent.catalogue}; they must be equal"):
        T.policy_kl(agent, other, env, n_episodes=2)
    with _raises("agent must be a TransformerAgent, got str"):
        T.policy_kl("x", agent, env, n_episodes=2)


# ------------------------------------------------------------------ finding 8


def test_plackett_luce_logprob_rejects_invalid_slates():
    logits = [[1.0, 2.0, 3.0]]
    with _raises("slates must be in [0, N=3), got range [5, 5]"):
        T.plackett_luce_logprob(logits, [[5]])
    with _raises("slates must be in [0, N=3), got range [-1, -1]"):
        T.plackett_luce_logprob(logits, [[-1]])
    with _raises("slates must hold distinct positions in each slate, got slates[0] = [0, 0]"):
        T.plackett_luce_logprob(logits, [[0, 0]])
    assert np.isfinite(float(T.plackett_luce_logprob(logits, [[2, 0]])[0]))


@pytest.mark.parametrize("fn", ["plackett_luce_kl", "plackett_luce_kl_surrogate"])
def test_plackett_luce_kl_rejects_invalid_slates_and_mismatched_logits(fn):
    """Left alone at the last stop: the KL functions computed a value for impossible slates."""
    kl = getattr(T, fn)
    p, q = [[1.0, 2.0, 3.0]], [[0.5, 0.0, 1.0]]
    with _raises("slates must be in [0, N=3), got range [3, 3]"):
        kl(p, q, [[3]])
    with _raises("slates must be in [0, N=3), got range [-1, -1]"):
        kl(p, q, [[-1]])
    with _raises("slates must hold distinct positions in each slate, got slates[0] = [1, 1]"):
        kl(p, q, [[1, 1]])
    with _raises("logits_p and logits_q must score the same N candidates, with shapes (..., N) that broadcast "
                 "(e.g. one reference (N,) against a batch (B, N)), got (1, 3) and (1, 2)"):
        kl(p, [[0.0, 1.0]], [[0]])
    with _raises("logits_p and logits_q must score the same N candidates, with shapes (..., N) that broadcast "
                 "(e.g. one reference (N,) against a batch (B, N)), got (2, 3) and (3, 3)"):
        kl([[1.0, 2.0, 3.0]] * 2, [[0.0, 0.0, 0.0]] * 3, [[0], [1]])
    # one reference against a batch broadcasts, as the KL did before the check
    batch = [[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]]
    np.testing.assert_allclose(kl(batch, q[0], [[2, 0], [1, 2]]).numpy(), kl(batch, q * 2, [[2, 0], [1, 2]]).numpy())
    assert float(kl(p, q, [[2, 0]])[0]) > 0.0 and float(kl(p, p, [[2, 0]])[0]) == pytest.approx(0.0, abs=1e-6)


# ------------------------------------------------------------------ finding 11


def test_length_batch_and_multiple_arguments():
    with _raises("max_len must be an integer >= 1, got 0"):
        T.rollout(T.TransformerAgent(TINY), BatchEnv(ENV, 2), max_len=0)
    with _raises("max_len must be an integer >= 1, got 0"):
        T.collect_logs(ENV, n_sessions=2, max_len=0)
    with _raises("batch_size must be an integer >= 1, got 0"):
        T.collect_logs(ENV, n_sessions=2, batch_size=0)
    with _raises("multiple must be an integer >= 1, got 0"):
        T.pad_time({"a": np.zeros((1, 3))}, multiple=0)


def test_next_item_metrics_batch_size(tiny_logs):
    with _raises("batch_size must be an integer >= 1, got 0"):
        T.next_item_metrics(_model(TINY.n_items), tiny_logs, batch_size=0)


# ------------------------------------------------------------------ finding 14


def test_synthetic_batch_sizes():
    with _raises("n_items must be an integer >= 1, got 0"):
        T.synthetic_rl_batch(2, 3, 0)
    with _raises("n_candidates must be an integer >= 1, got 0"):
        T.synthetic_rl_batch(2, 3, 5, n_candidates=0)
    with _raises("batch_size must be an integer >= 1, got 0"):
        T.synthetic_log_batch(0, 3, 5)
    with _raises("length must be an integer >= 1, got 0"):
        T.synthetic_log_batch(2, 0, 5)
    with _raises("n_items must be an integer >= 1, got 0"):
        T.synthetic_log_batch(2, 3, 0)


# ------------------------------------------------------------------ finding 15


def test_make_catalogue_rejects_a_constant_embedding():
    cfg1 = replace(M.CATALOGUE_CONFIG, n_topics=1, n_trashy=0)
    with _raises("the text embedding would be the same for every item (equal latents [e_c ; q / 3]): "
                 "use text_noise > 0, quality_spread > 0 or more than one topic"):
        M.make_catalogue(items_per_topic=20, text_noise=(0.0, 0.0), image_noise=(0.0, 0.0), quality_spread=0.0,
                         config=cfg1)
    with _raises("the image embedding would be the same for every item (equal latents [e_c ; q / 3]): "
                 "use image_noise > 0, quality_spread > 0 or more than one topic"):
        M.make_catalogue(items_per_topic=20, text_noise=(0.1, 0.0), image_noise=(0.0, 0.0), quality_spread=0.0,
                         config=cfg1)
    c = M.make_catalogue(items_per_topic=20, text_noise=(0.1, 0.0), image_noise=(0.1, 0.0), quality_spread=0.0,
                         config=cfg1)
    assert np.isfinite(c.text).all() and np.isfinite(c.image).all()


def test_evaluation_counts_behind_a_confidence_interval_are_at_least_two():
    """The fine-tuning and multimodal evaluations report 95% CIs: one episode has none, and the
    error names their own argument (not evaluate's n_episodes)."""
    from rlrec_helpers.simulator import RandomPolicy

    msg = "must be an integer >= 2 (a confidence interval needs at least 2 values), got 1"
    with pytest.raises(ValueError, match=re.escape("eval_episodes " + msg)):
        T.FinetuneConfig(eval_episodes=1).validate()
    tiny = T.TransformerAgent(T.TransformerConfig(n_buckets=4, d_model=16, n_layers=1, n_heads=2, window=4,
                                                  ff_mult=2), seed=0)
    with pytest.raises(ValueError, match=re.escape("n_eval " + msg)):
        T.compare_finetuning(tiny, n_eval=1)
    cat = M.make_catalogue(items_per_topic=2)
    with pytest.raises(ValueError, match=re.escape("n_episodes " + msg)):
        M.evaluate_multimodal(RandomPolicy(seed=0), cat, n_episodes=1)
