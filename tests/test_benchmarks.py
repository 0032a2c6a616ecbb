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

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONHASHSEED": "0"}

#: script -> (arguments, the line fragments its output must contain)
SMOKE_RUNS = {
    "bandits.py": (["--runs", "2"], ("LinUCB / context-free TS clicks", "the >= 20x target is for the default 30 runs, not 2")),
    "simulator.py": (["--episodes", "50"], ("2. Throughput", "InterestQualityBlendPolicy(lam=3.0)")),
    "ope.py": (["--runs", "2"], ("Chen et al. 2019 simulations", "speed-up")),
    "large_model.py": (["--sizes", "10000", "--steps", "1", "--repeats", "1"],
                       ("tf.function / eager", "run time on this machine (information, not a result): total")),
    "applications.py": (["--domain", "ecommerce", "--seeds", "0"],
                        ("REINFORCE over seeds", "mean return (price units) [95% CI over 1,000 episodes]",
                         "(run time on this machine, not a result: train")),
    "recommender_ceiling.py": (["--seeds", "0", "--bc-iters", "2", "--ft-iters", "1"],
                               ("seeds at or above the bar", "the last column is the seed's run time on this machine")),
    "recommender.py": (["--help"], ("--preset",)),
    "information_limit.py": (["--episodes", "50", "--calibration-users", "20"], ("Posterior calibration", "(run time on this machine, not a result: ")),
}


def _run(script: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=600)


def test_every_benchmark_has_a_smoke_run():
    # _cli.py is the scripts' shared command line, not a benchmark
    assert sorted(SMOKE_RUNS) == sorted(p.name for p in (ROOT / "benchmarks").glob("[!_]*.py"))


@pytest.mark.parametrize("script, option", [("bandits.py", "--runs"), ("ope.py", "--runs"),
                                            ("simulator.py", "--episodes")])
def test_count_options_refuse_too_few_before_any_work(script, option):
    out = _run(ROOT / "benchmarks" / script, [option, "1"])
    assert out.returncode == 2 and f"error: {option} must be an integer >= 2, got 1" in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize("script", sorted(SMOKE_RUNS))
def test_benchmark_runs(script):
    args, expected = SMOKE_RUNS[script]
    out = _run(ROOT / "benchmarks" / script, args)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    for fragment in expected:
        assert fragment in out.stdout, out.stdout[-2000:]


def test_a_broken_benchmark_fails_its_smoke_run(tmp_path):
    """The check can fail: a copy of a benchmark that calls a helper that no longer exists."""
    source = (ROOT / "benchmarks" / "ope.py").read_text()
    assert source.count("ope.bootstrap_ci(") >= 1
    broken = tmp_path / "ope_broken.py"
    broken.write_text(source.replace("ope.bootstrap_ci(", "ope.bootstrap_ci_renamed("))
    (tmp_path / "_cli.py").write_text((ROOT / "benchmarks" / "_cli.py").read_text())   # its sibling import
    out = _run(broken, ["--runs", "2"])
    assert out.returncode != 0 and "bootstrap_ci_renamed" in out.stderr


# --------------------------------------------------------------------------- review E
# findings 1, 8-12: docstrings that match the code, alternated timing, labelled run times and
# CI units, and a command line for every script


def _doc(script: str) -> str:
    """The module docstring of a benchmark script, whitespace collapsed (no import)."""
    import ast

    return " ".join(ast.get_docstring(ast.parse((ROOT / "benchmarks" / script).read_text())).split())


def test_ceiling_docstring_states_the_fine_tuning_learning_rates():
    """Fine-tuning runs at 1e-3 -> 1e-4, against the preset's 5e-3 -> 3e-4: 5x and 3x smaller."""
    from rlrec_helpers.agents.reinforce import TRAIN_PRESETS

    preset = TRAIN_PRESETS["costly_browsing"]
    assert (preset.lr, preset.lr_end) == (5e-3, 3e-4)
    assert "lr=1e-3, lr_end=1e-4" in (ROOT / "benchmarks" / "recommender_ceiling.py").read_text()
    doc = _doc("recommender_ceiling.py")
    assert ("a learning rate 5 × smaller at the start (1e-3 instead of the preset's 5e-3), decaying to "
            "1e-4 (3 × smaller than the preset's 3e-4)") in doc
    assert "10 × smaller" not in doc


