"""Small statistics helpers shared by every module: means with confidence intervals.

numpy only. Quality figures in this course are reported as a mean with its 95%
confidence interval over seeds or episodes. The interval is Student's t interval
``mean ± t_{n-1} · s / sqrt(n)``: with 3 or 5 seeds the normal quantile 1.96 would give an
interval that covers the true mean only about 81% or 88% of the time (t_2 = 4.30,
t_4 = 2.78); with thousands of episodes the two agree (t_3999 = 1.9606).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import erfc, exp, isfinite, lgamma, log, pi, sqrt
from statistics import NormalDist

import numpy as np

from rlrec_helpers._validate import check_int, check_real, is_int

#: Above this many degrees of freedom, Student's t is computed from its large-df expansion
#: around the normal distribution (exact normal for ``df = inf``): the incomplete-beta route
#: loses accuracy there (its error grows past 1e-10 at df ~ 1e7 and to 1e-2 at df ~ 1e13),
#: while the expansion's first neglected term is O(1 / df^2) < 1e-12.
LARGE_DF = 1e7


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b) for x in [0, 1]."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1.0 - x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def student_t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with ``df`` > 0 degrees of freedom (``inf``: the normal).

    ``t`` must be finite. For ``df`` > :data:`LARGE_DF` the large-df expansion
    ``Phi(t) - phi(t) (t^3 + t) / (4 df)`` is used (error O(1 / df^2))."""
    if not df > 0:
        raise ValueError(f"df must be > 0, got {df}")
    if not isfinite(t):
        raise ValueError(f"t must be finite, got {t}")
    if df > LARGE_DF:
        normal = 0.5 * erfc(-t / sqrt(2.0))
        if df == float("inf") or abs(t) > 50.0:   # beyond 50 the correction underflows to 0
            return normal
        density = exp(-0.5 * t * t) / sqrt(2.0 * pi)
        return normal - density * t * (t * t + 1.0) / (4.0 * df)
    tt = t * t
    # for |t| > 1e150, t * t overflows: write df / (df + t^2) as (df / |t|) / |t| instead
    x = df / (df + tt) if tt < 1e300 else (df / abs(t)) / abs(t)
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, x)
    return 1.0 - tail if t >= 0 else tail


