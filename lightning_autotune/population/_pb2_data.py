"""PB2's data: how much each interval of each member improved, and under which hyperparameters."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lightning_autotune._lineage import ATTR, BoundaryResult, CopyReason, Lineage
from lightning_autotune.space import SearchSpace

__all__ = [
    "HISTORY_ATTR",
    "IntervalRecord",
    "improvement_data",
    "interval_history",
    "pending_params",
]

HISTORY_ATTR = "population_intervals"
"""Trial user attribute: the member's own `IntervalRecord`s (its lineage forgets them on a copy)."""


@dataclass(frozen=True)
class IntervalRecord:
    """What one interval of one member did, as the member trained it.

    Attributes:
        boundary: The boundary that ends the interval.
        params: The hyperparameters the member trained the interval with.
        start: The objective of the weights the interval started from (its own at the
            previous boundary, or the copied member's).
        end: The objective at `boundary`.
    """

    boundary: int
    params: dict[str, Any]
    start: float
    end: float

    def encode(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "boundary": self.boundary,
            "params": self.params,
            "start": self.start,
            "end": self.end,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> IntervalRecord:
        """The record `encode` wrote."""
        return cls(
            int(data["boundary"]), dict(data["params"]), float(data["start"]), float(data["end"])
        )


def interval_history(records: Sequence[Any]) -> dict[int, tuple[IntervalRecord, ...]]:
    """Every member's own interval records among trial records (a retry supersedes its trial)."""
    out: dict[int, tuple[int, tuple[IntervalRecord, ...]]] = {}
    for record in records:
        lineage, rows = record.user_attrs.get(ATTR), record.user_attrs.get(HISTORY_ATTR)
        if not lineage or rows is None:
            continue
        member = Lineage.decode(lineage).member
        seen = out.get(member)
        if seen is None or record.number > seen[0]:
            out[member] = (record.number, tuple(IntervalRecord.decode(r) for r in rows))
    return {m: rows for m, (_, rows) in out.items()}


def improvement_data(
    space: SearchSpace,
    names: Sequence[str],
    population: Mapping[int, Lineage],
    interval: int,
    history: Mapping[int, Sequence[IntervalRecord]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One row per member and interval: `(boundary, encoded hyperparameters)` -> improvement.

    The improvement of interval k (from boundary k-1 to k) is the value the weights had at its
    start minus the value at its end (lower is better, so positive is progress). A member that
    copied another at boundary k-1 started from the copied member's value there. Intervals with
    a NaN at either end are left out. A member's own `history` gives every interval it trained;
    without one, its lineage gives the intervals since its latest copy only: before it, the
    lineage holds the copied member's schedule, not the hyperparameters the member trained
    with, so those rows would pair its values with another member's settings.

    Returns:
        `X`: `n x (1 + d)`, the boundary then the `d` encoded columns of `names`; `y`: `n`.
    """
    cols = _columns(space, names)
    rows: list[np.ndarray] = []
    ys: list[float] = []
    history = history or {}
    for member, lineage in population.items():
        if member in history:
            for r in history[member]:
                if math.isfinite(r.start) and math.isfinite(r.end):
                    rows.append(
                        np.concatenate([[float(r.boundary)], encode(space, r.params)[cols]])
                    )
                    ys.append(r.start - r.end)
            continue
        copied_at = lineage.segments[-1].start_epoch if lineage.copies else 0
        encoded = encode(space, lineage.params)[cols]
        for result in lineage.results:
            start_epoch = (result.boundary - 1) * interval
            if result.boundary == 1 or start_epoch < copied_at:
                continue  # no value before it, or trained (partly) under another schedule
            before = _start_value(lineage, population, result.boundary, start_epoch, copied_at)
            if before is None or not math.isfinite(before.value) or not math.isfinite(result.value):
                continue
            rows.append(np.concatenate([[float(result.boundary)], encoded]))
            ys.append(before.value - result.value)
    if not rows:
        return np.zeros((0, 1 + len(cols))), np.zeros(0)
    return np.stack(rows), np.asarray(ys, dtype=float)


def pending_params(
    space: SearchSpace, names: Sequence[str], population: Mapping[int, Lineage], member: int | None
) -> np.ndarray:
    """Encoded `names` of every member but `member`: those training over the coming interval."""
    cols = _columns(space, names)
    rows = [encode(space, lin.params)[cols] for m, lin in population.items() if m != member]
    return np.stack(rows) if rows else np.zeros((0, len(cols)))


def encode(space: SearchSpace, params: Mapping[str, Any]) -> np.ndarray:
    """`params` in the space's [0, 1] encoding (a partial record is completed by defaults)."""
    return np.asarray(space.encode([_complete(space, params)])[0], dtype=float)


def _start_value(
    lineage: Lineage,
    population: Mapping[int, Lineage],
    boundary: int,
    start_epoch: int,
    copied_at: int,
) -> BoundaryResult | None:
    if lineage.copies and start_epoch == copied_at:
        copy_boundary, parent, reason = lineage.copies[-1]
        if reason is CopyReason.DIVERGED:
            return None  # copied mid-interval: the weights it started from were never scored
        donor = population.get(parent)
        return donor.result_at(copy_boundary) if donor is not None else None
    return lineage.result_at(boundary - 1)


def _columns(space: SearchSpace, names: Sequence[str]) -> list[int]:
    return [i for n in names for i in range(*space.column_span(n))]


def _complete(space: SearchSpace, params: Mapping[str, object]) -> dict[str, object]:
    # Segments keep every param of the member; an older or partial record gets defaults.
    filler = space.sample(1, 0)[0]
    return {**filler, **dict(params)}
