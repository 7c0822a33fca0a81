"""The in-memory store's read keeps the unfinished trials apart, as the SQL store's does."""

from __future__ import annotations

from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import Direction, TrialState

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


def _by_scan(store, study_id, states=None):
    """What a read must give: every trial of the study, filtered, by number (a full scan)."""
    mine = [t for t in store._trials.values() if store._trial_study[t.trial_id] == study_id]
    wanted = None if states is None else set(states)
    return sorted((t for t in mine if wanted is None or t.state in wanted), key=lambda t: t.number)


def test_reads_by_study_follow_every_change_of_state_across_two_studies():
    store = InMemoryStorage()
    a = store.create_study("a", SPACE, [Direction.MINIMIZE]).study_id
    b = store.create_study("b", SPACE, [Direction.MINIMIZE]).study_id
    made = [store.create_trial(a if i % 3 else b, {"x": i / 20}) for i in range(12)]
    waiting = [store.create_trial(a, {"x": 0.9}, state=TrialState.WAITING) for _ in range(2)]
    store.finish_trial(made[1].trial_id, TrialState.COMPLETE, [1.0])
    store.finish_trial(made[0].trial_id, TrialState.FAILED, None, "boom")
    store.claim_waiting(a, worker="w")
    store.report(made[2].trial_id, 0, 0.3)
    store.close_waiting_retries(a, "closed")
    store.create_trial(a, {"x": 0.1}, state=TrialState.WAITING, retry_of=made[1].trial_id)
    store.close_waiting_retries(a, "closed")
    assert waiting[0].number == 8
    for study_id in (a, b):
        for states in (None, [TrialState.RUNNING], [TrialState.WAITING], [TrialState.COMPLETE]):
            assert store.get_trials(study_id, states) == _by_scan(store, study_id, states)
        read = store.read_trials(study_id)
        assert read.trials == _by_scan(store, study_id)
        assert list(read.live) == [t for t in read.trials if not t.state.is_finished]
        assert read.next_number == len(read.trials)
    # A trial created after the reads is numbered after every trial of its study.
    assert store.create_trial_if_next(a, 12, {"x": 0.5}) is None
    assert store.create_trial_if_next(a, 11, {"x": 0.5}).number == 11
    store.delete_study("a")
    assert store.get_trials(b) == _by_scan(store, b)
    assert store.read_trials(a).trials == []
