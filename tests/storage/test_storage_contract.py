"""Run the shared `StorageContract` against every store: in memory, SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lightning_autotune.storage import InMemoryStorage, SQLStorage
from lightning_autotune.testing.storage_contract import StorageContract


class TestInMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> InMemoryStorage:
        return InMemoryStorage()


class TestSQLiteFileStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[SQLStorage]:
        store = SQLStorage(f"sqlite:///{tmp_path / 'store.db'}")
        yield store
        store.close()


class TestSQLiteMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> Iterator[SQLStorage]:
        store = SQLStorage("sqlite://")
        yield store
        store.close()


@pytest.mark.postgres
class TestPostgresStorage(StorageContract):
    @pytest.fixture
    def storage(self, postgres_db: str) -> Iterator[SQLStorage]:
        store = SQLStorage(postgres_db)
        yield store
        store.close()
