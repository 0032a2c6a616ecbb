"""Tests for rlrec_helpers._timing.paired_medians (a fake clock: no wall-clock assertion)."""

from __future__ import annotations

import re

import pytest

from rlrec_helpers._timing import paired_medians


def _fake(costs: dict[str, list[float]], order: list[str], clock: list[float], work: dict | None = None):
    streams = {name: iter(c) for name, c in costs.items()}

    def side(name):
        def call():
            order.append(name)
            clock[0] += next(streams[name])
            return None if work is None else work[name]
        return call

    return {name: side(name) for name in costs}


def test_warm_up_once_each_then_alternate_and_take_medians():
    clock, order = [0.0], []
    sides = _fake({"slow": [50.0, 4.0, 100.0, 6.0], "fast": [50.0, 1.0, 1.0, 3.0]}, order, clock)
    out = paired_medians(sides, 3, clock=lambda: clock[0])
    assert order == ["slow", "fast"] + ["slow", "fast"] * 3
    assert out == {"slow": 6.0, "fast": 1.0}   # a burst (100) in one round moves no median


def test_work_mode_reports_work_per_second():
    clock, order = [0.0], []
    sides = _fake({"loop": [9.0, 2.0, 4.0, 2.0], "batch": [9.0, 1.0, 1.0, 1.0]}, order, clock,
                  work={"loop": 100, "batch": 1000})
    out = paired_medians(sides, 3, work=True, clock=lambda: clock[0])
    assert out == {"loop": 50.0, "batch": 1000.0}   # medians of [50, 25, 50] and [1000] * 3


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=re.escape("repeats must be an integer >= 1, got 0")):
        paired_medians({"a": lambda: None}, 0)
    with pytest.raises(ValueError, match="sides must map at least one name"):
        paired_medians({}, 3)


def test_the_default_clock_is_looked_up_at_call_time(monkeypatch):
    import time

    ticks = iter(range(100))
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))
    assert paired_medians({"a": lambda: None}, 1) == {"a": 1.0}
