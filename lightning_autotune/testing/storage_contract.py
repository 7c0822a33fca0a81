"""`StorageContract`: the behaviour every `Storage` implementation must show, as pytest tests.

Subclass it in a test module (name the subclass `Test...`) and supply a `storage` fixture that
returns a fresh, empty store:

    class TestMyStore(StorageContract):
        @pytest.fixture
        def storage(self):
            return MyStore()

`fresh_postgres_database` makes a throwaway database on a PostgreSQL server for such a fixture.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timezone

import pytest

from lightning_autotune.exceptions import (
    ConfigError,
    DuplicateStudyError,
    StudyNotFoundError,
)
from lightning_autotune.storage import Storage
from lightning_autotune.testing._contract_trials import SPACE, TrialContract, new_study
from lightning_autotune.trial import Direction

__all__ = ["SPACE", "StorageContract", "fresh_postgres_database"]


@contextmanager
def fresh_postgres_database(url: str) -> Iterator[str]:
    """Create a uniquely named database on the server of `url`; yield its URL; drop it after.

    Args:
        url: A PostgreSQL URL whose user may create databases.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"autotune_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class StorageContract(TrialContract):
    """Contract tests; a subclass provides the `storage` fixture (a fresh, empty store)."""

    # Studies ----------------------------------------------------------------------------------
    def test_study_round_trip(self, storage: Storage) -> None:
        info = storage.create_study(
            "exp", SPACE, [Direction.MINIMIZE, Direction.MAXIMIZE], {"seed": 7, "tag": ["a"]}
        )
        got = storage.get_study("exp")
        assert got.study_id == info.study_id
        assert dict(got.space) == SPACE
        assert list(got.space) == list(SPACE)  # parameter order is kept
        assert got.directions == (Direction.MINIMIZE, Direction.MAXIMIZE)
        assert dict(got.user_attrs) == {"seed": 7, "tag": ["a"]}
        assert got.created_at.tzinfo is not None
        assert got.created_at.utcoffset() == timezone.utc.utcoffset(None)

    @pytest.mark.parametrize(
        ("name", "match"),
        [
            ("a\x00b", r"study name must not contain a NUL character, got 'a\\x00b'"),
            ("n" * 513, r"study name must be at most 512 characters, got 513"),
            ("bad\ud800", r"study name must be valid Unicode text \(no lone surrogate\)"),
            ("", r"study name must be a non-empty string, got ''"),
        ],
    )
    def test_study_name_rule(self, storage: Storage, name: str, match: str) -> None:
        with pytest.raises(ConfigError, match=match):
            storage.create_study(name, {"x": {"type": "continuous", "min": 0, "max": 1}}, [])
        assert storage.list_studies() == []
        longest = new_study(storage, "n" * 512)
        assert storage.get_study("n" * 512) == longest

    def test_duplicate_study_refused(self, storage: Storage) -> None:
        new_study(storage, "dup")
        with pytest.raises(DuplicateStudyError, match="'dup' already exists"):
            new_study(storage, "dup")

    def test_missing_study_lists_existing(self, storage: Storage) -> None:
        new_study(storage, "present")
        with pytest.raises(StudyNotFoundError, match=r"'absent'.*present"):
            storage.get_study("absent")
        with pytest.raises(StudyNotFoundError, match="absent"):
            storage.delete_study("absent")

    def test_list_studies_oldest_first(self, storage: Storage) -> None:
        for name in ["b", "a", "c"]:
            new_study(storage, name)
        assert [s.name for s in storage.list_studies()] == ["b", "a", "c"]

    def test_delete_study_removes_its_trials(self, storage: Storage) -> None:
        gone, kept = new_study(storage, "gone"), new_study(storage, "kept")
        t = storage.create_trial(gone.study_id, {"lr": 0.001})
        storage.report(t.trial_id, 1, 0.5, {"acc": 0.9})
        storage.create_trial(kept.study_id, {"lr": 0.002})
        storage.delete_study("gone")
        assert [s.name for s in storage.list_studies()] == ["kept"]
        assert storage.get_trials(gone.study_id) == []
        assert len(storage.get_trials(kept.study_id)) == 1
        with pytest.raises(KeyError):
            storage.get_trial(t.trial_id)

    def test_set_study_attr(self, storage: Storage) -> None:
        info = new_study(storage)
        storage.set_study_attr(info.study_id, "note", {"k": [1, 2]})
        assert storage.get_study("s").user_attrs == {"seed": 3, "note": {"k": [1, 2]}}

    def test_non_json_attributes_refused(self, storage: Storage) -> None:
        info = new_study(storage)
        trial = storage.create_trial(info.study_id, {"lr": 0.01})
        with pytest.raises(ConfigError, match="study attribute 'k' must be JSON-serializable"):
            storage.set_study_attr(info.study_id, "k", {1, 2})
        with pytest.raises(ConfigError, match="trial attribute 'nan' must be JSON-serializable"):
            storage.set_trial_attr(trial.trial_id, "nan", float("nan"))
        assert storage.get_study("s").user_attrs == {"seed": 3}
        assert dict(storage.get_trial(trial.trial_id).user_attrs) == {}

    def test_stored_attributes_are_copies(self, storage: Storage) -> None:
        info = new_study(storage)
        value = {"list": [1, 2]}
        storage.set_study_attr(info.study_id, "v", value)
        value["list"].append(3)
        assert storage.get_study("s").user_attrs["v"] == {"list": [1, 2]}
