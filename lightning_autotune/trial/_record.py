"""`TrialRecord`: an immutable snapshot of one trial as the store holds it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from lightning_autotune.trial._kind import FailureKind
from lightning_autotune.trial._state import Direction, TrialState

__all__ = ["TrialRecord"]

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


@dataclass(frozen=True)
class TrialRecord:
    """A frozen snapshot of one trial; samplers, pruners and reports work on these only.

    Attributes:
        trial_id: The store's id of the trial (unique across studies).
        number: 0-based position of the trial within its study.
        state: Current state.
        params: The configuration (active parameters only).
        values: Final objective values (one per direction), raw as the user reported them;
            None until COMPLETE (and for a PRUNED trial, its last intermediate value if any).
        intermediate: Objective value reported at each step (raw, user's direction).
        metrics: Every metric reported at each step: step -> {name: value}.
        reason: Why the trial was pruned or failed, in words.
        kind: Why the trial was pruned or failed, as the enum that decisions read (None while
            it runs and once COMPLETE).
        started_at, finished_at, heartbeat_at: Timestamps (UTC), None when unknown.
        worker: Identifier of the process that ran the trial.
        retry_of: Number of the trial this one retries, if it is a retry.
        user_attrs: Free JSON-serializable annotations.
    """

    trial_id: int
    number: int
    state: TrialState
    params: Mapping[str, Any]
    values: tuple[float, ...] | None = None
    intermediate: Mapping[int, float] = field(default_factory=lambda: _EMPTY)
    metrics: Mapping[int, Mapping[str, float]] = field(default_factory=lambda: _EMPTY)
    reason: str | None = None
    kind: FailureKind | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    worker: str | None = None
    retry_of: int | None = None
    user_attrs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def value(self) -> float | None:
        """The single objective value (None if not set). Raises for multi-objective trials."""
        if self.values is None:
            return None
        if len(self.values) != 1:
            raise ValueError(
                f"trial {self.number} has {len(self.values)} objective values; use .values"
            )
        return self.values[0]

    @property
    def last_step(self) -> int | None:
        """The largest step with a reported value, or None."""
        return max(self.intermediate) if self.intermediate else None

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or None while unknown)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def scores(self, directions: tuple[Direction, ...]) -> tuple[float, ...] | None:
        """The final values turned lower-is-better (NaN stays NaN)."""
        if self.values is None:
            return None
        return tuple(d.sign * v for d, v in zip(directions, self.values, strict=True))

    def curve(self, direction: Direction) -> dict[int, float]:
        """The intermediate values turned lower-is-better, keyed by step."""
        return {step: direction.sign * v for step, v in sorted(self.intermediate.items())}
