"""Population schedules: each member's hyperparameters over epochs, with its exploit events.

Read from the lineage a population study keeps in every member's trial (`_lineage`): the
schedule shown is the one that produced the member's final weights, i.e. what
`population.replay` reruns, with the copies it went through (a donor's earlier copies
included, since its schedule became the member's).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_autotune._lineage import ATTR, CopyReason, Lineage, lineages
from lightning_autotune.analysis._data import as_data
from lightning_autotune.analysis._figure import finish, new_figure
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import Float, Int
from lightning_autotune.trial import TrialRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lightning_autotune.study import Study

__all__ = ["ExploitEvent", "MemberSchedule", "plot_population_schedules", "population_schedules"]

_MARKERS = {CopyReason.UNDERPERFORMING: "v", CopyReason.DIVERGED: "X"}


@dataclass(frozen=True)
class ExploitEvent:
    """A copy in a member's schedule: from `epoch` on, it trains `parent`'s weights.

    Attributes:
        epoch: First epoch trained after the copy.
        parent: The copied member.
        reason: Why the copy happened.
    """

    epoch: int
    parent: int
    reason: CopyReason


@dataclass(frozen=True)
class MemberSchedule:
    """One member's hyperparameters over epochs.

    Attributes:
        member: The member's id.
        starts: First epoch of each segment of the schedule.
        params: The hyperparameters of each segment (same order as `starts`).
        end_epoch: Epochs the member trained (from its last boundary and the interval).
        final_value: Its objective at its last boundary (lower is better; NaN: none).
        events: The copies in the schedule, by epoch.
    """

    member: int
    starts: tuple[int, ...]
    params: tuple[Mapping[str, Any], ...]
    end_epoch: int
    final_value: float
    events: tuple[ExploitEvent, ...]

    def values(self, name: str) -> list[Any]:
        """The value of `name` in each segment (None where a segment lacks it)."""
        return [p.get(name) for p in self.params]


def population_schedules(
    study: Study | Sequence[TrialRecord], *, interval: int | None = None
) -> dict[int, MemberSchedule]:
    """Every member's schedule, by member id (empty for a study that is not a population).

    Args:
        study: A population study, or its trial records.
        interval: Epochs between boundaries (default: the study's `population` attribute; 1
            for bare records).
    """
    loaded = getattr(study, "trials", None)  # a study's trials are read from the store once
    is_study = loaded is not None
    source: Any = loaded if is_study else study
    records = list(source)
    if interval is None:
        attrs = getattr(study, "user_attrs", None) if is_study else None
        setting = attrs.get(ATTR) if isinstance(attrs, Mapping) else None
        interval = int(setting.get("interval", 1)) if isinstance(setting, Mapping) else 1
    out = {}
    for member, lineage in sorted(lineages(records).items()):
        out[member] = _schedule(lineage, interval)
    return out


def _schedule(lineage: Lineage, interval: int) -> MemberSchedule:
    segments = sorted(lineage.segments, key=lambda s: s.start_epoch)
    last = max((r.boundary for r in lineage.results), default=0) * interval
    end = max(last, segments[-1].start_epoch + 1)
    final = lineage.results[-1].value if lineage.results else math.nan
    events = tuple(
        ExploitEvent(s.start_epoch, s.parent, s.reason) for s in segments if s.parent is not None
    )
    return MemberSchedule(
        member=lineage.member,
        starts=tuple(s.start_epoch for s in segments),
        params=tuple(dict(s.params) for s in segments),
        end_epoch=end,
        final_value=final,
        events=events,
    )


def plot_population_schedules(
    study: Study | Sequence[TrialRecord],
    *,
    params: Sequence[str] | None = None,
    interval: int | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Each member's hyperparameter schedule against the epoch, copies marked.

    One panel per hyperparameter, one step line per member (the best member's thicker); a
    triangle marks a copy of a better member, a cross a copy after divergence. A choice
    parameter (the optimizer) is drawn on its categories.

    Args:
        study: A population study, or its trial records.
        params: Hyperparameters to draw (default: those that change in some schedule).
        interval: Epochs between boundaries (see `population_schedules`).
        path: Also write the figure to this PNG file.

    Returns:
        The matplotlib figure.

    Raises:
        ConfigError: The study has no population member, or `params` names a parameter no
            schedule has.
        ImportError: matplotlib is not installed.

    Example:
        >>> fig = plot_population_schedules(study, params=["lr"])  # doctest: +SKIP
    """
    schedules = population_schedules(study, interval=interval)
    data = as_data(study)
    if not schedules:
        raise ConfigError(
            f"plot_population_schedules: study {data.name!r} has no population member; run "
            "fit(..., population=PopulationBasedTraining(...)) first"
        )
    known = sorted({k for s in schedules.values() for p in s.params for k in p})
    if params is None:
        changing = [n for n in known if any(len({repr(v) for v in s.values(n)}) > 1
                                            for s in schedules.values())]  # fmt: skip
        names = changing or known
    else:
        names = list(params)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(
                f"plot_population_schedules: params={unknown} are not in any member's schedule; "
                f"pick from {known}"
            )
    fig = new_figure(7.0, 1.0 + 2.2 * len(names))
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    finite = [(s.final_value, m) for m, s in schedules.items() if math.isfinite(s.final_value)]
    best = min(finite)[1] if finite else None
    colors = _palette(len(schedules))
    for ax, name in zip(axes, names, strict=True):
        _panel(ax, name, schedules, colors, best, data.space[name] if name in data.space.names
               else None)  # fmt: skip
    axes[-1].set_xlabel("epoch")
    axes[0].set_title(f"Population schedules: {data.name}" if data.name else "Population schedules")
    axes[0].legend(loc="best", fontsize="x-small", ncol=2)
    return finish(fig, path)


def _panel(
    ax: Any,
    name: str,
    schedules: Mapping[int, MemberSchedule],
    colors: list[Any],
    best: int | None,
    param: Any,
) -> None:
    raw = [v for s in schedules.values() for v in s.values(name) if v is not None]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
    categories = [] if numeric else sorted({str(v) for v in raw})
    labelled: set[CopyReason] = set()
    for color, (member, s) in zip(colors, schedules.items(), strict=True):
        ys = [_y(v, categories) for v in s.values(name)]
        xs = [*s.starts, s.end_epoch]
        label = f"member {member}" + (" (best)" if member == best else "")
        ax.step(xs, [*ys, ys[-1]], where="post", color=color, label=label,
                linewidth=2.4 if member == best else 1.2)  # fmt: skip
        for event in s.events:
            y = _y(s.params[s.starts.index(event.epoch)].get(name), categories)
            mark = None if event.reason in labelled else f"copy ({event.reason.value})"
            labelled.add(event.reason)
            ax.scatter([event.epoch], [y], marker=_MARKERS.get(event.reason, "o"), color=color,
                       s=40, zorder=3, edgecolors="black", linewidths=0.5, label=mark)  # fmt: skip
    if categories:
        ax.set_yticks(range(len(categories)), categories)
    elif isinstance(param, (Float, Int)) and param.log:
        ax.set_yscale("log")
    ax.set_ylabel(name)
    ax.grid(alpha=0.3)


def _y(value: Any, categories: list[str]) -> float:
    if value is None:
        return math.nan
    return float(categories.index(str(value))) if categories else float(value)


def _palette(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "viridis"]
    return [cmap(i if n <= 10 else i / max(1, n - 1)) for i in range(n)]
