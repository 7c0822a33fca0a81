"""The optimize loop: ask, run the objective on an executor, tell, until a budget runs out.

The loop keeps no memory that matters: which trials exist, which failed and which need a retry
are read from the store each round, so a killed coordinator resumes by running the same command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lightning_autotune._time import parse_duration
from lightning_autotune._validation import check_int, check_number
from lightning_autotune.exceptions import (
    ConfigError,
    StudyFailedError,
)
from lightning_autotune.study._faults import (
    FailureThreshold,
    count_proposals,
    fail_dead_trials,
    plan_retries,
    worker_id,
)
from lightning_autotune.study._run_one import run_one
from lightning_autotune.trial import FailureKind, Trial, TrialRecord, TrialState

if TYPE_CHECKING:
    from lightning_autotune.progress import ProgressReporter
    from lightning_autotune.storage import StudyTrials
    from lightning_autotune.study._executors import Executor, Job
    from lightning_autotune.study._study import Study

__all__ = ["Budget", "run_one", "run_study"]


log = logging.getLogger("lightning_autotune")

_MAINTENANCE_EVERY = 2.0  # seconds between looks for dead trials while trials run
_INTERRUPT_GRACE = 3.0  # seconds trial processes get to end by themselves after a Ctrl-C


@dataclass(frozen=True)
class Budget:
    """When the loop ends and what it tolerates.

    Attributes:
        n_trials: Trials this call starts (retries included); None: no limit.
        max_trials: Trials the whole study may hold, not counting retries and trials ended by a
            setup error; None: no limit.
        timeout: Seconds for this call; at the end running trials are stopped and recorded.
        trial_timeout: Seconds one trial may run before it is stopped (trial processes only).
        max_retries: Retries of a trial whose process died or lost its heartbeat.
        failure_threshold: Stop the study when too many trials failed.
        heartbeat_grace: Seconds without a heartbeat after which a RUNNING trial counts as dead.
        stop_grace: Seconds a stopped trial process gets to end before it is killed.
    """

    n_trials: int | None = None
    max_trials: int | None = None
    timeout: float | None = None
    trial_timeout: float | None = None
    max_retries: int = 1
    failure_threshold: FailureThreshold | None = None
    heartbeat_grace: float = 60.0
    stop_grace: float = 10.0

    @classmethod
    def make(
        cls,
        n_trials: int | None,
        max_trials: int | None,
        timeout: float | str | None,
        trial_timeout: float | str | None = None,
        **rest: object,
    ) -> Budget:
        """Check and normalize the user's budget arguments."""
        seconds = parse_duration(timeout, "timeout")
        for name, count in (("n_trials", n_trials), ("max_trials", max_trials)):
            if count is not None:
                check_int(count, name, low=0, hint="or None to run until the timeout")
        if n_trials is None and max_trials is None and seconds is None:
            raise ConfigError(
                "optimize needs n_trials or timeout (or both) so that it can end; max_trials "
                "(the study's total) works too"
            )
        check_int(rest.get("max_retries", 1), "max_retries", low=0, hint="e.g. 1")
        for name in ("heartbeat_grace", "stop_grace"):
            if name in rest:
                rest[name] = check_number(rest[name], name, low=0.0, hint="seconds, e.g. 10")
        threshold = FailureThreshold.parse(rest.pop("failure_threshold", None))  # type: ignore[arg-type]
        return cls(
            n_trials,
            max_trials,
            seconds,
            parse_duration(trial_timeout, "trial_timeout"),
            failure_threshold=threshold,
            **rest,  # type: ignore[arg-type]
        )


@runtime_checkable
class TimeLimited(Protocol):
    """An objective that enforces time limits itself, e.g. `LightningObjective` (`max_time`)."""

    def with_time_limits(self, trial_timeout: float | None, deadline: float | None) -> Any:
        """This objective stopping each trial after `trial_timeout` s and at `deadline`."""


def in_process_objective(
    objective: Callable[[Trial], float | Sequence[float]], budget: Budget
) -> Callable[[Trial], float | Sequence[float]]:
    """The objective to run in this process under `budget`'s time limits.

    A trial running in the coordinator's process cannot be stopped from outside it, so an
    objective that enforces the limits itself (`TimeLimited`) receives them. Otherwise
    `trial_timeout` is refused; `timeout` is checked between trials (a running trial finishes).

    Raises:
        ConfigError: `trial_timeout` with a plain objective.
    """
    if isinstance(objective, TimeLimited):
        deadline = None if budget.timeout is None else time.time() + budget.timeout
        limited: Callable[[Trial], float | Sequence[float]]
        limited = objective.with_time_limits(budget.trial_timeout, deadline)
        return limited
    if budget.trial_timeout is not None:
        raise ConfigError(
            f"trial_timeout={budget.trial_timeout:g} cannot stop a trial that runs in this "
            "process (n_workers=1): nothing can stop the objective's Python code from outside. "
            "Run each trial in its own process (n_workers > 1, or "
            "executor=ProcessExecutor(n_workers=1)), or use a LightningObjective, whose "
            "Trainer stops itself at max_time"
        )
    return objective


