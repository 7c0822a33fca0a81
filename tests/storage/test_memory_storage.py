"""InMemoryStorage: studies, trials, state transitions and the late-result rule."""

from __future__ import annotations

import math
import threading

import pytest

from lightning_autotune.exceptions import (
    ConfigError,
    DuplicateStudyError,
    StorageError,
    StudyNotFoundError,
    TrialStateError,
)
from lightning_autotune.storage import InMemoryStorage, Storage, get_storage
from lightning_autotune.trial import Direction, TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


@pytest.fixture
def store() -> InMemoryStorage:
    return InMemoryStorage()


@pytest.fixture
def study_id(store: InMemoryStorage) -> int:
    return store.create_study("s", SPACE, [Direction.MINIMIZE]).study_id


def test_get_storage():
    assert isinstance(get_storage(None), InMemoryStorage)
    store = InMemoryStorage()
    assert get_storage(store) is store
    with pytest.raises(ConfigError, match=r"storage must be None, a URL string or a Storage, got"):
        get_storage(3)  # type: ignore[arg-type]


def test_create_and_get_study(store: InMemoryStorage):
    info = store.create_study("a", SPACE, [Direction.MAXIMIZE], {"seed": 1})
    assert info.name == "a" and info.directions == (Direction.MAXIMIZE,)
    assert dict(info.space) == SPACE and info.user_attrs["seed"] == 1
    assert info.created_at.tzinfo is not None
    assert store.get_study("a") == info
    store.create_study("b", SPACE, [Direction.MINIMIZE])
    assert [s.name for s in store.list_studies()] == ["a", "b"]


def test_duplicate_study(store: InMemoryStorage):
    store.create_study("a", SPACE, [Direction.MINIMIZE])
    with pytest.raises(DuplicateStudyError, match=r"a study named 'a' already exists"):
        store.create_study("a", SPACE, [Direction.MINIMIZE])


def test_missing_study_lists_the_names(store: InMemoryStorage):
    store.create_study("a", SPACE, [Direction.MINIMIZE])
    with pytest.raises(StudyNotFoundError, match=r"no study named 'b'; the store has \['a'\]"):
        store.get_study("b")
    assert issubclass(StudyNotFoundError, StorageError)
    with pytest.raises(KeyError):  # also a KeyError, for dict-like callers
        store.delete_study("b")


def test_study_info_cannot_be_changed_behind_the_stores_back(store: InMemoryStorage):
    attrs = {"seed": 1}
    info = store.create_study("a", SPACE, [Direction.MINIMIZE], attrs)
    attrs["seed"] = 2
    assert store.get_study("a").user_attrs["seed"] == 1
    with pytest.raises(TypeError):
        info.user_attrs["seed"] = 3  # type: ignore[index]
    store.set_study_attr(info.study_id, "note", "hi")
    assert dict(store.get_study("a").user_attrs) == {"seed": 1, "note": "hi"}


def test_delete_study_removes_its_trials(store: InMemoryStorage):
    a = store.create_study("a", SPACE, [Direction.MINIMIZE]).study_id
    b = store.create_study("b", SPACE, [Direction.MINIMIZE]).study_id
    ta = store.create_trial(a, {"x": 0.1})
    store.create_trial(b, {"x": 0.2})
    store.delete_study("a")
    assert [s.name for s in store.list_studies()] == ["b"]
    assert len(store.get_trials(b)) == 1
    with pytest.raises(KeyError, match=r"no trial with id"):
        store.get_trial(ta.trial_id)


def test_trial_numbers_are_per_study(store: InMemoryStorage):
    a = store.create_study("a", SPACE, [Direction.MINIMIZE]).study_id
    b = store.create_study("b", SPACE, [Direction.MINIMIZE]).study_id
    numbers = [store.create_trial(s, {"x": 0.5}).number for s in (a, b, a, a, b)]
    assert numbers == [0, 0, 1, 2, 1]
    ids = [t.trial_id for t in store.get_trials(a) + store.get_trials(b)]
    assert len(set(ids)) == 5


