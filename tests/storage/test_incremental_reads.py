"""`SQLStorage.read_trials`: incremental, yet never stale or short, with several writers.

Two store objects on one database stand for two processes: `reader` keeps its cache between
reads while `writer` creates, reports, finishes and deletes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from lightning_autotune import create_study
from lightning_autotune.pruners import MedianPruner
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import SQLStorage, _cache
from lightning_autotune.trial import Direction, TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_db"))


@pytest.fixture
def stores(url: str) -> Iterator[tuple[SQLStorage, SQLStorage, int]]:
    writer, reader = SQLStorage(url), SQLStorage(url)
    sid = writer.create_study("s", SPACE, [Direction.MINIMIZE]).study_id
    yield writer, reader, sid
    writer.close()
    reader.close()


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of trial rows each incremental read fetched, in order."""
    counts: list[int] = []
    real = _cache.fetch_rows

    def counting(conn: Any, where: Any) -> Any:
        rows, inter, mets = real(conn, where)
        counts.append(len(rows))
        return rows, inter, mets

    monkeypatch.setattr(_cache, "fetch_rows", counting)
    return counts


def test_a_read_fetches_only_new_and_live_trials(
    stores: tuple[SQLStorage, SQLStorage, int], fetched: list[int]
) -> None:
    writer, reader, sid = stores
    ids = [writer.create_trial(sid, {"x": i / 10}).trial_id for i in range(6)]
    for tid in ids[:5]:
        writer.finish_trial(tid, TrialState.COMPLETE, [0.5])
    assert len(reader.read_trials(sid).trials) == 6
    new = writer.create_trial(sid, {"x": 0.9})
    read = reader.read_trials(sid)
    assert [t.number for t in read.trials] == [0, 1, 2, 3, 4, 5, 6] and read.next_number == 7
    assert fetched == [6, 2]  # the second read: trial 5 (still RUNNING) and the new trial 6
    writer.report(new.trial_id, 3, 0.25, {"acc": 0.75})
    writer.finish_trial(ids[5], TrialState.PRUNED, [0.7], "slow")
    read = reader.read_trials(sid)
    assert fetched[-1] == 2
    assert read.trials[5].state is TrialState.PRUNED and read.trials[5].reason == "slow"
    assert dict(read.trials[6].intermediate) == {3: 0.25}
    assert read.trials[6].metrics[3]["acc"] == 0.75
    reader.read_trials(sid)
    assert fetched[-1] == 1  # only trial 6 is live now
    assert reader.read_trials(sid).trials == writer.get_trials(sid)


def test_a_running_trial_is_never_served_as_it_was(
    stores: tuple[SQLStorage, SQLStorage, int],
) -> None:
    writer, reader, sid = stores
    queued = writer.create_trial(sid, {"x": 0.1}, state=TrialState.WAITING)
    assert reader.read_trials(sid).trials[0].state is TrialState.WAITING
    claimed = writer.claim_waiting(sid, "w:1")
    assert claimed is not None and claimed.trial_id == queued.trial_id
    assert reader.read_trials(sid).trials[0].state is TrialState.RUNNING
    writer.finish_trial(queued.trial_id, TrialState.FAILED, None, "boom")
    got = reader.read_trials(sid).trials[0]
    assert (got.state, got.reason) == (TrialState.FAILED, "boom")


def test_a_deleted_study_is_not_served_from_the_cache(
    stores: tuple[SQLStorage, SQLStorage, int],
) -> None:
    writer, reader, sid = stores
    writer.finish_trial(writer.create_trial(sid, {"x": 0.1}).trial_id, TrialState.COMPLETE, [1])
    assert len(reader.read_trials(sid).trials) == 1
    writer.delete_study("s")
    assert reader.read_trials(sid).trials == []


