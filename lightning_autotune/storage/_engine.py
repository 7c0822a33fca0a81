"""SQLAlchemy engines for the trial store: SQLite tuned for many processes, PostgreSQL via psycopg.

SQLite: WAL journal (readers never wait for the writer) with synchronous=NORMAL, a busy timeout,
foreign keys on, and every write transaction opened with `BEGIN IMMEDIATE`, so the write lock is
taken before anything is read; a transaction never has to upgrade a read lock, which is what
produces "database is locked" errors that no busy timeout can cure. PostgreSQL: writes run at
READ COMMITTED with explicit row locks (`FOR UPDATE`, `SKIP LOCKED` for claims); reads at
REPEATABLE READ, so one snapshot covers a trial and its metrics.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from lightning_autotune.exceptions import StorageError
from lightning_autotune.storage._migrate import OLDEST_UPGRADABLE, upgrade_schema
from lightning_autotune.storage._reconnect import (
    CommitLost,
    CommitOutcome,
    Reconnect,
    is_disconnect,
    split_reconnect_timeout,
    transaction_id,
)
from lightning_autotune.storage._schema import (
    SCHEMA_VERSION,
    mask_url,
    metadata,
    schema_version,
)

__all__ = [
    "BUSY_TIMEOUT_S",
    "Database",
    "create_engines",
    "init_schema",
    "is_memory",
    "run_transaction",
]

T = TypeVar("T")

BUSY_TIMEOUT_S = 30.0
"""How long SQLite waits for a lock, and how long a transaction is retried on lock errors."""

_SQLITE_BEGIN = ("DEFERRED", "IMMEDIATE")
_CONNECT_TIMEOUT_S = 10  # PostgreSQL: seconds one connection attempt may take
_ADVISORY_LOCK_KEY = 0x6C61_7574  # serializes schema creation by concurrent processes on PG
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
_RETRY_TEXT = (
    "database is locked",
    "database is busy",
    "database table is locked",
    # a lost race for a trial number: the transaction is simply run again
    "uq_trials_study_number",
    "trials.study_id, trials.number",
)


def is_memory(url: URL) -> bool:
    """True for an in-memory SQLite URL ('sqlite://' or 'sqlite:///:memory:')."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_engines(url: URL, engine_kwargs: dict[str, Any] | None) -> tuple[Engine, Engine]:
    """A (read, write) pair of engines sharing one connection pool.

    Args:
        url: A URL checked by `parse_url`.
        engine_kwargs: Extra `sqlalchemy.create_engine` arguments (they win over the defaults).

    Returns:
        The engine for read transactions and the one for write transactions.
    """
    kwargs = dict(engine_kwargs or {})
    if url.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        if "connect_timeout" not in url.query and url.drivername == "postgresql+psycopg":
            # A server behind a silent network would hold each connection attempt for minutes,
            # past any reconnect timeout.
            connect_args: dict[str, Any] = {"connect_timeout": _CONNECT_TIMEOUT_S}
            kwargs["connect_args"] = {**connect_args, **kwargs.get("connect_args", {})}
        engine = create_engine(url, **kwargs)
        return engine.execution_options(isolation_level="REPEATABLE READ"), engine

    memory = is_memory(url)
    connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_S}
    connect_args.update(kwargs.pop("connect_args", {}))
    if memory:
        kwargs.setdefault("poolclass", StaticPool)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) own transactions instead of the sqlite3 module.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL survives any crash of the process (SIGKILL included) without
            # losing a commit; only an OS crash or power cut may undo the last few commits, never
            # corrupting the file. FULL would fsync every commit, halving the write rate.
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in _SQLITE_BEGIN:
            raise ValueError(f"sqlite_begin must be one of {_SQLITE_BEGIN}, got {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine, engine.execution_options(sqlite_begin="IMMEDIATE")


def _retryable(err: DBAPIError) -> bool:
    if getattr(err.orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    message = str(err.orig).lower()
    return any(t in message for t in _RETRY_TEXT)


def _scrub(message: str, url: URL) -> str:
    if url.password:
        message = message.replace(str(url.password), "***")
    return message


def run_transaction(
    engine: Engine,
    url: URL,
    what: str,
    body: Callable[[Connection], T],
    timeout: float = BUSY_TIMEOUT_S,
    reconnect: Reconnect | None = None,
    write: bool = False,
) -> T:
    """Run `body` in one transaction, again and again while it fails on a transient lock.

    Lock errors ("database is locked", PostgreSQL serialization failures and deadlocks, a lost
    race for a trial number) are retried with jittered backoff for up to `timeout` seconds; the
    transaction is rolled back before each retry, so `body` must only touch the database.

    With `reconnect` (a PostgreSQL store), a server that cannot be reached or dropped the
    connection is waited for (see `Reconnect`) and `body` runs again once it answers. A COMMIT
    that got no answer is not simply run again: the server is asked whether the transaction
    committed, so a write is never recorded twice.

    Args:
        engine: The read or write engine.
        url: The store's URL (for messages; its password is never shown).
        what: What is being done, for the error message ("create a trial").
        body: Does the work on the connection and returns its result.
        timeout: Seconds to keep retrying on lock errors.
        reconnect: How to wait for a server that went away (None: fail at once).
        write: Whether `body` writes (then a commit without an answer is looked into).

    Raises:
        StorageError: A database error that is not transient, locks that outlasted `timeout`,
            a server that did not answer within the reconnect timeout, or a commit whose fate
            the server could not tell.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    lost = 0  # attempts that found the server gone
    while True:
        try:
            result = _attempt(engine, body, track_commit=write and reconnect is not None)
        except CommitLost as commit:  # raised only where commits are tracked: with `reconnect`
            outcome = (
                reconnect.outcome(engine.connect, commit, what)
                if reconnect is not None
                else CommitOutcome.UNKNOWN
            )
            if outcome is CommitOutcome.COMMITTED:
                return cast(T, commit.result)
            if outcome is CommitOutcome.UNKNOWN:
                raise StorageError(
                    f"{mask_url(url)}: could not {what}: the connection dropped while the "
                    "change was being committed and the server can no longer tell whether it "
                    "was; check the store (lightning-autotune studies show) before retrying"
                ) from None
            deadline = time.monotonic() + timeout  # aborted: run it again
        except DBAPIError as err:
            if reconnect is not None and is_disconnect(err):
                reconnect.wait(err, what, lost)
                lost += 1
                deadline = time.monotonic() + timeout
                continue
            if _retryable(err) and time.monotonic() < deadline:
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.25)
                continue
            hint = (
                f" after retrying for {timeout:.0f} s; another process held a lock on the store "
                "that long. Use PostgreSQL for many concurrent writers."
                if _retryable(err)
                else ""
            )
            raise StorageError(
                f"{mask_url(url)}: could not {what}: {_scrub(str(err.orig), url).strip()}{hint}"
            ) from None
        else:
            if reconnect is not None:
                reconnect.answered()
            return result


def _attempt(engine: Engine, body: Callable[[Connection], T], track_commit: bool) -> T:
    """One try of a transaction; `CommitLost` when the connection dropped during its COMMIT."""
    with engine.connect() as conn:
        xid, committing = None, False
        try:
            with conn.begin():
                result = body(conn)
                # None when the transaction wrote nothing: then nothing can have been recorded.
                xid = transaction_id(conn) if track_commit else None
                committing = True
        except DBAPIError as err:
            if committing and xid is not None and is_disconnect(err):
                raise CommitLost(err, xid, result) from err
            raise
        return result


def init_schema(conn: Connection, url: URL) -> None:
    """Create the tables if the store is new, upgrade an older one in place, refuse a newer one.

    Runs inside a write transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: an advisory lock), so
    processes that open a new store at the same moment do not race to create it.

    Raises:
        StorageError: The store was written by a newer release (or is older than any upgrade
            knows), or the database holds foreign tables of the same names (not a
            lightning_autotune store).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    names = set(inspect(conn).get_table_names())
    if "schema_version" in names:
        found = sorted(conn.execute(select(schema_version.c.version)).scalars())
        if len(found) == 1 and OLDEST_UPGRADABLE <= found[0] < SCHEMA_VERSION:
            upgrade_schema(conn, found[0], mask_url(url))
        elif found != [SCHEMA_VERSION]:
            raise StorageError(
                f"the store {mask_url(url)} has schema version {found}, but this version of "
                f"lightning_autotune reads schema version {SCHEMA_VERSION}. Open it with the "
                "lightning_autotune release that wrote it (and export its trials), or use a new "
                "store file or database."
            )
    elif names & {"studies", "trials"}:
        raise StorageError(
            f"the database {mask_url(url)} already has tables {sorted(names)} but no "
            "schema_version table: it is not a lightning_autotune store (perhaps another tool's). "
            "Use a new file or database."
        )
    metadata.create_all(conn)
    if "schema_version" not in names:
        conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))


