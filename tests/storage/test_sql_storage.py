"""SQLStorage specifics: URLs, errors, schema versions, password masking, pickling, studies."""

from __future__ import annotations

import logging
import pickle
import sqlite3
from pathlib import Path

import pytest

from lightning_autotune.exceptions import ConfigError, StorageError, StudyMismatchError
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import SQLStorage, get_storage
from lightning_autotune.storage._schema import (
    SCHEMA_VERSION,
    mask_url,
    parse_url,
)
from lightning_autotune.study import create_study, load_study
from lightning_autotune.trial import Direction, TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


def _url(tmp_path: Path, name: str = "store.db") -> str:
    return f"sqlite:///{tmp_path / name}"


# URLs --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "oracle://h/db", "mongodb://h"])
def test_unsupported_scheme_lists_the_supported_ones(url: str) -> None:
    with pytest.raises(ConfigError, match=r"is not supported.*sqlite:///.*postgresql://"):
        SQLStorage(url)


def test_unsupported_scheme_hides_password() -> None:
    with pytest.raises(ConfigError) as err:
        SQLStorage("mysql://user:hunter2@host/db")
    assert "hunter2" not in str(err.value) and "user:***@host" in str(err.value)


def test_a_path_is_not_a_url() -> None:
    with pytest.raises(ConfigError, match=r"must be a database URL.*'sqlite:///autotune.db'"):
        SQLStorage("autotune.db")


def test_missing_folder_names_the_path_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(StorageError, match=r"folder '.*no/such' does not exist.*mkdir -p"):
        SQLStorage(f"sqlite:///{missing / 'x.db'}")
    assert not missing.exists()


def test_postgres_urls_use_psycopg() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"


def test_mask_url() -> None:
    assert mask_url("postgresql://user:s3cret@host:5432/db") == "postgresql://user:***@host:5432/db"
    assert mask_url("sqlite:///a.db") == "sqlite:///a.db"


def test_unreachable_postgres_error_hides_password(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql://user:s3cret-pw@127.0.0.1:1/db?connect_timeout=2&reconnect_timeout=0"
    with caplog.at_level(logging.DEBUG), pytest.raises(StorageError) as err:
        SQLStorage(url)
    message = str(err.value)
    assert message.startswith("postgresql+psycopg://user:***@127.0.0.1:1/db")
    assert "could not open the store: connection failed" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in caplog.text


def test_repr_hides_password(tmp_path: Path) -> None:
    store = SQLStorage(_url(tmp_path))
    assert repr(store) == f"SQLStorage('sqlite:///{tmp_path / 'store.db'}')"
    assert store.backend == "sqlite"


def test_get_storage_builds_sql_store(tmp_path: Path) -> None:
    store = get_storage(_url(tmp_path))
    assert isinstance(store, SQLStorage)


# The file ----------------------------------------------------------------------------------------
def test_sqlite_file_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    SQLStorage(_url(tmp_path))
    with sqlite3.connect(tmp_path / "store.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        version = conn.execute("SELECT version FROM schema_version").fetchall()
    assert version == [(SCHEMA_VERSION,)]


def test_other_schema_version_refused(tmp_path: Path) -> None:
    SQLStorage(_url(tmp_path))
    with sqlite3.connect(tmp_path / "store.db") as conn:
        conn.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(
        StorageError,
        match=rf"schema version \[999\], but .* reads schema version {SCHEMA_VERSION}.*new store",
    ):
        SQLStorage(_url(tmp_path))


def test_foreign_database_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE trials (trial_id INTEGER)")
    with pytest.raises(StorageError, match=r"no schema_version table: it is not a lightning_aut"):
        SQLStorage(_url(tmp_path, "other.db"))


def test_garbage_file_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(
        StorageError, match=r"junk.db: could not open the store: file is not a database"
    ):
        SQLStorage(_url(tmp_path, "junk.db"))


def test_non_json_values_refused(tmp_path: Path) -> None:
    store = SQLStorage(_url(tmp_path))
    info = store.create_study("s", SPACE, [Direction.MINIMIZE])
    with pytest.raises(ConfigError, match=r"params must be JSON-serializable.*object"):
        store.create_trial(info.study_id, {"x": object()})
    with pytest.raises(ConfigError, match=r"trial attribute 'bad' must be JSON-serializable.*NaN"):
        store.set_trial_attr(store.create_trial(info.study_id, {"x": 0.1}).trial_id, "bad", [1e999])
    with pytest.raises(ConfigError, match="study attribute 'k'"):
        store.set_study_attr(info.study_id, "k", {1, 2})


def test_numpy_scalars_are_stored_as_numbers(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    store = SQLStorage(_url(tmp_path))
    info = store.create_study("s", SPACE, [Direction.MINIMIZE])
    trial = store.create_trial(info.study_id, {"x": np.float64(0.25), "n": np.int64(3)})
    assert dict(store.get_trial(trial.trial_id).params) == {"x": 0.25, "n": 3}


def test_pickle_reopens_a_file_store(tmp_path: Path) -> None:
    store = SQLStorage(_url(tmp_path))
    store.create_study("s", SPACE, [Direction.MINIMIZE])
    clone = pickle.loads(pickle.dumps(store))
    assert [s.name for s in clone.list_studies()] == ["s"]
    with pytest.raises(StorageError, match="in-memory SQLite store cannot be shared"):
        pickle.dumps(SQLStorage("sqlite://"))


# Studies on top of the store ---------------------------------------------------------------------
def test_study_reopened_by_url_keeps_every_trial(tmp_path: Path) -> None:
    url = _url(tmp_path)
    study = create_study("s", SPACE, url, sampler=RandomSampler(), seed=0)

    def objective(trial) -> float:
        for step in range(3):
            trial.report(step, trial.params["x"] + step, {"acc": step / 10})
        return trial.params["x"]

    study.optimize(objective, n_trials=4)
    study.tell(study.ask(), state=TrialState.FAILED, reason="boom")
    again = load_study("s", url)
    assert again.trials == study.trials
    assert [t.state for t in again.trials] == [TrialState.COMPLETE] * 4 + [TrialState.FAILED]
    assert dict(again.trials[2].metrics[1]) == {"acc": 0.1}
    assert again.best_value == study.best_value
    with pytest.raises(StudyMismatchError, match="directions changed"):
        create_study("s", SPACE, url, direction="maximize")


@pytest.mark.postgres
def test_postgres_repr_and_errors_hide_password(postgres_db: str) -> None:
    from sqlalchemy.engine import make_url

    password = make_url(postgres_db).password
    assert password
    store = SQLStorage(postgres_db)
    assert store.backend == "postgresql"
    assert password not in repr(store) and ":***@" in repr(store)
    with pytest.raises(StorageError) as err:
        SQLStorage(postgres_db.replace(str(password), "wrong-password-123"))
    assert "wrong-password-123" not in str(err.value)
    assert "password authentication failed" in str(err.value)
