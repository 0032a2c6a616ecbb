"""Shared argument checkers (private; numpy and the standard library only).

Every checker raises ``ValueError`` whose message names the argument and the allowed range,
in one format::

    n_boot must be an integer >= 2, got 1
    slate_size must be an integer in [1, 10], got 11
    gamma must be a finite number in [0, 1], got 1.5
    lr must be a finite number > 0, got 0.0
    max_len must be None or an integer >= 1, got 0
    probs must be probabilities in [0, 1], got [0.5, 1.5]
    preset must be one of 'default', 'costly_browsing', got 'nope'
    action_dist rows must sum to 1 (within 1e-06), got action_dist[3, :] summing to 0.9

Integers are Python or numpy integers, never ``bool``; real numbers are any finite
``numbers.Real`` (Python or numpy ints and floats), never ``bool``, ``str`` or an array.
An infinite bound (``math.inf``) is the same as no bound. A choice lists the ``repr`` of each
allowed option, comma-separated, in the order the caller gives them; a value equal to an option
(e.g. a numpy string) is accepted and an unhashable one (a list) is rejected like any other.
A distribution (:func:`check_distribution`) must sum to 1 within the one shared tolerance
:data:`SUM_TOL`. A numeric array (:func:`check_finite_array`) must be real, finite, non-empty
and of the stated shape.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "SUM_TOL", "check_bool", "check_choice", "check_distribution", "check_finite_array", "check_int", "check_real", "check_probability",
    "check_probabilities", "describe_range", "is_int", "is_real",
]

#: Largest accepted |sum - 1| of a probability distribution (:func:`check_distribution`): loose
#: enough for float32 probabilities (a TensorFlow softmax row is off by ~1e-7), tight enough to
#: catch an unnormalised or truncated one. The loosest of the package's former tolerances (1e-6,
#: 1e-8, 1e-9), so nothing accepted before is rejected now. ``Generator.choice(p=...)`` refuses
#: |sum - 1| > 1.5e-8: draw from such a distribution by inverse CDF (``cdf = np.cumsum(p);
#: cdf /= cdf[-1]; cdf.searchsorted(rng.random(n), side="right")``, the same draws).
SUM_TOL = 1e-6


def _fmt(x) -> str:
    """A bound as printed in messages: integral floats without the ``.0``."""
    if isinstance(x, (float, np.floating)) and math.isfinite(x) and float(x).is_integer():
        return str(int(x))
    return str(x)


def _bound(x):
    """``None`` for a missing or infinite bound, else the bound."""
    if x is None:
        return None
    if isinstance(x, (float, np.floating)) and math.isinf(x):
        return None
    return x


def describe_range(lo=None, hi=None, *, lo_open: bool = False, hi_open: bool = False,
                   lo_name: str | None = None, hi_name: str | None = None) -> str:
    """The range part of a message: ``" in [0, 1)"``, ``" >= 2"``, ``" < 5"`` or ``""``.

    ``lo_name``/``hi_name`` label a bound that comes from another argument: ``" in [1, N=10]"``.
    """
    lo, hi = _bound(lo), _bound(hi)
    a = None if lo is None else (_fmt(lo) if lo_name is None else f"{lo_name}={_fmt(lo)}")
    b = None if hi is None else (_fmt(hi) if hi_name is None else f"{hi_name}={_fmt(hi)}")
    if a is not None and b is not None:
        return f" in {'(' if lo_open else '['}{a}, {b}{')' if hi_open else ']'}"
    if a is not None:
        return f" {'>' if lo_open else '>='} {a}"
    if b is not None:
        return f" {'<' if hi_open else '<='} {b}"
    return ""


def _in_range(value, lo, hi, lo_open: bool, hi_open: bool) -> bool:
    lo, hi = _bound(lo), _bound(hi)
    if lo is not None and not (value > lo if lo_open else value >= lo):
        return False
    if hi is not None and not (value < hi if hi_open else value <= hi):
        return False
    return True


def is_int(value) -> bool:
    """True for a Python or numpy integer that is not a ``bool``."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_real(value) -> bool:
    """True for a finite real number (``numbers.Real``) that is not a ``bool``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def check_int(name: str, value, lo: int | None = None, hi: int | None = None, *,
              allow_none: bool = False, lo_name: str | None = None,
              hi_name: str | None = None) -> int | None:
    """Return ``int(value)`` for an integer (Python or numpy, not bool) in [lo, hi].

    ``lo``/``hi`` ``None``: unbounded on that side; ``lo_name``/``hi_name`` name a bound in
    the message. ``allow_none``: ``None`` is accepted and returned. Otherwise
    ``ValueError("<name> must be an integer in [lo, hi], got <value>")``.
    """
    if allow_none and value is None:
        return None
    if not (is_int(value) and _in_range(value, lo, hi, False, False)):
        none = "None or " if allow_none else ""
        rng = describe_range(lo, hi, lo_name=lo_name, hi_name=hi_name)
        raise ValueError(f"{name} must be {none}an integer{rng}, got {value!r}")
    return int(value)


def check_real(name: str, value, lo: float | None = None, hi: float | None = None, *,
               lo_open: bool = False, hi_open: bool = False, allow_none: bool = False,
               lo_name: str | None = None, hi_name: str | None = None) -> float | None:
    """Return ``float(value)`` for a finite real number (not bool/str) in the interval.

    The interval is [lo, hi]; ``lo_open``/``hi_open`` exclude an end; a ``None`` or infinite
    bound is no bound; ``lo_name``/``hi_name`` name a bound in the message. ``allow_none``:
    ``None`` is accepted and returned. Otherwise
    ``ValueError("<name> must be a finite number in [lo, hi], got <value>")``.
    """
    if allow_none and value is None:
        return None
    if not (is_real(value) and _in_range(value, lo, hi, lo_open, hi_open)):
        none = "None or " if allow_none else ""
        rng = describe_range(lo, hi, lo_open=lo_open, hi_open=hi_open, lo_name=lo_name, hi_name=hi_name)
        raise ValueError(f"{name} must be {none}a finite number{rng}, got {value!r}")
    return float(value)


def check_bool(name: str, value) -> bool:
    """Return ``bool(value)`` for a Python or numpy bool, else ``ValueError("<name> must be a bool,
    got <value>")`` (a string such as ``"False"`` is truthy and would silently mean True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def check_probability(name: str, value) -> float:
    """Return ``float(value)`` for a real number in [0, 1], else ``ValueError``."""
    return check_real(name, value, 0.0, 1.0)


def check_probabilities(name: str, values) -> np.ndarray:
    """Return ``values`` as a non-empty float array (any shape) with every entry in [0, 1]."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0.0) or np.any(arr > 1.0):
        raise ValueError(f"{name} must be probabilities in [0, 1], got {values!r}")
    return arr


def check_choice(name: str, value, allowed):
    """Return ``value`` if it equals one of ``allowed`` (an iterable of hashable options).

    Otherwise ``ValueError("<name> must be one of 'a', 'b', got <value>")``, with the options in
    the order given (a dict gives its keys). An unhashable ``value`` gets the same ``ValueError``.
    """
    options = tuple(allowed)
    try:
        hash(value)
        ok = value in options
    except (TypeError, ValueError):  # unhashable, or an __eq__ without a truth value
        ok = False
    if not ok:
        listed = ", ".join(repr(o) for o in options) if options else "(no options)"
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def _index(name: str, idx) -> str:
    """``name[i, j]`` for an index tuple whose entries are integers or ``":"``."""
    return f"{name}[{', '.join(i if isinstance(i, str) else str(int(i)) for i in idx)}]"


def check_distribution(name: str, values, axis: int = -1, *, tol: float = SUM_TOL,
                       positive: bool = False) -> np.ndarray:
    """Return ``values`` as a float array whose every slice along ``axis`` is a distribution.

    ``values``: any non-empty array with at least one axis; every entry finite and >= 0 (> 0
    with ``positive``, for probabilities that are divided by, e.g. propensities); every slice
    along ``axis`` sums to 1 within ``tol`` (|sum - 1| <= tol; default :data:`SUM_TOL`).
    ``axis`` must be an integer in [-ndim, ndim - 1]. Otherwise ``ValueError``, e.g.::

        behavior must be a non-empty array with at least one axis, got shape (0,)
        behavior entries must be finite numbers > 0, got behavior[1] = 0.0
        mu must sum to 1 (within 1e-06), got a sum of 0.9
        action_dist rows must sum to 1 (within 1e-06), got action_dist[3, :] summing to 0.9
        probs columns must sum to 1 (within 1e-06), got probs[:, 1] summing to 1.2
        P slices along axis 2 must sum to 1 (within 1e-06), got P[0, 1, :] summing to 0.5

    An entry message shows the first offending entry (in C order); a sum message the slice
    whose sum is furthest from 1. The array is not copied if it already is a float array.
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):  # strings, complex numbers, ragged lists
        raise ValueError(f"{name} must be an array of real numbers, got {values!r}") from None
    if arr.ndim == 0 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty array with at least one axis, got shape {arr.shape}")
    ax = check_int("axis", axis, -arr.ndim, arr.ndim - 1) % arr.ndim
    tol = check_real("tol", tol, 0.0)
    bad = ~np.isfinite(arr) | ((arr <= 0.0) if positive else (arr < 0.0))
    if np.any(bad):
        idx = tuple(np.argwhere(bad)[0])
        raise ValueError(f"{name} entries must be finite numbers{describe_range(0.0, lo_open=positive)}, "
                         f"got {_index(name, idx)} = {float(arr[idx])!r}")
    with np.errstate(over="ignore"):  # huge finite entries: an infinite sum, reported below
        sums = arr.sum(axis=ax)
    off = np.abs(sums - 1.0)
    if np.any(off > tol):
        worst = np.unravel_index(int(np.argmax(off)), sums.shape)
        rule, total = f"must sum to 1 (within {_fmt(tol)})", float(sums[worst])
        if arr.ndim == 1:
            raise ValueError(f"{name} {rule}, got a sum of {total!r}")
        what = ("rows" if ax == 1 else "columns") if arr.ndim == 2 else f"slices along axis {ax}"
        where = _index(name, worst[:ax] + (":",) + worst[ax:])
        raise ValueError(f"{name} {what} {rule}, got {where} summing to {total!r}")
    return arr


def check_finite_array(name: str, values, shape: tuple | None = None, *,
                       ndim: int | None = None, allow_neg_inf: bool = False) -> np.ndarray:
    """Return ``values`` as a non-empty float array of finite real numbers.

    ``shape``: the required shape, with ``None`` for a free axis (e.g. ``(None, 3)``); ``ndim``:
    the required number of axes (implied by ``shape``). Booleans count as numbers (0/1), and so do
    the numbers in an object array (strings do not). ``allow_neg_inf``: ``-inf`` is accepted too
    (e.g. a masked action's value). Otherwise ``ValueError``, e.g.::

        V must be an array of real numbers, got ['a', 'b']
        V must have shape (4,), got shape (2,)
        Q must have 2 axes, got shape (3,)
        V must not be empty, got shape (0,)
        V entries must be finite numbers, got V[0] = nan
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):  # strings, complex numbers, ragged lists
        raise ValueError(f"{name} must be an array of real numbers, got {values!r}") from None
    raw = np.asarray(values)
    if raw.dtype.kind in "UScM" or (raw.dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in raw.flat)):
        raise ValueError(f"{name} must be an array of real numbers, got {values!r}")  # "1" converts silently
    if shape is not None:
        shape = tuple(shape)
        if arr.ndim != len(shape) or any(w is not None and w != n for w, n in zip(shape, arr.shape)):
            want = "(" + ", ".join("any" if w is None else str(w) for w in shape) + ("," if len(shape) == 1 else "") + ")"
            raise ValueError(f"{name} must have shape {want}, got shape {arr.shape}")
    elif ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} ax{'is' if ndim == 1 else 'es'}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if allow_neg_inf:
        bad &= ~np.isneginf(arr)
    if np.any(bad):
        idx = tuple(np.argwhere(bad)[0])
        where = _index(name, idx) if idx else name
        rule = "finite numbers or -inf" if allow_neg_inf else "finite numbers"
        raise ValueError(f"{name} entries must be {rule}, got {where} = {float(arr[idx])!r}")
    return arr
