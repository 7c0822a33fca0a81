"""Run the shared `StorageContract` against every store: in memory, SQLite, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightning_autotune.storage import InMemoryStorage, SQLStorage
from lightning_autotune.storage._schema import metadata
from lightning_autotune.testing.storage_contract import StorageContract, fresh_postgres_database

POSTGRES_URL = os.environ.get("AUTOTUNE_TEST_POSTGRES_URL")


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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway database for this test session on the server of AUTOTUNE_TEST_POSTGRES_URL."""
    if not POSTGRES_URL:
        pytest.skip('AUTOTUNE_TEST_POSTGRES_URL is not set; eval "$(.ci/postgres.sh)" sets it')
    pytest.importorskip("psycopg")
    with fresh_postgres_database(POSTGRES_URL) as url:
        yield url


@pytest.mark.postgres
class TestPostgresStorage(StorageContract):
    @pytest.fixture
    def storage(self, postgres_url: str) -> Iterator[SQLStorage]:
        store = SQLStorage(postgres_url)
        yield store
        with store._write_engine.begin() as conn:
            metadata.drop_all(conn)
        store.close()
