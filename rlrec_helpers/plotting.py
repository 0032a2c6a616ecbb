"""The course's single seaborn theme and shared plot helpers.

Only this module and ``widgets`` draw. Every helper takes an optional ``ax``, labels
both axes (with units), and returns the ``matplotlib.axes.Axes`` it drew on, so
notebooks stay one line per figure.

Sections below are grouped by the notebook that introduced them; reuse before adding.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import matplotlib

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import offset_copy
import numpy as np
import seaborn as sns

from rlrec_helpers._validate import check_distribution, check_finite_array, check_int, check_real
from rlrec_helpers.stats import mean_ci_over_axis

#: The course palette: seaborn's ten "colorblind" colours, reordered so that the first six are
#: far apart (seaborn's own order puts orange and vermilion, hard to tell apart, at C1 and C3).
PALETTE = ("#0173b2", "#de8f05", "#029e73", "#cc78bc", "#56b4e9", "#ca9161",
           "#d55e00", "#fbafe4", "#ece133", "#949494")
THEME = {"style": "whitegrid", "context": "notebook", "palette": list(PALETTE)}
FIGSIZE = (6.4, 3.6)
#: Policies that recur across notebooks keep one colour in every figure: the first pattern
#: found (case-insensitive) in a series name gives its index in :data:`PALETTE`. The recommender
#: policies come first, then notebook 02's bandit algorithms (which never share a figure with them).
POLICY_COLORS = ((r"history-free", 5), (r"reinforce|\bours\b", 0), (r"linucb", 7), (r"myopic", 1),
                 (r"quality-greedy", 2), (r"blend", 3), (r"long-term|heuristic", 4), (r"\brandom\b", 9),
                 (r"^greedy\b", 9), (r"decaying", 5), (r"ε-greedy", 1), (r"\bUCB", 2),
                 (r"linear thompson", 6), (r"thompson.*gaussian", 4), (r"thompson", 3))


def set_theme() -> None:
    """Apply the course theme (seaborn whitegrid, notebook context, colourblind palette)."""
    sns.set_theme(**THEME)
    matplotlib.rcParams["figure.figsize"] = FIGSIZE
    matplotlib.rcParams["figure.dpi"] = 80
    matplotlib.rcParams["axes.titlesize"] = "medium"


def series_colors(names: Sequence[str], fixed: Mapping[str, str] | None = None) -> list[str]:
    """One colour per series name (a list as long as ``names``), for one figure.

    ``fixed`` maps names to colours chosen by the caller (e.g. to keep the series of several
    figures in the same colours: compute ``dict(zip(names, series_colors(names)))`` once and pass
    it to each). Otherwise, a name that contains a policy of :data:`POLICY_COLORS` ("myopic
    (privileged)", "REINFORCE (GRU, ours)", "random", ...) gets that policy's colour, so a policy
    looks the same in every figure of the course; the first such name takes it, a second one of
    the same policy (two blends, say) is treated like any other name. The other names take the
    unused colours of :data:`PALETTE` in order (cycling if there are more than ten).
    ``names``: strings; ``fixed``: name -> a matplotlib colour (names not in ``names`` are ignored).
    """
    names = [str(n) for n in names]
    fixed = {str(k): v for k, v in (fixed or {}).items()}
    for name, color in fixed.items():
        if not matplotlib.colors.is_color_like(color):
            raise ValueError(f"colors[{name!r}] must be a matplotlib colour such as '#0173b2' or 'C1', got {color!r}")
    out: list[str | None] = [fixed.get(n) for n in names]
    hexes = [matplotlib.colors.to_hex(c) for c in out if c is not None]   # "C1", "#DE8F05": one colour
    taken: set[int] = {PALETTE.index(h) for h in hexes if h in PALETTE}
    for i, name in enumerate(names):
        if out[i] is not None:
            continue
        for pattern, idx in POLICY_COLORS:
            if re.search(pattern, name, flags=re.IGNORECASE):
                if idx not in taken:
                    out[i] = PALETTE[idx]
                    taken.add(idx)
                break
    free = [j for j in range(len(PALETTE)) if j not in taken] or list(range(len(PALETTE)))
    rest = (i for i, c in enumerate(out) if c is None)
    for n, i in enumerate(rest):
        out[i] = PALETTE[free[n % len(free)]]
    return out  # type: ignore[return-value]


def policy_color(name: str) -> str:
    """The colour of a recurring policy (see :data:`POLICY_COLORS`), e.g. ``policy_color("blend")``;
    ``ValueError`` for a name that contains none of them."""
    for pattern, idx in POLICY_COLORS:
        if re.search(pattern, str(name), flags=re.IGNORECASE):
            return PALETTE[idx]
    raise ValueError(f"name must contain one of the course's recurring policies "
                     f"{[p for p, _ in POLICY_COLORS]}, got {name!r}")


def _integer_ticks(axis) -> None:
    """Integer ticks (steps, epochs, categories: no 0.25), only as many as the axis has room for."""
    axis.set_major_locator(MaxNLocator(nbins="auto", integer=True))


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=FIGSIZE)
    return ax


def _is_blank(label) -> bool:
    return not isinstance(label, str) or not label.strip()


def _require_labels(xlabel: str, ylabel: str) -> None:
    """Raise ``ValueError`` unless both labels are non-blank strings (whitespace does not count)."""
    if _is_blank(xlabel) or _is_blank(ylabel):
        raise ValueError(
            f"xlabel and ylabel are required non-blank strings (every axis carries a label and unit), "
            f"got xlabel={xlabel!r}, ylabel={ylabel!r}"
        )


def _shape_text(spec: tuple) -> str:
    if not spec:
        return "() (a single number)"
    return "(" + ", ".join(map(str, spec)) + ("," if len(spec) == 1 else "") + ")"


def _array(values, name: str, *shapes: tuple, hint: str = "") -> np.ndarray:
    """``values`` as a float array; ``ValueError`` naming ``name`` unless it is numeric, non-empty,
    has one of ``shapes`` (if given) and is all finite (no NaN or inf).

    A shape is a tuple whose entries are exact sizes (int) or symbols (str, e.g. ``"T"``: any
    size >= 1); ``()`` means a single number. ``hint`` is added to the shape message.
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        arr = check_finite_array(name, values)   # raises its named error

    def fits(spec):
        return len(spec) == arr.ndim and all(
            n >= 1 if isinstance(want, str) else n == want for want, n in zip(spec, arr.shape))

    if shapes and not any(fits(spec) for spec in shapes):
        want = " or ".join(_shape_text(spec) for spec in shapes)
        raise ValueError(f"{name} must have shape {want}{f' ({hint})' if hint else ''}, got {arr.shape}")
    return check_finite_array(name, values)   # real, non-empty, finite: the package's one rule


def _check_mapping(mapping, name: str, required: Sequence[str] = ()) -> None:
    """``ValueError`` naming ``name`` if ``mapping`` is empty or lacks one of the ``required`` keys."""
    if len(mapping) == 0:
        raise ValueError(f"{name} must map at least one name to its data, got an empty mapping")
    missing = [key for key in required if key not in mapping]
    if missing:
        raise ValueError(f"{name} is missing the required key(s) {missing}; it needs {list(required)}")


#: A legend with at least this many entries goes outside the axes (inside, ``loc="best"`` had to
#: cover some of the data).
LEGEND_OUTSIDE_FROM = 4


def _legend(ax, handles=None, outside: bool = False):
    """A small legend for ``ax``; returns it. Up to ``LEGEND_OUTSIDE_FROM - 1`` entries: inside,
    where it covers the least data. More: outside the axes, to the right of a figure's only axes,
    or in two columns under the x label when the figure has several panels (so that it does not
    cover a neighbour). ``outside``: always outside, whatever the number of entries."""
    kw = {"fontsize": "small"} if handles is None else {"fontsize": "small", "handles": handles}
    n = len(handles) if handles is not None else len(ax.get_legend_handles_labels()[1])
    if n < LEGEND_OUTSIDE_FROM and not outside:
        return ax.legend(**kw)
    if len(ax.figure.axes) == 1:
        return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), **kw)
    # the height of the tick labels and x label, in points: it stays right when a later
    # tight_layout resizes the axes (a fraction of the axes height would not); measured without
    # an earlier legend of this axes (a second call would otherwise go one legend lower), with the
    # renderer matplotlib picks for any backend (Agg, pdf, svg)
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    tight = ax.get_tightbbox()
    points = (ax.bbox.y0 - tight.y0) * 72.0 / ax.figure.dpi + 4.0
    anchor = offset_copy(ax.transAxes, fig=ax.figure, y=-points, units="points")
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=anchor, ncol=2, **kw)