def _release(engine: Engine, owner_pid: int) -> None:
    """Close the pooled connections of a dropped store; a forked child only forgets its copies
    (closing a SQLite connection it inherited could disturb the parent's)."""
    engine.dispose(close=os.getpid() == owner_pid)


class Database:
    """The engines of one store and the way to run a transaction on them, retried on lock errors.

    Also safe after `os.fork`: a child process never reuses its parent's connections. An in-memory
    SQLite database has one shared connection, so threads take turns on it. A PostgreSQL server
    that goes away is waited for (see `Reconnect`), for the seconds given by the URL's
    `?reconnect_timeout=` option (else AUTOTUNE_RECONNECT_TIMEOUT, else 60).

    Args:
        url: A URL checked by `parse_url`.
        engine_kwargs: Extra `sqlalchemy.create_engine` arguments.

    Raises:
        StorageError: The database driver is not installed.
        ConfigError: A reconnect timeout that is not a number of seconds >= 0.
    """

    def __init__(self, url: URL, engine_kwargs: dict[str, Any] | None = None) -> None:
        self.backend = url.get_backend_name()
        self.memory = is_memory(url)
        # A file or in-memory SQLite store has no server that could go away; a wait of 0 s
        # means: fail at once.
        self._reconnect: Reconnect | None = None
        if self.backend != "sqlite":
            url, wait = split_reconnect_timeout(url)
            self._reconnect = Reconnect(url, wait) if wait > 0 else None
        self.url = url
        if url.drivername == "postgresql+psycopg":
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise StorageError(
                    "a PostgreSQL store needs the psycopg package: "
                    "pip install 'lightning-autotune[postgres]' (or 'psycopg[binary]')"
                ) from None
        try:
            self._read_engine, self._write_engine = create_engines(url, engine_kwargs)
        except ImportError as err:
            raise StorageError(
                f"cannot open {mask_url(url)}: missing database driver ({err}); install it"
            ) from None
        # A store dropped without `close()` still closes its pooled connections (and their
        # file descriptors) when it is collected; the finalizer holds the engine, not `self`.
        self._closer = weakref.finalize(self, _release, self._write_engine, os.getpid())
        self._closer.atexit = False  # the process ending closes them anyway
        self._mutex: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self.memory else contextlib.nullcontext()
        )
        self._pid = os.getpid()

    def _run(self, write: bool, what: str, body: Callable[[Connection], T]) -> T:
        if os.getpid() != self._pid:  # forked: never reuse the parent's connections
            self._write_engine.dispose(close=False)
            self._pid = os.getpid()
        engine = self._write_engine if write else self._read_engine
        with self._mutex:
            return run_transaction(
                engine, self.url, what, body, reconnect=self._reconnect, write=write
            )

    def write(self, what: str, body: Callable[[Connection], T]) -> T:
        """Run `body` in a write transaction (SQLite: `BEGIN IMMEDIATE`); see `run_transaction`."""
        return self._run(True, what, body)

    def read(self, what: str, body: Callable[[Connection], T]) -> T:
        """Run `body` in a read transaction (PostgreSQL: REPEATABLE READ)."""
        return self._run(False, what, body)

    def upsert(self, table: Table, keys: list[str]) -> Insert:
        """An INSERT that overwrites the `value` column of a row with the same `keys`."""
        stmt = (pg_insert if self.backend == "postgresql" else sqlite_insert)(table)
        return stmt.on_conflict_do_update(index_elements=keys, set_={"value": stmt.excluded.value})

    def dispose(self) -> None:
        """Close every pooled connection (they are reopened on the next use)."""
        self._write_engine.dispose()