def run_study(
    study: Study,
    objective: Callable[[Trial], float | Sequence[float]],
    executor: Executor,
    budget: Budget,
    progress: ProgressReporter | None = None,
) -> str:
    """Run trials on `executor` until the budget ends; return why the loop stopped.

    `progress`, when given, is told of every trial start and end and refreshed while trials run.

    Raises:
        StudyFailedError: The failure threshold was passed, or a trial hit a setup error.
    """
    executor.check(study)
    executor.prepare()
    deadline = None if budget.timeout is None else time.monotonic() + budget.timeout
    jobs: dict[int, Job] = {}
    started = 0
    stop_reason = ""
    me = worker_id()
    checked = vouched = -1.0
    if progress is not None:
        progress.start(study, n_trials=_planned(study, budget), time_budget=budget.timeout)
    try:
        while True:
            ended = executor.poll(list(jobs.values()), timeout=0.0 if not jobs else 0.2)
            for job in ended:
                jobs.pop(job.record.trial_id)
                _settle(study, job, progress)
            now = time.monotonic()
            if ended or not jobs or now - checked > _MAINTENANCE_EVERY:
                checked = now
                if progress is not None and jobs:
                    progress.refresh(study)
                if now - vouched > budget.heartbeat_grace / 4:
                    vouched = now
                    _vouch_for(study, jobs.values())
                fail_dead_trials(study, budget.heartbeat_grace, own=set(jobs))
                plan_retries(study, budget.max_retries)
                if budget.failure_threshold is not None:
                    snapshot = study.storage.read_trials(study.study_id).trials
                    budget.failure_threshold.check(study.name, snapshot)
            if deadline is not None and now >= deadline:
                stop_reason = stop_reason or "time budget reached"
                # Trials that watch the deadline themselves (fit's max_time) finish and record
                # their last value within the grace; the others are then stopped.
                if now >= deadline + budget.stop_grace:
                    for job in jobs.values():
                        reason = "stopped: time budget reached"
                        kind = FailureKind.TIME_BUDGET
                        _stop(study, executor, job, reason, kind, budget.stop_grace)
            if budget.trial_timeout is not None:
                for job in jobs.values():
                    if job.stop_at is None and now - job.started > budget.trial_timeout:
                        reason = f"timeout: ran longer than trial_timeout={budget.trial_timeout:g}s"
                        kind = FailureKind.TIMEOUT
                        _stop(study, executor, job, reason, kind, budget.stop_grace)
            wanted = None
            if not stop_reason:
                wanted = _how_many(study, budget, started, executor.n_workers - len(jobs))
                for record in _next_trials(study, wanted or 0, me, budget.max_trials):
                    started += 1
                    if progress is not None:
                        progress.on_trial_start(record)
                    job = executor.submit(study, record, objective)
                    if job.done:
                        _settle(study, job, progress)
                    else:
                        jobs[record.trial_id] = job
            if not jobs and (stop_reason or wanted is None):
                # Retries of trials that just died are queued above, so nothing is left behind.
                stop_reason = stop_reason or "trial budget reached"
                break
    except BaseException as err:
        reason = f"interrupted: {type(err).__name__}"
        for job in jobs.values():
            _stop(study, executor, job, reason, FailureKind.INTERRUPTED, _INTERRUPT_GRACE)
        _wait_ended(executor, list(jobs.values()), _INTERRUPT_GRACE + 1.0)
        # A trial created just before the interrupt may not be in `jobs` yet (its process was
        # being started): it is ours by its worker id, and must not be left RUNNING either.
        try:
            running = study.get_trials([TrialState.RUNNING])
        except Exception as store_err:  # the store may be why we stopped: keep `err` on top
            log.warning("could not list running trials after %s: %s", reason, store_err)
            running = []
        for record in running:
            if record.worker == me:
                _fail_if_running(study, record, reason, FailureKind.INTERRUPTED)
        threshold = isinstance(err, StudyFailedError)
        _close_retries(study, "the failure threshold stopped the study" if threshold else reason)
        raise
    finally:
        executor.shutdown()
        if progress is not None:
            progress.close()
    _close_retries(study, stop_reason)
    log.info("study %r: %s after %d trial(s) in this call", study.name, stop_reason, started)
    study.storage.set_study_attr(
        study.study_id,
        "last_stop",
        {"reason": stop_reason, "at": datetime.now(timezone.utc).isoformat(), "by": me},
    )
    return stop_reason


def _close_retries(study: Study, why: str) -> None:
    """Close the retries still queued when the loop ends, so none is left WAITING.

    They are recorded FAILED 'retry not run: <why>' with kind INTERRUPTED: the next run of
    the study queues each again (`plan_retries`) without spending a retry, and the failure
    threshold does not count them.
    """
    try:
        closed = study.storage.close_waiting_retries(study.study_id, f"retry not run: {why}")
    except Exception as err:  # the store may be why we stopped: keep the first error on top
        log.warning("could not close the queued retries of study %r: %s", study.name, err)
        return
    for record in closed:
        log.warning(
            "trial %d (retry of trial %s): %s; it is queued again when the study resumes",
            record.number,
            record.retry_of,
            record.reason,
        )


