"""`run_one`: run one trial's objective in this process and record its outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lightning_autotune.exceptions import (
    ConfigError,
    MetricNotFoundError,
    SearchSpaceError,
    TrialPruned,
    TrialStateError,
)
from lightning_autotune.study import _signals as signals
from lightning_autotune.study._faults import (
    describe_failure,
    failure_kind,
    failure_location,
    non_numeric_reason,
)
from lightning_autotune.trial import FailureKind, Trial, TrialRecord, TrialState

if TYPE_CHECKING:
    from lightning_autotune.study._study import Study

__all__ = ["run_one"]

log = logging.getLogger("lightning_autotune")

_SETUP_ERRORS = (ConfigError, MetricNotFoundError, SearchSpaceError)


def run_one(
    study: Study,
    trial: Trial,
    objective: Callable[[Trial], float | Sequence[float]],
    catch: tuple[type[BaseException], ...],
) -> None:
    """Run one trial's objective and record its outcome; exceptions in `catch` become FAILED.

    A result that the store refuses because the trial was already finished by someone else
    (e.g. failed as 'heartbeat lost' by a coordinator) is logged and dropped.
    """
    try:
        value = objective(trial)
    except TrialPruned as err:
        reason = str(err) or trial.prune_reason or "the objective raised TrialPruned"
        kind = err.kind or (trial.prune_kind if not str(err) else None)
        _tell(study, trial, state=TrialState.PRUNED, reason=reason, kind=kind)
        return
    except _SETUP_ERRORS as err:
        # A wrong metric name or a malformed argument fails every trial alike: stop at once.
        reason = f"{type(err).__name__}: {err}"
        _tell(study, trial, state=TrialState.FAILED, reason=reason, kind=FailureKind.SETUP_ERROR)
        raise
    except catch as err:
        reason = describe_failure(err)
        _note_location(trial, err)
        _tell(study, trial, state=TrialState.FAILED, reason=reason, kind=failure_kind(err))
        log.warning("trial %d failed: %s", trial.number, reason)
        return
    except Exception as err:  # left out of `catch`: record it, then let it end the study
        _note_location(trial, err)
        kind = failure_kind(err)
        _tell(study, trial, state=TrialState.FAILED, reason=describe_failure(err), kind=kind)
        raise
    except BaseException as err:
        # Ctrl-C or a stop signal (which Lightning turns into sys.exit(1)); a SystemExit with
        # no signal behind it is the objective's own doing, a failure like any other.
        if isinstance(err, KeyboardInterrupt) or signals.received():
            reason, kind = f"interrupted: {type(err).__name__}", FailureKind.INTERRUPTED
        else:
            reason, kind = describe_failure(err), FailureKind.EXCEPTION
        _tell(study, trial, state=TrialState.FAILED, reason=reason, kind=kind)
        raise
    if trial.prune_reason is not None:
        reason, kind = trial.prune_reason, trial.prune_kind
        _tell(study, trial, state=TrialState.PRUNED, reason=reason, kind=kind)
        return
    not_a_number = non_numeric_reason(value)
    if not_a_number is not None:
        # One odd return (a branch that forgot its `return`) is judged like an exception: the
        # failure threshold decides when they are too many.
        _tell(
            study, trial, state=TrialState.FAILED, reason=not_a_number, kind=FailureKind.EXCEPTION
        )
        log.warning("trial %d failed: %s", trial.number, not_a_number)
        return
    try:
        record = _tell(study, trial, value)
    except ConfigError as err:
        # A malformed return value would fail every trial alike: record it, then stop.
        reason = f"ConfigError: {err}"
        _tell(study, trial, state=TrialState.FAILED, reason=reason, kind=FailureKind.SETUP_ERROR)
        raise
    if record is not None:
        log.info("trial %d finished: %s %s", trial.number, record.state.value, record.values)


def _note_location(trial: Trial, err: BaseException) -> None:
    """Keep where the objective failed (the traceback's last frame) as `user_attrs['error_at']`."""
    where = failure_location(err)
    if where is not None:
        try:
            trial.set_user_attr("error_at", where)
        except Exception as store_err:  # the reason matters more than its location
            log.debug("trial %d: could not record error_at: %s", trial.number, store_err)


def _tell(study: Study, trial: Trial, value: object = None, **kwargs: object) -> TrialRecord | None:
    try:
        return study.tell(trial, value, **kwargs)  # type: ignore[arg-type]
    except TrialStateError as err:
        log.warning("trial %d: late result refused: %s", trial.number, err)
        return None
