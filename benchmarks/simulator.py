"""Simulator benchmark (notebook 05): calibration against SlateQ, throughput, evaluation time.

Prints:
1. Calibration, default preset (10 candidates, slate 3), 2,000 episodes per policy on the
   shared seed set: mean return ± 95% CI of the reference policies beside the SlateQ paper's
   Random (159.2) and Myopic (166.3) rows (Ie et al. 2019, arXiv:1905.12767), with the
   relative error (target: within 3%). Also the costly_browsing preset, and a sweep of the
   LongTermValuePolicy weight and the InterestQualityBlendPolicy lambda.
2. Throughput: user-steps/s of BatchEnv (B = 1,024, autoreset, random slates) against the
   straightforward per-user Python loop with the same semantics
   (``simulator.reference_episode``), side by side in this process (target ratio >= 50x).
3. Time to evaluate 10,000 episodes of a numpy policy (MyopicPolicy) with ``evaluate``
   on one core (target < 10 s).

Run: .venv/bin/python benchmarks/simulator.py   (about 1 minute on an idle machine)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from rlrec_helpers import simulator as S  # noqa: E402

N_CAL = 2000
SEED = 0


def _fmt(ci) -> str:
    return f"{ci.mean:8.2f} ± {ci.half_width:5.2f}"


def calibration() -> None:
    print("== 1. Calibration (mean return in minutes ± 95% CI, "
          f"{N_CAL} episodes, seed {SEED}) ==")
    policies = [("random", S.RandomPolicy(SEED)), ("myopic", S.MyopicPolicy()),
                ("quality-greedy", S.QualityGreedyPolicy()),
                ("blend lambda=2", S.InterestQualityBlendPolicy(2.0)),
                ("long-term value w=1", S.LongTermValuePolicy(1.0))]
    for preset in ("default", "costly_browsing"):
        print(f"-- preset {preset}")
        print(f"{'policy':22s} {'return':>16s} {'clicks':>8s} {'steps':>8s} {'SlateQ':>8s} {'rel.err':>8s}")
        for name, pol in policies:
            r = S.evaluate(pol, preset, N_CAL, seed=SEED)
            ref = S.SLATEQ_REFERENCE.get(name) if preset == "default" else None
            extra = f"{ref:8.1f} {100 * (r.mean_return.mean / ref - 1):+7.2f}%" if ref else ""
            print(f"{name:22s} {_fmt(r.mean_return)} {r.mean_clicks:8.2f} {r.mean_session_length:8.2f} {extra}")
    print("-- tuning (default / costly_browsing mean return)")
    for w in (0.5, 0.8, 1.0, 1.2, 1.5, 2.0):
        a = S.evaluate(S.LongTermValuePolicy(w), "default", N_CAL, seed=SEED).mean_return
        b = S.evaluate(S.LongTermValuePolicy(w), "costly_browsing", N_CAL, seed=SEED).mean_return
        print(f"LongTermValuePolicy(weight={w:3.1f}): {_fmt(a)} / {_fmt(b)}")
    for lam in (0.0, 0.5, 1.0, 2.0, 3.0):
        a = S.evaluate(S.InterestQualityBlendPolicy(lam), "default", N_CAL, seed=SEED).mean_return
        b = S.evaluate(S.InterestQualityBlendPolicy(lam), "costly_browsing", N_CAL, seed=SEED).mean_return
        print(f"InterestQualityBlendPolicy(lam={lam:3.1f}): {_fmt(a)} / {_fmt(b)}")


def throughput() -> None:
    print("\n== 2. Throughput (user-steps per second, random slates, default preset) ==")
    cfg = S.get_preset("default")
    # per-user Python loop: whole sessions until ~20,000 user-steps
    rng = np.random.default_rng(SEED)
    steps, t0 = 0, time.perf_counter()
    while steps < 20_000:
        steps += S.reference_episode(cfg, rng)[2]
    loop_rate = steps / (time.perf_counter() - t0)
    # vectorised: B = 1,024 users with autoreset, random slates from the RandomPolicy
    env = S.BatchEnv(cfg, 1024, seed=SEED, autoreset=True)
    pol = S.RandomPolicy(SEED)
    obs = env.reset()
    for _ in range(20):  # warm-up
        obs, *_ = env.step(pol.act(obs, env))
    n_steps, t0 = 300, time.perf_counter()
    for _ in range(n_steps):
        obs, *_ = env.step(pol.act(obs, env))
    batch_rate = n_steps * 1024 / (time.perf_counter() - t0)
    print(f"per-user Python loop : {loop_rate:12,.0f} user-steps/s")
    print(f"BatchEnv (B = 1,024) : {batch_rate:12,.0f} user-steps/s")
    print(f"ratio                : {batch_rate / loop_rate:12.1f} x   (target >= 50 x)")


def eval_time() -> None:
    print("\n== 3. evaluate(MyopicPolicy(), 'default', 10,000 episodes) ==")
    t0 = time.perf_counter()
    r = S.evaluate(S.MyopicPolicy(), "default", 10_000, seed=SEED)
    dt = time.perf_counter() - t0
    print(f"mean return {_fmt(r.mean_return)}; wall time {dt:.2f} s   (target < 10 s)")


if __name__ == "__main__":
    throughput()
    eval_time()
    calibration()
