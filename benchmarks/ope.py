"""Off-policy evaluation and correction benchmark (notebook 07).

Prints:
1. Chen et al. (2019) simulations with exact gradients (deterministic).
2. OBD: BTS's click rate estimated from the uniform-random logs, per campaign: estimates with
   95% bootstrap CIs, ground truth (BTS's own log, with its 95% CI), and relative error mean ± sd
   and 2.5–97.5% percentile interval over 30 bootstrap logs with the reward model refitted
   each time (the OBD paper's protocol). The 30 bootstrap logs are resamples of one log, not
   independent seeds: their spread shows the bootstrap's variability of the error, not a CI of
   the estimator's expected error.
3. Speed: the vectorised bootstrap against the generic per-resample loop, in the same process.

Run: .venv/bin/python benchmarks/ope.py   (needs `make data` once; ``--runs`` sets the number of
bootstrap logs for the relative errors, ``--help`` lists the options)
"""

from __future__ import annotations

import numpy as np

from _cli import parse_count
from rlrec_helpers._timing import paired_medians
from rlrec_helpers import ope
from rlrec_helpers.data import CAMPAIGNS, load_bts_prior, load_open_bandit
from rlrec_helpers.stats import mean_ci

SEED = 0
N_SIM = 100_000
N_BOOT = 1000
N_RUNS = 30


def chen_table() -> None:
    print("## Chen et al. 2019 simulations (exact gradient ascent, lr 0.2, 5000 steps)")
    print(f"{'simulation':<14}{'correction':<12}{'pi(a1)':>8}{'pi(a2)':>8}{'pi(a10)':>9}"
          f"{'E_pi[r]':>9}{'slate K=2':>11}")
    for sim, corrections in ((1, ("none", "standard")), (2, ("standard", "topk"))):
        for c in corrections:
            out = ope.chen_summary(sim, c, k=2, lr=0.2, n_steps=5000)
            pi = out["pi"]
            print(f"{sim:<14}{c:<12}{pi[0]:>8.4f}{pi[1]:>8.4f}{pi[9]:>9.4f}"
                  f"{out['expected_reward']:>9.4f}{out['slate_reward']:>11.4f}")
    print("targets: sim1 uncorrected 5.5 ± 0.2, corrected pi(a10) >= 0.95 and >= 9.5; "
          "sim2 standard pi(a1) >= 0.99, top-K pi(a2) >= 0.35 and slate >= 1.3x standard\n")


def obd_table(n_runs: int = N_RUNS) -> None:
    print(f"## OBD: BTS estimated from random logs ({N_SIM} BTS simulations, {N_BOOT} bootstrap "
          f"resamples for CIs, {n_runs} bootstrap logs for relative error)")
    print(f"The relative errors come from {n_runs} bootstrap resamples of the one random log, not from "
          f"independent logs or seeds: their sd and 2.5–97.5% interval show the bootstrap's spread, "
          f"not a 95% CI of the mean error. They are measured against a ground truth that is itself "
          f"the mean of one finite BTS log (its 95% CI is printed), so errors smaller than its "
          f"relative uncertainty cannot be resolved.")
    for campaign in CAMPAIGNS:
        rand = load_open_bandit("random", campaign)
        bts = load_open_bandit("bts", campaign)
        alpha, beta = load_bts_prior(campaign)
        slot = ope.bts_action_dist(alpha, beta, n_sim=N_SIM, seed=SEED)
        truth = bts.on_policy_value()
        dist = ope.slot_action_dist(rand, slot)
        q_hat = ope.cross_fit_q_hat(rand.context, rand.action, rand.position, rand.reward,
                                    n_actions=rand.n_actions, seed=SEED)
        table = ope.bootstrap_estimates(rand.reward, rand.action, rand.propensity, dist, q_hat,
                                        n_boot=N_BOOT, seed=SEED)
        rel = ope.obd_relative_errors(rand, slot, truth, n_runs=n_runs, seed=SEED)
        truth_ci = mean_ci(bts.reward)   # the ground truth is itself a mean of one finite log
        truth_rel = truth_ci.half_width / truth
        print(f"\ncampaign {campaign!r}: {rand.n_actions} items; clicks random {int(rand.reward.sum())}, "
              f"bts {int(bts.reward.sum())}; ground truth (BTS on-policy) {truth:.4f} "
              f"[{truth_ci.low:.4f}, {truth_ci.high:.4f}] (95% CI over its {bts.reward.size} rows, "
              f"± {100 * truth_rel:.1f}% relative)")
        print(f"{'estimator':<10}{'estimate':>9}{'95% bootstrap CI':>20}{'rel. error mean ± sd':>24}"
              f"{'bootstrap 2.5–97.5%':>22}")
        for name in ope.ESTIMATORS:
            ci, r = table[name], rel[name]
            lo, hi = np.percentile(r, [2.5, 97.5])
            print(f"{name:<10}{ci.mean:>9.4f}   [{ci.low:.4f}, {ci.high:.4f}]"
                  f"{r.mean():>14.4f} ± {r.std(ddof=1):.4f}       [{lo:.3f}, {hi:.3f}]")
    print("\nthe course's targets ('all'): DM <= 0.20, SNIPS <= 0.35 mean "
          "relative error; DM's CI holds the fitted click model fixed\n")


def speed_table() -> None:
    print("## Speed: bootstrap CIs of IPS on the 'all' random log (n = 10,000, 80 items)")
    rand = load_open_bandit("random", "all")
    alpha, beta = load_bts_prior("all")
    dist = ope.slot_action_dist(rand, ope.bts_action_dist(alpha, beta, n_sim=20_000, seed=SEED))
    q0 = np.zeros_like(dist)
    arrays = dict(reward=rand.reward, action=rand.action, propensity=rand.propensity, action_dist=dist)
    n_boot = 200
    fns = {"loop": lambda: ope.bootstrap_ci(ope.ips, arrays, n_boot=n_boot, seed=SEED),
           "vectorised": lambda: ope.bootstrap_estimates(rand.reward, rand.action, rand.propensity, dist, q0,
                                                         n_boot=n_boot, seed=SEED)}
    t = paired_medians(fns, 3)   # one untimed warm-up call each, then 3 alternating timed calls
    t_loop, t_vec = t["loop"], t["vectorised"]
    print(f"generic loop (IPS only): {t_loop:.3f} s; vectorised (all 4 estimators): {t_vec:.3f} s "
          f"(medians of 3 alternating runs after a warm-up); speed-up {t_loop / t_vec:.1f}x")


def main(argv=None) -> None:
    runs = parse_count(__doc__, "runs", N_RUNS, "bootstrap logs for the relative errors", argv=argv)
    chen_table()
    obd_table(runs)
    speed_table()


if __name__ == "__main__":
    main()
