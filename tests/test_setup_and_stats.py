import os
import random
import re

import numpy as np
import pytest

from rlrec_helpers.setup import TF_QUIET_ENV, seed_everything, setup
from rlrec_helpers.stats import mean_ci, mean_ci_over_axis, paired_difference, student_t_cdf, student_t_quantile


def test_quiet_tensorflow_sets_the_env_but_keeps_the_callers_values(monkeypatch):
    from rlrec_helpers.setup import quiet_tensorflow

    assert TF_QUIET_ENV == {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
    for key in TF_QUIET_ENV:
        monkeypatch.delenv(key, raising=False)   # conftest sets them; start from nothing
    quiet_tensorflow()
    for key, value in TF_QUIET_ENV.items():
        assert os.environ[key] == value
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"   # a value the caller set is kept


def test_setup_is_reproducible_without_tf():
    rng1 = setup(seed=123)
    a = (random.random(), np.random.rand(), rng1.random())
    rng2 = setup(seed=123)
    b = (random.random(), np.random.rand(), rng2.random())
    assert a == b


def test_seed_everything_seeds_tensorflow_and_determinism():
    import tensorflow as tf

    seed_everything(7, use_tf=True)
    x = tf.random.uniform((3,)).numpy()
    seed_everything(7, use_tf=True)
    y = tf.random.uniform((3,)).numpy()
    np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_must_be_non_negative_int(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad, use_tf=False)


def test_mean_ci_is_the_student_t_interval():
    x = np.arange(10.0)
    ci = mean_ci(x)
    se = x.std(ddof=1) / np.sqrt(10)
    assert ci.mean == pytest.approx(4.5)
    assert ci.high - ci.mean == pytest.approx(2.262157 * se, rel=1e-5)   # t_{0.975, 9}, not 1.96
    assert ci.overlaps(mean_ci(x + 1)) and not ci.overlaps(mean_ci(x + 100))
    three = mean_ci([1.0, 2.0, 4.0])                                       # 3 seeds: t_{0.975, 2} = 4.30
    assert three.half_width == pytest.approx(4.302653 * np.std([1.0, 2.0, 4.0], ddof=1) / np.sqrt(3), rel=1e-5)


@pytest.mark.parametrize("p, df, expected", [(0.975, 1, 12.706205), (0.975, 2, 4.302653), (0.975, 4, 2.776445),
                                             (0.975, 9, 2.262157), (0.975, 3999, 1.960557), (0.5, 7, 0.0),
                                             (0.025, 4, -2.776445), (0.995, 30, 2.749996)])
def test_student_t_quantile_matches_tables(p, df, expected):
    assert student_t_quantile(p, df) == pytest.approx(expected, abs=2e-6)
    assert student_t_cdf(expected, df) == pytest.approx(p, abs=1e-6)


def test_t_interval_covers_the_mean_95_percent_of_the_time_with_3_seeds():
    rng = np.random.default_rng(0)
    samples = rng.normal(10.0, 3.0, size=(20000, 3))
    covered = np.mean([mean_ci(s).low <= 10.0 <= mean_ci(s).high for s in samples[:4000]])
    assert 0.935 < covered < 0.965                       # the normal quantile 1.96 would cover about 81%
    m, lo, hi = mean_ci_over_axis(samples.T[:, :4000])
    assert 0.935 < np.mean((lo <= 10.0) & (10.0 <= hi)) < 0.965


@pytest.mark.parametrize("bad", [dict(p=0.0, df=3), dict(p=1.0, df=3), dict(p=0.5, df=0)])
def test_student_t_quantile_rejects_bad_arguments(bad):
    with pytest.raises(ValueError, match="p must|df must"):
        student_t_quantile(**bad)


@pytest.mark.parametrize("bad", [[], [1.0, np.nan], [np.inf]])
def test_mean_ci_rejects_empty_or_non_finite(bad):
    with pytest.raises(ValueError, match="values"):
        mean_ci(bad)


def test_mean_ci_over_axis_shapes():
    m, lo, hi = mean_ci_over_axis(np.ones((5, 7)))
    assert m.shape == lo.shape == hi.shape == (7,)
    with pytest.raises(ValueError, match="2-D"):
        mean_ci_over_axis(np.ones(3))


def test_paired_difference_cancels_shared_variance():
    rng = np.random.default_rng(0)
    users = rng.normal(100.0, 20.0, size=500)          # large between-user variance, shared
    a = users + 1.0 + rng.normal(0.0, 0.5, size=500)
    b = users + rng.normal(0.0, 0.5, size=500)
    d = paired_difference(a, b)
    assert d.low > 0 and abs(d.mean - 1.0) < 0.1       # the +1 shift is detected user by user,
    assert mean_ci(a).overlaps(mean_ci(b))             # while the two separate CIs overlap
    assert paired_difference(b, a).mean == pytest.approx(-d.mean)
    with pytest.raises(ValueError, match="same length"):
        paired_difference(a, b[:-1])
    with pytest.raises(ValueError, match="same length"):
        paired_difference(a.reshape(50, 10), b.reshape(50, 10))


def test_only_the_setup_helper_seeds_global_random_state():
    """The course seeds everything through one helper: no other module calls the global seeders."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1] / "rlrec_helpers"
    pattern = re.compile(r"set_random_seed\(|tf\.random\.set_seed\(|np\.random\.seed\(|random\.seed\(")
    offenders = [f"{p.relative_to(root)}:{i}" for p in sorted(root.rglob("*.py")) if p.name != "setup.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_training_seeds_through_the_setup_helper(monkeypatch):
    from dataclasses import replace

    from rlrec_helpers.agents import reinforce as R

    calls = []
    monkeypatch.setattr(R, "seed_everything", lambda seed, use_tf=True: calls.append((seed, use_tf)))
    cfg = replace(R.TRAIN_PRESETS["default"], n_iters=1, batch_size=4, max_len=3, eval_every=0, keep_best=False,
                  seed=11)
    R.train_reinforce("default", cfg, progress=False)
    assert calls == [(11, True)]


# ----------------------------------------------------------------- review R4 (API)


@pytest.mark.parametrize("p, df, exact", [
    (0.999995, 1, np.tan(np.pi * (0.999995 - 0.5))),     # 63662: beyond the old +-1e4 bracket
    (1e-6, 1, np.tan(np.pi * (1e-6 - 0.5))),             # -318310
    (1e-12, 2, -(1 - 2e-12) / np.sqrt(2e-12 * (1 - 1e-12))),   # df = 2 closed form, -7.1e5
    (0.9999, 0.5, None),
])
def test_student_t_quantile_beyond_the_initial_bracket(p, df, exact):
    """R4 #6: the quantile was clipped to +-1e4; the bracket now widens geometrically."""
    q = student_t_quantile(p, df)
    if exact is not None:
        assert q == pytest.approx(exact, rel=1e-9)
    assert abs(q) > 1e4
    assert student_t_cdf(q, df) == pytest.approx(p, rel=1e-6)


def test_mean_ci_high_level_is_not_capped():
    """R4 #6: the half-width of [1, 2] at 99.999% was capped at 1e4 * se = 5e3."""
    ci = mean_ci([1.0, 2.0], level=0.99999)
    se = np.std([1.0, 2.0], ddof=1) / np.sqrt(2)
    assert ci.half_width == pytest.approx(np.tan(np.pi * (0.999995 - 0.5)) * se, rel=1e-9)


@pytest.mark.parametrize("df", [1e8, 1e12, 1e15, 1e18, np.inf])
def test_student_t_large_df_tends_to_the_normal(df):
    """R4 #6: df = 1e15 gave 1.75, 1e18 gave 8.0 and inf gave -1e4; cdf(1, inf) was NaN."""
    z975 = 1.959963984540054
    assert student_t_quantile(0.975, df) == pytest.approx(z975 + (z975 ** 3 + z975) / (4 * df), abs=1e-12)
    assert student_t_cdf(1.0, df) == pytest.approx(0.8413447460685429, abs=1e-8)
    assert student_t_cdf(student_t_quantile(0.3, df), df) == pytest.approx(0.3, abs=1e-12)


def test_student_t_is_continuous_across_the_large_df_switch():
    from rlrec_helpers.stats import LARGE_DF

    below, above = student_t_quantile(0.975, LARGE_DF), student_t_quantile(0.975, LARGE_DF * (1 + 1e-9))
    assert abs(below - above) < 1e-9
    assert abs(student_t_cdf(2.0, LARGE_DF) - student_t_cdf(2.0, LARGE_DF * (1 + 1e-9))) < 1e-9


@pytest.mark.parametrize("t", [np.nan, np.inf, -np.inf])
def test_student_t_cdf_rejects_non_finite_t(t):
    """R4 #6: NaN came back as NaN."""
    with pytest.raises(ValueError, match="^t must be finite"):
        student_t_cdf(t, 3)


def test_student_t_quantile_beyond_float_range_raises():
    with pytest.raises(ValueError, match="^p must be further from 0"):
        student_t_quantile(1e-12, 0.01)     # the quantile is about -1e1200


def test_mean_ci_refuses_2d_input():
    """R4 #10: a (n_seeds, T) array was flattened into n_seeds * T 'independent' values."""
    with pytest.raises(ValueError, match="^values must be 1-D.*mean_ci_over_axis"):
        mean_ci(np.arange(12.0).reshape(3, 4))
    assert mean_ci(np.array([5.0, 6.0])).n == 2 and mean_ci([5.0, 6.0]).n == 2     # 1-D still works


@pytest.mark.parametrize("kwargs, name", [
    (dict(axis=2), "axis"), (dict(axis=-3), "axis"), (dict(axis=0.0), "axis"),
    (dict(level=7), "level"), (dict(level=0.0), "level"),
])
@pytest.mark.parametrize("n_runs", [1, 4])
def test_mean_ci_over_axis_validates_axis_and_level_even_for_one_run(kwargs, name, n_runs):
    """R4 #10: axis=2 raised IndexError; with one run, level was never checked."""
    with pytest.raises(ValueError, match=rf"^{name} must"):
        mean_ci_over_axis(np.ones((n_runs, 3)), **kwargs)


def test_mean_ci_str_symmetric_unchanged_and_asymmetric_shows_bounds():
    """R4 #11: a percentile-bootstrap interval printed as a misleading 'mean ± half-width'."""
    from rlrec_helpers.stats import MeanCI

    # Student-t intervals print exactly as before (notebook 02's committed output)
    assert str(MeanCI(833.3333, 693.3333, 973.3333, 5)) == "833.3 ± 1.4e+02"
    rng = np.random.default_rng(1)
    for n in (2, 3, 10, 1000):
        ci = mean_ci(rng.normal(50.0, 7.0, size=n))
        assert ci.symmetric and str(ci) == f"{ci.mean:.4g} ± {ci.half_width:.2g}"
    assert str(mean_ci([3.0, 3.0])) == "3 ± 0"
    boot = MeanCI(0.1, 0.0, 0.25, 500)
    assert not boot.symmetric and str(boot) == "0.1 [0, 0.25]"


# ----------------------------------------------------------------- review C (#14)


@pytest.mark.parametrize("shape, axis", [((0, 5), 0), ((3, 0), 1), ((0, 3), -2), ((5, 0), 0), ((0, 0), 1)])
def test_mean_ci_over_axis_refuses_empty_input(shape, axis):
    """Review C #14: zero runs gave NaN bands (and zero points empty arrays)."""
    msg = f"values must not be empty (at least one run and one point), got shape {shape}"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        mean_ci_over_axis(np.zeros(shape), axis=axis)


_TOO_LARGE = "values must be small enough in magnitude that the mean and its interval are finite floats (rescale them)"


@pytest.mark.parametrize("values, got", [
    ([1e308, 1e308], "mean=inf, low=nan, high=inf"),
    ([1e308, -1e308, 1e308], "mean=3.333333333333333e+307, low=-inf, high=inf"),
    ([1e200, -1e200], "mean=0.0, low=-inf, high=inf"),
])
def test_mean_ci_refuses_overflow(values, got):
    """Review C #14: MeanCI(mean=inf, low=nan, high=inf) came back silently."""
    with pytest.raises(ValueError, match=f"^{re.escape(f'{_TOO_LARGE}, got {got}')}$"):
        mean_ci(values)
    with pytest.raises(ValueError, match=f"^{re.escape(f'{_TOO_LARGE}, got {got}')}$"):
        paired_difference(values, np.zeros(len(values)))


def test_mean_ci_over_axis_refuses_overflow():
    x = np.ones((2, 3))
    x[:, 2] = 1e308
    msg = f"{_TOO_LARGE}, got mean=inf, low=nan, high=inf at index 2 of the result"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        mean_ci_over_axis(x)
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        mean_ci_over_axis(x.T, axis=1)


def test_mean_ci_large_but_representable_values_unchanged():
    ci = mean_ci([1e150, 2e150, 4e150])
    assert np.isfinite([ci.mean, ci.low, ci.high, ci.half_width]).all()
    m, lo, hi = mean_ci_over_axis(np.array([[1e150, 1.0], [2e150, 3.0]]))
    assert np.isfinite(np.concatenate([m, lo, hi])).all()
