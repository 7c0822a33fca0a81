"""Fast checks of the parallel machinery: parsing, faults, retries, budgets (no processes)."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone

import pytest

from lightning_autotune.exceptions import ConfigError, StudyFailedError
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import (
    Executor,
    FailureThreshold,
    InProcessExecutor,
    ProcessExecutor,
    RayExecutor,
    ResourceType,
    RunSettings,
    create_study,
    parse_memory,
)
from lightning_autotune.study._executors import Job
from lightning_autotune.study._faults import (
    describe_failure,
    failure_location,
    is_oom,
    plan_retries,
)
from lightning_autotune.trial import FailureKind, TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
GRID = {"x": {"type": "discrete", "values": [1, 2, 3]}}


def _study(space=SPACE, **kw):
    return create_study("s", space, InMemoryStorage(), sampler=RandomSampler(), seed=0, **kw)


@pytest.mark.parametrize(
    ("text", "size"),
    [("16GB", 16 * 10**9), ("512MB", 512 * 10**6), ("2GiB", 2 * 2**30), ("1.5 gb", 1.5e9),
     (1024, 1024), ("100", 100)],
)  # fmt: skip
def test_parse_memory_reads_sizes(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("bad", ["lots", "16 GBs", "-1GB", 0, True, "GB"])
def test_parse_memory_refuses_garbage(bad):
    with pytest.raises(ConfigError, match="memory_limit must be"):
        parse_memory(bad)


def test_resource_type_and_executor_arguments_are_checked():
    assert ResourceType.parse("gpu") is ResourceType.GPU
    with pytest.raises(ConfigError, match="resource_type must be 'CPU' or 'GPU', got 'TPU'"):
        ResourceType.parse("TPU")
    with pytest.raises(ConfigError, match=r"n_workers must be an integer >= 1, got 0; e.g. 2"):
        ProcessExecutor(0)
    with pytest.raises(ConfigError, match=r"threads_per_trial must be an integer >= 1, got 0"):
        ProcessExecutor(2, threads_per_trial=0)


def test_several_workers_on_an_in_memory_store_are_refused():
    study = _study()
    with pytest.raises(ConfigError, match=r"sqlite:///autotune\.db"):
        study.optimize(lambda t: 0.0, n_trials=2, n_workers=2)
    assert study.trials == []


def test_oom_errors_are_recognized_and_described():
    def boom():
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    try:
        boom()
    except RuntimeError as caught:
        err = caught
        reason = describe_failure(err)
    assert reason.startswith("oom: RuntimeError: CUDA out of memory")
    assert failure_location(err).endswith("in boom")
    assert is_oom(MemoryError()) and not is_oom(ValueError("out of range"))


def test_a_failing_objective_is_recorded_with_type_message_and_place():
    def objective(trial):
        raise ValueError(f"bad x {trial.params['x']:.2f}")

    study = _study()
    study.optimize(objective, n_trials=2)
    assert [t.state for t in study.trials] == [TrialState.FAILED] * 2
    assert study.trials[0].reason.startswith("ValueError: bad x")
    assert study.trials[0].user_attrs["error_at"].endswith("in objective")


def test_out_of_memory_configs_are_not_proposed_again():
    study = create_study("g", GRID, InMemoryStorage(), sampler=RandomSampler(), seed=0)

    def objective(trial):
        if trial.params["x"] == 3:
            raise MemoryError("cannot allocate")
        return float(trial.params["x"])

    study.optimize(objective, n_trials=12)
    oom = [t for t in study.trials if t.state is TrialState.FAILED]
    assert len(oom) == 1 and oom[0].reason.startswith("oom: MemoryError")


def test_failure_threshold_stops_the_study_with_a_summary():
    calls = []

    def objective(trial):
        calls.append(1)
        if len(calls) % 3:
            raise ValueError("boom")
        raise KeyError("missing")

    with pytest.raises(StudyFailedError, match=r"4 x ValueError: boom; 2 x KeyError: 'missing'"):
        _study().optimize(objective, n_trials=50, failure_threshold=(0.5, 6))
    assert len(calls) == 6


def test_failure_threshold_arguments_are_checked():
    assert FailureThreshold.parse(0.3) == FailureThreshold(0.3, 5)
    with pytest.raises(ConfigError, match=r"fraction must be a number >= 0 and <= 1, got 1.5"):
        FailureThreshold.parse((1.5, 3))
    with pytest.raises(ConfigError, match=r"fraction must be < 1, got 1.0; e.g. 0.5, or failure"):
        FailureThreshold.parse(1.0)
    with pytest.raises(ConfigError, match=r"min_trials must be an integer >= 1, got 0; e.g. 5"):
        FailureThreshold.parse((0.5, 0))
    with pytest.raises(ConfigError, match="failure_threshold must be a fraction"):
        FailureThreshold.parse("half")  # type: ignore[arg-type]


def test_max_trials_counts_the_whole_study_and_a_second_call_adds_nothing():
    study = _study()
    study.optimize(lambda t: t.params["x"], max_trials=3)
    study.optimize(lambda t: t.params["x"], max_trials=3)
    assert len(study.trials) == 3
    study.optimize(lambda t: t.params["x"], max_trials=5)
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]


def test_an_interrupted_trial_is_retried_with_the_same_params_on_resume():
    study = _study()

    def interrupt(trial):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        study.optimize(interrupt, max_trials=3)
    first = study.trials[0]
    assert first.state is TrialState.FAILED and first.reason == "interrupted: KeyboardInterrupt"
    study.optimize(lambda t: t.params["x"], max_trials=3)
    retry = study.trials[1]
    assert retry.retry_of == 0 and dict(retry.params) == dict(first.params)
    assert retry.state is TrialState.COMPLETE
    assert sum(t.retry_of is None for t in study.trials) == 3


class _InterruptedWhileStarting(InProcessExecutor):
    """Ctrl-C lands while the second trial's process starts: after the trial was created."""

    n_workers = 2

    def submit(self, study, record, objective):
        if record.number == 1:
            raise KeyboardInterrupt
        return Job(record)  # the first trial "runs" and never ends

    def poll(self, jobs, timeout):
        return []


