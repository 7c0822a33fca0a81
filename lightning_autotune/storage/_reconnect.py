"""Waiting out a database server that went away: which errors say so, how long, what is said.

A PostgreSQL server that restarts (maintenance, a failover, `pg_ctl restart`) drops every
connection and refuses new ones for a while. The coordinator and every trial process then wait
for it with jittered backoff, for up to `reconnect_timeout` seconds (the store URL's
`?reconnect_timeout=` option, else the AUTOTUNE_RECONNECT_TIMEOUT environment variable, else
60 s), and say once what they wait for and, when the store answers again, how long they waited.

A write whose COMMIT was sent when the connection dropped may or may not have been recorded.
Running it again could record it twice (a second trial, a second retry), so its PostgreSQL
transaction id is taken before the commit and, once the server answers again, the server itself
says whether that transaction committed (`txid_status`): committed, the result stands; aborted,
the write runs again.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from enum import Enum
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from lightning_autotune.exceptions import ConfigError, StorageError
from lightning_autotune.storage._schema import mask_url

__all__ = [
    "RECONNECT_ENV",
    "RECONNECT_OPTION",
    "RECONNECT_TIMEOUT_S",
    "CommitLost",
    "CommitOutcome",
    "Reconnect",
    "is_disconnect",
    "split_reconnect_timeout",
    "transaction_id",
]

log = logging.getLogger("lightning_autotune")

RECONNECT_TIMEOUT_S = 60.0
"""How long a store that stopped answering is waited for, unless configured otherwise."""
RECONNECT_OPTION = "reconnect_timeout"
"""The store URL's query option that sets the wait (it travels with the URL to every worker)."""
RECONNECT_ENV = "AUTOTUNE_RECONNECT_TIMEOUT"
"""The environment variable that sets the wait when the URL does not."""

_FIRST_DELAY_S = 0.1
_MAX_DELAY_S = 2.0
# admin_shutdown, crash_shutdown, cannot_connect_now (starting up, shutting down, recovering)
_SERVER_GONE_SQLSTATES = {"57P01", "57P02", "57P03"}
# libpq reports a refused or dropped connection without a SQLSTATE; these say it was the link.
_DISCONNECT_TEXT = (
    "connection refused",
    "server closed the connection",
    "terminating connection",
    "the database system is",
    "connection is closed",
    "connection is lost",
    "could not receive data",
    "could not send data",
    "consuming input failed",
    "no connection to the server",
    "connection reset",
    "broken pipe",
    "timeout expired",
    "ssl connection has been closed",
)


def split_reconnect_timeout(url: URL) -> tuple[URL, float]:
    """The URL without the `reconnect_timeout` option, and the seconds to wait for the store.

    Raises:
        ConfigError: The option or the environment variable is not a number of seconds >= 0.
    """
    raw: Any = url.query.get(RECONNECT_OPTION)
    source = f"the store URL's ?{RECONNECT_OPTION}="
    if raw is None:
        raw, source = os.environ.get(RECONNECT_ENV), RECONNECT_ENV
    stripped = url.difference_update_query([RECONNECT_OPTION])
    if raw is None or raw == "":
        return stripped, RECONNECT_TIMEOUT_S
    if isinstance(raw, tuple):  # the option given twice
        raw = raw[-1]
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(
            f"{source} must be a number of seconds >= 0 (how long to wait for a database "
            f"server that stopped answering), got {raw!r}; e.g. 60, or 0 to fail at once"
        )
    return stripped, seconds


def is_disconnect(err: DBAPIError) -> bool:
    """Whether `err` says the database server cannot be reached or dropped the connection.

    Bad credentials, a missing database or an unknown host name are not: waiting cures none.
    """
    if err.connection_invalidated:
        return True
    if not isinstance(err, (OperationalError, InterfaceError)):
        return False
    code = getattr(err.orig, "sqlstate", None) or ""
    if code:
        return code.startswith("08") or code in _SERVER_GONE_SQLSTATES
    message = str(err.orig).lower()
    return any(t in message for t in _DISCONNECT_TEXT)