def test_create_trial_records_a_running_trial(store: InMemoryStorage, study_id: int):
    t = store.create_trial(study_id, {"x": 0.5}, worker="w1")
    assert t.state is TrialState.RUNNING and t.worker == "w1"
    assert t.started_at is not None and t.heartbeat_at is not None and t.finished_at is None
    assert dict(t.params) == {"x": 0.5}
    with pytest.raises(TypeError):
        t.params["x"] = 1.0  # type: ignore[index]


def test_create_trial_in_unknown_study(store: InMemoryStorage):
    with pytest.raises(StudyNotFoundError, match=r"no study with id 7"):
        store.create_trial(7, {"x": 0.5})


def test_claim_waiting_takes_the_oldest(store: InMemoryStorage, study_id: int):
    assert store.claim_waiting(study_id, "w") is None
    first = store.create_trial(study_id, {"x": 0.1}, state=TrialState.WAITING)
    store.create_trial(study_id, {"x": 0.2}, state=TrialState.WAITING)
    assert first.started_at is None
    claimed = store.claim_waiting(study_id, "w")
    assert claimed is not None and claimed.number == first.number
    assert claimed.state is TrialState.RUNNING and claimed.worker == "w"
    assert claimed.started_at is not None
    second = store.claim_waiting(study_id, "w")
    assert second is not None and second.params["x"] == 0.2
    assert store.claim_waiting(study_id, "w") is None


def test_claim_waiting_is_atomic_across_threads(store: InMemoryStorage, study_id: int):
    for i in range(50):
        store.create_trial(study_id, {"x": i / 50}, state=TrialState.WAITING)
    claimed: list[int] = []

    def worker() -> None:
        while (t := store.claim_waiting(study_id, threading.current_thread().name)) is not None:
            claimed.append(t.number)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(claimed) == list(range(50))


def test_report_keeps_every_step_and_metric(store: InMemoryStorage, study_id: int):
    t = store.create_trial(study_id, {"x": 0.5})
    store.report(t.trial_id, 1, 0.9, {"val_loss": 0.9, "acc": 0.1})
    store.report(t.trial_id, 2, 0.5, {"val_loss": 0.5})
    store.report(t.trial_id, 2, None, {"lr": 1e-3})
    store.report(t.trial_id, 3, math.nan)
    record = store.get_trial(t.trial_id)
    assert list(record.intermediate) == [1, 2, 3]
    assert record.intermediate[2] == 0.5 and math.isnan(record.intermediate[3])
    assert dict(record.metrics[2]) == {"val_loss": 0.5, "lr": 1e-3}
    assert dict(record.metrics[1]) == {"val_loss": 0.9, "acc": 0.1}
    assert record.last_step == 3


def test_heartbeat_moves_forward(store: InMemoryStorage, study_id: int):
    t = store.create_trial(study_id, {"x": 0.5})
    store.heartbeat(t.trial_id)
    assert store.get_trial(t.trial_id).heartbeat_at >= t.heartbeat_at  # type: ignore[operator]


def test_finish_trial(store: InMemoryStorage, study_id: int):
    t = store.create_trial(study_id, {"x": 0.5})
    done = store.finish_trial(t.trial_id, TrialState.COMPLETE, [0.25])
    assert done.state is TrialState.COMPLETE and done.values == (0.25,)
    assert done.finished_at is not None and done.duration is not None and done.duration >= 0
    assert store.get_trial(t.trial_id) == done


def test_finish_needs_a_final_state(store: InMemoryStorage, study_id: int):
    t = store.create_trial(study_id, {"x": 0.5})
    with pytest.raises(TrialStateError, match=r"trial 0: finish_trial needs COMPLETE, PRUNED or"):
        store.finish_trial(t.trial_id, TrialState.RUNNING)


