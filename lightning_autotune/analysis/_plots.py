"""Plots over trial numbers and steps: optimization history and intermediate curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lightning_autotune.analysis._data import as_data
from lightning_autotune.analysis._figure import finish, new_figure
from lightning_autotune.trial import Direction, TrialRecord, TrialState

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lightning_autotune.study import Study

__all__ = ["plot_intermediate_values", "plot_optimization_history"]

_STATE_COLORS = {
    TrialState.COMPLETE: "tab:blue",
    TrialState.PRUNED: "tab:red",
    TrialState.FAILED: "black",
    TrialState.RUNNING: "tab:gray",
    TrialState.WAITING: "tab:gray",
}


def plot_optimization_history(
    study: Study | Sequence[TrialRecord],
    *,
    directions: Sequence[str | Direction] | None = None,
    objective: int = 0,
    path: str | Path | None = None,
) -> Figure:
    """Objective value of each trial against its number, with the best value so far.

    COMPLETE trials are dots; PRUNED trials are crosses at their last reported value (they do
    not count for the best-so-far line).

    Args:
        study: A study, or its trial records.
        directions: The directions, when `study` is a list of records (default: minimize).
        objective: Which objective to draw, for a study with several.
        path: Also write the figure to this PNG file.

    Returns:
        The matplotlib figure.

    Raises:
        ImportError: matplotlib is not installed.
        ConfigError: `objective` is not an objective of the study.

    Example:
        >>> fig = plot_optimization_history(study, path="history.png")  # doctest: +SKIP
    """
    data = as_data(study, directions)
    direction = data.check_objective(objective)
    fig = new_figure()
    ax = fig.add_subplot()
    done = data.complete(objective)
    xs = [t.number for t in done]
    ys = [t.values[objective] for t in done]  # type: ignore[index]
    ax.scatter(xs, ys, s=24, color=_STATE_COLORS[TrialState.COMPLETE], label="complete", zorder=3)
    pruned = [t for t in data.trials if t.state is TrialState.PRUNED and t.last_step is not None]
    if pruned and len(data.directions) == 1:
        ax.scatter(
            [t.number for t in pruned],
            [t.intermediate[t.last_step] for t in pruned],  # type: ignore[index]
            marker="x",
            s=30,
            color=_STATE_COLORS[TrialState.PRUNED],
            label="pruned (last value)",
            zorder=3,
        )
    if done:
        best: list[float] = []
        for y in ys:
            if not best:
                best.append(y)
            else:
                best.append(min(best[-1], y) if direction.sign > 0 else max(best[-1], y))
        ax.step(xs, best, where="post", color="tab:orange", linewidth=2, label="best so far")
    else:
        ax.text(0.5, 0.5, "no COMPLETE trial yet", ha="center", transform=ax.transAxes)
    ax.set_xlabel("trial number")
    ax.set_ylabel(data.objective_label(objective))
    ax.set_title(_title("Optimization history", data.name))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return finish(fig, path)


def plot_intermediate_values(
    study: Study | Sequence[TrialRecord],
    *,
    directions: Sequence[str | Direction] | None = None,
    log_y: bool = False,
    path: str | Path | None = None,
) -> Figure:
    """The value each trial reported at each step; pruned trials in red, ending in a cross.

    Args:
        study: A study, or its trial records.
        directions: The directions, when `study` is a list of records (default: minimize).
        log_y: Draw the value axis on a log scale (values must be positive).
        path: Also write the figure to this PNG file.

    Returns:
        The matplotlib figure.

    Raises:
        ImportError: matplotlib is not installed.

    Example:
        >>> fig = plot_intermediate_values(study, path="curves.png")  # doctest: +SKIP
    """
    data = as_data(study, directions)
    fig = new_figure()
    ax = fig.add_subplot()
    labelled: set[TrialState] = set()
    drawn = 0
    for t in data.trials:
        if not t.intermediate:
            continue
        steps = sorted(t.intermediate)
        values = [t.intermediate[s] for s in steps]
        if not any(math.isfinite(v) for v in values):
            continue
        color = _STATE_COLORS[t.state]
        label = None if t.state in labelled else t.state.value.lower()
        labelled.add(t.state)
        pruned = t.state is TrialState.PRUNED
        ax.plot(
            steps,
            values,
            color=color,
            alpha=0.8 if pruned else 0.6,
            linewidth=1.2,
            linestyle="--" if pruned else "-",
            marker="." if len(steps) < 30 else None,
            label=label,
        )
        if pruned:
            ax.scatter([steps[-1]], [values[-1]], marker="x", s=40, color=color, zorder=3)
        drawn += 1
    if drawn == 0:
        ax.text(0.5, 0.5, "no intermediate values reported", ha="center", transform=ax.transAxes)
    else:
        ax.legend(loc="best", fontsize="small")
    if log_y and drawn:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"{data.objective_names[0]} (reported)")
    ax.set_title(_title("Intermediate values", data.name))
    ax.grid(alpha=0.3)
    return finish(fig, path)


def _title(what: str, name: str) -> str:
    return f"{what}: {name}" if name else what