def test_time_calls_alternates_the_sides_and_reports_medians(monkeypatch):
    """A burst of load in one block moves neither side's median (fake clock: each call costs a set time)."""
    from rlrec_helpers.agents import transformer as T

    clock, order = [0.0], []
    costs = {"a": iter([100, 100, 1, 1, 30, 30, 2, 2]), "b": iter([100, 100, 3, 3, 3, 3, 3, 3])}

    def side(name):
        def call():
            order.append(name)
            clock[0] += next(costs[name])
        return call

    monkeypatch.setattr(T.time, "perf_counter", lambda: clock[0])
    out = T._time_calls({"a": side("a"), "b": side("b")}, n_steps=2, repeats=3)
    assert out == {"a": 2.0, "b": 3.0}   # seconds per call: medians of [1, 30, 2] and [3, 3, 3]
    # one untimed block each (tracing), then the timed blocks alternate
    assert order == ["a"] * 2 + ["b"] * 2 + ["a", "a", "b", "b"] * 3
    for bad in ({"n_steps": 0}, {"n_steps": 1, "repeats": 0}):
        with pytest.raises(ValueError) as err:
            T._time_calls({"a": side("a")}, **bad)
        name, value = list(bad.items())[-1]
        assert str(err.value) == f"{name} must be an integer >= 1, got {value}"


def test_timing_helpers_alternate_repeated_blocks(monkeypatch):
    from rlrec_helpers.agents import transformer as T

    tiny = dict(d_model=16, n_heads=2, n_layers=1, window=4)
    for fn, kwargs in ((T.rl_step_throughput, {}), (T.sampled_vs_full_softmax_timing, {"n_items": 200, "n_sampled": 16})):
        with pytest.raises(ValueError) as err:
            fn(repeats=0, **kwargs)
        assert str(err.value) == "repeats must be an integer >= 1, got 0"

    order = []

    def spying(make, name_of):
        def make_spy(*args, **kw):
            step, name = make(*args, **kw), name_of(kw)
            return lambda *a: (order.append(name), step(*a))[1]
        return make_spy

    monkeypatch.setattr(T, "make_pretrain_step", spying(T.make_pretrain_step,
                                                        lambda kw: "sampled" if kw["n_sampled"] else "full"))
    out = T.sampled_vs_full_softmax_timing(200, batch_size=2, length=4, n_sampled=16, n_steps=1, repeats=2,
                                           compiled=False, **tiny)
    assert order == ["full", "sampled"] * 3   # one untimed call each, then 2 alternating rounds
    assert set(out) == {"full", "sampled", "speedup"}
    np.testing.assert_allclose(out["speedup"], out["full"] / out["sampled"])

    order.clear()
    monkeypatch.setattr(T, "make_rl_train_step", spying(T.make_rl_train_step,
                                                        lambda kw: "compiled" if kw["compiled"] else "eager"))
    out = T.rl_step_throughput(batch_size=2, horizon=4, n_items=50, n_steps=1, repeats=2, **tiny)
    assert order == ["eager", "compiled"] * 3
    assert set(out) == {"eager", "compiled", "ratio"}
    np.testing.assert_allclose(out["ratio"], out["compiled"] / out["eager"])


def _fake_eval(mean: float):
    from types import SimpleNamespace

    from rlrec_helpers.stats import mean_ci

    return SimpleNamespace(mean_return=mean_ci([mean - 1.0, mean, mean + 1.0]))


