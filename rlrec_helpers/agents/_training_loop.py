"""The bookkeeping that the iteration loops of the training functions share.

A training function keeps its own loop body (rollout, advantage, update, what it records,
evaluation and keep-best) and lets :class:`TrainingLoop` do the rest::

    loop = TrainingLoop(n_iters, ("return", "wall_time"), eval_every=5, progress=True, desc="PG")
    for it in loop:
        with loop.timed():
            batch = rollout(...)
            stats = trainer.step(batch)
        loop.log({"return": batch["episode_return"].mean(), "wall_time": loop.wall_time})
        if loop.eval_due(it):
            ...
        loop.end_iteration(it, stats, ret=f"{loop.hist['return'][-1]:.1f}")
    history = loop.history()
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from rlrec_helpers._validate import check_int


class TrainingLoop:
    """``n_iters`` training iterations with a progress bar, a clock, a history and an eval schedule.

    Args:
        n_iters: number of iterations (>= 1); ``for it in loop`` yields ``0 .. n_iters - 1``.
        keys: the history's keys, in the order :meth:`history` returns them (a key that is
            never logged gives an empty array).
        eval_every: :meth:`eval_due` is true every that many iterations and at the last
            one; 0 = never.
        progress: iterate through a ``tqdm.auto`` bar (``desc``, ``leave=False``).
        callback: called as ``callback(it, stats)`` by :meth:`end_iteration`.

    Attributes:
        hist: ``{key: list of logged scalars}``.
        wall_time: cumulative seconds (``time.perf_counter``) spent inside :meth:`timed`
            blocks; whatever runs outside them (logging, evaluation) is not counted.
    """

    def __init__(self, n_iters: int, keys: Sequence[str], *, eval_every: int = 0, progress: bool = False,
                 desc: str = "", callback: Callable[[int, dict], None] | None = None):
        check_int("n_iters", n_iters, 1)
        check_int("eval_every", eval_every, 0)
        self.n_iters, self.eval_every = n_iters, eval_every
        self.progress, self.desc, self.callback = progress, desc, callback
        self.hist: dict[str, list] = {k: [] for k in keys}
        self.wall_time = 0.0
        self._bar = None

    def __iter__(self) -> Iterator[int]:
        its = range(self.n_iters)
        if self.progress:
            from tqdm.auto import tqdm

            its = self._bar = tqdm(its, desc=self.desc, leave=False)
        return iter(its)

    @contextmanager
    def timed(self) -> Iterator[None]:
        """Add the seconds spent in the ``with`` block to :attr:`wall_time`."""
        t0 = time.perf_counter()
        yield
        self.wall_time += time.perf_counter() - t0

    def log(self, values: Mapping[str, Any]) -> None:
        """Append each value to ``hist[key]`` (``KeyError`` for a key not given at construction)."""
        for k, v in values.items():
            self.hist[k].append(v)

    def eval_due(self, it: int) -> bool:
        """True if iteration ``it`` (0-based) ends with an evaluation: every ``eval_every``, and the last."""
        return bool(self.eval_every) and ((it + 1) % self.eval_every == 0 or it == self.n_iters - 1)

    def end_iteration(self, it: int, stats: Mapping[str, Any] | None = None, **postfix: str) -> None:
        """Show ``postfix`` on the progress bar (if any), then call ``callback(it, stats)`` (if any)."""
        if self._bar is not None:
            self._bar.set_postfix(**postfix)
        if self.callback is not None:
            self.callback(it, stats)

    def history(self) -> dict[str, np.ndarray]:
        """Every history list as a float array, plus ``iteration`` (1 .. n_iters, int)."""
        out = {k: np.asarray(v, dtype=float) for k, v in self.hist.items()}
        out["iteration"] = np.arange(1, self.n_iters + 1)
        return out
