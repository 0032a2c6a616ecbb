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
3. Speed of ``evaluate`` on 10,000 episodes of a numpy policy (MyopicPolicy) on one core, as
   a ratio of episodes/s against the same policy in the per-user Python loop
   (``reference_episode``, 1,000 episodes), side by side in this process; the absolute time
   for 10,000 episodes is printed as well, for the issue's target (< 10 s).
In 2. and 3. each side is warmed up once, then timed in 3 alternating blocks (medians).

Run: .venv/bin/python benchmarks/simulator.py   (about 20 s on 2 cores; ``--episodes`` sets the
calibration's episodes per policy, ``--help`` lists the options)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from _cli import parse_count  # noqa: E402
from rlrec_helpers._timing import paired_medians  # noqa: E402
from rlrec_helpers import simulator as S  # noqa: E402
from rlrec_helpers.stats import mean_ci  # noqa: E402

N_CAL = 2000
SEED = 0


def _fmt(ci) -> str:
    return f"{ci.mean:8.2f} ± {ci.half_width:5.2f}"


def calibration(n_episodes: int = N_CAL) -> None:
    print("== 1. Calibration (mean return in minutes ± 95% CI, "
          f"{n_episodes} episodes, seed {SEED}) ==")
    policies = [("random", S.RandomPolicy(SEED)), ("myopic", S.MyopicPolicy()),
                ("quality-greedy", S.QualityGreedyPolicy()),
                ("blend lambda=2", S.InterestQualityBlendPolicy(2.0)),
                ("long-term value w=1", S.LongTermValuePolicy(1.0))]
    for preset in ("default", "costly_browsing"):
        print(f"-- preset {preset}")
        print(f"{'policy':22s} {'return':>16s} {'clicks':>8s} {'steps':>8s} {'SlateQ':>8s} {'rel.err':>8s}")
        for name, pol in policies:
            r = S.evaluate(pol, preset, n_episodes, seed=SEED)
            ref = S.SLATEQ_REFERENCE.get(name) if preset == "default" else None
            extra = f"{ref:8.1f} {100 * (r.mean_return.mean / ref - 1):+7.2f}%" if ref else ""
            print(f"{name:22s} {_fmt(r.mean_return)} {r.mean_clicks:8.2f} {r.mean_session_length:8.2f} {extra}")
    print("-- tuning (default / costly_browsing mean return)")
    for w in (0.5, 0.8, 1.0, 1.2, 1.5, 2.0):
        a = S.evaluate(S.LongTermValuePolicy(w), "default", n_episodes, seed=SEED).mean_return
        b = S.evaluate(S.LongTermValuePolicy(w), "costly_browsing", n_episodes, seed=SEED).mean_return
        print(f"LongTermValuePolicy(weight={w:3.1f}): {_fmt(a)} / {_fmt(b)}")
    for lam in (0.0, 0.5, 1.0, 2.0, 3.0):
        a = S.evaluate(S.InterestQualityBlendPolicy(lam), "default", n_episodes, seed=SEED).mean_return
        b = S.evaluate(S.InterestQualityBlendPolicy(lam), "costly_browsing", n_episodes, seed=SEED).mean_return
        print(f"InterestQualityBlendPolicy(lam={lam:3.1f}): {_fmt(a)} / {_fmt(b)}")


REPEATS = 3  # alternating timed blocks per side; medians reported


def throughput() -> None:
    print("\n== 2. Throughput (user-steps per second, random slates, default preset) ==")
    cfg = S.get_preset("default")
    rng = np.random.default_rng(SEED)

    def loop_block() -> int:  # per-user Python loop: whole sessions until ~20,000 user-steps
        steps = 0
        while steps < 20_000:
            steps += S.reference_episode(cfg, rng)[2]
        return steps

    # vectorised: B = 1,024 users with autoreset, random slates from the RandomPolicy
    env = S.BatchEnv(cfg, 1024, seed=SEED, autoreset=True)
    pol = S.RandomPolicy(SEED)
    state = {"obs": env.reset()}
    n_steps = 300

    def batch_block() -> int:
        obs = state["obs"]
        for _ in range(n_steps):
            obs, *_ = env.step(pol.act(obs, env))
        state["obs"] = obs
        return n_steps * env.batch_size

    r = paired_medians({"loop": loop_block, "batch": batch_block}, REPEATS, work=True)
    print(f"(each side warmed up once, then the median of {REPEATS} alternating timed blocks)")
    print(f"per-user Python loop : {r['loop']:12,.0f} user-steps/s")
    print(f"BatchEnv (B = 1,024) : {r['batch']:12,.0f} user-steps/s")
    print(f"ratio                : {r['batch'] / r['loop']:12.1f} x   (target >= 50 x)")


N_EVAL_TIME = 10_000  # episodes for evaluate
N_EVAL_LOOP = 1_000   # episodes for the per-user loop reference (much slower per episode)


def _myopic_choose(clusters, interests, means, k):
    """MyopicPolicy for reference_episode: the K candidates with the highest true interest."""
    return sorted(range(len(clusters)), key=lambda i: -interests[clusters[i]])[:k]


def eval_time() -> None:
    print(f"\n== 3. evaluate(MyopicPolicy(), 'default', {N_EVAL_TIME:,} episodes) against the same policy "
          f"in the per-user Python loop (reference_episode, {N_EVAL_LOOP:,} episodes), episodes per second ==")
    cfg = S.get_preset("default")
    rng = np.random.default_rng(SEED + 1)
    out: dict = {}

    def eval_block() -> int:
        out["eval"] = S.evaluate(S.MyopicPolicy(), "default", N_EVAL_TIME, seed=SEED)
        return N_EVAL_TIME

    def loop_block() -> int:
        out["loop"] = [S.reference_episode(cfg, rng, choose=_myopic_choose)[0] for _ in range(N_EVAL_LOOP)]
        return N_EVAL_LOOP

    r = paired_medians({"loop": loop_block, "eval": eval_block}, REPEATS, work=True)
    loop_ci = mean_ci(out["loop"])
    print(f"(each side warmed up once, then the median of {REPEATS} alternating timed runs)")
    print(f"per-user Python loop : {r['loop']:12,.0f} episodes/s   mean return {_fmt(loop_ci)}")
    print(f"evaluate (batched)   : {r['eval']:12,.0f} episodes/s   mean return {_fmt(out['eval'].mean_return)}")
    print(f"ratio                : {r['eval'] / r['loop']:12.1f} x")
    print(f"for the issue's absolute target (< 10 s for {N_EVAL_TIME:,} episodes on one core; depends on "
          f"the machine and its load): {N_EVAL_TIME / r['eval']:.2f} s on this machine")


def main(argv=None) -> None:
    episodes = parse_count(__doc__, "episodes", N_CAL, "calibration episodes per policy and preset", argv=argv)
    throughput()
    eval_time()
    calibration(episodes)


if __name__ == "__main__":
    main()
