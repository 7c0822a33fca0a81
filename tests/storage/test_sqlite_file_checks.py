"""A SQLite store file that is empty, or in a folder SQLite cannot write, is reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lightning_autotune.exceptions import StorageError
from lightning_autotune.storage import SQLStorage


def test_an_empty_store_file_is_started_afresh_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "lost.db"
    path.write_bytes(b"")
    with pytest.warns(UserWarning, match=r"is an empty file \(0 bytes\).*it lost its data") as w:
        store = SQLStorage(f"sqlite:///{path}")
    assert str(path) in str(w[0].message)
    assert store.list_studies() == []
    assert path.stat().st_size > 0


def test_a_new_or_filled_store_file_gives_no_warning(tmp_path: Path, recwarn) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    SQLStorage(url)
    SQLStorage(url)
    assert [str(w.message) for w in recwarn if "SQLite store" in str(w.message)] == []


def test_a_store_in_a_read_only_folder_names_the_folder(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "store.db"
    SQLStorage(f"sqlite:///{path}").close()
    real_access = os.access

    def access(target, mode, **kwargs):  # a read-only folder (tests may run as root)
        if Path(target) == folder:
            return False
        return real_access(target, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    match = rf"its folder '{folder}' is not writable.*'readonly database'"
    with pytest.raises(StorageError, match=match):
        SQLStorage(f"sqlite:///{path}")
