"""Benchmark for notebook 06: the REINFORCE recommender against its baselines.

Prints, for each preset, the reference policies and the trained agents evaluated with greedy
slates on one shared evaluation seed set (mean return in minutes watched with its 95% CI over
the episodes), the per-seed results of 5 training seeds with their mean and 95% CI over seeds,
and the compiled-vs-eager training-step throughput ratio; on ``costly_browsing`` also the
paired per-user differences GRU − control, GRU − quality-greedy and GRU − the long-term
heuristic on posterior interests (same users, common random numbers). Each seed's row also
gives, as run-time information about this machine (its CPU and load), not as a result: the
training wall time and the wall time to reach 0.95 × quality-greedy (training time, validation
runs excluded, until the greedy return on the validation seed set of ``train_reinforce`` first
reaches it).

Run times measured on 2 idle cores of an AMD EPYC machine (2026-11-29); an older 2-core machine
of earlier sessions took about 3 times as long. Training is reproducible on one machine but
not bit-for-bit across CPUs, so another machine prints slightly different per-seed numbers.

    .venv/bin/python benchmarks/recommender.py --preset default          # ~4 min
    .venv/bin/python benchmarks/recommender.py --preset costly_browsing  # ~4 min per seed (GRU + control)
    .venv/bin/python benchmarks/recommender.py --preset costly_browsing --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from rlrec_helpers.agents import reinforce as R
from rlrec_helpers.agents.baselines import (
    SLATEQ_REFERENCE_RETURN,
    EstimatedInterestBlendPolicy,
    EstimatedInterestLongTermPolicy,
    InterestQualityBlendPolicy,
    LinUCBSlatePolicy,
    LongTermValuePolicy,
    MyopicPolicy,
    QualityGreedyPolicy,
    RandomPolicy,
    tune_blend,
    tune_estimated_long_term,
)
from rlrec_helpers.simulator import REWARD_UNITS, evaluate
from rlrec_helpers.stats import mean_ci, paired_difference

EVAL_SEED = R.EVAL_SEED          # 12345
N_EVAL = R.EVAL_EPISODES        # 4,000 sessions: see the comment on R.EVAL_EPISODES
PRESETS = ("default", "costly_browsing")   # the presets references() supports (notebook 08 has the others)


def fmt(ci) -> str:
    return f"{ci.mean:8.2f}  [{ci.low:7.2f}, {ci.high:7.2f}]"


def ci_header(unit: str, n_episodes: int) -> str:
    """Column header of the ``fmt`` rows: the reward unit and what the 95% CI is over."""
    return f"mean return ({unit}) [95% CI over {n_episodes:,} episodes]"


def run_time(text: str) -> str:
    """Wall times labelled as what they are: information about this run, not a benchmark result."""
    return f"(run time on this machine, not a result: {text})"


def references(preset: str) -> dict:
    lam, _ = tune_blend(preset)
    pols = {"random": RandomPolicy(0), "myopic (privileged)": MyopicPolicy(),
            "quality-greedy (privileged)": QualityGreedyPolicy(),
            "long-term heuristic (privileged)": LongTermValuePolicy(),
            f"blend λ={lam:g} (privileged, tuned)": InterestQualityBlendPolicy(lam),
            "LinUCB bandit (myopic)": LinUCBSlatePolicy()}
    if preset == "costly_browsing":  # half-privileged: true cluster qualities, estimated interests
        pols["blend, interests from click rates"] = EstimatedInterestBlendPolicy(lam, "click_rate")
        pols["blend, interests from the posterior"] = EstimatedInterestBlendPolicy(lam, "posterior")
        weight, _ = tune_estimated_long_term(preset)
        pols[f"long-term w={weight:g}, interests from the posterior"] = EstimatedInterestLongTermPolicy(weight)
    return {name: evaluate(p, preset, n_episodes=N_EVAL, seed=EVAL_SEED) for name, p in pols.items()}


def paired(a, b) -> str:
    """Mean and 95% CI of the per-user difference a - b (same users: common random numbers)."""
    d = paired_difference(a.returns, b.returns)
    return f"{d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}]"


def train_seed(preset: str, seed: int, history_free: bool = False):
    # validation every 5 iterations on default (resolution of the time to 0.95 x QG), else the
    # preset's own schedule; evaluation time is excluded from the training wall time
    every = 5 if preset == "default" else (R.TRAIN_PRESETS[preset].eval_every or 25)
    cfg = replace(R.TRAIN_PRESETS[preset], seed=seed, eval_every=every, eval_episodes=300)
    acfg = R.AgentConfig.for_env(preset, use_history=not history_free)
    agent, hist = R.train_reinforce(preset, cfg, agent_config=acfg, progress=False)
    return R.evaluate_agent(agent, preset, N_EVAL, seed=EVAL_SEED), hist


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # only the interest-evolution presets: references() needs tune_blend and QualityGreedyPolicy
    ap.add_argument("--preset", action="append", choices=PRESETS, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    a = ap.parse_args(argv)
    presets = a.preset or list(PRESETS)

    print("== training-step throughput (batch 256, 20 steps, GRU 64), same process, "
          "median of 5 alternating blocks of 10 updates")
    thr = R.step_throughput(batch_size=256, length=20, n_steps=10, repeats=5)
    print(f"eager {thr['eager']:.2f} steps/s, tf.function {thr['compiled']:.2f} steps/s, "
          f"ratio {thr['ratio']:.1f}x (target >= 5x)")

    for preset in presets:
        print(f"\n== preset {preset}: greedy slates, {N_EVAL} episodes, evaluation seed {EVAL_SEED}")
        ref_results = references(preset)
        refs = {name: r.mean_return for name, r in ref_results.items()}
        print(f"{'policy':47s} {ci_header(REWARD_UNITS[preset], N_EVAL)}")
        for name, ci in refs.items():
            print(f"{name:47s} {fmt(ci)}")
        if preset == "default":
            print(f"{'SlateQ (Ie et al. 2019, published)':47s} {SLATEQ_REFERENCE_RETURN:8.2f}")
        qg = refs["quality-greedy (privileged)"].mean
        my = refs["myopic (privileged)"].mean
        blend = [v for k, v in refs.items() if k.startswith("blend")][0]
        kinds = [False, True] if preset == "costly_browsing" else [False]
        finals, results = {}, {}
        for hf in kinds:
            label = "history-free control" if hf else "REINFORCE (GRU)"
            finals[hf], results[hf] = [], []
            for seed in a.seeds:
                t0 = time.perf_counter()
                res, hist = train_seed(preset, seed, hf)
                ci = res.mean_return
                results[hf].append(res)
                took = time.perf_counter() - t0
                reach = np.nonzero(hist["eval_return"] >= 0.95 * qg)[0]
                t95 = f"{hist['eval_wall_time'][reach[0]]:6.1f} s" if reach.size else "   never"
                finals[hf].append(ci)
                extra = ""
                if preset == "default":
                    ok = ci.mean >= 0.97 * qg and ci.mean >= 1.5 * my
                    extra = f" x QG {ci.mean / qg:.3f}, x myopic {ci.mean / my:.3f} {'PASS' if ok else 'FAIL'}"
                elif not hf:
                    above = ci.low > refs["quality-greedy (privileged)"].high
                    ok = above and ci.mean >= 0.97 * blend.mean
                    extra = (f" CI above QG's: {'yes' if above else 'no'}, x blend {ci.mean / blend.mean:.3f}"
                             f" {'PASS' if ok else 'FAIL'}")
                print(f"{label} seed {seed}: {fmt(ci)}{extra}  "
                      + run_time(f"train {took:6.1f} s, 0.95 x QG reached after {t95}"))
            means = np.array([c.mean for c in finals[hf]])
            if means.size > 1:
                spread = mean_ci(means)
                over = (f"[{spread.low:.2f}, {spread.high:.2f}] (95% CI over seeds), "
                        f"std {means.std(ddof=1):.2f}, min {means.min():.2f}")
            else:
                over = "(one seed)"
            print(f"{label}: mean over seeds {means.mean():.2f} {over}")
        if preset == "costly_browsing":
            sep = all(g.low > h.high for g, h in zip(finals[False], finals[True]))
            print(f"GRU CI above the history-free control's CI for every seed: {sep}")
            print(f"paired per-user differences (same {N_EVAL} users), mean [95% CI]:")
            qg_res = ref_results["quality-greedy (privileged)"]
            lt_name = [k for k in ref_results if k.startswith("long-term w=")][0]
            lt_res = ref_results[lt_name]
            for seed, g, h in zip(a.seeds, results[False], results[True]):
                print(f"  seed {seed}: GRU - control {paired(g, h)}, GRU - quality-greedy {paired(g, qg_res)}, "
                      f"GRU - long-term (posterior) {paired(g, lt_res)}")
            print(f"best history-based reference, {lt_name}: x blend {lt_res.mean_return.mean / blend.mean:.3f}")


if __name__ == "__main__":
    main()
