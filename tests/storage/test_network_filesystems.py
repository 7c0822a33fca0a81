"""One network-file-system rule for every way a SQLite store is opened, over a fake mount table."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_autotune.cli._worker import check_shared_storage, run_worker
from lightning_autotune.exceptions import StorageError
from lightning_autotune.storage import SQLStorage, _netfs
from lightning_autotune.storage._netfs import (
    NETWORK_FILESYSTEMS,
    NETWORK_FUSE,
    network_filesystem,
    sqlite_file,
)
from lightning_autotune.storage._schema import parse_url
from lightning_autotune.study import create_study, load_study

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
REFUSED = r"is on a network file system \({}\).*Use PostgreSQL"

NETWORK_TYPES = sorted(NETWORK_FILESYSTEMS) + [f"fuse.{name}" for name in sorted(NETWORK_FUSE)]
LOCAL_TYPES = ["ext4", "xfs", "btrfs", "overlay", "tmpfs", "zfs", "fuseblk", "fuse.portal"]


def _mounts(tmp_path: Path, kind: str, source: str = "server:/export") -> str:
    table = tmp_path / "mounts"
    point = str(tmp_path / "shared").replace(" ", "\\040")
    table.write_text(f"/dev/sda1 / ext4 rw 0 0\n{source} {point} {kind} rw 0 0\n")
    (tmp_path / "shared").mkdir(exist_ok=True)
    return str(table)


@pytest.mark.parametrize("kind", NETWORK_TYPES)
def test_every_network_type_is_found(tmp_path, kind):
    mounts = _mounts(tmp_path, kind)
    assert network_filesystem(tmp_path / "shared" / "runs", mounts) == kind
    assert network_filesystem(tmp_path / "elsewhere", mounts) is None


@pytest.mark.parametrize("kind", LOCAL_TYPES)
def test_local_types_are_accepted(tmp_path, kind):
    assert network_filesystem(tmp_path / "shared" / "runs", _mounts(tmp_path, kind)) is None


@pytest.mark.parametrize("program", ["goofys", "s3fs", "rclone"])
def test_a_plain_fuse_mount_is_known_by_its_program(tmp_path, program):
    mounts = _mounts(tmp_path, "fuse", source=program)
    assert network_filesystem(tmp_path / "shared", mounts) == f"fuse ({program})"
    assert network_filesystem(tmp_path / "shared", _mounts(tmp_path, "fuse", "mybackup")) is None


def test_a_missing_mount_table_refuses_nothing(tmp_path):
    assert network_filesystem(tmp_path, str(tmp_path / "no-such-table")) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///{d}/a.db", "{d}/a.db"),
        ("sqlite:///file:{d}/a.db?mode=ro&uri=true", "{d}/a.db"),
        ("sqlite:///file://localhost{d}/a.db?uri=true", "{d}/a.db"),
        ("sqlite:///file:{d}/a%20b.db?uri=true", "{d}/a b.db"),
        ("sqlite:///file:memdb?mode=memory&cache=shared&uri=true", None),
        ("sqlite:///file::memory:?uri=true", None),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
    ],
)
def test_the_file_of_a_sqlite_url(tmp_path, url, expected):
    from sqlalchemy.engine import make_url

    want = None if expected is None else Path(expected.format(d=tmp_path))
    assert sqlite_file(make_url(url.format(d=tmp_path))) == want


@pytest.mark.parametrize("kind", ["glusterfs", "beegfs", "smb", "fuse.s3fs", "fuse.sshfs"])
def test_create_study_load_study_and_the_worker_refuse_alike(tmp_path, monkeypatch, kind):
    (tmp_path / "shared").mkdir()
    url = f"sqlite:///{tmp_path / 'shared' / 's.db'}"
    create_study("s", SPACE, url)  # made while the folder counted as local
    monkeypatch.setattr(_netfs, "MOUNTS", _mounts(tmp_path, kind))
    refused = REFUSED.format(kind)
    with pytest.raises(StorageError, match=refused):
        create_study("t", SPACE, url)
    with pytest.raises(StorageError, match=refused):
        load_study("s", url)
    with pytest.raises(StorageError, match=refused):
        run_worker("s", url, lambda t: 0.0, n_trials=1)
    monkeypatch.setattr(_netfs, "MOUNTS", "/no/such/table")
    store = SQLStorage(url)  # a store object made elsewhere, then given to a worker
    monkeypatch.setattr(_netfs, "MOUNTS", _mounts(tmp_path, kind))
    with pytest.raises(StorageError, match=refused):
        check_shared_storage(store)


def test_a_file_uri_is_checked_too(tmp_path, monkeypatch):
    monkeypatch.setattr(_netfs, "MOUNTS", _mounts(tmp_path, "nfs4"))
    with pytest.raises(StorageError, match=REFUSED.format("nfs4")):
        parse_url(f"sqlite:///file:{tmp_path / 'shared' / 's.db'}?mode=rwc&uri=true")
    parse_url(f"sqlite:///file:{tmp_path / 'local.db'}?mode=rwc&uri=true")
