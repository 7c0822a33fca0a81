"""Stores written by the previous release (schema version 1) are upgraded in place when opened.

The fixtures in data/ are dumps of stores that lightning_autotune wrote at schema version 1, one
for SQLite and one for PostgreSQL: two studies, trials in every state, with the failure reasons
that release wrote.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from lightning_autotune.storage import SQLStorage
from lightning_autotune.storage._schema import SCHEMA_VERSION
from lightning_autotune.study import load_study
from lightning_autotune.trial import FailureKind, TrialState

DATA = Path(__file__).parent / "data"

# The kind each trial of study 'old-study' gets from its version-1 reason, by trial number.
EXPECTED_KINDS = {
    0: None,  # COMPLETE
    1: FailureKind.OOM,
    2: FailureKind.EXCEPTION,
    3: FailureKind.PRUNED,
    4: FailureKind.DIVERGED,  # FAILED 'objective value was nan'
    5: None,
    6: FailureKind.INTERRUPTED,
    7: FailureKind.PROCESS_DIED,
    8: FailureKind.HEARTBEAT_LOST,
    9: FailureKind.COORDINATOR_LOST,
    10: FailureKind.TIMEOUT,
    11: FailureKind.TIME_BUDGET,
    12: FailureKind.SETUP_ERROR,
    13: FailureKind.EXCEPTION,  # FAILED without a reason
    14: FailureKind.DIVERGED,  # PRUNED 'objective was nan at step 0'
    15: None,  # RUNNING
    16: None,  # WAITING
}

_TABLES = ("studies", "trials", "trial_intermediate", "trial_metrics")


def _statements(name: str) -> list[str]:
    lines = (DATA / name).read_text().splitlines()
    script = "\n".join(line for line in lines if not line.startswith("--"))
    return [s.strip() for s in script.split(";\n") if s.strip()]


def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as written, without the column the upgrade adds."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = {
            table: [
                {k: v for k, v in row._mapping.items() if k != "kind"}
                for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))
            ]
            for table in _TABLES
        }
    engine.dispose()
    return rows


def _load_sqlite(tmp_path: Path) -> str:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((DATA / "schema_v1.sqlite.sql").read_text())
    conn.close()
    return f"sqlite:///{path}"


def _load_postgres(url: str) -> str:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in _statements("schema_v1.postgresql.sql"):
            conn.exec_driver_sql(statement)
    engine.dispose()
    return url


def _check_upgrade(url: str) -> None:
    before = _rows(url)
    assert len(before["trials"]) == 18 and before["trial_intermediate"]

    store = SQLStorage(url)

    assert _rows(url) == before  # every row and column kept as it was
    engine = create_engine(url)
    with engine.connect() as conn:
        versions = list(conn.execute(text("SELECT version FROM schema_version")).scalars())
    engine.dispose()
    assert versions == [SCHEMA_VERSION]
    assert [s.name for s in store.list_studies()] == ["old-study", "second"]
    study = load_study("old-study", store)
    trials = study.trials
    assert {t.number: t.kind for t in trials} == EXPECTED_KINDS
    by_number = {t.number: t for t in trials}
    assert by_number[1].reason == "oom: MemoryError: cannot allocate 8 GiB"
    assert by_number[0].intermediate and by_number[0].metrics[0]["acc"] == 0.7
    assert by_number[0].user_attrs == {"note": {"what": "ok"}}
    assert math.isnan(by_number[14].values[0])  # type: ignore[index]
    assert by_number[15].state is TrialState.RUNNING
    assert by_number[16].state is TrialState.WAITING

    # The upgraded store works as a new one: trials are numbered on, kinds are stored.
    new = store.create_trial(study.study_id, {"x": 0.1, "n": 1})
    assert new.number == 17
    done = store.finish_trial(new.trial_id, TrialState.FAILED, None, "x", FailureKind.OOM)
    assert done.kind is FailureKind.OOM
    store.close()
    # Opening it again changes nothing more.
    again = SQLStorage(url)
    assert [t.kind for t in load_study("old-study", again).trials][:17] == list(
        EXPECTED_KINDS.values()
    )
    again.close()


def test_sqlite_store_of_schema_version_1_is_upgraded_in_place(tmp_path: Path) -> None:
    _check_upgrade(_load_sqlite(tmp_path))


@pytest.mark.postgres
def test_postgres_store_of_schema_version_1_is_upgraded_in_place(postgres_db: str) -> None:
    _check_upgrade(_load_postgres(postgres_db))


@pytest.mark.parametrize(
    ("state", "reason", "kind"),
    [
        ("COMPLETE", None, None),
        ("RUNNING", "anything", None),
        ("PRUNED", "MedianPruner at step 3 (value 0.5)", FailureKind.PRUNED),
        ("PRUNED", "objective was inf at step 2", FailureKind.DIVERGED),
        ("FAILED", "oom: CUDA out of memory", FailureKind.OOM),
        ("FAILED", "ConfigError: lr must be > 0", FailureKind.SETUP_ERROR),
        ("FAILED", "RuntimeError: interrupted by the network", FailureKind.EXCEPTION),
    ],
)
def test_from_reason_reads_only_what_version_1_wrote(
    state: str, reason: str | None, kind: FailureKind | None
) -> None:
    assert FailureKind.from_reason(state, reason) is kind


def test_a_failed_upgrade_leaves_the_store_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightning_autotune.storage import _migrate

    url = _load_sqlite(tmp_path)
    before = _rows(url)

    def broken(conn: Any) -> None:
        conn.execute(text("ALTER TABLE trials ADD COLUMN kind VARCHAR(32)"))
        raise RuntimeError("disk full")

    steps: dict[int, Callable[..., None]] = {1: broken}
    monkeypatch.setattr(_migrate, "_STEPS", steps)
    with pytest.raises(RuntimeError, match="disk full"):
        SQLStorage(url)
    with sqlite3.connect(tmp_path / "v1.db") as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(trials)")]
        version = conn.execute("SELECT version FROM schema_version").fetchall()
    assert "kind" not in columns and version == [(1,)]
    assert _rows(url) == before