def test_ctrl_c_while_a_trial_starts_leaves_no_trial_running():
    study = _study()
    with pytest.raises(KeyboardInterrupt):
        study.optimize(lambda t: 0.0, max_trials=3, executor=_InterruptedWhileStarting())
    assert [(t.state, t.reason) for t in study.trials] == [
        (TrialState.FAILED, "interrupted: KeyboardInterrupt")
    ] * 2


def test_ctrl_c_is_what_is_raised_even_when_the_store_then_fails(monkeypatch, caplog):
    study = _study()

    class StoreDiesToo(_InterruptedWhileStarting):
        def submit(self, study, record, objective):
            if record.number == 1:
                monkeypatch.setattr(study, "get_trials", _store_down)
            return super().submit(study, record, objective)

    with pytest.raises(KeyboardInterrupt), caplog.at_level("WARNING"):
        study.optimize(lambda t: 0.0, max_trials=3, executor=StoreDiesToo())
    assert "could not list running trials after interrupted: KeyboardInterrupt" in caplog.text


def _store_down(*args, **kwargs):
    raise RuntimeError("store down")


def test_retries_stop_after_max_retries():
    study = _study()
    record = study.ask()
    study.tell(
        record,
        state=TrialState.FAILED,
        reason="process died: signal SIGKILL",
        kind=FailureKind.PROCESS_DIED,
    )
    for _ in range(3):
        for waiting in plan_retries(study, max_retries=2):
            claimed = study.storage.claim_waiting(study.study_id, "w")
            assert claimed is not None and claimed.trial_id == waiting.trial_id
            study.tell(
                claimed.number,
                state=TrialState.FAILED,
                reason="heartbeat lost: gone",
                kind=FailureKind.HEARTBEAT_LOST,
            )
    assert [t.retry_of for t in study.trials] == [None, 0, 1]


def test_a_trial_without_heartbeats_is_failed_retried_and_its_late_result_refused():
    study = _study()
    stale = study.ask()
    study.storage.heartbeat(stale.trial_id)
    # Age the heartbeat: the in-memory store keeps frozen records we can replace.
    store = study.storage
    old = datetime.now(timezone.utc) - timedelta(minutes=5)
    from dataclasses import replace

    store._trials[stale.trial_id] = replace(store._trials[stale.trial_id], heartbeat_at=old)
    study.optimize(lambda t: t.params["x"], max_trials=2, heartbeat_grace=30)
    first, retry = study.trials[0], study.trials[1]
    assert first.state is TrialState.FAILED and first.reason.startswith("heartbeat lost")
    assert retry.retry_of == 0 and retry.state is TrialState.COMPLETE
    with pytest.raises(Exception, match="refused"):
        study.tell(stale, 0.5)
    assert study.trials[0].state is TrialState.FAILED


class _SilentJobs(Executor):
    """Runs each trial 'remotely' for `seconds` without any heartbeat of its own."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.study = None

    def submit(self, study, record, objective):
        self.study = study
        return Job(record)

    def poll(self, jobs, timeout):
        ended = [j for j in jobs if time.monotonic() - j.started > self.seconds]
        for job in ended:
            if self.study.storage.get_trial(job.record.trial_id).state is TrialState.RUNNING:
                self.study.tell(job.record.trial_id, 0.5)
            job.done = True
        if not ended:
            time.sleep(min(timeout, 0.05))
        return ended


def test_a_running_job_of_the_loop_keeps_its_lease_without_heartbeats_of_its_own():
    # Its process is alive (poll says so) but sends nothing: a starved or store-blocked child.
    # 2.5 s outlives the 0.5 s grace and the loop's first 2 s look for dead trials.
    study = _study()
    study.optimize(lambda t: 0.0, max_trials=1, executor=_SilentJobs(2.5), heartbeat_grace=0.5)
    (trial,) = study.trials
    assert trial.state is TrialState.COMPLETE, trial.reason


def test_nan_final_value_fails_and_nan_report_prunes():
    study = _study()

    def objective(trial):
        trial.report(1, math.nan)
        if trial.should_prune():
            from lightning_autotune.exceptions import TrialPruned

            raise TrialPruned(trial.prune_reason)
        return 0.0

    study.optimize(objective, n_trials=1)
    assert study.trials[0].state is TrialState.PRUNED
    assert "nan" in study.trials[0].reason


@pytest.mark.parametrize("make", [InProcessExecutor, ProcessExecutor, RayExecutor])
def test_executors_take_their_run_settings_from_optimize_only(make):
    # optimize's catch and heartbeat_interval are the one place: a constructor argument that
    # optimize would overwrite is not offered.
    with pytest.raises(TypeError, match="settings"):
        make(settings=RunSettings())


def test_executors_do_not_share_a_class_level_settings_default():
    assert "settings" not in vars(Executor)
    first, second = InProcessExecutor(), InProcessExecutor()
    assert first.settings is not second.settings

    def objective(trial):
        raise KeyError("missing")

    study = _study()
    study.optimize(objective, n_trials=1, executor=first, catch=(KeyError,))
    assert study.trials[0].reason == "KeyError: 'missing'"
    assert first.settings == RunSettings(catch=(KeyError,))
    assert second.settings == RunSettings()
