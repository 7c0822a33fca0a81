"""A trial that only reports and asks about pruning keeps its lease (`stale_after`)."""

from __future__ import annotations

import time

import pytest

from lightning_autotune.pruners import MedianPruner
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import FailureKind, TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
STALE_AFTER = 2.0


@pytest.fixture(params=["memory", "sqlite"])
def storage(request, tmp_path):
    return InMemoryStorage() if request.param == "memory" else f"sqlite:///{tmp_path / 'l.db'}"


def _study(storage):
    return create_study(
        "lease",
        SPACE,
        storage,
        sampler=RandomSampler(),
        pruner=MedianPruner(),
        seed=0,
        stale_after=STALE_AFTER,
    )


def test_should_prune_renews_the_lease_of_an_asked_trial(storage):
    study = _study(storage)
    trial = study.ask()
    trial.report(0, 0.5)
    # Longer than stale_after with only prune checks, as a long step between reports would be.
    for _ in range(6):
        time.sleep(STALE_AFTER / 4)
        assert not trial.should_prune()
    study.ask()  # fails the trials whose lease ran out
    assert trial.snapshot().state is TrialState.RUNNING


def test_a_trial_that_neither_reports_nor_checks_loses_its_lease(storage):
    study = _study(storage)
    trial = study.ask()
    trial.report(0, 0.5)
    time.sleep(STALE_AFTER * 1.5)
    study.ask()
    lost = trial.snapshot()
    assert lost.state is TrialState.FAILED and lost.kind is FailureKind.HEARTBEAT_LOST


def test_a_prune_check_on_a_trial_already_stopped_still_answers(storage):
    study = _study(storage)
    trial = study.ask()
    trial.report(0, 0.5)
    time.sleep(STALE_AFTER * 1.5)
    study.ask()  # the lease ran out: FAILED
    assert trial.should_prune() is False