def _how_many(study: Study, budget: Budget, started: int, free: int) -> int | None:
    """Trials to start now (0: wait for running ones), or None when the budget is spent."""
    limit = None if budget.n_trials is None else budget.n_trials - started
    if free <= 0 and (limit is None or limit > 0):
        return 0  # every worker is busy: no need to read the store to know it
    if budget.max_trials is not None:
        room = _room(study, budget.max_trials)
        limit = room if limit is None else min(limit, room)
    if limit is not None and limit <= 0:
        return None
    return max(0, free) if limit is None else min(free, limit)


def _room(study: Study, max_trials: int) -> int:
    """Trials the study may still start under `max_trials`: fresh ones, plus queued retries."""
    trials = study.storage.read_trials(study.study_id).trials  # incremental: the loop's read
    fresh = max_trials - count_proposals(trials)
    return max(0, fresh) + sum(1 for t in trials if t.state is TrialState.WAITING)


def _planned(study: Study, budget: Budget) -> int | None:
    """Trials this call means to run, as the progress display counts them (None: unknown)."""
    if budget.max_trials is None:
        return budget.n_trials
    room = _room(study, budget.max_trials)
    return room if budget.n_trials is None else min(budget.n_trials, room)


def _next_trials(study: Study, n: int, me: str, max_trials: int | None = None) -> list[TrialRecord]:
    """Claim queued trials first, then ask the sampler for the rest in one batch.

    Fewer than `n` come back when the study reached `max_trials` proposals meanwhile (another
    worker took the last ones): the store checks that in the step that creates each trial.
    """
    if n <= 0:
        return []
    records: list[TrialRecord] = []
    read = study.storage.read_trials(study.study_id)
    snapshot: StudyTrials | None = read  # serves the proposal unless claims changed the study
    # Claims are tried only when the read saw a queued trial; one queued after it is claimed
    # at the next start, as if it came a moment later.
    if any(t.state is TrialState.WAITING for t in read.unfinished()):
        while len(records) < n:
            claimed = study.storage.claim_waiting(study.study_id, worker=me)
            if claimed is None:
                break
            records.append(claimed)
        snapshot = None
    if len(records) < n:
        records.extend(
            study._create_proposed(
                n - len(records), worker=me, max_proposals=max_trials, snapshot=snapshot
            )
        )
    return records


def _wait_ended(executor: Executor, jobs: list[Job], timeout: float) -> None:
    """Poll until every job ended (stopped jobs are killed once their grace is over)."""
    end = time.monotonic() + timeout
    while jobs and time.monotonic() < end:
        executor.poll(jobs, timeout=0.1)
        jobs = [job for job in jobs if not job.done]


def _stop(
    study: Study, executor: Executor, job: Job, reason: str, kind: FailureKind, grace: float
) -> None:
    if job.stop_at is not None:
        return
    _fail_if_running(study, job.record, reason, kind)
    executor.stop(job, grace)


def _settle(study: Study, job: Job, progress: ProgressReporter | None = None) -> None:
    """After a trial's process ended: record it if it could not record itself."""
    from lightning_autotune.study._child import SETUP_ERROR_EXITS

    record = study.storage.get_trial(job.record.trial_id)
    error = None if job.exit_code is None else SETUP_ERROR_EXITS.get(job.exit_code)
    if error is not None:
        # Raise what an in-process trial would have raised (e.g. MetricNotFoundError).
        raise error(
            f"study {study.name!r} stopped: trial {record.number} hit an error that would fail "
            f"every trial: {record.reason}"
        )
    if record.state is TrialState.RUNNING:
        kind, reason = job.lost or (
            FailureKind.PROCESS_DIED,
            f"process died: {job.exit_note or 'no result recorded'}",
        )
        _fail_if_running(study, record, reason, kind)
        record = study.storage.get_trial(record.trial_id)
    if progress is not None:
        progress.on_trial_end(record)


def _vouch_for(study: Study, jobs: Iterable[Job]) -> None:
    """Heartbeat the trials whose jobs this loop sees running.

    A trial's own heartbeat can stall while its process lives (a crowded machine starves it, a
    busy SQLite file refuses its writes), and the staleness test would then fail a trial that
    is still training. The executor's `poll` is a direct sign of life for the jobs of this loop,
    so the loop renews their lease itself; the heartbeat test still catches the trials of a
    loop that is gone.
    """
    for job in jobs:
        try:
            study.storage.heartbeat(job.record.trial_id)
        except Exception as err:  # finished meanwhile, or a busy store: the next pass retries
            log.debug("could not renew the lease of trial %d: %s", job.record.number, err)


def _fail_if_running(study: Study, record: TrialRecord, reason: str, kind: FailureKind) -> None:
    try:
        if study.storage.get_trial(record.trial_id).state is TrialState.RUNNING:
            study.storage.finish_trial(record.trial_id, TrialState.FAILED, None, reason, kind)
            log.warning("trial %d: %s", record.number, reason)
    except Exception as err:  # it finished by itself meanwhile
        log.debug("trial %d finished while being stopped: %s", record.number, err)
