"""Fixtures for the store tests: a throwaway PostgreSQL database when a server is configured."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the server of AUTOTUNE_TEST_POSTGRES_URL, dropped after the session."""
    base = os.environ.get("AUTOTUNE_TEST_POSTGRES_URL")
    if not base:
        pytest.skip('AUTOTUNE_TEST_POSTGRES_URL is not set; eval "$(.ci/postgres.sh)" sets it')
    pytest.importorskip("psycopg")
    # Imported here: spawned test workers import the test modules, and lightning_autotune.testing
    # pulls in torch.
    from lightning_autotune.testing.storage_contract import fresh_postgres_database

    with fresh_postgres_database(base) as url:
        yield url


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    """The session's PostgreSQL database URL; the store's tables are dropped after each test."""
    from sqlalchemy import create_engine

    from lightning_autotune.storage._schema import metadata

    yield postgres_url
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
    engine.dispose()
