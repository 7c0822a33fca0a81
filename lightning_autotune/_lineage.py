"""What the store keeps about each population member: its schedule, its results, its parents.

A member's `Lineage` lives in its trial's user attribute `population` as JSON; `encode` and
`decode` are the only code that reads or writes that attribute's layout. It sits below both
`population` (which writes it) and `analysis` (which draws the schedules).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

__all__ = ["ATTR", "BoundaryResult", "CopyReason", "Lineage", "Segment"]

ATTR = "population"
"""The trial user attribute that holds a member's encoded `Lineage`."""


class CopyReason(str, Enum):
    """Why a segment of a member's schedule began."""

    START = "start"
    """The member's first hyperparameters (sampled from the space)."""
    UNDERPERFORMING = "underperforming"
    """The member was in the bottom quantile at a boundary and copied a top member."""
    DIVERGED = "diverged"
    """The member's loss or objective became NaN or infinite; it copied a top member."""


@dataclass(frozen=True)
class Segment:
    """Hyperparameters held from `start_epoch` until the next segment begins.

    Attributes:
        start_epoch: First epoch (0-based) trained with `params`.
        params: The member's hyperparameters from then on.
        parent: Member whose weights this segment started from (None: its own).
        reason: Why the segment began.
    """

    start_epoch: int
    params: Mapping[str, Any]
    parent: int | None = None
    reason: CopyReason = CopyReason.START


@dataclass(frozen=True)
class BoundaryResult:
    """A member's objective at one interval boundary (lower is better; NaN: diverged).

    Attributes:
        boundary: 1-based index of the boundary (after `boundary * interval` epochs).
        value: The objective, direction-normalized (lower is better).
        checkpoint: Weights and optimizer state saved there (None once cleaned up).
    """

    boundary: int
    value: float
    checkpoint: str | None = None


@dataclass(frozen=True)
class Lineage:
    """One member's history: the schedule that produced its weights and its results.

    When a member copies another at a boundary, the copied member's segments up to that epoch
    become the start of its own schedule, so `segments` always reproduces the current weights
    from scratch in one run.

    Attributes:
        member: The member's id (the number of its first trial; a retry keeps it).
        segments: The schedule, by start epoch.
        results: Objective at each boundary the member passed, by boundary.
        copies: `(boundary, parent, reason)` of every copy this member made itself.
    """

    member: int
    segments: tuple[Segment, ...]
    results: tuple[BoundaryResult, ...] = ()
    copies: tuple[tuple[int, int, CopyReason], ...] = field(default=())

    @property
    def params(self) -> Mapping[str, Any]:
        """The hyperparameters in force now."""
        return self.segments[-1].params

    def result_at(self, boundary: int) -> BoundaryResult | None:
        """The result at `boundary`, if the member reached it."""
        for r in self.results:
            if r.boundary == boundary:
                return r
        return None

    def schedule_until(self, epoch: int) -> tuple[Segment, ...]:
        """The segments that trained the weights up to (not including) `epoch`."""
        return tuple(s for s in self.segments if s.start_epoch < epoch)

    def with_result(self, result: BoundaryResult) -> Lineage:
        """This lineage with `result` added (replacing one at the same boundary)."""
        kept = tuple(r for r in self.results if r.boundary != result.boundary)
        return replace(self, results=(*kept, result))

    def encode(self) -> dict[str, Any]:
        """JSON-ready form (NaN and infinities are stored as None)."""
        return {
            "member": self.member,
            "segments": [
                {
                    "start_epoch": s.start_epoch,
                    "params": dict(s.params),
                    "parent": s.parent,
                    "reason": s.reason.value,
                }
                for s in self.segments
            ],
            "results": [
                {
                    "boundary": r.boundary,
                    "value": r.value if math.isfinite(r.value) else None,
                    "checkpoint": r.checkpoint,
                }
                for r in self.results
            ],
            "copies": [[b, p, reason.value] for b, p, reason in self.copies],
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Lineage:
        """The lineage `encode` wrote."""
        return cls(
            member=int(data["member"]),
            segments=tuple(
                Segment(
                    start_epoch=int(s["start_epoch"]),
                    params=dict(s["params"]),
                    parent=s["parent"],
                    reason=CopyReason(s["reason"]),
                )
                for s in data["segments"]
            ),
            results=tuple(
                BoundaryResult(
                    boundary=int(r["boundary"]),
                    value=math.nan if r["value"] is None else float(r["value"]),
                    checkpoint=r["checkpoint"],
                )
                for r in data.get("results", ())
            ),
            copies=tuple((int(b), int(p), CopyReason(r)) for b, p, r in data.get("copies", ())),
        )


def lineages(records: Sequence[Any]) -> dict[int, Lineage]:
    """The latest lineage of every member among trial records (a retry supersedes its trial)."""
    out: dict[int, tuple[int, Lineage]] = {}
    for record in records:
        data = record.user_attrs.get(ATTR)
        if not data:
            continue
        lineage = Lineage.decode(data)
        seen = out.get(lineage.member)
        if seen is None or record.number > seen[0]:
            out[lineage.member] = (record.number, lineage)
    return {m: lin for m, (_, lin) in out.items()}
