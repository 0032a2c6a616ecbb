"""The course's single seaborn theme and shared plot helpers.

Only this module and ``widgets`` draw. Every helper takes an optional ``ax``, labels
both axes (with units), and returns the ``matplotlib.axes.Axes`` it drew on, so
notebooks stay one line per figure.

Sections below are grouped by the notebook that introduced them; reuse before adding.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from rlrec_helpers.stats import mean_ci_over_axis

THEME = {"style": "whitegrid", "context": "notebook", "palette": "colorblind"}
FIGSIZE = (6.4, 3.6)


def set_theme() -> None:
    """Apply the course theme (seaborn whitegrid, notebook context, colourblind palette)."""
    sns.set_theme(**THEME)
    matplotlib.rcParams["figure.figsize"] = FIGSIZE
    matplotlib.rcParams["figure.dpi"] = 80
    matplotlib.rcParams["axes.titlesize"] = "medium"


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=FIGSIZE)
    return ax


def _require_labels(xlabel: str, ylabel: str) -> None:
    if not xlabel or not ylabel:
        raise ValueError("xlabel and ylabel are required: every axis carries a label and unit")


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
):
    """Mean curve with a confidence band for each entry of ``curves``.

    Args:
        curves: name -> array of shape (n_runs, T) (one row per seed) or (T,).
        x: shared x values of shape (T,); defaults to 1..T.
        references: name -> constant drawn as a dashed horizontal line.
    """
    _require_labels(xlabel, ylabel)
    ax = _axes(ax)
    for name, values in curves.items():
        arr = np.asarray(values, dtype=float)
        if arr.ndim == 1:
            arr = arr[None, :]
        xs = np.arange(1, arr.shape[1] + 1) if x is None else np.asarray(x)
        if xs.shape[0] != arr.shape[1]:
            raise ValueError(f"x has length {xs.shape[0]} but curve {name!r} has {arr.shape[1]} points")
        mean, low, high = mean_ci_over_axis(arr, axis=0, level=level)
        (line,) = ax.plot(xs, mean, label=name)
        if arr.shape[0] > 1:
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    for name, value in (references or {}).items():
        ax.axhline(value, linestyle="--", linewidth=1, label=name, color="0.4")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
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
):
    """Annotated heatmap, e.g. a policy pi(a|s) (states x actions) or a value table."""
    _require_labels(xlabel, ylabel)
    m = np.asarray(matrix, dtype=float)
    if m.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"matrix has shape {m.shape} but labels give ({len(row_labels)}, {len(col_labels)})"
        )
    ax = _axes(ax)
    sns.heatmap(
        m, annot=True, fmt=fmt, cmap=cmap, ax=ax, xticklabels=list(col_labels),
        yticklabels=list(row_labels), cbar_kws={"label": cbar_label} if cbar_label else None,
    )
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
):
    """Bar chart of means with asymmetric CI error bars (e.g. returns per policy)."""
    _require_labels(xlabel, ylabel)
    means = np.asarray(means, dtype=float)
    err = np.vstack([means - np.asarray(lows, float), np.asarray(highs, float) - means])
    ax = _axes(ax)
    colors = sns.color_palette(n_colors=len(names))
    if horizontal:
        ax.barh(list(names), means, xerr=err, color=colors, capsize=3)
    else:
        ax.bar(list(names), means, yerr=err, color=colors, capsize=3)
        ax.tick_params(axis="x", labelrotation=20)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax
