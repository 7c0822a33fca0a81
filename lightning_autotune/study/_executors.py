"""Executors: where a study's trials run. This module: the interface and running in process.

An executor only runs trials; the study's loop decides which trials to run and the store records
what happened. A trial process reconnects to the study through the store's URL and records its
own result, so a dying coordinator loses nothing already finished (see `_process.py`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.trial import FailureKind, Trial, TrialRecord

if TYPE_CHECKING:
    from lightning_autotune.study._study import Study

__all__ = ["Executor", "Heartbeat", "InProcessExecutor", "Job", "RunSettings"]

log = logging.getLogger("lightning_autotune")

Objective = Callable[[Trial], Any]


@dataclass(frozen=True)
class RunSettings:
    """How each trial runs, the same for every executor.

    Attributes:
        catch: Exceptions recorded as FAILED instead of stopping the study.
        heartbeat_interval: Seconds between heartbeats of a running trial.
    """

    catch: tuple[type[BaseException], ...] = (Exception,)
    heartbeat_interval: float = 5.0


@dataclass
class Job:
    """One trial handed to an executor.

    Attributes:
        record: The trial as it was when it started.
        started: `time.monotonic()` at start.
        handle: The executor's own handle (a process, a future, None in process).
        done: Whether the trial's run has ended.
        exit_code: The trial process's exit status (a `ChildExit` value; negative: the signal
            that ended it), None until it ended or when there is no process.
        exit_note: How a trial process ended when that is worth recording ('signal SIGKILL').
        stop_at: When a stop was requested, the monotonic time after which it is forced.
        device: The GPU the trial holds (GPU mode).
        lost: When the executor knows why the trial's process ended without a result (its fork
            server died), the kind and reason to record; None: 'process died'.
    """

    record: TrialRecord
    started: float = field(default_factory=time.monotonic)
    handle: Any = None
    done: bool = False
    exit_code: int | None = None
    exit_note: str | None = None
    stop_at: float | None = None
    device: str | None = None
    lost: tuple[FailureKind, str] | None = None


class Executor(ABC):
    """Runs trials. `n_workers` trials may run at once.

    Subclasses implement `submit`, `poll` and `stop`; the study's loop calls them.

    Attributes:
        settings: How each trial runs (exceptions caught, heartbeat interval). `Study.optimize`
            sets it from its `catch` and `heartbeat_interval`, so an executor is configured in
            one place only.
    """

    n_workers: int = 1
    needs_url_storage: bool = False

    def __init__(self) -> None:
        # `Study.optimize` replaces it with its own `catch` and `heartbeat_interval`, the one
        # place where they are set.
        self.settings = RunSettings()

    def check(self, study: Study) -> None:
        """Refuse a study this executor cannot serve (before any trial starts)."""
        url = str(getattr(study.storage, "url", None) or "")
        if self.needs_url_storage and (
            not url or url in ("sqlite://", "sqlite:///") or ":memory:" in url
        ):
            raise ConfigError(
                f"{type(self).__name__} runs trials in other processes, which reach the study "
                f"through its store's URL, but study {study.name!r} is in "
                f"{type(study.storage).__name__}, which lives in this process only. Use "
                "storage='sqlite:///autotune.db' (one machine) or a postgresql:// URL."
            )

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Start what the trials will need (e.g. a fork server) while the first ones are chosen.

        Called once by the study's loop after `check`, before the sampler's first suggestion,
        so that slow starts overlap with it.
        """

    @abstractmethod
    def submit(self, study: Study, record: TrialRecord, objective: Objective) -> Job:
        """Start running `record` (a RUNNING trial) with `objective`."""

    @abstractmethod
    def poll(self, jobs: Sequence[Job], timeout: float) -> list[Job]:
        """Wait up to `timeout` seconds; return the jobs that ended (with `done` set)."""

    def stop(self, job: Job, grace: float) -> None:  # noqa: B027 - optional hook
        """Ask a running trial to stop; force it after `grace` seconds."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release whatever the executor holds."""


class InProcessExecutor(Executor):
    """Runs each trial in this process, one at a time: `submit` returns when the trial ended.

    A thread heartbeats the trial while it runs. Ctrl-C records the trial FAILED 'interrupted'
    and stops the study.
    """

    def __init__(self) -> None:
        super().__init__()

    def submit(self, study: Study, record: TrialRecord, objective: Objective) -> Job:
        from lightning_autotune.study._run_one import run_one

        job = Job(record)
        with Heartbeat(study, record.trial_id, self.settings.heartbeat_interval):
            run_one(study, Trial(study, record), objective, self.settings.catch)
        job.done = True
        return job

    def poll(self, jobs: Sequence[Job], timeout: float) -> list[Job]:
        return [j for j in jobs if j.done]


class Heartbeat:
    """A daemon thread that heartbeats one trial until the `with` block ends.

    Args:
        study: The trial's study.
        trial_id: The trial's store id.
        interval: Seconds between heartbeats.
        parent_pid: Watch this process: if it is no longer our parent, call `on_orphan`.
        on_orphan: Called (in the thread) when the parent disappeared.
    """

    def __init__(
        self,
        study: Study,
        trial_id: int,
        interval: float,
        parent_pid: int | None = None,
        on_orphan: Callable[[], None] | None = None,
    ) -> None:
        self.study, self.trial_id, self.interval = study, trial_id, interval
        self.on_orphan = on_orphan
        self._parent = parent_pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="autotune-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.study.storage.heartbeat(self.trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.on_orphan is not None and os.getppid() != self._parent:
                self.on_orphan()
                return
            try:
                self.study.storage.heartbeat(self.trial_id)
            except Exception as err:  # a busy store must not kill the trial
                log.debug("heartbeat of trial %d failed: %s", self.trial_id, err)