def test_applications_prints_the_reward_unit_the_ci_units_and_labels_run_time(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import applications as app

    monkeypatch.setattr(app.sim, "compare_policies", lambda *a, **k: {
        "random": _fake_eval(10.0), "myopic": _fake_eval(20.0), "long-term": _fake_eval(30.0)})
    monkeypatch.setattr(app.R, "train_reinforce", lambda *a, **k: (None, None))
    monkeypatch.setattr(app.R, "evaluate_agent", lambda *a, **k: _fake_eval(40.0))
    app.main(["--domain", "ecommerce", "--seeds", "0", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert f"{'policy':28s} mean return (price units) [95% CI over 1,000 episodes]" in lines
    seed_rows = [ln for ln in lines if ln.startswith("REINFORCE seed ")]
    assert len(seed_rows) == 2
    assert all("(run time on this machine, not a result: train " in ln for ln in seed_rows)
    summary = [ln for ln in lines if ln.startswith("REINFORCE over seeds")]
    assert len(summary) == 1 and "(95% CI over seeds)" in summary[0]


def test_recommender_prints_the_reward_unit_the_ci_units_and_labels_run_time(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import recommender as rec

    assert rec.ci_header("minutes watched", 4000) == "mean return (minutes watched) [95% CI over 4,000 episodes]"
    assert rec.run_time("train 1.0 s") == "(run time on this machine, not a result: train 1.0 s)"
    monkeypatch.setattr(rec.R, "step_throughput", lambda **k: {"eager": 1.0, "compiled": 5.0, "ratio": 5.0})
    monkeypatch.setattr(rec, "references", lambda preset: {
        "random": _fake_eval(100.0), "myopic (privileged)": _fake_eval(150.0),
        "quality-greedy (privileged)": _fake_eval(250.0), "blend λ=2 (privileged, tuned)": _fake_eval(230.0)})
    hist = {"eval_return": np.array([100.0, 240.0, 260.0]), "eval_wall_time": np.array([1.0, 2.0, 3.0])}
    monkeypatch.setattr(rec, "train_seed", lambda preset, seed, hf=False: (_fake_eval(260.0), hist))
    rec.main(["--preset", "default", "--seeds", "0", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert f"{'policy':47s} mean return (minutes watched) [95% CI over 4,000 episodes]" in lines
    seed_rows = [ln for ln in lines if ln.startswith("REINFORCE (GRU) seed ")]
    assert len(seed_rows) == 2
    assert all(ln.endswith("(run time on this machine, not a result: train    0.0 s, "
                           "0.95 x QG reached after    2.0 s)") for ln in seed_rows)
    assert any(ln.startswith("REINFORCE (GRU): mean over seeds") and "(95% CI over seeds)" in ln for ln in lines)


def test_simulator_run_time_in_its_docstring_agrees_with_the_readme():
    import re

    about = re.search(r"\(about (\d+) s ", _doc("simulator.py"))
    readme = " ".join((ROOT / "README.md").read_text().split())
    bound = re.search(r"`bandits\.py`, `ope\.py`, `simulator\.py` and `information_limit\.py` .*? take under "
                      r"(\d+) s each", readme)
    assert about and bound and int(about.group(1)) < int(bound.group(1))


@pytest.mark.parametrize(("script", "size_option"),
                         [("bandits.py", "--runs"), ("ope.py", "--runs"), ("simulator.py", "--episodes")])
def test_numpy_benchmarks_have_a_command_line(script, size_option):
    """``--help`` describes the script without running it; a mistyped option, or a run too small for
    a CI (one run), fails at once."""
    out = _run(ROOT / "benchmarks" / script, ["--help"])
    assert out.returncode == 0 and out.stdout.startswith(f"usage: {script}")
    assert _doc(script).split(". ")[0] in " ".join(out.stdout.split())   # the docstring's first line
    out = _run(ROOT / "benchmarks" / script, ["--no-such-option"])
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.endswith(f"{script}: error: unrecognized arguments: --no-such-option\n")
    out = _run(ROOT / "benchmarks" / script, [size_option, "1"])
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.endswith(f"{script}: error: {size_option} must be an integer >= 2, got 1\n")
