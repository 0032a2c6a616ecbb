"""Argument checks of rlrec_helpers.agents.baselines.LinUCBSlatePolicy, and its layering: the
numpy LinUCB baseline must import and serve without TensorFlow (review C #18 and layering)."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rlrec_helpers.agents.baselines import LinUCBSlatePolicy

ROOT = Path(__file__).resolve().parents[1]

HISTORY = {"shown_clusters": np.array([[0, 1, 2], [3, 4, 5]]), "clicked": np.array([1, -1]),
           "watch_time": np.array([2.0, 0.0])}

#: Makes any import of tensorflow or keras fail (as on a machine without them).
BLOCK_TENSORFLOW = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ImportError(f"blocked import of {name}")
        return None
sys.meta_path.insert(0, _Block())
"""


def test_linucb_recommend_works_without_tensorflow():
    """Layering: recommend() imported agents.reinforce (keras + tensorflow) for its history check."""
    code = BLOCK_TENSORFLOW + (
        "import numpy as np\n"
        "from rlrec_helpers.agents.baselines import LinUCBSlatePolicy\n"
        "history = {'shown_clusters': np.array([[0, 1, 2], [3, 4, 5]]), 'clicked': np.array([1, -1]),\n"
        "           'watch_time': np.array([2.0, 0.0])}\n"
        "idx, scores = LinUCBSlatePolicy(20).recommend(history, np.eye(20)[:6], k=3)\n"
        "print(idx.tolist(), repr(scores.tolist()))\n"
        "print(LinUCBSlatePolicy(20).recommend(None, np.eye(20)[:5], k=2)[0].tolist())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    idx, scores = LinUCBSlatePolicy(20).recommend(HISTORY, np.eye(20)[:6], k=3)
    assert out.stdout.splitlines() == [
        f"{idx.tolist()} {scores.tolist()!r}",
        str(LinUCBSlatePolicy(20).recommend(None, np.eye(20)[:5], k=2)[0].tolist()),
        "[]",
    ]
    assert idx[0] == 1                                     # the clicked cluster ranks first


def test_recommend_still_validates_the_history():
    with pytest.raises(ValueError, match=re.escape("history is missing keys ['watch_time']")):
        LinUCBSlatePolicy(20).recommend({"shown_clusters": [[0]], "clicked": [0]}, np.eye(20)[:5])


@pytest.mark.parametrize("batch_size", [0, -1, "2", 1.5, 2.0, True, None])
def test_reset_checks_batch_size(batch_size):
    """#18: reset(0) blamed "n_runs", reset("2") was accepted and reset(1.5) served one user."""
    pol = LinUCBSlatePolicy(20)
    with pytest.raises(ValueError, match=f"^{re.escape(f'batch_size must be an integer >= 1, got {batch_size!r}')}$"):
        pol.reset(batch_size)
    with pytest.raises(ValueError, match=f"^{re.escape(f'batch_size must be an integer >= 1, got {batch_size!r}')}$"):
        pol.reset_next_batch(batch_size)


def test_reset_valid_batch_size_unchanged():
    pol = LinUCBSlatePolicy(20)
    pol.reset(np.int64(3))
    assert pol.cluster_scores().shape == (3, 20)


@pytest.mark.parametrize("seed", ["a", -1, 1.5, True, None])
def test_seed_is_checked(seed):
    """#18: seed="a" raised a TypeError from numpy's SeedSequence, seed=-1 an unnamed ValueError."""
    with pytest.raises(ValueError, match=f"^{re.escape(f'seed must be an integer >= 0, got {seed!r}')}$"):
        LinUCBSlatePolicy(20, seed=seed)


def test_valid_seed_gives_the_same_tie_breaking():
    a, b = LinUCBSlatePolicy(20, seed=np.int64(7)), LinUCBSlatePolicy(20, seed=7)
    assert a.seed == 7 and a.rng.random() == b.rng.random() == np.random.default_rng(7).random()
