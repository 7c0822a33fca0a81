"""The reads that keep a large study cheap: trial summaries (one report per trial), the index
the incremental reads use, and the schema step that adds it to older stores."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from lightning_autotune.storage import SQLStorage, _problems
from lightning_autotune.storage._base import summarize
from lightning_autotune.storage._rows import fetch_last_reports, fetch_rows
from lightning_autotune.storage._schema import SCHEMA_VERSION, trials
from lightning_autotune.storage._sql_ops import read_trials
from lightning_autotune.trial import Direction, TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    _problems._warned.clear()
    yield
    _problems._warned.clear()


def _store_with_reports(path: Path, n: int = 6) -> tuple[SQLStorage, int, list[int]]:
    store = SQLStorage(f"sqlite:///{path}")
    sid = store.create_study("s", SPACE, [Direction.MINIMIZE]).study_id
    ids = []
    for i in range(n):
        trial = store.create_trial(sid, {"x": i / n})
        for step in range(4):
            store.report(trial.trial_id, step, 1.0 / (1 + step + i), {"acc": 0.1 * step})
        store.finish_trial(trial.trial_id, TrialState.COMPLETE, [0.1 * i])
        ids.append(trial.trial_id)
    return store, sid, ids


def _sql(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


def test_summaries_quarantine_the_same_rows_as_the_full_read(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store, sid, ids = _store_with_reports(path)
    _sql(
        path,
        # an early step that is text: not the last report, found all the same
        f"UPDATE trial_intermediate SET step = 'one' WHERE trial_id = {ids[1]} AND step = 1",
        f"UPDATE trial_intermediate SET value = 'high' WHERE trial_id = {ids[2]} AND step = 3",
        f"UPDATE trial_metrics SET value = x'00' WHERE trial_id = {ids[3]} AND step = 0",
        f"UPDATE trial_intermediate SET step = 2.5 WHERE trial_id = {ids[4]} AND step = 2",
    )
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        where = trials.c.study_id == sid
        full, full_bad = read_trials(conn, where, fetch_rows)
        summaries, summary_bad = read_trials(conn, where, fetch_last_reports)
    engine.dispose()
    assert [t.trial_id for t in full] == [ids[0], ids[5]]
    assert summary_bad == full_bad and len(full_bad) == 4
    assert [summarize(t) for t in summaries] == [summarize(t) for t in full]
    with pytest.warns(UserWarning) as caught:
        assert store.get_trial_summaries(sid) == [summarize(t) for t in full]
    said = " ".join(str(w.message) for w in caught)
    assert "column trial_intermediate.step must be an integer, got 'one'" in said
    assert "column trial_metrics.value (step 0) must be a number, got b'\\x00'" in said
    store.close()


def _plans(store: SQLStorage, path: Path, action: Any) -> list[str]:
    """The SQLite query plan of every SELECT on `trials` that `action` runs."""
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM trials" in statement:
            statements.append((statement, params))

    engines = {id(e): e for e in (store._db._read_engine, store._db._write_engine)}
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", record)
    action()
    for engine in engines.values():
        event.remove(engine, "before_cursor_execute", record)
    plans = []
    with sqlite3.connect(path) as conn:
        for statement, params in statements:
            rows = conn.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
            plans.append(" | ".join(str(row[-1]) for row in rows))
    conn.close()
    return plans


def test_an_incremental_read_finds_new_trials_by_index(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store, sid, _ = _store_with_reports(path, n=3)
    store.read_trials(sid)  # fills the cache: the next read asks only for what is new
    store.create_trial(sid, {"x": 0.5})
    plans = _plans(store, path, lambda: store.read_trials(sid))
    assert "SEARCH trials USING INDEX ix_trials_study_id (study_id=? AND id>?)" in plans, plans
    store.close()


def _as_version_3(path: Path) -> None:
    _sql(path, "DROP INDEX ix_trials_study_id", "UPDATE schema_version SET version = 3")


def _indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
    conn.close()
    return names


def test_a_store_of_schema_version_3_gets_the_index(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    store, sid, _ = _store_with_reports(path, n=3)
    before = store.get_trials(sid)
    store.close()
    _as_version_3(path)
    assert "ix_trials_study_id" not in _indexes(path)

    reopened = SQLStorage(f"sqlite:///{path}")

    assert "ix_trials_study_id" in _indexes(path)
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert list(conn.execute(text("SELECT version FROM schema_version")).scalars()) == [
            SCHEMA_VERSION
        ]
    engine.dispose()
    assert reopened.get_trials(sid) == before
    assert reopened.read_trials(sid).trials == before
    assert reopened.create_trial(sid, {"x": 0.5}).number == 3
    reopened.close()
    SQLStorage(f"sqlite:///{path}").close()  # opening it again changes nothing
    assert SCHEMA_VERSION == 4


@pytest.mark.postgres
def test_a_postgres_store_of_schema_version_3_gets_the_index(postgres_db: str) -> None:
    store = SQLStorage(postgres_db)
    sid = store.create_study("s", SPACE, [Direction.MINIMIZE]).study_id
    store.create_trial(sid, {"x": 0.5})
    store.close()
    engine = create_engine(postgres_db.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_trials_study_id"))
        conn.execute(text("UPDATE schema_version SET version = 3"))

    reopened = SQLStorage(postgres_db)

    with engine.connect() as conn:
        names = set(
            conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'trials'"))
            .scalars()
            .all()
        )
        version = conn.execute(text("SELECT version FROM schema_version")).scalar()
    engine.dispose()
    assert "ix_trials_study_id" in names and version == SCHEMA_VERSION
    assert [t.number for t in reopened.get_trials(sid)] == [0]
    reopened.close()