def test_late_result_after_failure_is_refused(store: InMemoryStorage, study_id: int):
    t = store.create_trial(study_id, {"x": 0.5})
    store.finish_trial(t.trial_id, TrialState.FAILED, reason="worker died")
    with pytest.raises(
        TrialStateError,
        match=r"trial 0 already finished as FAILED \(worker died\); a late COMPLETE result is "
        r"refused",
    ):
        store.finish_trial(t.trial_id, TrialState.COMPLETE, [0.1])
    assert store.get_trial(t.trial_id).state is TrialState.FAILED


def test_repeated_identical_result_is_harmless(store: InMemoryStorage, study_id: int):
    t = store.create_trial(study_id, {"x": 0.5})
    first = store.finish_trial(t.trial_id, TrialState.COMPLETE, [0.1])
    again = store.finish_trial(t.trial_id, TrialState.COMPLETE, [0.1])
    assert again == first
    with pytest.raises(TrialStateError, match=r"already finished as COMPLETE"):
        store.finish_trial(t.trial_id, TrialState.COMPLETE, [0.2])
    p = store.create_trial(study_id, {"x": 0.5})
    store.finish_trial(p.trial_id, TrialState.PRUNED, [math.nan], reason="diverged")
    assert store.finish_trial(p.trial_id, TrialState.PRUNED, [math.nan]).reason == "diverged"


def test_finished_trial_refuses_reports_and_heartbeats(store: InMemoryStorage, study_id: int):
    t = store.create_trial(study_id, {"x": 0.5})
    store.finish_trial(t.trial_id, TrialState.PRUNED)
    with pytest.raises(TrialStateError, match=r"trial 0 already finished as PRUNED; cannot report"):
        store.report(t.trial_id, 5, 0.1)
    with pytest.raises(TrialStateError, match=r"cannot heartbeat"):
        store.heartbeat(t.trial_id)


def test_trial_attrs(store: InMemoryStorage, study_id: int):
    t = store.create_trial(study_id, {"x": 0.5})
    store.set_trial_attr(t.trial_id, "note", {"a": [1, 2]})
    store.set_trial_attr(t.trial_id, "n", 3)
    assert dict(store.get_trial(t.trial_id).user_attrs) == {"note": {"a": [1, 2]}, "n": 3}


def test_get_trials_filters_by_state(store: InMemoryStorage, study_id: int):
    ts = [store.create_trial(study_id, {"x": i / 10}) for i in range(4)]
    store.finish_trial(ts[0].trial_id, TrialState.COMPLETE, [1.0])
    store.finish_trial(ts[2].trial_id, TrialState.FAILED)
    assert [t.number for t in store.get_trials(study_id)] == [0, 1, 2, 3]
    assert [t.number for t in store.get_trials(study_id, [TrialState.RUNNING])] == [1, 3]
    finished = store.get_trials(study_id, (TrialState.COMPLETE, TrialState.FAILED))
    assert [t.number for t in finished] == [0, 2]


def test_is_a_storage():
    assert isinstance(InMemoryStorage(), Storage)
    assert repr(InMemoryStorage()) == "InMemoryStorage()"


def test_attrs_must_be_json(store: InMemoryStorage, study_id: int):
    t = store.create_trial(study_id, {"x": 0.5})
    with pytest.raises(ConfigError, match=r"trial attribute 'obj' must be JSON-serializable"):
        store.set_trial_attr(t.trial_id, "obj", object())
    with pytest.raises(ConfigError, match=r"study attribute 'nan' must be JSON-serializable"):
        store.set_study_attr(study_id, "nan", math.nan)
    with pytest.raises(ConfigError, match=r"study user_attrs must be JSON-serializable"):
        store.create_study("b", SPACE, [Direction.MINIMIZE], {"f": print})
    # A refused attribute leaves nothing behind.
    assert dict(store.get_trial(t.trial_id).user_attrs) == {}
    assert [s.name for s in store.list_studies()] == ["s"]
