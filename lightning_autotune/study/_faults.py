"""Faults: failure reasons, the failure threshold, dead trials and their retries.

Everything here derives from the store, so a resumed or a second coordinator reaches the same
decisions without memory of its own.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.exceptions import ConfigError, StudyFailedError
from lightning_autotune.trial import FailureKind, TrialRecord, TrialState

if TYPE_CHECKING:
    from lightning_autotune.storage import StudyTrials
    from lightning_autotune.study._study import Study

__all__ = [
    "FailureThreshold",
    "check_dead_trials",
    "count_proposals",
    "describe_failure",
    "fail_dead_trials",
    "failure_kind",
    "failure_location",
    "is_oom",
    "is_proposal",
    "non_numeric_reason",
    "pid_exists",
    "plan_retries",
    "worker_id",
]

log = logging.getLogger("lightning_autotune")


def is_proposal(trial: TrialRecord) -> bool:
    """Whether `trial` counts as one of the study's proposals, against `max_trials`.

    Retries repeat a proposal; a trial ended by a setup error (a wrong monitor, a malformed
    argument) says nothing about its configuration and is run again once the user fixed it.
    Neither counts, and neither enters the sampler's history. Both stay in the store.
    """
    return count_proposals((trial,)) == 1


def count_proposals(trials: Sequence[TrialRecord]) -> int:
    """How many of `trials` are proposals (`is_proposal`, whose rule this is), without a call
    per trial: a study of 10,000 trials counts them at every proposal."""
    setup_error = FailureKind.SETUP_ERROR
    return len(trials) - len([t for t in trials if t.retry_of is not None or t.kind is setup_error])


def worker_id() -> str:
    """'host:pid' of this process, as recorded in `TrialRecord.worker`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_oom(err: BaseException) -> bool:
    """Whether an exception means CPU or CUDA memory ran out."""
    if isinstance(err, MemoryError):
        return True
    if type(err).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError, no torch import
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text  # CUDA / torch CPU allocator
    )


def failure_kind(err: BaseException) -> FailureKind:
    """The kind recorded for a trial whose objective raised `err` (caught as a failure)."""
    return FailureKind.OOM if is_oom(err) else FailureKind.EXCEPTION


def describe_failure(err: BaseException) -> str:
    """The reason recorded for a trial whose objective raised `err`: 'Type: message'.

    Out-of-memory errors read 'oom: Type: message'. Where it was raised is recorded
    apart (see `failure_location`), the kind too (see `failure_kind`).
    """
    text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return f"oom: {text}" if is_oom(err) else text


def non_numeric_reason(value: object) -> str | None:
    """The failure reason when an objective returned something that is not a number (or numbers).

    None for a number, a 0-d array/tensor or a sequence of numbers; how many values the study
    needs is checked by `Study.tell`.
    """
    scalar = (
        value is None
        or isinstance(value, (str, bytes, Mapping))
        or getattr(value, "ndim", None) == 0  # a 0-d numpy array / torch tensor
        or not isinstance(value, Iterable)
    )
    items: list[object] = [value] if scalar else list(value)  # type: ignore[call-overload]
    for item in items:
        ok = item is not None and not isinstance(item, (bool, str, bytes))
        if ok:
            try:
                float(item)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                ok = False
        if not ok:
            shown = repr(value)
            shown = shown if len(shown) <= 200 else shown[:197] + "..."
            return (
                f"the objective returned {type(value).__name__} {shown}, not a number; return "
                "the value to optimize (a float), or raise an exception to mark the trial failed"
            )
    return None


