"""The optimize loop: ask, run the objective, tell, until the trial count or time runs out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lightning_autotune._time import parse_duration
from lightning_autotune.exceptions import (
    ConfigError,
    MetricNotFoundError,
    SearchSpaceError,
    TrialPruned,
)
from lightning_autotune.trial import Trial, TrialState

if TYPE_CHECKING:
    from lightning_autotune.study._study import Study

__all__ = ["run_one", "run_sequential"]

log = logging.getLogger("lightning_autotune")

_SETUP_ERRORS = (ConfigError, MetricNotFoundError, SearchSpaceError)


def run_one(
    study: Study,
    trial: Trial,
    objective: Callable[[Trial], float | Sequence[float]],
    catch: tuple[type[BaseException], ...],
) -> None:
    """Run one trial's objective and record its outcome; exceptions in `catch` become FAILED."""
    try:
        value = objective(trial)
    except TrialPruned as err:
        reason = str(err) or trial.prune_reason or "the objective raised TrialPruned"
        study.tell(trial, state=TrialState.PRUNED, reason=reason)
        return
    except _SETUP_ERRORS as err:
        # A wrong metric name or a malformed argument fails every trial alike: stop at once.
        study.tell(trial, state=TrialState.FAILED, reason=f"{type(err).__name__}: {err}")
        raise
    except catch as err:
        study.tell(trial, state=TrialState.FAILED, reason=f"{type(err).__name__}: {err}")
        log.warning("trial %d failed: %s: %s", trial.number, type(err).__name__, err)
        return
    except BaseException as err:
        # KeyboardInterrupt, SystemExit, or an exception left out of `catch`: record, re-raise.
        reason = (
            f"{type(err).__name__}: {err}"
            if isinstance(err, Exception)
            else f"interrupted: {type(err).__name__}"
        )
        study.tell(trial, state=TrialState.FAILED, reason=reason)
        raise
    if trial.prune_reason is not None:
        study.tell(trial, state=TrialState.PRUNED, reason=trial.prune_reason)
        return
    try:
        if value is None:
            raise ConfigError(
                f"trial {trial.number}: the objective returned None; return the value to "
                "optimize (a float), or raise an exception to mark the trial failed"
            )
        record = study.tell(trial, value)
    except ConfigError as err:
        # A malformed return value would fail every trial alike: record it, then stop.
        study.tell(trial, state=TrialState.FAILED, reason=f"ConfigError: {err}")
        raise
    log.info("trial %d finished: %s %s", trial.number, record.state.value, record.values)


def run_sequential(
    study: Study,
    objective: Callable[[Trial], float | Sequence[float]],
    *,
    n_trials: int | None,
    timeout: float | str | None,
    catch: tuple[type[BaseException], ...],
) -> None:
    """Run trials one after another in this process."""
    seconds = parse_duration(timeout, "timeout")
    if n_trials is None and seconds is None:
        raise ConfigError("optimize needs n_trials or timeout (or both) so that it can end")
    if n_trials is not None and (
        isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0
    ):
        raise ConfigError(
            f"n_trials must be an integer >= 0 (or None to run until the timeout), got {n_trials!r}"
        )
    deadline = None if seconds is None else time.monotonic() + seconds
    done = 0
    while n_trials is None or done < n_trials:
        if deadline is not None and time.monotonic() >= deadline:
            log.info("study %r: time budget reached after %d trial(s)", study.name, done)
            break
        run_one(study, study.ask(), objective, catch)
        done += 1
