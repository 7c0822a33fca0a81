"""The in-memory store's read keeps the unfinished trials apart, as the SQL store's does."""

from __future__ import annotations

from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import create_study
from lightning_autotune.trial import TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


def test_a_read_holds_the_waiting_and_running_trials_apart():
    study = create_study(space=SPACE, sampler=RandomSampler(), seed=0)
    done, running = study.ask(), study.ask()
    study.tell(done, 0.5)
    study.enqueue({"x": 0.25})

    read = study.storage.read_trials(study.study_id)

    assert read.live is not None  # no pass over every trial to find them
    assert [(t.number, t.state) for t in read.live] == [
        (running.number, TrialState.RUNNING),
        (2, TrialState.WAITING),
    ]
    assert read.unfinished() == tuple(t for t in read.trials if not t.state.is_finished)