def failure_location(err: BaseException) -> str | None:
    """'file:line in function' of the innermost frame of `err`'s traceback, if any."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return None
    last = frames[-1]
    return f"{os.path.basename(last.filename)}:{last.lineno} in {last.name}"


@dataclass(frozen=True)
class FailureThreshold:
    """Stop a study when more than `fraction` of its finished trials failed, after `min_trials`.

    Trials ended by a setup error or an interruption are not counted.

    Args:
        fraction: Largest tolerated share of FAILED among finished trials, in [0, 1).
        min_trials: Finished trials needed before the rule applies.

    Example:
        >>> FailureThreshold.parse((0.5, 5))
        FailureThreshold(fraction=0.5, min_trials=5)
    """

    fraction: float
    min_trials: int = 5

    def __post_init__(self) -> None:
        hint = "e.g. 0.5, or failure_threshold=None for no threshold"
        fraction = check_number(
            self.fraction, "failure_threshold fraction", low=0.0, high=1.0, hint=hint
        )
        if fraction == 1.0:  # every trial failing would be tolerated: the rule could never fire
            raise ConfigError(
                f"failure_threshold fraction must be < 1, got {self.fraction!r}; {hint}"
            )
        check_int(self.min_trials, "failure_threshold min_trials", hint="e.g. 5")

    @classmethod
    def parse(
        cls, value: FailureThreshold | float | tuple[float, int] | None
    ) -> FailureThreshold | None:
        """From None, a fraction, a (fraction, min_trials) pair or an instance."""
        if value is None or isinstance(value, FailureThreshold):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(float(value))
        if isinstance(value, tuple) and len(value) == 2:
            return cls(value[0], value[1])
        raise ConfigError(
            "failure_threshold must be a fraction or a (fraction, min_trials) pair such as "
            f"(0.5, 5), got {value!r}"
        )

    def check(self, study_name: str, trials: Sequence[TrialRecord]) -> None:
        """Raise `StudyFailedError` with the reasons counted when the threshold is passed."""
        # Setup errors and interruptions (Ctrl-C, a retry the study stopped before it ran) say
        # nothing about how often the objective fails.
        finished = [t for t in trials if t.state.is_finished and t.kind not in _NOT_COUNTED]
        failed = [t for t in finished if t.state is TrialState.FAILED]
        if len(finished) < self.min_trials or len(failed) <= self.fraction * len(finished):
            return
        counts = Counter(_reason_key(t.reason) for t in failed)
        summary = "; ".join(f"{n} x {reason}" for reason, n in counts.most_common())
        raise StudyFailedError(
            f"study {study_name!r} stopped: {len(failed)} of {len(finished)} finished trials "
            f"FAILED, more than failure_threshold={self.fraction:g} (after {self.min_trials}). "
            f"Reasons: {summary}. Fix the cause, or raise failure_threshold."
        )


_NOT_COUNTED = (FailureKind.SETUP_ERROR, FailureKind.INTERRUPTED)


def _reason_key(reason: str | None) -> str:
    if not reason:
        return "(no reason)"
    return reason.split(" (at ", 1)[0][:120]


def _retry_depth(trial: TrialRecord, by_number: dict[int, TrialRecord]) -> int:
    """Retries spent on the chain ending at `trial`; resuming after an interruption spends none."""
    depth, steps = 0, 0
    while trial.retry_of is not None and trial.retry_of in by_number and steps < 1000:
        trial = by_number[trial.retry_of]
        depth += trial.kind is not FailureKind.INTERRUPTED
        steps += 1
    return depth


def plan_retries(study: Study, max_retries: int) -> list[TrialRecord]:
    """Queue a WAITING retry (same params, `retry_of` set) for each failed trial that deserves one.

    A trial deserves one when it failed through no fault of its configuration (its kind is
    `retryable`: interrupted, process died, heartbeat or coordinator lost), has no retry yet,
    and its chain of retries is shorter than `max_retries`. A trial the user interrupted
    (Ctrl-C) is always run again, and such a resumption does not spend a retry.

    Returns:
        The WAITING trials created.
    """
    trials = study.storage.read_trials(study.study_id).trials  # the loop's incremental read
    by_number = {t.number: t for t in trials}
    retried = {t.retry_of for t in trials if t.retry_of is not None}
    made = []
    for t in trials:
        if (
            t.state is TrialState.FAILED
            and t.number not in retried
            and t.kind is not None
            and t.kind.retryable
            and (t.kind is FailureKind.INTERRUPTED or _retry_depth(t, by_number) < max_retries)
        ):
            made.append(
                study.storage.create_trial(
                    study.study_id, dict(t.params), state=TrialState.WAITING, retry_of=t.number
                )
            )
            log.warning(
                "trial %d (%s) will be retried as trial %d", t.number, t.reason, made[-1].number
            )
    return made


def fail_dead_trials(
    study: Study, grace: float | None, own: Collection[int] = ()
) -> list[TrialRecord]:
    """Mark FAILED the RUNNING trials whose process is gone.

    A trial is dead when its heartbeat (or start) is older than `grace` seconds (the store's
    atomic `fail_stale_trials`; None skips this test), or when its worker is a process on this
    host that no longer exists. Trials in `own` (ids run by the caller, which watches their
    processes itself) are spared the second test.

    Only the RUNNING trials are read, so opening a study of 10,000 finished trials (as every
    `load_study` does) reads none of them.

    Returns:
        The trials this call marked FAILED.
    """
    dead = _fail_stale(study, grace)
    running = study.storage.get_trials(study.study_id, [TrialState.RUNNING])
    return _fail_gone(study, running, own, dead)


def check_dead_trials(
    study: Study, grace: float | None, own: Collection[int] = ()
) -> tuple[list[TrialRecord], StudyTrials | None]:
    """`fail_dead_trials`, also returning the snapshot of the study it looked at.

    The snapshot is the loop's incremental read (`Storage.read_trials`); it is None when a
    trial was failed, since the snapshot then no longer matches the store. A caller that
    proposes next (`Study.ask`) uses it instead of reading the study again.
    """
    dead = _fail_stale(study, grace)
    read = study.storage.read_trials(study.study_id)
    dead = _fail_gone(study, read.unfinished(), own, dead)
    return dead, None if dead else read


def _fail_stale(study: Study, grace: float | None) -> list[TrialRecord]:
    if grace is None:
        return []
    return list(study.storage.fail_stale_trials(study.study_id, grace))


def _fail_gone(
    study: Study,
    unfinished: Iterable[TrialRecord],
    own: Collection[int],
    dead: list[TrialRecord],
) -> list[TrialRecord]:
    """`dead` and the RUNNING trials of `unfinished` whose worker on this host is gone, each
    marked FAILED; every one of them logged."""
    host = socket.gethostname()
    for t in unfinished:
        if t.state is not TrialState.RUNNING:
            continue
        if t.trial_id in own or not t.worker or not t.worker.startswith(host + ":"):
            continue
        if _alive(t.worker):
            continue
        reason = f"process died: worker {t.worker} is gone"
        kind = FailureKind.PROCESS_DIED
        try:
            dead.append(
                study.storage.finish_trial(t.trial_id, TrialState.FAILED, None, reason, kind)
            )
        except Exception as err:  # finished meanwhile by its own process: nothing to do
            log.debug("trial %d finished while being failed: %s", t.number, err)
    for t in dead:
        log.warning("trial %d: %s", t.number, t.reason)
    return dead


def _alive(worker: str) -> bool:
    try:
        pid = int(worker.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return True
    return pid == os.getpid() or pid_exists(pid)


def pid_exists(pid: int) -> bool:
    """Whether a process `pid` exists on this machine (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