def transaction_id(conn: Connection) -> int | None:
    """The PostgreSQL id of the transaction open on `conn`, None when it wrote nothing yet."""
    found = conn.execute(text("SELECT txid_current_if_assigned()")).scalar()
    return None if found is None else int(found)


class CommitOutcome(Enum):
    """What became of a transaction whose COMMIT got no answer."""

    COMMITTED = "committed"
    ABORTED = "aborted"
    UNKNOWN = "unknown"


class CommitLost(Exception):
    """The connection dropped during COMMIT of the transaction `xid`, which returned `result`."""

    def __init__(self, err: DBAPIError, xid: int, result: Any) -> None:
        super().__init__(str(err))
        self.err, self.xid, self.result = err, xid, result


class Reconnect:
    """Waits for one store's server with backoff, and says so once per outage and process.

    Shared by every thread of a process that uses the store (a trial and its heartbeat), so one
    outage gives one line when it is noticed and one when it ends.

    Args:
        url: The store's URL (shown with its password masked).
        timeout: Seconds the store may stay silent before `StorageError`.
    """

    def __init__(self, url: URL, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        self._lock = threading.Lock()
        self._since: float | None = None

    def _brief(self, err: BaseException) -> str:
        orig = getattr(err, "orig", err)
        line = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
        return line.replace(str(self.url.password), "***") if self.url.password else line

    def wait(self, err: DBAPIError, what: str, attempt: int) -> None:
        """Sleep before attempt `attempt + 1`, or give up once the store was silent too long.

        Raises:
            StorageError: The store has not answered for `timeout` seconds.
        """
        now = time.monotonic()
        with self._lock:
            if self._since is None:
                self._since = now
                log.warning(
                    "the store %s does not answer (%s); waiting up to %.0f s for it to %s "
                    f"(?{RECONNECT_OPTION}=0 on the URL fails at once)",
                    mask_url(self.url),
                    self._brief(err),
                    self.timeout,
                    what,
                )
            waited = now - self._since
        if waited >= self.timeout:
            raise StorageError(
                f"{mask_url(self.url)}: could not {what}: the database server has not answered "
                f"for {waited:.0f} s ({self._brief(err)}). Check that it is running and "
                f"reachable from this machine; to wait longer set ?{RECONNECT_OPTION}=SECONDS "
                f"on the store URL or {RECONNECT_ENV}."
            ) from None
        delay = min(_MAX_DELAY_S, _FIRST_DELAY_S * 2 ** min(attempt, 10))
        time.sleep(min(delay * (0.5 + random.random()), self.timeout - waited))

    def answered(self) -> None:
        """The store answered: close the outage, saying how long it lasted."""
        if self._since is None:  # the usual case, without taking the lock
            return
        with self._lock:
            if self._since is None:
                return
            waited, self._since = time.monotonic() - self._since, None
        log.warning(
            "the store %s answers again after %.1f s of waiting", mask_url(self.url), waited
        )

    def outcome(self, connect: Any, lost: CommitLost, what: str) -> CommitOutcome:
        """Ask the server, once it answers again, whether the transaction of `lost` committed.

        Args:
            connect: Opens a connection (`engine.connect`).
            lost: The lost commit.
            what: What the transaction did, for messages.

        Raises:
            StorageError: The store did not answer again within the timeout.
        """
        attempt = 0
        err: DBAPIError = lost.err
        while True:
            self.wait(err, what, attempt)
            attempt += 1
            try:
                with connect() as conn:
                    status = conn.execute(
                        text("SELECT txid_status(:xid)"), {"xid": lost.xid}
                    ).scalar()
            except DBAPIError as again:
                if not is_disconnect(again):
                    raise
                err = again
                continue
            if status == "in progress":  # the old session is still being torn down
                continue
            self.answered()
            try:
                return CommitOutcome(status)
            except ValueError:  # NULL: too old to know
                return CommitOutcome.UNKNOWN
