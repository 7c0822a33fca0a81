"""The trial process: `main()` reads one task from stdin, runs it and records the outcome.

The task (objective included) comes from the parent through a pipe, pickled with cloudpickle so
that functions defined in `__main__` or a notebook travel by value. Nothing pickled is ever read
from the store. The process reconnects to the study by URL and records its own outcome.

Exit codes: 0 the outcome is recorded (or someone else recorded it first); 2 a setup error that
would fail every trial (the coordinator stops the study); 3 the coordinator disappeared.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
import sys
from dataclasses import dataclass
from typing import Any

from lightning_autotune.pruners import Pruner
from lightning_autotune.study._resources import TrialResources

__all__ = ["EXIT_ORPHAN", "EXIT_SETUP_ERROR", "ChildTask", "dumps", "main", "run_task"]

EXIT_SETUP_ERROR = 2
EXIT_ORPHAN = 3

log = logging.getLogger("lightning_autotune")


@dataclass(frozen=True)
class ChildTask:
    """Everything a trial process needs; sent once through its stdin."""

    storage: Any  # a URL store; it pickles as its URL and reconnects
    study_name: str
    trial_id: int
    pruner: Pruner | None
    objective: Any
    catch: tuple[type[BaseException], ...]
    resources: TrialResources
    heartbeat_interval: float
    parent_pid: int | None


def dumps(task: ChildTask) -> bytes:
    """Serialize a task; cloudpickle lets `__main__` and notebook functions travel by value.

    Raises:
        ConfigError: The objective cannot be serialized (the message says what to change).
    """
    from lightning_autotune.exceptions import ConfigError

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
    # Load what the trial will need before the task arrives (this process may be pre-started).
    for name in filter(None, (sys.argv[1] if len(sys.argv) > 1 else "").split(",")):
        importlib.import_module(name)
    payload = sys.stdin.buffer.read()
    if not payload:
        return 0  # a pre-started process that was not needed
    task: ChildTask = pickle.loads(payload)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    return run_task(task)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def run_task(task: ChildTask) -> int:
    """Run one trial in this process and record its outcome; return an exit code.

    Safe to run twice for the same trial (as Ray may): a trial that is no longer RUNNING is left
    alone, and a second result is refused or ignored by the store.

    Args:
        task: The trial to run. With `parent_pid` set, the trial is failed as 'coordinator lost'
            when that process is no longer this one's parent.
    """
    from lightning_autotune.exceptions import ConfigError, MetricNotFoundError, SearchSpaceError
    from lightning_autotune.samplers import RandomSampler
    from lightning_autotune.study._executors import Heartbeat
    from lightning_autotune.study._faults import describe_failure
    from lightning_autotune.study._optimize import run_one
    from lightning_autotune.study._study import load_study
    from lightning_autotune.trial import Trial, TrialState

    study = load_study(task.study_name, task.storage, sampler=RandomSampler(), pruner=task.pruner)
    record = study.storage.get_trial(task.trial_id)
    if task.parent_pid is not None and os.getppid() != task.parent_pid:
        _finish_quietly(study, task.trial_id, "coordinator lost: its process ended")
        return EXIT_ORPHAN
    if record.state is not TrialState.RUNNING:
        return 0  # stopped, failed or run already: nothing to add

    def orphaned() -> None:
        _finish_quietly(study, task.trial_id, "coordinator lost: its process ended")
        os._exit(EXIT_ORPHAN)

    watch = orphaned if task.parent_pid is not None else None
    with Heartbeat(study, task.trial_id, task.heartbeat_interval, task.parent_pid, watch):
        try:
            if task.resources.memory_limit is not None:
                import lightning.pytorch  # noqa: F401  (loaded before the limit applies)
            task.resources.apply()
            run_one(study, Trial(study, record), task.objective, task.catch)
        except (ConfigError, MetricNotFoundError, SearchSpaceError):
            return EXIT_SETUP_ERROR  # run_one recorded it
        except (KeyboardInterrupt, SystemExit):
            return 130  # run_one recorded it as interrupted (or a stop was recorded first)
        except Exception as err:
            _finish_quietly(study, task.trial_id, describe_failure(err))
            raise
    return 0


def _finish_quietly(study: Any, trial_id: int, reason: str) -> None:
    from lightning_autotune.trial import TrialState

    try:
        study.storage.finish_trial(trial_id, TrialState.FAILED, None, reason)
    except Exception as err:
        log.debug("could not record trial %d as failed: %s", trial_id, err)
