"""The trial process: `main()` reads one task from stdin, runs it and records the outcome.

The task (objective included) comes from the parent through a pipe, pickled with cloudpickle so
that functions defined in `__main__` or a notebook travel by value. Nothing pickled is ever read
from the store. The process reconnects to the study by URL and records its own outcome.

The process's exit status is a `ChildExit`: the coordinator reads it, never the trial's reason.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
import sys
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from lightning_autotune.exceptions import ConfigError, MetricNotFoundError, SearchSpaceError
from lightning_autotune.pruners import Pruner
from lightning_autotune.study import _signals as signals
from lightning_autotune.study._faults import pid_exists
from lightning_autotune.study._resources import TrialResources
from lightning_autotune.trial import FailureKind, TrialState

__all__ = ["SETUP_ERROR_EXITS", "ChildExit", "ChildTask", "dumps", "main", "run_task"]


class ChildExit(IntEnum):
    """The exit status of a trial process, which tells the coordinator how it ended."""

    RECORDED = 0
    """The outcome is recorded (or someone else recorded it first)."""
    CRASHED = 1
    """An error escaped the trial (its traceback is on stderr); the coordinator records it."""
    CONFIG_ERROR = 2
    """The objective raised `ConfigError`, which would fail every trial: the study stops."""
    ORPHAN = 3
    """The coordinator disappeared while the trial ran."""
    METRIC_NOT_FOUND = 4
    """The objective raised `MetricNotFoundError` (e.g. a wrong monitor): the study stops."""
    SEARCH_SPACE_ERROR = 5
    """The objective raised `SearchSpaceError`: the study stops."""
    INTERRUPTED = 130
    """Ctrl-C or a stop signal; the trial is recorded as interrupted (the shell's 128 + SIGINT)."""


SETUP_ERROR_EXITS: dict[int, type[Exception]] = {
    ChildExit.CONFIG_ERROR: ConfigError,
    ChildExit.METRIC_NOT_FOUND: MetricNotFoundError,
    ChildExit.SEARCH_SPACE_ERROR: SearchSpaceError,
}
"""The exit statuses of setup errors, and the error the coordinator raises for each."""

log = logging.getLogger("lightning_autotune")


@dataclass(frozen=True)
class ChildTask:
    """Everything a trial process needs; sent once through its stdin.

    `parent_pid` is the process whose disappearance orphans the trial (the coordinator, or the
    fork server between them); `coordinator_pid`, when it differs, tells a fork server that
    died alone from a coordinator that is gone.
    """

    storage: Any  # a URL store; it pickles as its URL and reconnects
    study_name: str
    trial_id: int
    pruner: Pruner | None
    objective: Any
    catch: tuple[type[BaseException], ...]
    resources: TrialResources
    heartbeat_interval: float
    parent_pid: int | None
    coordinator_pid: int | None = None


def dumps(task: ChildTask) -> bytes:
    """Serialize a task; cloudpickle lets `__main__` and notebook functions travel by value.

    Raises:
        ConfigError: The objective cannot be serialized (the message says what to change).
    """
    try:
        import cloudpickle

        return cloudpickle.dumps(task)
    except ImportError:
        pickler: Any = pickle
    except Exception as err:
        raise ConfigError(
            f"the objective cannot be sent to a trial process: {type(err).__name__}: {err}. "
            "Keep objects it captures picklable (no open files, locks or live connections; "
            "create them inside the objective)"
        ) from err
    try:
        return pickler.dumps(task)
    except Exception as err:
        raise ConfigError(
            f"the objective cannot be sent to a trial process: {err}. Install cloudpickle "
            "(pip install cloudpickle) to run functions defined in __main__ or a notebook, or "
            "define the objective in an importable module"
        ) from err


def main() -> int:
    """Read a task from stdin and run it; return the process exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signals.install(signal.SIGINT, signal.SIGTERM)
    try:
        # Load what the trial will need before the task arrives (it may be pre-started).
        for name in filter(None, (sys.argv[1] if len(sys.argv) > 1 else "").split(",")):
            importlib.import_module(name)
        payload = sys.stdin.buffer.read()
        if not payload:
            return ChildExit.RECORDED  # a pre-started process that was not needed
        task: ChildTask = pickle.loads(payload)
        return run_task(task)
    except KeyboardInterrupt:
        # Ctrl-C reaches every process of the terminal's group: the coordinator records the
        # trial as interrupted, so this process leaves without a traceback.
        return ChildExit.INTERRUPTED


def run_task(task: ChildTask) -> int:
    """Run one trial in this process and record its outcome; return an exit code.

    Safe to run twice for the same trial (as Ray may): a trial that is no longer RUNNING is left
    alone, and a second result is refused or ignored by the store.

    Args:
        task: The trial to run. With `parent_pid` set, the trial is failed as 'coordinator lost'
            when that process is no longer this one's parent.
    """
    from lightning_autotune.samplers import RandomSampler
    from lightning_autotune.study._create import load_study
    from lightning_autotune.study._executors import Heartbeat
    from lightning_autotune.study._faults import describe_failure, failure_kind
    from lightning_autotune.study._run_one import run_one
    from lightning_autotune.trial import Trial

    study = load_study(task.study_name, task.storage, sampler=RandomSampler(), pruner=task.pruner)
    record = study.storage.get_trial(task.trial_id)
    if task.parent_pid is not None and os.getppid() != task.parent_pid:
        _finish_quietly(study, task.trial_id, *_lost(task))
        return ChildExit.ORPHAN
    if record.state is not TrialState.RUNNING:
        return ChildExit.RECORDED  # stopped, failed or run already: nothing to add

    def orphaned() -> None:
        _finish_quietly(study, task.trial_id, *_lost(task))
        os._exit(ChildExit.ORPHAN)

    watch = orphaned if task.parent_pid is not None else None
    with Heartbeat(study, task.trial_id, task.heartbeat_interval, task.parent_pid, watch):
        try:
            if task.resources.memory_limit is not None:
                import lightning.pytorch  # noqa: F401  (loaded before the limit applies)
            task.resources.apply()
            run_one(study, Trial(study, record), task.objective, task.catch)
        except (ConfigError, MetricNotFoundError, SearchSpaceError) as err:
            # run_one recorded it; the status says which error the coordinator raises.
            return next(code for code, e in SETUP_ERROR_EXITS.items() if isinstance(err, e))
        except (KeyboardInterrupt, SystemExit):
            # run_one recorded it (or a stop was recorded first)
            interrupted = signals.received()
            return ChildExit.INTERRUPTED if interrupted else ChildExit.RECORDED
        except Exception as err:
            _finish_quietly(study, task.trial_id, describe_failure(err), failure_kind(err))
            raise
    return ChildExit.RECORDED


def _lost(task: ChildTask) -> tuple[str, FailureKind]:
    """Why the trial lost its parent: the fork server died, or the coordinator is gone."""
    coordinator = task.coordinator_pid
    if coordinator is not None and coordinator != task.parent_pid and pid_exists(coordinator):
        reason = f"fork server died: process {task.parent_pid} ended while the trial ran"
        return reason, FailureKind.FORK_SERVER_DIED
    return "coordinator lost: its process ended", FailureKind.COORDINATOR_LOST


def _finish_quietly(study: Any, trial_id: int, reason: str, kind: FailureKind) -> None:
    try:
        study.storage.finish_trial(trial_id, TrialState.FAILED, None, reason, kind)
    except Exception as err:
        log.debug("could not record trial %d as failed: %s", trial_id, err)