def test_a_row_below_the_watermark_is_caught_by_the_count(
    url: str, stores: tuple[SQLStorage, SQLStorage, int]
) -> None:
    writer, reader, sid = stores
    for i in range(3):
        tid = writer.create_trial(sid, {"x": 0.1}).trial_id
        writer.finish_trial(tid, TrialState.COMPLETE, [float(i)])
    writer.create_trial(sid, {"x": 0.1})  # id 4: the watermark moves past id 1
    assert len(reader.read_trials(sid).trials) == 4
    # a row slipped in under the watermark by hand (no writer of this package does that)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        top = conn.execute(text("SELECT max(id) FROM trials")).scalar_one()
        conn.execute(text("DELETE FROM trials WHERE number = 1"))
        conn.execute(
            text(
                'INSERT INTO trials (id, study_id, number, state, params, user_attrs, "values")'
                f" VALUES ({top + 50}, {sid}, 9, 'COMPLETE', '{{\"x\": 0.5}}', '{{}}', '[0.5]')"
            )
        )
    engine.dispose()
    read = reader.read_trials(sid)  # the same count, other rows: only a full read is right
    assert [t.number for t in read.trials] == [t.number for t in writer.get_trials(sid)]
    assert [t.number for t in read.trials] == [0, 2, 3, 9] and read.next_number == 10


def test_interleaved_writes_and_reads_match_a_full_read(
    stores: tuple[SQLStorage, SQLStorage, int],
) -> None:
    writer, reader, sid = stores
    rng = random.Random(0)
    live: list[int] = []
    for step in range(120):
        move = rng.random()
        if move < 0.35 or not live:
            state = TrialState.WAITING if rng.random() < 0.2 else TrialState.RUNNING
            live.append(writer.create_trial(sid, {"x": rng.random()}, state=state).trial_id)
        elif move < 0.6:
            writer.report(rng.choice(live), step, rng.random(), {"m": 1.0})
        elif move < 0.7:
            writer.claim_waiting(sid, "w:1")
        else:
            tid = live.pop(rng.randrange(len(live)))
            state = rng.choice([TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED])
            values = [rng.random()] if state is TrialState.COMPLETE else None
            writer.finish_trial(tid, state, values)
        if step % 3 == 0:
            assert reader.read_trials(sid).trials == writer.get_trials(sid)
    assert reader.read_trials(sid).trials == writer.get_trials(sid)


def test_an_attribute_set_by_this_process_on_a_finished_trial_is_read_back(
    stores: tuple[SQLStorage, SQLStorage, int],
) -> None:
    writer, reader, sid = stores
    tid = writer.create_trial(sid, {"x": 0.1}).trial_id
    writer.finish_trial(tid, TrialState.COMPLETE, [1.0])
    assert reader.read_trials(sid).trials[0].user_attrs == {}
    reader.set_trial_attr(tid, "note", "kept")
    assert reader.read_trials(sid).trials[0].user_attrs == {"note": "kept"}


def test_pruning_in_a_real_trainer_sees_trials_another_process_finished(
    stores: tuple[SQLStorage, SQLStorage, int],
) -> None:
    """A pruning check reads the history incrementally, and still sees what others wrote."""
    import lightning.pytorch as pl

    from lightning_autotune.callbacks import AutoTuneCallback
    from lightning_autotune.testing import (
        TINY_TRAINER_KWARGS,
        TinyClassifier,
        loaders,
        random_datasets,
    )

    writer, reader, _ = stores
    study = create_study(
        "fit", SPACE, reader, sampler=RandomSampler(), pruner=MedianPruner(n_startup_trials=1)
    )
    first = study.ask({"x": 0.5})
    first.report(0, 5.0)
    assert first.should_prune() is False  # no history yet; the study is read (and cached)
    other = writer.get_study("fit").study_id
    for value in (0.01, 0.02):  # trials another process finishes meanwhile: far better
        done = writer.create_trial(other, {"x": 0.3})
        for step in (0, 9, 18, 27):
            writer.report(done.trial_id, step, value)
        writer.finish_trial(done.trial_id, TrialState.COMPLETE, [value])
    callback = AutoTuneCallback(first, monitor="val_loss", mode="min")
    train, val = loaders(*random_datasets(n=192, n_features=8), batch_size=16)
    trainer = pl.Trainer(**{**TINY_TRAINER_KWARGS, "max_epochs": 4}, callbacks=[callback])
    model = TinyClassifier(n_features=8, n_classes=3, hidden=16, lr=1e-6, optimizer="sgd")
    trainer.fit(model, train, val)
    assert callback.pruned and trainer.current_epoch < 4
    assert first.prune_reason is not None and "MedianPruner" in first.prune_reason
