"""Plots over parameters: parallel coordinates, slices, importances and local sensitivity."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune.analysis._axes import choices_of, is_numeric, unit_position, unit_ticks
from lightning_autotune.analysis._data import as_data
from lightning_autotune.analysis._figure import finish, new_figure
from lightning_autotune.space import Float, Int
from lightning_autotune.trial import Direction, TrialRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lightning_autotune.analysis._sensitivity import ParamImportance, SensitivityResult
    from lightning_autotune.space import SearchSpace
    from lightning_autotune.study import Study

__all__ = [
    "plot_local_sensitivity",
    "plot_parallel_coordinate",
    "plot_param_importances",
    "plot_slice",
]


def plot_parallel_coordinate(
    study: Study | Sequence[TrialRecord],
    *,
    params: Sequence[str] | None = None,
    directions: Sequence[str | Direction] | None = None,
    space: SearchSpace | None = None,
    objective: int = 0,
    path: str | Path | None = None,
) -> Figure:
    """One vertical axis per parameter plus the objective; one line per COMPLETE trial.

    Numbers sit on their own scale (log when declared), the choices of a categorical are spread
    evenly along its axis with their labels, and a parameter that was inactive in a trial leaves a
    gap in that trial's line. Lines are coloured by objective value; the best trial is drawn last.

    Args:
        study: A study, or its trial records.
        params: Parameters to show, in this order (default: all).
        directions: The directions, when `study` is a list of records (default: minimize).
        space: The search space, when `study` is a list of records (default: inferred).
        objective: Which objective colours the lines.
        path: Also write the figure to this PNG file.

    Returns:
        The matplotlib figure.

    Raises:
        ImportError: matplotlib is not installed.
        ConfigError: A name in `params` is not in the space, or `objective` is out of range.
    """
    data = as_data(study, directions, space)
    direction = data.check_objective(objective)
    names = data.param_names(params)
    done = data.complete(objective)
    fig = new_figure(max(6.0, 1.4 * (len(names) + 1)), 4.5)
    ax = fig.add_subplot()
    n_axes = len(names) + 1
    if not done:
        ax.text(0.5, 0.5, "no COMPLETE trial yet", ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return finish(fig, path)
    values = np.array([t.values[objective] for t in done])  # type: ignore[index]
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo if hi > lo else 1.0
    rows = np.full((len(done), n_axes), np.nan)
    for i, t in enumerate(done):
        for j, name in enumerate(names):
            rows[i, j] = unit_position(data.space[name], t.params.get(name))
        rows[i, -1] = (values[i] - lo) / span
    goodness = (values - lo) / span if direction.sign < 0 else (hi - values) / span
    cmap = _colormap()
    xs = np.arange(n_axes)
    for i in np.argsort(goodness):
        ax.plot(xs, rows[i], color=cmap(goodness[i]), alpha=0.75, linewidth=1.3)
    for j in range(n_axes):
        ax.axvline(j, color="0.3", linewidth=0.8)
        if j < len(names):
            positions, labels = unit_ticks(data.space[names[j]])
        else:
            positions = [0.0, 0.5, 1.0]
            labels = [f"{lo + u * span:.3g}" for u in positions]
        for pos, label in zip(positions, labels, strict=True):
            ax.text(j + 0.04, pos, label, fontsize=7, va="center", color="0.2")
    ax.set_xticks(xs, [*names, data.objective_names[objective]], rotation=20)
    ax.set_yticks([])
    ax.set_xlim(-0.2, n_axes - 0.5)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(_title("Parallel coordinates", data.name))
    _colorbar(fig, ax, lo, hi, direction, data.objective_names[objective])
    return finish(fig, path)


def plot_slice(
    study: Study | Sequence[TrialRecord],
    *,
    params: Sequence[str] | None = None,
    directions: Sequence[str | Direction] | None = None,
    space: SearchSpace | None = None,
    objective: int = 0,
    path: str | Path | None = None,
) -> Figure:
    """One panel per parameter: the objective of each COMPLETE trial against that parameter.

    Points are coloured by trial number (later trials darker); log parameters get a log axis;
    categorical choices are spread along the axis with a little jitter. Trials where the
    parameter was inactive are left out of its panel.

    Args:
        study: A study, or its trial records.
        params: Parameters to show (default: all).
        directions: The directions, when `study` is a list of records (default: minimize).
        space: The search space, when `study` is a list of records (default: inferred).
        objective: Which objective to draw.
        path: Also write the figure to this PNG file.

    Returns:
        The matplotlib figure.

    Raises:
        ImportError: matplotlib is not installed.
        ConfigError: A name in `params` is not in the space, or `objective` is out of range.
    """
    data = as_data(study, directions, space)
    data.check_objective(objective)
    names = data.param_names(params)
    done = data.complete(objective)
    cols = min(3, len(names))
    n_rows = math.ceil(len(names) / cols)
    fig = new_figure(3.2 * cols + 0.8, 2.8 * n_rows + 0.4)
    axes = fig.subplots(n_rows, cols, squeeze=False)
    rng = np.random.default_rng(0)
    last = max((t.number for t in done), default=1) or 1
    for k, name in enumerate(names):
        ax = axes[k // cols][k % cols]
        p = data.space[name]
        used = [t for t in done if t.params.get(name) is not None]
        ys = [t.values[objective] for t in used]  # type: ignore[index]
        shade = [t.number / last for t in used]
        if is_numeric(p):
            xs: list[Any] = [t.params[name] for t in used]
            if isinstance(p, (Float, Int)) and p.log:
                _log_x(ax, p.low, p.high)
        else:
            choices = choices_of(p)
            xs = [_index(choices, t.params[name]) + rng.uniform(-0.15, 0.15) for t in used]
            ax.set_xticks(range(len(choices)), [str(c) for c in choices], fontsize=8)
        ax.scatter(xs, ys, c=shade, cmap="Blues", vmin=-0.3, vmax=1.0, s=18, edgecolors="0.3")
        ax.set_xlabel(name)
        if k % cols == 0:
            ax.set_ylabel(data.objective_label(objective))
        ax.grid(alpha=0.3)
    for k in range(len(names), n_rows * cols):
        axes[k // cols][k % cols].set_axis_off()
    fig.suptitle(_title("Slice plot", data.name))
    return finish(fig, path)


def plot_param_importances(
    importances: Study | Sequence[ParamImportance],
    *,
    path: str | Path | None = None,
    **kwargs: Any,
) -> Figure:
    """Horizontal bars of each parameter's share of the objective's variance (largest on top).

    Args:
        importances: Results of `param_importances`, or a study (they are computed then, with
            `kwargs` passed to `param_importances`).
        path: Also write the figure to this PNG file.
        **kwargs: Options of `param_importances` when a study is given.

    Returns:
        The matplotlib figure.

    Raises:
        ImportError: matplotlib is not installed.
    """
    from lightning_autotune.analysis._sensitivity import param_importances

    items = (
        list(importances)
        if isinstance(importances, (list, tuple))
        else list(param_importances(importances, **kwargs))  # type: ignore[arg-type]
    )
    items.sort(key=lambda p: p.importance)
    fig = new_figure(6.5, max(2.5, 0.45 * len(items) + 1.2))
    ax = fig.add_subplot()
    bars = ax.barh([p.name for p in items], [p.importance for p in items], color="tab:blue")
    for bar, p in zip(bars, items, strict=True):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {p.importance:.3f}",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(0, max(1.0, max((p.importance for p in items), default=0.0) * 1.15))
    ax.set_xlabel("importance (normalized total Sobol index on the GP mean)")
    ax.set_title("Parameter importance")
    ax.grid(axis="x", alpha=0.3)
    return finish(fig, path)


def plot_local_sensitivity(result: SensitivityResult, *, path: str | Path | None = None) -> Figure:
    """One panel per parameter: predicted change of the objective when only it moves.

    The line is the GP's mean change from the base configuration; the band is two posterior
    standard deviations of that change; the dashed line marks the base value.

    Args:
        result: The output of `sensitivity_analysis`.
        path: Also write the figure to this PNG file.

    Returns:
        The matplotlib figure.

    Raises:
        ImportError: matplotlib is not installed.
    """
    curves = result.local
    cols = min(3, max(1, len(curves)))
    n_rows = max(1, math.ceil(len(curves) / cols))
    fig = new_figure(3.2 * cols + 0.8, 2.8 * n_rows + 0.4)
    axes = fig.subplots(n_rows, cols, squeeze=False)
    for k, c in enumerate(curves):
        ax = axes[k // cols][k % cols]
        mean, lower, upper = (np.asarray(a, dtype=float) for a in (c.change, c.lower, c.upper))
        if c.categorical:
            xs = np.arange(len(c.values))
            ax.bar(xs, mean, color="tab:blue", alpha=0.7)
            ax.errorbar(xs, mean, yerr=[mean - lower, upper - mean], fmt="none", color="0.2")
            ax.set_xticks(xs, [str(v) for v in c.values], fontsize=8)
        else:
            xs = np.asarray(c.values, dtype=float)
            ax.plot(xs, mean, color="tab:blue")
            ax.fill_between(xs, lower, upper, color="tab:blue", alpha=0.2)
            ax.axvline(float(c.base_value), color="tab:orange", linestyle="--", linewidth=1)
            if c.log:
                _log_x(ax, float(min(c.values)), float(max(c.values)))
        ax.axhline(0.0, color="0.4", linewidth=0.8)
        ax.set_xlabel(c.name)
        if k % cols == 0:
            ax.set_ylabel("predicted change")
        ax.grid(alpha=0.3)
    for k in range(len(curves), n_rows * cols):
        axes[k // cols][k % cols].set_axis_off()
    fig.suptitle("Local sensitivity around the best configuration (GP)")
    return finish(fig, path)


def _index(choices: Sequence[Any], value: Any) -> int:
    for i, c in enumerate(choices):
        if c == value and type(c) is type(value):
            return i
    return 0


def _log_x(ax: Any, low: float, high: float) -> None:
    from lightning_autotune.analysis._data import require

    ticker: Any = require("matplotlib.ticker")
    ax.set_xscale("log")
    # Over a narrow range (e.g. 16..256) the default minor labels overlap: label 1-2-5 steps.
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    if high / low <= 300:
        ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:g}"))


def _colormap() -> Any:
    from lightning_autotune.analysis._data import require

    return require("matplotlib").colormaps["viridis"]


def _colorbar(fig: Figure, ax: Any, lo: float, hi: float, direction: Direction, name: str) -> None:
    from lightning_autotune.analysis._data import require

    cm: Any = require("matplotlib.cm")
    colors: Any = require("matplotlib.colors")
    cmap = _colormap()
    if direction.sign > 0:
        cmap = cmap.reversed()
    mappable = cm.ScalarMappable(norm=colors.Normalize(lo, hi if hi > lo else lo + 1), cmap=cmap)
    fig.colorbar(mappable, ax=ax, label=f"{name} (brighter = better)", pad=0.01)


def _title(what: str, name: str) -> str:
    return f"{what}: {name}" if name else what