def _finish(ax, xlabel: str, ylabel: str, title: str | None):
    """Axis labels, optional title and a small legend (:func:`_legend`); returns ``ax``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    _legend(ax)
    return ax


_LOG_AXIS = "(a log axis shows only positive values)"
#: Line styles of reference lines, in order: several references stay apart in the legend.
_REFERENCE_STYLES = ("--", ":", "-.", (0, (5, 2, 1, 2, 1, 2)))


def plot_learning_curves(
    curves: Mapping[str, np.ndarray],
    *,
    xlabel: str,
    ylabel: str,
    x: np.ndarray | None = None,
    title: str | None = None,
    level: float = 0.95,
    references: Mapping[str, float] | None = None,
    ax=None,
    logy: bool = False,
    colors: Mapping[str, str] | None = None,
):
    """Mean curve with a confidence band for each entry of ``curves``.

    Args:
        curves: non-empty name -> finite array of shape (n_runs, T) (one row per seed) or (T,);
            curves may differ in T when ``x`` is None.
        x: shared finite x values of shape (T,) (every curve then has T points); defaults to 1..T.
        level: confidence level of the bands, in (0, 1).
        references: name -> finite constant drawn as a horizontal line (dashed, dotted,
            dash-dotted, ... in order, so that the legend tells them apart).
        logy: log-scale y axis. Every curve value and reference must then be > 0, and the band is
            the delta-method CI of log(mean), ``mean · exp(±h / mean)`` with ``h`` the half-width
            of the linear CI, so its lower edge stays positive (the mean line is unchanged).
        colors: optional curve name -> colour, to keep series in the same colours across
            figures; other curves as :func:`series_colors`.
    Raises:
        ValueError: naming the argument, for an empty ``curves``, a wrong shape, NaN or inf,
            ``level`` outside (0, 1), or (with ``logy``) a curve value or reference <= 0.
    """
    _require_labels(xlabel, ylabel)
    _check_mapping(curves, "curves")
    check_real("level", level, 0.0, 1.0, lo_open=True, hi_open=True)
    n_x = None if x is None else _array(x, "x", ("T",)).shape[0]
    arrays = {}
    for name, values in curves.items():
        arr = _array(values, f"curves[{name!r}]", ("T",), ("n_runs", "T"))
        if logy and np.any(arr <= 0):
            idx = tuple(np.argwhere(arr <= 0)[0])   # the first value <= 0, in C order
            where = ", ".join(str(int(i)) for i in idx)
            raise ValueError(f"curves[{name!r}] entries must be finite numbers > 0 with logy=True {_LOG_AXIS}, "
                             f"got curves[{name!r}][{where}] = {float(arr[idx])!r}")
        arrays[name] = arr[None, :] if arr.ndim == 1 else arr
        if n_x is not None and arr.shape[-1] != n_x:
            raise ValueError(f"x has length {n_x} but curves[{name!r}] has {arr.shape[-1]} points; "
                             f"x must have shape (T,) with T the number of points of every curve")
    for name, value in (references or {}).items():
        ref = _array(value, f"references[{name!r}]", ())
        if logy and ref <= 0:
            raise ValueError(f"references[{name!r}] must be a finite number > 0 with logy=True {_LOG_AXIS}, "
                             f"got {float(ref)!r}")
    ax = _axes(ax)
    for (name, arr), color in zip(arrays.items(), series_colors(list(arrays), colors)):
        xs = np.arange(1, arr.shape[1] + 1) if x is None else np.asarray(x)
        mean, low, high = mean_ci_over_axis(arr, axis=0, level=level)
        if logy:   # delta-method CI of log(mean): positive, and ≈ the linear band when h << mean
            low, high = mean * np.exp((low - mean) / mean), mean * np.exp((high - mean) / mean)
        (line,) = ax.plot(xs, mean, label=name, color=color)
        if arr.shape[0] > 1:
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, linestyle=_REFERENCE_STYLES[i % len(_REFERENCE_STYLES)], linewidth=1.2,
                   label=name, color="0.3")
    if x is None or np.all(np.asarray(x) == np.round(np.asarray(x))):
        _integer_ticks(ax.xaxis)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    _legend(ax)
    return ax


def plot_heatmap(
    matrix: np.ndarray,
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    fmt: str = ".2f",
    cmap: str = "viridis",
    ax=None,
    cbar_label: str | None = None,
    cbar: bool = True,
):
    """Annotated heatmap, e.g. a policy pi(a|s) (states x actions) or a value table.

    Args:
        matrix: (len(row_labels), len(col_labels)) finite values (NaN or inf raise ``ValueError``).
        cbar_label: label of the colour bar with its unit, e.g. ``"discounted minutes"``;
            required (non-blank) when ``cbar`` is true, ignored otherwise.
        cbar: draw the colour bar (default); ``False`` leaves the annotations as the only scale.
    """
    _require_labels(xlabel, ylabel)
    if cbar and _is_blank(cbar_label):
        raise ValueError(
            f"cbar_label is required (a non-blank label with units) when a colour bar is drawn, "
            f"got {cbar_label!r}; pass cbar=False to draw no colour bar"
        )
    m = _array(matrix, "matrix", (len(row_labels), len(col_labels)),
               hint="one row per row label, one column per column label")
    ax = _axes(ax)
    sns.heatmap(
        m, annot=True, fmt=fmt, cmap=cmap, ax=ax, xticklabels=list(col_labels),
        yticklabels=list(row_labels), cbar=cbar, cbar_kws={"label": cbar_label} if cbar else None,
    )
    ax.tick_params(axis="y", labelrotation=0)   # row labels read horizontally
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def plot_bars_with_ci(
    names: Sequence[str],
    means: Sequence[float],
    lows: Sequence[float],
    highs: Sequence[float],
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    ax=None,
    horizontal: bool = False,
    references: Mapping[str, float] | None = None,
    value_range: tuple[float, float] | None = None,
    colors: Mapping[str, str] | None = None,
):
    """Bar chart of means with asymmetric CI error bars (e.g. returns per policy).

    ``names``: distinct bar labels (at least one); ``means``, ``lows``, ``highs``: finite
    (len(names),) arrays with lows <= means <= highs (to a relative 1e-9);
    ``references``: name -> finite value drawn as a dashed (then dotted, ...) line across the
    bars (legend to the right); ``horizontal``: bars top to bottom in the order of ``names``; ``value_range``: finite (low, high) limits of the value axis, low < high, to zoom in
    on close means (the axis label carries the numbers, so the bars no longer start at 0);
    ``colors``: optional bar name -> colour (e.g. one colour for variants of one policy); other
    bars as :func:`series_colors`. Any other input raises ``ValueError`` naming the argument.
    """
    _require_labels(xlabel, ylabel)
    n = len(names)
    if n == 0:
        raise ValueError("names must name at least one bar, got an empty sequence")
    if len(set(names)) != n:
        raise ValueError(f"names must be distinct (one bar per name), got {list(names)!r}")
    means = _array(means, "means", (n,), hint="one per name")
    lows = _array(lows, "lows", (n,), hint="one per name")
    highs = _array(highs, "highs", (n,), hint="one per name")
    tol = 1e-9 * np.maximum(1.0, np.abs(means))
    for arg, bad in (("lows", lows > means + tol), ("highs", highs < means - tol)):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{arg} must satisfy lows <= means <= highs, but for {list(names)[i]!r} "
                             f"low={lows[i]:.6g}, mean={means[i]:.6g}, high={highs[i]:.6g}")
    err = np.maximum(np.vstack([means - lows, highs - means]), 0.0)  # clips only the 1e-9 slack
    if value_range is not None:
        vr = _array(value_range, "value_range", (2,), hint="(low, high)")
        if not vr[0] < vr[1]:
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
    for name, value in (references or {}).items():
        _array(value, f"references[{name!r}]", ())
    ax = _axes(ax)
    colors = series_colors(list(names), colors)
    if horizontal:
        ax.barh(list(names), means, xerr=err, color=colors, capsize=3)
        if not ax.yaxis_inverted():   # first name on top, in the order of the printed tables
            ax.invert_yaxis()
    else:
        ax.bar(list(names), means, yerr=err, color=colors, capsize=3)
        ax.tick_params(axis="x", labelrotation=20)
    line = ax.axvline if horizontal else ax.axhline
    for i, (name, value) in enumerate((references or {}).items()):
        line(value, linestyle=_REFERENCE_STYLES[i % len(_REFERENCE_STYLES)], linewidth=1.2, color="0.25",
             label=name)
    if references:  # outside the axes: the bars fill the plot area
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if value_range is not None:
        (ax.set_xlim if horizontal else ax.set_ylim)(*value_range)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


# --- notebook 07: off-policy learning and evaluation ---


def plot_policy_distributions(
    policies: Mapping[str, np.ndarray],
    *,
    xlabel: str,
    ylabel: str,
    item_labels: Sequence[str] | None = None,
    title: str | None = None,
    ax=None,
):
    """Grouped bars: one group per item, one bar per policy.

    ``policies``: non-empty name -> (A,) probabilities in [0, 1], the same A for every policy;
    ``item_labels``: A tick labels (default 1..A). Other input raises ``ValueError`` naming it.
    """
    _require_labels(xlabel, ylabel)
    _check_mapping(policies, "policies")
    names = list(policies)
    n_items = _array(policies[names[0]], f"policies[{names[0]!r}]", ("A",)).shape[0]
    mats = [_array(policies[n], f"policies[{n!r}]", (n_items,),
                   hint="every policy must be a 1-D array of the same length") for n in names]
    for n, m in zip(names, mats):
        if m.min() < 0.0 or m.max() > 1.0:
            raise ValueError(f"policies[{n!r}] must hold probabilities in [0, 1], "
                             f"got values in [{m.min():.6g}, {m.max():.6g}]")
    if item_labels is not None and len(item_labels) != n_items:
        raise ValueError(f"item_labels must have one label per item ({n_items}), got {len(item_labels)}")
    labels = list(item_labels) if item_labels is not None else [str(i + 1) for i in range(n_items)]
    ax = _axes(ax)
    width = 0.8 / len(names)
    xs = np.arange(n_items)
    for j, (name, m, color) in enumerate(zip(names, mats, series_colors(names))):
        ax.bar(xs + (j - (len(names) - 1) / 2) * width, m, width=width, label=name, color=color)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels)
    return _finish(ax, xlabel, ylabel, title)


def plot_estimates_vs_truth(
    names: Sequence[str],
    cis: Sequence,
    truth: float,
    *,
    xlabel: str,
    ylabel: str,
    truth_label: str = "ground truth",
    title: str | None = None,
    ax=None,
):
    """Point estimates with CI bars and a dashed truth line.

    ``cis``: one object with ``mean``, ``low``, ``high`` per name (e.g. ``stats.MeanCI``; checked
    like :func:`plot_bars_with_ci`); ``truth``: a finite number. Otherwise ``ValueError``.
    """
    if len(cis) != len(names):
        raise ValueError(f"cis must have one interval per name ({len(names)}), got {len(cis)}")
    for i, c in enumerate(cis):
        if not all(hasattr(c, attr) for attr in ("mean", "low", "high")):
            raise ValueError(f"cis[{i}] must have mean, low and high attributes (e.g. a stats.MeanCI), "
                             f"got {type(c).__name__}")
        _array([c.mean, c.low, c.high], f"cis[{i}] (mean, low, high)", (3,))
    _array(truth, "truth", ())
    ax = plot_bars_with_ci(names, [c.mean for c in cis], [c.low for c in cis],
                           [c.high for c in cis], xlabel=xlabel, ylabel=ylabel, title=title, ax=ax)
    ax.axhline(truth, linestyle="--", color="0.3", linewidth=1.2, label=truth_label)
    _legend(ax, outside=True)   # inside, it covered error bars
    return ax


# --- notebook 03: policy gradient worked example ---


def plot_ascent_history(
    history: Mapping[str, np.ndarray],
    *,
    title: str | None = None,
    state_labels: Sequence[str] | None = None,
    action_labels: Sequence[str] | None = None,
):
    """Two panels for one gradient-ascent run: J(θ_k) over iterations, and the final π(a|s).

    Args:
        history: the dict returned by ``policy_gradient.gradient_ascent`` (keys ``J``: finite
            (n_iters + 1,) values in [0, 1], the range the J axis shows; ``policy``:
            (n_iters + 1, n_states, n_actions) tables whose every row π(·|s) is a distribution,
            checked by ``_validate.check_distribution``: entries >= 0, summing to 1 within 1e-6).
        state_labels, action_labels: n_states and n_actions labels (default s1.., e1..).
    Returns:
        The two ``Axes`` (left: J curve, right: final policy heatmap).
    Raises:
        ValueError: naming the missing key or the bad argument.
    """
    _check_mapping(history, "history", ("J", "policy"))
    js = _array(history["J"], "history['J']", ("n_iters + 1",))
    if js.min() < -1e-9 or js.max() > 1.0 + 1e-9:
        raise ValueError(f"history['J'] must lie in [0, 1] (the J axis shows [-0.02, 1.02]), "
                         f"got values in [{js.min():.6g}, {js.max():.6g}]")
    policies = _array(history["policy"], "history['policy']", (js.size, "n_states", "n_actions"),
                      hint="one (n_states, n_actions) table per entry of history['J']")
    policy = check_distribution("history['policy']", policies, axis=2)[-1]
    n_states, n_actions = policy.shape
    for arg, labels, size in (("state_labels", state_labels, n_states), ("action_labels", action_labels, n_actions)):
        if labels is not None and len(labels) != size:
            raise ValueError(f"{arg} must have {size} labels (one per {arg[:-7]}), got {len(labels)}")
    rows = list(state_labels) if state_labels is not None else [f"s{i + 1}" for i in range(n_states)]
    cols = list(action_labels) if action_labels is not None else [f"e{j + 1}" for j in range(n_actions)]
    fig, (ax_j, ax_pi) = plt.subplots(1, 2, figsize=(FIGSIZE[0] * 1.6, FIGSIZE[1]))
    ax_j.plot(np.arange(js.size), js)
    ax_j.set_xlabel("iteration k")
    ax_j.set_ylabel("J(θ_k) (expected reward per step)")
    ax_j.set_ylim(-0.02, 1.02)
    plot_heatmap(policy, row_labels=rows, col_labels=cols, xlabel="action a", ylabel="state s",
                 title=f"final π(a|s), J = {js[-1]:.4f}", ax=ax_pi, cbar_label="probability")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return ax_j, ax_pi


# --- notebook 06: REINFORCE recommender ---


def plot_distributions(
    samples: Mapping[str, np.ndarray],
    *,
    xlabel: str,
    ylabel: str = "share of sessions",
    bins: int = 30,
    title: str | None = None,
    ax=None,
):
    """Overlaid step histograms (normalised to shares) of 1-D samples, e.g. session lengths.

    ``samples``: non-empty name -> non-empty finite array (flattened); ``bins``: an integer >= 1.
    Other input raises ``ValueError`` naming the argument.
    """
    _require_labels(xlabel, ylabel)
    _check_mapping(samples, "samples")
    check_int("bins", bins, 1)
    arrays = {k: _array(v, f"samples[{k!r}]").ravel() for k, v in samples.items()}
    lo = min(a.min() for a in arrays.values())
    hi = max(a.max() for a in arrays.values())
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    ax = _axes(ax)
    for (name, a), color in zip(arrays.items(), series_colors(list(arrays))):
        ax.hist(a, bins=edges, weights=np.full(a.size, 1.0 / a.size), histtype="step",
                linewidth=1.6, label=name, color=color)
    return _finish(ax, xlabel, ylabel, title)


def plot_category_shares(
    shares: Mapping[str, np.ndarray],
    *,
    xlabel: str,
    ylabel: str = "share of shown documents",
    title: str | None = None,
    ax=None,
):
    """One line with markers per policy: the share of each category (e.g. topic cluster) in
    what it showed. ``shares`` maps names (at least one) to finite (C,) arrays of shares in
    [0, 1] (each summing to 1 within :data:`rlrec_helpers._validate.SUM_TOL`, the same C for
    all); other input raises ``ValueError``."""
    _require_labels(xlabel, ylabel)
    _check_mapping(shares, "shares")
    n_cats = _array(next(iter(shares.values())), f"shares[{next(iter(shares))!r}]", ("C",)).shape[0]
    arrays = {k: _array(v, f"shares[{k!r}]", (n_cats,), hint="shares must all be 1-D arrays of the same length")
              for k, v in shares.items()}
    for name, a in arrays.items():
        check_distribution(f"shares[{name!r}]", a)
    ax = _axes(ax)
    for (name, a), color in zip(arrays.items(), series_colors(list(arrays))):
        ax.plot(np.arange(a.size), a, marker="o", label=name, color=color)
    _integer_ticks(ax.xaxis)
    return _finish(ax, xlabel, ylabel, title)


def plot_preference_tracking(
    implied: np.ndarray,
    interests: np.ndarray,
    clusters: Sequence[int],
    *,
    xlabel: str = "session step",
    title: str | None = None,
):
    """Two panels over one session: the encoder's implied preference per cluster (left) and
    the user's true (privileged) interest in the same clusters (right).

    Args:
        implied: finite (L, T) implied per-cluster logits; interests: finite (L, T) true
            interests in [-1, 1] (the range is not checked).
        clusters: which clusters to draw (one line each, same colour in both panels): distinct
            integers in [0, T - 1], at least one.
        xlabel: x-axis label of both panels (a non-blank string).
    Returns:
        The two axes.
    Raises:
        ValueError: naming the bad argument (shape, NaN or inf, cluster out of range, blank xlabel).
    """
    if _is_blank(xlabel):
        raise ValueError(f"xlabel must be a non-blank string (every axis carries a label and unit), got {xlabel!r}")
    implied = _array(implied, "implied", ("L", "T"))
    interests = _array(interests, "interests", implied.shape, hint="implied and interests must both be (L, T)")
    n_clusters = implied.shape[1]
    clusters = list(clusters)
    if not clusters:
        raise ValueError("clusters must name at least one cluster")
    for i, c in enumerate(clusters):
        check_int(f"clusters[{i}]", c, 0, n_clusters - 1, hi_name="T - 1")  # a column of the (L, T) arrays
    if len(set(int(c) for c in clusters)) != len(clusters):
        raise ValueError(f"clusters must be distinct, got {clusters!r}")
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(FIGSIZE[0] * 1.6, FIGSIZE[1]))
    steps = np.arange(implied.shape[0])
    for c in clusters:
        (line,) = ax_a.plot(steps, implied[:, c] - implied[0, c], label=f"cluster {c}")
        ax_b.plot(steps, interests[:, c], color=line.get_color(), label=f"cluster {c}")
    ax_a.set_xlabel(xlabel)
    ax_a.set_ylabel("implied preference change (logit)")
    ax_a.set_title("what the encoder inferred")
    ax_b.set_xlabel(xlabel)
    ax_b.set_ylabel("true interest (privileged)")
    ax_b.set_title("the user's hidden interests")
    _legend(ax_b)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return ax_a, ax_b


# --- notebook 02: bandits ---


def plot_regret_curves(
    curves: Mapping[str, np.ndarray],
    *,
    reference_curves: Mapping[str, np.ndarray] | None = None,
    xlabel: str = "step t (recommendations)",
    ylabel: str = "cumulative pseudo-regret (clicks)",
    title: str | None = None,
    ax=None,
    n_points: int = 400,
    colors: Mapping[str, str] | None = None,
):
    """Cumulative regret per policy (mean and 95% band over runs) plus dashed reference curves.

    Args:
        curves: non-empty name -> finite (n_runs, T) (or (T,)) cumulative regret, one row per
            seed, the same T for every curve (all T steps are checked, not only those drawn).
        reference_curves: name -> finite (T,) curve drawn dashed (e.g. the Lai–Robbins C·ln t).
        n_points: an integer >= 1; at most this many evenly spaced steps are drawn (keeps
            figures light).
        colors: optional policy name -> colour (see :func:`plot_learning_curves`).
    Raises:
        ValueError: naming the bad argument.
    """
    _require_labels(xlabel, ylabel)
    _check_mapping(curves, "curves")
    check_int("n_points", n_points, 1)
    first = next(iter(curves))
    T = _array(curves[first], f"curves[{first!r}]", ("T",), ("n_runs", "T")).shape[-1]
    arrays = {k: _array(v, f"curves[{k!r}]", (T,), ("n_runs", T), hint="every curve has the same T")
              for k, v in curves.items()}
    refs = {name: _array(ref, f"reference_curves[{name!r}]", (T,), hint="a reference curve has one value per step")
            for name, ref in (reference_curves or {}).items()}
    idx = np.unique(np.linspace(0, T - 1, min(n_points, T)).astype(int))
    ax = plot_learning_curves({k: v[..., idx] for k, v in arrays.items()},
                              x=idx + 1, xlabel=xlabel, ylabel=ylabel, title=title, ax=ax, colors=colors)
    for i, (name, ref) in enumerate(refs.items()):
        ax.plot(idx + 1, ref[idx], linestyle=_REFERENCE_STYLES[i % len(_REFERENCE_STYLES)], color="0.3",
                linewidth=1.2, label=name)
    _legend(ax)
    return ax


# --- notebook 05: user simulator ---


def plot_policy_comparison(results, *, title: str | None = None, axes=None,
                           reward_unit: str = "minutes watched"):
    """Two panels side by side: mean session return (``reward_unit``) and session length
    (steps), each with 95% CI error bars, one bar per policy (the panel titles say so, with the
    number of sessions).

    Args:
        results: name (at least one) -> an evaluation result with finite ``returns`` and
            ``session_lengths`` (n_episodes,) arrays, n_episodes >= 2 (e.g.
            ``rlrec_helpers.simulator.EvalResult``).
        reward_unit: unit of the returns, e.g. ``"price units"`` for the e-commerce preset
            (left y-axis label ``"session return (<reward_unit>)"``; non-blank).
    Returns the two axes. Bad input raises ``ValueError`` naming the argument.
    """
    from rlrec_helpers.stats import mean_ci

    if not results:
        raise ValueError("results must name at least one policy")
    if _is_blank(reward_unit):
        raise ValueError(f"reward_unit must be a non-blank string such as 'minutes watched', got {reward_unit!r}")
    for n, r in results.items():
        if not (hasattr(r, "returns") and hasattr(r, "session_lengths")):
            raise ValueError(f"results[{n!r}] must have returns and session_lengths arrays "
                             f"(e.g. a simulator.EvalResult), got {type(r).__name__}")
        n_episodes = _array(r.returns, f"results[{n!r}].returns", ("n_episodes",)).shape[0]
        if n_episodes < 2:
            raise ValueError(f"results[{n!r}].returns must hold at least 2 episodes (a 95% CI needs 2 values), "
                             f"got {n_episodes}")
        _array(r.session_lengths, f"results[{n!r}].session_lengths", (n_episodes,), hint="one per episode")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(FIGSIZE[0] * 1.6, FIGSIZE[1]))
    names = list(results)
    sizes = sorted({len(results[n].returns) for n in names})
    over = f"{sizes[0]:,} sessions" if len(sizes) == 1 else f"{sizes[0]:,}–{sizes[-1]:,} sessions"
    for ax, attr, ylabel, what in ((axes[0], "returns", f"session return ({reward_unit})", "return"),
                                   (axes[1], "session_lengths", "session length (steps)", "session length")):
        cis = [mean_ci(getattr(results[n], attr)) for n in names]
        plot_bars_with_ci(names, [c.mean for c in cis], [c.low for c in cis], [c.high for c in cis],
                          xlabel="policy", ylabel=ylabel, ax=ax,
                          title=f"mean {what}, 95% CI over {over}")
    if title:
        axes[0].figure.suptitle(title)
    axes[0].figure.tight_layout()
    return axes


# --- notebook 10: large-model fine-tuning ---


_KL_LINEAR_BELOW = 1e-3   # nats per step: plot_finetune_run's KL axis is logarithmic above it


def plot_finetune_run(history: Mapping[str, np.ndarray], *, pretrained_return: float,
                      kl_budget: float | None = None, title: str | None = None):
    """Two panels for one fine-tuning run: sampled return and KL(π ‖ π_pre) per iteration (on a
    symmetric-log axis, linear below 0.001 nats, so a KL far below the budget stays visible).

    Args:
        history: a ``transformer.finetune`` history (required keys ``return``, ``kl``: finite,
            of the same shape (n_iters,)).
        pretrained_return: the pretrained model's greedy return (finite; dashed reference, minutes).
        kl_budget: optional finite KL budget (dashed reference, nats per step).
    Returns:
        The two axes.
    Raises:
        ValueError: naming the missing key or the bad argument.
    """
    _check_mapping(history, "history", ("return", "kl"))
    n_iters = _array(history["return"], "history['return']", ("n_iters",)).shape[0]
    _array(history["kl"], "history['kl']", (n_iters,), hint="one value per iteration, like history['return']")
    _array(pretrained_return, "pretrained_return", ())
    if kl_budget is not None:
        _array(kl_budget, "kl_budget", ())
    fig, (ax_r, ax_k) = plt.subplots(1, 2, figsize=(FIGSIZE[0] * 1.6, FIGSIZE[1]))
    plot_learning_curves({"sampled training sessions": history["return"]}, xlabel="fine-tuning iteration",
                         ylabel="session return (minutes watched)",
                         references={"pretrained (greedy)": pretrained_return}, ax=ax_r, title="return")
    plot_learning_curves({"KL(π ‖ π_pre)": history["kl"]}, xlabel="fine-tuning iteration",
                         ylabel="KL(π ‖ π_pre) (nats per step)",
                         references={"KL budget": kl_budget} if kl_budget is not None else None,
                         ax=ax_k, title=f"distance from the pretrained model (log axis above {_KL_LINEAR_BELOW:g})")
    # symmetric log: the first KL is 0 (measured before the first update), and a run that stays
    # at 0.007 nats would otherwise lie flat under a budget of 0.25
    ax_k.set_yscale("symlog", linthresh=_KL_LINEAR_BELOW)
    ax_k.set_ylim(bottom=0.0)   # a KL is never negative (symlog's margin would show down to -0.01)
    for ax in (ax_r, ax_k):   # under the panels: a return curve fills its panel, and loc="best" covered a dip
        _legend(ax, outside=True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return ax_r, ax_k


# --- notebook 08: application domains ---


def plot_session_story(story, *, reward_unit: str, title: str | None = None, policy: str | None = None):
    """Two panels over one user's session (a :func:`simulator.session_story` DataFrame): the
    cumulative reward with the steps that got a response marked (left), and the hidden-state
    columns after ``return`` (right). One or two hidden columns are drawn in their own units (the
    second on a twin axis at the right), so two stories of the same model can be compared
    value for value; with three or more, each is scaled to its own maximum to share one axis.

    Args:
        story: non-empty DataFrame with ``step``, ``choice``, ``return`` and the hidden-state
            columns (``step``, ``return`` and the hidden state finite numbers).
            At least one hidden-state column is required (the right panel draws them).
        reward_unit: unit of the reward, e.g. ``"price units"`` (y-axis label; non-blank).
        policy: the policy that made the story, to draw its return in that policy's colour
            (:func:`policy_color`, e.g. ``"myopic"``); None or another name: the first palette colour.
    Returns:
        The two axes.
    Raises:
        ValueError: naming the missing column, the non-finite one, a blank ``reward_unit`` or a
            story without hidden-state columns.
    """
    need = {"step", "choice", "return"}
    if not need <= set(story.columns) or len(story) == 0:
        raise ValueError(f"story must be a non-empty DataFrame with columns {sorted(need)}")
    if _is_blank(reward_unit):
        raise ValueError(f"reward_unit must be a non-blank string such as 'price units', got {reward_unit!r}")
    hidden = list(story.columns[list(story.columns).index("return") + 1:])
    if not hidden:
        raise ValueError(f"story must have at least one hidden-state column after 'return' (the right panel "
                         f"draws them), got columns {list(story.columns)}")
    for col in ["step", "return", *hidden]:
        _array(story[col], f"story[{col!r}]")
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(FIGSIZE[0] * 1.6, FIGSIZE[1]))
    steps = story["step"].to_numpy()
    color = series_colors([policy if policy is not None else ""])[0]   # not a known policy: PALETTE[0]
    ax_a.plot(steps, story["return"].to_numpy(), color=color)
    hit = (story["choice"] != "-").to_numpy()
    ax_a.scatter(steps[hit], story["return"].to_numpy()[hit], s=14, color=color, label="response (click / purchase)")
    ax_a.set_xlabel("session step")
    ax_a.set_ylabel(f"cumulative reward ({reward_unit})")
    ax_a.set_title(f"{len(story)} steps, return {story['return'].iloc[-1]:.2f}")
    ax_a.legend(fontsize="small")
    ax_b.set_xlabel("session step")
    ax_b.set_title("the user's hidden state (privileged)")
    if len(hidden) <= 2:   # own units: comparable across stories
        handles = []
        for i, (col, axis) in enumerate(zip(hidden, (ax_b, ax_b.twinx()) if len(hidden) == 2 else (ax_b,))):
            handles += axis.plot(steps, story[col].to_numpy(dtype=float), color=f"C{i + 1}", label=col)
            axis.set_ylabel(col, color=f"C{i + 1}")
            if i:
                axis.grid(False)
        _legend(ax_b, handles, outside=True)   # under the panel: inside, it covered the end of a line
    else:
        for i, col in enumerate(hidden):
            v = story[col].to_numpy(dtype=float)
            scale = np.max(np.abs(v)) or 1.0
            ax_b.plot(steps, v / scale, color=f"C{i + 1}", label=f"{col} (max {scale:.3g})")
        ax_b.set_ylabel("hidden state / its maximum")
        _legend(ax_b)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return ax_a, ax_b


# --- notebook 09: frontiers ---


def plot_step_attributions(explanations: Mapping[str, "object"], *, title: str | None = None):
    """One panel per user: the integrated-gradients attribution of the top recommendation's
    score to each step of her history (``step_0`` = start token .. ``step_L``), in logit units.
    Each bar stands at its step number t (the column ``step_<t>``).

    Args:
        explanations: label (at least one) -> DataFrame of ``explain.explain_recommendation``
            (row 0 = top item; columns ``candidate``, ``topic`` and ``step_<t>`` with t an
            integer >= 0, all finite).
    Returns:
        The axes (one per user).
    Raises:
        ValueError: naming the label and the missing row, column or non-finite value.
    """
    if not explanations:
        raise ValueError("explanations must map at least one label to a DataFrame")
    for label, df in explanations.items():
        missing = [c for c in ("candidate", "topic") if c not in df.columns]
        if missing:
            raise ValueError(f"explanations[{label!r}] is missing the required column(s) {missing}")
        if 0 not in df.index:
            raise ValueError(f"explanations[{label!r}] must have a row 0 (the top recommendation)")
        steps = [c for c in df.columns if c.startswith("step_")]
        if not steps:
            raise ValueError(f"explanation {label!r} has no step_* columns")
        for c in steps:
            if not (c[5:].isascii() and c[5:].isdigit()):
                raise ValueError(f"explanations[{label!r}] column {c!r} must be 'step_<t>' with t an integer >= 0 "
                                 f"(a history step)")
        _array(df.loc[0, ["candidate", "topic", *steps]], f"explanations[{label!r}] row 0")
    fig, axes = plt.subplots(1, len(explanations), figsize=(FIGSIZE[0] * 0.6 * len(explanations) + 1, FIGSIZE[1]),
                             squeeze=False)
    for ax, (label, df) in zip(axes[0], explanations.items()):
        cols = sorted((c for c in df.columns if c.startswith("step_")), key=lambda c: int(c[5:]))
        vals = df.loc[0, cols].to_numpy(dtype=float)
        steps = np.array([int(c[5:]) for c in cols])
        ax.bar(steps, vals, color=np.where(vals >= 0, PALETTE[2], PALETTE[6]))   # green up, vermilion down
        ax.axhline(0.0, color="0.3", linewidth=0.8)
        ax.set_xlabel("history step (0 = start)")
        ax.set_ylabel("attribution to top item's score (logit)")
        ax.set_title(f"{label}: item {int(df.loc[0, 'candidate'])} (topic {int(df.loc[0, 'topic'])})")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return list(axes[0])
