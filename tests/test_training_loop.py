"""Tests for rlrec_helpers.agents._training_loop (the loop bookkeeping of the training functions)."""

from __future__ import annotations

import types

import numpy as np
import pytest

from rlrec_helpers.agents import _training_loop as TL


class FakeBar:
    """Stands in for ``tqdm.auto.tqdm``: records its arguments and every ``set_postfix``."""

    made: list = []

    def __init__(self, iterable, desc=None, leave=True):
        self.iterable, self.desc, self.leave, self.postfix = iterable, desc, leave, []
        FakeBar.made.append(self)

    def __iter__(self):
        return iter(self.iterable)

    def set_postfix(self, **kw):
        self.postfix.append(kw)


@pytest.fixture
def fake_tqdm(monkeypatch):
    import tqdm.auto

    FakeBar.made = []
    monkeypatch.setattr(tqdm.auto, "tqdm", FakeBar)
    return FakeBar


@pytest.mark.parametrize("n_iters, eval_every, due", [(7, 3, [2, 5, 6]), (6, 3, [2, 5]), (4, 1, [0, 1, 2, 3]),
                                                      (3, 10, [2]), (5, 0, [])])
def test_eval_schedule_is_every_k_and_the_last_iteration(n_iters, eval_every, due):
    loop = TL.TrainingLoop(n_iters, (), eval_every=eval_every)
    assert [it for it in loop if loop.eval_due(it)] == due


def test_wall_time_counts_only_the_timed_blocks(monkeypatch):
    ticks = iter([10.0, 12.5, 100.0, 101.0, 200.0, 200.0])   # (start, end) of three timed blocks
    monkeypatch.setattr(TL, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    loop = TL.TrainingLoop(3, ("wall_time",))
    for _ in loop:
        with loop.timed():
            pass
        loop.log({"wall_time": loop.wall_time})   # the gaps between blocks (87.5, 99) are not counted
    h = loop.history()
    np.testing.assert_array_equal(h["wall_time"], [2.5, 3.5, 3.5])
    assert np.all(np.diff(h["wall_time"]) >= 0)


def test_history_keeps_key_order_dtype_and_adds_iteration():
    loop = TL.TrainingLoop(3, ("return", "env_steps", "eval_return"))
    for it in loop:
        loop.log({"env_steps": 10 * (it + 1), "return": it / 2})
    h = loop.history()
    assert list(h) == ["return", "env_steps", "eval_return", "iteration"]
    np.testing.assert_array_equal(h["return"], [0.0, 0.5, 1.0])
    assert h["env_steps"].dtype == float and h["eval_return"].shape == (0,) and h["eval_return"].dtype == float
    np.testing.assert_array_equal(h["iteration"], [1, 2, 3])
    assert h["iteration"].dtype.kind == "i"
    with pytest.raises(KeyError, match="retrun"):   # a misspelt key is an error, not a new column
        loop.log({"retrun": 1.0})


def test_callback_and_progress_bar(fake_tqdm):
    calls = []
    loop = TL.TrainingLoop(2, ("x",), progress=True, desc="demo (mean)", callback=lambda it, s: calls.append((it, s)))
    for it in loop:
        stats = {"loss": float(it)}
        loop.end_iteration(it, stats, ret=f"{it:.1f}", ent="0.50")
    assert calls == [(0, {"loss": 0.0}), (1, {"loss": 1.0})]
    (bar,) = fake_tqdm.made
    assert (bar.desc, bar.leave) == ("demo (mean)", False)
    assert bar.postfix == [{"ret": "0.0", "ent": "0.50"}, {"ret": "1.0", "ent": "0.50"}]


def test_no_bar_without_progress_and_no_callback_needed(fake_tqdm):
    loop = TL.TrainingLoop(2, ())
    assert list(loop) == [0, 1]
    loop.end_iteration(1, None, ret="1.0")   # neither a bar nor a callback: nothing to do
    assert fake_tqdm.made == []


@pytest.mark.parametrize("kwargs, name", [(dict(n_iters=0), "n_iters"), (dict(n_iters=2.0), "n_iters"),
                                          (dict(n_iters=2, eval_every=-1), "eval_every")])
def test_arguments_are_validated(kwargs, name):
    n_iters = kwargs.pop("n_iters")
    with pytest.raises(ValueError, match=name):
        TL.TrainingLoop(n_iters, (), **kwargs)
