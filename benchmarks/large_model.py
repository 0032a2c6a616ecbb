"""Benchmark for the causal-transformer recommender (rlrec_helpers.agents.transformer).

Prints three tables, every speed measured side by side in this process: each side is warmed
up once, then the sides alternate in ``--repeats`` timed blocks of ``--steps`` steps (a burst of
load from another process hits both sides instead of one) and the medians are reported:

(a) throughput of the RL fine-tuning step (policy + frozen reference, KL-regularised
    Plackett-Luce loss, Adam), ``tf.function`` against eager, as a ratio;
(b) speed-up of the sampled softmax over the full softmax for next-item pretraining at
    100,000 items (from table c);
(c) seconds per pretraining step against the catalogue size (10k, 100k, 1M items) for the
    full and the sampled softmax.

Both softmax steps include the Adam update of the (V, d) item tables, which Keras applies
densely (O(V d) per step for either loss), so at 1M items that update bounds the speed-up.

    .venv/bin/python benchmarks/large_model.py                    # ~2-5 min on 2 idle cores
    .venv/bin/python benchmarks/large_model.py --sizes 10000 100000 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import time

from rlrec_helpers.agents import transformer as T


def load() -> str:
    try:
        return "load average %.1f %.1f %.1f" % os.getloadavg()
    except OSError:  # pragma: no cover - not on every platform
        return "load average n/a"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--steps", type=int, default=1, help="timed steps per block")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed blocks per side, alternating between the sides, after one warm-up step each; "
                         "medians reported")
    ap.add_argument("--n-sampled", type=int, default=512)
    a = ap.parse_args(argv)
    t_start = time.perf_counter()
    print(f"cores: {os.cpu_count()}, {load()} (timings are wall-clock; other load slows them)")
    print(f"each side warmed up once, then the median of {a.repeats} alternating timed blocks of {a.steps} "
          f"step(s)")

    print("\n== (a) RL fine-tuning step: batch 64 sessions x 128 steps, 2,000 items, d=64, 2 layers")
    thr = T.rl_step_throughput(batch_size=64, horizon=128, n_items=2000, n_steps=a.steps,
                               repeats=a.repeats)
    print(f"{'mode':12s} {'steps/s':>9s} {'user-steps/s':>13s}")
    for mode in ("eager", "compiled"):
        print(f"{mode:12s} {thr[mode]:9.2f} {thr[mode] * 64 * 128:13.0f}")
    print(f"tf.function / eager = {thr['ratio']:.2f}x")

    print(f"\n== (c) pretraining step vs catalogue size: 8 sessions x 32 clicked steps, d=64, 2 layers, "
          f"sampled softmax with {a.n_sampled} uniform negatives")
    rows = {}
    print(f"{'items':>10s} {'full s/step':>12s} {'sampled s/step':>15s} {'speed-up':>9s}")
    for v in a.sizes:
        r = T.sampled_vs_full_softmax_timing(v, batch_size=8, length=32, n_sampled=a.n_sampled, n_steps=a.steps,
                                            repeats=a.repeats)
        rows[v] = r
        print(f"{v:10,d} {r['full']:12.3f} {r['sampled']:15.3f} {r['speedup']:8.1f}x", flush=True)

    print("\n== (b) sampled over full softmax at 100,000 items")
    if 100_000 in rows:
        print(f"speed-up {rows[100_000]['speedup']:.1f}x")
    else:
        print("(100,000 not in --sizes)")
    print(f"\nrun time on this machine (information, not a result): total {time.perf_counter() - t_start:.0f} s; "
          f"{load()}")


if __name__ == "__main__":
    main()
