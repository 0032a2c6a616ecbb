"""Argument validation of rlrec_helpers.agents.reinforce and rlrec_helpers.agents.off_policy.

Every bad input gets a ValueError naming the argument and the allowed range, raised before any
training step or weight update (review I, findings 1, 2, 4, 5, 6, 9, 11, 12, 13, 14).
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from rlrec_helpers.agents import off_policy as O
from rlrec_helpers.agents import reinforce as R

TINY = R.AgentConfig(n_topics=5, n_features=5, slate_size=2, hidden=8)   # item_dim 7, input_dim 14


def _raises(fn, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        fn()


def _tiny_env():
    from rlrec_helpers.simulator import get_preset

    return replace(get_preset("default"), max_steps=3)


# ------------------------------------------------------------------ finding 1: ReinforceTrainer.step


@pytest.fixture()
def trainer():
    agent = R.ReinforceAgent(TINY)
    return agent, R.ReinforceTrainer(agent.model, R.TrainConfig(), compiled=False)


def _batch():
    return R.synthetic_batch(TINY, 2, 3, n_candidates=5)


@pytest.mark.parametrize("edit, message", [
    (lambda b: b["returns"].__setitem__((0, 0), np.nan),
     "batch['returns'] entries must be finite numbers, got batch['returns'][0, 0] = nan"),
    (lambda b: b["rewards"].__setitem__((1, 2), np.inf),
     "batch['rewards'] entries must be finite numbers, got batch['rewards'][1, 2] = inf"),
    (lambda b: b["history"].__setitem__((0, 1, 3), np.nan),
     "batch['history'] entries must be finite numbers, got batch['history'][0, 1, 3] = nan"),
    (lambda b: b["candidates"].__setitem__((0, 0, 0, 0), np.nan),
     "batch['candidates'] entries must be finite numbers, got batch['candidates'][0, 0, 0, 0] = nan"),
    (lambda b: b["slates"].__setitem__((0, 0, 0), 7),
     "batch['slates'] entries must be integers in [0, N=5), got batch['slates'][0, 0, 0] = 7"),
    (lambda b: b["slates"].__setitem__((1, 0, 1), -1),
     "batch['slates'] entries must be integers in [0, N=5), got batch['slates'][1, 0, 1] = -1"),
    (lambda b: b.__setitem__("mask", b["mask"][:, :2]),
     "batch['mask'] must have shape (2, 3), got shape (2, 2)"),
    (lambda b: b["mask"].__setitem__((0, 0), 0.5),
     "batch['mask'] entries must be 0 or 1, got batch['mask'][0, 0] = 0.5"),
    (lambda b: b.__setitem__("candidates", b["candidates"][..., :4]),
     "batch['candidates'] must have shape (2, 3, any, 7), got shape (2, 3, 5, 4)"),
    (lambda b: b.__setitem__("slates", b["slates"][..., :1]),
     "batch['slates'] must have shape (2, 3, 2), got shape (2, 3, 1)"),
    (lambda b: b.__setitem__("candidate_mask", np.full((2, 3, 5), 2.0)),
     "batch['candidate_mask'] entries must be 0 or 1, got batch['candidate_mask'][0, 0, 0] = 2.0"),
    (lambda b: b.pop("mask"),
     "batch is missing keys ['mask'] (it needs 'history', 'candidates', 'slates', 'returns', 'mask')"),
])
def test_trainer_step_rejects_bad_batches_before_updating(trainer, edit, message):
    agent, tr = trainer
    before = [w.copy() for w in agent.model.get_weights()]
    b = _batch()
    edit(b)
    _raises(lambda: tr.step(b), message)
    for w0, w1 in zip(before, agent.model.get_weights()):
        np.testing.assert_array_equal(w0, w1)          # no update happened


def test_trainer_step_still_accepts_a_valid_batch(trainer):
    _, tr = trainer
    stats = tr.step(_batch())
    assert all(np.isfinite(v) for v in stats.values())


# ------------------------------------------------------------------ finding 2: off-policy logs


OFF_CFG = O.OffPolicyConfig(epochs=1, batch_size=8, hidden=4, beta_warmup_epochs=0)


def _logs():
    return O.make_bandit_logs([1.0, 0.0, 0.5], [0.2, 0.5, 0.3], n=16)


@pytest.mark.parametrize("edit, message", [
    (lambda g: g["ret"].__setitem__(0, np.nan), "logs['ret'] entries must be finite numbers, got logs['ret'][0] = nan"),
    (lambda g: g["state"].__setitem__((0, 0), np.nan),
     "logs['state'] entries must be finite numbers, got logs['state'][0, 0] = nan"),
    (lambda g: g["cand"].__setitem__((2, 1, 0), np.inf),
     "logs['cand'] entries must be finite numbers, got logs['cand'][2, 1, 0] = inf"),
    (lambda g: g.__setitem__("slate", np.c_[g["slate"], np.full(16, 9)]),
     "logs['slate'] entries must be item indices in [0, N=3), got logs['slate'][0, 1] = 9"),
    (lambda g: g.__setitem__("slate", np.c_[g["slate"], np.full(16, -1)]),
     "logs['slate'] entries must be item indices in [0, N=3), got logs['slate'][0, 1] = -1"),
    (lambda g: g["click_row"].__setitem__(0, -1),
     "logs['click_row'] / ['action'] index outside the logged steps/candidates"),
    (lambda g: g.__setitem__("state", g["state"][:, 0]), "logs['state'] must have 2 axes, got shape (16,)"),
])
def test_train_off_policy_rejects_bad_logs(edit, message):
    logs = _logs()
    edit(logs)
    _raises(lambda: O.train_off_policy(logs, OFF_CFG), message)


def test_train_off_policy_accepts_lists_like_arrays():
    logs = _logs()
    _, ref = O.train_off_policy(logs, OFF_CFG)
    _, hist = O.train_off_policy({k: v.tolist() for k, v in logs.items()}, OFF_CFG)
    for key in ref:
        np.testing.assert_array_equal(hist[key], ref[key])


# ------------------------------------------------------------------ finding 4: the CLI


def _no_training(*args, **kwargs):
    raise AssertionError("training started")


def test_cli_checks_out_and_eval_episodes_before_training(monkeypatch, tmp_path):
    monkeypatch.setattr(R, "train_reinforce", _no_training)
    bad = str(tmp_path / "x.h5")
    _raises(lambda: R._main(["train", "--out", bad]), f"--out must end in '.keras', got {bad!r}")
    ok = str(tmp_path / "ok.keras")
    _raises(lambda: R._main(["train", "--out", ok, "--eval-episodes", "0"]),
            "--eval-episodes must be an integer >= 2 (a confidence interval needs at least 2 values), got 0")
    _raises(lambda: R._main(["train", "--out", ok, "--n-iters", "0"]),
            "--n-iters must be None or an integer >= 1, got 0")
    assert not (tmp_path / "ok.keras").exists()


# ------------------------------------------------------------------ finding 5: argument names


def test_train_reinforce_checks_eval_seed_by_name():
    env = _tiny_env()
    cfg = R.TrainConfig(n_iters=1, batch_size=1, eval_every=1, eval_episodes=2)
    _raises(lambda: R.train_reinforce(env, cfg, agent_config=R.AgentConfig.for_env(env, hidden=4),
                                      progress=False, eval_seed=-1),
            "eval_seed must be an integer >= 0, got -1")


def test_retrain_and_compare_checks_n_eval_and_eval_seed_by_name():
    env = _tiny_env()
    _raises(lambda: R.retrain_and_compare(env, n_iters=1, batch_size=1, n_eval=0),
            "n_eval must be an integer >= 2 (a confidence interval needs at least 2 values), got 0")
    _raises(lambda: R.retrain_and_compare(env, n_iters=1, batch_size=1, eval_seed=-1),
            "eval_seed must be an integer >= 0, got -1")


# ------------------------------------------------------------------ finding 6: config types


@pytest.mark.parametrize("field, value", [("use_history", "False"), ("cluster_stats", 1), ("use_history", None)])
def test_agent_config_flags_must_be_bools(field, value):
    _raises(lambda: R.ReinforceAgent(replace(TINY, **{field: value})), f"{field} must be a bool, got {value!r}")
    _raises(lambda: replace(TINY, **{field: value}).validate(), f"{field} must be a bool, got {value!r}")


@pytest.mark.parametrize("field, value", [("normalize", "no"), ("keep_best", 1)])
def test_train_config_flags_must_be_bools(field, value):
    _raises(lambda: R.TrainConfig(eval_every=1, **{field: value}).validate(), f"{field} must be a bool, got {value!r}")


def test_policy_network_does_not_cast_its_arguments():
    kw = dict(n_topics=3, n_features=4, slate_size=2, hidden=4)
    _raises(lambda: R.PolicyNetwork(**dict(kw, hidden=4.9)), "hidden must be an integer >= 1, got 4.9")
    _raises(lambda: R.PolicyNetwork(**dict(kw, n_topics="3")), "n_topics must be an integer >= 1, got '3'")
    _raises(lambda: R.PolicyNetwork(**kw, use_history="False"), "use_history must be a bool, got 'False'")
    _raises(lambda: R.PolicyNetwork(**kw, doc_length="4"), "doc_length must be a finite number > 0, got '4'")
    # valid numpy and int values are stored as plain Python types, as before
    net = R.PolicyNetwork(n_topics=np.int64(3), n_features=4, slate_size=2, hidden=4, doc_length=4,
                          use_history=np.True_)
    c = net.agent_config
    assert (type(c.n_topics), type(c.doc_length), type(c.use_history)) == (int, float, bool)
    assert c == R.AgentConfig(n_topics=3, n_features=4, slate_size=2, hidden=4)


# ------------------------------------------------------------------ finding 9: OffPolicyConfig


@pytest.mark.parametrize("field, value, message", [
    ("hidden", 0, "hidden must be an integer >= 1, got 0"),
    ("hidden", "4", "hidden must be an integer >= 1, got '4'"),
    ("seed", -1, "seed must be an integer >= 0, got -1"),
    ("weight_cap", "10", "weight_cap must be a finite number > 0, or None or np.inf (no cap), got '10'"),
    ("weight_cap", 0, "weight_cap must be a finite number > 0, or None or np.inf (no cap), got 0"),
    ("weight_cap", float("nan"), "weight_cap must be a finite number > 0, or None or np.inf (no cap), got nan"),
    ("weight_cap", -np.inf, "weight_cap must be a finite number > 0, or None or np.inf (no cap), got -inf"),
    ("baseline", "no", "baseline must be a bool, got 'no'"),
])
def test_off_policy_config_rejects_bad_fields(field, value, message):
    _raises(lambda: O.OffPolicyConfig(**{field: value}).validate(), message)
    O.OffPolicyConfig(weight_cap=np.inf).validate()
    O.OffPolicyConfig(weight_cap=None).validate()   # the spelling of ope's max_weight=None
    O.OffPolicyConfig(weight_cap=1, hidden=np.int64(2)).validate()


# ------------------------------------------------------------------ finding 11: lengths and batch sizes


def test_rollout_and_session_trace_check_max_len():
    from rlrec_helpers.simulator import BatchEnv

    agent = R.ReinforceAgent(R.AgentConfig.for_env("default", hidden=4))
    _raises(lambda: R.rollout(agent, BatchEnv("default", 2), max_len=0), "max_len must be an integer >= 1, got 0")
    _raises(lambda: R.session_trace(agent, "default", n_users=2, max_len=0), "max_len must be an integer >= 1, got 0")


@pytest.mark.parametrize("value", [-1, 0, 2.0])
def test_history_featurizer_reset_checks_batch_size(value):
    _raises(lambda: O.HistoryFeaturizer(3).reset(value), f"batch_size must be an integer >= 1, got {value!r}")


# ------------------------------------------------------------------ finding 12: encode_feedback


def test_encode_feedback_rejects_out_of_range_clusters_and_clicks():
    _raises(lambda: R.encode_feedback([[5, 0]], [-1], [0.0], 1, n_topics=3),
            "shown_clusters must be integers in [0, n_topics=3), got range [0, 5]")
    _raises(lambda: R.encode_feedback([[4, 0]], [0], [1.0], 1, n_topics=3),
            "shown_clusters must be integers in [0, n_topics=3), got range [0, 4]")
    _raises(lambda: R.encode_feedback([[1, 0]], [4], [1.0], 1, n_topics=3),
            "clicked must be -1 or a slate position in [0, K=2), got range [4, 4]")
    _raises(lambda: R.encode_feedback([[1, 0]], [-2], [1.0], 1, n_topics=3),
            "clicked must be -1 or a slate position in [0, K=2), got range [-2, -2]")
    _raises(lambda: R.encode_feedback([1, 0], [0, 0], [1.0, 1.0], 1, n_topics=3),
            "shown_clusters must have shape (B=2, K), got shape (2,)")
    # the previous slate of a session's first step is ignored, as documented
    x = R.encode_feedback([[9, 9]], [7], [0.0], 0, n_topics=3)
    np.testing.assert_array_equal(x, [[0, 0, 0, 0, 0, 0, 0, 0, 1, 0]])


# ------------------------------------------------------------------ finding 13: recommend's candidates


def test_recommend_rejects_non_one_hot_and_non_numeric_candidates():
    agent = R.ReinforceAgent(TINY)
    for bad in (np.zeros((4, 5)), np.ones((4, 5)), np.full((4, 5), 0.2)):
        _raises(lambda: agent.recommend(None, bad), "candidates[:, :n_topics] must be a one-hot cluster encoding")
    strings = np.array([["1", "0", "0", "0", "0"]] * 4)
    _raises(lambda: agent.recommend(None, strings), f"candidates must be an array of real numbers, got {strings!r}")
    _raises(lambda: agent.recommend(None, [["a"] * 5] * 4),
            f"candidates must be an array of real numbers, got {[['a'] * 5] * 4!r}")
    idx, _ = agent.recommend(None, np.eye(5)[[0, 1, 2, 3]])
    assert idx.shape == (2,)


# ------------------------------------------------------------------ finding 14: synthetic sizes


def test_synthetic_batch_and_step_throughput_check_sizes():
    _raises(lambda: R.synthetic_batch(TINY, 0, 3), "batch_size must be an integer >= 1, got 0")
    _raises(lambda: R.synthetic_batch(TINY, 2, 0), "length must be an integer >= 1, got 0")
    _raises(lambda: R.synthetic_batch(TINY, 2, 3, n_candidates=1),
            "n_candidates must be an integer >= slate_size=2, got 1")
    _raises(lambda: R.step_throughput(batch_size=0, n_steps=1, agent_config=TINY),
            "batch_size must be an integer >= 1, got 0")
    _raises(lambda: R.step_throughput(length=0, n_steps=1, agent_config=TINY), "length must be an integer >= 1, got 0")
    _raises(lambda: R.step_throughput(n_candidates=1, n_steps=1, agent_config=TINY),
            "n_candidates must be an integer >= slate_size=2, got 1")
