"""A Pareto plot of two objectives: every COMPLETE trial, the front highlighted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lightning_autotune.analysis._names import objective_names
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.multiobjective import pareto_front
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["plot_pareto_front"]


def plot_pareto_front(
    records: Sequence[TrialRecord] | Any,
    directions: Sequence[Direction | str] | None = None,
    *,
    names: Sequence[str] | None = None,
    ax: Any = None,
) -> Any:
    """Scatter two objectives of the COMPLETE trials and draw the Pareto front as a staircase.

    Args:
        records: Trial records, or a `Study` (its trials and directions are used).
        directions: Two directions (taken from the study when `records` is one).
        names: Axis labels, one per objective (default: the study's objective names, see
            `StudyData.objective_names`; 'objective 0' and 'objective 1' for bare records).
        ax: A matplotlib `Axes` to draw on (default: a new figure).

    Returns:
        The matplotlib `Axes`.

    Raises:
        ConfigError: Not exactly two objectives, or no directions given for plain records.
    """
    import matplotlib.pyplot as plt

    attrs = None
    if hasattr(records, "trials") and hasattr(records, "directions"):
        directions = directions or records.directions
        attrs = getattr(records, "user_attrs", None)
        records = records.trials
    if directions is None or len(directions) != 2:
        raise ConfigError(
            f"a Pareto plot needs exactly two directions, got {directions!r}; pass "
            "directions=['maximize', 'minimize'] or a two-objective study"
        )
    if names is None:
        names = objective_names(2, records, attrs if isinstance(attrs, Mapping) else None)
    done = [r for r in records if r.state is TrialState.COMPLETE and r.values is not None]
    front = pareto_front(done, directions)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    values = [tuple(r.values or ()) for r in done]
    ax.scatter([v[0] for v in values], [v[1] for v in values], s=14, alpha=0.5, label="trials")
    pts = sorted(tuple(r.values or ())[:2] for r in front)
    if pts:
        ax.step(*zip(*pts, strict=True), where="post", color="C3", label="Pareto front")
        ax.scatter(*zip(*pts, strict=True), color="C3", s=24)
    labels = [f"{n} ({Direction.parse(d).value})" for n, d in zip(names, directions, strict=True)]
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend()
    return ax
