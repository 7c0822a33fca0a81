"""Executors: where a study's trials run (in this process, or one spawned process per trial).

An executor only runs trials; the study's loop decides which trials to run and the store records
what happened. A trial process reconnects to the study through the store's URL and records its
own result, so a dying coordinator loses nothing already finished.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lightning_autotune._validation import check_int
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.study._forkserver import ForkServer
from lightning_autotune.study._resources import (
    ResourceType,
    TrialResources,
    parse_memory,
    visible_gpus,
)
from lightning_autotune.trial import Trial, TrialRecord

if TYPE_CHECKING:
    from lightning_autotune.study._study import Study

__all__ = ["Executor", "InProcessExecutor", "Job", "ProcessExecutor", "RunSettings"]

log = logging.getLogger("lightning_autotune")

Objective = Callable[[Trial], Any]

# The trial process's entry point (`-c`, not `-m`: the module is already part of the package).
# Ctrl-C is ignored until `main` installs its handler: a traceback from an interrupted import
# would be noise, and the coordinator stops the process anyway.
_CHILD_MAIN = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from lightning_autotune.study._child import main; sys.exit(main())"
)


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
    """

    record: TrialRecord
    started: float = field(default_factory=time.monotonic)
    handle: Any = None
    done: bool = False
    exit_code: int | None = None
    exit_note: str | None = None
    stop_at: float | None = None
    device: str | None = None


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


