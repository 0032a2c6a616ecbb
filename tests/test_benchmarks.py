"""Every script in benchmarks/ still runs and prints its tables (smoke runs, no numbers checked).

The benchmarks measure and are not part of `make test`'s assertions; this only catches a script
broken by a change to the package (a renamed helper, a new argument check). Sized scripts run
with their smallest documented options; ``recommender.py`` trains for about a minute even for
one seed, so only its import and command line are exercised here (``recommender_ceiling.py``
imports and runs its table helpers).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONHASHSEED": "0"}

#: script -> (arguments, a line fragment its output must contain)
SMOKE_RUNS = {
    "bandits.py": ([], "LinUCB / context-free TS clicks"),
    "simulator.py": ([], "2. Throughput"),
    "ope.py": ([], "Chen et al. 2019 simulations"),
    "large_model.py": (["--sizes", "10000", "--steps", "1"], "tf.function / eager"),
    "applications.py": (["--domain", "ecommerce", "--seeds", "0"], "REINFORCE over seeds"),
    "recommender_ceiling.py": (["--seeds", "0", "--bc-iters", "2", "--ft-iters", "1"], "seeds at or above the bar"),
    "recommender.py": (["--help"], "--preset"),
    "information_limit.py": (["--episodes", "50", "--calibration-users", "20"], "Posterior calibration"),
}


def _run(script: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=600)


def test_every_benchmark_has_a_smoke_run():
    assert sorted(SMOKE_RUNS) == sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", sorted(SMOKE_RUNS))
def test_benchmark_runs(script):
    args, expected = SMOKE_RUNS[script]
    out = _run(ROOT / "benchmarks" / script, args)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert expected in out.stdout, out.stdout[-2000:]


def test_a_broken_benchmark_fails_its_smoke_run(tmp_path):
    """The check can fail: a copy of a benchmark that calls a helper that no longer exists."""
    source = (ROOT / "benchmarks" / "ope.py").read_text()
    assert source.count("ope.bootstrap_ci(") >= 1
    broken = tmp_path / "ope_broken.py"
    broken.write_text(source.replace("ope.bootstrap_ci(", "ope.bootstrap_ci_renamed("))
    out = _run(broken, [])
    assert out.returncode != 0 and "bootstrap_ci_renamed" in out.stderr
