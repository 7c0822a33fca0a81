"""`ProcessExecutor`: each trial in a process of its own, forked from a server or spawned.

A trial process reconnects to the study through the store's URL and records its own result.
The executor watches the processes: one that ended without a result is recorded by the study's
loop ('process died'), and when the fork server itself dies (the OOM killer may pick it), its
running trials are stopped and recorded as 'fork server died' (retried), and the next trial
starts a new server.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lightning_autotune._validation import check_int
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.study._executors import Executor, Job, Objective
from lightning_autotune.study._faults import worker_id
from lightning_autotune.study._forkserver import KEPT, ForkedTrial, ForkServer, ForkServerDied
from lightning_autotune.study._resources import (
    ResourceType,
    TrialResources,
    parse_memory,
    visible_gpus,
)
from lightning_autotune.trial import FailureKind, TrialRecord, TrialState

if TYPE_CHECKING:
    from lightning_autotune.study._study import Study

__all__ = ["ProcessExecutor"]

# Set by `seed_everything` in this process and read by Lightning only when a trial runs, so they
# change between two studies without changing what a fork server imported. They go to each trial
# with its fork, not into the server's environment: a server kept from an earlier study (whose key
# is the server's environment) then serves the next study after a seeded in-process run, and its
# trials see this process's current values, not the earlier study's.
RUN_TIME_ONLY = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")

log = logging.getLogger("lightning_autotune")

# The trial process's entry point (`-c`, not `-m`: the module is already part of the package).
# Ctrl-C is ignored until `main` installs its handler: a traceback from an interrupted import
# would be noise, and the coordinator stops the process anyway.
_CHILD_MAIN = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from lightning_autotune.study._child import main; sys.exit(main())"
)


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
        keep_server: ('forkserver') When the study ends, keep its idle fork server for the
            next study of this process that would start an identical one (same environment,
            folder and `preload`), which then skips the seconds of importing torch. It exits
            with this process. False: stop it with the study.

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
        keep_server: bool = True,
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
        self.keep_server = keep_server
        self._server: ForkServer | None = None
        self._server_key: tuple[Any, ...] = ()
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
            proc: Any = self._fork(study, resources, dumps(task))
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

    def prepare(self) -> None:
        """Start the fork server now: it imports torch and Lightning (seconds) while the
        sampler proposes the first trials."""
        if self.start_method == "forkserver":
            self._running_server()

    def _running_server(self) -> ForkServer:
        if self._server is None or not self._server.alive():
            env, preload = self._environment(self._resources([])), self._preload()
            for name in RUN_TIME_ONLY:
                env.pop(name, None)  # sent with each fork instead (see `_fork`)
            key = (sys.executable, os.getcwd(), tuple(sorted(env.items())), tuple(preload))
            kept = KEPT.take(key) if self.keep_server else None
            self._server = kept or ForkServer(env, preload)
            self._server_key = key
        return self._server

    def _fork(self, study: Study, resources: TrialResources, payload: bytes) -> ForkedTrial:
        """Fork a trial process from the server, starting a new server if it died."""
        for attempt in (1, 2):
            server = self._running_server()
            try:
                current = {k: os.environ[k] for k in RUN_TIME_ONLY if k in os.environ}
                return server.fork(
                    {**current, **resources.environment()},
                    payload,
                    waiting=lambda: _keep_claimed_alive(study, self._live),
                    every=self.settings.heartbeat_interval,
                )
            except ForkServerDied as err:
                # It died between two trials (or while forking this one): a new one, once.
                log.warning("%s; starting a new one", err)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

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
        """Stop (or keep, see `keep_server`) the fork server; let idle pre-started
        interpreters go."""
        if self._server is not None:
            if self.keep_server:
                KEPT.keep(self._server_key, self._server)  # closes it if a trial still runs
            else:
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
        news = self._server.news if self._server is not None else None
        while True:
            if news is not None:
                news.clear()  # before the look: an exit after it wakes the wait below
            ended = []
            for job in jobs:
                proc: Any = job.handle  # a Popen or a ForkedTrial
                if isinstance(proc, ForkedTrial) and proc.orphaned():
                    _settle_orphan(job, proc)
                    ended.append(job)
                    continue
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
            wait = min(0.05, max(0.0, end - time.monotonic()))
            if news is None:
                time.sleep(wait)
            else:  # woken at once by an exit the fork server reports
                news.wait(wait)

    def stop(self, job: Job, grace: float) -> None:
        proc: subprocess.Popen[bytes] = job.handle
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        if job.stop_at is None:
            job.stop_at = time.monotonic() + grace


def _keep_claimed_alive(study: Study, live: Sequence[Job]) -> None:
    """Heartbeat the trials this process claimed whose process is not started yet.

    While a new fork server imports torch (seconds; minutes on a crowded machine), the trials
    claimed for it are RUNNING without a process that could heartbeat them.
    """
    me, started = worker_id(), {job.record.trial_id for job in live}
    try:
        for record in study.get_trials([TrialState.RUNNING]):
            if record.worker == me and record.trial_id not in started:
                study.storage.heartbeat(record.trial_id)
    except Exception as err:  # a busy store: the next call tries again
        log.debug("could not heartbeat the trials waiting for the fork server: %s", err)


def _settle_orphan(job: Job, proc: ForkedTrial) -> None:
    """End a job whose fork server died: stop its process, which can no longer be watched."""
    proc.kill()
    note = proc.server.death_note()
    job.done = True
    job.exit_note = f"fork server died: {note}"
    job.lost = (FailureKind.FORK_SERVER_DIED, f"fork server died: {note} while the trial ran")
    log.warning(
        "trial %d: fork server died (%s); its process %d stopped", job.record.number, note, proc.pid
    )


def _exit_note(code: int) -> str | None:
    if code == 0:
        return None
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
