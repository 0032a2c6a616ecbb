"""Benchmark for notebook 08: the REINFORCE agent on the four application presets, over seeds.

For each domain, prints the reference policies (random, privileged myopic, privileged long-term
heuristic) and the agent trained with ``R.TRAIN_PRESETS[domain]`` for each training seed,
all evaluated with greedy slates on one shared evaluation seed set (mean return in the domain's
unit, ``simulator.REWARD_UNITS``, with its 95% CI over the 1,000 episodes); then the mean of the
per-seed returns with its 95% CI over seeds ("(one seed)" with a single seed), and whether every
seed's CI lies above the myopic policy's CI. Finance also prints the suitability audit. Each
seed's training wall time is printed as run-time information about this machine, not a result.

    .venv/bin/python benchmarks/applications.py                      # 4 domains x 3 seeds (~10 min idle)
    .venv/bin/python benchmarks/applications.py --domain education --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from rlrec_helpers import simulator as sim
from recommender import ci_header, run_time
from rlrec_helpers.agents import reinforce as R
from rlrec_helpers.stats import mean_ci

EVAL_SEED = 12345
N_EVAL = 1000


def fmt(ci) -> str:
    return f"{ci.mean:8.2f}  [{ci.low:7.2f}, {ci.high:7.2f}]"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domain", action="append", choices=sorted(sim.DOMAIN_PRESETS), default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a = ap.parse_args(argv)
    for domain in a.domain or list(sim.DOMAIN_PRESETS):
        print(f"\n== {domain}: greedy slates, {N_EVAL} episodes, evaluation seed {EVAL_SEED}")
        refs = sim.compare_policies(domain, n_episodes=N_EVAL, seed=EVAL_SEED)
        print(f"{'policy':28s} {ci_header(sim.REWARD_UNITS[domain], N_EVAL)}")
        for name, res in refs.items():
            print(f"{name + ' (privileged)' if name != 'random' else name:28s} {fmt(res.mean_return)}")
        myopic = refs["myopic"].mean_return
        finals = []
        for seed in a.seeds:
            t0 = time.perf_counter()
            agent, _ = R.train_reinforce(domain, replace(R.TRAIN_PRESETS[domain], seed=seed), progress=False)
            took = time.perf_counter() - t0
            ci = R.evaluate_agent(agent, domain, N_EVAL, seed=EVAL_SEED).mean_return
            finals.append(ci)
            extra = ""
            if domain == "finance":
                audit = sim.count_unsuitable(agent, domain, n_episodes=N_EVAL, seed=EVAL_SEED)
                extra = f", unsuitable shown {audit['unsuitable']} of {audit['shown']}"
            print(f"{'REINFORCE seed ' + str(seed):28s} {fmt(ci)}  x myopic {ci.mean / myopic.mean:.3f}, "
                  f"CI above myopic {'yes' if ci.low > myopic.high else 'NO'}{extra}  "
                  + run_time(f"train {took:5.1f} s"))
        means = np.array([c.mean for c in finals])
        if means.size > 1:
            over = mean_ci(means)
            spread = f"[{over.low:7.2f}, {over.high:7.2f}] (95% CI over seeds), std {means.std(ddof=1):.2f}"
        else:
            spread = "(one seed)"
        print(f"{'REINFORCE over seeds':28s} {means.mean():8.2f}  {spread}; every seed above myopic: "
              f"{all(c.low > myopic.high for c in finals)}")


if __name__ == "__main__":
    main()
