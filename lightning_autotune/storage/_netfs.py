"""SQLite files on network file systems: one list of such file systems, one check.

SQLite serializes writers with file locks, and WAL mode keeps its index in shared memory beside
the file; neither works between machines, and network file systems (NFS, SMB, Lustre, FUSE
mounts of object stores, ...) break the locks silently, which corrupts the database. Opening a
store (`create_study`, `fit`, a worker) refuses such a file, whichever way its URL is written.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.engine import URL

from lightning_autotune.exceptions import StorageError

__all__ = [
    "MOUNTS",
    "NETWORK_FILESYSTEMS",
    "NETWORK_FUSE",
    "network_filesystem",
    "refuse_network_sqlite",
    "sqlite_file",
]

MOUNTS = "/proc/mounts"
"""The mount table read by default (Linux); elsewhere it is missing and nothing is refused."""

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "lustre",
        "gpfs",
        "ceph",
        "glusterfs",
        "beegfs",
    }
)
"""Mount types (the third field of /proc/mounts) of network file systems: SQLite's file locks
and WAL's shared memory do not work between machines there."""

NETWORK_FUSE = frozenset(
    {
        "sshfs",
        "glusterfs",
        "ceph-fuse",
        "s3fs",
        "gcsfuse",
        "rclone",
        "blobfuse",
        "blobfuse2",
        "juicefs",
        "goofys",
        "mountpoint-s3",
    }
)
"""FUSE file systems over a network or an object store ('fuse.s3fs' in the mount table, or type
'fuse' with the program as the mount's source)."""


def network_filesystem(folder: Path, mounts: str | None = None) -> str | None:
    """The type of the network file system holding `folder`, or None if local (or unknown).

    Reads the Linux mount table (`mounts`, default `MOUNTS`); elsewhere it cannot tell and
    returns None. The mount point that holds `folder` is the longest one that contains it.
    """
    try:
        lines = Path(mounts or MOUNTS).read_text().splitlines()
    except OSError:
        return None
    best, found = "", None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = str(folder) == point or str(folder).startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, found = point, (fields[0], fields[2])
    if found is None:
        return None
    source, kind = found
    if kind in NETWORK_FILESYSTEMS:
        return kind
    if kind.startswith("fuse.") and kind[5:] in NETWORK_FUSE:
        return kind
    if kind == "fuse" and source.rsplit("/", 1)[-1].split(":", 1)[0].lower() in NETWORK_FUSE:
        return f"fuse ({source})"
    return None


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL, also when written as a URI (`sqlite:///file:x.db?mode=ro`).

    Returns:
        The absolute path, or None for an in-memory database or a URL that is not SQLite.
    """
    database = url.database
    if not url.drivername.startswith("sqlite") or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        if url.query.get("mode") == "memory":
            return None
        rest = database[len("file:") :].split("?", 1)[0]
        if rest.startswith("//"):  # file://host/path or file:///path: drop the authority
            rest = "/" + rest[2:].partition("/")[2]
        database = unquote(rest)
        if not database or database == ":memory:":
            return None
    return Path(database).expanduser().resolve()


def refuse_network_sqlite(path: Path, mounts: str | None = None) -> None:
    """Refuse a SQLite file on a network file system (see `NETWORK_FILESYSTEMS`).

    Raises:
        StorageError: `path` is on one; the message says to use PostgreSQL or a local disk.
    """
    fs_type = network_filesystem(path.parent, mounts)
    if fs_type is not None:
        raise StorageError(
            f"the SQLite store {str(path)!r} is on a network file system ({fs_type}): "
            "SQLite's file locks are not reliable there, so workers on several machines "
            "could corrupt it or lose trials. Use PostgreSQL "
            "('postgresql://user:password@host/db') to share a study between machines, or "
            "a path on a local disk."
        )
