"""Trial stores: in memory, or SQL (a SQLite file, or PostgreSQL shared by several machines)."""

from __future__ import annotations

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.storage._base import Storage, StudyInfo
from lightning_autotune.storage._memory import InMemoryStorage
from lightning_autotune.storage._problems import MalformedRow, StudyTrials
from lightning_autotune.storage._sql import SQLStorage

__all__ = [
    "InMemoryStorage",
    "MalformedRow",
    "SQLStorage",
    "Storage",
    "StudyInfo",
    "StudyTrials",
    "get_storage",
]


def get_storage(storage: Storage | str | None) -> Storage:
    """Turn a `storage=` argument into a store.

    Args:
        storage: None for a new in-memory store, a store instance, or a SQLAlchemy URL such as
            'sqlite:///autotune.db' or 'postgresql://user@host/db'.
    """
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, Storage):
        return storage
    if isinstance(storage, str):
        return SQLStorage(storage)
    raise ConfigError(
        f"storage must be None, a URL string or a Storage, got {type(storage).__name__}; use "
        "e.g. storage='sqlite:///autotune.db'"
    )
