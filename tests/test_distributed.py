"""Tests for rlrec_helpers.agents.distributed: the fine-tuning step under tf.distribute.

Both checks start fresh Python processes: logical CPU devices must be configured before
TensorFlow initialises, and each MultiWorkerMirroredStrategy worker is its own process.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rlrec_helpers.agents import distributed as D

TOL = 1e-5


@pytest.fixture(scope="module")
def mirrored():
    return D.run_mirrored_check(2, global_batch=16, horizon=8)


def test_mirrored_two_devices_gives_the_single_device_update(mirrored):
    r = mirrored
    assert r["replicas"] == 2
    assert r["init_max_abs_diff"] == 0.0  # same initial weights on both sides
    assert abs(r["loss_single"] - r["loss_mirrored"]) <= TOL * max(1.0, abs(r["loss_single"]))
    # gradients (summed over the replicas, read off the SGD update) and the weights after it
    assert r["grad_max_abs"] > 1e-3, "the gradient must not be trivially zero"
    assert r["grad_max_abs_diff"] <= TOL
    assert r["update_max_abs"] > 1e-4, "the step must move the weights"
    assert r["max_abs_diff"] <= TOL
    assert r["replica_spread"] == 0.0 and r["replica_copies"] == [r["replicas"]]   # every weight: one copy per replica, in sync
    assert r["kl_single"] > 1e-2  # the reference differs: the KL term is exercised
    assert abs(r["kl_single"] - r["kl_mirrored"]) <= TOL * max(1.0, r["kl_single"])


def test_multiworker_two_local_workers_stay_identical():
    r = D.run_local_multiworker(n_workers=2, steps=2)
    assert r["workers"] == 2 and r["replicas"] == 2
    assert r["moved"] > 1e-4, "the steps must move the weights"
    assert r["max_abs_diff_between_workers"] <= 1e-6
    l0, l1 = (np.asarray(x) for x in r["losses"])
    assert l0.shape == (2,) and np.all(np.isfinite(l0))
    np.testing.assert_allclose(l0, l1, atol=1e-6)  # both report the global loss


def test_tf_config_and_ports():
    ports = D.free_ports(3)
    assert len(set(ports)) == 3 and all(1 <= p < 65536 for p in ports)
    cfg = D.tf_config(ports, 1)
    assert cfg["cluster"]["worker"] == [f"127.0.0.1:{p}" for p in ports]
    assert cfg["task"] == {"type": "worker", "index": 1}
    json.dumps(cfg)
    with pytest.raises(ValueError, match=rf"^index must be an integer in \[0, len\(ports\) - 1={len(ports) - 1}\], got 3$"):
        D.tf_config(ports, 3)


def test_argument_checks():
    with pytest.raises(ValueError, match="n_workers"):
        D.run_local_multiworker(n_workers=1)
    with pytest.raises(ValueError, match="steps"):
        D.run_local_multiworker(n_workers=2, steps=0)
    with pytest.raises(ValueError, match="n_devices"):
        D.mirrored_equivalence(n_devices=1)
    with pytest.raises(ValueError, match="divisible"):
        D.mirrored_equivalence(n_devices=2, global_batch=15)
