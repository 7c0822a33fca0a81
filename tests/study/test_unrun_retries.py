"""Retries queued but not run when a study stops are closed with a reason, and run on resume."""

from __future__ import annotations

import pytest

from lightning_autotune.exceptions import StudyFailedError
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import Study, create_study
from lightning_autotune.trial import FailureKind, Trial, TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


def _study() -> Study:
    return create_study("s", SPACE, InMemoryStorage(), sampler=RandomSampler(), seed=0)


def _dies(study: Study):
    """An objective whose trial is recorded as if its process had been killed."""

    def objective(trial: Trial) -> float:
        study.storage.finish_trial(
            trial.trial_id,
            TrialState.FAILED,
            None,
            "process died: signal SIGKILL",
            FailureKind.PROCESS_DIED,
        )
        return 0.5  # refused as a late result: the trial stays FAILED

    return objective


def test_a_retry_left_when_n_trials_runs_out_is_closed_and_runs_on_resume():
    study = _study()
    study.optimize(_dies(study), n_trials=1)
    died, retry = study.trials
    assert died.kind is FailureKind.PROCESS_DIED
    assert retry.retry_of == died.number
    assert retry.state is TrialState.FAILED and retry.kind is FailureKind.INTERRUPTED
    assert retry.reason == "retry not run: trial budget reached"

    study.optimize(lambda t: float(t.params["x"]), n_trials=1)
    rerun = study.trials[-1]
    assert rerun.retry_of == retry.number and rerun.state is TrialState.COMPLETE
    assert dict(rerun.params) == dict(died.params)
    assert not study.get_trials([TrialState.WAITING])


def test_a_retry_left_when_the_failure_threshold_trips_is_closed():
    study = _study()
    with pytest.raises(StudyFailedError, match=r"2 of 2 finished trials FAILED"):
        study.optimize(_dies(study), n_trials=10, max_retries=3, failure_threshold=(0.5, 2))
    assert [t.retry_of for t in study.trials] == [None, 0, 1]
    left = study.trials[-1]
    assert left.state is TrialState.FAILED and left.kind is FailureKind.INTERRUPTED
    assert left.reason == "retry not run: the failure threshold stopped the study"
    assert not study.get_trials([TrialState.WAITING])


def test_a_configuration_queued_by_the_user_stays_queued():
    study = _study()
    study.enqueue({"x": 0.25})
    second = study.enqueue({"x": 0.75})
    study.optimize(lambda t: float(t.params["x"]), n_trials=1)
    assert study.storage.get_trial(second.trial_id).state is TrialState.WAITING
