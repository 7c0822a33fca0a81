"""The trial process: `python -m lightning_autotune.study._child` reads one task from stdin.

The task (objective included) comes from the parent through a pipe, pickled with cloudpickle so
that functions defined in `__main__` or a notebook travel by value. Nothing pickled is ever read
from the store. The process reconnects to the study by URL and records its own outcome.

Exit codes: 0 the outcome is recorded (or someone else recorded it first); 2 a setup error that
would fail every trial (the coordinator stops the study); 3 the coordinator disappeared.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
from dataclasses import dataclass
from typing import Any

from lightning_autotune.pruners import Pruner
from lightning_autotune.study._resources import TrialResources

__all__ = ["EXIT_ORPHAN", "EXIT_SETUP_ERROR", "ChildTask", "dumps", "main"]

EXIT_SETUP_ERROR = 2
EXIT_ORPHAN = 3

log = logging.getLogger("lightning_autotune")


@dataclass(frozen=True)
class ChildTask:
    """Everything a trial process needs; sent once through its stdin."""

    storage_url: str
    study_name: str
    trial_id: int
    pruner: Pruner | None
    objective: Any
    catch: tuple[type[BaseException], ...]
    resources: TrialResources
    heartbeat_interval: float
    parent_pid: int


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
        return pickler.dumps(task)  # type: ignore[no-any-return]
    except Exception as err:
        raise ConfigError(
            f"the objective cannot be sent to a trial process: {err}. Install cloudpickle "
            "(pip install cloudpickle) to run functions defined in __main__ or a notebook, or "
            "define the objective in an importable module"
        ) from err


def main() -> int:
    """Run the task read from stdin; return the process exit code."""
    from lightning_autotune.exceptions import ConfigError, MetricNotFoundError, SearchSpaceError
    from lightning_autotune.samplers import RandomSampler
    from lightning_autotune.study._executors import Heartbeat
    from lightning_autotune.study._faults import describe_failure
    from lightning_autotune.study._optimize import run_one
    from lightning_autotune.study._study import load_study
    from lightning_autotune.trial import Trial, TrialState

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    task: ChildTask = pickle.loads(sys.stdin.buffer.read())
    study = load_study(
        task.study_name, task.storage_url, sampler=RandomSampler(), pruner=task.pruner
    )
    record = study.storage.get_trial(task.trial_id)
    if record.state is not TrialState.RUNNING:
        return 0  # stopped or failed before this process got going

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, stop)

    def orphaned() -> None:
        _finish_quietly(study, task.trial_id, "coordinator lost: its process ended")
        os._exit(EXIT_ORPHAN)

    with Heartbeat(study, task.trial_id, task.heartbeat_interval, on_orphan=orphaned):
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
            from lightning_autotune.exceptions import TrialStateError

            if isinstance(err, TrialStateError):
                return 0  # the coordinator recorded the outcome first (a stop); ours is refused
            _finish_quietly(study, task.trial_id, describe_failure(err))
            raise
    return 0


def _finish_quietly(study: Any, trial_id: int, reason: str) -> None:
    from lightning_autotune.trial import TrialState

    try:
        study.storage.finish_trial(trial_id, TrialState.FAILED, None, reason)
    except Exception as err:
        log.debug("could not record trial %d as failed: %s", trial_id, err)


if __name__ == "__main__":
    sys.exit(main())
