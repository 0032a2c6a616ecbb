"""Paired timing: how the course measures one thing against another (private; standard library + numpy).

A speed ratio is only fair if both sides see the same machine. :func:`paired_medians` treats
every side alike: one untimed warm-up call each (tracing, caches), in the given order, then
``repeats`` rounds in which every side runs once, in turn, so that a burst of load from another
process hits every side instead of one; each side's result is the median over its rounds. Used
by ``agents.reinforce.step_throughput``, ``agents.transformer``'s timing helpers and the
``benchmarks/`` scripts. Tests never assert the times; they check the call order and the
arithmetic with a fake clock (``clock=``).
"""

from __future__ import annotations

import time
from typing import Callable, Mapping

import numpy as np

from rlrec_helpers._validate import check_int


def paired_medians(sides: Mapping[str, Callable[[], object]], repeats: int = 3, *, work: bool = False,
                   clock: Callable[[], float] | None = None) -> dict[str, float]:
    """``{name: median}`` over ``repeats`` alternating timed calls of each side, after one warm-up each.

    ``work=False``: the median is of seconds per call. ``work=True``: each call returns the
    amount of work it did (e.g. user-steps, updates) and the median is of work per second.
    ``repeats``: an integer >= 1; ``sides``: at least one zero-argument callable; ``clock``:
    seconds (default ``time.perf_counter``, looked up at call time).
    """
    check_int("repeats", repeats, 1)
    clock = clock or time.perf_counter
    if not sides:
        raise ValueError("sides must map at least one name to a zero-argument callable, got an empty mapping")
    for fn in sides.values():
        fn()   # warm-up
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            t0 = clock()
            done = fn()
            seconds = clock() - t0
            samples[name].append(float(done) / seconds if work else seconds)
    return {name: float(np.median(v)) for name, v in samples.items()}
