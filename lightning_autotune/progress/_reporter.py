"""`ProgressReporter`: a live view of a running study (rich on a terminal, log lines otherwise)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from lightning_autotune._validation import check_number
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.progress._state import (
    ProgressSnapshot,
    ProgressTracker,
    format_params,
    hms,
)
from lightning_autotune.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from lightning_autotune.study import Study

__all__ = ["ProgressReporter"]

_SECONDS = "give a number of seconds such as 30"


class ProgressReporter:
    """Shows trials done / total, running trials, the best so far and the time left.

    On a terminal (and with rich installed) it draws a live panel; otherwise it writes one plain
    line per event, which suits log files and CI. The optimize loop calls `start` once,
    `on_trial_start` / `on_trial_end` around each trial, `on_trial_report` (or `refresh`) while
    trials run, and `close` at the end; it is also a context manager that closes itself. The
    live panel also reads the running trials' last reports from the store as it redraws, so a
    trial that runs in this process (one worker) shows its step and value while it trains.

    Counts include the trials a resumed study had already finished: "resuming: 8 of 30 done,
    22 to run", then "9/30 done" after the next trial.

    Args:
        quiet: Print nothing (the snapshot is still kept up to date).
        stream: Where to write (default `sys.stdout`).
        live: Force the rich panel (True) or plain lines (False); default: rich when `stream`
            is a terminal.
        status_every: In plain mode, `refresh` prints a status line at most this often (seconds).
        poll_every: The live panel re-reads running trials from the store at most this often
            (seconds).
        clock: Monotonic clock in seconds (tests pass a fake one).

    Example:
        >>> reporter = ProgressReporter(live=False)
        >>> reporter.start(study, n_trials=20)  # doctest: +SKIP
        >>> reporter.on_trial_start(trial.snapshot())  # doctest: +SKIP
        >>> reporter.on_trial_end(study.tell(trial, 0.3))  # doctest: +SKIP
        >>> reporter.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        quiet: bool = False,
        stream: IO[str] | None = None,
        live: bool | None = None,
        status_every: float = 30.0,
        poll_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet = quiet
        self.stream: IO[str] = stream if stream is not None else sys.stdout
        self._want_live = live
        self._status_every = check_number(status_every, "status_every", low=0.0, hint=_SECONDS)
        self._poll_every = check_number(poll_every, "poll_every", low=0.0, hint=_SECONDS)
        self._clock = clock
        self._tracker: ProgressTracker | None = None
        self._study: Study | None = None
        self._started = 0.0
        self._last_status = -float("inf")
        self._last_poll = -float("inf")
        self._live: Any = None

    # Lifecycle
    def start(
        self, study: Study, *, n_trials: int | None = None, time_budget: float | None = None
    ) -> ProgressReporter:
        """Begin showing `study`; trials it already finished count as done, and its COMPLETE
        ones for the best value.

        Args:
            study: The study being optimized.
            n_trials: Trials this run will finish (None: unknown, e.g. until the time budget).
            time_budget: Seconds this run may take (None: no limit).
        """
        finished = [t for t in study.trials if t.state.is_finished]
        self._tracker = ProgressTracker(
            study.name, tuple(study.directions), n_trials, time_budget, previous=len(finished)
        )
        for t in finished:
            self._tracker.offer_best(t)
        self._study = study
        self._started = self._clock()
        if self.quiet:
            return self
        live = self._want_live
        if live is None:
            live = bool(getattr(self.stream, "isatty", lambda: False)())
        if live:
            self._live = _start_live(self)
        if self._live is None:
            self._line(f"study {study.name!r}: {_plan(len(finished), n_trials, time_budget)}")
        return self

    def close(self) -> None:
        """Stop the live panel (if any) and print a final summary line."""
        if self._tracker is None:
            return
        if self._live is not None:
            self._live.update(self.__rich__(), refresh=True)
            self._live.stop()
            self._live = None
        elif not self.quiet:
            s = self.snapshot()
            best = "" if s.best_value is None else f"best {_best(s)}"
            if s.done == 0 and s.total == 0:
                if best:
                    self._line(f"study {s.study!r}: {best}")
                return
            in_study = f" ({s.previous + s.done} in the study)" if s.previous else ""
            self._line(
                f"study {s.study!r}: {s.done} trial(s) finished in {hms(s.elapsed)}{in_study}"
                + (f"; {best}" if best else "")
            )

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Hooks
    def on_trial_start(self, record: TrialRecord) -> None:
        """Call right after a trial is created or claimed (with its snapshot)."""
        self._require().start(record)
        if self._plain:
            self._line(f"trial {record.number} started: {format_params(record.params)}")
        self._redraw()

    def on_trial_report(self, record: TrialRecord) -> None:
        """Call after a running trial reports a value (with its fresh snapshot)."""
        self._require().update(record)
        self._redraw()

    def on_trial_end(self, record: TrialRecord) -> None:
        """Call with the record `Study.tell` returned."""
        tracker = self._require()
        tracker.end(record)
        if self._plain:
            s = self.snapshot()
            value = (
                ""
                if record.values is None
                else " value=" + ",".join(f"{v:.6g}" for v in record.values)
            )
            failed = record.reason and record.state is not TrialState.COMPLETE
            why = f" ({record.reason})" if failed else ""
            best = "" if s.best_value is None else f" | best {_best(s)}"
            total = "?" if s.total is None else s.previous + s.total
            self._line(
                f"trial {record.number} {record.state.value}{value}{why}{best} | "
                f"{s.previous + s.done}/{total} done | elapsed {hms(s.elapsed)}, "
                f"~{hms(s.remaining)} left"
            )
        self._redraw()

    def refresh(self, study: Study) -> None:
        """Re-read running and COMPLETE trials from the store (e.g. other workers' progress)."""
        tracker = self._require()
        # the loop's incremental read: finished trials are not fetched again at each refresh
        for t in study.storage.read_trials(study.study_id).trials:
            if t.state is TrialState.RUNNING and t.number in tracker.running:
                tracker.update(t)
            elif t.state is TrialState.COMPLETE:
                tracker.offer_best(t)
        now = self._clock()
        if self._plain and now - self._last_status >= self._status_every:
            self._last_status = now
            s = self.snapshot()
            for r in s.running:
                last = "" if r.last_step is None else f", step {r.last_step}: {r.last_value:.6g}"
                self._line(f"trial {r.number} running{last}")
        self._redraw()

    # State
    def snapshot(self) -> ProgressSnapshot:
        """What the display shows now.

        Raises:
            ConfigError: `start` was not called.
        """
        return self._require().snapshot(self._clock() - self._started)

    def __rich__(self) -> Any:
        from lightning_autotune.progress._view import render

        self._poll_running()
        return render(self.snapshot())

    # Helpers
    @property
    def _plain(self) -> bool:
        return not self.quiet and self._live is None

    def _require(self) -> ProgressTracker:
        if self._tracker is None:
            raise ConfigError(
                "ProgressReporter.start(study, ...) must be called before the trial hooks"
            )
        return self._tracker

    def _poll_running(self) -> None:
        """Re-read the running trials from the store (rich's refresh thread calls this while the
        loop itself waits inside an in-process trial)."""
        tracker, study = self._tracker, self._study
        now = self._clock()
        if tracker is None or study is None or now - self._last_poll < self._poll_every:
            return
        self._last_poll = now
        for record in tracker.running_records():
            try:
                tracker.update(study.storage.get_trial(record.trial_id))
            except Exception:
                return

    def _redraw(self) -> None:
        if self._live is not None:
            self._live.update(self.__rich__())

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.stream.write(f"[autotune {stamp}] {text}\n")
        self.stream.flush()


def _plan(previous: int, n_trials: int | None, time_budget: float | None) -> str:
    """The first line: what this run will do, counting what a resumed study already did."""
    budget = "" if time_budget is None else f", time budget {hms(time_budget)}"
    if n_trials == 0:
        return (
            f"nothing to run: the trial budget is spent ({previous} trial(s) done); raise "
            "max_trials (or pass n_trials) to run more"
        )
    if previous == 0:
        count = "trials until the time budget ends" if n_trials is None else f"{n_trials} trial(s)"
        return f"starting {count}{budget}"
    if n_trials is None:
        return f"resuming: {previous} trial(s) done, more until the time budget ends{budget}"
    return f"resuming: {previous} of {previous + n_trials} done, {n_trials} to run{budget}"


def _best(s: ProgressSnapshot) -> str:
    return f"{s.best_value:.6g} (trial {s.best_number}: {format_params(s.best_params, 60)})"


def _start_live(reporter: ProgressReporter) -> Any:
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        return None  # No rich: plain lines are still useful.
    live = Live(
        reporter,  # rich calls __rich__ on every refresh, so the clock keeps moving.
        console=Console(file=reporter.stream),
        refresh_per_second=2,
        transient=False,
    )
    live.start()
    return live