class ProcessExecutor(Executor):
    """Runs each trial in its own fresh Python process, `n_workers` at a time.

    Each trial process is forked from a server that imported torch once (or, with 'spawn', is
    a new interpreter; neither re-runs the user's script), gets one GPU through
    CUDA_VISIBLE_DEVICES (GPU mode, round-robin over `devices`) or `threads_per_trial` CPU
    threads, enforces `memory_limit`, reconnects to the study through the store's URL and
    records its own result. Its memory, GPU memory included, is returned to the system when it
    exits. The objective is shipped with cloudpickle, so functions defined in a script's
    `__main__` or in a notebook work.

    Args:
        n_workers: Trials running at once.
        resource_type: 'CPU' or 'GPU'.
        memory_limit: Per trial, e.g. '16GB'. CPU: how much address space the trial may add to
            what the interpreter and its libraries hold after import (`RLIMIT_AS`); GPU: the
            share of its device (`torch.cuda.set_per_process_memory_fraction`). Exceeding it
            ends the trial FAILED with kind OOM.
        devices: GPU ids to use (GPU mode); default: every visible GPU.
        threads_per_trial: torch / OpenMP / MKL threads of each trial.
        prestart: ('spawn') Start each trial's interpreter while the previous trial runs, so
            that the import of torch and Lightning (seconds) overlaps with training.
        start_method: 'forkserver' (default on Linux): a server process imports torch (and
            Lightning, and `preload`) once and forks each trial process from it, which saves
            seconds of CPU per trial; 'spawn': a fresh interpreter per trial.
        preload: More modules the fork server or pre-started interpreters import in advance
            (e.g. your model's module).

    Raises:
        ConfigError: A bad argument, or GPU mode without a GPU.

    Example:
        >>> executor = ProcessExecutor(2, memory_limit="2GB")
        >>> # study.optimize(objective, n_trials=20, executor=executor)
    """

    needs_url_storage = True

    def __init__(
        self,
        n_workers: int = 2,
        resource_type: str | ResourceType = ResourceType.CPU,
        memory_limit: int | str | None = None,
        devices: Sequence[int | str] | None = None,
        threads_per_trial: int = 1,
        prestart: bool = True,
        start_method: str | None = None,
        preload: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.n_workers = check_int(n_workers, "n_workers", hint="e.g. 2")
        threads_per_trial = check_int(threads_per_trial, "threads_per_trial", hint="e.g. 1")
        self.resource_type = ResourceType.parse(resource_type)
        self.memory_limit = parse_memory(memory_limit)
        self.threads_per_trial = threads_per_trial
        self.devices = [str(d) for d in devices] if devices is not None else None
        if self.resource_type is ResourceType.GPU:
            self.devices = self.devices if self.devices is not None else visible_gpus()
            if not self.devices:
                raise ConfigError(
                    "resource_type='GPU' but no GPU is visible (CUDA_VISIBLE_DEVICES or "
                    "torch.cuda.device_count()); use resource_type='CPU' or pass devices=[...]"
                )
        self.prestart = prestart
        default = "forkserver" if sys.platform.startswith("linux") else "spawn"
        self.start_method = start_method or default
        if self.start_method not in ("forkserver", "spawn"):
            raise ConfigError(
                f"start_method must be 'forkserver' or 'spawn', got {self.start_method!r}"
            )
        self.preload = list(preload)
        self._server: ForkServer | None = None
        self._next_device = 0
        self._live: list[Job] = []
        self._spares: dict[str | None, subprocess.Popen[bytes]] = {}

    def __repr__(self) -> str:
        return (
            f"ProcessExecutor(n_workers={self.n_workers}, "
            f"resource_type={self.resource_type.value!r}, memory_limit={self.memory_limit})"
        )

    def _resources(self, busy: Sequence[str | None]) -> TrialResources:
        device = None
        if self.devices:
            # Round-robin, preferring a device no running trial holds.
            free = [d for d in self.devices if d not in busy] or self.devices
            device = free[self._next_device % len(free)]
            self._next_device += 1
        return TrialResources(self.resource_type, device, self.threads_per_trial, self.memory_limit)

    def submit(self, study: Study, record: TrialRecord, objective: Objective) -> Job:
        from lightning_autotune.study._child import ChildTask, dumps

        self._live = [j for j in self._live if not j.done]
        resources = self._resources([j.device for j in self._live])
        task = ChildTask(
            storage=study.storage,
            study_name=study.name,
            trial_id=record.trial_id,
            pruner=study.pruner,
            objective=objective,
            catch=self.settings.catch,
            resources=resources,
            heartbeat_interval=self.settings.heartbeat_interval,
            parent_pid=os.getpid(),
        )
        if self.start_method == "forkserver":
            payload = dumps(task)
            if self._server is None or not self._server.alive():
                self._server = ForkServer(self._environment(self._resources([])), self._preload())
            proc: Any = self._server.fork(resources.environment(), payload)
        else:
            proc = self._spares.pop(resources.device, None)
            if proc is None or proc.poll() is not None:
                proc = self._spawn(resources)
            if self.prestart:
                # Start the next trial's interpreter now: it loads torch while this one runs.
                self._spares[resources.device] = self._spawn(resources)
            assert proc.stdin is not None
            proc.stdin.write(dumps(task))
            proc.stdin.close()
        log.info("trial %d started in process %d (%s)", record.number, proc.pid, resources)
        job = Job(record, handle=proc, device=resources.device)
        self._live.append(job)
        return job

    def _environment(self, resources: TrialResources) -> dict[str, str]:
        env = {**os.environ, **resources.environment()}
        # The child imports this package and the user's modules from the same places we do.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        return env

    def _preload(self) -> list[str]:
        loaded = [m for m in ("lightning.pytorch",) if m in sys.modules]
        return ["torch", *loaded, *self.preload]

    def _spawn(self, resources: TrialResources) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD_MAIN, ",".join(self._preload())],
            stdin=subprocess.PIPE,
            env=self._environment(resources),
        )

    def shutdown(self) -> None:
        """Stop the fork server and let idle pre-started interpreters go."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for proc in self._spares.values():
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self._spares.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._spares.clear()

    def poll(self, jobs: Sequence[Job], timeout: float) -> list[Job]:
        end = time.monotonic() + timeout
        while True:
            ended = []
            for job in jobs:
                proc: subprocess.Popen[bytes] = job.handle
                code = proc.poll()
                if code is None and job.stop_at is not None and time.monotonic() > job.stop_at:
                    proc.kill()
                    code = proc.wait()
                if code is not None:
                    job.done = True
                    job.exit_code = code
                    job.exit_note = _exit_note(code)
                    ended.append(job)
            if ended or time.monotonic() >= end:
                return ended
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def stop(self, job: Job, grace: float) -> None:
        proc: subprocess.Popen[bytes] = job.handle
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        if job.stop_at is None:
            job.stop_at = time.monotonic() + grace


def _exit_note(code: int) -> str | None:
    if code == 0:
        return None
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
