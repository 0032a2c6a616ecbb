"""Running the RL fine-tuning step under ``tf.distribute`` (one machine or many).

The step itself lives in :func:`rlrec_helpers.agents.transformer.make_rl_train_step`; it
is strategy-agnostic because (1) every replica divides its loss by the *global* batch, so
replica losses add up to the single-device loss, (2) the Keras optimizer sums gradients
across replicas before applying them, and (3) the global batch is split into contiguous
per-replica chunks. This module adds the checks:

* :func:`mirrored_equivalence` -- one step under ``MirroredStrategy`` over n logical CPU
  devices against the single-device step on the same global batch. Logical devices must
  be configured before TensorFlow initialises, so :func:`run_mirrored_check` runs it in a
  fresh Python process.
* :func:`run_local_multiworker` -- n worker processes on 127.0.0.1 with
  ``MultiWorkerMirroredStrategy`` (TF_CONFIG per process), a few steps, then the workers'
  weights are compared.

Command line (used by the two helpers above)::

    python -m rlrec_helpers.agents.distributed mirrored --devices 2
    python -m rlrec_helpers.agents.distributed worker --index 0 --ports 23456,23457 --out w0.npz
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rlrec_helpers._validate import check_choice, check_int, check_real

#: small model used by the checks (the notebook's architecture, narrower, smaller catalogue)
CHECK_MODEL = dict(n_items=200, d_model=32, n_layers=2, n_heads=2, window=8)


def _quiet_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    env.pop("TF_CONFIG", None)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


def _build(strategy, seed: int, optimizer: str = "adam", lr: float = 1e-3):
    import keras

    from rlrec_helpers.agents import transformer as T
    from rlrec_helpers.setup import seed_everything

    check_choice("optimizer", optimizer, ("adam", "sgd"))
    with strategy.scope():
        seed_everything(seed, use_tf=True)
        model = T.build_model(**CHECK_MODEL, seed=seed)
        ref = T.clone_model(model, trainable=False)
        # a reference that differs from the policy, so that the KL term has a gradient
        bias = np.random.default_rng(seed + 99).normal(0.0, 0.5, CHECK_MODEL["n_items"])
        ref.out_bias.assign(bias.astype(np.float32))
        opt = keras.optimizers.Adam(lr) if optimizer == "adam" else keras.optimizers.SGD(lr)
        step = T.make_rl_train_step(model, ref, opt, strategy)
    return model, ref, step


def _max_abs_diff(a: list, b: list) -> float:
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b))


def mirrored_equivalence(n_devices: int = 2, global_batch: int = 32, horizon: int = 16, beta: float = 0.1,
                         seed: int = 0, lr: float = 0.1) -> dict:
    """One RL step on one device vs ``MirroredStrategy`` over ``n_devices`` logical CPUs.

    Same initial weights, same global batch. Compares (1) the loss, (2) the gradient and (3)
    the weights after one plain SGD step (learning rate ``lr``): the update is
    ``-lr * gradient``, so the gradient (summed over the replicas) is ``(w0 - w1) / lr``.
    (An Adam first step is ``-lr * g / (|g| + eps)``, about ``-lr * sign(g)``: it turns
    float32 rounding differences in near-zero gradient entries into differences of order
    ``lr``, which is why such a check is done with SGD.)

    Must run in a process where TensorFlow has not initialised its devices yet
    (:func:`run_mirrored_check` starts one). Returns a dict: ``replicas`` (int);
    ``replica_copies`` (list of ints: the sorted distinct numbers of copies per weight,
    ``[replicas]`` when every weight is mirrored); and floats ``init_max_abs_diff``,
    ``loss_single`` / ``loss_mirrored``, ``grad_max_abs`` (size of the gradient),
    ``grad_max_abs_diff``, ``update_max_abs`` (size of the SGD update), ``max_abs_diff``
    (weights after the step), ``kl_single`` / ``kl_mirrored`` and ``replica_spread`` (max
    difference between the replicas' copies of a weight).

    ``n_devices`` >= 2, ``global_batch`` >= ``n_devices`` (a multiple of it), ``horizon`` >= 1
    and ``seed`` >= 0 are integers, ``beta`` >= 0 and ``lr`` > 0 finite numbers; otherwise
    ``ValueError``, raised before TensorFlow's devices are configured.
    """
    import tensorflow as tf

    from rlrec_helpers.agents import transformer as T

    check_int("n_devices", n_devices, 2)
    check_int("global_batch", global_batch, n_devices, lo_name="n_devices")
    check_int("horizon", horizon, 1)
    check_real("beta", beta, 0.0)
    check_int("seed", seed, 0)
    check_real("lr", lr, 0.0, lo_open=True)
    if global_batch % n_devices:
        raise ValueError(f"global_batch ({global_batch}) must be divisible by n_devices ({n_devices})")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n_devices)
    tf.config.experimental.enable_op_determinism()
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    batch = T.synthetic_rl_batch(global_batch, horizon, CHECK_MODEL["n_items"], seed=seed + 1)

    single, _, step1 = _build(tf.distribute.get_strategy(), seed, "sgd", lr)
    w0 = [w.copy() for w in single.get_weights()]
    loss1, kl1, _ = step1(batch, beta)
    w1 = single.get_weights()

    strategy = tf.distribute.MirroredStrategy(devices[:n_devices])
    mirrored, _, step2 = _build(strategy, seed, "sgd", lr)
    init_diff = _max_abs_diff(w0, mirrored.get_weights())
    loss2, kl2, _ = step2(batch, beta)
    w2 = mirrored.get_weights()
    spread, copies = 0.0, set()
    for v in mirrored.weights:   # a Keras 3 Variable; v.value is the tf MirroredVariable
        vals = [np.asarray(x) for x in v.value.values]
        copies.add(len(vals))
        spread = max(spread, max(float(np.max(np.abs(vals[0] - x))) for x in vals))
    g1 = [(a - b) / lr for a, b in zip(w0, w1)]
    g2 = [(a - b) / lr for a, b in zip(w0, w2)]
    return dict(
        replicas=int(strategy.num_replicas_in_sync),
        init_max_abs_diff=init_diff,
        loss_single=float(loss1), loss_mirrored=float(loss2),
        grad_max_abs=max(float(np.max(np.abs(g))) for g in g1),
        grad_max_abs_diff=_max_abs_diff(g1, g2),
        update_max_abs=_max_abs_diff(w0, w1),
        max_abs_diff=_max_abs_diff(w1, w2),
        kl_single=float(kl1), kl_mirrored=float(kl2),
        replica_spread=spread, replica_copies=sorted(copies),
    )


def run_mirrored_check(n_devices: int = 2, timeout: float = 300.0, **kwargs) -> dict:
    """Run :func:`mirrored_equivalence` in a fresh Python process; return its result dict."""
    args = [sys.executable, "-m", "rlrec_helpers.agents.distributed", "mirrored", "--devices", str(n_devices)]
    for k, v in kwargs.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=_quiet_env())
    if out.returncode != 0:
        raise RuntimeError(f"mirrored check failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (bound then released)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def tf_config(ports: list[int], index: int) -> dict:
    """TF_CONFIG for worker ``index`` of a cluster of workers on 127.0.0.1:ports.

    On a real cluster each machine gets the same ``cluster`` (its hosts instead of
    127.0.0.1) and its own ``task.index``.
    """
    check_int("index", index, 0, len(ports) - 1, hi_name="len(ports) - 1")
    return {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}


def multiworker_worker(index: int, ports: list[int], steps: int, out: str, global_batch: int = 16,
                       horizon: int = 8, beta: float = 0.1, seed: int = 0) -> None:
    """Body of one worker: MultiWorkerMirroredStrategy, ``steps`` RL steps, save weights."""
    os.environ["TF_CONFIG"] = json.dumps(tf_config(ports, index))
    import tensorflow as tf

    from rlrec_helpers.agents import transformer as T

    comm = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=comm)
    model, _, step = _build(strategy, seed, "adam", 1e-3)
    w0 = [w.copy() for w in model.get_weights()]
    losses = []
    for s in range(steps):
        # every worker builds the same global batch; each takes its replica's chunk
        batch = T.synthetic_rl_batch(global_batch, horizon, CHECK_MODEL["n_items"], seed=seed + 100 + s)
        losses.append(step(batch, beta)[0])
    w = model.get_weights()
    np.savez(out, losses=np.array(losses), replicas=strategy.num_replicas_in_sync,
             moved=max(float(np.max(np.abs(a - b))) for a, b in zip(w0, w)), **{f"w{i}": x for i, x in enumerate(w)})


def run_local_multiworker(n_workers: int = 2, steps: int = 3, timeout: float = 300.0) -> dict:
    """Launch ``n_workers`` local worker processes (loopback only) and compare their weights.

    Returns replicas, per-worker losses, how far the weights moved from the
    initialisation, and the max |difference| between worker 0 and every other worker.
    """
    check_int("n_workers", n_workers, 2)
    check_int("steps", steps, 1)
    ports = free_ports(n_workers)
    with tempfile.TemporaryDirectory() as tmp:
        procs, outs = [], []
        for i in range(n_workers):
            out = os.path.join(tmp, f"w{i}.npz")
            outs.append(out)
            args = [sys.executable, "-m", "rlrec_helpers.agents.distributed", "worker", "--index", str(i),
                    "--ports", ",".join(map(str, ports)), "--steps", str(steps), "--out", out]
            procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          env=_quiet_env({"CUDA_VISIBLE_DEVICES": ""})))
        deadline = time.monotonic() + timeout
        errors = []
        for i, p in enumerate(procs):
            try:
                _, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                raise RuntimeError(f"worker {i} timed out after {timeout} s")
            if p.returncode != 0:
                errors.append(f"worker {i} exit {p.returncode}:\n{err[-2000:]}")
        if errors:
            raise RuntimeError("\n".join(errors))
        data = [dict(np.load(o)) for o in outs]
    n_w = sum(1 for k in data[0] if k.startswith("w"))
    diff = 0.0
    for d in data[1:]:
        diff = max(diff, max(float(np.max(np.abs(data[0][f"w{i}"] - d[f"w{i}"]))) for i in range(n_w)))
    return dict(workers=n_workers, replicas=int(data[0]["replicas"]), losses=[d["losses"].tolist() for d in data],
                moved=float(data[0]["moved"]), max_abs_diff_between_workers=diff)


def _main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mirrored")
    m.add_argument("--devices", type=int, default=2)
    m.add_argument("--global-batch", type=int, default=32)
    m.add_argument("--horizon", type=int, default=16)
    m.add_argument("--beta", type=float, default=0.1)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--lr", type=float, default=0.1)
    w = sub.add_parser("worker")
    w.add_argument("--index", type=int, required=True)
    w.add_argument("--ports", required=True)
    w.add_argument("--steps", type=int, default=3)
    w.add_argument("--out", required=True)
    a = p.parse_args(argv)
    if a.cmd == "mirrored":
        res = mirrored_equivalence(a.devices, a.global_batch, a.horizon, a.beta, a.seed, a.lr)
        print(json.dumps(res))
    else:
        multiworker_worker(a.index, [int(x) for x in a.ports.split(",")], a.steps, a.out)


if __name__ == "__main__":
    _main()
