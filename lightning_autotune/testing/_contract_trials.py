"""The trial half of the storage contract: numbering, lifecycle, reports, heartbeats and
concurrent claims. `StorageContract` (in `storage_contract`) inherits it."""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any

import pytest

from lightning_autotune.exceptions import ConfigError, StudyNotFoundError, TrialStateError
from lightning_autotune.storage import Storage, StudyInfo
from lightning_autotune.storage._base import summarize
from lightning_autotune.trial import Direction, FailureKind, TrialState

__all__ = ["SPACE", "TrialContract", "new_study"]

SPACE: dict[str, Any] = {
    "lr": {"type": "continuous", "min": 1e-5, "max": 1e-2, "scale": "log"},
    "batch_size": {"type": "discrete", "values": [32, 64, 128]},
}
NAN, INF = float("nan"), float("inf")


def new_study(storage: Storage, name: str = "s", n_objectives: int = 1) -> StudyInfo:
    """Create a study of `SPACE` named `name` with `n_objectives` minimized objectives."""
    return storage.create_study(name, SPACE, [Direction.MINIMIZE] * n_objectives, {"seed": 3})


class TrialContract:
    """Contract tests of trials; a subclass provides the `storage` fixture."""

    # Trials -----------------------------------------------------------------------------------
    def test_numbering_per_study(self, storage: Storage) -> None:
        a, b = new_study(storage, "a"), new_study(storage, "b")
        numbers_a = [storage.create_trial(a.study_id, {"lr": 0.01}).number for _ in range(3)]
        numbers_b = [storage.create_trial(b.study_id, {"lr": 0.01}).number for _ in range(2)]
        assert numbers_a == [0, 1, 2]
        assert numbers_b == [0, 1]

    def test_create_trial_fields(self, storage: Storage) -> None:
        info = new_study(storage)
        params = {"lr": 0.001, "batch_size": 64, "opt": "sgd", "flag": True, "none": None}
        running = storage.create_trial(info.study_id, params, worker="w1")
        assert running.state is TrialState.RUNNING
        assert dict(running.params) == params
        assert running.worker == "w1"
        assert running.started_at is not None and running.heartbeat_at is not None
        assert running.started_at.tzinfo is not None
        waiting = storage.create_trial(info.study_id, {"lr": 0.01}, state=TrialState.WAITING)
        assert waiting.state is TrialState.WAITING and waiting.started_at is None
        retry = storage.create_trial(info.study_id, params, retry_of=running.number)
        assert retry.retry_of == running.number
        assert storage.get_trial(retry.trial_id) == retry

    def test_create_trial_if_next(self, storage: Storage) -> None:
        info = new_study(storage)
        first = storage.create_trial_if_next(info.study_id, 0, {"lr": 0.01}, worker="w")
        assert first is not None and first.number == 0 and first.state is TrialState.RUNNING
        assert first.worker == "w"
        # number 0 is taken, and 2 is not next: nothing is recorded
        assert storage.create_trial_if_next(info.study_id, 0, {"lr": 0.02}) is None
        assert storage.create_trial_if_next(info.study_id, 2, {"lr": 0.02}) is None
        assert [t.number for t in storage.get_trials(info.study_id)] == [0]
        storage.create_trial(info.study_id, {"lr": 0.03})
        second = storage.create_trial_if_next(info.study_id, 2, {"lr": 0.02})
        assert second is not None and dict(second.params) == {"lr": 0.02}

    def test_create_trial_if_next_counts_proposals(self, storage: Storage) -> None:
        info = new_study(storage)
        sid = info.study_id
        first = storage.create_trial_if_next(sid, None, {"lr": 0.01}, max_proposals=2)
        assert first is not None and first.number == 0
        # a retry and a setup error do not count against the limit
        storage.create_trial(sid, {"lr": 0.01}, retry_of=0)
        setup = storage.create_trial(sid, {"lr": 0.02})
        storage.finish_trial(
            setup.trial_id, TrialState.FAILED, None, "bad", FailureKind.SETUP_ERROR
        )
        second = storage.create_trial_if_next(sid, 3, {"lr": 0.03}, max_proposals=2)
        assert second is not None and second.number == 3
        assert storage.create_trial_if_next(sid, 4, {"lr": 0.04}, max_proposals=2) is None
        assert storage.create_trial_if_next(sid, None, {"lr": 0.04}, max_proposals=2) is None
        assert len(storage.get_trials(sid)) == 4
        third = storage.create_trial_if_next(sid, None, {"lr": 0.04}, max_proposals=3)
        assert third is not None and third.number == 4

    def test_close_waiting_retries(self, storage: Storage) -> None:
        sid = new_study(storage).study_id
        died = storage.create_trial(sid, {"lr": 0.01})
        retry = storage.create_trial(sid, {"lr": 0.01}, state=TrialState.WAITING, retry_of=0)
        queued = storage.create_trial(sid, {"lr": 0.02}, state=TrialState.WAITING)
        (closed,) = storage.close_waiting_retries(sid, "retry not run: trial budget reached")
        assert closed.trial_id == retry.trial_id and closed.state is TrialState.FAILED
        assert closed.kind is FailureKind.INTERRUPTED and closed.finished_at is not None
        assert closed.reason == "retry not run: trial budget reached"
        assert storage.get_trial(queued.trial_id).state is TrialState.WAITING
        assert storage.get_trial(died.trial_id).state is TrialState.RUNNING
        assert storage.close_waiting_retries(sid, "again") == []

    def test_create_trial_unknown_study(self, storage: Storage) -> None:
        with pytest.raises(StudyNotFoundError):
            storage.create_trial(987654, {"lr": 0.01})

    def test_unknown_trial_is_key_error(self, storage: Storage) -> None:
        with pytest.raises(KeyError, match="987654"):
            storage.get_trial(987654)

    def test_claim_waiting_oldest_first(self, storage: Storage) -> None:
        info = new_study(storage)
        assert storage.claim_waiting(info.study_id, "w") is None
        first = storage.create_trial(info.study_id, {"lr": 0.01}, state=TrialState.WAITING)
        storage.create_trial(info.study_id, {"lr": 0.02}, state=TrialState.WAITING)
        claimed = storage.claim_waiting(info.study_id, "worker-7")
        assert claimed is not None
        assert claimed.trial_id == first.trial_id
        assert claimed.state is TrialState.RUNNING and claimed.worker == "worker-7"
        assert claimed.started_at is not None and claimed.heartbeat_at is not None
        second = storage.claim_waiting(info.study_id, "w")
        assert second is not None and second.number == 1
        assert storage.claim_waiting(info.study_id, "w") is None

    def test_report_round_trips_every_step_and_metric(self, storage: Storage) -> None:
        t = storage.create_trial(new_study(storage).study_id, {"lr": 0.01})
        storage.report(t.trial_id, 0, 1.5, {"val_loss": 1.5, "acc": 0.25})
        storage.report(t.trial_id, 10, NAN, {"acc": INF, "loss": -INF})
        storage.report(t.trial_id, 20, None, {"acc": 0.75})
        storage.report(t.trial_id, 0, 1.25, {"extra": 3.0})  # same step again: value replaced
        got = storage.get_trial(t.trial_id)
        assert list(got.intermediate) == [0, 10]
        assert got.intermediate[0] == 1.25
        assert got.intermediate[10] != got.intermediate[10]  # NaN
        assert {k: dict(v) for k, v in got.metrics.items() if k != 10} == {
            0: {"val_loss": 1.5, "acc": 0.25, "extra": 3.0},
            20: {"acc": 0.75},
        }
        assert dict(got.metrics[10]) == {"acc": INF, "loss": -INF}
        assert got.last_step == 10

    def test_heartbeat_moves_forward(self, storage: Storage) -> None:
        t = storage.create_trial(new_study(storage).study_id, {"lr": 0.01})
        time.sleep(0.01)
        storage.heartbeat(t.trial_id)
        beat = storage.get_trial(t.trial_id).heartbeat_at
        assert beat is not None and t.heartbeat_at is not None and beat > t.heartbeat_at

    def test_finish_complete_and_repeat_is_harmless(self, storage: Storage) -> None:
        t = storage.create_trial(new_study(storage).study_id, {"lr": 0.01})
        done = storage.finish_trial(t.trial_id, TrialState.COMPLETE, [0.5])
        assert done.state is TrialState.COMPLETE and done.values == (0.5,)
        assert done.finished_at is not None and done.duration is not None
        again = storage.finish_trial(t.trial_id, TrialState.COMPLETE, [0.5])
        assert again == done
        with pytest.raises(TrialStateError, match="already finished as COMPLETE"):
            storage.finish_trial(t.trial_id, TrialState.COMPLETE, [0.7])

    def test_late_result_after_failure_refused(self, storage: Storage) -> None:
        t = storage.create_trial(new_study(storage).study_id, {"lr": 0.01})
        storage.finish_trial(t.trial_id, TrialState.FAILED, reason="oom")
        with pytest.raises(TrialStateError, match=r"already finished as FAILED \(oom\)"):
            storage.finish_trial(t.trial_id, TrialState.COMPLETE, [0.1])
        with pytest.raises(TrialStateError, match="cannot report"):
            storage.report(t.trial_id, 1, 0.1)
        with pytest.raises(TrialStateError, match="cannot heartbeat"):
            storage.heartbeat(t.trial_id)
        got = storage.get_trial(t.trial_id)
        assert got.state is TrialState.FAILED and got.reason == "oom" and got.values is None
        assert got.intermediate == {}

    def test_finish_needs_a_final_state(self, storage: Storage) -> None:
        t = storage.create_trial(new_study(storage).study_id, {"lr": 0.01})
        with pytest.raises(TrialStateError, match="COMPLETE, PRUNED or FAILED"):
            storage.finish_trial(t.trial_id, TrialState.RUNNING)

    def test_non_finite_and_multi_objective_values(self, storage: Storage) -> None:
        info = new_study(storage, n_objectives=3)
        t = storage.create_trial(info.study_id, {"lr": 0.01})
        storage.finish_trial(t.trial_id, TrialState.FAILED, [NAN, INF, -INF], reason="nan")
        values = storage.get_trial(t.trial_id).values
        assert values is not None and values[1:] == (INF, -INF) and values[0] != values[0]
        # the same non-finite values again are a repeat, not a conflict
        storage.finish_trial(t.trial_id, TrialState.FAILED, [NAN, INF, -INF], reason="nan")

    def test_pruned_keeps_its_reason(self, storage: Storage) -> None:
        t = storage.create_trial(new_study(storage).study_id, {"lr": 0.01})
        storage.report(t.trial_id, 3, 0.9)
        got = storage.finish_trial(t.trial_id, TrialState.PRUNED, [0.9], reason="median")
        assert (got.state, got.values, got.reason) == (TrialState.PRUNED, (0.9,), "median")
        assert dict(got.intermediate) == {3: 0.9}

    def test_finished_trials_keep_their_kind(self, storage: Storage) -> None:
        info = new_study(storage)
        ids = [storage.create_trial(info.study_id, {"lr": 0.01}).trial_id for _ in range(5)]
        oom = storage.finish_trial(ids[0], TrialState.FAILED, None, "oom: x", FailureKind.OOM)
        assert (oom.kind, oom.reason) == (FailureKind.OOM, "oom: x")
        # without a kind: FAILED is an EXCEPTION, PRUNED is PRUNED, COMPLETE has none
        assert storage.finish_trial(ids[1], TrialState.FAILED).kind is FailureKind.EXCEPTION
        assert storage.finish_trial(ids[2], TrialState.PRUNED).kind is FailureKind.PRUNED
        done = storage.finish_trial(ids[3], TrialState.COMPLETE, [1.0], None, FailureKind.OOM)
        assert done.kind is None
        kinds = {t.trial_id: t.kind for t in storage.get_trials(info.study_id)}
        assert kinds == {
            ids[0]: FailureKind.OOM,
            ids[1]: FailureKind.EXCEPTION,
            ids[2]: FailureKind.PRUNED,
            ids[3]: None,
            ids[4]: None,
        }
        with pytest.raises(ConfigError, match="kind must be a FailureKind or None, got 'oom'"):
            storage.finish_trial(ids[4], TrialState.FAILED, None, "x", "oom")  # type: ignore[arg-type]

    def test_set_trial_attr(self, storage: Storage) -> None:
        t = storage.create_trial(new_study(storage).study_id, {"lr": 0.01})
        storage.set_trial_attr(t.trial_id, "ckpt", "/tmp/x.ckpt")
        storage.set_trial_attr(t.trial_id, "epochs", 3)
        attrs = storage.get_trial(t.trial_id).user_attrs
        assert dict(attrs) == {"ckpt": "/tmp/x.ckpt", "epochs": 3}

    def test_read_trials_follows_every_change(self, storage: Storage) -> None:
        info = new_study(storage)
        assert storage.read_trials(info.study_id).next_number == 0
        first = storage.create_trial(info.study_id, {"lr": 0.01})
        queued = storage.create_trial(info.study_id, {"lr": 0.02}, state=TrialState.WAITING)
        assert storage.read_trials(info.study_id).trials == storage.get_trials(info.study_id)
        storage.report(first.trial_id, 1, 0.5, {"acc": 0.25})
        storage.finish_trial(first.trial_id, TrialState.COMPLETE, [0.5])
        storage.claim_waiting(info.study_id, "w:1")
        storage.create_trial(info.study_id, {"lr": 0.03})
        read = storage.read_trials(info.study_id)
        assert read.trials == storage.get_trials(info.study_id)
        running = TrialState.RUNNING
        assert [t.state for t in read.trials] == [TrialState.COMPLETE, running, running]
        assert read.trials[0].intermediate == {1: 0.5} and read.trials[1].number == queued.number
        assert read.next_number == 3 and read.malformed == ()
        assert storage.find_malformed("s") == [] and storage.find_malformed() == []
        with pytest.raises(StudyNotFoundError, match="absent"):
            storage.find_malformed("absent")

    def test_get_trials_filters_states(self, storage: Storage) -> None:
        info = new_study(storage)
        ids = [storage.create_trial(info.study_id, {"lr": 0.01}).trial_id for _ in range(4)]
        storage.finish_trial(ids[0], TrialState.COMPLETE, [1.0])
        storage.finish_trial(ids[2], TrialState.PRUNED)
        assert [t.number for t in storage.get_trials(info.study_id)] == [0, 1, 2, 3]
        done = storage.get_trials(info.study_id, [TrialState.COMPLETE, TrialState.PRUNED])
        assert [t.number for t in done] == [0, 2]
        assert [t.number for t in storage.get_trials(info.study_id, [TrialState.RUNNING])] == [1, 3]
        assert storage.get_trials(info.study_id, []) == []

    def test_trial_summaries_are_the_full_read_with_the_last_report(self, storage: Storage) -> None:
        info = new_study(storage)
        sid = info.study_id
        ids = [storage.create_trial(sid, {"lr": 0.01}).trial_id for _ in range(6)]
        for step, value in [(3, 0.9), (0, 1.0), (7, 0.4)]:  # reported out of step order
            storage.report(ids[0], step, value, {"acc": value / 2})
        storage.report(ids[1], 2, NAN)  # the last report is NaN
        storage.report(ids[2], 1, INF, {"acc": 0.1})
        storage.report(ids[3], 5, 0.5)
        storage.report(ids[3], 5, 0.25)  # rewritten
        storage.report(ids[4], 1, None, {"acc": 0.7})  # a metric without the objective
        storage.finish_trial(ids[0], TrialState.COMPLETE, [0.4])
        storage.finish_trial(ids[1], TrialState.PRUNED)
        storage.finish_trial(ids[2], TrialState.FAILED, None, "boom")
        storage.set_trial_attr(ids[0], "note", "kept")
        full = storage.get_trials(sid)
        summaries = storage.get_trial_summaries(sid)
        assert summaries == [summarize(t) for t in full]
        by_id = {t.trial_id: t for t in summaries}
        assert by_id[ids[0]].intermediate == {7: 0.4} and by_id[ids[0]].last_step == 7
        assert by_id[ids[0]].metrics == {} and by_id[ids[0]].user_attrs == {"note": "kept"}
        assert math.isnan(by_id[ids[1]].intermediate[2])
        assert by_id[ids[3]].intermediate == {5: 0.25}
        assert by_id[ids[4]].intermediate == {} and by_id[ids[5]].intermediate == {}
        running = [TrialState.RUNNING]
        assert storage.get_trial_summaries(sid, running) == [
            summarize(t) for t in storage.get_trials(sid, running)
        ]
        assert storage.get_trial_summaries(sid, []) == []

    def test_snapshots_are_frozen(self, storage: Storage) -> None:
        t = storage.create_trial(new_study(storage).study_id, {"lr": 0.01})
        with pytest.raises(TypeError):
            t.params["lr"] = 1.0  # type: ignore[index]
        storage.report(t.trial_id, 1, 0.5)
        assert t.intermediate == {}  # an old snapshot does not change

    # Heartbeats -------------------------------------------------------------------------------
    def test_stale_trials(self, storage: Storage) -> None:
        # Wide margins (0.6 s silence vs a 0.3 s grace) keep this steady on a loaded machine.
        info = new_study(storage)
        silent = storage.create_trial(info.study_id, {"lr": 0.01})
        beating = storage.create_trial(info.study_id, {"lr": 0.02})
        storage.create_trial(info.study_id, {"lr": 0.03}, state=TrialState.WAITING)
        done = storage.create_trial(info.study_id, {"lr": 0.04})
        storage.finish_trial(done.trial_id, TrialState.COMPLETE, [1.0])
        time.sleep(0.6)
        storage.heartbeat(beating.trial_id)
        assert [t.number for t in storage.get_stale_trials(info.study_id, 0.3)] == [0]
        assert storage.get_stale_trials(info.study_id, 3600) == []
        assert storage.fail_stale_trials(info.study_id, 3600) == []
        storage.heartbeat(beating.trial_id)
        failed = storage.fail_stale_trials(info.study_id, 0.3)
        assert [t.trial_id for t in failed] == [silent.trial_id]
        assert failed[0].state is TrialState.FAILED and failed[0].finished_at is not None
        assert re.fullmatch(r"heartbeat lost: no heartbeat for \d+ s", failed[0].reason or "")
        assert failed[0].kind is FailureKind.HEARTBEAT_LOST
        assert storage.get_trial(silent.trial_id) == failed[0]
        storage.heartbeat(beating.trial_id)
        assert storage.fail_stale_trials(info.study_id, 0.3) == []  # each trial fails once
        assert storage.get_trial(beating.trial_id).state is TrialState.RUNNING
        with pytest.raises(TrialStateError, match="heartbeat lost"):
            storage.finish_trial(silent.trial_id, TrialState.COMPLETE, [0.1])

    @pytest.mark.parametrize("grace", [-1, float("nan"), "10", True])
    def test_bad_grace_refused(self, storage: Storage, grace: Any) -> None:
        with pytest.raises(ConfigError, match="grace_seconds"):
            storage.get_stale_trials(new_study(storage).study_id, grace)

    # Concurrency (threads; processes are tested per implementation) ---------------------------
    def test_concurrent_numbering_and_claims(self, storage: Storage) -> None:
        info = new_study(storage)
        for _ in range(12):
            storage.create_trial(info.study_id, {"lr": 0.01}, state=TrialState.WAITING)
        created: list[int] = []
        claimed: list[int] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(5):
                    created.append(storage.create_trial(info.study_id, {"lr": 0.01}).number)
                    got = storage.claim_waiting(info.study_id, threading.current_thread().name)
                    if got is not None:
                        claimed.append(got.number)
            except BaseException as err:  # surfaced below
                errors.append(err)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        assert sorted(created) == list(range(12, 32))
        assert sorted(claimed) == list(range(12))
