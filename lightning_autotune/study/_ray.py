"""`RayExecutor`: trials placed by Ray on a cluster; the loop and the store stay ours.

Ray only decides where each trial process runs (with its GPUs and CPUs). The trial reconnects to
the study through the store's URL and records its own result there, exactly as a local trial
process does, so Ray holds no state that matters: if Ray runs a task twice, the store records
the trial once (the second run finds it finished and leaves it, or its result is refused).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.study._child import ChildTask, dumps, run_task
from lightning_autotune.study._executors import Executor, Job, Objective
from lightning_autotune.study._resources import ResourceType, TrialResources, parse_memory
from lightning_autotune.trial import TrialRecord

if TYPE_CHECKING:
    from lightning_autotune.study._study import Study

__all__ = ["RayExecutor"]

log = logging.getLogger("lightning_autotune")


def _ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ConfigError(
            "RayExecutor needs Ray: pip install 'lightning-autotune[ray]' (or pip install ray)"
        ) from err
    return ray


def _run_remote(payload: bytes) -> int:
    """The body of the Ray task: unpickle the trial and run it in this Ray worker process."""
    import pickle

    task: ChildTask = pickle.loads(payload)
    return run_task(task)


class RayExecutor(Executor):
    """Runs each trial as a Ray task with `num_gpus` / `num_cpus` of its own.

    Connect to a cluster first (`ray.init(address=...)`); without a connection a local Ray
    instance is started. The study's store must be reachable from every Ray node (PostgreSQL
    for a cluster, SQLite for a single machine). Each Ray worker process serves one trial and
    exits (`max_calls=1`), so its memory (GPU memory included) is returned after each trial.

    Args:
        n_workers: Trials in flight at once (Ray queues them until resources free up).
        num_gpus: GPUs per trial (Ray sets CUDA_VISIBLE_DEVICES for the task).
        num_cpus: CPUs per trial; also the torch thread count of the trial.
        memory_limit: Per trial, e.g. '8GB' (as for `ProcessExecutor`).

    Raises:
        ConfigError: Ray is not installed, or a bad argument.

    Example:
        >>> # ray.init(address="auto"); study.optimize(objective, 100,
        >>> #     executor=RayExecutor(n_workers=8, num_gpus=1))
    """

    needs_url_storage = True

    def __init__(
        self,
        n_workers: int = 2,
        num_gpus: float = 0,
        num_cpus: float = 1,
        memory_limit: int | str | None = None,
    ) -> None:
        super().__init__()
        self.n_workers = check_int(n_workers, "n_workers", hint="e.g. 2")
        self.num_gpus = check_number(num_gpus, "num_gpus", low=0.0, hint="GPUs per trial, e.g. 1")
        self.num_cpus = check_number(
            num_cpus, "num_cpus", low=0.0, strict_low=True, hint="CPUs per trial, e.g. 1"
        )
        self.memory_limit = parse_memory(memory_limit)
        self._remote: Any = None

    def __repr__(self) -> str:
        return f"RayExecutor(n_workers={self.n_workers}, num_gpus={self.num_gpus})"

    def _task_fn(self) -> Any:
        if self._remote is None:
            ray = _ray()
            if not ray.is_initialized():
                ray.init(include_dashboard=False)
            # Ray does not run a lost task again (max_retries=0): the study retries it as a new
            # trial (`retry_of`) with the reason recorded and counted against `max_retries`,
            # where Ray's own retry would rerun a trial whose record still says RUNNING.
            self._remote = ray.remote(
                num_gpus=self.num_gpus, num_cpus=self.num_cpus, max_calls=1, max_retries=0
            )(_run_remote)
        return self._remote

    def task_for(self, study: Study, record: TrialRecord, objective: Objective) -> bytes:
        """The serialized trial a Ray task runs (exposed so that tests can run it twice)."""
        resources = TrialResources(
            ResourceType.GPU if self.num_gpus else ResourceType.CPU,
            None,
            max(1, int(self.num_cpus)),
            self.memory_limit,
        )
        return dumps(
            ChildTask(
                storage=study.storage,
                study_name=study.name,
                trial_id=record.trial_id,
                pruner=study.pruner,
                objective=objective,
                catch=self.settings.catch,
                resources=resources,
                heartbeat_interval=self.settings.heartbeat_interval,
                parent_pid=None,  # Ray's worker is not our child; heartbeats cover it
            )
        )

    def submit(self, study: Study, record: TrialRecord, objective: Objective) -> Job:
        ref = self._task_fn().remote(self.task_for(study, record, objective))
        log.info("trial %d submitted to Ray", record.number)
        return Job(record, handle=ref)

    def poll(self, jobs: Sequence[Job], timeout: float) -> list[Job]:
        if not jobs:
            return []
        ray = _ray()
        refs = {job.handle: job for job in jobs}
        ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=timeout)
        ended = []
        for ref in ready:
            job = refs[ref]
            job.done = True
            try:
                job.exit_code = ray.get(ref)
                job.exit_note = None if job.exit_code == 0 else f"exit code {job.exit_code}"
            except Exception as err:  # the task died (node lost, cancelled, ...)
                last = (str(err).strip().splitlines() or [""])[-1][:200]
                job.exit_note = f"Ray task failed: {type(err).__name__}: {last}"
            ended.append(job)
        return ended

    def stop(self, job: Job, grace: float) -> None:
        if job.stop_at is None:
            job.stop_at = 0.0
            _ray().cancel(job.handle, force=True)
