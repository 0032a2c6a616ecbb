"""Small statistics helpers shared by every module: means with confidence intervals.

numpy only. Quality figures in this course are reported as a mean with its 95%
confidence interval over seeds or episodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import erf, sqrt

import numpy as np


def _normal_quantile(p: float) -> float:
    """Inverse standard-normal CDF by bisection on ``erf`` (no scipy needed)."""
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if 0.5 * (1.0 + erf(mid / sqrt(2.0))) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class MeanCI:
    """A mean with a two-sided confidence interval ``[low, high]`` at ``level``."""

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

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.half_width:.2g}"


def mean_ci(values, level: float = 0.95) -> MeanCI:
    """Mean and normal-approximation confidence interval of a 1-D sample.

    Args:
        values: array-like of shape (n,), n >= 1, all finite.
        level: confidence level in (0, 1).
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("values must contain at least one number, got an empty array")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must all be finite; got NaN or inf")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    m = float(x.mean())
    if x.size == 1:
        return MeanCI(m, m, m, 1, level)
    se = float(x.std(ddof=1) / np.sqrt(x.size))
    z = _normal_quantile(0.5 + level / 2.0)
    return MeanCI(m, m - z * se, m + z * se, int(x.size), level)


def paired_difference(a, b, level: float = 0.95) -> MeanCI:
    """Mean and CI of the per-unit difference ``a - b`` of two policies run on the same units.

    With common random numbers (the same users and candidate sets for both policies) most of
    the between-user variance cancels, so this is a sharper test than comparing two separate
    CIs. Args: ``a``, ``b`` array-like (n,) per-episode returns in the same unit order.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"a and b must be 1-D with the same length (one value per shared unit), "
                         f"got shapes {x.shape} and {y.shape}")
    return mean_ci(x - y, level)


def mean_ci_over_axis(values, axis: int = 0, level: float = 0.95):
    """Pointwise mean and CI band of a 2-D array, e.g. (n_seeds, T) learning curves.

    Returns ``(mean, low, high)`` arrays with ``axis`` reduced.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"values must be 2-D (n_runs, T), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must all be finite; got NaN or inf")
    n = x.shape[axis]
    m = x.mean(axis=axis)
    if n < 2:
        return m, m.copy(), m.copy()
    se = x.std(axis=axis, ddof=1) / np.sqrt(n)
    z = _normal_quantile(0.5 + level / 2.0)
    return m, m - z * se, m + z * se
