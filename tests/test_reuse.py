"""Reusing the package outside the course's own calls (review s16, a researcher's view).

Each test pins one finding: a config that silently trains nothing, a zero-width "95% CI" from one
value, weights looked for where an installed package has none, advice to delete a user's own
data, and errors that did not name the bad argument (a bare function as a policy, ragged slates,
an agent evaluated on an environment of another shape). TensorFlow parts are tiny (hidden=8).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from rlrec_helpers import data
from rlrec_helpers import simulator as S
from rlrec_helpers.stats import mean_ci, paired_difference


def _raises(fn, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        fn()


# ------------------------------------------------------------------ 1: value_coef with a critic


@pytest.mark.parametrize("baseline", ["value", "gae"])
def test_value_coef_zero_is_refused_when_the_baseline_reads_the_critic(baseline):
    """With value_coef=0 the value head never moves, so "value"/"gae" would use an untrained critic."""
    from rlrec_helpers.agents import reinforce as R

    _raises(lambda: R.TrainConfig(baseline=baseline, value_coef=0.0).validate(),
            f"value_coef must be > 0 with baseline={baseline!r} (its advantages read the value head, "
            f"which value_coef = 0 never trains), got 0.0")
    R.TrainConfig(baseline=baseline, value_coef=1e-3).validate()


@pytest.mark.parametrize("baseline", ["mean", "none"])
def test_value_coef_zero_stays_allowed_when_the_baseline_ignores_the_critic(baseline):
    from rlrec_helpers.agents import reinforce as R

    assert R.TrainConfig(baseline=baseline, value_coef=0.0).validate().value_coef == 0.0


# ------------------------------------------------------------------ 2: a CI needs two values


@pytest.mark.parametrize("values", [[3.0], 5.0, np.array([7.5])])
def test_mean_ci_refuses_a_single_value(values):
    """One value gave a zero-width interval, so two one-episode results looked significantly different."""
    _raises(lambda: mean_ci(values), "values must contain at least 2 numbers (a confidence interval needs at "
                                     "least 2 values: Student's t has n - 1 degrees of freedom), got 1")


def test_paired_difference_refuses_a_single_pair():
    _raises(lambda: paired_difference([3.0], [1.0]),
            "a and b must hold at least 2 pairs (a confidence interval needs at least 2 values), got 1")
    assert paired_difference([3.0, 4.0], [1.0, 1.5]).n == 2


def test_evaluate_needs_two_episodes_and_names_n_episodes():
    _raises(lambda: S.evaluate(S.MyopicPolicy(), "default", 1),
            "n_episodes must be an integer >= 2 (a confidence interval needs at least 2 values), got 1")
    res = S.evaluate(S.MyopicPolicy(), replace(S.get_preset("default"), max_steps=2), 2, seed=0)
    assert res.mean_return.n == 2 and res.returns.shape == (2,)


def test_train_config_and_retraining_need_two_evaluation_episodes(monkeypatch, tmp_path):
    from rlrec_helpers.agents import reinforce as R

    _raises(lambda: R.TrainConfig(eval_episodes=1).validate(),
            "eval_episodes must be an integer >= 2 (a confidence interval needs at least 2 values), got 1")
    _raises(lambda: R.retrain_and_compare("default", n_iters=1, batch_size=1, n_eval=1),
            "n_eval must be an integer >= 2 (a confidence interval needs at least 2 values), got 1")

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(R, "train_reinforce", no_training)
    _raises(lambda: R._main(["train", "--out", str(tmp_path / "a.keras"), "--eval-episodes", "1"]),
            "--eval-episodes must be an integer >= 2 (a confidence interval needs at least 2 values), got 1")


# ------------------------------------------------------------------ 3: shipped weights outside a clone


def test_load_pretrained_says_where_it_looked_and_where_the_weights_ship(tmp_path, monkeypatch):
    from rlrec_helpers.agents import reinforce as R

    # an installed package: no data/pretrained beside it
    missing = tmp_path / "site-packages" / "data" / "pretrained"
    monkeypatch.setattr(R, "PRETRAINED_DIR", missing)
    monkeypatch.setattr(R, "_REPO_PRETRAINED_DIR", missing)
    path = missing / "reinforce_default.keras"
    _raises(lambda: R.load_pretrained("default"),
            f"no shipped weights file {path}: the weights ship in the repository's data/pretrained, not "
            f"in the installed package; install from a clone (pip install -e .) or set "
            f"RLREC_PRETRAINED_DIR to a folder holding reinforce_default.keras")
    # a clone that lost the file
    monkeypatch.setattr(R, "PRETRAINED_DIR", tmp_path)
    monkeypatch.setattr(R, "_REPO_PRETRAINED_DIR", tmp_path)
    _raises(lambda: R.load_pretrained("default"),
            f"no shipped weights file {tmp_path / 'reinforce_default.keras'}: restore it with "
            f"`git checkout -- data/pretrained/reinforce_default.keras`")


def test_pretrained_dir_follows_the_environment_variable(tmp_path):
    """Like RLREC_DATA_DIR: read when the module is imported, so a fresh interpreter is needed."""
    code = ("from rlrec_helpers.agents import reinforce as R\n"
            "print(R.PRETRAINED_DIR)\n"
            "try:\n    R.load_pretrained('costly_browsing')\n"
            "except ValueError as e:\n    print(e)\n")
    env = {**os.environ, "RLREC_PRETRAINED_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    lines = out.stdout.splitlines()
    assert lines[0] == str(tmp_path), out.stderr
    assert lines[1] == (f"no shipped weights file {tmp_path / 'reinforce_costly_browsing.keras'}: "
                        f"RLREC_PRETRAINED_DIR={tmp_path} holds no reinforce_costly_browsing.keras; copy it from "
                        f"the repository's data/pretrained"), out.stderr


@pytest.mark.parametrize("preset", [S.PRESETS["default"], 3, None])
def test_load_pretrained_refuses_a_preset_that_is_not_a_name(preset):
    """A SimulatorConfig gave "OSError: File name too long" (its repr became the file name)."""
    from rlrec_helpers.agents import reinforce as R

    with pytest.raises(ValueError, match=r"^preset must be a preset name \(str\) such as 'costly_browsing', "
                                         rf"got {re.escape(type(preset).__name__)}$"):
        R.load_pretrained(preset)


# ------------------------------------------------------------------ 4: no "delete your directory"


@pytest.fixture
def corrupt_copy(tmp_path):
    dest = tmp_path / "my_obd"
    shutil.copytree(data.DEFAULT_DATA_DIR, dest)
    path = dest / "random" / "men" / "men.csv"
    path.write_bytes(path.read_bytes() + b"\n")
    return dest, path


def test_hash_mismatch_in_a_user_directory_names_the_file_without_advising_deletion(corrupt_copy):
    dest, path = corrupt_copy
    with pytest.raises(ValueError) as err:
        data.load_open_bandit("random", "men", data_dir=dest, verify=True)
    msg = str(err.value)
    assert msg.startswith(f"Open Bandit Dataset file {path} does not match the pinned sha256 of the OBD "
                          f"sample's random/men/men.csv (")
    assert "delete" not in msg and "make data" not in msg and "verify=False" in msg


def test_hash_mismatch_in_the_default_directory_still_advises_refetching(corrupt_copy, monkeypatch):
    dest, path = corrupt_copy
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", dest)
    with pytest.raises(ValueError, match=rf"^Open Bandit Dataset file {re.escape(str(path))} is corrupt .*"
                                         rf"delete {re.escape(str(dest))} and run `make data`"):
        data.load_open_bandit("random", "men", verify=True)


# ------------------------------------------------------------------ 5: evaluate checks the protocol


def test_evaluate_names_a_policy_without_reset_and_act():
    def bare(obs, env):
        return np.tile(np.arange(3), (env.batch_size, 1))

    _raises(lambda: S.evaluate(bare, "default", 2),
            "policy must be a slate policy with reset(batch_size) and act(obs, env), got function")


def test_the_slate_policy_check_lives_in_the_simulator_only():
    from rlrec_helpers.agents import reinforce as R

    assert R._check_slate_policy is S._check_slate_policy


# ------------------------------------------------------------------ 6: ragged slates name `slates`


@pytest.mark.parametrize("slates", [[[0, 1, 2], [0, 1]], [[0, 1, 2], [0, [1, 2], 3]]])
def test_batch_env_names_slates_for_ragged_input(slates):
    env = S.BatchEnv("default", 2, seed=0)
    env.reset()
    _raises(lambda: env.step(slates), "slates must have shape (batch_size, slate_size) = (2, 3): one row of "
                                      "slate_size candidate indices per user, got a ragged list")


# ------------------------------------------------------------------ 7: agent vs environment shape


@pytest.mark.parametrize("change, built, got", [
    ({"slate_size": 4}, "slate_size=3, n_topics=20", "slate_size=4, n_topics=20"),
    ({"n_topics": 12, "n_trashy": 6}, "slate_size=3, n_topics=20", "slate_size=3, n_topics=12"),
])
def test_agent_on_an_environment_of_another_shape_names_itself(change, built, got):
    from rlrec_helpers.agents import reinforce as R

    agent = R.ReinforceAgent(R.AgentConfig.for_env("default", hidden=8))
    env_cfg = replace(S.get_preset("default"), max_steps=2, **change)
    _raises(lambda: R.evaluate_agent(agent, env_cfg, n_episodes=2),
            f"this ReinforceAgent was built for {built}, but the environment has {got}; "
            f"build one for it with AgentConfig.for_env(config)")
    assert R.evaluate_agent(agent, replace(S.get_preset("default"), max_steps=2), n_episodes=2).returns.shape == (2,)