def student_t_quantile(p: float, df: float) -> float:
    """Inverse of :func:`student_t_cdf`, for p in (0, 1) and df > 0 (``inf``: the normal).

    Bisection on a bracket that starts at [-1e4, 1e4] and is widened geometrically (x10)
    until it holds the quantile (df = 1 needs 6.4e4 at p = 0.999995); a quantile beyond
    ±1e150 (e.g. df = 1 with p < 1e-150) raises ``ValueError``. For df >
    :data:`LARGE_DF`, the large-df (Cornish-Fisher) expansion
    ``z + (z^3 + z) / (4 df) + (5 z^5 + 16 z^3 + 3 z) / (96 df^2)`` of the normal quantile z."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"df must be > 0, got {df}")
    if df > LARGE_DF:
        z = NormalDist().inv_cdf(p)
        if df == float("inf"):
            return z
        return z + (z ** 3 + z) / (4.0 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96.0 * df * df)
    lo, hi = -1e4, 1e4
    # widen until cdf(lo) < p <= cdf(hi), the bisection's invariant; the cdf is accurate while
    # df / (df + t^2) >= 1e-300, i.e. up to |t| = cap
    cap = 1e150 * min(1.0, sqrt(df))
    while student_t_cdf(hi, df) < p:
        if hi >= cap:
            raise ValueError(f"p must be further from 1 for df = {df}: the quantile at p = {p} "
                             f"exceeds {cap:.3g}")
        lo, hi = hi, hi * 10.0
    while student_t_cdf(lo, df) >= p:
        if lo <= -cap:
            raise ValueError(f"p must be further from 0 for df = {df}: the quantile at p = {p} "
                             f"is below {-cap:.3g}")
        lo, hi = lo * 10.0, lo
    for _ in range(400):
        mid = 0.5 * (lo + hi)
        if mid == lo or mid == hi:   # |t| so large that 1e-12 is below its float spacing
            break
        if student_t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class MeanCI:
    """A mean with a two-sided confidence interval ``[low, high]`` at ``level``.

    ``n`` depends on the producer: for :func:`mean_ci` and :func:`paired_difference` it is the
    sample size (the number of values or pairs, >= 2); for ``ope.bootstrap_ci`` and
    ``ope.bootstrap_estimates`` it is ``n_boot``, the number of bootstrap resamples (the
    log's row count is not stored).
    """

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return 0.5 * (self.high - self.low)

    def overlaps(self, other: "MeanCI") -> bool:
        """True if the two intervals share any point."""
        return not (self.high < other.low or other.high < self.low)

    @property
    def symmetric(self) -> bool:
        """True if ``mean`` is the midpoint of ``[low, high]`` (up to rounding), as for a
        Student-t interval; False e.g. for a percentile-bootstrap interval."""
        mid = 0.5 * (self.low + self.high)
        scale = max(abs(self.low), abs(self.high), abs(self.mean))
        return abs(self.mean - mid) <= 1e-9 * scale

    def __str__(self) -> str:
        """``"mean ± half_width"`` for a symmetric interval, else ``"mean [low, high]"``."""
        if self.symmetric:
            return f"{self.mean:.4g} ± {self.half_width:.2g}"
        return f"{self.mean:.4g} [{self.low:.4g}, {self.high:.4g}]"


def check_ci_count(name: str, value) -> int:
    """Return ``int(value)`` for an integer >= 2, the count of values behind a :func:`mean_ci`
    (e.g. ``evaluate``'s ``n_episodes``); else ``ValueError`` naming ``name`` and saying why."""
    if not (is_int(value) and value >= 2):
        raise ValueError(f"{name} must be an integer >= 2 (a confidence interval needs at least 2 values), "
                         f"got {value!r}")
    return int(value)


def _check_ci_finite(m, low, high, scalar: bool = False) -> None:
    """Raise ``ValueError`` unless every mean, bound and width ``high - low`` is finite."""
    bad = ~(np.isfinite(m) & np.isfinite(low) & np.isfinite(high) & np.isfinite(high - low))
    if np.any(bad):
        j = int(np.argmax(bad))
        where = "" if scalar else f" at index {j} of the result"
        raise ValueError(f"values must be small enough in magnitude that the mean and its interval are "
                         f"finite floats (rescale them), got mean={float(m[j])!r}, low={float(low[j])!r}, "
                         f"high={float(high[j])!r}{where}")


def mean_ci(values, level: float = 0.95) -> MeanCI:
    """Mean and Student-t confidence interval ``mean ± t_{n-1} · s / sqrt(n)`` of a 1-D sample.

    Args:
        values: array-like of shape (n,), n >= 2, all finite. One value (or a scalar) is
            refused: with n - 1 = 0 degrees of freedom there is no interval, and a zero-width
            one would make two single runs look significantly different. 2-D input is
            refused: an (n_seeds, T) array holds n_seeds independent runs, not n_seeds * T
            independent values; use :func:`mean_ci_over_axis` (or reduce each run to one
            number first).
        level: confidence level in (0, 1).

    Returns a :class:`MeanCI` with ``n`` = the number of values. Raises ``ValueError`` for
    fewer than 2 values, and if the values are so large (e.g. ``[1e308, 1e308]``) that the
    mean or the interval overflows to inf or NaN.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim > 1:
        raise ValueError(f"values must be 1-D (n,), got shape {x.shape}; for (n_runs, T) curves use "
                         f"mean_ci_over_axis, or reduce each run to one number first")
    x = x.ravel()
    if x.size < 2:
        raise ValueError(f"values must contain at least 2 numbers (a confidence interval needs at least 2 "
                         f"values: Student's t has n - 1 degrees of freedom), got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must all be finite; got NaN or inf")
    check_real("level", level, 0.0, 1.0, lo_open=True, hi_open=True)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        m = float(x.mean())
        se = float(x.std(ddof=1) / np.sqrt(x.size))
        t = student_t_quantile(0.5 + level / 2.0, x.size - 1)
        low, high = m - t * se, m + t * se
        _check_ci_finite(np.array([m]), np.array([low]), np.array([high]), scalar=True)
    return MeanCI(m, low, high, int(x.size), level)


def paired_difference(a, b, level: float = 0.95) -> MeanCI:
    """Mean and CI of the per-unit difference ``a - b`` of two policies run on the same units.

    With common random numbers (the same users and candidate sets for both policies) most of
    the between-user variance cancels, so this is a sharper test than comparing two separate
    CIs. Args: ``a``, ``b`` array-like (n,) per-episode returns in the same unit order, n >= 2
    (one pair has no interval, see :func:`mean_ci`). Returns a :class:`MeanCI` with ``n`` = the
    number of pairs.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"a and b must be 1-D with the same length (one value per shared unit), "
                         f"got shapes {x.shape} and {y.shape}")
    if x.size < 2:
        raise ValueError(f"a and b must hold at least 2 pairs (a confidence interval needs at least 2 values), "
                         f"got {x.size}")
    return mean_ci(x - y, level)


def mean_ci_over_axis(values, axis: int = 0, level: float = 0.95):
    """Pointwise mean and Student-t CI band of a 2-D array, e.g. (n_seeds, T) learning curves.

    ``axis`` in {0, 1, -1, -2} (the runs' axis), ``level`` in (0, 1). Returns ``(mean, low,
    high)`` arrays with ``axis`` reduced. A single run is allowed (a one-run learning curve
    still has its mean line) and gets a zero-width band: there is no interval then, unlike
    :func:`mean_ci`, which refuses one value.

    Raises ``ValueError`` for an empty array (no runs or no points), and for values so large
    that a mean or a band overflows to inf or NaN.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"values must be 2-D (n_runs, T), got shape {x.shape}")
    check_int("axis", axis, -2, 1)  # values is 2-D
    check_real("level", level, 0.0, 1.0, lo_open=True, hi_open=True)
    if x.size == 0:
        raise ValueError(f"values must not be empty (at least one run and one point), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must all be finite; got NaN or inf")
    n = x.shape[axis]
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        m = x.mean(axis=axis)
        if n < 2:
            return m, m.copy(), m.copy()
        se = x.std(axis=axis, ddof=1) / np.sqrt(n)
        t = student_t_quantile(0.5 + level / 2.0, n - 1)
        low, high = m - t * se, m + t * se
        _check_ci_finite(m, low, high)
    return m, low, high
