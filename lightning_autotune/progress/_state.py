"""What a progress display shows, computed from trial records: `ProgressSnapshot`."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["ProgressSnapshot", "ProgressTracker", "RunningTrial", "format_params", "hms"]


@dataclass(frozen=True)
class RunningTrial:
    """A trial in progress as the display shows it.

    Attributes:
        number: The trial's number.
        params: Its configuration.
        last_step: The last step it reported (None before the first report).
        last_value: The value it reported then.
    """

    number: int
    params: Mapping[str, Any]
    last_step: int | None
    last_value: float | None


@dataclass(frozen=True)
class ProgressSnapshot:
    """The state of a running study at one moment.

    Attributes:
        study: The study's name.
        done: Trials finished since the display started.
        total: Trials this run means to finish (None: until the time budget ends); never less
            than the trials it finished or runs (retries of dead trials add to the plan).
        previous: Trials the study had already finished when the display started (a resumed
            study); the display counts `previous + done` of `previous + total`.
        states: Count of finished trials per state, since the display started.
        running: Trials in progress.
        best_value: Best COMPLETE value seen (single objective; None otherwise or before one).
        best_number: Number of the trial that reached it.
        best_params: Its configuration.
        elapsed: Seconds since the display started.
        remaining: Estimated seconds left (None when there is nothing to estimate from).
        time_budget: The time budget in seconds, if any.
    """

    study: str
    done: int
    total: int | None
    previous: int
    states: Mapping[TrialState, int]
    running: tuple[RunningTrial, ...]
    best_value: float | None
    best_number: int | None
    best_params: Mapping[str, Any]
    elapsed: float
    remaining: float | None
    time_budget: float | None


class ProgressTracker:
    """Keeps the counts, the running trials and the best trial; no output of its own.

    Thread-safe: rich's refresh thread takes snapshots while the optimize loop updates it.
    """

    def __init__(
        self,
        name: str,
        directions: tuple[Direction, ...],
        total: int | None,
        budget: float | None,
        previous: int = 0,
    ) -> None:
        self.name = name
        self.directions = directions
        self.total = total
        self.budget = budget
        self.previous = previous
        self.states: dict[TrialState, int] = {}
        self.running: dict[int, TrialRecord] = {}
        self.best: TrialRecord | None = None
        self._lock = threading.Lock()

    def start(self, record: TrialRecord) -> None:
        """A trial began."""
        with self._lock:
            self.running[record.number] = record

    def update(self, record: TrialRecord) -> None:
        """A running trial reported (or a fresh snapshot of it was read)."""
        if record.state.is_finished:
            return
        with self._lock:
            if record.number in self.running:
                self.running[record.number] = record

    def running_records(self) -> list[TrialRecord]:
        """The running trials as last seen (a copy, safe to iterate while others update)."""
        with self._lock:
            return list(self.running.values())

    def end(self, record: TrialRecord) -> None:
        """A trial finished."""
        with self._lock:
            self.running.pop(record.number, None)
            self.states[record.state] = self.states.get(record.state, 0) + 1
        self.offer_best(record)

    def offer_best(self, record: TrialRecord) -> None:
        """Keep `record` as the best if it is a better COMPLETE single-objective trial."""
        if (
            len(self.directions) != 1
            or record.state is not TrialState.COMPLETE
            or record.values is None
            or not math.isfinite(record.values[0])
        ):
            return
        sign = self.directions[0].sign
        with self._lock:
            if self.best is None or sign * record.values[0] < sign * self.best.values[0]:  # type: ignore[index]
                self.best = record

    def snapshot(self, elapsed: float) -> ProgressSnapshot:
        """The current state, with the remaining time estimated from the pace so far."""
        with self._lock:
            return self._snapshot(elapsed)

    def _snapshot(self, elapsed: float) -> ProgressSnapshot:
        done = sum(self.states.values())
        total = None if self.total is None else max(self.total, done + len(self.running))
        estimates = []
        if self.budget is not None:
            estimates.append(max(self.budget - elapsed, 0.0))
        if total is not None and done > 0:
            estimates.append(elapsed / done * max(total - done, 0))
        running = tuple(
            RunningTrial(
                r.number,
                r.params,
                r.last_step,
                None if r.last_step is None else r.intermediate[r.last_step],
            )
            for r in sorted(self.running.values(), key=lambda r: r.number)
        )
        best = self.best
        return ProgressSnapshot(
            study=self.name,
            done=done,
            total=total,
            previous=self.previous,
            states=dict(self.states),
            running=running,
            best_value=None if best is None else best.values[0],  # type: ignore[index]
            best_number=None if best is None else best.number,
            best_params={} if best is None else dict(best.params),
            elapsed=elapsed,
            remaining=min(estimates) if estimates else None,
            time_budget=self.budget,
        )


def format_params(params: Mapping[str, Any], width: int = 100) -> str:
    """'name=value, ...' with floats shortened, cut to `width` characters."""
    parts = [f"{k}={f'{v:.4g}' if isinstance(v, float) else v}" for k, v in params.items()]
    text = ", ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


def hms(seconds: float | None) -> str:
    """Seconds as 'HH:MM:SS' ('--:--:--' when unknown)."""
    if seconds is None or not math.isfinite(seconds):
        return "--:--:--"
    s = round(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
