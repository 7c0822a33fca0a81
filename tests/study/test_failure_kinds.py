"""Every finished trial stores a `FailureKind`, and decisions read the kind, never the reason."""

from __future__ import annotations

import math

import pytest

from lightning_autotune.exceptions import MetricNotFoundError, SearchSpaceError, TrialPruned
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.study._child import SETUP_ERROR_EXITS, ChildExit
from lightning_autotune.study._executors import Job
from lightning_autotune.study._faults import plan_retries
from lightning_autotune.study._optimize import _settle
from lightning_autotune.trial import FailureKind, TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
GRID = {"x": {"type": "discrete", "values": [1, 2, 3]}}


def _study(space=SPACE):
    return create_study("s", space, InMemoryStorage(), sampler=RandomSampler(), seed=0)


def test_the_loop_records_the_kind_of_each_ending():
    endings = iter(["oom", "error", "pruned", "nan report", "nan value", "ok"])

    def objective(trial):
        what = next(endings)
        if what == "oom":
            raise MemoryError("cannot allocate")
        if what == "error":
            raise ValueError("bad batch")
        if what == "pruned":
            raise TrialPruned("enough")
        if what == "nan report":
            trial.report(0, math.nan)
            assert trial.should_prune()
            return 1.0
        if what == "nan value":
            return math.nan
        return 0.5

    study = _study()
    study.optimize(objective, n_trials=6)
    assert [(t.state, t.kind) for t in study.trials] == [
        (TrialState.FAILED, FailureKind.OOM),
        (TrialState.FAILED, FailureKind.EXCEPTION),
        (TrialState.PRUNED, FailureKind.PRUNED),
        (TrialState.PRUNED, FailureKind.DIVERGED),
        (TrialState.FAILED, FailureKind.DIVERGED),
        (TrialState.COMPLETE, None),
    ]


def test_a_setup_error_is_recorded_as_such_and_ends_the_study():
    def objective(trial):
        raise MetricNotFoundError("monitor 'val_acc' was never logged")

    study = _study()
    with pytest.raises(MetricNotFoundError, match="val_acc"):
        study.optimize(objective, n_trials=3)
    assert [t.kind for t in study.trials] == [FailureKind.SETUP_ERROR]


def test_retries_follow_the_kind_not_the_wording():
    study = _study()
    # Worded like a retryable failure, but the objective raised it: not retried.
    raised = study.ask()
    study.tell(raised, state=TrialState.FAILED, reason="interrupted: by a flaky network")
    # Worded freely, but its process died: retried with the same parameters.
    died = study.ask()
    study.tell(died, state=TrialState.FAILED, reason="gone", kind=FailureKind.PROCESS_DIED)
    made = plan_retries(study, max_retries=1)
    assert [(t.retry_of, dict(t.params)) for t in made] == [(died.number, died.params)]


@pytest.mark.parametrize(
    ("kind", "retried"),
    [
        (FailureKind.INTERRUPTED, True),
        (FailureKind.HEARTBEAT_LOST, True),
        (FailureKind.COORDINATOR_LOST, True),
        (FailureKind.PROCESS_DIED, True),
        (FailureKind.FORK_SERVER_DIED, True),
        (FailureKind.OOM, False),
        (FailureKind.TIMEOUT, False),
        (FailureKind.SETUP_ERROR, False),
    ],
)
def test_which_kinds_are_retried(kind, retried):
    assert kind.retryable is retried


def test_out_of_memory_configurations_are_recognised_by_kind():
    study = _study(GRID)
    oom = study.ask({"x": 1})
    study.tell(oom, state=TrialState.FAILED, reason="ran out", kind=FailureKind.OOM)
    assert sorted(c["x"] for c in study.suggest(2)) == [2, 3]
    # An 'oom' in the words of an ordinary failure bans nothing.
    other = _study(GRID)
    failed = other.ask({"x": 1})
    other.tell(failed, state=TrialState.FAILED, reason="oom: but really a ValueError")
    assert sorted(c["x"] for c in other.suggest(3)) == [1, 2, 3]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (ChildExit.METRIC_NOT_FOUND, MetricNotFoundError),
        (ChildExit.SEARCH_SPACE_ERROR, SearchSpaceError),
    ],
)
def test_a_child_setup_error_is_read_from_its_exit_status(code, error):
    assert SETUP_ERROR_EXITS[code] is error
    study = _study()
    trial = study.ask()
    # The reason's words do not matter: the exit status says which error to raise.
    record = study.tell(trial, state=TrialState.FAILED, reason="whatever it says")
    job = Job(record, done=True, exit_code=int(code), exit_note=f"exit code {int(code)}")
    with pytest.raises(error, match="trial 0 hit an error that would fail every trial"):
        _settle(study, job)


def test_a_child_that_died_is_recorded_process_died():
    study = _study()
    trial = study.ask()
    job = Job(study.storage.get_trial(trial.trial_id), done=True, exit_code=-9)
    job.exit_note = "signal SIGKILL"
    _settle(study, job)
    got = study.trials[0]
    assert (got.state, got.kind, got.reason) == (
        TrialState.FAILED,
        FailureKind.PROCESS_DIED,
        "process died: signal SIGKILL",
    )


def test_an_interrupted_trial_is_always_resumed_without_spending_retries():
    study = _study()
    first = study.ask()
    study.tell(first, state=TrialState.FAILED, reason="ctrl-c", kind=FailureKind.INTERRUPTED)
    for _ in range(3):  # interrupted again and again: still resumed, even with max_retries=0
        (waiting,) = plan_retries(study, max_retries=0)
        claimed = study.storage.claim_waiting(study.study_id, "w")
        assert claimed is not None and claimed.trial_id == waiting.trial_id
        assert claimed.params == first.params
        study.tell(claimed.number, state=TrialState.FAILED, kind=FailureKind.INTERRUPTED)
    # Deaths of its process after those interruptions still get exactly max_retries.
    for retries_left in (1, 0):
        plan_retries(study, max_retries=1)
        died = study.storage.claim_waiting(study.study_id, "w")
        assert died is not None and died.params == first.params
        study.tell(died.number, state=TrialState.FAILED, kind=FailureKind.PROCESS_DIED)
        assert len(plan_retries(study, max_retries=1)) == retries_left
        if retries_left == 0:
            assert study.storage.claim_waiting(study.study_id, "w") is None


def test_an_objective_that_calls_sys_exit_is_a_failure_not_an_interruption():
    def objective(trial):
        raise SystemExit(3)

    study = _study()
    with pytest.raises(SystemExit):
        study.optimize(objective, n_trials=2)
    (trial,) = study.trials
    assert (trial.kind, trial.reason) == (FailureKind.EXCEPTION, "SystemExit: 3")
    assert plan_retries(study, max_retries=1) == []
